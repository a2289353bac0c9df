/*
 * store/store_sqlite.c - the SQLite backend of the store (store/store.h).
 *
 * Layer: src/store.  Knows rows and SQL, never the registry's rules.
 *
 * One database file in write-ahead-log mode.  Every thread that reads gets
 * its own read-only connection (made on first use, found through a
 * pthread key, tracked in a list so that store_close closes them all).
 * Writes go through one writer thread (store/writer.h) that owns the
 * only read-write connection: store_write queues a job and sleeps; the
 * writer takes every queued job (up to WRITE_BATCH_MAX), runs each inside
 * its own savepoint of one BEGIN IMMEDIATE transaction, commits once, and
 * only then wakes the callers (group commit).  With synchronous=FULL one
 * fsync then covers a whole batch instead of one per caller.
 *
 * Invariants:
 *   - only the writer thread writes, so jobs run one at a time in arrival
 *     order, and a read-only connection that tries to write fails;
 *   - events.seq is INTEGER PRIMARY KEY, never deleted or updated (the
 *     triggers refuse it), so SQLite hands out max(seq) + 1: the sequence
 *     starts at 1 and has no gaps, even when jobs roll back;
 *   - a party id of 0 ("none") is stored as NULL so that foreign keys hold,
 *     and NULL reads back as 0;
 *   - SQL is fixed text; values are only ever bound, never spliced in.
 *
 * Status mapping: a UNIQUE or PRIMARY KEY clash is STORE_CONFLICT; a
 * foreign key naming a row that does not exist (a unit of an unknown model,
 * say) is STORE_NOTFOUND; everything else SQLite reports is STORE_EIO with
 * SQLite's message.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store_cols.h"
#include "store/store_int.h"
#include "store/writer.h"

/* Jobs per write transaction.  Enough to amortise one fsync over many
 * callers (single-row commits with synchronous=FULL reach only 6.4k/s in
 * MEASURED.md), small enough that a batch of typical one-unit jobs commits
 * within a few milliseconds, so no caller waits long behind a big batch. */
#define WRITE_BATCH_MAX 512

/* A writer blocked by another process (an offline tool holding the file)
 * waits this long before the batch fails; readers never block in WAL mode.
 * The uri may change it ("?busy_timeout=MS", at most BUSY_TIMEOUT_MAX). */
#define BUSY_TIMEOUT_MS  5000
#define BUSY_TIMEOUT_MAX 600000

/* No memory-mapped reads.  A 1 GiB map raised primary-key lookups from
 * 177-188k/s to 235k/s here (MEASURED.md), but every page a reader touches
 * then counts in hridd's resident memory, which grew with the database
 * (2.4 GB with 16 readers on a 200k-unit file); reads go through the
 * kernel's page cache instead, which the kernel can reclaim. */
#define MMAP_SIZE "0"

/* A store opened read-only ("?mode=ro") serves one offline tool, which
 * reads the whole file once (the audit): mapping it saves a copy of every
 * page out of the kernel's cache.  SQLite caps the map at 2 GiB by
 * default; the rest of a larger file is read as usual. */
#define MMAP_SIZE_RO "2147418112"

/* Page cache per connection (negative = KiB).  The writer keeps 64 MiB:
 * the upper levels of every index of a multi-million-unit database, so
 * bulk inserts rewrite fewer pages (93k vs 43k rows/s in MEASURED.md once
 * the working set fits).  A reader keeps 2 MiB, the hot index pages of a
 * point lookup, and finds the rest in the kernel's page cache: with one
 * reader per server thread, resident memory stays bounded (16 threads:
 * 64 + 16 x 2 MiB) whatever the size of the database. */
#define WRITER_CACHE_KIB "-65536"
#define READER_CACHE_KIB "-2048"

/* After a checkpoint the WAL file is truncated back to 64 MiB, so one big
 * bulk registration does not leave a gigabyte of log behind. */
#define JOURNAL_SIZE_LIMIT "67108864"

/* The WAL is copied back into the database file each time it grows by
 * this many pages (16 MiB).  A thread of its own does it, on a connection
 * of its own, while the writer goes on committing: run by the writer
 * between batches, the copy and its fsync were a fifth of the writer's
 * time under a load of lifecycle events.  The WAL starts over at four
 * times this (sq_after), under JOURNAL_SIZE_LIMIT.  With SQLite's default
 * of 1,000 pages the writer copied the last frames itself, and waited for
 * their fsync, five times a second under that load; at 4,000, lifecycle
 * events on a 1M-unit registry went from 7,215 and 6,747 to 8,669 and
 * 8,078 a second (alternating runs).  A reader's look-up in a longer WAL
 * probes one more hash table per 4,096 frames. */
#define CHECKPOINT_PAGES 4000

/* Longest subject quoted in an error message ("unit 'CN...'"): leaves room
 * in hrid_err's 256 bytes for the reason. */
#define SUBJECT_MAX 160

/* ---- schema ------------------------------------------------------------ */

/*
 * The forward migrations, applied in order inside one transaction at open;
 * meta.schema_version counts how many have been applied.  Never edit an
 * entry once released: add a new one.
 */
static const char *const MIGRATIONS[] = {
    /* 1: the initial schema. */
    "CREATE TABLE parties ("
    "  id          INTEGER PRIMARY KEY,"
    "  kind        TEXT NOT NULL,"
    "  name        TEXT,"
    "  public_name TEXT,"
    "  country     TEXT,"
    "  ent_code    TEXT,"
    "  info        TEXT,"
    "  created_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX parties_ent_code ON parties (country, ent_code)"
    "  WHERE ent_code IS NOT NULL;"
    "CREATE INDEX parties_kind ON parties (kind, id);"

    "CREATE TABLE api_keys ("
    "  id         INTEGER PRIMARY KEY,"
    "  key_id     TEXT NOT NULL UNIQUE,"
    "  hash       BLOB NOT NULL,"
    "  party_id   INTEGER REFERENCES parties (id),"
    "  role       TEXT NOT NULL,"
    "  label      TEXT,"
    "  created_at INTEGER NOT NULL DEFAULT 0,"
    "  revoked_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX api_keys_party ON api_keys (party_id);"

    "CREATE TABLE models ("
    "  id            INTEGER PRIMARY KEY,"
    "  model_id      TEXT NOT NULL UNIQUE,"
    "  enterprise_id INTEGER REFERENCES parties (id),"
    "  level         INTEGER NOT NULL DEFAULT 0,"
    "  filing_year   INTEGER NOT NULL DEFAULT 0,"
    "  name          TEXT,"
    "  status        TEXT,"
    "  params        TEXT,"
    "  filing        TEXT,"
    "  filed_at      INTEGER NOT NULL DEFAULT 0,"
    "  approved_at   INTEGER NOT NULL DEFAULT 0,"
    "  approved_by   INTEGER REFERENCES parties (id),"
    "  withdrawn_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX models_enterprise ON models (enterprise_id, id);"

    /* unit_list walks one of these (filter, code) indexes in code order;
     * since migration 17 a maker's or a model's units are a range of the
     * code index instead (UNITS_OF_ENT, UNITS_OF_MODEL). */
    "CREATE TABLE units ("
    "  id               INTEGER PRIMARY KEY,"
    "  code             TEXT NOT NULL UNIQUE,"
    "  model_row        INTEGER REFERENCES models (id),"
    "  enterprise_id    INTEGER REFERENCES parties (id),"
    "  state            TEXT NOT NULL,"
    "  prev_state       TEXT,"
    "  custodian_id     INTEGER REFERENCES parties (id),"
    "  owner_id         INTEGER REFERENCES parties (id),"
    "  operator_id      INTEGER REFERENCES parties (id),"
    "  serial           TEXT,"
    "  batch            TEXT,"
    "  production_date  TEXT,"
    "  factory          TEXT,"
    "  firmware         TEXT,"
    "  device_key       TEXT,"
    "  site             TEXT,"
    "  scenario         TEXT,"
    "  region           TEXT,"
    "  market_filing_no TEXT,"
    "  jurisdiction     TEXT,"
    "  extra            TEXT,"
    "  registered_at    INTEGER NOT NULL DEFAULT 0,"
    "  updated_at       INTEGER NOT NULL DEFAULT 0,"
    "  last_event_at    INTEGER NOT NULL DEFAULT 0,"
    "  last_event_seq   INTEGER NOT NULL DEFAULT 0,"
    "  event_count      INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX units_enterprise ON units (enterprise_id, code);"
    "CREATE INDEX units_custodian ON units (custodian_id, code);"
    "CREATE INDEX units_state ON units (state, code);"

    "CREATE TABLE components ("
    "  id            INTEGER PRIMARY KEY,"
    "  unit_id       INTEGER NOT NULL REFERENCES units (id),"
    "  slot          TEXT,"
    "  part_no       TEXT,"
    "  supplier      TEXT,"
    "  lot           TEXT,"
    "  serial        TEXT,"
    "  installed_at  INTEGER NOT NULL DEFAULT 0,"
    "  installed_seq INTEGER NOT NULL DEFAULT 0,"
    "  removed_at    INTEGER NOT NULL DEFAULT 0,"
    "  removed_seq   INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX components_unit ON components (unit_id, removed_at);"

    /* seq is the rowid: no AUTOINCREMENT, which would let a rolled-back
     * insert burn a number and leave a gap. */
    "CREATE TABLE events ("
    "  seq         INTEGER PRIMARY KEY,"
    "  unit_id     INTEGER NOT NULL REFERENCES units (id),"
    "  code        TEXT NOT NULL,"
    "  type        TEXT NOT NULL,"
    "  at          INTEGER NOT NULL,"
    "  recorded_at INTEGER NOT NULL,"
    "  actor_id    INTEGER REFERENCES parties (id),"
    "  actor_role  TEXT,"
    "  body        TEXT NOT NULL"
    ");"
    "CREATE INDEX events_unit ON events (unit_id, seq);"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"

    "CREATE TABLE grants ("
    "  id          INTEGER PRIMARY KEY,"
    "  unit_id     INTEGER NOT NULL REFERENCES units (id),"
    "  grantee_id  INTEGER REFERENCES parties (id),"
    "  granted_by  INTEGER REFERENCES parties (id),"
    "  scope       TEXT,"
    "  valid_from  INTEGER NOT NULL DEFAULT 0,"
    "  valid_until INTEGER NOT NULL DEFAULT 0,"
    "  revoked_at  INTEGER NOT NULL DEFAULT 0,"
    "  created_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX grants_unit ON grants (unit_id);"

    "CREATE TABLE idempotency ("
    "  party_id   INTEGER NOT NULL,"
    "  key        TEXT NOT NULL,"
    "  req_hash   BLOB NOT NULL,"
    "  status     INTEGER NOT NULL,"
    "  response   TEXT,"
    "  created_at INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (party_id, key)"
    ") WITHOUT ROWID;"

    "CREATE TABLE counters ("
    "  name  TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;",

    /* 2: the log's tiles and its last signed checkpoint.  Events already
     * stored enter the log at the first write after the upgrade. */
    "CREATE TABLE log_tiles ("
    "  level  INTEGER NOT NULL,"
    "  idx    INTEGER NOT NULL,"
    "  hashes BLOB NOT NULL,"
    "  PRIMARY KEY (level, idx)"
    ") WITHOUT ROWID;"
    "CREATE TABLE log_checkpoint ("
    "  id        INTEGER PRIMARY KEY CHECK (id = 1),"
    "  size      INTEGER NOT NULL,"
    "  root      BLOB NOT NULL,"
    "  note      TEXT NOT NULL,"
    "  signed_at INTEGER NOT NULL"
    ");",

    /* 3: certifications and recalls. */
    "CREATE TABLE certifications ("
    "  id          INTEGER PRIMARY KEY,"
    "  model_row   INTEGER REFERENCES models (id),"
    "  unit_id     INTEGER REFERENCES units (id),"
    "  scheme      TEXT NOT NULL,"
    "  tier        TEXT,"
    "  scenarios   TEXT NOT NULL,"
    "  conditions  TEXT,"
    "  limits      TEXT,"
    "  valid_from  INTEGER NOT NULL,"
    "  valid_until INTEGER NOT NULL,"
    "  issuer_id   INTEGER REFERENCES parties (id),"
    "  created_at  INTEGER NOT NULL,"
    "  revoked_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX certifications_model ON certifications (model_row)"
    "  WHERE model_row IS NOT NULL;"
    "CREATE INDEX certifications_unit ON certifications (unit_id)"
    "  WHERE unit_id IS NOT NULL;"
    "CREATE TABLE recalls ("
    "  id            INTEGER PRIMARY KEY,"
    "  enterprise_id INTEGER NOT NULL REFERENCES parties (id),"
    "  created_by    INTEGER REFERENCES parties (id),"
    "  ordered       INTEGER NOT NULL DEFAULT 0,"
    "  defect        TEXT NOT NULL,"
    "  hazard        TEXT,"
    "  remedy        TEXT,"
    "  target        TEXT NOT NULL,"
    "  status        TEXT NOT NULL,"
    "  created_at    INTEGER NOT NULL,"
    "  closed_at     INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE recall_units ("
    "  recall_id    INTEGER NOT NULL REFERENCES recalls (id),"
    "  unit_id      INTEGER NOT NULL REFERENCES units (id),"
    "  code         TEXT NOT NULL,"
    "  state        TEXT NOT NULL,"
    "  notified_seq INTEGER NOT NULL DEFAULT 0,"
    "  remedied_seq INTEGER NOT NULL DEFAULT 0,"
    "  remedied_at  INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (recall_id, unit_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX recall_units_unit ON recall_units (unit_id, recall_id);",

    /* 4: units' states replayed every so many events, for as-of. */
    "CREATE TABLE unit_snapshots ("
    "  unit_id INTEGER NOT NULL REFERENCES units (id),"
    "  seq     INTEGER NOT NULL,"
    "  at      INTEGER NOT NULL,"
    "  state   TEXT NOT NULL,"
    "  PRIMARY KEY (unit_id, seq)"
    ") WITHOUT ROWID;",

    /* 5: incidents, with the unit as it stood when each happened. */
    "CREATE TABLE incidents ("
    "  id            INTEGER PRIMARY KEY,"
    "  unit_id       INTEGER NOT NULL REFERENCES units (id),"
    "  code          TEXT NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  enterprise_id INTEGER NOT NULL,"
    "  at            INTEGER NOT NULL,"
    "  recorded_at   INTEGER NOT NULL,"
    "  severity      TEXT NOT NULL,"
    "  kind          TEXT NOT NULL,"
    "  place         TEXT,"
    "  description   TEXT NOT NULL,"
    "  reporter_id   INTEGER,"
    "  verified      INTEGER NOT NULL,"
    "  contact       TEXT,"
    "  event_seq     INTEGER NOT NULL DEFAULT 0,"
    "  snapshot      TEXT NOT NULL"
    ");"
    "CREATE INDEX incidents_unit ON incidents (unit_id, id);"
    "CREATE INDEX incidents_model ON incidents (model_row, id);"
    "CREATE INDEX incidents_enterprise ON incidents (enterprise_id, id);",

    /* 6: counts for market statistics, kept as units are written (by
     * triggers until 16), so that a statistics query reads a table of
     * combinations instead of every unit. */
    "CREATE TABLE stat_units ("
    "  enterprise_id INTEGER NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  region        TEXT NOT NULL,"
    "  n             INTEGER NOT NULL,"
    "  PRIMARY KEY (enterprise_id, model_row, state, region)"
    ") WITHOUT ROWID;"
    "CREATE TABLE stat_months ("
    "  enterprise_id INTEGER NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  month         TEXT NOT NULL,"
    "  registered    INTEGER NOT NULL DEFAULT 0,"
    "  released      INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (enterprise_id, model_row, month)"
    ") WITHOUT ROWID;"
    "INSERT INTO stat_units SELECT enterprise_id, model_row, state,"
    "  coalesce(region, ''), count(*) FROM units GROUP BY 1, 2, 3, 4;"
    "INSERT INTO stat_months (enterprise_id, model_row, month, registered)"
    "  SELECT enterprise_id, model_row,"
    "  strftime('%Y-%m', registered_at / 1000, 'unixepoch'), count(*)"
    "  FROM units GROUP BY 1, 2, 3;"
    "INSERT INTO stat_months (enterprise_id, model_row, month, released)"
    "  SELECT u.enterprise_id, u.model_row,"
    "  strftime('%Y-%m', e.at / 1000, 'unixepoch') AS m, count(*)"
    "  FROM events e JOIN units u ON u.id = e.unit_id"
    "  WHERE e.type = 'release' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    "  ON CONFLICT (enterprise_id, model_row, month)"
    "  DO UPDATE SET released = released + excluded.released;"
    "CREATE TRIGGER stat_units_insert AFTER INSERT ON units BEGIN"
    "  INSERT INTO stat_units VALUES (new.enterprise_id, new.model_row,"
    "    new.state, coalesce(new.region, ''), 1)"
    "    ON CONFLICT (enterprise_id, model_row, state, region)"
    "    DO UPDATE SET n = n + 1;"
    "  INSERT INTO stat_months (enterprise_id, model_row, month, registered)"
    "    VALUES (new.enterprise_id, new.model_row,"
    "    strftime('%Y-%m', new.registered_at / 1000, 'unixepoch'), 1)"
    "    ON CONFLICT (enterprise_id, model_row, month)"
    "    DO UPDATE SET registered = registered + 1;"
    "END;"
    "CREATE TRIGGER stat_units_update AFTER UPDATE OF state, region ON units"
    "  WHEN old.state IS NOT new.state OR old.region IS NOT new.region BEGIN"
    "  UPDATE stat_units SET n = n - 1 WHERE enterprise_id = old.enterprise_id"
    "    AND model_row = old.model_row AND state = old.state"
    "    AND region = coalesce(old.region, '');"
    "  INSERT INTO stat_units VALUES (new.enterprise_id, new.model_row,"
    "    new.state, coalesce(new.region, ''), 1)"
    "    ON CONFLICT (enterprise_id, model_row, state, region)"
    "    DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER stat_units_release AFTER UPDATE OF state ON units"
    "  WHEN old.state = 'registered' AND new.state = 'released' BEGIN"
    "  INSERT INTO stat_months (enterprise_id, model_row, month, released)"
    "    VALUES (new.enterprise_id, new.model_row,"
    "    strftime('%Y-%m', new.last_event_at / 1000, 'unixepoch'), 1)"
    "    ON CONFLICT (enterprise_id, model_row, month)"
    "    DO UPDATE SET released = released + 1;"
    "END;",

    /* 7: telemetry blobs (store_tel_*). */
    "CREATE TABLE telemetry ("
    "  kind    INTEGER NOT NULL,"
    "  unit_id INTEGER NOT NULL,"
    "  a       INTEGER NOT NULL,"
    "  b       INTEGER NOT NULL,"
    "  data    BLOB NOT NULL,"
    "  PRIMARY KEY (kind, unit_id, a, b)"
    ") WITHOUT ROWID;",

    /* 8: alert rules and alerts on telemetry. */
    "CREATE TABLE alert_rules ("
    "  id            INTEGER PRIMARY KEY,"
    "  enterprise_id INTEGER NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  metric        TEXT NOT NULL,"
    "  op            TEXT NOT NULL,"
    "  threshold     REAL NOT NULL,"
    "  for_ms        INTEGER NOT NULL,"
    "  created_by    INTEGER,"
    "  created_at    INTEGER NOT NULL"
    ");"
    "CREATE INDEX alert_rules_ent ON alert_rules (enterprise_id, model_row);"
    "CREATE TABLE alerts ("
    "  id            INTEGER PRIMARY KEY,"
    "  rule_id       INTEGER NOT NULL,"
    "  unit_id       INTEGER NOT NULL,"
    "  code          TEXT NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  enterprise_id INTEGER NOT NULL,"
    "  metric        INTEGER NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  since         INTEGER NOT NULL,"
    "  opened_at     INTEGER NOT NULL DEFAULT 0,"
    "  cleared_at    INTEGER NOT NULL DEFAULT 0,"
    "  value         REAL NOT NULL"
    ");"
    "CREATE INDEX alerts_live ON alerts (rule_id, unit_id, metric)"
    "  WHERE state IN ('pending', 'open');"
    "CREATE INDEX alerts_unit ON alerts (unit_id, id);",

    /* 9: electronic fences. */
    "CREATE TABLE zones ("
    "  id         INTEGER PRIMARY KEY,"
    "  name       TEXT NOT NULL,"
    "  polygon    TEXT NOT NULL,"
    "  created_by INTEGER,"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE fences ("
    "  unit_id     INTEGER PRIMARY KEY,"
    "  zones       TEXT NOT NULL,"
    "  scenarios   TEXT,"
    "  speed_limit REAL NOT NULL DEFAULT 0,"
    "  set_by      INTEGER,"
    "  set_at      INTEGER NOT NULL"
    ");"
    "CREATE TABLE fence_violations ("
    "  id            INTEGER PRIMARY KEY,"
    "  unit_id       INTEGER NOT NULL,"
    "  code          TEXT NOT NULL,"
    "  enterprise_id INTEGER NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  first_t       INTEGER NOT NULL,"
    "  last_t        INTEGER NOT NULL,"
    "  lat           REAL NOT NULL,"
    "  lon           REAL NOT NULL,"
    "  closed_at     INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX fence_violations_unit ON fence_violations (unit_id, id);",

    /* 10: each unit's latest report time, for rules that watch silence. */
    "CREATE TABLE unit_seen ("
    "  unit_id       INTEGER PRIMARY KEY,"
    "  enterprise_id INTEGER NOT NULL,"
    "  model_row     INTEGER NOT NULL,"
    "  t             INTEGER NOT NULL"
    ");"
    "CREATE INDEX unit_seen_scope ON unit_seen (enterprise_id, model_row, t);",

    /* 11: components by part number and lot, for recalls. */
    "CREATE INDEX components_part ON components (part_no, lot);",

    /* 12: idempotency records by age, for their expiry. */
    "CREATE INDEX idempotency_age ON idempotency (created_at);",

    /* 13: units by model, for model listings and recalls of a model. */
    "CREATE INDEX units_model ON units (model_row, code);",

    /* 14: recalls whose notices are written after the recall commits. */
    "ALTER TABLE recalls ADD COLUMN notify_after INTEGER NOT NULL"
    " DEFAULT -1;"
    "CREATE INDEX recalls_notifying ON recalls (id) WHERE notify_after >= 0;",

    /* 15: each recall's counts of units, remedied and owed a notice, kept
     * by the operations that change its rows. */
    "ALTER TABLE recalls ADD COLUMN affected INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE recalls ADD COLUMN remedied INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE recalls ADD COLUMN owed INTEGER NOT NULL DEFAULT 0;"
    "UPDATE recalls SET"
    "  affected = (SELECT count(*) FROM recall_units WHERE recall_id = id),"
    "  remedied = (SELECT count(*) FROM recall_units WHERE recall_id = id"
    "    AND state = 'remedied'),"
    "  owed = (SELECT count(*) FROM recall_units WHERE recall_id = id"
    "    AND notified_seq = 0);",

    /* 16: the statistics' counts are kept by sq_unit_insert and
     * sq_unit_update (stat_add) instead of triggers.  A statement that
     * fires a trigger keeps a statement journal: every page the insert of
     * a unit touched was first copied to a temporary file, a fifth of the
     * writer's time in a bulk registration. */
    "DROP TRIGGER IF EXISTS stat_units_insert;"
    "DROP TRIGGER IF EXISTS stat_units_update;"
    "DROP TRIGGER IF EXISTS stat_units_release;",

    /* 17: a unit's code begins with its maker's country and enterprise
     * code and its model's: the code index finds a maker's or a model's
     * units as a range (UNITS_OF_ENT, UNITS_OF_MODEL), and two more
     * indexes cost each registration of a million-unit registry a quarter
     * of its unit insert. */
    "DROP INDEX IF EXISTS units_enterprise;"
    "DROP INDEX IF EXISTS units_model;",

    /* 18: a unit's event count and latest times are read from its latest
     * event (UNIT_HISTORY), which records them, instead of being kept in
     * its row: an inspection of a random unit of a large registry dirtied
     * two scattered pages, the row's and the history index's, and now
     * dirties the index's alone.  The history stays append-only: the new
     * columns are filled once, here, for the events already stored. */
    "ALTER TABLE events ADD COLUMN unit_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE events ADD COLUMN unit_last_at INTEGER NOT NULL DEFAULT 0;"
    "DROP TRIGGER events_no_update;"
    "UPDATE events SET unit_count = h.n, unit_last_at = h.top FROM"
    "  (SELECT seq, row_number() OVER w AS n, max(at) OVER w AS top"
    "   FROM events WINDOW w AS (PARTITION BY unit_id ORDER BY seq)) h"
    "  WHERE h.seq = events.seq;"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"
    "DROP INDEX events_unit;"
    "CREATE INDEX events_unit ON events (unit_id, seq, unit_count,"
    "  unit_last_at);"
    "ALTER TABLE units DROP COLUMN last_event_at;"
    "ALTER TABLE units DROP COLUMN last_event_seq;"
    "ALTER TABLE units DROP COLUMN event_count;",
};

#define SCHEMA_VERSION ((int64_t)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* ---- cached statements ------------------------------------------------- */

/* unit_list: ?1 the leading filter (absent from the unfiltered walk),
 * ?2 the last code seen, ?3-?5 the other filters (0 or NULL: none), ?6 the
 * limit.  The planner picks the (filter, code) index for "?1 AND code >
 * ?2 ORDER BY code", or for a maker or a model the code index's range, so
 * a page costs its own rows, not the ones before. */
#define UNIT_LIST_REST                                                     \
    " AND code > ?2 AND (?3 = 0 OR enterprise_id = ?3)"                     \
    " AND (?4 = 0 OR model_row = ?4) AND (?5 IS NULL OR state = ?5)"        \
    " ORDER BY code LIMIT ?6"

/* The units of the enterprise or the model whose row is parameter p, as a
 * range of the code index (migration 17); lo is the lowest code the range
 * may start after, besides the prefix.  Codes are 0-9A-Z, so every code
 * with the prefix sorts before the prefix followed by '~'. */
#define ENT_PREFIX(p)                                                       \
    "(SELECT country || ent_code FROM parties WHERE id = " p ")"
#define MODEL_PREFIX(p) "(SELECT model_id FROM models WHERE id = " p ")"
#define CODE_RANGE(col, lo, prefix)                                         \
    col " > max(" lo ", " prefix ") AND " col " < " prefix " || '~'"
#define UNITS_OF_ENT(col, lo, p) CODE_RANGE(col, lo, ENT_PREFIX(p))
#define UNITS_OF_MODEL(col, lo, p) CODE_RANGE(col, lo, MODEL_PREFIX(p))

/* recall_reach: ?1 the recall, ?2 the maker, ?3-?6 the batch and date
 * ranges, ?7 the model (0: any), ?8-?12 the part, supplier, installed
 * now, lot range.  Each statement leads with the term its index serves;
 * the others' index use is turned off (+), since without statistics the
 * planner could take the maker's index over a model's or a part's. */
#define REACH_INSERT                                                       \
    "INSERT INTO recall_units (recall_id, unit_id, code, state)"            \
    " SELECT ?1, u.id, u.code, 'notified' FROM units u WHERE "
#define REACH_UNIT                                                         \
    " AND +u.enterprise_id = ?2"                                            \
    " AND u.state NOT IN ('scrapped', 'recycled', 'voided')"                \
    " AND (?3 IS NULL OR u.batch >= ?3) AND (?4 IS NULL OR u.batch <= ?4)"  \
    " AND (?5 IS NULL OR u.production_date >= ?5)"                          \
    " AND (?6 IS NULL OR u.production_date <= ?6)"                          \
    " AND (?7 = 0 OR +u.model_row = ?7)"
#define REACH_PART                                                         \
    "u.id IN (SELECT k.unit_id FROM components k WHERE k.part_no = ?8"      \
    " AND (?9 IS NULL OR k.supplier = ?9) AND (?10 = 0 OR k.removed_at = 0)"

enum stmt_id {
    ST_BEGIN, ST_BEGIN_IMMEDIATE, ST_COMMIT, ST_ROLLBACK,
    ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_COUNTER_NEXT,
    ST_PARTY_INSERT, ST_PARTY_GET, ST_PARTY_BY_ENT, ST_PARTY_LIST,
    ST_PARTY_LIST_KIND,
    ST_KEY_INSERT, ST_KEY_GET, ST_KEY_REVOKE, ST_KEY_EXISTS, ST_KEY_LIST,
    ST_MODEL_INSERT, ST_MODEL_GET, ST_MODEL_GET_ROW, ST_MODEL_UPDATE,
    ST_MODEL_LIST, ST_MODEL_LIST_ENT,
    ST_UNIT_INSERT, ST_UNIT_GET, ST_UNIT_VIEW_GET, ST_UNIT_HISTORY,
    ST_UNIT_UPDATE,
    ST_UNIT_SET_STATE, ST_UNIT_SET_PARTIES, ST_UNIT_LIST,
    ST_UNIT_LIST_ENT, ST_UNIT_LIST_CUST, ST_UNIT_LIST_MODEL, ST_UNIT_LIST_STATE,
    ST_UNIT_COUNT,
    ST_STAT_UNITS_ADD, ST_STAT_UNITS_SUB, ST_STAT_REGISTERED, ST_STAT_RELEASED,
    ST_COMP_INSERT, ST_COMP_REMOVE, ST_COMP_EXISTS, ST_COMP_LIST,
    ST_COMP_LIST_INSTALLED,
    ST_EVENT_APPEND, ST_EVENT_LIST, ST_EVENT_SCAN, ST_EVENT_SCAN_UNIT,
    ST_TILE_GET, ST_TILE_PUT, ST_TILE_LAST, ST_CHECKPOINT_GET,
    ST_CHECKPOINT_PUT,
    ST_CERT_INSERT, ST_CERT_GET, ST_CERT_REVOKE, ST_CERT_EXISTS, ST_CERT_LIST,
    ST_RECALL_INSERT, ST_RECALL_GET, ST_RECALL_CLOSE, ST_RECALL_SET_NOTIFY,
    ST_RECALL_NOTIFYING, ST_REACH_ENT, ST_REACH_MODEL, ST_REACH_PART,
    ST_REACH_LOTS, ST_RECALL_TALLY, ST_RU_REMEDIED, ST_RU_NOTIFIED,
    ST_RU_DROP,
    ST_RU_LIST, ST_RU_LIST_UNIT, ST_RU_COUNTS, ST_SNAP_PUT, ST_SNAP_BEFORE,
    ST_INCIDENT_INSERT, ST_INCIDENT_LIST,
    ST_STATS_UNITS, ST_STATS_MONTHS, ST_STATS_INCIDENTS, ST_STATS_RECALLS,
    ST_STATS_ALERTS,
    ST_TEL_INSERT, ST_TEL_REPLACE, ST_TEL_RANGE, ST_TEL_RANGE_ANY,
    ST_TEL_UNITS, ST_TEL_DELETE,
    ST_RULE_INSERT, ST_RULE_LIST, ST_ALERT_FIND, ST_ALERT_INSERT,
    ST_ALERT_UPDATE, ST_ALERT_LIST, ST_RULE_LIST_METRIC, ST_SEEN_PUT,
    ST_SEEN_SILENT,
    ST_ZONE_INSERT, ST_ZONE_GET, ST_FENCE_PUT, ST_FENCE_GET, ST_VIOL_INSERT,
    ST_VIOL_UPDATE, ST_VIOL_LIST,
    ST_GRANT_INSERT, ST_GRANT_LIST,
    ST_IDEM_GET, ST_IDEM_PUT, ST_IDEM_EXPIRE,
    ST_COUNT
};

static const char *const SQL[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT job",
    [ST_RELEASE] = "RELEASE job",
    [ST_ROLLBACK_TO] = "ROLLBACK TO job",

    [ST_COUNTER_NEXT] =
        "INSERT INTO counters (name, value) VALUES (?1, ?2)"
        " ON CONFLICT (name) DO UPDATE SET value = value + ?2"
        " RETURNING value",

    [ST_PARTY_INSERT] =
        "INSERT INTO parties (kind, name, public_name, country, ent_code,"
        " info, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_PARTY_GET] = "SELECT " PARTY_COLS " FROM parties WHERE id = ?1",
    [ST_PARTY_BY_ENT] = "SELECT " PARTY_COLS " FROM parties"
                        " WHERE country = ?1 AND ent_code = ?2",
    [ST_PARTY_LIST] = "SELECT " PARTY_COLS " FROM parties"
                      " WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_PARTY_LIST_KIND] = "SELECT " PARTY_COLS " FROM parties"
                           " WHERE kind = ?3 AND id > ?1 ORDER BY id"
                           " LIMIT ?2",

    [ST_KEY_INSERT] =
        "INSERT INTO api_keys (key_id, hash, party_id, role, label,"
        " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE key_id = ?1",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2"
                      " WHERE id = ?1 AND revoked_at = 0",
    [ST_KEY_EXISTS] = "SELECT 1 FROM api_keys WHERE id = ?1",
    [ST_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys"
                    " WHERE party_id = ?1 ORDER BY id",

    [ST_MODEL_INSERT] =
        "INSERT INTO models (model_id, enterprise_id, level, filing_year,"
        " name, status, params, filing, filed_at, approved_at, approved_by,"
        " withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_MODEL_GET] = "SELECT " MODEL_COLS " FROM models WHERE model_id = ?1",
    [ST_MODEL_GET_ROW] = "SELECT " MODEL_COLS " FROM models WHERE id = ?1",
    /* model_id, enterprise_id, level and filing_year make up the model's
     * identity (the level and year are inside model_id): never rewritten. */
    [ST_MODEL_UPDATE] =
        "UPDATE models SET name = ?2, status = ?3, params = ?4, filing = ?5,"
        " filed_at = ?6, approved_at = ?7, approved_by = ?8,"
        " withdrawn_at = ?9 WHERE id = ?1",
    [ST_MODEL_LIST] = "SELECT " MODEL_COLS " FROM models"
                      " WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_MODEL_LIST_ENT] = "SELECT " MODEL_COLS " FROM models"
                          " WHERE enterprise_id = ?3 AND id > ?1"
                          " ORDER BY id LIMIT ?2",

    [ST_UNIT_INSERT] =
        "INSERT INTO units (code, model_row, enterprise_id, state,"
        " prev_state, custodian_id, owner_id, operator_id, serial, batch,"
        " production_date, factory, firmware, device_key, site, scenario,"
        " region, market_filing_no, jurisdiction, extra, registered_at,"
        " updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?)",
    /* The row alone: sq_unit_get reads the history's counts with
     * ST_UNIT_HISTORY, one descent of the history index where UNIT_COLS's
     * three subqueries make three. */
    [ST_UNIT_GET] = "SELECT " UNIT_ROW_COLS " FROM units WHERE code = ?1",
    [ST_UNIT_VIEW_GET] =
        "SELECT " UNIT_ROW_COLS ","
        " EXISTS (SELECT 1 FROM certifications c"
        "         WHERE c.model_row = units.model_row)"
        " OR EXISTS (SELECT 1 FROM certifications c"
        "            WHERE c.unit_id = units.id),"
        " EXISTS (SELECT 1 FROM recall_units k"
        "         WHERE k.unit_id = units.id AND k.state = 'notified')"
        " FROM units WHERE code = ?1",
    [ST_UNIT_HISTORY] = UNIT_HISTORY_SQL("?1"),
    /* Everything but id, code, model_row, enterprise_id, serial and
     * registered_at, which are fixed at registration, in three
     * statements.  SQLite rewrites the entries of every index (and checks
     * every foreign key) whose columns an UPDATE names, changed or not; so
     * the indexed state and the party columns are set only when they
     * differ, and most events (an inspection, a firmware update) rewrite
     * the row alone. */
    [ST_UNIT_UPDATE] =
        "UPDATE units SET prev_state = ?2, batch = ?3, production_date = ?4,"
        " factory = ?5, firmware = ?6, device_key = ?7, site = ?8,"
        " scenario = ?9, market_filing_no = ?10,"
        " jurisdiction = ?11, extra = ?12, updated_at = ?13"
        " WHERE id = ?1",
    /* The columns the statistics count by: only when they move. */
    [ST_UNIT_SET_STATE] =
        "UPDATE units SET state = ?2, region = ?3 WHERE id = ?1"
        " AND (state IS NOT ?2 OR region IS NOT ?3)",
    /* The statistics' counts (stat_add). */
    [ST_STAT_UNITS_ADD] =
        "INSERT INTO stat_units VALUES (?1, ?2, ?3, coalesce(?4, ''), ?5)"
        " ON CONFLICT (enterprise_id, model_row, state, region)"
        " DO UPDATE SET n = n + ?5",
    [ST_STAT_UNITS_SUB] =
        "UPDATE stat_units SET n = n - ?5 WHERE enterprise_id = ?1"
        " AND model_row = ?2 AND state = ?3 AND region = coalesce(?4, '')",
    [ST_STAT_REGISTERED] =
        "INSERT INTO stat_months (enterprise_id, model_row, month, registered)"
        " VALUES (?1, ?2, strftime('%Y-%m', ?3 / 1000, 'unixepoch'), ?4)"
        " ON CONFLICT (enterprise_id, model_row, month)"
        " DO UPDATE SET registered = registered + ?4",
    [ST_STAT_RELEASED] =
        "INSERT INTO stat_months (enterprise_id, model_row, month, released)"
        " VALUES (?1, ?2, strftime('%Y-%m', ?3 / 1000, 'unixepoch'), ?4)"
        " ON CONFLICT (enterprise_id, model_row, month)"
        " DO UPDATE SET released = released + ?4",
    [ST_UNIT_SET_PARTIES] =
        "UPDATE units SET custodian_id = ?2, owner_id = ?3, operator_id = ?4"
        " WHERE id = ?1 AND (custodian_id IS NOT ?2 OR owner_id IS NOT ?3"
        " OR operator_id IS NOT ?4)",
    [ST_UNIT_LIST] = "SELECT " UNIT_COLS " FROM units WHERE 1"
                     UNIT_LIST_REST,
    [ST_UNIT_LIST_ENT] = "SELECT " UNIT_COLS " FROM units WHERE "
                         UNITS_OF_ENT("code", "?2", "?1") UNIT_LIST_REST,
    [ST_UNIT_LIST_CUST] = "SELECT " UNIT_COLS " FROM units"
                          " WHERE custodian_id = ?1" UNIT_LIST_REST,
    [ST_UNIT_LIST_MODEL] = "SELECT " UNIT_COLS " FROM units WHERE "
                           UNITS_OF_MODEL("code", "?2", "?1") UNIT_LIST_REST,
    [ST_UNIT_LIST_STATE] = "SELECT " UNIT_COLS " FROM units"
                           " WHERE state = ?1" UNIT_LIST_REST,
    /* Holders of a part, with and without a lot range: the range is
     * written plainly so that components_part (part_no, lot) serves it. */
    [ST_UNIT_COUNT] = "SELECT count(*) FROM units",

    [ST_COMP_INSERT] = "INSERT INTO components (unit_id, slot, part_no,"
                       " supplier, lot, serial, installed_at, installed_seq,"
                       " removed_at, removed_seq)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_COMP_REMOVE] = "UPDATE components SET removed_at = ?2,"
                       " removed_seq = ?3 WHERE id = ?1 AND removed_at = 0",
    [ST_COMP_EXISTS] = "SELECT 1 FROM components WHERE id = ?1",
    [ST_COMP_LIST] = "SELECT " COMP_COLS " FROM components"
                     " WHERE unit_id = ?1 ORDER BY id",
    [ST_COMP_LIST_INSTALLED] = "SELECT " COMP_COLS " FROM components"
                               " WHERE unit_id = ?1 AND removed_at = 0"
                               " ORDER BY id",

    [ST_EVENT_APPEND] =
        "INSERT INTO events (unit_id, code, type, at, recorded_at, actor_id,"
        " actor_role, body, unit_count, unit_last_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_EVENT_LIST] = "SELECT " EVENT_COLS " FROM events"
                      " WHERE unit_id = ?1 AND seq > ?2 ORDER BY seq"
                      " LIMIT ?3",
    [ST_EVENT_SCAN] = "SELECT " EVENT_COLS " FROM events"
                      " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_EVENT_SCAN_UNIT] =
        "SELECT e.seq, e.unit_id, e.code, e.type, e.at, e.recorded_at,"
        " e.actor_id, e.actor_role, e.body, u.code FROM events e"
        " LEFT JOIN units u ON u.id = e.unit_id"
        " WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",

    [ST_TILE_GET] = "SELECT hashes FROM log_tiles WHERE level = ?1"
                    " AND idx = ?2",
    [ST_TILE_PUT] = "INSERT INTO log_tiles (level, idx, hashes)"
                    " VALUES (?1, ?2, ?3) ON CONFLICT (level, idx)"
                    " DO UPDATE SET hashes = excluded.hashes",
    [ST_TILE_LAST] = "SELECT idx, length(hashes) FROM log_tiles"
                     " WHERE level = ?1 ORDER BY idx DESC LIMIT 1",
    [ST_CERT_INSERT] =
        "INSERT INTO certifications (model_row, unit_id, scheme, tier,"
        " scenarios, conditions, limits, valid_from, valid_until, issuer_id,"
        " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_CERT_GET] = "SELECT " CERT_COLS " FROM certifications WHERE id = ?1",
    [ST_CERT_REVOKE] = "UPDATE certifications SET revoked_at = ?2"
                       " WHERE id = ?1 AND revoked_at = 0",
    [ST_CERT_EXISTS] = "SELECT 1 FROM certifications WHERE id = ?1",
    [ST_CERT_LIST] = "SELECT " CERT_COLS " FROM certifications"
                     " WHERE model_row = ?1 UNION ALL"
                     " SELECT " CERT_COLS " FROM certifications"
                     " WHERE unit_id = ?2 ORDER BY 1",
    [ST_RECALL_INSERT] =
        "INSERT INTO recalls (enterprise_id, created_by, ordered, defect,"
        " hazard, remedy, target, status, created_at, closed_at,"
        " notify_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_RECALL_GET] = "SELECT " RECALL_COLS " FROM recalls WHERE id = ?1",
    [ST_RECALL_CLOSE] = "UPDATE recalls SET status = 'closed', closed_at = ?2"
                        " WHERE id = ?1",
    [ST_RECALL_SET_NOTIFY] = "UPDATE recalls SET notify_after = ?2"
                             " WHERE id = ?1",
    [ST_RECALL_NOTIFYING] = "SELECT " RECALL_COLS " FROM recalls"
                            " WHERE notify_after >= 0 ORDER BY id LIMIT 1",
    [ST_REACH_ENT] = REACH_INSERT UNITS_OF_ENT("u.code", "''", "?2")
                     REACH_UNIT,
    [ST_REACH_MODEL] = REACH_INSERT UNITS_OF_MODEL("u.code", "''", "?7")
                       REACH_UNIT,
    [ST_REACH_PART] = REACH_INSERT REACH_PART ")" REACH_UNIT,
    [ST_REACH_LOTS] = REACH_INSERT REACH_PART
                      " AND k.lot >= ?11 AND k.lot <= ?12)" REACH_UNIT,
    /* A recall's counts move with each change to its rows (recall_tally),
     * so that reading them costs one row, not a scan of its units. */
    [ST_RECALL_TALLY] = "UPDATE recalls SET affected = affected + ?2,"
                        " remedied = remedied + ?3, owed = owed + ?4"
                        " WHERE id = ?1",
    [ST_RU_REMEDIED] = "UPDATE recall_units SET state = 'remedied',"
                       " remedied_seq = ?3, remedied_at = ?4"
                       " WHERE recall_id = ?1 AND unit_id = ?2"
                       " AND state = 'notified'",
    [ST_RU_NOTIFIED] = "UPDATE recall_units SET notified_seq = ?3"
                       " WHERE recall_id = ?1 AND unit_id = ?2"
                       " AND notified_seq = 0",
    [ST_RU_DROP] = "DELETE FROM recall_units"
                   " WHERE recall_id = ?1 AND unit_id = ?2"
                   " AND notified_seq = 0",
    [ST_RU_LIST] = "SELECT " RU_COLS " FROM recall_units"
                   " WHERE recall_id = ?1 AND unit_id > ?3"
                   " AND (?2 IS NULL OR state = ?2) ORDER BY unit_id LIMIT ?4",
    [ST_RU_LIST_UNIT] = "SELECT " RU_COLS " FROM recall_units"
                        " WHERE unit_id = ?1 AND recall_id > ?3"
                        " AND (?2 IS NULL OR state = ?2) ORDER BY recall_id"
                        " LIMIT ?4",
    [ST_RU_COUNTS] = "SELECT affected, remedied, owed FROM recalls"
                     " WHERE id = ?1",
    [ST_INCIDENT_INSERT] =
        "INSERT INTO incidents (unit_id, code, model_row, enterprise_id, at,"
        " recorded_at, severity, kind, place, description, reporter_id,"
        " verified, contact, event_seq, snapshot)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_INCIDENT_LIST] =
        "SELECT " INCIDENT_COLS " FROM incidents WHERE id > ?1"
        " AND (?2 = 0 OR unit_id = ?2) AND (?3 = 0 OR model_row = ?3)"
        " AND (?4 = 0 OR enterprise_id = ?4) AND (?5 < 0 OR verified = ?5)"
        " ORDER BY id LIMIT ?6",
    [ST_STATS_UNITS] = "SELECT enterprise_id, model_row, state, region, n, 0"
                       " FROM stat_units WHERE n > 0"
                       " AND (?1 = 0 OR enterprise_id = ?1)",
    [ST_STATS_MONTHS] = "SELECT enterprise_id, model_row, month, NULL,"
                        " registered, released FROM stat_months"
                        " WHERE (?1 = 0 OR enterprise_id = ?1)"
                        " ORDER BY month",
    [ST_STATS_INCIDENTS] = "SELECT enterprise_id, model_row, NULL, NULL,"
                           " count(*), sum(verified) FROM incidents"
                           " WHERE (?1 = 0 OR enterprise_id = ?1)"
                           " GROUP BY enterprise_id, model_row",
    [ST_STATS_RECALLS] = "SELECT enterprise_id, id, status, NULL, affected,"
                         " remedied FROM recalls"
                         " WHERE (?1 = 0 OR enterprise_id = ?1) ORDER BY id",
    [ST_STATS_ALERTS] = "SELECT enterprise_id, model_row, NULL, NULL,"
                        " count(*), count(DISTINCT unit_id) FROM alerts"
                        " WHERE state = 'open'"
                        " AND (?1 = 0 OR enterprise_id = ?1)"
                        " GROUP BY enterprise_id, model_row",
    [ST_TEL_INSERT] = "INSERT OR IGNORE INTO telemetry (kind, unit_id, a, b,"
                      " data) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TEL_REPLACE] = "INSERT OR REPLACE INTO telemetry (kind, unit_id, a,"
                       " b, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TEL_RANGE] = "SELECT unit_id, a, b, data FROM telemetry"
                     " WHERE kind = ?1 AND unit_id = ?2 AND a = ?3"
                     " AND b >= ?4 AND b < ?5 ORDER BY b",
    [ST_TEL_RANGE_ANY] = "SELECT unit_id, a, b, data FROM telemetry"
                         " WHERE kind = ?1 AND unit_id = ?2 AND ?3 = -1"
                         " AND b >= ?4 AND b < ?5 ORDER BY a, b",
    [ST_TEL_UNITS] = "SELECT DISTINCT unit_id FROM telemetry"
                     " WHERE kind = ?1 AND unit_id > ?3 AND b < ?2"
                     " ORDER BY unit_id LIMIT ?4",
    [ST_TEL_DELETE] = "DELETE FROM telemetry WHERE kind = ?1"
                      " AND unit_id = ?2 AND b >= ?3 AND b < ?4",
    [ST_RULE_INSERT] =
        "INSERT INTO alert_rules (enterprise_id, model_row, metric, op,"
        " threshold, for_ms, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_RULE_LIST] = "SELECT id, enterprise_id, model_row, metric, op,"
                     " threshold, for_ms, created_by, created_at"
                     " FROM alert_rules WHERE enterprise_id = ?1"
                     " AND model_row IN (0, ?2) ORDER BY id",
    [ST_ALERT_FIND] = "SELECT " ALERT_COLS " FROM alerts WHERE rule_id = ?1"
                      " AND unit_id = ?2 AND metric = ?3"
                      " AND state IN ('pending', 'open')",
    [ST_ALERT_INSERT] =
        "INSERT INTO alerts (rule_id, unit_id, code, model_row,"
        " enterprise_id, metric, state, since, opened_at, cleared_at, value)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ALERT_UPDATE] = "UPDATE alerts SET state = ?2, since = ?3,"
                        " opened_at = ?4, cleared_at = ?5, value = ?6"
                        " WHERE id = ?1",
    [ST_ALERT_LIST] =
        "SELECT " ALERT_COLS " FROM alerts WHERE id > ?1"
        " AND (?2 = 0 OR unit_id = ?2) AND (?3 = 0 OR model_row = ?3)"
        " AND (?4 = 0 OR enterprise_id = ?4)"
        " AND (CASE WHEN ?5 IS NULL THEN state IN ('open', 'cleared')"
        " ELSE state = ?5 END) ORDER BY id LIMIT ?6",
    [ST_RULE_LIST_METRIC] = "SELECT id, enterprise_id, model_row, metric,"
                            " op, threshold, for_ms, created_by, created_at"
                            " FROM alert_rules WHERE metric = ?1"
                            " AND id > ?2 ORDER BY id LIMIT ?3",
    [ST_SEEN_PUT] = "INSERT INTO unit_seen (unit_id, enterprise_id,"
                    " model_row, t) VALUES (?1, ?2, ?3, ?4)"
                    " ON CONFLICT (unit_id) DO UPDATE SET t = excluded.t"
                    " WHERE excluded.t > unit_seen.t",
    [ST_SEEN_SILENT] =
        "SELECT s.unit_id, u.code, s.enterprise_id, s.model_row, s.t"
        " FROM unit_seen s JOIN units u ON u.id = s.unit_id"
        " WHERE s.enterprise_id = ?1 AND (?2 = 0 OR s.model_row = ?2)"
        " AND s.t < ?4 AND s.unit_id > ?7 AND u.state = ?3"
        " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.rule_id = ?5"
        " AND a.unit_id = s.unit_id AND a.metric = ?6"
        " AND a.state IN ('pending', 'open'))"
        " ORDER BY s.unit_id LIMIT ?8",
    [ST_ZONE_INSERT] = "INSERT INTO zones (name, polygon, created_by,"
                       " created_at) VALUES (?, ?, ?, ?)",
    [ST_ZONE_GET] = "SELECT id, name, polygon, created_by, created_at"
                    " FROM zones WHERE id = ?1",
    [ST_FENCE_PUT] = "INSERT OR REPLACE INTO fences (unit_id, zones,"
                     " scenarios, speed_limit, set_by, set_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
    [ST_FENCE_GET] = "SELECT unit_id, zones, scenarios, speed_limit, set_by,"
                     " set_at FROM fences WHERE unit_id = ?1",
    [ST_VIOL_INSERT] =
        "INSERT INTO fence_violations (unit_id, code, enterprise_id, state,"
        " first_t, last_t, lat, lon, closed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_VIOL_UPDATE] = "UPDATE fence_violations SET state = ?2,"
                       " last_t = ?3, lat = ?4, lon = ?5, closed_at = ?6"
                       " WHERE id = ?1",
    [ST_VIOL_LIST] =
        "SELECT id, unit_id, code, enterprise_id, state, first_t, last_t,"
        " lat, lon, closed_at FROM fence_violations WHERE id > ?3"
        " AND (?1 = 0 OR unit_id = ?1) AND (?2 IS NULL OR state = ?2)"
        " ORDER BY id LIMIT ?4",
    [ST_SNAP_PUT] = "INSERT OR REPLACE INTO unit_snapshots (unit_id, seq, at,"
                    " state) VALUES (?1, ?2, ?3, ?4)",
    [ST_SNAP_BEFORE] = "SELECT seq, at, state FROM unit_snapshots"
                       " WHERE unit_id = ?1 AND at <= ?2 ORDER BY seq DESC"
                       " LIMIT 1",
    [ST_CHECKPOINT_GET] = "SELECT size, root, note, signed_at"
                          " FROM log_checkpoint WHERE id = 1",
    [ST_CHECKPOINT_PUT] =
        "INSERT INTO log_checkpoint (id, size, root, note, signed_at)"
        " VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE"
        " SET size = excluded.size, root = excluded.root,"
        " note = excluded.note, signed_at = excluded.signed_at",

    [ST_GRANT_INSERT] =
        "INSERT INTO grants (unit_id, grantee_id, granted_by, scope,"
        " valid_from, valid_until, revoked_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_GRANT_LIST] = "SELECT " GRANT_COLS " FROM grants"
                      " WHERE unit_id = ?1 ORDER BY id",

    [ST_IDEM_GET] = "SELECT " IDEM_COLS " FROM idempotency"
                    " WHERE party_id = ?1 AND key = ?2",
    [ST_IDEM_PUT] =
        "INSERT INTO idempotency (party_id, key, req_hash, status, response,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
    [ST_IDEM_EXPIRE] =
        "DELETE FROM idempotency WHERE (party_id, key) IN (SELECT party_id,"
        " key FROM idempotency WHERE created_at < ?1 ORDER BY created_at"
        " LIMIT ?2)",
};

/* ---- handles ----------------------------------------------------------- */

/* A count of the market statistics a job has moved and not yet written
 * (stat_add): the statement, its row's key and how much it moves. */
struct stat_move {
    enum stmt_id id;            /* one of the ST_STAT_* statements */
    int64_t enterprise_id, model_row;
    char *state, *region;       /* ST_STAT_UNITS_*: the row's (or NULL) */
    int64_t at;                 /* the others: a time in the row's month */
    int month;                  /* at's year * 12 + month, to match by */
    int64_t n;
};

struct sq_conn {
    struct store_conn base;     /* first: store.c reaches ops through it */
    sqlite3 *db;
    bool writer;                /* the writer thread's read-write handle */
    int read_depth;             /* nesting of read_begin on this handle */
    int wal_pages;              /* writer: pages in the WAL after commit */
    int ck_asked;               /* writer: wal_pages at the last request */
    sqlite3_stmt *st[ST_COUNT]; /* prepared on first use */
    struct stat_move *moves;    /* writer: the job's counts (stat_add) */
    size_t nmoves, cap_moves;
};

struct sq_store {
    struct store base;          /* first: store.c reaches ops through it */
    char *path;
    bool sync_full;
    int busy_ms;                /* how long a blocked lock is retried */

    struct sq_conn *wconn;      /* owned by the writer thread once started */
    struct store_writer writer;
    bool read_only;             /* "?mode=ro": no writer at all */

    /* The checkpointer: its thread, its read-write connection, and the
     * writer's request (see CHECKPOINT_PAGES). */
    struct sq_conn *ckconn;
    pthread_t ck_thread;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    bool ck_due, ck_stop, ck_started;

};

static struct sq_conn *sqc(struct store_conn *c)
{
    return (struct sq_conn *)c;
}

static struct sq_store *sqs(struct store *s)
{
    return (struct sq_store *)s;
}

/* A string for a message: NULL prints as nothing rather than "(null)". */
static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* ---- statements, binding, errors --------------------------------------- */

static sqlite3_stmt *stmt_get(struct sq_conn *c, enum stmt_id id,
                              struct hrid_err *err)
{
    sqlite3_stmt *st = c->st[id];
    int rc;

    if (st != NULL)
        return st;
    rc = sqlite3_prepare_v3(c->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                            &st, NULL);
    if (rc != SQLITE_OK) {
        hrid_err_set(err, STORE_EIO, 0, 0, "cannot prepare statement: %s",
                     sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    c->st[id] = st;
    return st;
}

/* Makes a statement ready for its next use and drops the bound values, so
 * no pointer to the caller's strings outlives the call. */
static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/*
 * Turns a failed step (rc, an extended result code) into a status and a
 * message about the subject (a printf format naming the row concerned).
 * Must be called before the statement is reset, which may change the
 * connection's message.
 */
static int sq_error(struct sq_conn *c, int rc, struct hrid_err *err,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int sq_error(struct sq_conn *c, int rc, struct hrid_err *err,
                    const char *fmt, ...)
{
    char subject[SUBJECT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(subject, sizeof subject, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return hrid_err_set(err, STORE_CONFLICT, 0, 0, "%s already exists",
                            subject);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "%s refers to a party, model or unit that does "
                            "not exist", subject);
    return hrid_err_set(err, STORE_EIO, 0, 0, "%s: %s", subject,
                        sqlite3_errmsg(c->db));
}

static int oom(struct hrid_err *err, const char *what)
{
    return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory reading %s",
                        what);
}

/* Binds values to the anonymous parameters in order; the first failure is
 * kept in rc and reported when the statement would have run. */
struct bind {
    sqlite3_stmt *st;
    int i;
    int rc;
};

static void bind_init(struct bind *b, sqlite3_stmt *st)
{
    b->st = st;
    b->i = 0;
    b->rc = SQLITE_OK;
}

static void bind_keep(struct bind *b, int rc)
{
    if (rc != SQLITE_OK && b->rc == SQLITE_OK)
        b->rc = rc;
}

static void bind_i64(struct bind *b, int64_t v)
{
    bind_keep(b, sqlite3_bind_int64(b->st, ++b->i, v));
}

/* A party (or other row) id where 0 means none: bound as NULL so that the
 * foreign key is not checked. */
static void bind_id(struct bind *b, int64_t v)
{
    if (v == 0)
        bind_keep(b, sqlite3_bind_null(b->st, ++b->i));
    else
        bind_keep(b, sqlite3_bind_int64(b->st, ++b->i, v));
}

/* SQLITE_STATIC: the string only has to live until the step, and
 * stmt_done clears it before the caller gets control back. */
static void bind_str(struct bind *b, const char *s)
{
    if (s == NULL)
        bind_keep(b, sqlite3_bind_null(b->st, ++b->i));
    else
        bind_keep(b, sqlite3_bind_text(b->st, ++b->i, s, -1, SQLITE_STATIC));
}

static void bind_blob(struct bind *b, const void *p, int n)
{
    bind_keep(b, sqlite3_bind_blob(b->st, ++b->i, p, n, SQLITE_STATIC));
}

/* Runs a bound statement that returns no row; rc of the step. */
static int bind_step(struct bind *b)
{
    return b->rc != SQLITE_OK ? b->rc : sqlite3_step(b->st);
}

/* Reads the columns of the current row in order, copying strings into the
 * caller's arena.  An allocation failure is remembered in oom. */
struct row {
    sqlite3_stmt *st;
    struct arena *a;
    int col;
    bool oom;
};

static void row_init(struct row *r, sqlite3_stmt *st, struct arena *a)
{
    r->st = st;
    r->a = a;
    r->col = 0;
    r->oom = false;
}

static int64_t row_i64(struct row *r)
{
    return sqlite3_column_int64(r->st, r->col++);
}

static int row_int(struct row *r)
{
    return sqlite3_column_int(r->st, r->col++);
}

static const char *row_str(struct row *r)
{
    int i = r->col++;
    const unsigned char *t;
    char *s;

    if (sqlite3_column_type(r->st, i) == SQLITE_NULL)
        return NULL;
    t = sqlite3_column_text(r->st, i);
    if (t == NULL) {
        r->oom = true;
        return NULL;
    }
    /* No arena: the caller reads the row within its callback only, and
     * SQLite's own copy stays valid until the next step. */
    if (r->a == NULL)
        return (const char *)t;
    s = arena_strndup(r->a, (const char *)t,
                      (size_t)sqlite3_column_bytes(r->st, i));
    if (s == NULL)
        r->oom = true;
    return s;
}

/* Copies a text column into a fixed array of cap bytes (NUL included). */
static void row_fixed(struct row *r, char *out, size_t cap)
{
    int i = r->col++;
    const unsigned char *t = sqlite3_column_text(r->st, i);
    size_t n = (size_t)sqlite3_column_bytes(r->st, i);

    if (t == NULL)
        n = 0;
    if (n > cap - 1)
        n = cap - 1;
    if (n > 0)
        memcpy(out, t, n);
    out[n] = '\0';
}

/* A 32-byte hash column; any other length reads as zeros after its end. */
static void row_hash(struct row *r, unsigned char out[32])
{
    int i = r->col++;
    const void *p = sqlite3_column_blob(r->st, i);
    size_t n = (size_t)sqlite3_column_bytes(r->st, i);

    memset(out, 0, 32);
    if (p != NULL)
        memcpy(out, p, n < 32 ? n : 32);
}

/* Runs a statement that needs no binding and returns no row (BEGIN,
 * SAVEPOINT, ...).  Returns SQLITE_DONE, or the failure with its message
 * copied to msg (which a later reset could overwrite). */
static int run_simple(struct sq_conn *c, enum stmt_id id, char *msg,
                      size_t cap)
{
    sqlite3_stmt *st = stmt_get(c, id, NULL);
    int rc;

    if (st == NULL) {
        snprintf(msg, cap, "%s", sqlite3_errmsg(c->db));
        return SQLITE_ERROR;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        snprintf(msg, cap, "%s", sqlite3_errmsg(c->db));
    sqlite3_reset(st);
    return rc;
}

/* ---- record readers ---------------------------------------------------- */

static int read_party(sqlite3_stmt *st, struct arena *a,
                      struct store_party *p, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    p->id = row_i64(&r);
    p->kind = row_str(&r);
    p->name = row_str(&r);
    p->public_name = row_str(&r);
    p->country = row_str(&r);
    p->ent_code = row_str(&r);
    p->info = row_str(&r);
    p->created_at = row_i64(&r);
    return r.oom ? oom(err, "a party") : STORE_OK;
}

static int read_key(sqlite3_stmt *st, struct arena *a, struct store_key *k,
                    struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->key_id = row_str(&r);
    row_hash(&r, k->hash);
    k->party_id = row_i64(&r);
    k->role = row_str(&r);
    k->label = row_str(&r);
    k->created_at = row_i64(&r);
    k->revoked_at = row_i64(&r);
    return r.oom ? oom(err, "an api key") : STORE_OK;
}

static int read_model(sqlite3_stmt *st, struct arena *a,
                      struct store_model *m, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    m->id = row_i64(&r);
    row_fixed(&r, m->model_id, sizeof m->model_id);
    m->enterprise_id = row_i64(&r);
    m->level = row_int(&r);
    m->filing_year = row_int(&r);
    m->name = row_str(&r);
    m->status = row_str(&r);
    m->params = row_str(&r);
    m->filing = row_str(&r);
    m->filed_at = row_i64(&r);
    m->approved_at = row_i64(&r);
    m->approved_by = row_i64(&r);
    m->withdrawn_at = row_i64(&r);
    return r.oom ? oom(err, "a model") : STORE_OK;
}

/* The row's own columns, UNIT_ROW_COLS. */
static void unit_row(struct row *r, struct store_unit *u)
{
    u->id = row_i64(r);
    row_fixed(r, u->code, sizeof u->code);
    u->model_row = row_i64(r);
    u->enterprise_id = row_i64(r);
    u->state = row_str(r);
    u->prev_state = row_str(r);
    u->custodian_id = row_i64(r);
    u->owner_id = row_i64(r);
    u->operator_id = row_i64(r);
    u->serial = row_str(r);
    u->batch = row_str(r);
    u->production_date = row_str(r);
    u->factory = row_str(r);
    u->firmware = row_str(r);
    u->device_key = row_str(r);
    u->site = row_str(r);
    u->scenario = row_str(r);
    u->region = row_str(r);
    u->market_filing_no = row_str(r);
    u->jurisdiction = row_str(r);
    u->extra = row_str(r);
    u->registered_at = row_i64(r);
    u->updated_at = row_i64(r);
}

/* UNIT_COLS: the row and its history's counts. */
static int read_unit(sqlite3_stmt *st, struct arena *a, struct store_unit *u,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    unit_row(&r, u);
    u->last_event_at = row_i64(&r);
    u->last_event_seq = row_i64(&r);
    u->event_count = row_i64(&r);
    return r.oom ? oom(err, "a unit") : STORE_OK;
}

static int read_component(sqlite3_stmt *st, struct arena *a,
                          struct store_component *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->unit_id = row_i64(&r);
    k->slot = row_str(&r);
    k->part_no = row_str(&r);
    k->supplier = row_str(&r);
    k->lot = row_str(&r);
    k->serial = row_str(&r);
    k->installed_at = row_i64(&r);
    k->installed_seq = row_i64(&r);
    k->removed_at = row_i64(&r);
    k->removed_seq = row_i64(&r);
    return r.oom ? oom(err, "a component") : STORE_OK;
}

static int read_event(sqlite3_stmt *st, struct arena *a,
                      struct store_event *e, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    e->seq = row_i64(&r);
    e->unit_id = row_i64(&r);
    row_fixed(&r, e->code, sizeof e->code);
    e->type = row_str(&r);
    e->at = row_i64(&r);
    e->recorded_at = row_i64(&r);
    e->actor_id = row_i64(&r);
    e->actor_role = row_str(&r);
    e->body = row_str(&r);
    return r.oom ? oom(err, "an event") : STORE_OK;
}

static int read_grant(sqlite3_stmt *st, struct arena *a,
                      struct store_grant *g, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    g->id = row_i64(&r);
    g->unit_id = row_i64(&r);
    g->grantee_id = row_i64(&r);
    g->granted_by = row_i64(&r);
    g->scope = row_str(&r);
    g->valid_from = row_i64(&r);
    g->valid_until = row_i64(&r);
    g->revoked_at = row_i64(&r);
    g->created_at = row_i64(&r);
    return r.oom ? oom(err, "a grant") : STORE_OK;
}

static int read_idem(sqlite3_stmt *st, struct arena *a, struct store_idem *d,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    d->party_id = row_i64(&r);
    d->key = row_str(&r);
    row_hash(&r, d->req_hash);
    d->status = row_int(&r);
    d->response = row_str(&r);
    d->created_at = row_i64(&r);
    return r.oom ? oom(err, "an idempotency record") : STORE_OK;
}

/* A listing's LIMIT: SQLite reads a negative limit as "no limit". */
static int64_t limit_of(int limit)
{
    return limit > 0 ? limit : -1;
}

/* ---- operations -------------------------------------------------------- */

static int sq_counter_add(struct store_conn *sc, const char *name,
                          int64_t count, int64_t *value, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_COUNTER_NEXT, err);
    struct bind b;
    int rc, r = STORE_OK;

    *value = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, name);
    bind_i64(&b, count);
    rc = bind_step(&b);
    if (rc != SQLITE_ROW) {
        r = sq_error(c, rc, err, "counter '%s'", or_empty(name));
    } else {
        *value = sqlite3_column_int64(st, 0);
        /* RETURNING: the change is made by the first step; the second
         * finishes the statement. */
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            *value = 0;
            r = sq_error(c, rc, err, "counter '%s'", or_empty(name));
        }
    }
    stmt_done(st);
    return r;
}

static int sq_party_insert(struct store_conn *sc, struct store_party *p,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_PARTY_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, p->kind);
    bind_str(&b, p->name);
    bind_str(&b, p->public_name);
    bind_str(&b, p->country);
    bind_str(&b, p->ent_code);
    bind_str(&b, p->info);
    bind_i64(&b, p->created_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE) {
        if (p->ent_code != NULL)
            r = sq_error(c, rc, err, "enterprise code '%s' in country '%s'",
                         p->ent_code, or_empty(p->country));
        else
            r = sq_error(c, rc, err, "party '%s'", or_empty(p->name));
    } else {
        p->id = sqlite3_last_insert_rowid(c->db);
    }
    stmt_done(st);
    return r;
}

/* The end of a single-row read: the row, no row (NOTFOUND with the
 * subject), or a failure. */
#define GET_ROW(READ, OUT, WHAT, ...)                                      \
    do {                                                                   \
        rc = bind_step(&b);                                                \
        if (rc == SQLITE_ROW)                                              \
            r = READ(st, a, OUT, err);                                     \
        else if (rc == SQLITE_DONE)                                        \
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,                    \
                             __VA_ARGS__);                                 \
        else                                                               \
            r = sq_error(c, rc, err, WHAT);                                \
        stmt_done(st);                                                     \
        if (r != STORE_OK)                                                 \
            memset(OUT, 0, sizeof *(OUT));                                 \
    } while (0)

static int sq_party_get(struct store_conn *sc, int64_t id, struct arena *a,
                        struct store_party *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_PARTY_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    GET_ROW(read_party, out, "reading a party", "party %lld not found",
            (long long)id);
    return r;
}

static int sq_party_by_ent_code(struct store_conn *sc, const char *country,
                                const char *ent_code, struct arena *a,
                                struct store_party *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_PARTY_BY_ENT, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, country);
    bind_str(&b, ent_code);
    GET_ROW(read_party, out, "reading a party",
            "no enterprise with code '%s' in country '%s'",
            or_empty(ent_code), or_empty(country));
    return r;
}

/* The loop of every listing: each row is read into rec and handed to the
 * callback; a callback's non-zero result stops the walk and is returned. */
#define LIST_ROWS(READ, REC, EACH, WHAT)                                   \
    do {                                                                   \
        r = b.rc != SQLITE_OK ? sq_error(c, b.rc, err, WHAT) : STORE_OK;   \
        while (r == STORE_OK) {                                            \
            rc = sqlite3_step(st);                                         \
            if (rc == SQLITE_DONE)                                         \
                break;                                                     \
            if (rc != SQLITE_ROW) {                                        \
                r = sq_error(c, rc, err, WHAT);                            \
                break;                                                     \
            }                                                              \
            r = READ(st, a, &(REC), err);                                  \
            if (r == STORE_OK)                                             \
                r = EACH(ctx, &(REC));                                     \
        }                                                                  \
        stmt_done(st);                                                     \
    } while (0)

static int sq_party_list(struct store_conn *sc, const char *kind,
                         int64_t after_id, int limit, struct arena *a,
                         store_each_party_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, kind ? ST_PARTY_LIST_KIND : ST_PARTY_LIST,
                                err);
    struct store_party p;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, after_id);
    bind_i64(&b, limit_of(limit));
    if (kind != NULL)
        bind_str(&b, kind);
    LIST_ROWS(read_party, p, each, "listing parties");
    return r;
}

static int sq_key_insert(struct store_conn *sc, struct store_key *k,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_KEY_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, k->key_id);
    bind_blob(&b, k->hash, (int)sizeof k->hash);
    bind_id(&b, k->party_id);
    bind_str(&b, k->role);
    bind_str(&b, k->label);
    bind_i64(&b, k->created_at);
    bind_i64(&b, k->revoked_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "api key '%s'", or_empty(k->key_id));
    else
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_key_get(struct store_conn *sc, const char *key_id,
                      struct arena *a, struct store_key *out,
                      struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_KEY_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, key_id);
    GET_ROW(read_key, out, "reading an api key", "api key '%s' not found",
            or_empty(key_id));
    return r;
}

/* Whether row id exists, through an "SELECT 1 ... WHERE id = ?1"
 * statement: 1 yes, 0 no, or an error status (already in err) below 0. */
static int row_exists(struct sq_conn *c, enum stmt_id id, int64_t row,
                      struct hrid_err *err)
{
    sqlite3_stmt *st = stmt_get(c, id, err);
    int rc, r;

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, row);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r = 1;
    } else if (rc == SQLITE_DONE) {
        r = 0;
    } else {
        sq_error(c, rc, err, "row %lld", (long long)row);
        r = -1;
    }
    stmt_done(st);
    return r;
}

/* Revoking a key that is already revoked keeps the first revocation time
 * and succeeds: the key is dead either way. */
static int sq_key_revoke(struct store_conn *sc, int64_t id, int64_t at,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_KEY_REVOKE, err);
    struct bind b;
    int rc, r = STORE_OK, ex;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    bind_i64(&b, at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "api key %lld", (long long)id);
    stmt_done(st);
    if (r == STORE_OK && sqlite3_changes(c->db) == 0) {
        ex = row_exists(c, ST_KEY_EXISTS, id, err);
        if (ex < 0)
            r = STORE_EIO;
        else if (ex == 0)
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                             "api key %lld not found", (long long)id);
    }
    return r;
}

static int sq_key_list(struct store_conn *sc, int64_t party_id,
                       struct arena *a, store_each_key_fn each, void *ctx,
                       struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_KEY_LIST, err);
    struct store_key k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, party_id);
    LIST_ROWS(read_key, k, each, "listing api keys");
    return r;
}

static int sq_model_insert(struct store_conn *sc, struct store_model *m,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_MODEL_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, m->model_id);
    bind_id(&b, m->enterprise_id);
    bind_i64(&b, m->level);
    bind_i64(&b, m->filing_year);
    bind_str(&b, m->name);
    bind_str(&b, m->status);
    bind_str(&b, m->params);
    bind_str(&b, m->filing);
    bind_i64(&b, m->filed_at);
    bind_i64(&b, m->approved_at);
    bind_id(&b, m->approved_by);
    bind_i64(&b, m->withdrawn_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "model '%s'", m->model_id);
    else
        m->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_model_get(struct store_conn *sc, const char *model_id,
                        struct arena *a, struct store_model *out,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_MODEL_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, model_id);
    GET_ROW(read_model, out, "reading a model", "model '%s' not found",
            or_empty(model_id));
    return r;
}

static int sq_model_get_row(struct store_conn *sc, int64_t id,
                            struct arena *a, struct store_model *out,
                            struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_MODEL_GET_ROW, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    GET_ROW(read_model, out, "reading a model",
            "model row %lld not found", (long long)id);
    return r;
}

static int sq_model_update(struct store_conn *sc, const struct store_model *m,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_MODEL_UPDATE, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, m->id);
    bind_str(&b, m->name);
    bind_str(&b, m->status);
    bind_str(&b, m->params);
    bind_str(&b, m->filing);
    bind_i64(&b, m->filed_at);
    bind_i64(&b, m->approved_at);
    bind_id(&b, m->approved_by);
    bind_i64(&b, m->withdrawn_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "model '%s'", m->model_id);
    else if (sqlite3_changes(c->db) == 0)
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                         "model row %lld not found", (long long)m->id);
    stmt_done(st);
    return r;
}

static int sq_model_list(struct store_conn *sc, int64_t enterprise_id,
                         int64_t after_id, int limit, struct arena *a,
                         store_each_model_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, enterprise_id ? ST_MODEL_LIST_ENT
                                                 : ST_MODEL_LIST, err);
    struct store_model m;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, after_id);
    bind_i64(&b, limit_of(limit));
    if (enterprise_id != 0)
        bind_i64(&b, enterprise_id);
    LIST_ROWS(read_model, m, each, "listing models");
    return r;
}

/*
 * The market statistics' counts (stat_units by enterprise, model, state
 * and region; stat_months by month of registration and of release), kept
 * as units are inserted and their state or region moves, in the unit's
 * job.  id is one of the ST_STAT_* statements; the unit's maker and model
 * are its row's (fixed at registration), at (ms) names the month for the
 * monthly counts, state and region the others.
 *
 * The moves are summed per row and written when the job ends
 * (sq_finish), inside its transaction or savepoint: a bulk of 10,000
 * units of a few models then writes a few rows, not 20,000 upserts (7% of
 * the writer's time in a bulk registration).  Nothing in a write job
 * reads the counts, so none reads them stale.
 */
static bool same_str(const char *x, const char *y)
{
    return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static int month_of(int64_t at)
{
    time_t t = (time_t)(at / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    return tm.tm_year * 12 + tm.tm_mon;
}

static int stat_add(struct sq_conn *c, enum stmt_id id,
                    const struct store_unit *row, const char *state,
                    const char *region, int64_t at, struct hrid_err *err)
{
    bool by_state = id == ST_STAT_UNITS_ADD || id == ST_STAT_UNITS_SUB;
    int month = by_state ? 0 : month_of(at);
    struct stat_move *m;
    size_t i;

    for (i = c->nmoves; i-- > 0;) {
        m = &c->moves[i];
        if (m->id == id && m->enterprise_id == row->enterprise_id &&
            m->model_row == row->model_row &&
            (by_state ? same_str(m->state, state) &&
                            same_str(m->region, region)
                      : m->month == month)) {
            m->n++;
            return STORE_OK;
        }
    }
    if (c->nmoves == c->cap_moves) {
        size_t cap = c->cap_moves ? c->cap_moves * 2 : 16;
        struct stat_move *more = realloc(c->moves, cap * sizeof *more);

        if (more == NULL)
            return hrid_err_set(err, STORE_EIO, 0, 0,
                                "out of memory counting unit '%s'",
                                row->code);
        c->moves = more;
        c->cap_moves = cap;
    }
    m = &c->moves[c->nmoves];
    memset(m, 0, sizeof *m);
    m->id = id;
    m->enterprise_id = row->enterprise_id;
    m->model_row = row->model_row;
    m->at = at;
    m->month = month;
    m->n = 1;
    if ((state != NULL && (m->state = strdup(state)) == NULL) ||
        (region != NULL && (m->region = strdup(region)) == NULL)) {
        free(m->state);
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "out of memory counting unit '%s'", row->code);
    }
    c->nmoves++;
    return STORE_OK;
}

/* Forgets the moves not written. */
static void stat_drop(struct sq_conn *c)
{
    for (size_t i = 0; i < c->nmoves; i++) {
        free(c->moves[i].state);
        free(c->moves[i].region);
    }
    c->nmoves = 0;
}

/* Writes the moves stat_add summed, then forgets them. */
static int stat_flush(struct sq_conn *c, struct hrid_err *err)
{
    int r = STORE_OK;

    for (size_t i = 0; i < c->nmoves && r == STORE_OK; i++) {
        const struct stat_move *m = &c->moves[i];
        sqlite3_stmt *st = stmt_get(c, m->id, err);
        struct bind b;
        int rc;

        if (st == NULL) {
            r = STORE_EIO;
            break;
        }
        bind_init(&b, st);
        bind_i64(&b, m->enterprise_id);
        bind_i64(&b, m->model_row);
        if (m->id == ST_STAT_UNITS_ADD || m->id == ST_STAT_UNITS_SUB) {
            bind_str(&b, m->state);
            bind_str(&b, m->region);
        } else {
            bind_i64(&b, m->at);
        }
        bind_i64(&b, m->n);
        rc = bind_step(&b);
        if (rc != SQLITE_DONE)
            r = sq_error(c, rc, err, "writing the market statistics");
        stmt_done(st);
    }
    stat_drop(c);
    return r;
}

static int sq_unit_insert(struct store_conn *sc, struct store_unit *u,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_UNIT_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, u->code);
    bind_id(&b, u->model_row);
    bind_id(&b, u->enterprise_id);
    bind_str(&b, u->state);
    bind_str(&b, u->prev_state);
    bind_id(&b, u->custodian_id);
    bind_id(&b, u->owner_id);
    bind_id(&b, u->operator_id);
    bind_str(&b, u->serial);
    bind_str(&b, u->batch);
    bind_str(&b, u->production_date);
    bind_str(&b, u->factory);
    bind_str(&b, u->firmware);
    bind_str(&b, u->device_key);
    bind_str(&b, u->site);
    bind_str(&b, u->scenario);
    bind_str(&b, u->region);
    bind_str(&b, u->market_filing_no);
    bind_str(&b, u->jurisdiction);
    bind_str(&b, u->extra);
    bind_i64(&b, u->registered_at);
    bind_i64(&b, u->updated_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "unit '%s'", u->code);
    else
        u->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    if (r == STORE_OK)
        r = stat_add(c, ST_STAT_UNITS_ADD, u, u->state, u->region, 0, err);
    if (r == STORE_OK)
        r = stat_add(c, ST_STAT_REGISTERED, u, NULL, NULL, u->registered_at,
                     err);
    return r;
}

/* A unit's row by code through statement id: ST_UNIT_GET, or
 * ST_UNIT_VIEW_GET, whose two columns after the row's are the marks
 * (marks not NULL). */
static int unit_by_code(struct store_conn *sc, enum stmt_id id,
                        const char *code, struct arena *a,
                        struct store_unit *out,
                        struct store_unit_marks *marks, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, id, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, code);
    rc = bind_step(&b);
    if (rc == SQLITE_ROW) {
        struct row row;

        row_init(&row, st, a);
        unit_row(&row, out);
        r = row.oom ? oom(err, "a unit") : STORE_OK;
        if (marks != NULL) {
            marks->certified = sqlite3_column_int(st, UNIT_ROW_NCOLS) != 0;
            marks->recalled = sqlite3_column_int(st, UNIT_ROW_NCOLS + 1) != 0;
        }
    } else if (rc == SQLITE_DONE) {
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0, "unit '%s' not found",
                         or_empty(code));
    } else {
        r = sq_error(c, rc, err, "reading a unit");
    }
    stmt_done(st);
    if (r != STORE_OK)
        memset(out, 0, sizeof *out);
    return r;
}

static int sq_unit_history(struct store_conn *sc, struct store_unit *u,
                           struct hrid_err *err);

static int sq_unit_get(struct store_conn *sc, const char *code,
                       struct arena *a, struct store_unit *out,
                       struct hrid_err *err)
{
    int r = unit_by_code(sc, ST_UNIT_GET, code, a, out, NULL, err);

    if (r == STORE_OK && (r = sq_unit_history(sc, out, err)) != STORE_OK)
        memset(out, 0, sizeof *out);
    return r;
}

static int sq_unit_view_get(struct store_conn *sc, const char *code,
                            struct arena *a, struct store_unit *out,
                            struct store_unit_marks *marks,
                            struct hrid_err *err)
{
    memset(marks, 0, sizeof *marks);
    return unit_by_code(sc, ST_UNIT_VIEW_GET, code, a, out, marks, err);
}

static int sq_unit_history(struct store_conn *sc, struct store_unit *u,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_UNIT_HISTORY, err);
    int rc, r = STORE_OK;

    u->last_event_at = u->last_event_seq = u->event_count = 0;
    if (st == NULL)
        return STORE_EIO;
    sqlite3_bind_int64(st, 1, u->id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        u->last_event_at = sqlite3_column_int64(st, 0);
        u->last_event_seq = sqlite3_column_int64(st, 1);
        u->event_count = sqlite3_column_int64(st, 2);
    } else if (rc != SQLITE_DONE) {
        r = sq_error(c, rc, err, "the history of unit '%s'", u->code);
    }
    stmt_done(st);
    return r;
}

/* The indexed and counted columns: ST_UNIT_SET_STATE (state, region) or
 * ST_UNIT_SET_PARTIES, each a no-op when they are unchanged. */
static int unit_set(struct sq_conn *c, enum stmt_id id,
                    const struct store_unit *u, struct hrid_err *err)
{
    sqlite3_stmt *st = stmt_get(c, id, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, u->id);
    if (id == ST_UNIT_SET_STATE) {
        bind_str(&b, u->state);
        bind_str(&b, u->region);
    } else {
        bind_id(&b, u->custodian_id);
        bind_id(&b, u->owner_id);
        bind_id(&b, u->operator_id);
    }
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "unit '%s'", u->code);
    stmt_done(st);
    return r;
}

/*
 * The columns no index or count watches are rewritten in one statement;
 * state, region and the parties only when they changed from was, and then
 * the statistics' counts move with them (stat_add).  A firmware update
 * then costs one row rewrite, not three lookups of the row.
 */
static int sq_unit_update(struct store_conn *sc, const struct store_unit *was,
                          const struct store_unit *u, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_UNIT_UPDATE, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, u->id);
    bind_str(&b, u->prev_state);
    bind_str(&b, u->batch);
    bind_str(&b, u->production_date);
    bind_str(&b, u->factory);
    bind_str(&b, u->firmware);
    bind_str(&b, u->device_key);
    bind_str(&b, u->site);
    bind_str(&b, u->scenario);
    bind_str(&b, u->market_filing_no);
    bind_str(&b, u->jurisdiction);
    bind_str(&b, u->extra);
    bind_i64(&b, u->updated_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "unit '%s'", u->code);
    else if (sqlite3_changes(c->db) == 0)
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                         "unit row %lld not found", (long long)u->id);
    stmt_done(st);

    if (r == STORE_OK && (!same_str(was->state, u->state) ||
                          !same_str(was->region, u->region))) {
        r = unit_set(c, ST_UNIT_SET_STATE, u, err);
        if (r == STORE_OK)
            r = stat_add(c, ST_STAT_UNITS_SUB, was, was->state, was->region,
                         0, err);
        if (r == STORE_OK)
            r = stat_add(c, ST_STAT_UNITS_ADD, was, u->state, u->region, 0,
                         err);
        if (r == STORE_OK && same_str(was->state, "registered") &&
            same_str(u->state, "released"))
            r = stat_add(c, ST_STAT_RELEASED, was, NULL, NULL,
                         u->last_event_at, err);
    }
    if (r == STORE_OK && (was->custodian_id != u->custodian_id ||
                          was->owner_id != u->owner_id ||
                          was->operator_id != u->operator_id))
        r = unit_set(c, ST_UNIT_SET_PARTIES, u, err);
    return r;
}

/*
 * The statement walks the index of the most selective filter given:
 * custodian (a seller or owner holds a small share of all units), then
 * model (a maker's tenth, say), then enterprise, then state (few values,
 * many units each), else the code index.  The remaining filters are
 * checked on the rows walked.
 */
static int sq_unit_list(struct store_conn *sc,
                        const struct store_unit_filter *f, struct arena *a,
                        store_each_unit_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    enum stmt_id id;
    sqlite3_stmt *st;
    struct store_unit u;
    struct bind b;
    int rc, r;

    if (f->custodian_id != 0)
        id = ST_UNIT_LIST_CUST;
    else if (f->model_row != 0)
        id = ST_UNIT_LIST_MODEL;
    else if (f->enterprise_id != 0)
        id = ST_UNIT_LIST_ENT;
    else if (f->state != NULL)
        id = ST_UNIT_LIST_STATE;
    else
        id = ST_UNIT_LIST;
    st = stmt_get(c, id, err);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    switch (id) {
    case ST_UNIT_LIST_CUST:
        bind_i64(&b, f->custodian_id);
        break;
    case ST_UNIT_LIST_ENT:
        bind_i64(&b, f->enterprise_id);
        break;
    case ST_UNIT_LIST_MODEL:
        bind_i64(&b, f->model_row);
        break;
    case ST_UNIT_LIST_STATE:
        bind_str(&b, f->state);
        break;
    default:
        b.i++;      /* ?1 is not used by the unfiltered walk */
        break;
    }
    bind_str(&b, f->after_code != NULL ? f->after_code : "");
    bind_i64(&b, f->enterprise_id);
    bind_i64(&b, f->model_row);
    bind_str(&b, f->state);
    bind_i64(&b, limit_of(f->limit));
    LIST_ROWS(read_unit, u, each, "listing units");
    return r;
}

static int sq_unit_count(struct store_conn *sc, int64_t *n,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_UNIT_COUNT, err);
    int rc, r = STORE_OK;

    *n = 0;
    if (st == NULL)
        return STORE_EIO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        r = sq_error(c, rc, err, "counting units");
    stmt_done(st);
    return r;
}

/*
 * One statement a component row.  A statement of several rows costs less
 * set-up, but SQLite gives a statement that writes more than one row and
 * may fail part-way (here: the NOT NULL columns and the foreign key) a
 * journal of its own, and copies into it, before changing it, every page
 * the statement touches: three to four pages a unit in a bulk
 * registration, 18 KB more written per unit than the rows themselves,
 * and 5-10% more of hridd's time a unit (docs/PERFORMANCE.md).  A single
 * row is written whole or not at all, so it needs none.
 */
static int sq_component_insert(struct store_conn *sc,
                               struct store_component *k, size_t n,
                               struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);

    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt_get(c, ST_COMP_INSERT, err);
        struct bind b;
        int rc, r = STORE_OK;

        if (st == NULL)
            return STORE_EIO;
        bind_init(&b, st);
        bind_i64(&b, k[i].unit_id);
        bind_str(&b, k[i].slot);
        bind_str(&b, k[i].part_no);
        bind_str(&b, k[i].supplier);
        bind_str(&b, k[i].lot);
        bind_str(&b, k[i].serial);
        bind_i64(&b, k[i].installed_at);
        bind_i64(&b, k[i].installed_seq);
        bind_i64(&b, k[i].removed_at);
        bind_i64(&b, k[i].removed_seq);
        rc = bind_step(&b);
        if (rc != SQLITE_DONE)
            r = sq_error(c, rc, err, "component '%s' of unit row %lld",
                         or_empty(k[i].slot), (long long)k[i].unit_id);
        else
            k[i].id = sqlite3_last_insert_rowid(c->db);
        stmt_done(st);
        if (r != STORE_OK)
            return r;
    }
    return STORE_OK;
}

/* Removing a component that was already removed is a conflict: the first
 * removal (and its event) stands. */
static int sq_component_remove(struct store_conn *sc, int64_t id, int64_t at,
                               int64_t seq, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_COMP_REMOVE, err);
    struct bind b;
    int rc, r = STORE_OK, ex;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    bind_i64(&b, at);
    bind_i64(&b, seq);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "component %lld", (long long)id);
    stmt_done(st);
    if (r == STORE_OK && sqlite3_changes(c->db) == 0) {
        ex = row_exists(c, ST_COMP_EXISTS, id, err);
        if (ex < 0)
            r = STORE_EIO;
        else if (ex == 0)
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                             "component %lld not found", (long long)id);
        else
            r = hrid_err_set(err, STORE_CONFLICT, 0, 0,
                             "component %lld was already removed",
                             (long long)id);
    }
    return r;
}

static int sq_component_list(struct store_conn *sc, int64_t unit_id,
                             bool installed_only, struct arena *a,
                             store_each_component_fn each, void *ctx,
                             struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, installed_only ? ST_COMP_LIST_INSTALLED
                                                  : ST_COMP_LIST, err);
    struct store_component k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    LIST_ROWS(read_component, k, each, "listing components");
    return r;
}

/* The seq is not taken from e: SQLite gives the next one. */
static int sq_event_append(struct store_conn *sc, struct store_event *e,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_EVENT_APPEND, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, e->unit_id);
    bind_str(&b, e->code);
    bind_str(&b, e->type);
    bind_i64(&b, e->at);
    bind_i64(&b, e->recorded_at);
    bind_id(&b, e->actor_id);
    bind_str(&b, e->actor_role);
    bind_str(&b, e->body);
    bind_i64(&b, e->unit_count);
    bind_i64(&b, e->unit_last_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "event '%s' of unit '%s'", or_empty(e->type),
                     e->code);
    else
        e->seq = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_event_list(struct store_conn *sc, int64_t unit_id,
                         int64_t after_seq, int limit, struct arena *a,
                         store_each_event_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_EVENT_LIST, err);
    struct store_event e;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    bind_i64(&b, after_seq);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_event, e, each, "listing events");
    return r;
}

static int read_event_unit(sqlite3_stmt *st, struct arena *a,
                           struct store_event *e, struct hrid_err *err)
{
    const unsigned char *t;
    int r = read_event(st, a, e, err);

    if (r != STORE_OK)
        return r;
    t = sqlite3_column_text(st, 9);
    if (t == NULL)
        e->unit_code = "";
    else if (a == NULL)
        e->unit_code = (const char *)t;
    else
        e->unit_code = arena_strdup(a, (const char *)t);
    return e->unit_code != NULL ? STORE_OK : oom(err, "an event");
}

static int sq_event_scan(struct store_conn *sc, int64_t after_seq, int limit,
                         bool with_unit, struct arena *a,
                         store_each_event_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, with_unit ? ST_EVENT_SCAN_UNIT
                                             : ST_EVENT_SCAN, err);
    struct store_event e;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    memset(&e, 0, sizeof e);
    bind_init(&b, st);
    bind_i64(&b, after_seq);
    bind_i64(&b, limit > 0 ? limit : 1);
    if (with_unit)
        LIST_ROWS(read_event_unit, e, each, "scanning events");
    else
        LIST_ROWS(read_event, e, each, "scanning events");
    return r;
}

/* ---- the log's tiles ------------------------------------------------- */

static int sq_tile_get(struct store_conn *sc, int level, int64_t index,
                       unsigned char *hashes, int *width,
                       struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_TILE_GET, err);
    struct bind b;
    int rc, r = STORE_OK;
    int n;

    *width = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, level);
    bind_i64(&b, index);
    rc = bind_step(&b);
    if (rc == SQLITE_ROW) {
        n = sqlite3_column_bytes(st, 0);
        if (n <= 0 || n > STORE_TILE_BYTES || n % 32 != 0) {
            r = hrid_err_set(err, STORE_EIO, 0, 0,
                             "log tile %d/%lld holds %d bytes, not a whole "
                             "number of hashes from 1 to %d", level,
                             (long long)index, n, STORE_TILE_WIDTH);
        } else {
            memcpy(hashes, sqlite3_column_blob(st, 0), (size_t)n);
            *width = n / 32;
        }
    } else if (rc == SQLITE_DONE) {
        r = STORE_NOTFOUND;
    } else {
        r = sq_error(c, rc, err, "log tile %d/%lld", level, (long long)index);
    }
    stmt_done(st);
    return r;
}

static int sq_tile_put(struct store_conn *sc, int level, int64_t index,
                       const unsigned char *hashes, int width,
                       struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_TILE_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    if (width < 1 || width > STORE_TILE_WIDTH) {
        stmt_done(st);
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "log tile %d/%lld: width %d out of range", level,
                            (long long)index, width);
    }
    bind_init(&b, st);
    bind_i64(&b, level);
    bind_i64(&b, index);
    bind_blob(&b, hashes, width * 32);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "log tile %d/%lld", level, (long long)index);
    stmt_done(st);
    return r;
}

static int sq_tile_last(struct store_conn *sc, int level, int64_t *index,
                        int *width, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_TILE_LAST, err);
    struct bind b;
    int rc, r = STORE_OK;

    *index = 0;
    *width = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, level);
    rc = bind_step(&b);
    if (rc == SQLITE_ROW) {
        *index = sqlite3_column_int64(st, 0);
        *width = sqlite3_column_int(st, 1) / 32;
    } else if (rc == SQLITE_DONE) {
        r = STORE_NOTFOUND;
    } else {
        r = sq_error(c, rc, err, "last log tile of level %d", level);
    }
    stmt_done(st);
    return r;
}

static int sq_checkpoint_get(struct store_conn *sc, struct arena *a,
                             struct store_checkpoint *out,
                             struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CHECKPOINT_GET, err);
    struct row rw;
    int rc, r = STORE_OK;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_init(&rw, st, a);
        out->size = row_i64(&rw);
        row_hash(&rw, out->root);
        out->note = row_str(&rw);
        out->signed_at = row_i64(&rw);
        if (rw.oom)
            r = oom(err, "the checkpoint");
    } else if (rc == SQLITE_DONE) {
        r = STORE_NOTFOUND;
    } else {
        r = sq_error(c, rc, err, "the last checkpoint");
    }
    stmt_done(st);
    return r;
}

static int sq_checkpoint_put(struct store_conn *sc,
                             const struct store_checkpoint *cp,
                             struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CHECKPOINT_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, cp->size);
    bind_blob(&b, cp->root, 32);
    bind_str(&b, cp->note);
    bind_i64(&b, cp->signed_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "the checkpoint of size %lld",
                     (long long)cp->size);
    stmt_done(st);
    return r;
}

static int sq_grant_insert(struct store_conn *sc, struct store_grant *g,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_GRANT_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, g->unit_id);
    bind_id(&b, g->grantee_id);
    bind_id(&b, g->granted_by);
    bind_str(&b, g->scope);
    bind_i64(&b, g->valid_from);
    bind_i64(&b, g->valid_until);
    bind_i64(&b, g->revoked_at);
    bind_i64(&b, g->created_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "grant to party %lld on unit row %lld",
                     (long long)g->grantee_id, (long long)g->unit_id);
    else
        g->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_grant_list(struct store_conn *sc, int64_t unit_id,
                         struct arena *a, store_each_grant_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_GRANT_LIST, err);
    struct store_grant g;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    LIST_ROWS(read_grant, g, each, "listing grants");
    return r;
}

static int sq_idem_get(struct store_conn *sc, int64_t party_id,
                       const char *key, struct arena *a,
                       struct store_idem *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_IDEM_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, party_id);
    bind_str(&b, key);
    GET_ROW(read_idem, out, "reading an idempotency record",
            "idempotency key '%s' of party %lld not found",
            or_empty(key), (long long)party_id);
    return r;
}

static int sq_idem_put(struct store_conn *sc, const struct store_idem *d,
                       struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_IDEM_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, d->party_id);
    bind_str(&b, d->key);
    bind_blob(&b, d->req_hash, (int)sizeof d->req_hash);
    bind_i64(&b, d->status);
    bind_str(&b, d->response);
    bind_i64(&b, d->created_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "idempotency key '%s' of party %lld",
                     or_empty(d->key), (long long)d->party_id);
    stmt_done(st);
    return r;
}

static int sq_idem_expire(struct store_conn *sc, int64_t before, int limit,
                          int64_t *deleted, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_IDEM_EXPIRE, err);
    struct bind b;
    int rc, r = STORE_OK;

    *deleted = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, before);
    bind_i64(&b, limit_of(limit));
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "expiring idempotency records");
    else
        *deleted = sqlite3_changes(c->db);
    stmt_done(st);
    return r;
}

/* ---- certifications and recalls -------------------------------------- */

static int read_cert(sqlite3_stmt *st, struct arena *a, struct store_cert *k,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->model_row = row_i64(&r);
    k->unit_id = row_i64(&r);
    k->scheme = row_str(&r);
    k->tier = row_str(&r);
    k->scenarios = row_str(&r);
    k->conditions = row_str(&r);
    k->limits = row_str(&r);
    k->valid_from = row_i64(&r);
    k->valid_until = row_i64(&r);
    k->issuer_id = row_i64(&r);
    k->created_at = row_i64(&r);
    k->revoked_at = row_i64(&r);
    return r.oom ? oom(err, "a certification") : STORE_OK;
}

static int read_recall(sqlite3_stmt *st, struct arena *a,
                       struct store_recall *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->enterprise_id = row_i64(&r);
    k->created_by = row_i64(&r);
    k->ordered = row_i64(&r) != 0;
    k->defect = row_str(&r);
    k->hazard = row_str(&r);
    k->remedy = row_str(&r);
    k->target = row_str(&r);
    k->status = row_str(&r);
    k->created_at = row_i64(&r);
    k->closed_at = row_i64(&r);
    k->notify_after = row_i64(&r);
    return r.oom ? oom(err, "a recall") : STORE_OK;
}

static int read_recall_unit(sqlite3_stmt *st, struct arena *a,
                            struct store_recall_unit *k,
                            struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->recall_id = row_i64(&r);
    k->unit_id = row_i64(&r);
    row_fixed(&r, k->code, sizeof k->code);
    k->state = row_str(&r);
    k->notified_seq = row_i64(&r);
    k->remedied_seq = row_i64(&r);
    k->remedied_at = row_i64(&r);
    return r.oom ? oom(err, "a recall's unit") : STORE_OK;
}

static int sq_cert_insert(struct store_conn *sc, struct store_cert *k,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CERT_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_id(&b, k->model_row);
    bind_id(&b, k->unit_id);
    bind_str(&b, k->scheme);
    bind_str(&b, k->tier);
    bind_str(&b, k->scenarios);
    bind_str(&b, k->conditions);
    bind_str(&b, k->limits);
    bind_i64(&b, k->valid_from);
    bind_i64(&b, k->valid_until);
    bind_id(&b, k->issuer_id);
    bind_i64(&b, k->created_at);
    bind_i64(&b, k->revoked_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "certification '%s'", or_empty(k->scheme));
    else
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_cert_get(struct store_conn *sc, int64_t id, struct arena *a,
                       struct store_cert *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CERT_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    GET_ROW(read_cert, out, "reading a certification",
            "certification %lld not found", (long long)id);
    return r;
}

static int sq_cert_revoke(struct store_conn *sc, int64_t id, int64_t at,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CERT_REVOKE, err);
    struct bind b;
    int rc, r = STORE_OK, ex;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    bind_i64(&b, at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "certification %lld", (long long)id);
    stmt_done(st);
    if (r == STORE_OK && sqlite3_changes(c->db) == 0) {
        ex = row_exists(c, ST_CERT_EXISTS, id, err);
        if (ex < 0)
            r = STORE_EIO;
        else if (ex == 0)
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                             "certification %lld not found", (long long)id);
    }
    return r;
}

static int sq_cert_list(struct store_conn *sc, int64_t model_row,
                        int64_t unit_id, struct arena *a,
                        store_each_cert_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_CERT_LIST, err);
    struct store_cert k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, model_row);
    bind_i64(&b, unit_id);
    LIST_ROWS(read_cert, k, each, "listing certifications");
    return r;
}

static int sq_recall_insert(struct store_conn *sc, struct store_recall *k,
                            struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RECALL_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, k->enterprise_id);
    bind_id(&b, k->created_by);
    bind_i64(&b, k->ordered ? 1 : 0);
    bind_str(&b, k->defect);
    bind_str(&b, k->hazard);
    bind_str(&b, k->remedy);
    bind_str(&b, k->target);
    bind_str(&b, k->status);
    bind_i64(&b, k->created_at);
    bind_i64(&b, k->closed_at);
    bind_i64(&b, k->notify_after);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "recall");
    else
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_recall_get(struct store_conn *sc, int64_t id, struct arena *a,
                         struct store_recall *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RECALL_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    GET_ROW(read_recall, out, "reading a recall", "recall %lld not found",
            (long long)id);
    return r;
}

/* Runs statement id on (a, b), a recall's or a recall unit's key or a
 * recall and a value, and the nv values v, which changes one row or none
 * (*changed, when not NULL). */
static int recall_set(struct sq_conn *c, enum stmt_id id, int64_t a,
                      int64_t b, const int64_t *v, int nv, int64_t *changed,
                      struct hrid_err *err)
{
    sqlite3_stmt *st = stmt_get(c, id, err);
    struct bind bd;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&bd, st);
    bind_i64(&bd, a);
    bind_i64(&bd, b);
    for (int i = 0; i < nv; i++)
        bind_i64(&bd, v[i]);
    rc = bind_step(&bd);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "recall %lld", (long long)a);
    else if (changed != NULL)
        *changed = sqlite3_changes(c->db);
    stmt_done(st);
    return r;
}

static int sq_recall_close(struct store_conn *sc, int64_t id, int64_t at,
                           struct hrid_err *err)
{
    return recall_set(sqc(sc), ST_RECALL_CLOSE, id, at, NULL, 0, NULL, err);
}

static int sq_recall_set_notify(struct store_conn *sc, int64_t id,
                                int64_t after, struct hrid_err *err)
{
    return recall_set(sqc(sc), ST_RECALL_SET_NOTIFY, id, after, NULL, 0,
                      NULL, err);
}

/* Adds to recall id's counts of units, of those remedied and of those
 * owed a notice. */
static int recall_tally(struct sq_conn *c, int64_t id, int64_t affected,
                        int64_t remedied, int64_t owed, struct hrid_err *err)
{
    int64_t v[2] = {remedied, owed};

    return recall_set(c, ST_RECALL_TALLY, id, affected, v, 2, NULL, err);
}

/* The row of a unit in a recall changed by statement id, then the
 * recall's counts when it did change. */
static int ru_change(struct sq_conn *c, enum stmt_id id, int64_t recall_id,
                     int64_t unit_id, const int64_t *v, int nv,
                     int64_t affected, int64_t remedied, int64_t owed,
                     struct hrid_err *err)
{
    int64_t n = 0;
    int r = recall_set(c, id, recall_id, unit_id, v, nv, &n, err);

    if (r == STORE_OK && n > 0)
        r = recall_tally(c, recall_id, affected, remedied, owed, err);
    return r;
}

static int sq_recall_unit_notified(struct store_conn *sc, int64_t recall_id,
                                   int64_t unit_id, int64_t seq,
                                   struct hrid_err *err)
{
    return ru_change(sqc(sc), ST_RU_NOTIFIED, recall_id, unit_id, &seq, 1, 0,
                     0, -1, err);
}

static int sq_recall_unit_drop(struct store_conn *sc, int64_t recall_id,
                               int64_t unit_id, struct hrid_err *err)
{
    return ru_change(sqc(sc), ST_RU_DROP, recall_id, unit_id, NULL, 0, -1, 0,
                     -1, err);
}

static int sq_recall_unit_remedied(struct store_conn *sc, int64_t recall_id,
                                   int64_t unit_id, int64_t seq, int64_t at,
                                   struct hrid_err *err)
{
    int64_t v[2] = {seq, at};

    return ru_change(sqc(sc), ST_RU_REMEDIED, recall_id, unit_id, v, 2, 0, 1,
                     0, err);
}

static int sq_recall_reach(struct store_conn *sc, int64_t recall_id,
                           const struct store_recall_target *t,
                           int64_t model_row, int64_t *added,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    const struct store_comp_match *m = t->part;
    bool lots = m != NULL && m->lot_from != NULL;   /* and lot_to: store.c */
    sqlite3_stmt *st = stmt_get(c, m == NULL ? (model_row ? ST_REACH_MODEL
                                                          : ST_REACH_ENT)
                                   : lots ? ST_REACH_LOTS : ST_REACH_PART,
                                err);
    struct bind b;
    int rc, r = STORE_OK;

    *added = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, recall_id);
    bind_i64(&b, t->enterprise_id);
    bind_str(&b, t->batch_from);
    bind_str(&b, t->batch_to);
    bind_str(&b, t->date_from);
    bind_str(&b, t->date_to);
    bind_i64(&b, model_row);
    if (m != NULL) {
        bind_str(&b, m->part_no);
        bind_str(&b, m->supplier);
        bind_i64(&b, m->current_only);
        if (lots) {
            bind_str(&b, m->lot_from);
            bind_str(&b, m->lot_to);
        }
    }
    rc = bind_step(&b);
    if (rc == SQLITE_DONE)
        *added = sqlite3_changes(c->db);
    else
        r = sq_error(c, rc, err, "the units of recall %lld",
                     (long long)recall_id);
    stmt_done(st);
    if (r == STORE_OK && *added > 0)
        r = recall_tally(c, recall_id, *added, 0, *added, err);
    return r;
}

static int sq_recall_notifying(struct store_conn *sc, struct arena *a,
                               struct store_recall *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RECALL_NOTIFYING, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    GET_ROW(read_recall, out, "finding a recall owing notices",
            "no recall owes notices");
    return r;
}

static int sq_recall_unit_list(struct store_conn *sc, int64_t recall_id,
                               int64_t unit_id, const char *state,
                               int64_t after, int limit, struct arena *a,
                               store_each_recall_unit_fn each, void *ctx,
                               struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, recall_id != 0 ? ST_RU_LIST
                                                  : ST_RU_LIST_UNIT, err);
    struct store_recall_unit k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, recall_id != 0 ? recall_id : unit_id);
    bind_str(&b, state);
    bind_i64(&b, after);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_recall_unit, k, each, "listing a recall's units");
    return r;
}

static int sq_recall_counts(struct store_conn *sc, int64_t recall_id,
                            int64_t *notified, int64_t *remedied,
                            int64_t *owed, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RU_COUNTS, err);
    struct bind b;
    int rc, r = STORE_OK;

    *notified = *remedied = *owed = 0;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, recall_id);
    rc = bind_step(&b);
    if (rc == SQLITE_ROW) {
        *notified = sqlite3_column_int64(st, 0);
        *remedied = sqlite3_column_int64(st, 1);
        *owed = sqlite3_column_int64(st, 2);
    } else {
        r = sq_error(c, rc, err, "counting recall %lld", (long long)recall_id);
    }
    stmt_done(st);
    return r;
}

static int sq_snapshot_put(struct store_conn *sc, int64_t unit_id,
                           int64_t seq, int64_t at, const char *state,
                           struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_SNAP_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    bind_i64(&b, seq);
    bind_i64(&b, at);
    bind_str(&b, state);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "snapshot of unit %lld", (long long)unit_id);
    stmt_done(st);
    return r;
}

static int sq_snapshot_before(struct store_conn *sc, int64_t unit_id,
                              int64_t t, struct arena *a, int64_t *seq,
                              int64_t *at, const char **state,
                              struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_SNAP_BEFORE, err);
    struct bind b;
    struct row rw;
    int rc, r = STORE_OK;

    *seq = *at = 0;
    *state = NULL;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    bind_i64(&b, t);
    rc = bind_step(&b);
    if (rc == SQLITE_ROW) {
        row_init(&rw, st, a);
        *seq = row_i64(&rw);
        *at = row_i64(&rw);
        *state = row_str(&rw);
        if (rw.oom)
            r = oom(err, "a snapshot");
    } else if (rc == SQLITE_DONE) {
        r = STORE_NOTFOUND;
    } else {
        r = sq_error(c, rc, err, "snapshot of unit %lld", (long long)unit_id);
    }
    stmt_done(st);
    return r;
}

static int read_incident(sqlite3_stmt *st, struct arena *a,
                         struct store_incident *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->unit_id = row_i64(&r);
    row_fixed(&r, k->code, sizeof k->code);
    k->model_row = row_i64(&r);
    k->enterprise_id = row_i64(&r);
    k->at = row_i64(&r);
    k->recorded_at = row_i64(&r);
    k->severity = row_str(&r);
    k->kind = row_str(&r);
    k->place = row_str(&r);
    k->description = row_str(&r);
    k->reporter_id = row_i64(&r);
    k->verified = row_i64(&r) != 0;
    k->contact = row_str(&r);
    k->event_seq = row_i64(&r);
    k->snapshot = row_str(&r);
    return r.oom ? oom(err, "an incident") : STORE_OK;
}

static int sq_incident_insert(struct store_conn *sc, struct store_incident *k,
                              struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_INCIDENT_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, k->unit_id);
    bind_str(&b, k->code);
    bind_i64(&b, k->model_row);
    bind_i64(&b, k->enterprise_id);
    bind_i64(&b, k->at);
    bind_i64(&b, k->recorded_at);
    bind_str(&b, k->severity);
    bind_str(&b, k->kind);
    bind_str(&b, k->place);
    bind_str(&b, k->description);
    bind_id(&b, k->reporter_id);
    bind_i64(&b, k->verified ? 1 : 0);
    bind_str(&b, k->contact);
    bind_i64(&b, k->event_seq);
    bind_str(&b, k->snapshot);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "incident on unit '%s'", k->code);
    else
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_incident_list(struct store_conn *sc,
                            const struct store_incident_filter *f,
                            struct arena *a, store_each_incident_fn each,
                            void *ctx, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_INCIDENT_LIST, err);
    struct store_incident k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, f->after_id);
    bind_i64(&b, f->unit_id);
    bind_i64(&b, f->model_row);
    bind_i64(&b, f->enterprise_id);
    bind_i64(&b, f->verified);
    bind_i64(&b, limit_of(f->limit));
    LIST_ROWS(read_incident, k, each, "listing incidents");
    return r;
}

static int read_stat(sqlite3_stmt *st, struct arena *a, struct store_stat *k,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->enterprise_id = row_i64(&r);
    k->model_row = row_i64(&r);
    k->k1 = row_str(&r);
    k->k2 = row_str(&r);
    k->n1 = row_i64(&r);
    k->n2 = row_i64(&r);
    return r.oom ? oom(err, "a statistic") : STORE_OK;
}

static int sq_stats(struct store_conn *sc, int what, int64_t enterprise_id,
                    struct arena *a, store_each_stat_fn each, void *ctx,
                    struct hrid_err *err)
{
    static const enum stmt_id ids[] = {
        [STORE_STATS_UNITS] = ST_STATS_UNITS,
        [STORE_STATS_MONTHS] = ST_STATS_MONTHS,
        [STORE_STATS_INCIDENTS] = ST_STATS_INCIDENTS,
        [STORE_STATS_RECALLS] = ST_STATS_RECALLS,
        [STORE_STATS_ALERTS] = ST_STATS_ALERTS,
    };
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st;
    struct store_stat k;
    struct bind b;
    int rc, r;

    if (what < STORE_STATS_UNITS || what > STORE_STATS_ALERTS)
        return hrid_err_set(err, STORE_EIO, 0, 0, "no statistics %d", what);
    if ((st = stmt_get(c, ids[what], err)) == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, enterprise_id);
    LIST_ROWS(read_stat, k, each, "reading statistics");
    return r;
}

static int sq_tel_put(struct store_conn *sc, int kind,
                      const struct store_tel *t, bool replace, bool *inserted,
                      struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, replace ? ST_TEL_REPLACE : ST_TEL_INSERT,
                                err);
    struct bind b;
    int rc, r = STORE_OK;

    if (inserted != NULL)
        *inserted = false;
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, kind);
    bind_i64(&b, t->unit_id);
    bind_i64(&b, t->a);
    bind_i64(&b, t->b);
    bind_blob(&b, t->data, (int)t->len);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "telemetry of unit %lld",
                     (long long)t->unit_id);
    else if (inserted != NULL)
        *inserted = sqlite3_changes(c->db) > 0;
    stmt_done(st);
    return r;
}

static int read_tel(sqlite3_stmt *st, struct arena *a, struct store_tel *t,
                    struct hrid_err *err)
{
    const void *p;

    (void)a;
    (void)err;
    t->unit_id = sqlite3_column_int64(st, 0);
    t->a = sqlite3_column_int64(st, 1);
    t->b = sqlite3_column_int64(st, 2);
    p = sqlite3_column_blob(st, 3);
    t->len = (size_t)sqlite3_column_bytes(st, 3);
    /* Read in place: valid until the callback returns. */
    t->data = p != NULL ? p : "";
    return STORE_OK;
}

static int sq_tel_range(struct store_conn *sc, int kind, int64_t unit_id,
                        int64_t ma, int64_t b_from, int64_t b_to,
                        struct arena *a, store_each_tel_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ma < 0 ? ST_TEL_RANGE_ANY : ST_TEL_RANGE,
                                err);
    struct store_tel t;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, kind);
    bind_i64(&b, unit_id);
    bind_i64(&b, ma);
    bind_i64(&b, b_from);
    bind_i64(&b, b_to);
    LIST_ROWS(read_tel, t, each, "reading telemetry");
    return r;
}

static int read_tel_unit(sqlite3_stmt *st, struct arena *a,
                         struct store_tel *t, struct hrid_err *err)
{
    (void)a;
    (void)err;
    memset(t, 0, sizeof *t);
    t->unit_id = sqlite3_column_int64(st, 0);
    return STORE_OK;
}

static int sq_tel_units(struct store_conn *sc, int kind, int64_t b_before,
                        int64_t after, int limit, store_each_tel_fn each,
                        void *ctx, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_TEL_UNITS, err);
    struct arena *a = NULL;
    struct store_tel t;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, kind);
    bind_i64(&b, b_before);
    bind_i64(&b, after);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_tel_unit, t, each, "listing telemetry units");
    return r;
}

static int sq_tel_delete(struct store_conn *sc, int kind, int64_t unit_id,
                         int64_t b_from, int64_t b_to, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_TEL_DELETE, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, kind);
    bind_i64(&b, unit_id);
    bind_i64(&b, b_from);
    bind_i64(&b, b_to);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "telemetry of unit %lld", (long long)unit_id);
    stmt_done(st);
    return r;
}

static int read_rule(sqlite3_stmt *st, struct arena *a,
                     struct store_alert_rule *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->enterprise_id = row_i64(&r);
    k->model_row = row_i64(&r);
    k->metric = row_str(&r);
    k->op = row_str(&r);
    k->threshold = sqlite3_column_double(st, r.col++);
    k->for_ms = row_i64(&r);
    k->created_by = row_i64(&r);
    k->created_at = row_i64(&r);
    return r.oom ? oom(err, "an alert rule") : STORE_OK;
}

static int read_alert(sqlite3_stmt *st, struct arena *a,
                      struct store_alert *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->rule_id = row_i64(&r);
    k->unit_id = row_i64(&r);
    row_fixed(&r, k->code, sizeof k->code);
    k->model_row = row_i64(&r);
    k->enterprise_id = row_i64(&r);
    k->metric = row_int(&r);
    k->state = row_str(&r);
    k->since = row_i64(&r);
    k->opened_at = row_i64(&r);
    k->cleared_at = row_i64(&r);
    k->value = sqlite3_column_double(st, r.col++);
    return r.oom ? oom(err, "an alert") : STORE_OK;
}

static int sq_rule_insert(struct store_conn *sc, struct store_alert_rule *k,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RULE_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, k->enterprise_id);
    bind_i64(&b, k->model_row);
    bind_str(&b, k->metric);
    bind_str(&b, k->op);
    bind_keep(&b, sqlite3_bind_double(st, ++b.i, k->threshold));
    bind_i64(&b, k->for_ms);
    bind_id(&b, k->created_by);
    bind_i64(&b, k->created_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "alert rule on '%s'", or_empty(k->metric));
    else
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_rule_list(struct store_conn *sc, int64_t enterprise_id,
                        int64_t model_row, struct arena *a,
                        store_each_rule_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RULE_LIST, err);
    struct store_alert_rule k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, enterprise_id);
    bind_i64(&b, model_row);
    LIST_ROWS(read_rule, k, each, "listing alert rules");
    return r;
}

static int sq_rule_list_metric(struct store_conn *sc, const char *metric,
                               int64_t after_id, int limit, struct arena *a,
                               store_each_rule_fn each, void *ctx,
                               struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_RULE_LIST_METRIC, err);
    struct store_alert_rule k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, metric);
    bind_i64(&b, after_id);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_rule, k, each, "listing alert rules");
    return r;
}

static int sq_seen_put(struct store_conn *sc, const struct store_seen *s,
                       struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_SEEN_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, s->unit_id);
    bind_i64(&b, s->enterprise_id);
    bind_i64(&b, s->model_row);
    bind_i64(&b, s->t);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "last report of unit %lld",
                     (long long)s->unit_id);
    stmt_done(st);
    return r;
}

static int read_seen(sqlite3_stmt *st, struct arena *a, struct store_seen *s,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    s->unit_id = row_i64(&r);
    row_fixed(&r, s->code, sizeof s->code);
    s->enterprise_id = row_i64(&r);
    s->model_row = row_i64(&r);
    s->t = row_i64(&r);
    return r.oom ? oom(err, "a unit's last report") : STORE_OK;
}

static int sq_seen_silent(struct store_conn *sc, int64_t enterprise_id,
                          int64_t model_row, const char *state,
                          int64_t before, int64_t rule_id, int metric,
                          int64_t after_unit, int limit,
                          store_each_seen_fn each, void *ctx,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_SEEN_SILENT, err);
    struct arena *a = NULL;
    struct store_seen s;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, enterprise_id);
    bind_i64(&b, model_row);
    bind_str(&b, state);
    bind_i64(&b, before);
    bind_i64(&b, rule_id);
    bind_i64(&b, metric);
    bind_i64(&b, after_unit);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_seen, s, each, "listing silent units");
    return r;
}

static int sq_alert_find(struct store_conn *sc, int64_t rule_id,
                         int64_t unit_id, int metric, struct arena *a,
                         struct store_alert *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_ALERT_FIND, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, rule_id);
    bind_i64(&b, unit_id);
    bind_i64(&b, metric);
    GET_ROW(read_alert, out, "reading an alert", "no live alert");
    return r;
}

static int sq_alert_put(struct store_conn *sc, struct store_alert *k,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, k->id ? ST_ALERT_UPDATE : ST_ALERT_INSERT,
                                err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    if (k->id != 0) {
        bind_i64(&b, k->id);
        bind_str(&b, k->state);
        bind_i64(&b, k->since);
        bind_i64(&b, k->opened_at);
        bind_i64(&b, k->cleared_at);
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, k->value));
    } else {
        bind_i64(&b, k->rule_id);
        bind_i64(&b, k->unit_id);
        bind_str(&b, k->code);
        bind_i64(&b, k->model_row);
        bind_i64(&b, k->enterprise_id);
        bind_i64(&b, k->metric);
        bind_str(&b, k->state);
        bind_i64(&b, k->since);
        bind_i64(&b, k->opened_at);
        bind_i64(&b, k->cleared_at);
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, k->value));
    }
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "alert on unit '%s'", k->code);
    else if (k->id == 0)
        k->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_alert_list(struct store_conn *sc,
                         const struct store_alert_filter *f, struct arena *a,
                         store_each_alert_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_ALERT_LIST, err);
    struct store_alert k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, f->after_id);
    bind_i64(&b, f->unit_id);
    bind_i64(&b, f->model_row);
    bind_i64(&b, f->enterprise_id);
    bind_str(&b, f->state);
    bind_i64(&b, limit_of(f->limit));
    LIST_ROWS(read_alert, k, each, "listing alerts");
    return r;
}

static int read_zone(sqlite3_stmt *st, struct arena *a, struct store_zone *k,
                     struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->name = row_str(&r);
    k->polygon = row_str(&r);
    k->created_by = row_i64(&r);
    k->created_at = row_i64(&r);
    return r.oom ? oom(err, "a zone") : STORE_OK;
}

static int read_fence(sqlite3_stmt *st, struct arena *a,
                      struct store_fence *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->unit_id = row_i64(&r);
    k->zones = row_str(&r);
    k->scenarios = row_str(&r);
    k->speed_limit = sqlite3_column_double(st, r.col++);
    k->set_by = row_i64(&r);
    k->set_at = row_i64(&r);
    return r.oom ? oom(err, "a fence") : STORE_OK;
}

static int read_violation(sqlite3_stmt *st, struct arena *a,
                          struct store_violation *k, struct hrid_err *err)
{
    struct row r;

    row_init(&r, st, a);
    k->id = row_i64(&r);
    k->unit_id = row_i64(&r);
    row_fixed(&r, k->code, sizeof k->code);
    k->enterprise_id = row_i64(&r);
    k->state = row_str(&r);
    k->first_t = row_i64(&r);
    k->last_t = row_i64(&r);
    k->lat = sqlite3_column_double(st, r.col++);
    k->lon = sqlite3_column_double(st, r.col++);
    k->closed_at = row_i64(&r);
    return r.oom ? oom(err, "a violation") : STORE_OK;
}

static int sq_zone_insert(struct store_conn *sc, struct store_zone *z,
                          struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_ZONE_INSERT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_str(&b, z->name);
    bind_str(&b, z->polygon);
    bind_id(&b, z->created_by);
    bind_i64(&b, z->created_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "zone '%s'", or_empty(z->name));
    else
        z->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_zone_get(struct store_conn *sc, int64_t id, struct arena *a,
                       struct store_zone *out, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_ZONE_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, id);
    GET_ROW(read_zone, out, "reading a zone", "zone %lld not found",
            (long long)id);
    return r;
}

static int sq_fence_put(struct store_conn *sc, const struct store_fence *f,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_FENCE_PUT, err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, f->unit_id);
    bind_str(&b, f->zones);
    bind_str(&b, f->scenarios);
    bind_keep(&b, sqlite3_bind_double(st, ++b.i, f->speed_limit));
    bind_id(&b, f->set_by);
    bind_i64(&b, f->set_at);
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "fence of unit %lld", (long long)f->unit_id);
    stmt_done(st);
    return r;
}

static int sq_fence_get(struct store_conn *sc, int64_t unit_id,
                        struct arena *a, struct store_fence *out,
                        struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_FENCE_GET, err);
    struct bind b;
    int rc, r;

    memset(out, 0, sizeof *out);
    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    GET_ROW(read_fence, out, "reading a fence", "no fence for unit %lld",
            (long long)unit_id);
    return r;
}

static int sq_violation_put(struct store_conn *sc, struct store_violation *v,
                            struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, v->id ? ST_VIOL_UPDATE : ST_VIOL_INSERT,
                                err);
    struct bind b;
    int rc, r = STORE_OK;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    if (v->id != 0) {
        bind_i64(&b, v->id);
        bind_str(&b, v->state);
        bind_i64(&b, v->last_t);
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, v->lat));
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, v->lon));
        bind_i64(&b, v->closed_at);
    } else {
        bind_i64(&b, v->unit_id);
        bind_str(&b, v->code);
        bind_i64(&b, v->enterprise_id);
        bind_str(&b, v->state);
        bind_i64(&b, v->first_t);
        bind_i64(&b, v->last_t);
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, v->lat));
        bind_keep(&b, sqlite3_bind_double(st, ++b.i, v->lon));
        bind_i64(&b, v->closed_at);
    }
    rc = bind_step(&b);
    if (rc != SQLITE_DONE)
        r = sq_error(c, rc, err, "fence violation of unit '%s'", v->code);
    else if (v->id == 0)
        v->id = sqlite3_last_insert_rowid(c->db);
    stmt_done(st);
    return r;
}

static int sq_violation_list(struct store_conn *sc, int64_t unit_id,
                             const char *state, int64_t after, int limit,
                             struct arena *a, store_each_violation_fn each,
                             void *ctx, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    sqlite3_stmt *st = stmt_get(c, ST_VIOL_LIST, err);
    struct store_violation k;
    struct bind b;
    int rc, r;

    if (st == NULL)
        return STORE_EIO;
    bind_init(&b, st);
    bind_i64(&b, unit_id);
    bind_str(&b, state);
    bind_i64(&b, after);
    bind_i64(&b, limit_of(limit));
    LIST_ROWS(read_violation, k, each, "listing fence violations");
    return r;
}

/* ---- connections ------------------------------------------------------- */

static void conn_free(struct sq_conn *c)
{
    if (c == NULL)
        return;
    stat_drop(c);
    free(c->moves);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Runs fixed SQL text (pragmas, migrations) with sqlite3_exec. */
static int exec_sql(struct sq_conn *c, const char *sql, const char *what,
                    struct hrid_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        hrid_err_set(err, STORE_EIO, 0, 0, "%s: %s", what,
                     msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return STORE_EIO;
    }
    return STORE_OK;
}

/* Switches the file to write-ahead logging, which is what lets readers
 * run beside the writer; a file system that cannot do it is an error
 * rather than a silent fall back to a rollback journal. */
static int set_wal(struct sq_conn *c, const char *path, struct hrid_err *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int rc, r = STORE_OK;

    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st,
                            NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot set up database '%s': %s", path,
                         sqlite3_errmsg(c->db));
    } else {
        mode = sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
            r = hrid_err_set(err, STORE_EIO, 0, 0,
                             "database '%s' cannot use write-ahead logging "
                             "(journal mode stays '%s')", path,
                             mode ? (const char *)mode : "");
    }
    sqlite3_finalize(st);
    return r;
}

/* Replaces SQLite's automatic checkpoint on the writer's connection (see
 * CHECKPOINT_PAGES): only notes how long the WAL has grown. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq_conn *c = arg;

    (void)db;
    (void)name;
    c->wal_pages = pages;
    return SQLITE_OK;
}

enum conn_kind {
    CONN_READER,                /* read-only: a write outside store_write
                                   fails instead of racing the writer */
    CONN_WRITER,                /* read-write, creates the file */
    CONN_CHECKPOINTER           /* read-write, copies the WAL back */
};

/* Opens a connection of one of the kinds above. */
static struct sq_conn *conn_open(struct sq_store *s, enum conn_kind kind,
                                 struct hrid_err *err)
{
    bool writer = kind == CONN_WRITER;
    static const char PRAGMAS[] =
        "PRAGMA foreign_keys = ON;"
        "PRAGMA mmap_size = " MMAP_SIZE ";";
    /* temp_store stays FILE (the default) on purpose.  Every job runs in
     * a savepoint, so each statement of a large job ends by truncating a
     * statement journal that holds every page the job touched; held in
     * memory (temp_store = MEMORY) that truncation walks the journal's
     * chunk list from the start, and a 10,000-unit registration became
     * quadratic (under 1,000 units/s).  In a file it is one ftruncate. */
    struct sq_conn *c = calloc(1, sizeof *c);
    int flags = SQLITE_OPEN_NOMUTEX |
                (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                 : kind == CONN_CHECKPOINTER ? SQLITE_OPEN_READWRITE
                                             : SQLITE_OPEN_READONLY);
    int rc;

    if (c == NULL) {
        hrid_err_set(err, STORE_EIO, 0, 0, "out of memory opening '%s'",
                     s->path);
        return NULL;
    }
    c->base.store = &s->base;
    c->writer = writer;
    rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        hrid_err_set(err, STORE_EIO, 0, 0, "cannot open database '%s': %s",
                     s->path, c->db ? sqlite3_errmsg(c->db)
                                    : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, s->busy_ms);
    if (exec_sql(c, PRAGMAS, "cannot set up connection", err) != STORE_OK ||
        (s->read_only &&
         exec_sql(c, "PRAGMA mmap_size = " MMAP_SIZE_RO,
                  "cannot set up connection", err) != STORE_OK) ||
        exec_sql(c, writer ? "PRAGMA cache_size = " WRITER_CACHE_KIB
                           : "PRAGMA cache_size = " READER_CACHE_KIB,
                 "cannot set up connection", err) != STORE_OK)
        goto fail;
    if (kind != CONN_READER) {
        /* FULL: the WAL is synced at every commit, so an acknowledged
         * write survives power loss.  NORMAL syncs only at checkpoints:
         * faster, but the last commits can be lost.  Either way a
         * checkpoint syncs the database file before the WAL is reused. */
        if (exec_sql(c, s->sync_full ? "PRAGMA synchronous = FULL"
                                     : "PRAGMA synchronous = NORMAL",
                     "cannot set up connection", err) != STORE_OK ||
            exec_sql(c, "PRAGMA journal_size_limit = " JOURNAL_SIZE_LIMIT,
                     "cannot set up connection", err) != STORE_OK)
            goto fail;
    }
    if (writer) {
        if (set_wal(c, s->path, err) != STORE_OK)
            goto fail;
        sqlite3_wal_hook(c->db, wal_hook, c);
    }
    return c;

fail:
    conn_free(c);
    return NULL;
}

/* A reader's connection, for store/readers.c. */
static struct store_conn *reader_open(struct store *st, struct hrid_err *err)
{
    struct sq_conn *c = conn_open(sqs(st), CONN_READER, err);

    return c != NULL ? &c->base : NULL;
}

static void reader_free(struct store_conn *c)
{
    conn_free(sqc(c));
}

/* Inside a write function the writer's transaction already gives one
 * consistent view (and BEGIN would fail), so read_begin is a no-op there;
 * nested read_begin/read_end pairs share the outermost transaction. */
static int sq_read_begin(struct store_conn *sc, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);
    char msg[HRID_ERR_MSG_MAX];

    if (c->writer || c->read_depth++ > 0)
        return STORE_OK;
    if (run_simple(c, ST_BEGIN, msg, sizeof msg) != SQLITE_DONE) {
        c->read_depth = 0;
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "cannot begin a read transaction: %s", msg);
    }
    return STORE_OK;
}

static void sq_read_end(struct store_conn *sc)
{
    struct sq_conn *c = sqc(sc);
    char msg[HRID_ERR_MSG_MAX];

    if (c->writer || c->read_depth == 0 || --c->read_depth > 0)
        return;
    /* A read transaction has nothing to lose: if COMMIT fails, ROLLBACK
     * still ends it and releases the snapshot. */
    if (run_simple(c, ST_COMMIT, msg, sizeof msg) != SQLITE_DONE &&
        !sqlite3_get_autocommit(c->db))
        run_simple(c, ST_ROLLBACK, msg, sizeof msg);
}

/* ---- the writer -------------------------------------------------------- */

/* The writer's transaction steps (store/writer.h). */
static int sq_step(struct store_conn *sc, enum store_tx what, char *msg,
                   size_t cap)
{
    static const enum stmt_id ids[] = {
        [STORE_TX_BEGIN] = ST_BEGIN_IMMEDIATE,
        [STORE_TX_SAVEPOINT] = ST_SAVEPOINT,
        [STORE_TX_RELEASE] = ST_RELEASE,
        [STORE_TX_ROLLBACK_TO] = ST_ROLLBACK_TO,
        [STORE_TX_COMMIT] = ST_COMMIT,
        [STORE_TX_ROLLBACK] = ST_ROLLBACK,
    };
    struct sq_conn *c = sqc(sc);

    /* SQLite may have rolled the transaction back itself already. */
    if (what == STORE_TX_ROLLBACK && sqlite3_get_autocommit(c->db))
        return 0;
    return run_simple(c, ids[what], msg, cap) == SQLITE_DONE ? 0 : -1;
}

/* Whether SQLite rolled the whole transaction back under a job. */
static bool sq_lost(struct store_conn *sc, char *msg, size_t cap)
{
    struct sq_conn *c = sqc(sc);

    if (!sqlite3_get_autocommit(c->db))
        return false;
    snprintf(msg, cap, "%s", sqlite3_errmsg(c->db));
    return true;
}

/*
 * After a batch.  Each CHECKPOINT_PAGES the WAL grows, the checkpointer is
 * asked to copy it back, which it does while the writer goes on.  But the
 * WAL starts over from its beginning only when a write transaction begins
 * with every frame copied, which under steady load a checkpoint running
 * beside the writer never leaves behind.  So once the WAL is
 * CHECKPOINT_PAGES * 4 long, the writer copies the few frames that are
 * left itself, between batches (as SQLite's own automatic checkpoint
 * would), and the next transaction starts the WAL over.
 */
static void sq_after(struct store_conn *sc)
{
    struct sq_conn *c = sqc(sc);
    struct sq_store *s = sqs(sc->store);

    if (c->wal_pages < c->ck_asked)         /* started over */
        c->ck_asked = 0;
    if (c->wal_pages >= c->ck_asked + CHECKPOINT_PAGES) {
        pthread_mutex_lock(&s->ck_mu);
        s->ck_due = true;
        pthread_cond_signal(&s->ck_cv);
        pthread_mutex_unlock(&s->ck_mu);
        c->ck_asked = c->wal_pages;
    }
    if (c->wal_pages >= CHECKPOINT_PAGES * 4)
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
}

/* Passive: never waits for the writer or readers; what their snapshots
 * still need is copied by a later checkpoint.  A failure (a full disk)
 * leaves the frames in the WAL, where readers find them. */
static void *checkpointer_main(void *arg)
{
    struct sq_store *s = arg;

    pthread_mutex_lock(&s->ck_mu);
    for (;;) {
        while (!s->ck_due && !s->ck_stop)
            pthread_cond_wait(&s->ck_cv, &s->ck_mu);
        if (s->ck_stop)
            break;
        s->ck_due = false;
        pthread_mutex_unlock(&s->ck_mu);
        sqlite3_wal_checkpoint_v2(s->ckconn->db, NULL,
                                  SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&s->ck_mu);
    }
    pthread_mutex_unlock(&s->ck_mu);
    return NULL;
}

static int checkpointer_start(struct sq_store *s, struct hrid_err *err)
{
    s->ckconn = conn_open(s, CONN_CHECKPOINTER, err);
    if (s->ckconn == NULL)
        return STORE_EIO;
    if (pthread_create(&s->ck_thread, NULL, checkpointer_main, s) != 0)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "cannot start the checkpoint thread");
    s->ck_started = true;
    return STORE_OK;
}

static void checkpointer_stop(struct sq_store *s)
{
    if (s->ck_started) {
        pthread_mutex_lock(&s->ck_mu);
        s->ck_stop = true;
        pthread_cond_signal(&s->ck_cv);
        pthread_mutex_unlock(&s->ck_mu);
        pthread_join(s->ck_thread, NULL);
        s->ck_started = false;
    }
    conn_free(s->ckconn);
    s->ckconn = NULL;
}

/* The end of a job: the statistics' counts it moved (stat_add), inside
 * its transaction.  When SQLite has already rolled that transaction back
 * (sq_lost), they are dropped: written now, each would commit alone. */
static int sq_finish(struct store_conn *sc, struct hrid_err *err)
{
    struct sq_conn *c = sqc(sc);

    if (sqlite3_get_autocommit(c->db)) {
        stat_drop(c);
        return STORE_OK;
    }
    return stat_flush(c, err);
}

static const struct store_writer_ops sq_writer_ops = {
    sq_step, sq_lost, sq_finish, sq_after
};

static void sq_set_precommit(struct store *st, store_precommit_fn fn,
                             void *arg)
{
    struct sq_store *s = sqs(st);

    if (!s->read_only)
        store_writer_set_precommit(&s->writer, fn, arg);
}

static int sq_write(struct store *st, store_write_fn fn, void *arg,
                    struct hrid_err *err, store_done_fn done, void *done_arg)
{
    struct sq_store *s = sqs(st);

    if (s->read_only)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "database '%s' is open read-only", s->path);
    return store_writer_run(&s->writer, fn, arg, err, done, done_arg);
}

/* ---- open, migrate, close ---------------------------------------------- */

/* Creates the schema or brings it forward, in one transaction: a crash
 * halfway leaves the file as it was. */
static int migrate(struct sq_conn *c, const char *path, struct hrid_err *err)
{
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    int rc, r;

    r = exec_sql(c, "BEGIN IMMEDIATE;"
                    "CREATE TABLE IF NOT EXISTS meta ("
                    "  key   TEXT PRIMARY KEY,"
                    "  value NOT NULL"
                    ") WITHOUT ROWID;",
                 "cannot read the schema version", err);
    if (r != STORE_OK)
        goto out;
    rc = sqlite3_prepare_v2(c->db, "SELECT value FROM meta"
                                   " WHERE key = 'schema_version'",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot read the schema version: %s",
                         sqlite3_errmsg(c->db));
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION || version < 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "database '%s' has schema version %lld, newer than "
                         "the %lld this program knows: upgrade it",
                         path, (long long)version, (long long)SCHEMA_VERSION);
        goto out;
    }
    for (int64_t v = version; v < SCHEMA_VERSION; v++) {
        char what[64];

        snprintf(what, sizeof what, "schema migration %lld failed",
                 (long long)(v + 1));
        r = exec_sql(c, MIGRATIONS[v], what, err);
        if (r != STORE_OK)
            goto out;
    }
    if (version < SCHEMA_VERSION) {
        rc = sqlite3_prepare_v2(c->db, "INSERT INTO meta (key, value)"
                                       " VALUES ('schema_version', ?1)"
                                       " ON CONFLICT (key) DO UPDATE"
                                       " SET value = excluded.value",
                                -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 1, SCHEMA_VERSION);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            r = hrid_err_set(err, STORE_EIO, 0, 0,
                             "cannot record the schema version: %s",
                             sqlite3_errmsg(c->db));
            goto out;
        }
    }
    r = exec_sql(c, "COMMIT", "cannot commit the schema", err);

out:
    sqlite3_finalize(st);
    if (r != STORE_OK && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/*
 * "?mode=ro": the file must exist and be at this program's schema version,
 * since nothing may migrate it.  A reader connection checks that and is
 * kept as the opening thread's.
 */
static int check_read_only(struct sq_store *s, struct hrid_err *err)
{
    struct store_conn *sc = store_readers_get(&s->base, err);
    sqlite3_stmt *st = NULL;
    int64_t version = -1;
    int rc;

    if (sc == NULL)
        return STORE_EIO;
    rc = sqlite3_prepare_v2(sqc(sc)->db, "SELECT value FROM meta"
                                         " WHERE key = 'schema_version'",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (version != SCHEMA_VERSION)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "database '%s' is not an HRID database at schema "
                            "version %lld (found %lld): open it once with "
                            "hridd to migrate it", s->path,
                            (long long)SCHEMA_VERSION, (long long)version);
    return STORE_OK;
}

/* A decimal number of milliseconds up to BUSY_TIMEOUT_MAX. */
static bool parse_ms(const char *p, size_t len, int *out)
{
    long v = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
        if (v > BUSY_TIMEOUT_MAX)
            return false;
    }
    *out = (int)v;
    return true;
}

/*
 * Splits "path?opt=val&..." into the path and the options:
 *   sync=full      (the default) every commit is synced to disk
 *   sync=normal    only checkpoints are: the last commits may be lost on
 *                  power failure, never the file's consistency
 *   busy_timeout=MS how long to wait for a lock another process holds
 *   mode=ro        read only: an existing file at the current schema, no
 *                  writer thread (offline tools: the audit)
 */
static int parse_uri(struct sq_store *s, const char *uri,
                     struct hrid_err *err)
{
    const char *q = strchr(uri, '?');
    size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);

    if (plen == 0)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "store uri '%s' names no file", uri);
    s->path = strndup(uri, plen);
    if (s->path == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
    s->sync_full = true;
    s->busy_ms = BUSY_TIMEOUT_MS;
    while (q != NULL) {
        const char *opt = q + 1;
        size_t len;

        q = strchr(opt, '&');
        len = q != NULL ? (size_t)(q - opt) : strlen(opt);
        if (len == 11 && strncmp(opt, "sync=normal", len) == 0) {
            s->sync_full = false;
        } else if (len == 9 && strncmp(opt, "sync=full", len) == 0) {
            s->sync_full = true;
        } else if (len == 7 && strncmp(opt, "mode=ro", len) == 0) {
            s->read_only = true;
        } else if (len > 13 && strncmp(opt, "busy_timeout=", 13) == 0) {
            if (!parse_ms(opt + 13, len - 13, &s->busy_ms))
                return hrid_err_set(err, STORE_EIO, 0, 0,
                                    "bad option '%.*s' in store uri: "
                                    "milliseconds up to %d expected",
                                    (int)len, opt, BUSY_TIMEOUT_MAX);
        } else if (len != 0) {
            return hrid_err_set(err, STORE_EIO, 0, 0,
                                "bad option '%.*s' in store uri (known: "
                                "sync=full, sync=normal, busy_timeout=MS, "
                                "mode=ro)",
                                (int)len, opt);
        }
    }
    return STORE_OK;
}

static void sq_close(struct store *st)
{
    struct sq_store *s = sqs(st);

    store_writer_stop(&s->writer);
    checkpointer_stop(s);
    store_readers_close(&s->base);
    /* Last, so that closing it checkpoints the WAL into the file. */
    conn_free(s->wconn);
    pthread_cond_destroy(&s->ck_cv);
    pthread_mutex_destroy(&s->ck_mu);
    free(s->path);
    free(s);
}

static int sq_open(const char *uri, struct store **out, struct hrid_err *err)
{
    struct sq_store *s;
    int r;

    *out = NULL;
    /* Connections are shared between threads (one at a time), which needs
     * a thread-safe SQLite build. */
    if (!sqlite3_threadsafe())
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "sqlite was built without thread support");
    /* Nothing reads SQLite's memory statistics, and keeping them takes a
     * global mutex on every allocation of every connection.  Refused
     * (harmlessly) once the library is initialised, by an earlier open. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
    s->base.ops = &store_sqlite_ops;
    pthread_mutex_init(&s->ck_mu, NULL);
    pthread_cond_init(&s->ck_cv, NULL);
    r = parse_uri(s, uri, err);
    if (r != STORE_OK)
        goto fail;
    if (store_readers_init(&s->base, reader_open, reader_free) != 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot create a thread key or lock");
        goto fail;
    }
    if (s->read_only) {
        r = check_read_only(s, err);
        if (r != STORE_OK)
            goto fail;
        *out = &s->base;
        return STORE_OK;
    }
    s->wconn = conn_open(s, CONN_WRITER, err);
    if (s->wconn == NULL) {
        r = STORE_EIO;
        goto fail;
    }
    r = migrate(s->wconn, s->path, err);
    if (r == STORE_OK)
        r = checkpointer_start(s, err);
    if (r != STORE_OK)
        goto fail;
    if (store_writer_start(&s->writer, &sq_writer_ops, &s->wconn->base,
                           s->base.readers.key, WRITE_BATCH_MAX) != 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot start the writer thread");
        goto fail;
    }
    *out = &s->base;
    return STORE_OK;

fail:
    sq_close(&s->base);
    return r;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .conn = store_readers_get,
    .write = sq_write,
    .set_precommit = sq_set_precommit,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .counter_add = sq_counter_add,
    .party_insert = sq_party_insert,
    .party_get = sq_party_get,
    .party_by_ent_code = sq_party_by_ent_code,
    .party_list = sq_party_list,
    .key_insert = sq_key_insert,
    .key_get = sq_key_get,
    .key_revoke = sq_key_revoke,
    .key_list = sq_key_list,
    .model_insert = sq_model_insert,
    .model_get = sq_model_get,
    .model_get_row = sq_model_get_row,
    .model_update = sq_model_update,
    .model_list = sq_model_list,
    .unit_insert = sq_unit_insert,
    .unit_get = sq_unit_get,
    .unit_view_get = sq_unit_view_get,
    .unit_history = sq_unit_history,
    .unit_update = sq_unit_update,
    .unit_list = sq_unit_list,
    .unit_count = sq_unit_count,
    .component_insert = sq_component_insert,
    .component_remove = sq_component_remove,
    .component_list = sq_component_list,
    .event_append = sq_event_append,
    .event_list = sq_event_list,
    .event_scan = sq_event_scan,
    .tile_get = sq_tile_get,
    .tile_put = sq_tile_put,
    .tile_last = sq_tile_last,
    .checkpoint_get = sq_checkpoint_get,
    .checkpoint_put = sq_checkpoint_put,
    .grant_insert = sq_grant_insert,
    .grant_list = sq_grant_list,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_expire = sq_idem_expire,
    .cert_insert = sq_cert_insert,
    .cert_get = sq_cert_get,
    .cert_revoke = sq_cert_revoke,
    .cert_list = sq_cert_list,
    .recall_insert = sq_recall_insert,
    .recall_get = sq_recall_get,
    .recall_close = sq_recall_close,
    .recall_set_notify = sq_recall_set_notify,
    .recall_notifying = sq_recall_notifying,
    .recall_unit_notified = sq_recall_unit_notified,
    .recall_reach = sq_recall_reach,
    .recall_unit_drop = sq_recall_unit_drop,
    .recall_unit_remedied = sq_recall_unit_remedied,
    .recall_unit_list = sq_recall_unit_list,
    .recall_counts = sq_recall_counts,
    .incident_insert = sq_incident_insert,
    .incident_list = sq_incident_list,
    .stats = sq_stats,
    .tel_put = sq_tel_put,
    .tel_range = sq_tel_range,
    .tel_units = sq_tel_units,
    .tel_delete = sq_tel_delete,
    .rule_insert = sq_rule_insert,
    .rule_list = sq_rule_list,
    .alert_find = sq_alert_find,
    .alert_put = sq_alert_put,
    .alert_list = sq_alert_list,
    .rule_list_metric = sq_rule_list_metric,
    .seen_put = sq_seen_put,
    .seen_silent = sq_seen_silent,
    .zone_insert = sq_zone_insert,
    .zone_get = sq_zone_get,
    .fence_put = sq_fence_put,
    .fence_get = sq_fence_get,
    .violation_put = sq_violation_put,
    .violation_list = sq_violation_list,
    .snapshot_put = sq_snapshot_put,
    .snapshot_before = sq_snapshot_before,
};
