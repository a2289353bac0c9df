/*
 * telemetry.c - health reports in, series and health out (DESIGN §4,
 * docs/telemetry.md), over the storage engine of src/telemetry.
 *
 * Reports are checked whole (every member, every value at its metric's
 * precision; unknown members refused, so no personal data can enter) and
 * then staged, one blob per report, in one write transaction: a batch is
 * acknowledged once durable, and a report sent twice (same unit, same
 * time) is stored once.  A compaction pass (core_telemetry_compact, run by
 * hridd every so often) turns the staged reports of closed two-hour
 * windows into raw chunks, one per metric (keyed by their first sample's
 * time, so late reports make chunks of their own), folds them into the
 * hourly rollups of their seven-day window, and deletes them; raw chunks
 * older than the retention are dropped, rollups are kept for the unit's
 * life.  Queries read chunks, rollups and what is still staged.
 *
 * A staged report's bytes: version 1, the firmware's length and text,
 * the number of values, then per value its metric id and its quantised
 * integer (value x 10^digits) as a zigzag varint.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "telemetry/tsdb.h"

#define STAGED_MAX (3 + TSDB_FIRMWARE_MAX + TSDB_REPORT_VALUES * 11)
/* Points a series query returns at most: 30 days of one-minute samples. */
#define SERIES_MAX (31 * 24 * 60)
/* How long after a window closes its reports are compacted: reports may
 * arrive a little late. */
#define COMPACT_GRACE_MS (10 * TSDB_MINUTE_MS)
/* Trends are fitted over this much history. */
#define HEALTH_WINDOW_MS (30 * TSDB_DAY_MS)
/* Default thresholds when the model's parameters name none. */
#define WEAR_LIMIT 0.8
#define SOH_LIMIT 0.7

const struct schema_field tel_joint_fields[] = {
    {"id", S_INT, SF_REQUIRED, 0, 0, TSDB_JOINTS - 1, NULL, NULL},
    {"wear", S_NUM, 0, 0, 0, 1, NULL, NULL},
    {"temp", S_NUM, 0, 0, -50, 200, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
const struct schema_field tel_battery_fields[] = {
    {"soh", S_NUM, 0, 0, 0, 1, NULL, NULL},
    {"cycles", S_INT, 0, 0, 0, 1e6, NULL, NULL},
    {"temp", S_NUM, 0, 0, -50, 150, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
const struct schema_field tel_location_fields[] = {
    {"lat", S_NUM, SF_REQUIRED, 0, -90, 90, NULL, NULL},
    {"lon", S_NUM, SF_REQUIRED, 0, -180, 180, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
const struct schema_field tel_report_fields[] = {
    {"unit", S_STR, SF_REQUIRED, 64, 0, 0, NULL, NULL},
    {"t", S_TIME, SF_REQUIRED, 0, 0, 0, NULL, NULL},
    {"firmware", S_STR, 0, TSDB_FIRMWARE_MAX, 0, 0, NULL, NULL},
    {"joints", S_ARR, 0, TSDB_JOINTS, 0, 0, NULL, tel_joint_fields},
    {"battery", S_OBJ, 0, 0, 0, 0, NULL, tel_battery_fields},
    {"precision_mm", S_NUM, 0, 0, 0, 1000, NULL, NULL},
    {"hours", S_NUM, 0, 0, 0, 1e6, NULL, NULL},
    {"location", S_OBJ, 0, 0, 0, 0, NULL, tel_location_fields},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static void add_value(struct tsdb_report *r, unsigned metric, json_t *v)
{
    if (v != NULL && !json_is_null(v)) {
        r->values[r->n].metric = metric;
        r->values[r->n].v = json_number_value(v);
        r->n++;
    }
}

/* One report of a batch into p; errors name "reports[i]..." fields. */
static int parse_report(json_t *o, size_t i, struct tel_parsed *p,
                        struct core_err *err)
{
    char path[32];
    struct hrid_err he;
    json_t *j, *b, *l;
    const char *fw, *code;
    size_t k;
    int rc;

    snprintf(path, sizeof path, "reports[%zu]", i);
    if ((rc = schema_check(o, tel_report_fields, path, err)) != CORE_OK)
        return rc;
    code = schema_str(o, "unit");
    if ((rc = core_code_arg(code, strlen(code), p->code, err)) != CORE_OK) {
        snprintf(err->field, sizeof err->field, "%s.unit", path);
        return rc;
    }
    memset(&p->r, 0, sizeof p->r);
    p->r.t = schema_time(o, "t", 0);
    fw = schema_str(o, "firmware");
    if (fw != NULL)
        snprintf(p->r.firmware, sizeof p->r.firmware, "%s", fw);
    json_array_foreach(json_object_get(o, "joints"), k, j) {
        int id = (int)schema_int(j, "id", 0);

        add_value(&p->r, TSDB_METRIC_JOINT_WEAR(id), json_object_get(j, "wear"));
        add_value(&p->r, TSDB_METRIC_JOINT_TEMP(id), json_object_get(j, "temp"));
    }
    b = json_object_get(o, "battery");
    add_value(&p->r, TSDB_METRIC_BATTERY_SOH, json_object_get(b, "soh"));
    add_value(&p->r, TSDB_METRIC_BATTERY_CYCLES, json_object_get(b, "cycles"));
    add_value(&p->r, TSDB_METRIC_BATTERY_TEMP, json_object_get(b, "temp"));
    add_value(&p->r, TSDB_METRIC_PRECISION_MM, json_object_get(o, "precision_mm"));
    add_value(&p->r, TSDB_METRIC_HOURS, json_object_get(o, "hours"));
    l = json_object_get(o, "location");
    add_value(&p->r, TSDB_METRIC_LAT, json_object_get(l, "lat"));
    add_value(&p->r, TSDB_METRIC_LON, json_object_get(l, "lon"));
    hrid_err_clear(&he);
    if (tsdb_report_check(&p->r, &he) != HRID_OK)
        return core_fail(err, CORE_EINVALID, "invalid_field", path, "%s: %s",
                         path, he.msg);
    return CORE_OK;
}

/* ---- staged bytes ------------------------------------------------------- */

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    do {
        p[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

static size_t stage_encode(const struct tsdb_report *r, unsigned char *out)
{
    size_t n = 0, fl = strlen(r->firmware);

    out[n++] = 1;
    out[n++] = (unsigned char)fl;
    memcpy(out + n, r->firmware, fl);
    n += fl;
    out[n++] = (unsigned char)r->n;
    for (size_t i = 0; i < r->n; i++) {
        int64_t q = 0;

        tsdb_value_check(r->values[i].metric, r->values[i].v, &q, NULL);
        out[n++] = (unsigned char)r->values[i].metric;
        n += put_varint(out + n, ((uint64_t)q << 1) ^ (uint64_t)(q >> 63));
    }
    return n;
}

/* Decodes staged bytes into r (t set by the caller); false when damaged. */
static bool stage_decode(const unsigned char *p, size_t len,
                         struct tsdb_report *r)
{
    size_t i = 0, n;

    memset(r, 0, sizeof *r);
    if (len < 3 || p[0] != 1 || (size_t)p[1] > TSDB_FIRMWARE_MAX ||
        2 + (size_t)p[1] + 1 > len)
        return false;
    memcpy(r->firmware, p + 2, p[1]);
    i = 2 + p[1];
    n = p[i++];
    if (n > TSDB_REPORT_VALUES)
        return false;
    for (size_t k = 0; k < n; k++) {
        const struct tsdb_metric_info *mi;
        uint64_t v = 0;
        int shift = 0;
        int64_t q;

        if (i >= len)
            return false;
        r->values[k].metric = p[i++];
        do {
            if (i >= len || shift > 63)
                return false;
            v |= (uint64_t)(p[i] & 0x7f) << shift;
            shift += 7;
        } while (p[i++] & 0x80);
        q = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        if ((mi = tsdb_metric_info(r->values[k].metric)) == NULL)
            return false;
        r->values[k].v = tsdb_dequantize(q, mi->digits);
    }
    r->n = n;
    return i == len;
}

/* ---- ingest -------------------------------------------------------------- */

struct ingest_op {
    const struct core_principal *who;
    struct tel_parsed *reports;
    size_t n;
    int64_t accepted, duplicates;
};

static bool live(const char *state)
{
    return strcmp(state, "released") == 0 ||
           strcmp(state, "in_service") == 0 ||
           strcmp(state, "maintenance") == 0 ||
           strcmp(state, "suspended") == 0;
}

/* The latest report of a unit (its time, then its staged bytes), kept for
 * the fleet's distributions: replaced only by a later one. */
struct latest_find {
    int64_t t;
    bool found;
};

static int latest_each(void *ctx, const struct store_tel *t)
{
    struct latest_find *f = ctx;

    if (t->len >= 8) {
        int64_t v = 0;

        for (int i = 0; i < 8; i++)
            v = v << 8 | ((const unsigned char *)t->data)[i];
        f->t = v;
        f->found = true;
    }
    return 0;
}

static int note_latest(struct store_conn *sc, int64_t unit_id,
                       const struct tel_parsed *p, const unsigned char *staged,
                       size_t len, struct arena *a, struct core_err *err)
{
    struct latest_find f = {0, false};
    unsigned char buf[8 + STAGED_MAX];
    struct store_tel t;
    struct hrid_err he;
    int rc;

    rc = store_tel_range(sc, STORE_TEL_LATEST, unit_id, 0, 0, 1, a,
                         latest_each, &f, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (f.found && f.t >= p->r.t)
        return CORE_OK;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)p->r.t >> (56 - 8 * i));
    memcpy(buf + 8, staged, len);
    t.unit_id = unit_id;
    t.a = 0;
    t.b = 0;
    t.data = buf;
    t.len = 8 + len;
    rc = store_tel_put(sc, STORE_TEL_LATEST, &t, true, NULL, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

static int ingest_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct ingest_op *op = arg;
    struct core_alert_rules rules = {false, 0, 0, NULL, 0};
    struct store_unit u;
    unsigned char buf[STAGED_MAX];
    struct hrid_err he;
    char field[48];
    int64_t now = core_now_ms();
    int rc;

    (void)c;
    u.code[0] = '\0';
    for (size_t i = 0; i < op->n; i++) {
        struct tel_parsed *p = &op->reports[i];
        struct store_tel t;
        bool inserted;

        snprintf(field, sizeof field, "reports[%zu].unit", i);
        if (strcmp(u.code, p->code) != 0) {
            rc = core_unit_load(sc, p->code, a, &u, err);
            if (rc != CORE_OK) {
                snprintf(err->field, sizeof err->field, "%s", field);
                return rc;
            }
            if (op->who->party_id == 0 ||
                (op->who->party_id != u.custodian_id &&
                 op->who->party_id != u.operator_id))
                return core_fail(err, CORE_EFORBIDDEN, "not_custodian",
                                 field, "%s: unit %s reports through its "
                                 "custodian or operator", field, u.code);
            if (!live(u.state))
                return core_fail(err, CORE_ECONFLICT, "unit_not_live", field,
                                 "%s: unit %s is %s: it reports only while on "
                                 "the market (released to suspended)", field,
                                 u.code, u.state);
        }
        /* A report tells of the unit's life: not before its registration,
         * not ahead of the registry's clock. */
        if (p->r.t < u.registered_at || p->r.t > now + CORE_CLOCK_SKEW_MS) {
            snprintf(field, sizeof field, "reports[%zu].t", i);
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: %s", field, p->r.t < u.registered_at
                                 ? "before the unit's registration"
                                 : "more than 5 minutes ahead of the "
                                   "registry's clock");
        }
        t.unit_id = u.id;
        t.a = 0;
        t.b = p->r.t;
        t.len = stage_encode(&p->r, buf);
        t.data = buf;
        rc = store_tel_put(sc, STORE_TEL_STAGED, &t, false, &inserted, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        if (!inserted) {
            op->duplicates++;
            continue;
        }
        op->accepted++;
        if ((rc = note_latest(sc, u.id, p, buf, t.len, a, err)) != CORE_OK)
            return rc;
        if ((rc = core_alert_eval(sc, &u, &p->r, &rules, a, err)) != CORE_OK)
            return rc;
    }
    reply->http_status = 200;
    reply->body = json_pack("{s:I, s:I}", "accepted",
                            (json_int_t)op->accepted, "duplicates",
                            (json_int_t)op->duplicates);
    return CORE_OK;
}

/* Who may send reports over HTTP: a unit's custodian or operator role. */
static int ingest_allowed(const struct core_principal *who,
                          struct core_err *err)
{
    return core_require(who, ROLE_OWNER | ROLE_SELLER | ROLE_MANUFACTURER |
                                 ROLE_RECYCLER,
                        "report telemetry", err);
}

int tel_parse_json(json_t *reports, struct tel_parsed **out,
                   struct core_err *err)
{
    struct tel_parsed *v;
    json_t *o;
    size_t i;
    int rc;

    *out = NULL;
    v = malloc((json_array_size(reports) + 1) * sizeof *v);
    if (v == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    json_array_foreach(reports, i, o) {
        if (!json_is_object(o)) {
            free(v);
            return core_fail(err, CORE_EINVALID, "invalid_field", "reports",
                             "reports[%zu]: not an object", i);
        }
        if ((rc = parse_report(o, i, &v[i], err)) != CORE_OK) {
            free(v);
            return rc;
        }
    }
    *out = v;
    return CORE_OK;
}

int core_telemetry_ingest(struct core *c, const struct core_principal *who,
                          json_t *reports, struct arena *a,
                          struct core_reply *out, struct core_err *err)
{
    struct ingest_op op;
    int rc;

    memset(out, 0, sizeof *out);
    rc = ingest_allowed(who, err);
    if (rc != CORE_OK)
        return rc;
    if (!json_is_array(reports) || json_array_size(reports) == 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "reports",
                         "reports: a non-empty array of reports (or JSON "
                         "Lines, one report a line)");
    if (json_array_size(reports) > CORE_TELEMETRY_BATCH_MAX)
        return core_fail(err, CORE_ETOOLARGE, "too_large", "reports",
                         "reports: %zu reports, at most %d a batch",
                         json_array_size(reports), CORE_TELEMETRY_BATCH_MAX);
    memset(&op, 0, sizeof op);
    op.who = who;
    if ((rc = tel_parse_json(reports, &op.reports, err)) != CORE_OK)
        return rc;
    op.n = json_array_size(reports);
    rc = core_write(c, who, NULL, ingest_run, &op, a, out, err);
    free(op.reports);
    return rc;
}

int core_telemetry_ingest_text(struct core *c,
                               const struct core_principal *who,
                               const char *body, size_t len, bool lines,
                               struct arena *a, struct core_reply *out,
                               struct core_err *err, bool *handled)
{
    struct ingest_op op;
    int rc;

    memset(out, 0, sizeof *out);
    /* The role first, as core_telemetry_ingest does: a caller who may not
     * report is refused before its body is read. */
    *handled = true;
    if ((rc = ingest_allowed(who, err)) != CORE_OK)
        return rc;
    memset(&op, 0, sizeof op);
    op.who = who;
    op.n = tel_scan(body, len, lines, &op.reports);
    *handled = op.n > 0;
    if (op.n == 0)
        return CORE_OK;
    rc = core_write(c, who, NULL, ingest_run, &op, a, out, err);
    free(op.reports);
    return rc;
}

/* ---- reading samples ---------------------------------------------------- */

/* The samples of one metric of a unit within [from, to), from its raw
 * chunks and staged reports, in time order without duplicates. */
struct samples {
    unsigned metric;
    int64_t from, to;
    struct tsdb_sample *s;
    size_t n, cap;
    bool damaged;
};

static bool push_sample(struct samples *x, int64_t t, double v)
{
    if (t < x->from || t >= x->to)
        return true;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 1024;
        struct tsdb_sample *p = realloc(x->s, cap * sizeof *p);

        if (p == NULL)
            return false;
        x->s = p;
        x->cap = cap;
    }
    x->s[x->n].t = t;
    x->s[x->n].v = v;
    x->n++;
    return true;
}

static int chunk_each(void *ctx, const struct store_tel *t)
{
    struct samples *x = ctx;
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
    size_t n = 0;

    if (tsdb_chunk_decode(t->data, t->len, s, TSDB_CHUNK_SAMPLES, &n, NULL,
                          NULL) != HRID_OK) {
        x->damaged = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!push_sample(x, s[i].t, s[i].v))
            return 1;
    return 0;
}

static int staged_each(void *ctx, const struct store_tel *t)
{
    struct samples *x = ctx;
    struct tsdb_report r;

    if (!stage_decode(t->data, t->len, &r)) {
        x->damaged = true;
        return 0;
    }
    for (size_t i = 0; i < r.n; i++)
        if (r.values[i].metric == x->metric &&
            !push_sample(x, t->b, r.values[i].v))
            return 1;
    return 0;
}

static int cmp_sample(const void *p, const void *q)
{
    const struct tsdb_sample *a = p, *b = q;

    return a->t < b->t ? -1 : a->t > b->t;
}

static int read_samples(struct store_conn *sc, int64_t unit_id,
                        struct samples *x, struct hrid_err *he)
{
    size_t k = 0;
    int rc;

    /* A chunk starts within two hours before its last sample. */
    rc = store_tel_range(sc, STORE_TEL_CHUNK, unit_id, x->metric,
                         x->from - TSDB_CHUNK_WINDOW_MS, x->to, NULL,
                         chunk_each, x, he);
    if (rc == STORE_OK)
        rc = store_tel_range(sc, STORE_TEL_STAGED, unit_id, 0, x->from,
                             x->to, NULL, staged_each, x, he);
    if (rc != STORE_OK)
        return rc == 1 ? hrid_err_set(he, STORE_EIO, 0, 0, "out of memory")
                       : rc;
    /* Chunks come in time order and staged reports after them, so the
     * samples are nearly always sorted already: check before sorting. */
    for (size_t i = 1; i < x->n; i++)
        if (x->s[i].t < x->s[i - 1].t) {
            qsort(x->s, x->n, sizeof *x->s, cmp_sample);
            break;
        }
    for (size_t i = 0; i < x->n; i++)
        if (k == 0 || x->s[i].t != x->s[k - 1].t)
            x->s[k++] = x->s[i];
    x->n = k;
    return STORE_OK;
}

struct rollups {
    unsigned metric;
    struct tsdb_rollup *b;
    size_t n, cap;
};

static int rollup_each(void *ctx, const struct store_tel *t)
{
    struct rollups *x = ctx;
    size_t n = 0;

    if (x->n + TSDB_ROLLUP_BUCKETS > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8 * TSDB_ROLLUP_BUCKETS;
        struct tsdb_rollup *p = realloc(x->b, cap * sizeof *p);

        if (p == NULL)
            return 1;
        x->b = p;
        x->cap = cap;
    }
    if (tsdb_rollup_decode(t->data, t->len, x->b + x->n, TSDB_ROLLUP_BUCKETS,
                           &n, NULL, NULL) == HRID_OK)
        x->n += n;
    return 0;
}

/* The samples a trend is fitted to: each compacted hour as its average,
 * placed mid-hour, then the raw samples from the last compacted hour on
 * (so the latest value is a measured one).  A 30-day window of one-minute
 * reports is 720 averages and a few hundred samples, not 43,200. */
static int read_trend(struct store_conn *sc, int64_t unit_id,
                      struct samples *x, struct hrid_err *he)
{
    struct rollups ro = {x->metric, NULL, 0, 0};
    struct samples y;
    int64_t last = -1;
    int rc;

    rc = store_tel_range(sc, STORE_TEL_ROLLUP, unit_id, x->metric,
                         tsdb_rollup_window(x->from), x->to, NULL,
                         rollup_each, &ro, he);
    if (rc != STORE_OK) {
        free(ro.b);
        return rc == 1 ? hrid_err_set(he, STORE_EIO, 0, 0, "out of memory")
                       : rc;
    }
    for (size_t i = 0; i < ro.n; i++)
        if (ro.b[i].start >= x->from &&
            ro.b[i].start + TSDB_HOUR_MS <= x->to && ro.b[i].start > last)
            last = ro.b[i].start;
    for (size_t i = 0; i < ro.n; i++)
        if (ro.b[i].start >= x->from && ro.b[i].start < last &&
            !push_sample(x, ro.b[i].start + TSDB_HOUR_MS / 2,
                         ro.b[i].sum / ro.b[i].count)) {
            free(ro.b);
            return hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
        }
    free(ro.b);
    if (x->n > 1)
        qsort(x->s, x->n, sizeof *x->s, cmp_sample);
    memset(&y, 0, sizeof y);
    y.metric = x->metric;
    y.from = last >= 0 ? last : x->from;
    y.to = x->to;
    if ((rc = read_samples(sc, unit_id, &y, he)) != STORE_OK) {
        free(y.s);
        return rc;
    }
    for (size_t i = 0; i < y.n; i++)
        if (!push_sample(x, y.s[i].t, y.s[i].v)) {
            free(y.s);
            return hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
        }
    free(y.s);
    return STORE_OK;
}

/* May who read the unit's health data?  Its maker (health fields only,
 * DESIGN §5), custodian, owner, operator, grantees, regulators. */
static int health_access(struct core *c, const struct core_principal *who,
                         const char *code, size_t code_len,
                         struct store_conn **sc, struct store_unit *u,
                         struct arena *a, struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1];
    enum core_view view;
    int rc;

    if ((rc = core_code_arg(code, code_len, canon, err)) != CORE_OK)
        return rc;
    if ((*sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((rc = core_unit_load(*sc, canon, a, u, err)) != CORE_OK ||
        (rc = core_unit_view(*sc, who, u, a, &view, err)) != CORE_OK)
        return rc;
    if (view == VIEW_PUBLIC)
        return core_fail(err, who->role == ROLE_PUBLIC ? CORE_EUNAUTH
                                                       : CORE_EFORBIDDEN,
                         who->role == ROLE_PUBLIC ? "unauthorized"
                                                  : "forbidden", NULL,
                         "the health data of unit %s is for its maker, "
                         "custodians and regulators", u->code);
    return CORE_OK;
}

int core_telemetry_series(struct core *c, const struct core_principal *who,
                          const char *code, size_t code_len,
                          const char *metric, const char *from_s,
                          const char *to_s, const char *step_s,
                          struct arena *a, json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_unit u;
    struct samples x;
    struct rollups ro;
    struct tsdb_query q;
    struct tsdb_point *pts = NULL;
    const struct tsdb_metric_info *mi;
    struct hrid_err he;
    unsigned id;
    int64_t now = core_now_ms(), step = 0;
    size_t n = 0;
    json_t *l;
    int rc;

    *out = NULL;
    memset(&x, 0, sizeof x);
    memset(&ro, 0, sizeof ro);
    if (metric == NULL ||
        tsdb_metric_parse(metric, strlen(metric), &id, &he) != HRID_OK)
        return core_fail(err, CORE_EINVALID, "invalid_field", "metric",
                         "metric: %s", metric ? he.msg
                                              : "required (joint.0.wear, "
                                                "battery.soh, ...)");
    mi = tsdb_metric_info(id);
    x.metric = ro.metric = id;
    x.to = now + 1;
    x.from = x.to - TSDB_DAY_MS;
    if ((to_s && core_time_parse(to_s, &x.to) != 0) ||
        (from_s && core_time_parse(from_s, &x.from) != 0))
        return core_fail(err, CORE_EINVALID, "invalid_field",
                         to_s && core_time_parse(to_s, &x.to) ? "to" : "from",
                         "from, to: RFC 3339 times");
    if (step_s != NULL) {
        char *end;

        step = strtoll(step_s, &end, 10);
        if (*end == 'm')
            step *= TSDB_MINUTE_MS, end++;
        else if (*end == 'h')
            step *= TSDB_HOUR_MS, end++;
        else if (*end == 'd')
            step *= TSDB_DAY_MS, end++;
        else if (*end == 's')
            step *= 1000, end++;
        if (*end != '\0' || step < 0 || (step > 0 && step < 1000))
            return core_fail(err, CORE_EINVALID, "invalid_field", "step",
                             "step: 0 (raw), or a duration such as 30s, 5m, "
                             "1h, 1d");
    }
    if (x.from > x.to || x.to - x.from > 400 * TSDB_DAY_MS)
        return core_fail(err, CORE_EINVALID, "invalid_field", "from",
                         "from: must be before to, at most 400 days apart");
    if ((rc = health_access(c, who, code, code_len, &sc, &u, a, err)) !=
        CORE_OK)
        return rc;
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = read_samples(sc, u.id, &x, &he);
    if (rc == STORE_OK)
        rc = store_tel_range(sc, STORE_TEL_ROLLUP, u.id, id,
                             tsdb_rollup_window(x.from), x.to, NULL,
                             rollup_each, &ro, &he);
    store_read_end(sc);
    if (rc == STORE_OK && (pts = malloc(SERIES_MAX * sizeof *pts)) == NULL)
        rc = hrid_err_set(&he, STORE_EIO, 0, 0, "out of memory");
    if (rc != STORE_OK) {
        free(x.s);
        free(ro.b);
        return core_store_fail(err, rc, &he);
    }
    memset(&q, 0, sizeof q);
    q.from = x.from;
    q.to = x.to;
    q.step = step;
    q.digits = mi->digits;
    q.raw = x.s;
    q.nraw = x.n;
    q.rollups = ro.b;
    q.nrollups = ro.n;
    rc = tsdb_query_run(&q, pts, SERIES_MAX, &n, &he);
    free(x.s);
    free(ro.b);
    if (rc != HRID_OK) {
        free(pts);
        return core_fail(err, rc == HRID_ERANGE ? CORE_ETOOLARGE
                                                : CORE_EINVALID,
                         rc == HRID_ERANGE ? "too_large" : "invalid_field",
                         "step", "%s (at most %d points: take a larger "
                         "step)", he.msg, SERIES_MAX);
    }
    l = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[32];

        core_time_format(pts[i].t, t);
        if (step == 0)
            json_array_append_new(l, json_pack("{s:s, s:f}", "t", t, "v",
                                               pts[i].avg));
        else
            json_array_append_new(l, json_pack(
                "{s:s, s:i, s:f, s:f, s:f}", "t", t, "count",
                (int)pts[i].count, "min", pts[i].min, "max", pts[i].max,
                "avg", pts[i].avg));
    }
    free(pts);
    *out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:o}", "code", u.code,
                     "metric", metric, "unit", mi->unit, "from",
                     core_time_json(x.from), "to", core_time_json(x.to),
                     "step_ms", (json_int_t)step, "points", l);
    return CORE_OK;
}

/* ---- compaction --------------------------------------------------------- */

struct unit_list {
    int64_t ids[256];
    int n;
};

static int unit_each(void *ctx, const struct store_tel *t)
{
    struct unit_list *l = ctx;

    l->ids[l->n++] = t->unit_id;
    return 0;
}

struct staged_rows {
    struct tsdb_report *r;      /* t in r->t */
    size_t n, cap;
    bool damaged;
};

static int staged_collect(void *ctx, const struct store_tel *t)
{
    struct staged_rows *x = ctx;

    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        struct tsdb_report *p = realloc(x->r, cap * sizeof *p);

        if (p == NULL)
            return 1;
        x->r = p;
        x->cap = cap;
    }
    if (!stage_decode(t->data, t->len, &x->r[x->n])) {
        x->damaged = true;
        return 0;
    }
    x->r[x->n++].t = t->b;
    return 0;
}

/* Writes the samples of one metric (time order) as raw chunks, and folds
 * them into their rollup chunks. */
static int write_metric(struct store_conn *sc, int64_t unit_id, unsigned m,
                        const struct tsdb_sample *s, size_t n,
                        struct hrid_err *he)
{
    const struct tsdb_metric_info *mi = tsdb_metric_info(m);
    unsigned char buf[TSDB_CHUNK_BYTES_MAX > TSDB_ROLLUP_BYTES_MAX
                          ? TSDB_CHUNK_BYTES_MAX : TSDB_ROLLUP_BYTES_MAX];
    struct tsdb_encoder e;
    struct store_tel t;
    size_t i = 0, len;
    int rc;

    while (i < n) {
        int64_t w = tsdb_chunk_window(s[i].t);
        size_t start = i;

        tsdb_encoder_init(&e, m, he);
        while (i < n && tsdb_chunk_window(s[i].t) == w &&
               tsdb_encoder_append(&e, s[i].t, s[i].v, NULL) == HRID_OK)
            i++;
        if (i == start)
            i++;                /* not storable: skip it */
        if (e.n == 0)
            continue;
        if (tsdb_encoder_finish(&e, buf, sizeof buf, &len, he) != HRID_OK)
            return hrid_err_set(he, STORE_EIO, 0, 0, "%s", he->msg);
        t.unit_id = unit_id;
        t.a = m;
        t.b = e.t[0];
        t.data = buf;
        t.len = len;
        if ((rc = store_tel_put(sc, STORE_TEL_CHUNK, &t, true, NULL, he)) !=
            STORE_OK)
            return rc;
    }
    /* Rollups: one chunk per seven-day window. */
    for (i = 0; i < n;) {
        struct tsdb_rollup b[TSDB_ROLLUP_BUCKETS];
        int64_t w = tsdb_rollup_window(s[i].t);
        size_t j = i, nb = 0;
        struct rollups old = {m, NULL, 0, 0};

        while (j < n && tsdb_rollup_window(s[j].t) == w)
            j++;
        rc = store_tel_range(sc, STORE_TEL_ROLLUP, unit_id, m, w, w + 1,
                             NULL, rollup_each, &old, he);
        if (rc != STORE_OK) {
            free(old.b);
            return rc;
        }
        if (old.n > 0) {
            memcpy(b, old.b, old.n * sizeof *b);
            nb = old.n;
        }
        free(old.b);
        if (tsdb_rollup_add(b, TSDB_ROLLUP_BUCKETS, &nb, s + i, j - i,
                            mi->digits, he) != HRID_OK ||
            tsdb_rollup_encode(m, b, nb, buf, sizeof buf, &len, he) !=
                HRID_OK)
            return hrid_err_set(he, STORE_EIO, 0, 0, "rollup: %s", he->msg);
        t.unit_id = unit_id;
        t.a = m;
        t.b = w;
        t.data = buf;
        t.len = len;
        if ((rc = store_tel_put(sc, STORE_TEL_ROLLUP, &t, true, NULL, he)) !=
            STORE_OK)
            return rc;
        i = j;
    }
    return STORE_OK;
}

struct compact_job {
    int64_t unit_id, before, retention_before;
    int64_t reports;
};

static int compact_unit(struct store_conn *sc, void *arg, struct hrid_err *he)
{
    struct compact_job *j = arg;
    struct staged_rows x = {NULL, 0, 0, false};
    struct tsdb_sample *s = NULL;
    int rc;

    rc = store_tel_range(sc, STORE_TEL_STAGED, j->unit_id, 0, 0, j->before,
                         NULL, staged_collect, &x, he);
    if (rc == 1)
        rc = hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
    if (rc == STORE_OK && x.n > 0 &&
        (s = malloc(x.n * sizeof *s)) == NULL)
        rc = hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
    /* Staged rows come in time order; each metric's samples in turn. */
    for (unsigned m = 0; rc == STORE_OK && m < TSDB_METRIC_COUNT; m++) {
        size_t n = 0;

        for (size_t i = 0; i < x.n; i++)
            for (size_t k = 0; k < x.r[i].n; k++)
                if (x.r[i].values[k].metric == m) {
                    s[n].t = x.r[i].t;
                    s[n].v = x.r[i].values[k].v;
                    n++;
                }
        if (n > 0)
            rc = write_metric(sc, j->unit_id, m, s, n, he);
    }
    if (rc == STORE_OK)
        rc = store_tel_delete(sc, STORE_TEL_STAGED, j->unit_id, 0, j->before,
                              he);
    if (rc == STORE_OK)
        rc = store_tel_delete(sc, STORE_TEL_CHUNK, j->unit_id, 0,
                              j->retention_before, he);
    j->reports = (int64_t)x.n;
    free(x.r);
    free(s);
    return rc;
}

int core_telemetry_compact(struct core *c, int64_t now, int64_t retention_ms,
                           int64_t *reports, struct core_err *err)
{
    struct compact_job j;
    struct unit_list l;
    struct store_conn *sc;
    struct hrid_err he;
    int64_t after = 0;
    int rc;

    *reports = 0;
    memset(&j, 0, sizeof j);
    j.before = tsdb_chunk_window(now - COMPACT_GRACE_MS);
    j.retention_before = now - retention_ms;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    do {
        l.n = 0;
        hrid_err_clear(&he);
        rc = store_tel_units(sc, STORE_TEL_STAGED, j.before, after, 256,
                             unit_each, &l, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        for (int i = 0; i < l.n; i++) {
            j.unit_id = l.ids[i];
            rc = store_write(c->store, compact_unit, &j, &he);
            if (rc != STORE_OK)
                return core_store_fail(err, rc, &he);
            *reports += j.reports;
            after = l.ids[i];
        }
    } while (l.n == 256);
    return CORE_OK;
}

/* ---- health ------------------------------------------------------------- */

static json_t *trend_json(const struct tsdb_sample *s, size_t n,
                          double limit, bool rising)
{
    struct tsdb_fit fit;
    int64_t when;
    json_t *o;
    char t[32];

    if (n == 0)
        return NULL;
    core_time_format(s[n - 1].t, t);
    o = json_pack("{s:f, s:s}", "value", s[n - 1].v, "at", t);
    json_object_set_new(o, "threshold", json_real(limit));
    if (n >= 2 && tsdb_fit_line(s, n, &fit, NULL) == HRID_OK) {
        json_object_set_new(o, "rate_per_day", json_real(fit.slope));
        if (tsdb_fit_crossing(&fit, limit, rising, &when, NULL) == HRID_OK) {
            core_time_format(when, t);
            json_object_set_new(o, "projected_at", json_string(t));
        } else {
            json_object_set_new(o, "projected_at", json_null());
        }
    } else {
        json_object_set_new(o, "rate_per_day", json_null());
        json_object_set_new(o, "projected_at", json_null());
    }
    return o;
}

int core_unit_health(struct core *c, const struct core_principal *who,
                     const char *code, size_t code_len, struct arena *a,
                     json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_unit u;
    struct store_model m;
    struct hrid_err he;
    json_t *joints = json_array(), *params, *th, *o, *battery = NULL;
    int64_t now = core_now_ms();
    double wear_limit = WEAR_LIMIT, soh_limit = SOH_LIMIT;
    int rc;

    *out = NULL;
    if ((rc = health_access(c, who, code, code_len, &sc, &u, a, err)) !=
        CORE_OK) {
        json_decref(joints);
        return rc;
    }
    memset(&m, 0, sizeof m);
    if (store_model_get_row(sc, u.model_row, a, &m, &he) == STORE_OK) {
        params = core_json_text(m.params);
        th = json_object_get(params, "thresholds");
        if (json_is_number(json_object_get(th, "joint_wear")))
            wear_limit = json_number_value(json_object_get(th, "joint_wear"));
        if (json_is_number(json_object_get(th, "battery_soh")))
            soh_limit = json_number_value(json_object_get(th, "battery_soh"));
        json_decref(params);
    }
    for (unsigned id = 0; id < TSDB_JOINTS + 1; id++) {
        unsigned metric = id < TSDB_JOINTS ? TSDB_METRIC_JOINT_WEAR(id)
                                           : TSDB_METRIC_BATTERY_SOH;
        struct samples x;

        memset(&x, 0, sizeof x);
        x.metric = metric;
        x.to = now + 1;
        x.from = now - HEALTH_WINDOW_MS;
        rc = read_trend(sc, u.id, &x, &he);
        if (rc != STORE_OK) {
            free(x.s);
            json_decref(joints);
            json_decref(battery);
            return core_store_fail(err, rc, &he);
        }
        o = trend_json(x.s, x.n, id < TSDB_JOINTS ? wear_limit : soh_limit,
                       id < TSDB_JOINTS);
        free(x.s);
        if (o == NULL)
            continue;
        if (id < TSDB_JOINTS) {
            json_object_set_new(o, "joint", json_integer(id));
            json_array_append_new(joints, o);
        } else {
            battery = o;
        }
    }
    *out = json_pack("{s:s, s:s, s:o, s:o}", "code", u.code, "model",
                     m.model_id, "joints", joints, "battery",
                     battery ? battery : json_null());
    return CORE_OK;
}

/* ---- the fleet of a model ------------------------------------------------ */

/* The fleet's distribution of each unit's latest value: its most worn
 * joint, battery state of health and temperature, precision. */
enum { F_WEAR, F_SOH, F_BTEMP, F_PREC, F_N };
static const char *const fleet_names[F_N] = {
    "joint.max.wear", "battery.soh", "battery.temp", "precision_mm",
};

struct fleet {
    double *v[F_N];             /* packed values per metric */
    size_t n[F_N];
    double *wear;               /* per unit, -1 when none */
    char (*code)[HRID_CODE_LEN + 1];
    size_t units, cap;
    int page;                   /* codes collected from the listing */
};

static int fleet_grow(struct fleet *f, size_t need)
{
    size_t cap = f->cap ? f->cap : 1024;
    void *p;

    if (need <= f->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    for (int k = 0; k < F_N; k++) {
        if ((p = realloc(f->v[k], cap * sizeof *f->v[k])) == NULL)
            return -1;
        f->v[k] = p;
    }
    if ((p = realloc(f->wear, cap * sizeof *f->wear)) == NULL)
        return -1;
    f->wear = p;
    if ((p = realloc(f->code, cap * sizeof *f->code)) == NULL)
        return -1;
    f->code = p;
    f->cap = cap;
    return 0;
}

static int fleet_unit(void *ctx, const struct store_unit *u)
{
    struct fleet *f = ctx;

    memcpy(f->code[f->units + (size_t)f->page++], u->code,
           HRID_CODE_LEN + 1);
    return 0;
}

static int fleet_latest(void *ctx, const struct store_tel *t)
{
    struct fleet *f = ctx;
    struct tsdb_report r;
    double worst = -1;

    if (t->len < 8 || !stage_decode((const unsigned char *)t->data + 8,
                                    t->len - 8, &r))
        return 0;
    for (size_t i = 0; i < r.n; i++) {
        unsigned m = r.values[i].metric;
        int k = m == TSDB_METRIC_BATTERY_SOH    ? F_SOH
                : m == TSDB_METRIC_BATTERY_TEMP ? F_BTEMP
                : m == TSDB_METRIC_PRECISION_MM ? F_PREC
                                                : -1;

        if (m < TSDB_JOINTS && r.values[i].v > worst)
            worst = r.values[i].v;
        if (k >= 0)
            f->v[k][f->n[k]++] = r.values[i].v;
    }
    if (worst >= 0)
        f->v[F_WEAR][f->n[F_WEAR]++] = worst;
    f->wear[f->units] = worst;
    return 0;
}

static void fleet_free(struct fleet *f)
{
    for (int k = 0; k < F_N; k++)
        free(f->v[k]);
    free(f->wear);
    free(f->code);
}

static json_t *fleet_json(struct fleet *f, const char *model_id)
{
    static const double pcts[3] = {50, 90, 99};
    json_t *metrics = json_object(), *outl = json_array();
    size_t n = 0, *idx = malloc((f->units + 1) * sizeof *idx);
    double *w = malloc((f->units + 1) * sizeof *w);
    double *scratch = malloc((f->units + 1) * sizeof *scratch);
    double *z = malloc((f->units + 1) * sizeof *z);
    bool *flag = malloc((f->units + 1) * sizeof *flag);

    if (idx == NULL || w == NULL || scratch == NULL || z == NULL ||
        flag == NULL)
        goto out;
    /* Outliers first: percentiles sort their input. */
    for (size_t i = 0; i < f->units; i++)
        if (f->wear[i] >= 0) {
            idx[n] = i;
            w[n++] = f->wear[i];
        }
    if (n >= 3 && tsdb_outliers(w, n, TSDB_OUTLIER_Z, scratch, z, flag, NULL,
                                NULL) == HRID_OK)
        for (size_t i = 0; i < n; i++)
            if (flag[i] && z[i] > 0)
                json_array_append_new(outl, json_pack(
                    "{s:s, s:f, s:f}", "code", f->code[idx[i]], "wear", w[i],
                    "z", z[i]));
    for (int k = 0; k < F_N; k++) {
        double p[3];

        if (f->n[k] > 0 && tsdb_percentiles(f->v[k], f->n[k], pcts, 3, p,
                                            NULL) == HRID_OK)
            json_object_set_new(metrics, fleet_names[k], json_pack(
                "{s:I, s:f, s:f, s:f}", "units", (json_int_t)f->n[k], "p50",
                p[0], "p90", p[1], "p99", p[2]));
    }
out:
    free(idx);
    free(w);
    free(scratch);
    free(z);
    free(flag);
    return json_pack("{s:s, s:I, s:o, s:o}", "model", model_id, "units",
                     (json_int_t)f->units, "metrics", metrics, "outliers",
                     outl);
}

int core_model_health(struct core *c, const struct core_principal *who,
                      const char *model, struct arena *a, json_t **out,
                      struct core_err *err)
{
    struct store_unit_filter uf;
    struct store_conn *sc;
    struct store_model m;
    struct hrid_err he;
    struct fleet f;
    char after[HRID_CODE_LEN + 1] = "";
    int rc;

    *out = NULL;
    rc = core_require(who, ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER,
                      "read a model's fleet health", err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((rc = core_model_find(sc, model, a, &m, err)) != CORE_OK)
        return rc;
    if (who->role == ROLE_MANUFACTURER && m.enterprise_id != who->party_id)
        return core_fail(err, CORE_EFORBIDDEN, "not_maker", "model",
                         "a manufacturer reads its own models' fleet health");
    memset(&f, 0, sizeof f);
    do {
        if (fleet_grow(&f, f.units + CORE_PAGE_MAX) != 0) {
            fleet_free(&f);
            return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                             "out of memory");
        }
        memset(&uf, 0, sizeof uf);
        uf.model_row = m.id;
        uf.enterprise_id = m.enterprise_id;
        uf.after_code = after;
        uf.limit = CORE_PAGE_MAX;
        f.page = 0;
        rc = store_unit_list(sc, &uf, a, fleet_unit, &f, &he);
        for (int i = 0; rc == STORE_OK && i < f.page; i++) {
            struct store_unit u;

            if (core_unit_load(sc, f.code[f.units], a, &u, err) != CORE_OK) {
                fleet_free(&f);
                return err->status;
            }
            f.wear[f.units] = -1;
            rc = store_tel_range(sc, STORE_TEL_LATEST, u.id, 0, 0, 1, a,
                                 fleet_latest, &f, &he);
            memcpy(after, u.code, sizeof after);
            f.units++;
        }
        if (rc != STORE_OK) {
            fleet_free(&f);
            return core_store_fail(err, rc, &he);
        }
    } while (f.page == CORE_PAGE_MAX);
    *out = fleet_json(&f, m.model_id);
    fleet_free(&f);
    return CORE_OK;
}

/* ---- reports a unit signs itself (MQTT) --------------------------------- */

#include <sodium.h>

/* What a device signs: this tag, the unit's canonical code and a newline,
 * then the JSON bytes exactly as sent.  The tag keeps a telemetry
 * signature from ever passing for a challenge answer (hrid-challenge/v1)
 * made with the same key, and the code keeps a unit's message from
 * counting on another unit's topic. */
static const char device_tag[] = "hrid-telemetry/v1\n";

/* The base64 of a 64-byte signature: 88 characters with padding. */
#define DEVICE_SIG_B64_MAX 88

struct device_op {
    struct ingest_op in;
    const char *device_key;     /* as verified, in the arena */
    struct core_principal who;
};

/* Inside the write: the unit must still hold the key the message was
 * verified with.  The device then reports for its unit's custodian (or
 * its operator when it has none), which is what ingest_run authorises. */
static int device_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct device_op *op = arg;
    struct store_unit u;
    int rc;

    if ((rc = core_unit_load(sc, op->in.reports[0].code, a, &u, err)) !=
        CORE_OK)
        return rc;
    if (u.device_key == NULL || strcmp(u.device_key, op->device_key) != 0)
        return core_fail(err, CORE_EFORBIDDEN, "bad_signature", NULL,
                         "unit %s: its device key changed while the message "
                         "was checked", u.code);
    memset(&op->who, 0, sizeof op->who);
    op->who.role = ROLE_OWNER;
    op->who.party_id = u.custodian_id != 0 ? u.custodian_id : u.operator_id;
    op->in.who = &op->who;
    return ingest_run(c, sc, &op->in, a, reply, err);
}

int core_telemetry_ingest_device(struct core *c, const char *code,
                                 size_t code_len, const void *msg,
                                 size_t len, struct arena *a,
                                 struct core_reply *out, struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1], sig_b64[DEVICE_SIG_B64_MAX + 1];
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *signed_bytes = NULL;
    const char *p = msg, *nl, *end;
    struct device_op op;
    struct store_conn *sc;
    struct store_unit u;
    json_error_t je;
    json_t *reports = NULL, *o;
    size_t i, n, json_len, tag_len = sizeof device_tag - 1;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&op, 0, sizeof op);
    if ((rc = core_code_arg(code, code_len, canon, err)) != CORE_OK)
        return rc;
    /* "<base64 signature>\n<JSON array of reports>" */
    nl = len > 0 ? memchr(p, '\n', len < sizeof sig_b64 ? len
                                                          : sizeof sig_b64)
                 : NULL;
    if (nl == NULL || nl == p)
        return core_fail(err, CORE_EUNAUTH, "unsigned", NULL,
                         "unit %s: the message does not start with a base64 "
                         "signature and a newline", canon);
    memcpy(sig_b64, p, (size_t)(nl - p));
    sig_b64[nl - p] = '\0';
    if (sodium_base642bin(sig, sizeof sig, sig_b64, strlen(sig_b64), NULL, &n,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || n != sizeof sig)
        return core_fail(err, CORE_EUNAUTH, "unsigned", NULL,
                         "unit %s: the message's first line is not the base64 "
                         "of a 64-byte signature", canon);
    json_len = len - (size_t)(nl + 1 - p);

    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((rc = core_unit_load(sc, canon, a, &u, err)) != CORE_OK)
        return rc;
    if (u.device_key == NULL ||
        sodium_base642bin(pk, sizeof pk, u.device_key, strlen(u.device_key),
                          NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
            0 || n != sizeof pk)
        return core_fail(err, CORE_ECONFLICT, "no_device_key", NULL,
                         "unit %s has no registered device key", canon);
    signed_bytes = malloc(tag_len + HRID_CODE_LEN + 1 + json_len + 1);
    if (signed_bytes == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    memcpy(signed_bytes, device_tag, tag_len);
    memcpy(signed_bytes + tag_len, canon, HRID_CODE_LEN);
    signed_bytes[tag_len + HRID_CODE_LEN] = '\n';
    memcpy(signed_bytes + tag_len + HRID_CODE_LEN + 1, nl + 1, json_len);
    rc = crypto_sign_verify_detached(sig, signed_bytes,
                                     tag_len + HRID_CODE_LEN + 1 + json_len,
                                     pk);
    free(signed_bytes);
    if (rc != 0)
        return core_fail(err, CORE_EFORBIDDEN, "bad_signature", NULL,
                         "unit %s: the signature does not verify with the "
                         "unit's device key", canon);

    reports = json_loadb(nl + 1, json_len, JSON_REJECT_DUPLICATES, &je);
    if (reports == NULL)
        return core_fail(err, CORE_EBADREQ, "bad_json", NULL,
                         "unit %s: reports: %s (line %d, column %d)", canon,
                         je.text, je.line, je.column);
    if (!json_is_array(reports) || json_array_size(reports) == 0) {
        json_decref(reports);
        return core_fail(err, CORE_EINVALID, "invalid_field", "reports",
                         "reports: a non-empty array of reports");
    }
    if (json_array_size(reports) > CORE_TELEMETRY_BATCH_MAX) {
        rc = core_fail(err, CORE_ETOOLARGE, "too_large", "reports",
                       "reports: %zu reports, at most %d a message",
                       json_array_size(reports), CORE_TELEMETRY_BATCH_MAX);
        json_decref(reports);
        return rc;
    }
    op.in.n = json_array_size(reports);
    op.in.reports = malloc(op.in.n * sizeof *op.in.reports);
    op.device_key = u.device_key;
    if (op.in.reports == NULL) {
        json_decref(reports);
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    }
    rc = CORE_OK;
    json_array_foreach(reports, i, o) {
        if (!json_is_object(o))
            rc = core_fail(err, CORE_EINVALID, "invalid_field", "reports",
                           "reports[%zu]: not an object", i);
        else if ((rc = parse_report(o, i, &op.in.reports[i], err)) ==
                     CORE_OK &&
                 strcmp(op.in.reports[i].code, canon) != 0) {
            char field[48];

            snprintf(field, sizeof field, "reports[%zu].unit", i);
            rc = core_fail(err, CORE_EINVALID, "unit_mismatch", field,
                           "%s: %s is not the topic's unit %s", field,
                           op.in.reports[i].code, canon);
        }
        if (rc != CORE_OK)
            break;
    }
    json_decref(reports);
    if (rc == CORE_OK)
        rc = core_write(c, &op.who, NULL, device_run, &op, a, out, err);
    free(op.in.reports);
    return rc;
}
