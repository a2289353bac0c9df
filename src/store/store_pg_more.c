/*
 * store/store_pg_more.c - the PostgreSQL backend's accountability,
 * telemetry, alert and fence operations (store/store.h).
 *
 * Layer: src/store.  Knows rows and SQL, never the registry's rules.
 * store_pg.c owns the connections, the transactions, the schema and the
 * helpers of store_pg_int.h; this file only runs statements through them,
 * one operation per function, with the semantics of store_sqlite.c's
 * counterparts (sq_cert_insert ... sq_snapshot_before): the same statuses,
 * the same messages, and listings that call back once per row until a
 * callback returns non-zero, which becomes the listing's result.
 *
 * Invariants:
 *   - SQL is fixed text; values are only ever sent as parameters.  They
 *     go untyped (as text), so every parameter PostgreSQL cannot type from
 *     a column (one compared with a constant, or tested for NULL) carries
 *     a cast;
 *   - inside a write transaction an SQL error aborts the whole
 *     transaction, so a write that may meet an existing key says what to
 *     do about it (ON CONFLICT) instead of failing;
 *   - a party id of 0 ("none") is sent as NULL (pg_id) and NULL reads
 *     back as 0, as in the SQLite backend.
 */
#include <string.h>

#include "store/store_cols.h"
#include "store/store_pg_int.h"

/* ---- statements -------------------------------------------------------- */

enum {
    M_CERT_INSERT = PG_BASE_MORE, M_CERT_GET, M_CERT_REVOKE, M_CERT_LIST,
    M_RECALL_INSERT, M_RECALL_GET, M_RECALL_CLOSE, M_RECALL_SET_NOTIFY,
    M_RECALL_NOTIFYING, M_REACH_ENT, M_REACH_MODEL, M_REACH_PART,
    M_REACH_LOTS, M_RECALL_TALLY, M_RU_REMEDIED, M_RU_NOTIFIED, M_RU_DROP,
    M_RU_LIST,
    M_RU_LIST_UNIT, M_RU_COUNTS,
    M_INCIDENT_INSERT, M_INCIDENT_LIST,
    M_STATS_UNITS, M_STATS_MONTHS, M_STATS_INCIDENTS, M_STATS_RECALLS,
    M_STATS_ALERTS,
    M_TEL_INSERT, M_TEL_REPLACE, M_TEL_RANGE, M_TEL_RANGE_ANY, M_TEL_UNITS,
    M_TEL_DELETE,
    M_RULE_INSERT, M_RULE_LIST, M_ALERT_FIND, M_ALERT_INSERT,
    M_ALERT_UPDATE, M_ALERT_LIST, M_RULE_LIST_METRIC, M_SEEN_PUT,
    M_SEEN_SILENT,
    M_ZONE_INSERT, M_ZONE_GET, M_FENCE_PUT, M_FENCE_GET, M_VIOL_INSERT,
    M_VIOL_UPDATE, M_VIOL_LIST,
    M_SNAP_PUT, M_SNAP_BEFORE,
    M_END
};

_Static_assert(M_END <= PG_STMT_MAX, "store_pg_more.c: too many statements");

static const struct pg_stmt S_CERT_INSERT = { M_CERT_INSERT,
    "INSERT INTO certifications (model_row, unit_id, scheme, tier,"
    " scenarios, conditions, limits, valid_from, valid_until, issuer_id,"
    " created_at, revoked_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " RETURNING id" };
static const struct pg_stmt S_CERT_GET = { M_CERT_GET,
    "SELECT " CERT_COLS " FROM certifications WHERE id = $1" };
/* One statement for SQLite's two (update, then check that the row
 * exists): a revoked certification keeps its first revocation time but is
 * still counted as updated, so no row updated means no such row. */
static const struct pg_stmt S_CERT_REVOKE = { M_CERT_REVOKE,
    "UPDATE certifications SET revoked_at = CASE WHEN revoked_at = 0"
    " THEN $2::bigint ELSE revoked_at END WHERE id = $1" };
static const struct pg_stmt S_CERT_LIST = { M_CERT_LIST,
    "SELECT " CERT_COLS " FROM certifications WHERE model_row = $1"
    " UNION ALL SELECT " CERT_COLS " FROM certifications"
    " WHERE unit_id = $2 ORDER BY 1" };

static const struct pg_stmt S_RECALL_INSERT = { M_RECALL_INSERT,
    "INSERT INTO recalls (enterprise_id, created_by, ordered, defect,"
    " hazard, remedy, target, status, created_at, closed_at, notify_after)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id" };
static const struct pg_stmt S_RECALL_GET = { M_RECALL_GET,
    "SELECT " RECALL_COLS " FROM recalls WHERE id = $1" };
static const struct pg_stmt S_RECALL_CLOSE = { M_RECALL_CLOSE,
    "UPDATE recalls SET status = 'closed', closed_at = $2 WHERE id = $1" };
static const struct pg_stmt S_RECALL_SET_NOTIFY = { M_RECALL_SET_NOTIFY,
    "UPDATE recalls SET notify_after = $2 WHERE id = $1" };
static const struct pg_stmt S_RECALL_NOTIFYING = { M_RECALL_NOTIFYING,
    "SELECT " RECALL_COLS " FROM recalls WHERE notify_after >= 0"
    " ORDER BY id LIMIT 1" };
/* A recall's counts move with each change to its rows (recall_tally). */
static const struct pg_stmt S_RECALL_TALLY = { M_RECALL_TALLY,
    "UPDATE recalls SET affected = affected + $2, remedied = remedied + $3,"
    " owed = owed + $4 WHERE id = $1" };
static const struct pg_stmt S_RU_REMEDIED = { M_RU_REMEDIED,
    "UPDATE recall_units SET state = 'remedied', remedied_seq = $3,"
    " remedied_at = $4 WHERE recall_id = $1 AND unit_id = $2"
    " AND state = 'notified'" };
/* As in SQLite: $1 the recall, $2 the maker, $3-$6 the batch and date
 * ranges (compared bytewise), $7 the model (0: any), $8-$12 the part,
 * supplier, installed now, lot range. */
#define REACH_INSERT                                                       \
    "INSERT INTO recall_units (recall_id, unit_id, code, state)"            \
    " SELECT $1, u.id, u.code, 'notified' FROM units u WHERE "
#define REACH_UNIT                                                         \
    " AND u.enterprise_id = $2"                                             \
    " AND u.state NOT IN ('scrapped', 'recycled', 'voided')"                \
    " AND ($3::text IS NULL OR u.batch COLLATE \"C\" >= $3)"                \
    " AND ($4::text IS NULL OR u.batch COLLATE \"C\" <= $4)"                \
    " AND ($5::text IS NULL OR u.production_date COLLATE \"C\" >= $5)"      \
    " AND ($6::text IS NULL OR u.production_date COLLATE \"C\" <= $6)"      \
    " AND ($7::bigint = 0 OR u.model_row = $7)"
#define REACH_PART                                                         \
    "u.id IN (SELECT k.unit_id FROM components k WHERE k.part_no = $8"      \
    " AND ($9::text IS NULL OR k.supplier = $9)"                            \
    " AND ($10::bigint = 0 OR k.removed_at = 0)"
static const struct pg_stmt S_REACH_ENT = { M_REACH_ENT,
    REACH_INSERT "u.enterprise_id = $2" REACH_UNIT };
static const struct pg_stmt S_REACH_MODEL = { M_REACH_MODEL,
    REACH_INSERT "u.model_row = $7" REACH_UNIT };
static const struct pg_stmt S_REACH_PART = { M_REACH_PART,
    REACH_INSERT REACH_PART ")" REACH_UNIT };
static const struct pg_stmt S_REACH_LOTS = { M_REACH_LOTS,
    REACH_INSERT REACH_PART " AND k.lot >= $11 AND k.lot <= $12)"
    REACH_UNIT };
static const struct pg_stmt S_RU_DROP = { M_RU_DROP,
    "DELETE FROM recall_units WHERE recall_id = $1 AND unit_id = $2"
    " AND notified_seq = 0" };
static const struct pg_stmt S_RU_NOTIFIED = { M_RU_NOTIFIED,
    "UPDATE recall_units SET notified_seq = $3"
    " WHERE recall_id = $1 AND unit_id = $2 AND notified_seq = 0" };
static const struct pg_stmt S_RU_LIST = { M_RU_LIST,
    "SELECT " RU_COLS " FROM recall_units"
    " WHERE recall_id = $1 AND unit_id > $3"
    " AND ($2::text IS NULL OR state = $2::text)"
    " ORDER BY unit_id LIMIT $4" };
static const struct pg_stmt S_RU_LIST_UNIT = { M_RU_LIST_UNIT,
    "SELECT " RU_COLS " FROM recall_units"
    " WHERE unit_id = $1 AND recall_id > $3"
    " AND ($2::text IS NULL OR state = $2::text)"
    " ORDER BY recall_id LIMIT $4" };
static const struct pg_stmt S_RU_COUNTS = { M_RU_COUNTS,
    "SELECT affected, remedied, owed FROM recalls WHERE id = $1" };

static const struct pg_stmt S_INCIDENT_INSERT = { M_INCIDENT_INSERT,
    "INSERT INTO incidents (unit_id, code, model_row, enterprise_id, at,"
    " recorded_at, severity, kind, place, description, reporter_id,"
    " verified, contact, event_seq, snapshot)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
    " $15) RETURNING id" };
static const struct pg_stmt S_INCIDENT_LIST = { M_INCIDENT_LIST,
    "SELECT " INCIDENT_COLS " FROM incidents WHERE id > $1"
    " AND ($2::bigint = 0 OR unit_id = $2::bigint)"
    " AND ($3::bigint = 0 OR model_row = $3::bigint)"
    " AND ($4::bigint = 0 OR enterprise_id = $4::bigint)"
    " AND ($5::bigint < 0 OR verified = $5::bigint)"
    " ORDER BY id LIMIT $6" };

/* SQLite returns the unordered statistics in key order (it walks the
 * primary key or groups by it); PostgreSQL promises no order, so each
 * names it, comparing text as bytes as SQLite does. */
static const struct pg_stmt S_STATS_UNITS = { M_STATS_UNITS,
    "SELECT enterprise_id, model_row, state, region, n, 0"
    " FROM stat_units WHERE n > 0"
    " AND ($1::bigint = 0 OR enterprise_id = $1::bigint)"
    " ORDER BY enterprise_id, model_row, state COLLATE \"C\","
    " region COLLATE \"C\"" };
static const struct pg_stmt S_STATS_MONTHS = { M_STATS_MONTHS,
    "SELECT enterprise_id, model_row, month, NULL, registered, released"
    " FROM stat_months WHERE ($1::bigint = 0 OR enterprise_id = $1::bigint)"
    " ORDER BY month COLLATE \"C\", enterprise_id, model_row" };
static const struct pg_stmt S_STATS_INCIDENTS = { M_STATS_INCIDENTS,
    "SELECT enterprise_id, model_row, NULL, NULL, count(*), sum(verified)"
    " FROM incidents WHERE ($1::bigint = 0 OR enterprise_id = $1::bigint)"
    " GROUP BY enterprise_id, model_row ORDER BY enterprise_id, model_row" };
static const struct pg_stmt S_STATS_RECALLS = { M_STATS_RECALLS,
    "SELECT enterprise_id, id, status, NULL, affected, remedied FROM recalls"
    " WHERE ($1::bigint = 0 OR enterprise_id = $1::bigint) ORDER BY id" };
static const struct pg_stmt S_STATS_ALERTS = { M_STATS_ALERTS,
    "SELECT enterprise_id, model_row, NULL, NULL, count(*),"
    " count(DISTINCT unit_id) FROM alerts WHERE state = 'open'"
    " AND ($1::bigint = 0 OR enterprise_id = $1::bigint)"
    " GROUP BY enterprise_id, model_row ORDER BY enterprise_id, model_row" };

static const struct pg_stmt S_TEL_INSERT = { M_TEL_INSERT,
    "INSERT INTO telemetry (kind, unit_id, a, b, data)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (kind, unit_id, a, b) DO NOTHING" };
static const struct pg_stmt S_TEL_REPLACE = { M_TEL_REPLACE,
    "INSERT INTO telemetry (kind, unit_id, a, b, data)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (kind, unit_id, a, b) DO UPDATE SET data = excluded.data" };
static const struct pg_stmt S_TEL_RANGE = { M_TEL_RANGE,
    "SELECT unit_id, a, b, data FROM telemetry"
    " WHERE kind = $1 AND unit_id = $2 AND a = $3"
    " AND b >= $4 AND b < $5 ORDER BY b" };
static const struct pg_stmt S_TEL_RANGE_ANY = { M_TEL_RANGE_ANY,
    "SELECT unit_id, a, b, data FROM telemetry"
    " WHERE kind = $1 AND unit_id = $2 AND $3::bigint = -1"
    " AND b >= $4 AND b < $5 ORDER BY a, b" };
static const struct pg_stmt S_TEL_UNITS = { M_TEL_UNITS,
    "SELECT DISTINCT unit_id FROM telemetry"
    " WHERE kind = $1 AND unit_id > $3 AND b < $2"
    " ORDER BY unit_id LIMIT $4" };
static const struct pg_stmt S_TEL_DELETE = { M_TEL_DELETE,
    "DELETE FROM telemetry WHERE kind = $1 AND unit_id = $2"
    " AND b >= $3 AND b < $4" };

static const struct pg_stmt S_RULE_INSERT = { M_RULE_INSERT,
    "INSERT INTO alert_rules (enterprise_id, model_row, metric, op,"
    " threshold, for_ms, created_by, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id" };
static const struct pg_stmt S_RULE_LIST = { M_RULE_LIST,
    "SELECT " RULE_COLS " FROM alert_rules WHERE enterprise_id = $1"
    " AND model_row IN (0, $2::bigint) ORDER BY id" };
static const struct pg_stmt S_ALERT_FIND = { M_ALERT_FIND,
    "SELECT " ALERT_COLS " FROM alerts WHERE rule_id = $1"
    " AND unit_id = $2 AND metric = $3 AND state IN ('pending', 'open')" };
static const struct pg_stmt S_ALERT_INSERT = { M_ALERT_INSERT,
    "INSERT INTO alerts (rule_id, unit_id, code, model_row, enterprise_id,"
    " metric, state, since, opened_at, cleared_at, value)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id" };
static const struct pg_stmt S_ALERT_UPDATE = { M_ALERT_UPDATE,
    "UPDATE alerts SET state = $2, since = $3, opened_at = $4,"
    " cleared_at = $5, value = $6 WHERE id = $1" };
static const struct pg_stmt S_ALERT_LIST = { M_ALERT_LIST,
    "SELECT " ALERT_COLS " FROM alerts WHERE id > $1"
    " AND ($2::bigint = 0 OR unit_id = $2::bigint)"
    " AND ($3::bigint = 0 OR model_row = $3::bigint)"
    " AND ($4::bigint = 0 OR enterprise_id = $4::bigint)"
    " AND (CASE WHEN $5::text IS NULL THEN state IN ('open', 'cleared')"
    " ELSE state = $5::text END) ORDER BY id LIMIT $6" };
static const struct pg_stmt S_RULE_LIST_METRIC = { M_RULE_LIST_METRIC,
    "SELECT " RULE_COLS " FROM alert_rules WHERE metric = $1 AND id > $2"
    " ORDER BY id LIMIT $3" };
static const struct pg_stmt S_SEEN_PUT = { M_SEEN_PUT,
    "INSERT INTO unit_seen (unit_id, enterprise_id, model_row, t)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (unit_id) DO UPDATE SET t = excluded.t"
    " WHERE excluded.t > unit_seen.t" };
static const struct pg_stmt S_SEEN_SILENT = { M_SEEN_SILENT,
    "SELECT s.unit_id, u.code, s.enterprise_id, s.model_row, s.t"
    " FROM unit_seen s JOIN units u ON u.id = s.unit_id"
    " WHERE s.enterprise_id = $1"
    " AND ($2::bigint = 0 OR s.model_row = $2::bigint)"
    " AND s.t < $4 AND s.unit_id > $7 AND u.state = $3"
    " AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.rule_id = $5"
    " AND a.unit_id = s.unit_id AND a.metric = $6"
    " AND a.state IN ('pending', 'open'))"
    " ORDER BY s.unit_id LIMIT $8" };

static const struct pg_stmt S_ZONE_INSERT = { M_ZONE_INSERT,
    "INSERT INTO zones (name, polygon, created_by, created_at)"
    " VALUES ($1, $2, $3, $4) RETURNING id" };
static const struct pg_stmt S_ZONE_GET = { M_ZONE_GET,
    "SELECT id, name, polygon, created_by, created_at FROM zones"
    " WHERE id = $1" };
static const struct pg_stmt S_FENCE_PUT = { M_FENCE_PUT,
    "INSERT INTO fences (unit_id, zones, scenarios, speed_limit, set_by,"
    " set_at) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (unit_id) DO UPDATE SET zones = excluded.zones,"
    " scenarios = excluded.scenarios, speed_limit = excluded.speed_limit,"
    " set_by = excluded.set_by, set_at = excluded.set_at" };
static const struct pg_stmt S_FENCE_GET = { M_FENCE_GET,
    "SELECT unit_id, zones, scenarios, speed_limit, set_by, set_at"
    " FROM fences WHERE unit_id = $1" };
static const struct pg_stmt S_VIOL_INSERT = { M_VIOL_INSERT,
    "INSERT INTO fence_violations (unit_id, code, enterprise_id, state,"
    " first_t, last_t, lat, lon, closed_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id" };
static const struct pg_stmt S_VIOL_UPDATE = { M_VIOL_UPDATE,
    "UPDATE fence_violations SET state = $2, last_t = $3, lat = $4,"
    " lon = $5, closed_at = $6 WHERE id = $1" };
static const struct pg_stmt S_VIOL_LIST = { M_VIOL_LIST,
    "SELECT " VIOL_COLS " FROM fence_violations WHERE id > $3"
    " AND ($1::bigint = 0 OR unit_id = $1::bigint)"
    " AND ($2::text IS NULL OR state = $2::text)"
    " ORDER BY id LIMIT $4" };

static const struct pg_stmt S_SNAP_PUT = { M_SNAP_PUT,
    "INSERT INTO unit_snapshots (unit_id, seq, at, state)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (unit_id, seq) DO UPDATE SET at = excluded.at,"
    " state = excluded.state" };
static const struct pg_stmt S_SNAP_BEFORE = { M_SNAP_BEFORE,
    "SELECT seq, at, state FROM unit_snapshots"
    " WHERE unit_id = $1 AND at <= $2 ORDER BY seq DESC LIMIT 1" };

/* ---- record readers ---------------------------------------------------- */

/* A string for a message: NULL prints as nothing rather than "(null)". */
static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int read_cert(PGresult *res, int row, struct arena *a,
                     struct store_cert *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->model_row = pg_row_i64(&r);
    k->unit_id = pg_row_i64(&r);
    k->scheme = pg_row_str(&r);
    k->tier = pg_row_str(&r);
    k->scenarios = pg_row_str(&r);
    k->conditions = pg_row_str(&r);
    k->limits = pg_row_str(&r);
    k->valid_from = pg_row_i64(&r);
    k->valid_until = pg_row_i64(&r);
    k->issuer_id = pg_row_i64(&r);
    k->created_at = pg_row_i64(&r);
    k->revoked_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a certification") : STORE_OK;
}

static int read_recall(PGresult *res, int row, struct arena *a,
                       struct store_recall *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->enterprise_id = pg_row_i64(&r);
    k->created_by = pg_row_i64(&r);
    k->ordered = pg_row_i64(&r) != 0;
    k->defect = pg_row_str(&r);
    k->hazard = pg_row_str(&r);
    k->remedy = pg_row_str(&r);
    k->target = pg_row_str(&r);
    k->status = pg_row_str(&r);
    k->created_at = pg_row_i64(&r);
    k->closed_at = pg_row_i64(&r);
    k->notify_after = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a recall") : STORE_OK;
}

static int read_recall_unit(PGresult *res, int row, struct arena *a,
                            struct store_recall_unit *k,
                            struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->recall_id = pg_row_i64(&r);
    k->unit_id = pg_row_i64(&r);
    pg_row_fixed(&r, k->code, sizeof k->code);
    k->state = pg_row_str(&r);
    k->notified_seq = pg_row_i64(&r);
    k->remedied_seq = pg_row_i64(&r);
    k->remedied_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a recall's unit") : STORE_OK;
}

static int read_incident(PGresult *res, int row, struct arena *a,
                         struct store_incident *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->unit_id = pg_row_i64(&r);
    pg_row_fixed(&r, k->code, sizeof k->code);
    k->model_row = pg_row_i64(&r);
    k->enterprise_id = pg_row_i64(&r);
    k->at = pg_row_i64(&r);
    k->recorded_at = pg_row_i64(&r);
    k->severity = pg_row_str(&r);
    k->kind = pg_row_str(&r);
    k->place = pg_row_str(&r);
    k->description = pg_row_str(&r);
    k->reporter_id = pg_row_i64(&r);
    k->verified = pg_row_i64(&r) != 0;
    k->contact = pg_row_str(&r);
    k->event_seq = pg_row_i64(&r);
    k->snapshot = pg_row_str(&r);
    return r.oom ? pg_oom(err, "an incident") : STORE_OK;
}

static int read_stat(PGresult *res, int row, struct arena *a,
                     struct store_stat *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->enterprise_id = pg_row_i64(&r);
    k->model_row = pg_row_i64(&r);
    k->k1 = pg_row_str(&r);
    k->k2 = pg_row_str(&r);
    k->n1 = pg_row_i64(&r);
    k->n2 = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a statistic") : STORE_OK;
}

/* The blob is decoded into the arena a (see pg_tel_range). */
static int read_tel(PGresult *res, int row, struct arena *a,
                    struct store_tel *t, struct hrid_err *err)
{
    struct pg_row r;
    const void *p;

    pg_row_init(&r, res, row, a);
    t->unit_id = pg_row_i64(&r);
    t->a = pg_row_i64(&r);
    t->b = pg_row_i64(&r);
    p = pg_row_blob(&r, &t->len);
    t->data = p != NULL ? p : "";
    if (p == NULL)
        t->len = 0;
    return r.oom ? pg_oom(err, "telemetry") : STORE_OK;
}

static int read_tel_unit(PGresult *res, int row, struct arena *a,
                         struct store_tel *t, struct hrid_err *err)
{
    struct pg_row r;

    (void)err;
    memset(t, 0, sizeof *t);
    pg_row_init(&r, res, row, a);
    t->unit_id = pg_row_i64(&r);
    return STORE_OK;
}

static int read_rule(PGresult *res, int row, struct arena *a,
                     struct store_alert_rule *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->enterprise_id = pg_row_i64(&r);
    k->model_row = pg_row_i64(&r);
    k->metric = pg_row_str(&r);
    k->op = pg_row_str(&r);
    k->threshold = pg_row_f64(&r);
    k->for_ms = pg_row_i64(&r);
    k->created_by = pg_row_i64(&r);
    k->created_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "an alert rule") : STORE_OK;
}

static int read_alert(PGresult *res, int row, struct arena *a,
                      struct store_alert *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->rule_id = pg_row_i64(&r);
    k->unit_id = pg_row_i64(&r);
    pg_row_fixed(&r, k->code, sizeof k->code);
    k->model_row = pg_row_i64(&r);
    k->enterprise_id = pg_row_i64(&r);
    k->metric = (int)pg_row_i64(&r);
    k->state = pg_row_str(&r);
    k->since = pg_row_i64(&r);
    k->opened_at = pg_row_i64(&r);
    k->cleared_at = pg_row_i64(&r);
    k->value = pg_row_f64(&r);
    return r.oom ? pg_oom(err, "an alert") : STORE_OK;
}

static int read_seen(PGresult *res, int row, struct arena *a,
                     struct store_seen *s, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    s->unit_id = pg_row_i64(&r);
    pg_row_fixed(&r, s->code, sizeof s->code);
    s->enterprise_id = pg_row_i64(&r);
    s->model_row = pg_row_i64(&r);
    s->t = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a unit's last report") : STORE_OK;
}

static int read_zone(PGresult *res, int row, struct arena *a,
                     struct store_zone *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->name = pg_row_str(&r);
    k->polygon = pg_row_str(&r);
    k->created_by = pg_row_i64(&r);
    k->created_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a zone") : STORE_OK;
}

static int read_fence(PGresult *res, int row, struct arena *a,
                      struct store_fence *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->unit_id = pg_row_i64(&r);
    k->zones = pg_row_str(&r);
    k->scenarios = pg_row_str(&r);
    k->speed_limit = pg_row_f64(&r);
    k->set_by = pg_row_i64(&r);
    k->set_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a fence") : STORE_OK;
}

static int read_violation(PGresult *res, int row, struct arena *a,
                          struct store_violation *k, struct hrid_err *err)
{
    struct pg_row r;

    pg_row_init(&r, res, row, a);
    k->id = pg_row_i64(&r);
    k->unit_id = pg_row_i64(&r);
    pg_row_fixed(&r, k->code, sizeof k->code);
    k->enterprise_id = pg_row_i64(&r);
    k->state = pg_row_str(&r);
    k->first_t = pg_row_i64(&r);
    k->last_t = pg_row_i64(&r);
    k->lat = pg_row_f64(&r);
    k->lon = pg_row_f64(&r);
    k->closed_at = pg_row_i64(&r);
    return r.oom ? pg_oom(err, "a violation") : STORE_OK;
}

/*
 * The two shapes most operations share, as macros because the record
 * types differ (SQLite's GET_ROW and LIST_ROWS).  Both expect res (the
 * statement's result, cleared here), a (the arena), err and r (the
 * result) in scope.
 *
 * GET_ONE reads row 0 into OUT, or sets STORE_NOTFOUND with the message
 * that follows; OUT is zeroed on failure.  EACH_ROW reads each row into
 * REC and calls EACH(ctx, &REC), stopping at the first failure or
 * non-zero result, which becomes r.
 */
#define GET_ONE(READ, OUT, ...)                                            \
    do {                                                                   \
        if (PQntuples(res) > 0)                                            \
            r = READ(res, 0, a, OUT, err);                                 \
        else                                                               \
            r = hrid_err_set(err, STORE_NOTFOUND, 0, 0, __VA_ARGS__);      \
        PQclear(res);                                                      \
        if (r != STORE_OK)                                                 \
            memset(OUT, 0, sizeof *(OUT));                                 \
    } while (0)

#define EACH_ROW(READ, REC, EACH)                                          \
    do {                                                                   \
        int n_ = PQntuples(res);                                           \
        r = STORE_OK;                                                      \
        for (int i_ = 0; i_ < n_ && r == STORE_OK; i_++) {                 \
            r = READ(res, i_, a, &(REC), err);                             \
            if (r == STORE_OK)                                             \
                r = EACH(ctx, &(REC));                                     \
        }                                                                  \
        PQclear(res);                                                      \
    } while (0)

/* The id an INSERT ... RETURNING id gave back. */
static int64_t returned_id(PGresult *res)
{
    struct pg_row r;

    pg_row_init(&r, res, 0, NULL);
    return PQntuples(res) > 0 ? pg_row_i64(&r) : 0;
}

/* ---- certifications and recalls ---------------------------------------- */

int pg_cert_insert(struct store_conn *sc, struct store_cert *k,
                   struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_id(&args, k->model_row);
    pg_id(&args, k->unit_id);
    pg_str(&args, k->scheme);
    pg_str(&args, k->tier);
    pg_str(&args, k->scenarios);
    pg_str(&args, k->conditions);
    pg_str(&args, k->limits);
    pg_i64(&args, k->valid_from);
    pg_i64(&args, k->valid_until);
    pg_id(&args, k->issuer_id);
    pg_i64(&args, k->created_at);
    pg_i64(&args, k->revoked_at);
    res = pg_run(pgc(sc), &S_CERT_INSERT, &args, &r, err,
                 "certification '%s'", or_empty(k->scheme));
    if (res == NULL)
        return r;
    k->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_cert_get(struct store_conn *sc, int64_t id, struct arena *a,
                struct store_cert *out, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    pg_i64(&args, id);
    res = pg_run(pgc(sc), &S_CERT_GET, &args, &r, err,
                 "reading a certification");
    if (res == NULL)
        return r;
    GET_ONE(read_cert, out, "certification %lld not found", (long long)id);
    return r;
}

/* Revoking a certification that is already revoked keeps the first
 * revocation time and succeeds. */
int pg_cert_revoke(struct store_conn *sc, int64_t id, int64_t at,
                   struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int64_t n;
    int r;

    pg_args_init(&args);
    pg_i64(&args, id);
    pg_i64(&args, at);
    res = pg_run(pgc(sc), &S_CERT_REVOKE, &args, &r, err,
                 "certification %lld", (long long)id);
    if (res == NULL)
        return r;
    n = pg_changes(res);
    PQclear(res);
    if (n == 0)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "certification %lld not found", (long long)id);
    return STORE_OK;
}

int pg_cert_list(struct store_conn *sc, int64_t model_row, int64_t unit_id,
                 struct arena *a, store_each_cert_fn each, void *ctx,
                 struct hrid_err *err)
{
    struct store_cert k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, model_row);
    pg_i64(&args, unit_id);
    res = pg_run(pgc(sc), &S_CERT_LIST, &args, &r, err,
                 "listing certifications");
    if (res == NULL)
        return r;
    EACH_ROW(read_cert, k, each);
    return r;
}

int pg_recall_insert(struct store_conn *sc, struct store_recall *k,
                     struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, k->enterprise_id);
    pg_id(&args, k->created_by);
    pg_i64(&args, k->ordered ? 1 : 0);
    pg_str(&args, k->defect);
    pg_str(&args, k->hazard);
    pg_str(&args, k->remedy);
    pg_str(&args, k->target);
    pg_str(&args, k->status);
    pg_i64(&args, k->created_at);
    pg_i64(&args, k->closed_at);
    pg_i64(&args, k->notify_after);
    res = pg_run(pgc(sc), &S_RECALL_INSERT, &args, &r, err, "recall");
    if (res == NULL)
        return r;
    k->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_recall_get(struct store_conn *sc, int64_t id, struct arena *a,
                  struct store_recall *out, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    pg_i64(&args, id);
    res = pg_run(pgc(sc), &S_RECALL_GET, &args, &r, err, "reading a recall");
    if (res == NULL)
        return r;
    GET_ONE(read_recall, out, "recall %lld not found", (long long)id);
    return r;
}

/* Runs s on (a, b), a recall's or a recall unit's key and a value, which
 * changes one row or none. */
static int recall_set(struct store_conn *sc, const struct pg_stmt *s,
                      int64_t a, int64_t b, const int64_t *v, int nv,
                      int64_t *changed, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, a);
    pg_i64(&args, b);
    for (int i = 0; i < nv; i++)
        pg_i64(&args, v[i]);
    res = pg_run(pgc(sc), s, &args, &r, err, "recall %lld", (long long)a);
    if (res == NULL)
        return r;
    if (changed != NULL)
        *changed = pg_changes(res);
    PQclear(res);
    return STORE_OK;
}

/* Adds to recall id's counts of units, of those remedied and of those
 * owed a notice. */
static int recall_tally(struct store_conn *sc, int64_t id, int64_t affected,
                        int64_t remedied, int64_t owed, struct hrid_err *err)
{
    int64_t v[2] = {remedied, owed};

    return recall_set(sc, &S_RECALL_TALLY, id, affected, v, 2, NULL, err);
}

/* The row of a unit in a recall changed by s, then the recall's counts
 * when it did change. */
static int ru_change(struct store_conn *sc, const struct pg_stmt *s,
                     int64_t recall_id, int64_t unit_id, const int64_t *v,
                     int nv, int64_t affected, int64_t remedied,
                     int64_t owed, struct hrid_err *err)
{
    int64_t n = 0;
    int r = recall_set(sc, s, recall_id, unit_id, v, nv, &n, err);

    if (r == STORE_OK && n > 0)
        r = recall_tally(sc, recall_id, affected, remedied, owed, err);
    return r;
}

/* As in SQLite, closing a recall that does not exist changes nothing and
 * succeeds: core reads the recall before it closes it. */
int pg_recall_close(struct store_conn *sc, int64_t id, int64_t at,
                    struct hrid_err *err)
{
    return recall_set(sc, &S_RECALL_CLOSE, id, at, NULL, 0, NULL, err);
}

int pg_recall_set_notify(struct store_conn *sc, int64_t id, int64_t after,
                         struct hrid_err *err)
{
    return recall_set(sc, &S_RECALL_SET_NOTIFY, id, after, NULL, 0, NULL,
                      err);
}

int pg_recall_unit_notified(struct store_conn *sc, int64_t recall_id,
                            int64_t unit_id, int64_t seq,
                            struct hrid_err *err)
{
    return ru_change(sc, &S_RU_NOTIFIED, recall_id, unit_id, &seq, 1, 0, 0,
                     -1, err);
}

int pg_recall_unit_drop(struct store_conn *sc, int64_t recall_id,
                        int64_t unit_id, struct hrid_err *err)
{
    return ru_change(sc, &S_RU_DROP, recall_id, unit_id, NULL, 0, -1, 0, -1,
                     err);
}

int pg_recall_reach(struct store_conn *sc, int64_t recall_id,
                    const struct store_recall_target *t, int64_t model_row,
                    int64_t *added, struct hrid_err *err)
{
    const struct store_comp_match *m = t->part;
    bool lots = m != NULL && m->lot_from != NULL;   /* and lot_to: store.c */
    struct pg_args args;
    PGresult *res;
    int r;

    *added = 0;
    pg_args_init(&args);
    pg_i64(&args, recall_id);
    pg_i64(&args, t->enterprise_id);
    pg_str(&args, t->batch_from);
    pg_str(&args, t->batch_to);
    pg_str(&args, t->date_from);
    pg_str(&args, t->date_to);
    pg_i64(&args, model_row);
    if (m != NULL) {
        pg_str(&args, m->part_no);
        pg_str(&args, m->supplier);
        pg_i64(&args, m->current_only);
        if (lots) {
            pg_str(&args, m->lot_from);
            pg_str(&args, m->lot_to);
        }
    }
    res = pg_run(pgc(sc), m == NULL ? (model_row ? &S_REACH_MODEL
                                                 : &S_REACH_ENT)
                                    : lots ? &S_REACH_LOTS : &S_REACH_PART,
                 &args, &r, err, "the units of recall %lld",
                 (long long)recall_id);
    if (res == NULL)
        return r;
    *added = pg_changes(res);
    PQclear(res);
    return *added > 0 ? recall_tally(sc, recall_id, *added, 0, *added, err)
                      : STORE_OK;
}

int pg_recall_notifying(struct store_conn *sc, struct arena *a,
                        struct store_recall *out, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    res = pg_run(pgc(sc), &S_RECALL_NOTIFYING, &args, &r, err,
                 "finding a recall owing notices");
    if (res == NULL)
        return r;
    GET_ONE(read_recall, out, "no recall owes notices");
    return r;
}

int pg_recall_unit_remedied(struct store_conn *sc, int64_t recall_id,
                            int64_t unit_id, int64_t seq, int64_t at,
                            struct hrid_err *err)
{
    int64_t v[2] = {seq, at};

    return ru_change(sc, &S_RU_REMEDIED, recall_id, unit_id, v, 2, 0, 1, 0,
                     err);
}

int pg_recall_unit_list(struct store_conn *sc, int64_t recall_id,
                        int64_t unit_id, const char *state, int64_t after_unit,
                        int limit, struct arena *a,
                        store_each_recall_unit_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct store_recall_unit k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, recall_id != 0 ? recall_id : unit_id);
    pg_str(&args, state);
    pg_i64(&args, after_unit);
    pg_limit(&args, limit);
    res = pg_run(pgc(sc), recall_id != 0 ? &S_RU_LIST : &S_RU_LIST_UNIT,
                 &args, &r, err, "listing a recall's units");
    if (res == NULL)
        return r;
    EACH_ROW(read_recall_unit, k, each);
    return r;
}

int pg_recall_counts(struct store_conn *sc, int64_t recall_id,
                     int64_t *notified, int64_t *remedied, int64_t *owed,
                     struct hrid_err *err)
{
    struct pg_args args;
    struct pg_row rw;
    PGresult *res;
    int r;

    *notified = *remedied = *owed = 0;
    pg_args_init(&args);
    pg_i64(&args, recall_id);
    res = pg_run(pgc(sc), &S_RU_COUNTS, &args, &r, err,
                 "counting recall %lld", (long long)recall_id);
    if (res == NULL)
        return r;
    if (PQntuples(res) > 0) {
        pg_row_init(&rw, res, 0, NULL);
        *notified = pg_row_i64(&rw);
        *remedied = pg_row_i64(&rw);
        *owed = pg_row_i64(&rw);
    }
    PQclear(res);
    return STORE_OK;
}

/* ---- incidents and statistics ------------------------------------------ */

int pg_incident_insert(struct store_conn *sc, struct store_incident *k,
                       struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, k->unit_id);
    pg_str(&args, k->code);
    pg_i64(&args, k->model_row);
    pg_i64(&args, k->enterprise_id);
    pg_i64(&args, k->at);
    pg_i64(&args, k->recorded_at);
    pg_str(&args, k->severity);
    pg_str(&args, k->kind);
    pg_str(&args, k->place);
    pg_str(&args, k->description);
    pg_id(&args, k->reporter_id);
    pg_i64(&args, k->verified ? 1 : 0);
    pg_str(&args, k->contact);
    pg_i64(&args, k->event_seq);
    pg_str(&args, k->snapshot);
    res = pg_run(pgc(sc), &S_INCIDENT_INSERT, &args, &r, err,
                 "incident on unit '%s'", k->code);
    if (res == NULL)
        return r;
    k->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_incident_list(struct store_conn *sc,
                     const struct store_incident_filter *f, struct arena *a,
                     store_each_incident_fn each, void *ctx,
                     struct hrid_err *err)
{
    struct store_incident k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, f->after_id);
    pg_i64(&args, f->unit_id);
    pg_i64(&args, f->model_row);
    pg_i64(&args, f->enterprise_id);
    pg_i64(&args, f->verified);
    pg_limit(&args, f->limit);
    res = pg_run(pgc(sc), &S_INCIDENT_LIST, &args, &r, err,
                 "listing incidents");
    if (res == NULL)
        return r;
    EACH_ROW(read_incident, k, each);
    return r;
}

int pg_stats(struct store_conn *sc, int what, int64_t enterprise_id,
             struct arena *a, store_each_stat_fn each, void *ctx,
             struct hrid_err *err)
{
    static const struct pg_stmt *const stmts[] = {
        [STORE_STATS_UNITS] = &S_STATS_UNITS,
        [STORE_STATS_MONTHS] = &S_STATS_MONTHS,
        [STORE_STATS_INCIDENTS] = &S_STATS_INCIDENTS,
        [STORE_STATS_RECALLS] = &S_STATS_RECALLS,
        [STORE_STATS_ALERTS] = &S_STATS_ALERTS,
    };
    struct store_stat k;
    struct pg_args args;
    PGresult *res;
    int r;

    if (what < STORE_STATS_UNITS || what > STORE_STATS_ALERTS)
        return hrid_err_set(err, STORE_EIO, 0, 0, "no statistics %d", what);
    pg_args_init(&args);
    pg_i64(&args, enterprise_id);
    res = pg_run(pgc(sc), stmts[what], &args, &r, err, "reading statistics");
    if (res == NULL)
        return r;
    EACH_ROW(read_stat, k, each);
    return r;
}

/* ---- telemetry --------------------------------------------------------- */

int pg_tel_put(struct store_conn *sc, int kind, const struct store_tel *t,
               bool replace, bool *inserted, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int64_t n;
    int r;

    if (inserted != NULL)
        *inserted = false;
    pg_args_init(&args);
    pg_i64(&args, kind);
    pg_i64(&args, t->unit_id);
    pg_i64(&args, t->a);
    pg_i64(&args, t->b);
    pg_blob(&args, t->data, t->len);
    /* Nobody asks whether it was new: sent without waiting. */
    if (inserted == NULL)
        return pg_defer(pgc(sc), replace ? &S_TEL_REPLACE : &S_TEL_INSERT,
                        &args, err, "storing telemetry");
    res = pg_run(pgc(sc), replace ? &S_TEL_REPLACE : &S_TEL_INSERT, &args,
                 &r, err, "telemetry of unit %lld", (long long)t->unit_id);
    if (res == NULL)
        return r;
    n = pg_changes(res);
    PQclear(res);
    if (inserted != NULL)
        *inserted = n > 0;
    return STORE_OK;
}

/*
 * Without the caller's arena, each blob is decoded into one of this
 * call's own, emptied after each callback: it lives until the callback
 * returns, as SQLite's in-place read does (pg_row_blob needs an arena:
 * a bytea comes as hex text).
 */
int pg_tel_range(struct store_conn *sc, int kind, int64_t unit_id, int64_t ma,
                 int64_t b_from, int64_t b_to, struct arena *a,
                 store_each_tel_fn each, void *ctx, struct hrid_err *err)
{
    struct arena own;
    struct arena *ra = a != NULL ? a : &own;
    struct store_tel t;
    struct pg_args args;
    PGresult *res;
    int r, n;

    pg_args_init(&args);
    pg_i64(&args, kind);
    pg_i64(&args, unit_id);
    pg_i64(&args, ma);
    pg_i64(&args, b_from);
    pg_i64(&args, b_to);
    res = pg_run(pgc(sc), ma < 0 ? &S_TEL_RANGE_ANY : &S_TEL_RANGE, &args,
                 &r, err, "reading telemetry");
    if (res == NULL)
        return r;
    arena_init(&own);
    r = STORE_OK;
    n = PQntuples(res);
    for (int i = 0; i < n && r == STORE_OK; i++) {
        r = read_tel(res, i, ra, &t, err);
        if (r == STORE_OK)
            r = each(ctx, &t);
        arena_release(&own);
    }
    PQclear(res);
    return r;
}

int pg_tel_units(struct store_conn *sc, int kind, int64_t b_before,
                 int64_t after_unit, int limit, store_each_tel_fn each,
                 void *ctx, struct hrid_err *err)
{
    struct arena *a = NULL;
    struct store_tel t;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, kind);
    pg_i64(&args, b_before);
    pg_i64(&args, after_unit);
    pg_limit(&args, limit);
    res = pg_run(pgc(sc), &S_TEL_UNITS, &args, &r, err,
                 "listing telemetry units");
    if (res == NULL)
        return r;
    EACH_ROW(read_tel_unit, t, each);
    return r;
}

int pg_tel_delete(struct store_conn *sc, int kind, int64_t unit_id,
                  int64_t b_from, int64_t b_to, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, kind);
    pg_i64(&args, unit_id);
    pg_i64(&args, b_from);
    pg_i64(&args, b_to);
    res = pg_run(pgc(sc), &S_TEL_DELETE, &args, &r, err,
                 "telemetry of unit %lld", (long long)unit_id);
    if (res == NULL)
        return r;
    PQclear(res);
    return STORE_OK;
}

/* ---- alert rules, alerts and silence ----------------------------------- */

int pg_rule_insert(struct store_conn *sc, struct store_alert_rule *k,
                   struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, k->enterprise_id);
    pg_i64(&args, k->model_row);
    pg_str(&args, k->metric);
    pg_str(&args, k->op);
    pg_f64(&args, k->threshold);
    pg_i64(&args, k->for_ms);
    pg_id(&args, k->created_by);
    pg_i64(&args, k->created_at);
    res = pg_run(pgc(sc), &S_RULE_INSERT, &args, &r, err,
                 "alert rule on '%s'", or_empty(k->metric));
    if (res == NULL)
        return r;
    k->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_rule_list(struct store_conn *sc, int64_t enterprise_id,
                 int64_t model_row, struct arena *a, store_each_rule_fn each,
                 void *ctx, struct hrid_err *err)
{
    struct store_alert_rule k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, enterprise_id);
    pg_i64(&args, model_row);
    res = pg_run(pgc(sc), &S_RULE_LIST, &args, &r, err,
                 "listing alert rules");
    if (res == NULL)
        return r;
    EACH_ROW(read_rule, k, each);
    return r;
}

int pg_alert_find(struct store_conn *sc, int64_t rule_id, int64_t unit_id,
                  int metric, struct arena *a, struct store_alert *out,
                  struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    pg_i64(&args, rule_id);
    pg_i64(&args, unit_id);
    pg_i64(&args, metric);
    res = pg_run(pgc(sc), &S_ALERT_FIND, &args, &r, err, "reading an alert");
    if (res == NULL)
        return r;
    GET_ONE(read_alert, out, "no live alert");
    return r;
}

/* Inserts an alert (id 0, which gets its id) or updates its changing
 * fields. */
int pg_alert_put(struct store_conn *sc, struct store_alert *k,
                 struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    if (k->id != 0) {
        pg_i64(&args, k->id);
        pg_str(&args, k->state);
        pg_i64(&args, k->since);
        pg_i64(&args, k->opened_at);
        pg_i64(&args, k->cleared_at);
        pg_f64(&args, k->value);
    } else {
        pg_i64(&args, k->rule_id);
        pg_i64(&args, k->unit_id);
        pg_str(&args, k->code);
        pg_i64(&args, k->model_row);
        pg_i64(&args, k->enterprise_id);
        pg_i64(&args, k->metric);
        pg_str(&args, k->state);
        pg_i64(&args, k->since);
        pg_i64(&args, k->opened_at);
        pg_i64(&args, k->cleared_at);
        pg_f64(&args, k->value);
    }
    res = pg_run(pgc(sc), k->id != 0 ? &S_ALERT_UPDATE : &S_ALERT_INSERT,
                 &args, &r, err, "alert on unit '%s'", k->code);
    if (res == NULL)
        return r;
    if (k->id == 0)
        k->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_alert_list(struct store_conn *sc, const struct store_alert_filter *f,
                  struct arena *a, store_each_alert_fn each, void *ctx,
                  struct hrid_err *err)
{
    struct store_alert k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, f->after_id);
    pg_i64(&args, f->unit_id);
    pg_i64(&args, f->model_row);
    pg_i64(&args, f->enterprise_id);
    pg_str(&args, f->state);
    pg_limit(&args, f->limit);
    res = pg_run(pgc(sc), &S_ALERT_LIST, &args, &r, err, "listing alerts");
    if (res == NULL)
        return r;
    EACH_ROW(read_alert, k, each);
    return r;
}

int pg_rule_list_metric(struct store_conn *sc, const char *metric,
                        int64_t after_id, int limit, struct arena *a,
                        store_each_rule_fn each, void *ctx,
                        struct hrid_err *err)
{
    struct store_alert_rule k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_str(&args, metric);
    pg_i64(&args, after_id);
    pg_limit(&args, limit);
    res = pg_run(pgc(sc), &S_RULE_LIST_METRIC, &args, &r, err,
                 "listing alert rules");
    if (res == NULL)
        return r;
    EACH_ROW(read_rule, k, each);
    return r;
}

/* Keeps the latest report time: an older one changes nothing. */
int pg_seen_put(struct store_conn *sc, const struct store_seen *s,
                struct hrid_err *err)
{
    struct pg_args args;

    pg_args_init(&args);
    pg_i64(&args, s->unit_id);
    pg_i64(&args, s->enterprise_id);
    pg_i64(&args, s->model_row);
    pg_i64(&args, s->t);
    return pg_defer(pgc(sc), &S_SEEN_PUT, &args, err,
                    "noting a unit's last report");
}

int pg_seen_silent(struct store_conn *sc, int64_t enterprise_id,
                   int64_t model_row, const char *state, int64_t before,
                   int64_t rule_id, int metric, int64_t after_unit, int limit,
                   store_each_seen_fn each, void *ctx, struct hrid_err *err)
{
    struct arena *a = NULL;
    struct store_seen s;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, enterprise_id);
    pg_i64(&args, model_row);
    pg_str(&args, state);
    pg_i64(&args, before);
    pg_i64(&args, rule_id);
    pg_i64(&args, metric);
    pg_i64(&args, after_unit);
    pg_limit(&args, limit);
    res = pg_run(pgc(sc), &S_SEEN_SILENT, &args, &r, err,
                 "listing silent units");
    if (res == NULL)
        return r;
    EACH_ROW(read_seen, s, each);
    return r;
}

/* ---- fences ------------------------------------------------------------ */

int pg_zone_insert(struct store_conn *sc, struct store_zone *z,
                   struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_str(&args, z->name);
    pg_str(&args, z->polygon);
    pg_id(&args, z->created_by);
    pg_i64(&args, z->created_at);
    res = pg_run(pgc(sc), &S_ZONE_INSERT, &args, &r, err, "zone '%s'",
                 or_empty(z->name));
    if (res == NULL)
        return r;
    z->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_zone_get(struct store_conn *sc, int64_t id, struct arena *a,
                struct store_zone *out, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    pg_i64(&args, id);
    res = pg_run(pgc(sc), &S_ZONE_GET, &args, &r, err, "reading a zone");
    if (res == NULL)
        return r;
    GET_ONE(read_zone, out, "zone %lld not found", (long long)id);
    return r;
}

/* Sets or replaces a unit's fence profile. */
int pg_fence_put(struct store_conn *sc, const struct store_fence *f,
                 struct hrid_err *err)
{
    struct pg_args args;

    pg_args_init(&args);
    pg_i64(&args, f->unit_id);
    pg_str(&args, f->zones);
    pg_str(&args, f->scenarios);
    pg_f64(&args, f->speed_limit);
    pg_id(&args, f->set_by);
    pg_i64(&args, f->set_at);
    return pg_defer(pgc(sc), &S_FENCE_PUT, &args, err, "setting a fence");
}

int pg_fence_get(struct store_conn *sc, int64_t unit_id, struct arena *a,
                 struct store_fence *out, struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    memset(out, 0, sizeof *out);
    pg_args_init(&args);
    pg_i64(&args, unit_id);
    res = pg_run(pgc(sc), &S_FENCE_GET, &args, &r, err, "reading a fence");
    if (res == NULL)
        return r;
    GET_ONE(read_fence, out, "no fence for unit %lld", (long long)unit_id);
    return r;
}

/* Inserts a violation (id 0, which gets its id) or updates its changing
 * fields. */
int pg_violation_put(struct store_conn *sc, struct store_violation *v,
                     struct hrid_err *err)
{
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    if (v->id != 0) {
        pg_i64(&args, v->id);
        pg_str(&args, v->state);
        pg_i64(&args, v->last_t);
        pg_f64(&args, v->lat);
        pg_f64(&args, v->lon);
        pg_i64(&args, v->closed_at);
    } else {
        pg_i64(&args, v->unit_id);
        pg_str(&args, v->code);
        pg_i64(&args, v->enterprise_id);
        pg_str(&args, v->state);
        pg_i64(&args, v->first_t);
        pg_i64(&args, v->last_t);
        pg_f64(&args, v->lat);
        pg_f64(&args, v->lon);
        pg_i64(&args, v->closed_at);
    }
    res = pg_run(pgc(sc), v->id != 0 ? &S_VIOL_UPDATE : &S_VIOL_INSERT,
                 &args, &r, err, "fence violation of unit '%s'", v->code);
    if (res == NULL)
        return r;
    if (v->id == 0)
        v->id = returned_id(res);
    PQclear(res);
    return STORE_OK;
}

int pg_violation_list(struct store_conn *sc, int64_t unit_id, const char *state,
                      int64_t after_id, int limit, struct arena *a,
                      store_each_violation_fn each, void *ctx,
                      struct hrid_err *err)
{
    struct store_violation k;
    struct pg_args args;
    PGresult *res;
    int r;

    pg_args_init(&args);
    pg_i64(&args, unit_id);
    pg_str(&args, state);
    pg_i64(&args, after_id);
    pg_limit(&args, limit);
    res = pg_run(pgc(sc), &S_VIOL_LIST, &args, &r, err,
                 "listing fence violations");
    if (res == NULL)
        return r;
    EACH_ROW(read_violation, k, each);
    return r;
}

/* ---- as-of snapshots --------------------------------------------------- */

/* Stores or replaces the snapshot of unit_id at event seq. */
int pg_snapshot_put(struct store_conn *sc, int64_t unit_id, int64_t seq,
                    int64_t at, const char *state, struct hrid_err *err)
{
    struct pg_args args;

    pg_args_init(&args);
    pg_i64(&args, unit_id);
    pg_i64(&args, seq);
    pg_i64(&args, at);
    pg_str(&args, state);
    return pg_defer(pgc(sc), &S_SNAP_PUT, &args, err,
                    "storing a unit's snapshot");
}

/* STORE_NOTFOUND when the unit has no snapshot dated at or before t:
 * not a failure, core then replays from the unit's first event. */
int pg_snapshot_before(struct store_conn *sc, int64_t unit_id, int64_t t,
                       struct arena *a, int64_t *seq, int64_t *at,
                       const char **state, struct hrid_err *err)
{
    struct pg_args args;
    struct pg_row rw;
    PGresult *res;
    int r = STORE_OK;

    *seq = *at = 0;
    *state = NULL;
    pg_args_init(&args);
    pg_i64(&args, unit_id);
    pg_i64(&args, t);
    res = pg_run(pgc(sc), &S_SNAP_BEFORE, &args, &r, err,
                 "snapshot of unit %lld", (long long)unit_id);
    if (res == NULL)
        return r;
    if (PQntuples(res) == 0) {
        r = hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                         "no snapshot of unit %lld", (long long)unit_id);
    } else {
        pg_row_init(&rw, res, 0, a);
        *seq = pg_row_i64(&rw);
        *at = pg_row_i64(&rw);
        *state = pg_row_str(&rw);
        r = rw.oom ? pg_oom(err, "a snapshot") : STORE_OK;
    }
    PQclear(res);
    if (r != STORE_OK) {
        *seq = *at = 0;
        *state = NULL;
    }
    return r;
}
