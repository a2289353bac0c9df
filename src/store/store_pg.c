/*
 * store/store_pg.c - the PostgreSQL backend of the store (store/store.h):
 * connections, transactions, the schema, the registry and the log.
 * store_pg_more.c has the accountability, telemetry and fence operations.
 *
 * Layer: src/store.  Knows rows and SQL, never the registry's rules.
 *
 * Several hridd processes may share one database (docs/SCALING.md), so
 * nothing here keeps state that another node could change, and the order
 * of writes is decided inside the database:
 *
 *   - Every thread that reads gets its own connection (made on first use,
 *     found through a pthread key).  store_read_begin opens a REPEATABLE
 *     READ transaction on it, so a page or a proof sees one snapshot.
 *   - Writes go through one writer thread with its own connection
 *     (store/writer.h, group commit, as with SQLite): it takes every
 *     queued store_write function, runs BEGIN, takes the log sequencer (a
 *     transaction-scoped advisory lock, SEQUENCER_LOCK), runs each function
 *     in its own savepoint, runs the precommit hook (core appends the new
 *     events to the log's tiles), COMMITs, and only then wakes the callers.
 *     The lock is held until COMMIT, so the write transactions of every
 *     node run one at a time, each seeing the ones before it (READ
 *     COMMITTED takes a new snapshot per statement, after the lock was
 *     granted): the state machine holds across nodes, event sequence
 *     numbers (max + 1 under the lock) are unique and gapless, and the log
 *     is appended in sequence order by whichever node commits.  One turn
 *     of the lock and one commit cover a whole batch of requests.
 *   - A connection the server dropped is opened again before its next
 *     statement outside a transaction; a transaction it was in fails.
 *   - A statement that fails aborts a PostgreSQL transaction, so inserts
 *     that may meet a unique key say ON CONFLICT DO NOTHING and report
 *     STORE_CONFLICT from the empty result instead of from an error: core
 *     may go on after a conflict (the enterprise code allocator does).
 *
 * Status mapping: unique_violation (23505) is STORE_CONFLICT,
 * foreign_key_violation (23503) STORE_NOTFOUND, anything else STORE_EIO
 * with the server's message.
 *
 * The uri is libpq's (postgresql://user@host:port/dbname?...); one option
 * of its own is taken off it before libpq sees it:
 *   mode=ro   read only: no migration, store_write fails (the audit).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_cols.h"
#include "store/store_pg_int.h"
#include "store/writer.h"

/* Jobs per write transaction, as with SQLite: one turn of the sequencer
 * and one commit for up to this many requests. */
#define WRITE_BATCH_MAX 512

/* The key of the advisory lock every write transaction holds: "HRID". */
#define SEQUENCER_LOCK "1213352260"

/* Longest subject quoted in an error message. */
#define SUBJECT_MAX 160

struct pg_store {
    struct store base;          /* first: store.c reaches ops through it */
    char *conninfo;             /* the uri without this backend's options */
    bool read_only;

    struct pg_conn *wconn;      /* the writer thread's */
    struct store_writer writer;
};

static struct pg_store *pgs(struct store *s)
{
    return (struct pg_store *)s;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* ---- schema ------------------------------------------------------------ */

/* The trigger function that keeps the statistics' deltas (see
 * hrid_fold_stats), made by create; released_at is the SQL of a released
 * unit's latest event time (new is its row), whose month counts the
 * release.  The first schema read it from the row, a later migration from
 * the unit's latest event. */
#define STAT_UNITS_COUNT(create, released_at)                               \
    create " FUNCTION stat_units_count() RETURNS trigger"                   \
    "  LANGUAGE plpgsql AS $$ BEGIN"                                        \
    "  IF TG_OP = 'UPDATE' THEN"                                            \
    "    IF old.state IS NOT DISTINCT FROM new.state AND"                   \
    "       old.region IS NOT DISTINCT FROM new.region THEN"                \
    "      RETURN NULL;"                                                    \
    "    END IF;"                                                           \
    "    INSERT INTO stat_units_delta VALUES (old.enterprise_id,"           \
    "      old.model_row, old.state, coalesce(old.region, ''), -1);"        \
    "    IF old.state = 'registered' AND new.state = 'released' THEN"       \
    "      INSERT INTO stat_months_delta VALUES (new.enterprise_id,"        \
    "        new.model_row, hrid_month(" released_at "), 0, 1);"            \
    "    END IF;"                                                           \
    "  ELSE"                                                                \
    "    INSERT INTO stat_months_delta VALUES (new.enterprise_id,"          \
    "      new.model_row, hrid_month(new.registered_at), 1, 0);"            \
    "  END IF;"                                                             \
    "  INSERT INTO stat_units_delta VALUES (new.enterprise_id,"             \
    "    new.model_row, new.state, coalesce(new.region, ''), 1);"           \
    "  RETURN NULL;"                                                        \
    "  END $$;"

/*
 * The forward migrations, applied in order inside one transaction at open
 * (under the sequencer lock, so nodes starting together migrate once);
 * meta.schema_version counts how many have been applied.  Never edit an
 * entry once released: add a new one.  The first is the schema the SQLite
 * backend reached in eleven steps, with PostgreSQL's types: a party id of
 * 0 ("none") is NULL so that foreign keys hold.
 */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE parties ("
    "  id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  kind        TEXT NOT NULL,"
    "  name        TEXT,"
    "  public_name TEXT,"
    "  country     TEXT,"
    "  ent_code    TEXT,"
    "  info        TEXT,"
    "  created_at  BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX parties_ent_code ON parties (country, ent_code)"
    "  WHERE ent_code IS NOT NULL;"
    "CREATE INDEX parties_kind ON parties (kind, id);"

    "CREATE TABLE api_keys ("
    "  id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  key_id     TEXT NOT NULL UNIQUE,"
    "  hash       BYTEA NOT NULL,"
    "  party_id   BIGINT REFERENCES parties (id),"
    "  role       TEXT NOT NULL,"
    "  label      TEXT,"
    "  created_at BIGINT NOT NULL DEFAULT 0,"
    "  revoked_at BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX api_keys_party ON api_keys (party_id);"

    "CREATE TABLE models ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  model_id      TEXT NOT NULL UNIQUE,"
    "  enterprise_id BIGINT REFERENCES parties (id),"
    "  level         BIGINT NOT NULL DEFAULT 0,"
    "  filing_year   BIGINT NOT NULL DEFAULT 0,"
    "  name          TEXT,"
    "  status        TEXT,"
    "  params        TEXT,"
    "  filing        TEXT,"
    "  filed_at      BIGINT NOT NULL DEFAULT 0,"
    "  approved_at   BIGINT NOT NULL DEFAULT 0,"
    "  approved_by   BIGINT REFERENCES parties (id),"
    "  withdrawn_at  BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX models_enterprise ON models (enterprise_id, id);"

    /* Codes are compared byte by byte (COLLATE "C"), as SQLite does, so
     * keyset pages follow the same order on both backends. */
    "CREATE TABLE units ("
    "  id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  code             TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  model_row        BIGINT REFERENCES models (id),"
    "  enterprise_id    BIGINT REFERENCES parties (id),"
    "  state            TEXT NOT NULL,"
    "  prev_state       TEXT,"
    "  custodian_id     BIGINT REFERENCES parties (id),"
    "  owner_id         BIGINT REFERENCES parties (id),"
    "  operator_id      BIGINT REFERENCES parties (id),"
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
    "  registered_at    BIGINT NOT NULL DEFAULT 0,"
    "  updated_at       BIGINT NOT NULL DEFAULT 0,"
    "  last_event_at    BIGINT NOT NULL DEFAULT 0,"
    "  last_event_seq   BIGINT NOT NULL DEFAULT 0,"
    "  event_count      BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX units_enterprise ON units (enterprise_id, code);"
    "CREATE INDEX units_custodian ON units (custodian_id, code);"
    "CREATE INDEX units_state ON units (state, code);"
    "CREATE INDEX units_model ON units (model_row, code);"

    "CREATE TABLE components ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  unit_id       BIGINT NOT NULL REFERENCES units (id),"
    "  slot          TEXT,"
    "  part_no       TEXT COLLATE \"C\","
    "  supplier      TEXT,"
    "  lot           TEXT COLLATE \"C\","
    "  serial        TEXT,"
    "  installed_at  BIGINT NOT NULL DEFAULT 0,"
    "  installed_seq BIGINT NOT NULL DEFAULT 0,"
    "  removed_at    BIGINT NOT NULL DEFAULT 0,"
    "  removed_seq   BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX components_unit ON components (unit_id, removed_at);"
    "CREATE INDEX components_part ON components (part_no, lot);"

    /* seq is given by event_append as max + 1 under the sequencer lock:
     * no sequence object, which would burn numbers on rollback. */
    "CREATE TABLE events ("
    "  seq         BIGINT PRIMARY KEY,"
    "  unit_id     BIGINT NOT NULL REFERENCES units (id),"
    "  code        TEXT NOT NULL,"
    "  type        TEXT NOT NULL,"
    "  at          BIGINT NOT NULL,"
    "  recorded_at BIGINT NOT NULL,"
    "  actor_id    BIGINT REFERENCES parties (id),"
    "  actor_role  TEXT,"
    "  body        TEXT NOT NULL"
    ");"
    "CREATE INDEX events_unit ON events (unit_id, seq);"
    "CREATE FUNCTION events_append_only() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  RAISE EXCEPTION 'history is append-only'; END $$;"
    "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events"
    "  FOR EACH ROW EXECUTE FUNCTION events_append_only();"

    "CREATE TABLE grants ("
    "  id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  unit_id     BIGINT NOT NULL REFERENCES units (id),"
    "  grantee_id  BIGINT REFERENCES parties (id),"
    "  granted_by  BIGINT REFERENCES parties (id),"
    "  scope       TEXT,"
    "  valid_from  BIGINT NOT NULL DEFAULT 0,"
    "  valid_until BIGINT NOT NULL DEFAULT 0,"
    "  revoked_at  BIGINT NOT NULL DEFAULT 0,"
    "  created_at  BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX grants_unit ON grants (unit_id);"

    "CREATE TABLE idempotency ("
    "  party_id   BIGINT NOT NULL,"
    "  key        TEXT NOT NULL,"
    "  req_hash   BYTEA NOT NULL,"
    "  status     BIGINT NOT NULL,"
    "  response   TEXT,"
    "  created_at BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (party_id, key)"
    ");"
    "CREATE INDEX idempotency_age ON idempotency (created_at);"

    "CREATE TABLE counters ("
    "  name  TEXT PRIMARY KEY,"
    "  value BIGINT NOT NULL"
    ");"

    "CREATE TABLE log_tiles ("
    "  level  BIGINT NOT NULL,"
    "  idx    BIGINT NOT NULL,"
    "  hashes BYTEA NOT NULL,"
    "  PRIMARY KEY (level, idx)"
    ");"
    "CREATE TABLE log_checkpoint ("
    "  id        BIGINT PRIMARY KEY CHECK (id = 1),"
    "  size      BIGINT NOT NULL,"
    "  root      BYTEA NOT NULL,"
    "  note      TEXT NOT NULL,"
    "  signed_at BIGINT NOT NULL"
    ");"

    "CREATE TABLE certifications ("
    "  id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  model_row   BIGINT REFERENCES models (id),"
    "  unit_id     BIGINT REFERENCES units (id),"
    "  scheme      TEXT NOT NULL,"
    "  tier        TEXT,"
    "  scenarios   TEXT NOT NULL,"
    "  conditions  TEXT,"
    "  limits      TEXT,"
    "  valid_from  BIGINT NOT NULL,"
    "  valid_until BIGINT NOT NULL,"
    "  issuer_id   BIGINT REFERENCES parties (id),"
    "  created_at  BIGINT NOT NULL,"
    "  revoked_at  BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX certifications_model ON certifications (model_row)"
    "  WHERE model_row IS NOT NULL;"
    "CREATE INDEX certifications_unit ON certifications (unit_id)"
    "  WHERE unit_id IS NOT NULL;"
    "CREATE TABLE recalls ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  enterprise_id BIGINT NOT NULL REFERENCES parties (id),"
    "  created_by    BIGINT REFERENCES parties (id),"
    "  ordered       BIGINT NOT NULL DEFAULT 0,"
    "  defect        TEXT NOT NULL,"
    "  hazard        TEXT,"
    "  remedy        TEXT,"
    "  target        TEXT NOT NULL,"
    "  status        TEXT NOT NULL,"
    "  created_at    BIGINT NOT NULL,"
    "  closed_at     BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE recall_units ("
    "  recall_id    BIGINT NOT NULL REFERENCES recalls (id),"
    "  unit_id      BIGINT NOT NULL REFERENCES units (id),"
    "  code         TEXT NOT NULL,"
    "  state        TEXT NOT NULL,"
    "  notified_seq BIGINT NOT NULL DEFAULT 0,"
    "  remedied_seq BIGINT NOT NULL DEFAULT 0,"
    "  remedied_at  BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (recall_id, unit_id)"
    ");"
    "CREATE INDEX recall_units_unit ON recall_units (unit_id, recall_id);"

    "CREATE TABLE unit_snapshots ("
    "  unit_id BIGINT NOT NULL REFERENCES units (id),"
    "  seq     BIGINT NOT NULL,"
    "  at      BIGINT NOT NULL,"
    "  state   TEXT NOT NULL,"
    "  PRIMARY KEY (unit_id, seq)"
    ");"

    "CREATE TABLE incidents ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  unit_id       BIGINT NOT NULL REFERENCES units (id),"
    "  code          TEXT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  enterprise_id BIGINT NOT NULL,"
    "  at            BIGINT NOT NULL,"
    "  recorded_at   BIGINT NOT NULL,"
    "  severity      TEXT NOT NULL,"
    "  kind          TEXT NOT NULL,"
    "  place         TEXT,"
    "  description   TEXT NOT NULL,"
    "  reporter_id   BIGINT,"
    "  verified      BIGINT NOT NULL,"
    "  contact       TEXT,"
    "  event_seq     BIGINT NOT NULL DEFAULT 0,"
    "  snapshot      TEXT NOT NULL"
    ");"
    "CREATE INDEX incidents_unit ON incidents (unit_id, id);"
    "CREATE INDEX incidents_model ON incidents (model_row, id);"
    "CREATE INDEX incidents_enterprise ON incidents (enterprise_id, id);"

    /* Counts for market statistics (stat_units per state and region,
     * stat_months per month of registration and of release).  The
     * triggers on units only append +1/-1 rows to the *_delta tables, and
     * hrid_fold_stats(), run by the writer before every COMMIT, adds them
     * into the counts once per transaction and empties them: a bulk
     * registration of 10,000 units updating one count row 10,000 times in
     * one transaction would leave a chain of 10,000 row versions for each
     * next update to walk. */
    "CREATE TABLE stat_units ("
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  region        TEXT NOT NULL,"
    "  n             BIGINT NOT NULL,"
    "  PRIMARY KEY (enterprise_id, model_row, state, region)"
    ");"
    "CREATE TABLE stat_months ("
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  month         TEXT NOT NULL,"
    "  registered    BIGINT NOT NULL DEFAULT 0,"
    "  released      BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (enterprise_id, model_row, month)"
    ");"
    "CREATE TABLE stat_units_delta ("
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  region        TEXT NOT NULL,"
    "  n             BIGINT NOT NULL"
    ");"
    "CREATE TABLE stat_months_delta ("
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  month         TEXT NOT NULL,"
    "  registered    BIGINT NOT NULL,"
    "  released      BIGINT NOT NULL"
    ");"
    "CREATE FUNCTION hrid_month(ms BIGINT) RETURNS TEXT"
    "  LANGUAGE sql IMMUTABLE AS"
    "  $$ SELECT to_char(to_timestamp(ms / 1000) AT TIME ZONE 'UTC',"
    "  'YYYY-MM') $$;"
    STAT_UNITS_COUNT("CREATE", "new.last_event_at")
    "CREATE TRIGGER stat_units_insert AFTER INSERT ON units"
    "  FOR EACH ROW EXECUTE FUNCTION stat_units_count();"
    "CREATE TRIGGER stat_units_update AFTER UPDATE OF state, region ON units"
    "  FOR EACH ROW EXECUTE FUNCTION stat_units_count();"
    "CREATE FUNCTION hrid_fold_stats() RETURNS void"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF EXISTS (SELECT 1 FROM stat_units_delta) THEN"
    "    INSERT INTO stat_units SELECT enterprise_id, model_row, state,"
    "      region, sum(n) FROM stat_units_delta GROUP BY 1, 2, 3, 4"
    "      ON CONFLICT (enterprise_id, model_row, state, region)"
    "      DO UPDATE SET n = stat_units.n + excluded.n;"
    "    DELETE FROM stat_units_delta;"
    "  END IF;"
    "  IF EXISTS (SELECT 1 FROM stat_months_delta) THEN"
    "    INSERT INTO stat_months SELECT enterprise_id, model_row, month,"
    "      sum(registered), sum(released) FROM stat_months_delta"
    "      GROUP BY 1, 2, 3"
    "      ON CONFLICT (enterprise_id, model_row, month) DO UPDATE"
    "      SET registered = stat_months.registered + excluded.registered,"
    "      released = stat_months.released + excluded.released;"
    "    DELETE FROM stat_months_delta;"
    "  END IF;"
    "  END $$;"

    "CREATE TABLE telemetry ("
    "  kind    BIGINT NOT NULL,"
    "  unit_id BIGINT NOT NULL,"
    "  a       BIGINT NOT NULL,"
    "  b       BIGINT NOT NULL,"
    "  data    BYTEA NOT NULL,"
    "  PRIMARY KEY (kind, unit_id, a, b)"
    ");"

    "CREATE TABLE alert_rules ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  metric        TEXT NOT NULL,"
    "  op            TEXT NOT NULL,"
    "  threshold     DOUBLE PRECISION NOT NULL,"
    "  for_ms        BIGINT NOT NULL,"
    "  created_by    BIGINT,"
    "  created_at    BIGINT NOT NULL"
    ");"
    "CREATE INDEX alert_rules_ent ON alert_rules (enterprise_id, model_row);"
    "CREATE TABLE alerts ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  rule_id       BIGINT NOT NULL,"
    "  unit_id       BIGINT NOT NULL,"
    "  code          TEXT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  enterprise_id BIGINT NOT NULL,"
    "  metric        BIGINT NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  since         BIGINT NOT NULL,"
    "  opened_at     BIGINT NOT NULL DEFAULT 0,"
    "  cleared_at    BIGINT NOT NULL DEFAULT 0,"
    "  value         DOUBLE PRECISION NOT NULL"
    ");"
    "CREATE INDEX alerts_live ON alerts (rule_id, unit_id, metric)"
    "  WHERE state IN ('pending', 'open');"
    "CREATE INDEX alerts_unit ON alerts (unit_id, id);"

    "CREATE TABLE zones ("
    "  id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name       TEXT NOT NULL,"
    "  polygon    TEXT NOT NULL,"
    "  created_by BIGINT,"
    "  created_at BIGINT NOT NULL"
    ");"
    "CREATE TABLE fences ("
    "  unit_id     BIGINT PRIMARY KEY,"
    "  zones       TEXT NOT NULL,"
    "  scenarios   TEXT,"
    "  speed_limit DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  set_by      BIGINT,"
    "  set_at      BIGINT NOT NULL"
    ");"
    "CREATE TABLE fence_violations ("
    "  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  unit_id       BIGINT NOT NULL,"
    "  code          TEXT NOT NULL,"
    "  enterprise_id BIGINT NOT NULL,"
    "  state         TEXT NOT NULL,"
    "  first_t       BIGINT NOT NULL,"
    "  last_t        BIGINT NOT NULL,"
    "  lat           DOUBLE PRECISION NOT NULL,"
    "  lon           DOUBLE PRECISION NOT NULL,"
    "  closed_at     BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX fence_violations_unit ON fence_violations (unit_id, id);"

    "CREATE TABLE unit_seen ("
    "  unit_id       BIGINT PRIMARY KEY,"
    "  enterprise_id BIGINT NOT NULL,"
    "  model_row     BIGINT NOT NULL,"
    "  t             BIGINT NOT NULL"
    ");"
    "CREATE INDEX unit_seen_scope ON unit_seen (enterprise_id, model_row, t);",

    /* Recalls whose notices are written after the recall commits. */
    "ALTER TABLE recalls ADD COLUMN notify_after BIGINT NOT NULL DEFAULT -1;"
    "CREATE INDEX recalls_notifying ON recalls (id) WHERE notify_after >= 0;",

    /* Each recall's counts of units, remedied and owed a notice, kept by
     * the operations that change its rows. */
    "ALTER TABLE recalls ADD COLUMN affected BIGINT NOT NULL DEFAULT 0,"
    "  ADD COLUMN remedied BIGINT NOT NULL DEFAULT 0,"
    "  ADD COLUMN owed BIGINT NOT NULL DEFAULT 0;"
    "UPDATE recalls r SET affected = c.n, remedied = c.m, owed = c.o"
    "  FROM (SELECT recall_id, count(*) AS n,"
    "    count(*) FILTER (WHERE state = 'remedied') AS m,"
    "    count(*) FILTER (WHERE notified_seq = 0) AS o"
    "    FROM recall_units GROUP BY recall_id) c WHERE c.recall_id = r.id;",

    /* A unit's event count and latest times are read from its latest
     * event (UNIT_HISTORY), which records them, instead of being kept in
     * its row, as in the SQLite store (its migration 18).  The history
     * stays append-only: the new columns are filled once, here, with the
     * guard lifted inside this transaction only.  A release's month is
     * now the release event's latest time. */
    "ALTER TABLE events ADD COLUMN unit_count BIGINT NOT NULL DEFAULT 0,"
    "  ADD COLUMN unit_last_at BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE events DISABLE TRIGGER events_no_change;"
    "UPDATE events e SET unit_count = h.n, unit_last_at = h.top FROM"
    "  (SELECT seq, row_number() OVER w AS n, max(at) OVER w AS top"
    "   FROM events WINDOW w AS (PARTITION BY unit_id ORDER BY seq)) h"
    "  WHERE h.seq = e.seq;"
    "ALTER TABLE events ENABLE TRIGGER events_no_change;"
    "DROP INDEX events_unit;"
    "CREATE INDEX events_unit ON events (unit_id, seq)"
    "  INCLUDE (unit_count, unit_last_at);"
    STAT_UNITS_COUNT("CREATE OR REPLACE",
                     "(SELECT unit_last_at FROM events WHERE unit_id = new.id"
                     " ORDER BY seq DESC LIMIT 1)")
    "ALTER TABLE units DROP COLUMN last_event_at,"
    "  DROP COLUMN last_event_seq, DROP COLUMN event_count;",
};

#define SCHEMA_VERSION ((int64_t)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* ---- statements -------------------------------------------------------- */

/* unit_list: $1 the leading filter, $2 the last code seen, $3-$5 the other
 * filters (0 or NULL: none), $6 the limit. */
#define UNIT_LIST_REST                                                     \
    " AND code > $2 AND ($3::bigint = 0 OR enterprise_id = $3)"             \
    " AND ($4::bigint = 0 OR model_row = $4)"                               \
    " AND ($5::text IS NULL OR state = $5) ORDER BY code LIMIT $6"

enum {
    P_COUNTER_NEXT,
    P_PARTY_INSERT, P_PARTY_GET, P_PARTY_BY_ENT, P_PARTY_LIST,
    P_PARTY_LIST_KIND,
    P_KEY_INSERT, P_KEY_GET, P_KEY_REVOKE, P_KEY_EXISTS, P_KEY_LIST,
    P_MODEL_INSERT, P_MODEL_GET, P_MODEL_GET_ROW, P_MODEL_UPDATE,
    P_MODEL_LIST, P_MODEL_LIST_ENT,
    P_UNIT_INSERT, P_UNIT_GET, P_UNIT_VIEW_GET, P_UNIT_HISTORY,
    P_UNIT_UPDATE, P_UNIT_LIST,
    P_UNIT_LIST_ENT,
    P_UNIT_LIST_CUST, P_UNIT_LIST_MODEL, P_UNIT_LIST_STATE,
    P_UNIT_COUNT,
    P_COMP_INSERT, P_COMP_REMOVE, P_COMP_EXISTS, P_COMP_LIST,
    P_COMP_LIST_INSTALLED,
    P_EVENT_APPEND, P_EVENT_LIST, P_EVENT_SCAN, P_EVENT_SCAN_UNIT,
    P_TILE_GET, P_TILE_PUT, P_TILE_LAST, P_CHECKPOINT_GET, P_CHECKPOINT_PUT,
    P_GRANT_INSERT, P_GRANT_LIST, P_IDEM_GET, P_IDEM_PUT, P_IDEM_EXPIRE,
    P_COUNT
};
_Static_assert(P_COUNT <= PG_BASE_MORE, "statement ids overlap");

#define STMT(ID, SQL) static const struct pg_stmt S_##ID = { P_##ID, SQL }

STMT(COUNTER_NEXT,
     "INSERT INTO counters (name, value) VALUES ($1, $2)"
     " ON CONFLICT (name) DO UPDATE SET value = counters.value + $2"
     " RETURNING value");

STMT(PARTY_INSERT,
     "INSERT INTO parties (kind, name, public_name, country, ent_code,"
     " info, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
     " ON CONFLICT DO NOTHING RETURNING id");
STMT(PARTY_GET, "SELECT " PARTY_COLS " FROM parties WHERE id = $1");
STMT(PARTY_BY_ENT, "SELECT " PARTY_COLS " FROM parties"
                   " WHERE country = $1 AND ent_code = $2");
STMT(PARTY_LIST, "SELECT " PARTY_COLS " FROM parties"
                 " WHERE id > $1 ORDER BY id LIMIT $2");
STMT(PARTY_LIST_KIND, "SELECT " PARTY_COLS " FROM parties"
                      " WHERE kind = $3 AND id > $1 ORDER BY id LIMIT $2");

STMT(KEY_INSERT,
     "INSERT INTO api_keys (key_id, hash, party_id, role, label,"
     " created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
     " ON CONFLICT DO NOTHING RETURNING id");
STMT(KEY_GET, "SELECT " KEY_COLS " FROM api_keys WHERE key_id = $1");
STMT(KEY_REVOKE, "UPDATE api_keys SET revoked_at = $2"
                 " WHERE id = $1 AND revoked_at = 0");
STMT(KEY_EXISTS, "SELECT 1 FROM api_keys WHERE id = $1");
STMT(KEY_LIST, "SELECT " KEY_COLS " FROM api_keys"
               " WHERE party_id = $1 ORDER BY id");

STMT(MODEL_INSERT,
     "INSERT INTO models (model_id, enterprise_id, level, filing_year,"
     " name, status, params, filing, filed_at, approved_at, approved_by,"
     " withdrawn_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
     " $12) ON CONFLICT DO NOTHING RETURNING id");
STMT(MODEL_GET, "SELECT " MODEL_COLS " FROM models WHERE model_id = $1");
STMT(MODEL_GET_ROW, "SELECT " MODEL_COLS " FROM models WHERE id = $1");
STMT(MODEL_UPDATE,
     "UPDATE models SET name = $2, status = $3, params = $4, filing = $5,"
     " filed_at = $6, approved_at = $7, approved_by = $8,"
     " withdrawn_at = $9 WHERE id = $1");
STMT(MODEL_LIST, "SELECT " MODEL_COLS " FROM models"
                 " WHERE id > $1 ORDER BY id LIMIT $2");
STMT(MODEL_LIST_ENT, "SELECT " MODEL_COLS " FROM models"
                     " WHERE enterprise_id = $3 AND id > $1"
                     " ORDER BY id LIMIT $2");

STMT(UNIT_INSERT,
     "INSERT INTO units (code, model_row, enterprise_id, state,"
     " prev_state, custodian_id, owner_id, operator_id, serial, batch,"
     " production_date, factory, firmware, device_key, site, scenario,"
     " region, market_filing_no, jurisdiction, extra, registered_at,"
     " updated_at)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
     " $15, $16, $17, $18, $19, $20, $21, $22)"
     " ON CONFLICT DO NOTHING RETURNING id");
STMT(UNIT_GET, "SELECT " UNIT_COLS " FROM units WHERE code = $1");
STMT(UNIT_VIEW_GET,
     "SELECT " UNIT_ROW_COLS ","
     " (EXISTS (SELECT 1 FROM certifications c"
     "          WHERE c.model_row = units.model_row)"
     "  OR EXISTS (SELECT 1 FROM certifications c"
     "             WHERE c.unit_id = units.id))::int,"
     " (EXISTS (SELECT 1 FROM recall_units k"
     "          WHERE k.unit_id = units.id AND k.state = 'notified'))::int"
     " FROM units WHERE code = $1");
STMT(UNIT_HISTORY, UNIT_HISTORY_SQL("$1"));
/* Everything but id, code, model_row, enterprise_id, serial and
 * registered_at, which are fixed at registration.  PostgreSQL writes a
 * new row version whatever changes, so one statement does it all. */
STMT(UNIT_UPDATE,
     "UPDATE units SET state = $2, prev_state = $3, custodian_id = $4,"
     " owner_id = $5, operator_id = $6, batch = $7, production_date = $8,"
     " factory = $9, firmware = $10, device_key = $11, site = $12,"
     " scenario = $13, region = $14, market_filing_no = $15,"
     " jurisdiction = $16, extra = $17, updated_at = $18"
     " WHERE id = $1");
STMT(UNIT_LIST, "SELECT " UNIT_COLS " FROM units WHERE $1::bigint IS NULL"
                UNIT_LIST_REST);
STMT(UNIT_LIST_ENT, "SELECT " UNIT_COLS " FROM units"
                    " WHERE enterprise_id = $1" UNIT_LIST_REST);
STMT(UNIT_LIST_CUST, "SELECT " UNIT_COLS " FROM units"
                     " WHERE custodian_id = $1" UNIT_LIST_REST);
STMT(UNIT_LIST_MODEL, "SELECT " UNIT_COLS " FROM units"
                      " WHERE model_row = $1" UNIT_LIST_REST);
STMT(UNIT_LIST_STATE, "SELECT " UNIT_COLS " FROM units"
                      " WHERE state = $1" UNIT_LIST_REST);
/* Holders of a part, with and without a lot range: the range is written
 * plainly so that components_part (part_no, lot) serves it in a generic
 * plan too. */
STMT(UNIT_COUNT, "SELECT count(*) FROM units");

STMT(COMP_INSERT,
     "INSERT INTO components (unit_id, slot, part_no, supplier, lot,"
     " serial, installed_at, installed_seq, removed_at, removed_seq)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
STMT(COMP_REMOVE, "UPDATE components SET removed_at = $2,"
                  " removed_seq = $3 WHERE id = $1 AND removed_at = 0");
STMT(COMP_EXISTS, "SELECT 1 FROM components WHERE id = $1");
STMT(COMP_LIST, "SELECT " COMP_COLS " FROM components"
                " WHERE unit_id = $1 ORDER BY id");
STMT(COMP_LIST_INSTALLED, "SELECT " COMP_COLS " FROM components"
                          " WHERE unit_id = $1 AND removed_at = 0"
                          " ORDER BY id");

/* The sequencer lock is held: max + 1 is the next number, and a rolled
 * back insert gives its number back. */
STMT(EVENT_APPEND,
     "INSERT INTO events (seq, unit_id, code, type, at, recorded_at,"
     " actor_id, actor_role, body, unit_count, unit_last_at)"
     " SELECT coalesce(max(seq), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8,"
     " $9, $10 FROM events RETURNING seq");
STMT(EVENT_LIST, "SELECT " EVENT_COLS " FROM events"
                 " WHERE unit_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
STMT(EVENT_SCAN, "SELECT " EVENT_COLS " FROM events"
                 " WHERE seq > $1 ORDER BY seq LIMIT $2");
STMT(EVENT_SCAN_UNIT,
     "SELECT e.seq, e.unit_id, e.code, e.type, e.at, e.recorded_at,"
     " e.actor_id, e.actor_role, e.body, u.code FROM events e"
     " LEFT JOIN units u ON u.id = e.unit_id"
     " WHERE e.seq > $1 ORDER BY e.seq LIMIT $2");

STMT(TILE_GET, "SELECT hashes FROM log_tiles WHERE level = $1 AND idx = $2");
STMT(TILE_PUT, "INSERT INTO log_tiles (level, idx, hashes)"
               " VALUES ($1, $2, $3) ON CONFLICT (level, idx)"
               " DO UPDATE SET hashes = excluded.hashes");
STMT(TILE_LAST, "SELECT idx, length(hashes) FROM log_tiles"
                " WHERE level = $1 ORDER BY idx DESC LIMIT 1");
STMT(CHECKPOINT_GET, "SELECT size, root, note, signed_at"
                     " FROM log_checkpoint WHERE id = 1");
STMT(CHECKPOINT_PUT,
     "INSERT INTO log_checkpoint (id, size, root, note, signed_at)"
     " VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE"
     " SET size = excluded.size, root = excluded.root,"
     " note = excluded.note, signed_at = excluded.signed_at");

STMT(GRANT_INSERT,
     "INSERT INTO grants (unit_id, grantee_id, granted_by, scope,"
     " valid_from, valid_until, revoked_at, created_at)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id");
STMT(GRANT_LIST, "SELECT " GRANT_COLS " FROM grants"
                 " WHERE unit_id = $1 ORDER BY id");
STMT(IDEM_GET, "SELECT " IDEM_COLS " FROM idempotency"
               " WHERE party_id = $1 AND key = $2");
STMT(IDEM_PUT,
     "INSERT INTO idempotency (party_id, key, req_hash, status, response,"
     " created_at) VALUES ($1, $2, $3, $4, $5, $6)"
     " ON CONFLICT DO NOTHING");
STMT(IDEM_EXPIRE,
     "DELETE FROM idempotency WHERE (party_id, key) IN (SELECT party_id,"
     " key FROM idempotency WHERE created_at < $1 ORDER BY created_at"
     " LIMIT $2)");

/* ---- values in, rows out ----------------------------------------------- */

void pg_args_init(struct pg_args *a)
{
    a->n = 0;
    a->overflow = false;
}

static char *arg_slot(struct pg_args *a)
{
    if (a->n >= PG_ARGS_MAX) {
        a->overflow = true;
        return NULL;
    }
    a->fmt[a->n] = 0;
    a->len[a->n] = 0;
    return a->num[a->n];
}

void pg_i64(struct pg_args *a, int64_t v)
{
    char *p = arg_slot(a);

    if (p == NULL)
        return;
    snprintf(p, sizeof a->num[0], "%lld", (long long)v);
    a->v[a->n++] = p;
}

void pg_id(struct pg_args *a, int64_t v)
{
    if (v != 0) {
        pg_i64(a, v);
    } else if (arg_slot(a) != NULL) {
        a->v[a->n++] = NULL;
    }
}

/* %.17g reads back as the same double. */
void pg_f64(struct pg_args *a, double v)
{
    char *p = arg_slot(a);

    if (p == NULL)
        return;
    snprintf(p, sizeof a->num[0], "%.17g", v);
    a->v[a->n++] = p;
}

/* The string is sent as it is and must live until the statement runs. */
void pg_str(struct pg_args *a, const char *s)
{
    if (arg_slot(a) != NULL)
        a->v[a->n++] = s;
}

/* Binary format: sent as the bytes, no escaping. */
void pg_blob(struct pg_args *a, const void *p, size_t n)
{
    if (arg_slot(a) == NULL)
        return;
    a->fmt[a->n] = 1;
    a->len[a->n] = (int)n;
    a->v[a->n++] = n > 0 ? p : "";
}

void pg_limit(struct pg_args *a, int limit)
{
    if (limit > 0)
        pg_i64(a, limit);
    else
        pg_str(a, NULL);
}

int pg_oom(struct hrid_err *err, const char *what)
{
    return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory reading %s",
                        what);
}

/* The connection's message without its trailing newline. */
static const char *conn_msg(PGconn *db, char *buf, size_t cap)
{
    size_t n;

    snprintf(buf, cap, "%s", PQerrorMessage(db));
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

static bool prepare(struct pg_conn *c, const struct pg_stmt *s, char *msg,
                    size_t cap)
{
    char name[16];
    PGresult *res;
    bool ok;

    snprintf(name, sizeof name, "h%d", s->id);
    res = PQprepare(c->db, name, s->sql, 0, NULL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        conn_msg(c->db, msg, cap);
    PQclear(res);
    c->prepared[s->id] = ok;
    return ok;
}

/* Opens a connection again after the server dropped it: nothing is
 * prepared on the new one, and the writer's is in pipeline mode like the
 * first. */
static void conn_reset(struct pg_conn *c)
{
    PQreset(c->db);
    memset(c->prepared, 0, sizeof c->prepared);
    c->pending = 0;
    c->db_lost = false;
    if (c->pipeline && PQstatus(c->db) == CONNECTION_OK)
        PQenterPipelineMode(c->db);
}

/* Whether a failure means the connection is gone: libpq saw it close, or
 * the server said it is shutting down or restarting (SQLSTATE class 57P,
 * operator intervention; 08, connection exception), which can arrive
 * before libpq sees the close. */
static bool conn_lost(PGconn *db, const char *state)
{
    return PQstatus(db) == CONNECTION_BAD ||
           (state != NULL && (strncmp(state, "57P", 3) == 0 ||
                              strncmp(state, "08", 2) == 0));
}

/* A failed statement's status and message, from its SQLSTATE. */
static int failed(const char *state, const char *subject, const char *msg,
                  struct hrid_err *err)
{
    if (state != NULL && strcmp(state, "23505") == 0)
        return hrid_err_set(err, STORE_CONFLICT, 0, 0, "%s already exists",
                            subject);
    if (state != NULL && strcmp(state, "23503") == 0)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "%s refers to a party, model or unit that does "
                            "not exist", subject);
    return hrid_err_set(err, STORE_EIO, 0, 0, "%s: %s", subject, msg);
}

/* A result's message without its trailing newline. */
static const char *result_msg(PGresult *res, PGconn *db, char *buf,
                              size_t cap)
{
    size_t n;

    if (res == NULL || PQresultErrorMessage(res)[0] == '\0')
        return conn_msg(db, buf, cap);
    snprintf(buf, cap, "%s", PQresultErrorMessage(res));
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/*
 * The writer's connection runs in libpq's pipeline mode: statements are
 * sent without waiting, and their results read at the next sync.  A write
 * that needs no answer (a unit row's update, a component, a tile) is only
 * sent (pg_defer); the next statement that needs its result sends a sync
 * and reads every result before its own, so a write costs one round trip
 * per answer it needs rather than one per statement.  After an error the
 * server skips everything up to the sync, so a failed deferred write fails
 * the statement that synced, and store/writer.h's finish step syncs at the
 * end of every job so that each job learns its own failures.
 */
static bool send_stmt(struct pg_conn *c, const struct pg_stmt *s,
                      const struct pg_args *a)
{
    char name[16];

    snprintf(name, sizeof name, "h%d", s->id);
    if (!c->prepared[s->id]) {
        if (!PQsendPrepare(c->db, name, s->sql, 0, NULL))
            return false;
        c->pending++;
        c->prepared[s->id] = true;
    }
    if (!PQsendQueryPrepared(c->db, name, a->n, a->v, a->len, a->fmt, 0))
        return false;
    c->pending++;
    return true;
}

static bool send_sql(struct pg_conn *c, const char *sql)
{
    if (!PQsendQueryParams(c->db, sql, 0, NULL, NULL, NULL, NULL, 0))
        return false;
    c->pending++;
    return true;
}

/*
 * Syncs and reads the result of everything sent since the last sync.
 * Returns STORE_OK, or the first failure (its SQLSTATE in *state, its
 * message in msg).  *last, when given, gets the last statement's result
 * if everything succeeded.
 */
static int collect(struct pg_conn *c, PGresult **last, char *state,
                   char *msg, size_t cap)
{
    int r = STORE_OK, n = c->pending;
    PGresult *res;

    c->pending = 0;
    state[0] = '\0';
    if (!PQpipelineSync(c->db)) {
        conn_msg(c->db, msg, cap);
        return STORE_EIO;
    }
    for (int i = 0; i < n; i++) {
        ExecStatusType rs;

        res = PQgetResult(c->db);
        rs = PQresultStatus(res);
        if (res == NULL) {
            if (r == STORE_OK)
                conn_msg(c->db, msg, cap);
            r = STORE_EIO;
            break;
        }
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK &&
            r == STORE_OK) {
            const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            snprintf(state, 6, "%s", st != NULL ? st : "");
            result_msg(res, c->db, msg, cap);
            r = STORE_EIO;
        }
        if (i == n - 1 && last != NULL && r == STORE_OK)
            *last = res;
        else
            PQclear(res);
        PQclear(PQgetResult(c->db));        /* the command's end */
    }
    /* Up to the sync's own result. */
    while ((res = PQgetResult(c->db)) != NULL) {
        ExecStatusType rs = PQresultStatus(res);

        PQclear(res);
        if (rs == PGRES_PIPELINE_SYNC)
            break;
    }
    if (r != STORE_OK && last != NULL && *last != NULL) {
        PQclear(*last);
        *last = NULL;
    }
    return r;
}

PGresult *pg_run(struct pg_conn *c, const struct pg_stmt *s,
                 const struct pg_args *a, int *status, struct hrid_err *err,
                 const char *fmt, ...)
{
    char subject[SUBJECT_MAX], msg[HRID_ERR_MSG_MAX], name[16], state[6];
    static const struct pg_args none = {0};
    PGresult *res = NULL;
    ExecStatusType rs;
    va_list ap;

    if (a == NULL)
        a = &none;
    msg[0] = '\0';
    state[0] = '\0';
    if (a->overflow) {
        snprintf(msg, sizeof msg, "more than %d values for one statement",
                 PG_ARGS_MAX);
    } else if (c->pipeline) {
        if (!send_stmt(c, s, a))
            conn_msg(c->db, msg, sizeof msg);
        else if (collect(c, &res, state, msg, sizeof msg) == STORE_OK) {
            *status = STORE_OK;
            return res;
        }
    } else {
        snprintf(name, sizeof name, "h%d", s->id);
        for (int attempt = 0;; attempt++) {
            if (c->prepared[s->id] || prepare(c, s, msg, sizeof msg)) {
                res = PQexecPrepared(c->db, name, a->n, a->v, a->len,
                                     a->fmt, 0);
                rs = PQresultStatus(res);
                if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
                    *status = STORE_OK;
                    return res;
                }
                if (PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL)
                    snprintf(state, sizeof state, "%s",
                             PQresultErrorField(res, PG_DIAG_SQLSTATE));
                result_msg(res, c->db, msg, sizeof msg);
                PQclear(res);
                res = NULL;
            }
            /* The server restarted since this reader's last statement
             * (its prepare or its execution says so): once more on a new
             * connection, outside a transaction only. */
            if (attempt > 0 || c->writer || c->read_depth > 0 ||
                !conn_lost(c->db, state))
                break;
            conn_reset(c);
            state[0] = '\0';
        }
    }
    va_start(ap, fmt);
    vsnprintf(subject, sizeof subject, fmt, ap);
    va_end(ap);
    *status = failed(state, subject, msg, err);
    return NULL;
}

/* Deferred statements between syncs, at most: a bulk body's components
 * are sent in runs of this many. */
#define PENDING_MAX 256

int pg_defer(struct pg_conn *c, const struct pg_stmt *s,
             const struct pg_args *a, struct hrid_err *err, const char *what)
{
    char msg[HRID_ERR_MSG_MAX], state[6];
    PGresult *res;
    int r;

    if (!c->pipeline) {
        res = pg_run(c, s, a, &r, err, "%s", what);
        PQclear(res);
        return r;
    }
    if (a->overflow)
        return hrid_err_set(err, STORE_EIO, 0, 0, "%s: more than %d values "
                            "for one statement", what, PG_ARGS_MAX);
    if (!send_stmt(c, s, a))
        return hrid_err_set(err, STORE_EIO, 0, 0, "%s: %s", what,
                            conn_msg(c->db, msg, sizeof msg));
    if (c->pending < PENDING_MAX)
        return STORE_OK;
    r = collect(c, NULL, state, msg, sizeof msg);
    return r == STORE_OK ? r : failed(state, what, msg, err);
}

int64_t pg_changes(PGresult *res)
{
    const char *n = PQcmdTuples(res);

    return n[0] != '\0' ? strtoll(n, NULL, 10) : PQntuples(res);
}

void pg_row_init(struct pg_row *r, PGresult *res, int row, struct arena *a)
{
    r->res = res;
    r->row = row;
    r->col = 0;
    r->a = a;
    r->oom = false;
}

int64_t pg_row_i64(struct pg_row *r)
{
    int i = r->col++;

    if (PQgetisnull(r->res, r->row, i))
        return 0;
    return strtoll(PQgetvalue(r->res, r->row, i), NULL, 10);
}

double pg_row_f64(struct pg_row *r)
{
    int i = r->col++;

    if (PQgetisnull(r->res, r->row, i))
        return 0;
    return strtod(PQgetvalue(r->res, r->row, i), NULL);
}

const char *pg_row_str(struct pg_row *r)
{
    int i = r->col++;
    const char *t;
    char *s;

    if (PQgetisnull(r->res, r->row, i))
        return NULL;
    t = PQgetvalue(r->res, r->row, i);
    if (r->a == NULL)
        return t;
    s = arena_strndup(r->a, t, (size_t)PQgetlength(r->res, r->row, i));
    if (s == NULL)
        r->oom = true;
    return s;
}

void pg_row_fixed(struct pg_row *r, char *out, size_t cap)
{
    int i = r->col++;
    size_t n = (size_t)PQgetlength(r->res, r->row, i);

    if (n > cap - 1)
        n = cap - 1;
    memcpy(out, PQgetvalue(r->res, r->row, i), n);
    out[n] = '\0';
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A bytea in text form is "\x" and two hex digits a byte (the default
 * bytea_output).  Decodes at most cap bytes; returns how many, or -1 for
 * text of another form. */
static long unhex(const char *t, size_t len, unsigned char *out, size_t cap)
{
    size_t i, n;

    if (len < 2 || t[0] != '\\' || t[1] != 'x' || len % 2 != 0)
        return -1;
    n = (len - 2) / 2;
    if (n > cap)
        n = cap;
    for (i = 0; i < n; i++) {
        int hi = hexval(t[2 + 2 * i]), lo = hexval(t[3 + 2 * i]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (long)n;
}

void pg_row_hash(struct pg_row *r, unsigned char out[32])
{
    int i = r->col++;

    memset(out, 0, 32);
    if (!PQgetisnull(r->res, r->row, i))
        unhex(PQgetvalue(r->res, r->row, i),
              (size_t)PQgetlength(r->res, r->row, i), out, 32);
}

const void *pg_row_blob(struct pg_row *r, size_t *n)
{
    int i = r->col++;
    size_t len = (size_t)PQgetlength(r->res, r->row, i), want;
    unsigned char *out;
    long got;

    *n = 0;
    if (PQgetisnull(r->res, r->row, i))
        return NULL;
    want = len / 2 + 1;
    out = r->a != NULL ? arena_alloc(r->a, want) : NULL;
    got = out != NULL ? unhex(PQgetvalue(r->res, r->row, i), len, out, want)
                      : -1;
    if (got < 0) {
        r->oom = true;
        return NULL;
    }
    *n = (size_t)got;
    return out;
}

/* ---- record readers ---------------------------------------------------- */

static int read_party(struct pg_row *r, struct store_party *p,
                      struct hrid_err *err)
{
    p->id = pg_row_i64(r);
    p->kind = pg_row_str(r);
    p->name = pg_row_str(r);
    p->public_name = pg_row_str(r);
    p->country = pg_row_str(r);
    p->ent_code = pg_row_str(r);
    p->info = pg_row_str(r);
    p->created_at = pg_row_i64(r);
    return r->oom ? pg_oom(err, "a party") : STORE_OK;
}

static int read_key(struct pg_row *r, struct store_key *k,
                    struct hrid_err *err)
{
    k->id = pg_row_i64(r);
    k->key_id = pg_row_str(r);
    pg_row_hash(r, k->hash);
    k->party_id = pg_row_i64(r);
    k->role = pg_row_str(r);
    k->label = pg_row_str(r);
    k->created_at = pg_row_i64(r);
    k->revoked_at = pg_row_i64(r);
    return r->oom ? pg_oom(err, "an api key") : STORE_OK;
}

static int read_model(struct pg_row *r, struct store_model *m,
                      struct hrid_err *err)
{
    m->id = pg_row_i64(r);
    pg_row_fixed(r, m->model_id, sizeof m->model_id);
    m->enterprise_id = pg_row_i64(r);
    m->level = (int)pg_row_i64(r);
    m->filing_year = (int)pg_row_i64(r);
    m->name = pg_row_str(r);
    m->status = pg_row_str(r);
    m->params = pg_row_str(r);
    m->filing = pg_row_str(r);
    m->filed_at = pg_row_i64(r);
    m->approved_at = pg_row_i64(r);
    m->approved_by = pg_row_i64(r);
    m->withdrawn_at = pg_row_i64(r);
    return r->oom ? pg_oom(err, "a model") : STORE_OK;
}

/* The row's own columns, UNIT_ROW_COLS. */
static void unit_row(struct pg_row *r, struct store_unit *u)
{
    u->id = pg_row_i64(r);
    pg_row_fixed(r, u->code, sizeof u->code);
    u->model_row = pg_row_i64(r);
    u->enterprise_id = pg_row_i64(r);
    u->state = pg_row_str(r);
    u->prev_state = pg_row_str(r);
    u->custodian_id = pg_row_i64(r);
    u->owner_id = pg_row_i64(r);
    u->operator_id = pg_row_i64(r);
    u->serial = pg_row_str(r);
    u->batch = pg_row_str(r);
    u->production_date = pg_row_str(r);
    u->factory = pg_row_str(r);
    u->firmware = pg_row_str(r);
    u->device_key = pg_row_str(r);
    u->site = pg_row_str(r);
    u->scenario = pg_row_str(r);
    u->region = pg_row_str(r);
    u->market_filing_no = pg_row_str(r);
    u->jurisdiction = pg_row_str(r);
    u->extra = pg_row_str(r);
    u->registered_at = pg_row_i64(r);
    u->updated_at = pg_row_i64(r);
}

/* UNIT_COLS: the row and its history's counts. */
static int read_unit(struct pg_row *r, struct store_unit *u,
                     struct hrid_err *err)
{
    unit_row(r, u);
    u->last_event_at = pg_row_i64(r);
    u->last_event_seq = pg_row_i64(r);
    u->event_count = pg_row_i64(r);
    return r->oom ? pg_oom(err, "a unit") : STORE_OK;
}

static int read_component(struct pg_row *r, struct store_component *k,
                          struct hrid_err *err)
{
    k->id = pg_row_i64(r);
    k->unit_id = pg_row_i64(r);
    k->slot = pg_row_str(r);
    k->part_no = pg_row_str(r);
    k->supplier = pg_row_str(r);
    k->lot = pg_row_str(r);
    k->serial = pg_row_str(r);
    k->installed_at = pg_row_i64(r);
    k->installed_seq = pg_row_i64(r);
    k->removed_at = pg_row_i64(r);
    k->removed_seq = pg_row_i64(r);
    return r->oom ? pg_oom(err, "a component") : STORE_OK;
}

static int read_event(struct pg_row *r, struct store_event *e,
                      struct hrid_err *err)
{
    e->seq = pg_row_i64(r);
    e->unit_id = pg_row_i64(r);
    pg_row_fixed(r, e->code, sizeof e->code);
    e->type = pg_row_str(r);
    e->at = pg_row_i64(r);
    e->recorded_at = pg_row_i64(r);
    e->actor_id = pg_row_i64(r);
    e->actor_role = pg_row_str(r);
    e->body = pg_row_str(r);
    return r->oom ? pg_oom(err, "an event") : STORE_OK;
}

/* The unit code of the row an event is filed under, "" when none. */
static int read_event_unit(struct pg_row *r, struct store_event *e,
                           struct hrid_err *err)
{
    int rc = read_event(r, e, err);

    if (rc != STORE_OK)
        return rc;
    e->unit_code = pg_row_str(r);
    if (e->unit_code == NULL && !r->oom)
        e->unit_code = "";
    return r->oom ? pg_oom(err, "an event") : STORE_OK;
}

static int read_grant(struct pg_row *r, struct store_grant *g,
                      struct hrid_err *err)
{
    g->id = pg_row_i64(r);
    g->unit_id = pg_row_i64(r);
    g->grantee_id = pg_row_i64(r);
    g->granted_by = pg_row_i64(r);
    g->scope = pg_row_str(r);
    g->valid_from = pg_row_i64(r);
    g->valid_until = pg_row_i64(r);
    g->revoked_at = pg_row_i64(r);
    g->created_at = pg_row_i64(r);
    return r->oom ? pg_oom(err, "a grant") : STORE_OK;
}

static int read_idem(struct pg_row *r, struct store_idem *d,
                     struct hrid_err *err)
{
    d->party_id = pg_row_i64(r);
    d->key = pg_row_str(r);
    pg_row_hash(r, d->req_hash);
    d->status = (int)pg_row_i64(r);
    d->response = pg_row_str(r);
    d->created_at = pg_row_i64(r);
    return r->oom ? pg_oom(err, "an idempotency record") : STORE_OK;
}

/* The end of a single-row read: the row, or NOTFOUND with the subject. */
#define GET_ROW(READ, OUT, ...)                                            \
    do {                                                                   \
        if (res == NULL)                                                   \
            return r;                                                      \
        if (PQntuples(res) > 0) {                                          \
            struct pg_row row_;                                            \
            pg_row_init(&row_, res, 0, a);                                 \
            r = READ(&row_, OUT, err);                                     \
        } else {                                                           \
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0, __VA_ARGS__);      \
        }                                                                  \
        PQclear(res);                                                      \
        if (r != STORE_OK)                                                 \
            memset(OUT, 0, sizeof *(OUT));                                 \
    } while (0)

/* Every row read into rec and handed to the callback; a callback's
 * non-zero result stops the walk and is returned. */
#define LIST_ROWS(READ, REC, EACH)                                         \
    do {                                                                   \
        int n_ = res != NULL ? PQntuples(res) : 0;                         \
        if (res == NULL)                                                   \
            return r;                                                      \
        for (int i_ = 0; i_ < n_ && r == STORE_OK; i_++) {                 \
            struct pg_row row_;                                            \
            pg_row_init(&row_, res, i_, a);                                \
            r = READ(&row_, &(REC), err);                                  \
            if (r == STORE_OK)                                             \
                r = EACH(ctx, &(REC));                                     \
        }                                                                  \
        PQclear(res);                                                      \
    } while (0)

/* The id an INSERT ... RETURNING id gave, or CONFLICT when ON CONFLICT
 * DO NOTHING left nothing to return. */
static int returned_id(PGresult *res, int64_t *id, struct hrid_err *err,
                       const char *subject)
{
    int r = STORE_OK;

    if (PQntuples(res) == 0)
        r = hrid_err_set(err, STORE_CONFLICT, 0, 0, "%s already exists",
                         subject);
    else
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return r;
}

/* ---- operations -------------------------------------------------------- */

static int pg_counter_add(struct store_conn *sc, const char *name,
                          int64_t count, int64_t *value, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    *value = 0;
    pg_args_init(&b);
    pg_str(&b, name);
    pg_i64(&b, count);
    res = pg_run(pgc(sc), &S_COUNTER_NEXT, &b, &r, err, "counter '%s'",
                 or_empty(name));
    if (res == NULL)
        return r;
    *value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

static int pg_party_insert(struct store_conn *sc, struct store_party *p,
                           struct hrid_err *err)
{
    char subject[SUBJECT_MAX];
    struct pg_args b;
    PGresult *res;
    int r;

    if (p->ent_code != NULL)
        snprintf(subject, sizeof subject,
                 "enterprise code '%s' in country '%s'", p->ent_code,
                 or_empty(p->country));
    else
        snprintf(subject, sizeof subject, "party '%s'", or_empty(p->name));
    pg_args_init(&b);
    pg_str(&b, p->kind);
    pg_str(&b, p->name);
    pg_str(&b, p->public_name);
    pg_str(&b, p->country);
    pg_str(&b, p->ent_code);
    pg_str(&b, p->info);
    pg_i64(&b, p->created_at);
    res = pg_run(pgc(sc), &S_PARTY_INSERT, &b, &r, err, "%s", subject);
    if (res == NULL)
        return r;
    return returned_id(res, &p->id, err, subject);
}

static int pg_party_get(struct store_conn *sc, int64_t id, struct arena *a,
                        struct store_party *out, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_i64(&b, id);
    res = pg_run(pgc(sc), &S_PARTY_GET, &b, &r, err, "reading a party");
    GET_ROW(read_party, out, "party %lld not found", (long long)id);
    return r;
}

static int pg_party_by_ent_code(struct store_conn *sc, const char *country,
                                const char *ent_code, struct arena *a,
                                struct store_party *out, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_str(&b, country);
    pg_str(&b, ent_code);
    res = pg_run(pgc(sc), &S_PARTY_BY_ENT, &b, &r, err, "reading a party");
    GET_ROW(read_party, out, "no enterprise with code '%s' in country '%s'",
            or_empty(ent_code), or_empty(country));
    return r;
}

static int pg_party_list(struct store_conn *sc, const char *kind,
                         int64_t after_id, int limit, struct arena *a,
                         store_each_party_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct store_party p;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, after_id);
    pg_limit(&b, limit);
    if (kind != NULL)
        pg_str(&b, kind);
    res = pg_run(pgc(sc), kind != NULL ? &S_PARTY_LIST_KIND : &S_PARTY_LIST,
                 &b, &r, err, "listing parties");
    LIST_ROWS(read_party, p, each);
    return r;
}

static int pg_key_insert(struct store_conn *sc, struct store_key *k,
                         struct hrid_err *err)
{
    char subject[SUBJECT_MAX];
    struct pg_args b;
    PGresult *res;
    int r;

    snprintf(subject, sizeof subject, "api key '%s'", or_empty(k->key_id));
    pg_args_init(&b);
    pg_str(&b, k->key_id);
    pg_blob(&b, k->hash, sizeof k->hash);
    pg_id(&b, k->party_id);
    pg_str(&b, k->role);
    pg_str(&b, k->label);
    pg_i64(&b, k->created_at);
    pg_i64(&b, k->revoked_at);
    res = pg_run(pgc(sc), &S_KEY_INSERT, &b, &r, err, "%s", subject);
    if (res == NULL)
        return r;
    return returned_id(res, &k->id, err, subject);
}

static int pg_key_get(struct store_conn *sc, const char *key_id,
                      struct arena *a, struct store_key *out,
                      struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_str(&b, key_id);
    res = pg_run(pgc(sc), &S_KEY_GET, &b, &r, err, "reading an api key");
    GET_ROW(read_key, out, "api key '%s' not found", or_empty(key_id));
    return r;
}

/* Whether row id exists (1), does not (0), or the read failed (-1). */
static int row_exists(struct pg_conn *c, const struct pg_stmt *s, int64_t id,
                      struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, id);
    res = pg_run(c, s, &b, &r, err, "row %lld", (long long)id);
    if (res == NULL)
        return -1;
    r = PQntuples(res) > 0;
    PQclear(res);
    return r;
}

/* An UPDATE that changed nothing: NOTFOUND when the row does not exist
 * (it was already in the state asked for otherwise). */
static int changed_or_exists(struct pg_conn *c, PGresult *res,
                             const struct pg_stmt *exists, int64_t id,
                             struct hrid_err *err, const char *what)
{
    int64_t n = pg_changes(res);
    int ex;

    PQclear(res);
    if (n > 0)
        return STORE_OK;
    ex = row_exists(c, exists, id, err);
    if (ex < 0)
        return STORE_EIO;
    if (ex == 0)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0, "%s %lld not found",
                            what, (long long)id);
    return STORE_OK;
}

static int pg_key_revoke(struct store_conn *sc, int64_t id, int64_t at,
                         struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, id);
    pg_i64(&b, at);
    res = pg_run(pgc(sc), &S_KEY_REVOKE, &b, &r, err, "api key %lld",
                 (long long)id);
    if (res == NULL)
        return r;
    return changed_or_exists(pgc(sc), res, &S_KEY_EXISTS, id, err,
                             "api key");
}

static int pg_key_list(struct store_conn *sc, int64_t party_id,
                       struct arena *a, store_each_key_fn each, void *ctx,
                       struct hrid_err *err)
{
    struct store_key k;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, party_id);
    res = pg_run(pgc(sc), &S_KEY_LIST, &b, &r, err, "listing api keys");
    LIST_ROWS(read_key, k, each);
    return r;
}

static int pg_model_insert(struct store_conn *sc, struct store_model *m,
                           struct hrid_err *err)
{
    char subject[SUBJECT_MAX];
    struct pg_args b;
    PGresult *res;
    int r;

    snprintf(subject, sizeof subject, "model '%s'", m->model_id);
    pg_args_init(&b);
    pg_str(&b, m->model_id);
    pg_id(&b, m->enterprise_id);
    pg_i64(&b, m->level);
    pg_i64(&b, m->filing_year);
    pg_str(&b, m->name);
    pg_str(&b, m->status);
    pg_str(&b, m->params);
    pg_str(&b, m->filing);
    pg_i64(&b, m->filed_at);
    pg_i64(&b, m->approved_at);
    pg_id(&b, m->approved_by);
    pg_i64(&b, m->withdrawn_at);
    res = pg_run(pgc(sc), &S_MODEL_INSERT, &b, &r, err, "%s", subject);
    if (res == NULL)
        return r;
    return returned_id(res, &m->id, err, subject);
}

static int pg_model_get(struct store_conn *sc, const char *model_id,
                        struct arena *a, struct store_model *out,
                        struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_str(&b, model_id);
    res = pg_run(pgc(sc), &S_MODEL_GET, &b, &r, err, "reading a model");
    GET_ROW(read_model, out, "model '%s' not found", or_empty(model_id));
    return r;
}

static int pg_model_get_row(struct store_conn *sc, int64_t id,
                            struct arena *a, struct store_model *out,
                            struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_i64(&b, id);
    res = pg_run(pgc(sc), &S_MODEL_GET_ROW, &b, &r, err, "reading a model");
    GET_ROW(read_model, out, "model row %lld not found", (long long)id);
    return r;
}

static int pg_model_update(struct store_conn *sc, const struct store_model *m,
                           struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, m->id);
    pg_str(&b, m->name);
    pg_str(&b, m->status);
    pg_str(&b, m->params);
    pg_str(&b, m->filing);
    pg_i64(&b, m->filed_at);
    pg_i64(&b, m->approved_at);
    pg_id(&b, m->approved_by);
    pg_i64(&b, m->withdrawn_at);
    res = pg_run(pgc(sc), &S_MODEL_UPDATE, &b, &r, err, "model '%s'",
                 m->model_id);
    if (res == NULL)
        return r;
    if (pg_changes(res) == 0)
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                         "model row %lld not found", (long long)m->id);
    PQclear(res);
    return r;
}

static int pg_model_list(struct store_conn *sc, int64_t enterprise_id,
                         int64_t after_id, int limit, struct arena *a,
                         store_each_model_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct store_model m;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, after_id);
    pg_limit(&b, limit);
    if (enterprise_id != 0)
        pg_i64(&b, enterprise_id);
    res = pg_run(pgc(sc), enterprise_id != 0 ? &S_MODEL_LIST_ENT
                                             : &S_MODEL_LIST,
                 &b, &r, err, "listing models");
    LIST_ROWS(read_model, m, each);
    return r;
}

static int pg_unit_insert(struct store_conn *sc, struct store_unit *u,
                          struct hrid_err *err)
{
    char subject[SUBJECT_MAX];
    struct pg_args b;
    PGresult *res;
    int r;

    snprintf(subject, sizeof subject, "unit '%s'", u->code);
    pg_args_init(&b);
    pg_str(&b, u->code);
    pg_id(&b, u->model_row);
    pg_id(&b, u->enterprise_id);
    pg_str(&b, u->state);
    pg_str(&b, u->prev_state);
    pg_id(&b, u->custodian_id);
    pg_id(&b, u->owner_id);
    pg_id(&b, u->operator_id);
    pg_str(&b, u->serial);
    pg_str(&b, u->batch);
    pg_str(&b, u->production_date);
    pg_str(&b, u->factory);
    pg_str(&b, u->firmware);
    pg_str(&b, u->device_key);
    pg_str(&b, u->site);
    pg_str(&b, u->scenario);
    pg_str(&b, u->region);
    pg_str(&b, u->market_filing_no);
    pg_str(&b, u->jurisdiction);
    pg_str(&b, u->extra);
    pg_i64(&b, u->registered_at);
    pg_i64(&b, u->updated_at);
    res = pg_run(pgc(sc), &S_UNIT_INSERT, &b, &r, err, "%s", subject);
    if (res == NULL)
        return r;
    return returned_id(res, &u->id, err, subject);
}

/* A unit by code through statement q: S_UNIT_GET, or S_UNIT_VIEW_GET,
 * whose two columns after the row's are the marks (marks not NULL). */
static int unit_by_code(struct store_conn *sc, const struct pg_stmt *q,
                        const char *code, struct arena *a,
                        struct store_unit *out,
                        struct store_unit_marks *marks, struct hrid_err *err)
{
    struct pg_args b;
    struct pg_row row;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_str(&b, code);
    res = pg_run(pgc(sc), q, &b, &r, err, "reading a unit");
    if (res == NULL)
        return r;
    if (PQntuples(res) > 0) {
        pg_row_init(&row, res, 0, a);
        if (marks == NULL) {
            r = read_unit(&row, out, err);
        } else {
            unit_row(&row, out);
            marks->certified = pg_row_i64(&row) != 0;
            marks->recalled = pg_row_i64(&row) != 0;
            r = row.oom ? pg_oom(err, "a unit") : STORE_OK;
        }
    } else {
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0, "unit '%s' not found",
                         or_empty(code));
    }
    PQclear(res);
    if (r != STORE_OK)
        memset(out, 0, sizeof *out);
    return r;
}

static int pg_unit_get(struct store_conn *sc, const char *code,
                       struct arena *a, struct store_unit *out,
                       struct hrid_err *err)
{
    return unit_by_code(sc, &S_UNIT_GET, code, a, out, NULL, err);
}

static int pg_unit_view_get(struct store_conn *sc, const char *code,
                            struct arena *a, struct store_unit *out,
                            struct store_unit_marks *marks,
                            struct hrid_err *err)
{
    memset(marks, 0, sizeof *marks);
    return unit_by_code(sc, &S_UNIT_VIEW_GET, code, a, out, marks, err);
}

/* One statement rewrites the whole row: PostgreSQL writes a new row
 * version whatever changed, so was is not needed. */
static int pg_unit_update(struct store_conn *sc, const struct store_unit *was,
                          const struct store_unit *u, struct hrid_err *err)
{
    struct pg_args b;

    (void)was;
    pg_args_init(&b);
    pg_i64(&b, u->id);
    pg_str(&b, u->state);
    pg_str(&b, u->prev_state);
    pg_id(&b, u->custodian_id);
    pg_id(&b, u->owner_id);
    pg_id(&b, u->operator_id);
    pg_str(&b, u->batch);
    pg_str(&b, u->production_date);
    pg_str(&b, u->factory);
    pg_str(&b, u->firmware);
    pg_str(&b, u->device_key);
    pg_str(&b, u->site);
    pg_str(&b, u->scenario);
    pg_str(&b, u->region);
    pg_str(&b, u->market_filing_no);
    pg_str(&b, u->jurisdiction);
    pg_str(&b, u->extra);
    pg_i64(&b, u->updated_at);
    /* Sent without waiting: core updates the row it has just read in the
     * same transaction, so a missing row is a bug, and the update fails
     * the job at its end if the row is gone. */
    return pg_defer(pgc(sc), &S_UNIT_UPDATE, &b, err, "updating a unit");
}

/* The most selective filter given leads (custodian, then model, then
 * enterprise, then state); the others are checked on the rows it finds. */
static int pg_unit_list(struct store_conn *sc,
                        const struct store_unit_filter *f, struct arena *a,
                        store_each_unit_fn each, void *ctx,
                        struct hrid_err *err)
{
    const struct pg_stmt *s;
    struct store_unit u;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    if (f->custodian_id != 0) {
        s = &S_UNIT_LIST_CUST;
        pg_i64(&b, f->custodian_id);
    } else if (f->model_row != 0) {
        s = &S_UNIT_LIST_MODEL;
        pg_i64(&b, f->model_row);
    } else if (f->enterprise_id != 0) {
        s = &S_UNIT_LIST_ENT;
        pg_i64(&b, f->enterprise_id);
    } else if (f->state != NULL) {
        s = &S_UNIT_LIST_STATE;
        pg_str(&b, f->state);
    } else {
        s = &S_UNIT_LIST;
        pg_str(&b, NULL);
    }
    pg_str(&b, f->after_code != NULL ? f->after_code : "");
    pg_i64(&b, f->enterprise_id);
    pg_i64(&b, f->model_row);
    pg_str(&b, f->state);
    pg_limit(&b, f->limit);
    res = pg_run(pgc(sc), s, &b, &r, err, "listing units");
    LIST_ROWS(read_unit, u, each);
    return r;
}

static int pg_unit_history(struct store_conn *sc, struct store_unit *u,
                           struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    u->last_event_at = u->last_event_seq = u->event_count = 0;
    pg_args_init(&b);
    pg_i64(&b, u->id);
    res = pg_run(pgc(sc), &S_UNIT_HISTORY, &b, &r, err,
                 "the history of unit '%s'", u->code);
    if (res == NULL)
        return r;
    if (PQntuples(res) > 0) {
        u->last_event_at = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        u->last_event_seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        u->event_count = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    return STORE_OK;
}

static int pg_unit_count(struct store_conn *sc, int64_t *n,
                         struct hrid_err *err)
{
    PGresult *res;
    int r;

    *n = 0;
    res = pg_run(pgc(sc), &S_UNIT_COUNT, NULL, &r, err, "counting units");
    if (res == NULL)
        return r;
    *n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

static int pg_component_insert(struct store_conn *sc,
                               struct store_component *k, size_t n,
                               struct hrid_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct pg_args b;
        int r;

        pg_args_init(&b);
        pg_i64(&b, k[i].unit_id);
        pg_str(&b, k[i].slot);
        pg_str(&b, k[i].part_no);
        pg_str(&b, k[i].supplier);
        pg_str(&b, k[i].lot);
        pg_str(&b, k[i].serial);
        pg_i64(&b, k[i].installed_at);
        pg_i64(&b, k[i].installed_seq);
        pg_i64(&b, k[i].removed_at);
        pg_i64(&b, k[i].removed_seq);
        /* Sent without waiting (a bulk body's components are most of its
         * statements): the id stays 0, which no caller reads. */
        k[i].id = 0;
        r = pg_defer(pgc(sc), &S_COMP_INSERT, &b, err, "adding a component");
        if (r != STORE_OK)
            return r;
    }
    return STORE_OK;
}

static int pg_component_remove(struct store_conn *sc, int64_t id, int64_t at,
                               int64_t seq, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, id);
    pg_i64(&b, at);
    pg_i64(&b, seq);
    res = pg_run(pgc(sc), &S_COMP_REMOVE, &b, &r, err, "component %lld",
                 (long long)id);
    if (res == NULL)
        return r;
    return changed_or_exists(pgc(sc), res, &S_COMP_EXISTS, id, err,
                             "component");
}

static int pg_component_list(struct store_conn *sc, int64_t unit_id,
                             bool installed_only, struct arena *a,
                             store_each_component_fn each, void *ctx,
                             struct hrid_err *err)
{
    struct store_component k;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, unit_id);
    res = pg_run(pgc(sc), installed_only ? &S_COMP_LIST_INSTALLED
                                         : &S_COMP_LIST,
                 &b, &r, err, "listing components");
    LIST_ROWS(read_component, k, each);
    return r;
}

static int pg_event_append(struct store_conn *sc, struct store_event *e,
                           struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, e->unit_id);
    pg_str(&b, e->code);
    pg_str(&b, e->type);
    pg_i64(&b, e->at);
    pg_i64(&b, e->recorded_at);
    pg_id(&b, e->actor_id);
    pg_str(&b, e->actor_role);
    pg_str(&b, e->body);
    pg_i64(&b, e->unit_count);
    pg_i64(&b, e->unit_last_at);
    res = pg_run(pgc(sc), &S_EVENT_APPEND, &b, &r, err,
                 "event '%s' of unit '%s'", or_empty(e->type), e->code);
    if (res == NULL)
        return r;
    return returned_id(res, &e->seq, err, "event");
}

static int pg_event_list(struct store_conn *sc, int64_t unit_id,
                         int64_t after_seq, int limit, struct arena *a,
                         store_each_event_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct store_event e;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, unit_id);
    pg_i64(&b, after_seq);
    pg_limit(&b, limit);
    res = pg_run(pgc(sc), &S_EVENT_LIST, &b, &r, err, "listing events");
    memset(&e, 0, sizeof e);
    LIST_ROWS(read_event, e, each);
    return r;
}

static int pg_event_scan(struct store_conn *sc, int64_t after_seq, int limit,
                         bool with_unit, struct arena *a,
                         store_each_event_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct store_event e;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, after_seq);
    pg_limit(&b, limit);
    res = pg_run(pgc(sc), with_unit ? &S_EVENT_SCAN_UNIT : &S_EVENT_SCAN, &b,
                 &r, err, "scanning events");
    memset(&e, 0, sizeof e);
    if (with_unit)
        LIST_ROWS(read_event_unit, e, each);
    else
        LIST_ROWS(read_event, e, each);
    return r;
}

/* ---- the log's tiles --------------------------------------------------- */

static int pg_tile_get(struct store_conn *sc, int level, int64_t index,
                       unsigned char *hashes, int *width,
                       struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    long n;
    int r;

    *width = 0;
    pg_args_init(&b);
    pg_i64(&b, level);
    pg_i64(&b, index);
    res = pg_run(pgc(sc), &S_TILE_GET, &b, &r, err, "log tile %d/%lld",
                 level, (long long)index);
    if (res == NULL)
        return r;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_NOTFOUND;
    }
    n = unhex(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), hashes,
              STORE_TILE_BYTES);
    if (n <= 0 || n % 32 != 0 ||
        (size_t)PQgetlength(res, 0, 0) != 2 + 2 * (size_t)n)
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "log tile %d/%lld holds %d characters, not a whole "
                         "number of hashes from 1 to %d", level,
                         (long long)index, PQgetlength(res, 0, 0),
                         STORE_TILE_WIDTH);
    else
        *width = (int)(n / 32);
    PQclear(res);
    return r;
}

static int pg_tile_put(struct store_conn *sc, int level, int64_t index,
                       const unsigned char *hashes, int width,
                       struct hrid_err *err)
{
    struct pg_args b;

    if (width < 1 || width > STORE_TILE_WIDTH)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "log tile %d/%lld: width %d out of range", level,
                            (long long)index, width);
    pg_args_init(&b);
    pg_i64(&b, level);
    pg_i64(&b, index);
    pg_blob(&b, hashes, (size_t)width * 32);
    return pg_defer(pgc(sc), &S_TILE_PUT, &b, err, "writing a log tile");
}

static int pg_tile_last(struct store_conn *sc, int level, int64_t *index,
                        int *width, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r = STORE_OK;

    *index = 0;
    *width = 0;
    pg_args_init(&b);
    pg_i64(&b, level);
    res = pg_run(pgc(sc), &S_TILE_LAST, &b, &r, err,
                 "last log tile of level %d", level);
    if (res == NULL)
        return r;
    if (PQntuples(res) == 0) {
        r = STORE_NOTFOUND;
    } else {
        *index = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *width = (int)(strtol(PQgetvalue(res, 0, 1), NULL, 10) / 32);
    }
    PQclear(res);
    return r;
}

static int pg_checkpoint_get(struct store_conn *sc, struct arena *a,
                             struct store_checkpoint *out,
                             struct hrid_err *err)
{
    struct pg_row rw;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    res = pg_run(pgc(sc), &S_CHECKPOINT_GET, NULL, &r, err,
                 "the last checkpoint");
    if (res == NULL)
        return r;
    if (PQntuples(res) == 0) {
        r = STORE_NOTFOUND;
    } else {
        pg_row_init(&rw, res, 0, a);
        out->size = pg_row_i64(&rw);
        pg_row_hash(&rw, out->root);
        out->note = pg_row_str(&rw);
        out->signed_at = pg_row_i64(&rw);
        if (rw.oom)
            r = pg_oom(err, "the checkpoint");
    }
    PQclear(res);
    return r;
}

static int pg_checkpoint_put(struct store_conn *sc,
                             const struct store_checkpoint *cp,
                             struct hrid_err *err)
{
    struct pg_args b;

    pg_args_init(&b);
    pg_i64(&b, cp->size);
    pg_blob(&b, cp->root, sizeof cp->root);
    pg_str(&b, cp->note);
    pg_i64(&b, cp->signed_at);
    return pg_defer(pgc(sc), &S_CHECKPOINT_PUT, &b, err,
                    "storing the checkpoint");
}

static int pg_grant_insert(struct store_conn *sc, struct store_grant *g,
                           struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, g->unit_id);
    pg_id(&b, g->grantee_id);
    pg_id(&b, g->granted_by);
    pg_str(&b, g->scope);
    pg_i64(&b, g->valid_from);
    pg_i64(&b, g->valid_until);
    pg_i64(&b, g->revoked_at);
    pg_i64(&b, g->created_at);
    res = pg_run(pgc(sc), &S_GRANT_INSERT, &b, &r, err,
                 "grant to party %lld on unit row %lld",
                 (long long)g->grantee_id, (long long)g->unit_id);
    if (res == NULL)
        return r;
    return returned_id(res, &g->id, err, "grant");
}

static int pg_grant_list(struct store_conn *sc, int64_t unit_id,
                         struct arena *a, store_each_grant_fn each, void *ctx,
                         struct hrid_err *err)
{
    struct store_grant g;
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, unit_id);
    res = pg_run(pgc(sc), &S_GRANT_LIST, &b, &r, err, "listing grants");
    LIST_ROWS(read_grant, g, each);
    return r;
}

static int pg_idem_get(struct store_conn *sc, int64_t party_id,
                       const char *key, struct arena *a,
                       struct store_idem *out, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&b);
    pg_i64(&b, party_id);
    pg_str(&b, key);
    res = pg_run(pgc(sc), &S_IDEM_GET, &b, &r, err,
                 "reading an idempotency record");
    GET_ROW(read_idem, out, "idempotency key '%s' of party %lld not found",
            or_empty(key), (long long)party_id);
    return r;
}

static int pg_idem_put(struct store_conn *sc, const struct store_idem *d,
                       struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    pg_args_init(&b);
    pg_i64(&b, d->party_id);
    pg_str(&b, d->key);
    pg_blob(&b, d->req_hash, sizeof d->req_hash);
    pg_i64(&b, d->status);
    pg_str(&b, d->response);
    pg_i64(&b, d->created_at);
    res = pg_run(pgc(sc), &S_IDEM_PUT, &b, &r, err,
                 "idempotency key '%s' of party %lld", or_empty(d->key),
                 (long long)d->party_id);
    if (res == NULL)
        return r;
    if (pg_changes(res) == 0)
        r = hrid_err_set(err, STORE_CONFLICT, 0, 0,
                         "idempotency key '%s' of party %lld already exists",
                         or_empty(d->key), (long long)d->party_id);
    PQclear(res);
    return r;
}

static int pg_idem_expire(struct store_conn *sc, int64_t before, int limit,
                          int64_t *deleted, struct hrid_err *err)
{
    struct pg_args b;
    PGresult *res;
    int r;

    *deleted = 0;
    pg_args_init(&b);
    pg_i64(&b, before);
    pg_limit(&b, limit);
    res = pg_run(pgc(sc), &S_IDEM_EXPIRE, &b, &r, err,
                 "expiring idempotency records");
    if (res == NULL)
        return r;
    *deleted = pg_changes(res);
    PQclear(res);
    return STORE_OK;
}

/* ---- connections ------------------------------------------------------- */

/* Runs SQL that takes no values (BEGIN, COMMIT, a migration). */
static int exec_sql(struct pg_conn *c, const char *sql, const char *what,
                    struct hrid_err *err)
{
    char msg[HRID_ERR_MSG_MAX];
    PGresult *res = PQexec(c->db, sql);
    ExecStatusType rs = PQresultStatus(res);
    int r = STORE_OK;

    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
        r = hrid_err_set(err, STORE_EIO, 0, 0, "%s: %s", what,
                         conn_msg(c->db, msg, sizeof msg));
    PQclear(res);
    return r;
}

static void conn_free(struct pg_conn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->db);
    free(c);
}

/* Opens a connection.  Every connection of the store speaks UTC and
 * compares codes as bytes, whatever the server's defaults. */
static struct pg_conn *conn_open(struct pg_store *s, struct hrid_err *err)
{
    char msg[HRID_ERR_MSG_MAX];
    struct pg_conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
        return NULL;
    }
    c->base.store = &s->base;
    c->db = PQconnectdb(s->conninfo);
    if (PQstatus(c->db) != CONNECTION_OK) {
        /* libpq's message names the host and port, never the password. */
        hrid_err_set(err, STORE_EIO, 0, 0,
                     "cannot connect to the database: %s",
                     conn_msg(c->db, msg, sizeof msg));
        conn_free(c);
        return NULL;
    }
    if (exec_sql(c, s->read_only
                        ? "SET TIME ZONE 'UTC';"
                          "SET default_transaction_read_only = on"
                        : "SET TIME ZONE 'UTC'",
                 "cannot set up a database connection", err) != STORE_OK) {
        conn_free(c);
        return NULL;
    }
    return c;
}

/* A reader's connection, for store/readers.c. */
static struct store_conn *reader_open(struct store *st, struct hrid_err *err)
{
    struct pg_conn *c = conn_open(pgs(st), err);

    return c != NULL ? &c->base : NULL;
}

static void reader_free(struct store_conn *c)
{
    conn_free(pgc(c));
}

/* Inside a write function the write transaction already gives one view;
 * nested read_begin/read_end pairs share the outermost transaction. */
static int pgs_read_begin(struct store_conn *sc, struct hrid_err *err)
{
    struct pg_conn *c = pgc(sc);

    static const char begin[] =
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

    if (c->writer || c->read_depth++ > 0)
        return STORE_OK;
    if (exec_sql(c, begin, "cannot begin a read transaction", err) ==
        STORE_OK)
        return STORE_OK;
    /* Dropped by the server since the last read (or being dropped: the
     * server's notice can come before the close): once more on a new
     * connection. */
    conn_reset(c);
    if (exec_sql(c, begin, "cannot begin a read transaction", err) ==
        STORE_OK)
        return STORE_OK;
    c->read_depth = 0;
    return STORE_EIO;
}

static void pgs_read_end(struct store_conn *sc)
{
    struct pg_conn *c = pgc(sc);
    struct hrid_err ignored;

    if (c->writer || c->read_depth == 0 || --c->read_depth > 0)
        return;
    if (exec_sql(c, "COMMIT", "", &ignored) != STORE_OK)
        exec_sql(c, "ROLLBACK", "", &ignored);
}

/* ---- writes ------------------------------------------------------------ */

/*
 * The writer's transaction steps (store/writer.h), in pipeline mode.
 * BEGIN takes the sequencer and waits for it; a savepoint and its release
 * are only sent, and travel with the job's first statement that waits;
 * ROLLBACK TO, COMMIT and ROLLBACK are sent after a sync (the server
 * skips what follows an error up to the next sync) and waited for.
 */
static int pgs_step(struct store_conn *sc, enum store_tx what, char *msg,
                    size_t cap)
{
    static const char *const sql[] = {
        [STORE_TX_BEGIN] = "BEGIN ISOLATION LEVEL READ COMMITTED",
        [STORE_TX_SAVEPOINT] = "SAVEPOINT job",
        [STORE_TX_RELEASE] = "RELEASE job",
        [STORE_TX_ROLLBACK_TO] = "ROLLBACK TO job",
        [STORE_TX_COMMIT] = "COMMIT",
        [STORE_TX_ROLLBACK] = "ROLLBACK",
    };
    struct pg_conn *c = pgc(sc);
    char state[6];
    int r;

    switch (what) {
    case STORE_TX_BEGIN:
        /* A connection the server dropped (a restart, a failover) shows
         * at the first statement after it: nothing has run yet, so that
         * BEGIN is tried once more on a new connection. */
        for (int attempt = 0; attempt < 2; attempt++) {
            if (PQstatus(c->db) != CONNECTION_OK || c->db_lost)
                conn_reset(c);
            if (!send_sql(c, sql[what]) ||
                !send_sql(c, "SELECT pg_advisory_xact_lock(" SEQUENCER_LOCK
                          ")")) {
                conn_msg(c->db, msg, cap);
                c->pending = 0;
            } else if (collect(c, NULL, state, msg, cap) == STORE_OK) {
                return 0;
            }
            if (!conn_lost(c->db, state))
                break;
            /* A server going down may say so before it closes. */
            c->db_lost = true;
        }
        return -1;
    case STORE_TX_SAVEPOINT:
    case STORE_TX_RELEASE:
        if (!send_sql(c, sql[what]))
            break;
        return 0;
    case STORE_TX_COMMIT:
        /* The statistics' deltas of the transaction, added into the
         * counts once (see MIGRATIONS), then COMMIT. */
        r = collect(c, NULL, state, msg, cap);
        if (r != STORE_OK || !send_sql(c, "SELECT hrid_fold_stats()") ||
            !send_sql(c, sql[what]))
            return -1;
        return collect(c, NULL, state, msg, cap) == STORE_OK ? 0 : -1;
    case STORE_TX_ROLLBACK_TO:
    case STORE_TX_ROLLBACK:
        if (c->pending > 0)
            collect(c, NULL, state, msg, cap);
        if (what == STORE_TX_ROLLBACK &&
            PQtransactionStatus(c->db) == PQTRANS_IDLE)
            return 0;
        if (!send_sql(c, sql[what]))
            break;
        return collect(c, NULL, state, msg, cap) == STORE_OK ? 0 : -1;
    }
    conn_msg(c->db, msg, cap);
    return -1;
}

/* The end of a job: its deferred writes' results, so that a failed one
 * fails this job and no other. */
static int pgs_finish(struct store_conn *sc, struct hrid_err *err)
{
    struct pg_conn *c = pgc(sc);
    char msg[HRID_ERR_MSG_MAX], state[6];
    int r;

    if (c->pending == 0)
        return STORE_OK;
    r = collect(c, NULL, state, msg, sizeof msg);
    return r == STORE_OK ? r : failed(state, "a write", msg, err);
}

/* Whether the transaction is gone (a COMMIT or ROLLBACK inside a job, or
 * a broken connection).  A failed statement only marks it failed, which
 * the job's ROLLBACK TO repairs.  Asked after finish, with nothing in
 * flight. */
static bool pgs_lost(struct store_conn *sc, char *msg, size_t cap)
{
    struct pg_conn *c = pgc(sc);
    PGTransactionStatusType ts = PQtransactionStatus(c->db);
    char buf[HRID_ERR_MSG_MAX];

    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR ||
        ts == PQTRANS_ACTIVE)
        return false;
    conn_msg(c->db, buf, sizeof buf);
    snprintf(msg, cap, "%s", buf[0] != '\0' ? buf : "the transaction ended "
             "inside a write function");
    return true;
}

static const struct store_writer_ops pgs_writer_ops = {
    pgs_step, pgs_lost, pgs_finish, NULL
};

static void pgs_set_precommit(struct store *st, store_precommit_fn fn,
                              void *arg)
{
    struct pg_store *s = pgs(st);

    if (!s->read_only)
        store_writer_set_precommit(&s->writer, fn, arg);
}

static int pgs_write(struct store *st, store_write_fn fn, void *arg,
                     struct hrid_err *err, store_done_fn done, void *done_arg)
{
    struct pg_store *s = pgs(st);

    if (s->read_only)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "the database is open read-only");
    return store_writer_run(&s->writer, fn, arg, err, done, done_arg);
}

/* ---- open, migrate, close ---------------------------------------------- */

/* Creates the schema or brings it forward, in one transaction under the
 * sequencer lock: nodes that start together migrate once, and a failure
 * halfway leaves the database as it was. */
static int migrate(struct pg_conn *c, struct hrid_err *err)
{
    struct hrid_err ignored;
    PGresult *res;
    int64_t version = 0;
    int r;

    r = exec_sql(c, "BEGIN;"
                    "SELECT pg_advisory_xact_lock(" SEQUENCER_LOCK ");"
                    "CREATE TABLE IF NOT EXISTS meta ("
                    "  key   TEXT PRIMARY KEY,"
                    "  value BIGINT NOT NULL)",
                 "cannot read the schema version", err);
    if (r != STORE_OK)
        goto out;
    res = PQexec(c->db, "SELECT value FROM meta"
                        " WHERE key = 'schema_version'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot read the schema version: %s",
                         conn_msg(c->db, ignored.msg, sizeof ignored.msg));
        PQclear(res);
        goto out;
    }
    if (PQntuples(res) > 0)
        version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (version > SCHEMA_VERSION || version < 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "the database has schema version %lld, newer than "
                         "the %lld this program knows: upgrade it",
                         (long long)version, (long long)SCHEMA_VERSION);
        goto out;
    }
    for (int64_t v = version; v < SCHEMA_VERSION && r == STORE_OK; v++) {
        char what[64];

        snprintf(what, sizeof what, "schema migration %lld failed",
                 (long long)(v + 1));
        r = exec_sql(c, MIGRATIONS[v], what, err);
    }
    if (r == STORE_OK && version < SCHEMA_VERSION) {
        char sql[160];

        snprintf(sql, sizeof sql,
                 "INSERT INTO meta (key, value) VALUES ('schema_version', "
                 "%lld) ON CONFLICT (key) DO UPDATE SET value = "
                 "excluded.value", (long long)SCHEMA_VERSION);
        r = exec_sql(c, sql, "cannot record the schema version", err);
    }
    if (r == STORE_OK)
        r = exec_sql(c, "COMMIT", "cannot commit the schema", err);
out:
    if (r != STORE_OK && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        exec_sql(c, "ROLLBACK", "", &ignored);
    return r;
}

/* A read-only store migrates nothing: the schema must be this program's. */
static int check_version(struct pg_conn *c, struct hrid_err *err)
{
    struct hrid_err ignored;
    PGresult *res = PQexec(c->db, "SELECT value FROM meta"
                                  " WHERE key = 'schema_version'");
    int r = STORE_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0)
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "the database holds no registry: %s",
                         PQresultStatus(res) == PGRES_TUPLES_OK
                             ? "no schema version"
                             : conn_msg(c->db, ignored.msg,
                                        sizeof ignored.msg));
    else if (strtoll(PQgetvalue(res, 0, 0), NULL, 10) != SCHEMA_VERSION)
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "the database has schema version %s, not %lld: "
                         "open it with hridd once to migrate it",
                         PQgetvalue(res, 0, 0), (long long)SCHEMA_VERSION);
    PQclear(res);
    return r;
}

/*
 * Takes this backend's own option (mode=ro) off the uri's query
 * and keeps the rest for libpq.  Options are separated by '&', and the
 * audit appends "?mode=ro" even to a uri that has a query already.
 */
static int parse_uri(struct pg_store *s, const char *uri,
                     struct hrid_err *err)
{
    const char *q = strchr(uri, '?');
    size_t cap = strlen(uri) + 1;
    char *out = malloc(cap), *o;
    const char *p, *end;

    if (out == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
    if (q == NULL) {
        memcpy(out, uri, cap);
        s->conninfo = out;
        return STORE_OK;
    }
    memcpy(out, uri, (size_t)(q - uri));
    o = out + (q - uri);
    for (p = q + 1; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
        size_t len;

        end = p + strcspn(p, "&?");
        len = (size_t)(end - p);
        if (len == 7 && strncmp(p, "mode=ro", 7) == 0) {
            s->read_only = true;
        } else if (len > 0) {
            char sep = o == out + (q - uri) ? '?' : '&';

            *o++ = sep;
            memcpy(o, p, len);
            o += len;
        }
    }
    *o = '\0';
    s->conninfo = out;
    return STORE_OK;
}

static void pgs_close(struct store *st)
{
    struct pg_store *s = pgs(st);

    if (s == NULL)
        return;
    store_writer_stop(&s->writer);
    store_readers_close(&s->base);
    conn_free(s->wconn);
    free(s->conninfo);
    free(s);
}

static int pgs_open(const char *uri, struct store **out,
                    struct hrid_err *err)
{
    struct pg_store *s = calloc(1, sizeof *s);
    struct pg_conn *c = NULL;
    int r;

    *out = NULL;
    if (s == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
    s->base.ops = &store_pg_ops;
    r = parse_uri(s, uri, err);
    if (r != STORE_OK)
        goto fail;
    if (store_readers_init(&s->base, reader_open, reader_free) != 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot create a thread key or lock");
        goto fail;
    }
    c = conn_open(s, err);
    if (c == NULL) {
        r = STORE_EIO;
        goto fail;
    }
    r = s->read_only ? check_version(c, err) : migrate(c, err);
    if (r != STORE_OK || s->read_only) {
        conn_free(c);
        if (r != STORE_OK)
            goto fail;
        *out = &s->base;
        return STORE_OK;
    }
    s->wconn = c;
    c->writer = true;
    c->pipeline = PQenterPipelineMode(c->db) == 1;
    if (store_writer_start(&s->writer, &pgs_writer_ops, &c->base,
                           s->base.readers.key, WRITE_BATCH_MAX) != 0) {
        r = hrid_err_set(err, STORE_EIO, 0, 0,
                         "cannot start the writer thread");
        goto fail;
    }
    *out = &s->base;
    return STORE_OK;
fail:
    pgs_close(&s->base);
    return r;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pgs_open,
    .close = pgs_close,
    .conn = store_readers_get,
    .write = pgs_write,
    .set_precommit = pgs_set_precommit,
    .read_begin = pgs_read_begin,
    .read_end = pgs_read_end,
    .counter_add = pg_counter_add,
    .party_insert = pg_party_insert,
    .party_get = pg_party_get,
    .party_by_ent_code = pg_party_by_ent_code,
    .party_list = pg_party_list,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_revoke = pg_key_revoke,
    .key_list = pg_key_list,
    .model_insert = pg_model_insert,
    .model_get = pg_model_get,
    .model_get_row = pg_model_get_row,
    .model_update = pg_model_update,
    .model_list = pg_model_list,
    .unit_insert = pg_unit_insert,
    .unit_get = pg_unit_get,
    .unit_view_get = pg_unit_view_get,
    .unit_history = pg_unit_history,
    .unit_update = pg_unit_update,
    .unit_list = pg_unit_list,
    .unit_count = pg_unit_count,
    .component_insert = pg_component_insert,
    .component_remove = pg_component_remove,
    .component_list = pg_component_list,
    .event_append = pg_event_append,
    .event_list = pg_event_list,
    .event_scan = pg_event_scan,
    .tile_get = pg_tile_get,
    .tile_put = pg_tile_put,
    .tile_last = pg_tile_last,
    .checkpoint_get = pg_checkpoint_get,
    .checkpoint_put = pg_checkpoint_put,
    .grant_insert = pg_grant_insert,
    .grant_list = pg_grant_list,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_expire = pg_idem_expire,
    .cert_insert = pg_cert_insert,
    .cert_get = pg_cert_get,
    .cert_revoke = pg_cert_revoke,
    .cert_list = pg_cert_list,
    .recall_insert = pg_recall_insert,
    .recall_get = pg_recall_get,
    .recall_close = pg_recall_close,
    .recall_set_notify = pg_recall_set_notify,
    .recall_notifying = pg_recall_notifying,
    .recall_unit_notified = pg_recall_unit_notified,
    .recall_reach = pg_recall_reach,
    .recall_unit_drop = pg_recall_unit_drop,
    .recall_unit_remedied = pg_recall_unit_remedied,
    .recall_unit_list = pg_recall_unit_list,
    .recall_counts = pg_recall_counts,
    .incident_insert = pg_incident_insert,
    .incident_list = pg_incident_list,
    .stats = pg_stats,
    .tel_put = pg_tel_put,
    .tel_range = pg_tel_range,
    .tel_units = pg_tel_units,
    .tel_delete = pg_tel_delete,
    .rule_insert = pg_rule_insert,
    .rule_list = pg_rule_list,
    .alert_find = pg_alert_find,
    .alert_put = pg_alert_put,
    .alert_list = pg_alert_list,
    .rule_list_metric = pg_rule_list_metric,
    .seen_put = pg_seen_put,
    .seen_silent = pg_seen_silent,
    .zone_insert = pg_zone_insert,
    .zone_get = pg_zone_get,
    .fence_put = pg_fence_put,
    .fence_get = pg_fence_get,
    .violation_put = pg_violation_put,
    .violation_list = pg_violation_list,
    .snapshot_put = pg_snapshot_put,
    .snapshot_before = pg_snapshot_before,
};
