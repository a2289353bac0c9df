/*
 * alert.c - alert rules on health telemetry (DESIGN §4): the early signal
 * of a common defect, before it becomes an incident or a recall.
 *
 * A maker (for its models) or a regulator (for any maker's) sets a rule: a
 * metric ("battery.temp", or every joint's "joint.*.wear"), a comparison,
 * a threshold and how long the value must stay beyond it.  Rules are
 * evaluated as reports are accepted, in their transaction: the first
 * value beyond the threshold makes a pending alert for the unit and
 * metric; once values have stayed beyond for the rule's duration it opens;
 * a value back within clears it (a pending one is dropped).  Open alerts
 * show in the unit's custodian and regulator views and in its as-of
 * record.
 *
 * A rule may instead watch for silence: "no data for N minutes".  Every
 * accepted report records its unit's latest report time; a sweep
 * (core_alert_sweep, from hridd's telemetry thread) opens an alert for
 * each unit in service whose latest report is older than N minutes, dated
 * when the silence reached N minutes; the unit's next report clears it.
 * Units out of service (in maintenance, suspended, scrapped...) are
 * expected to be quiet and are not swept.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "telemetry/tsdb.h"

static const char *const ops[] = {">", "<", NULL};

/* A silence rule is stored as a rule on this pseudo-metric, for_ms the
 * silence allowed; its alerts carry metric id NO_DATA_METRIC. */
#define NO_DATA "no_data"
#define NO_DATA_METRIC (-1)
#define NO_DATA_STATE "in_service"

static const struct schema_field nodata_fields[] = {
    {"model", S_STR, 0, 12, 0, 0, NULL, NULL},
    {"enterprise", S_STR, 0, 6, 0, 0, NULL, NULL},
    {"no_data_minutes", S_INT, SF_REQUIRED, 0, 1, 7 * 24 * 60, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const struct schema_field rule_fields[] = {
    {"model", S_STR, 0, 12, 0, 0, NULL, NULL},
    {"enterprise", S_STR, 0, 6, 0, 0, NULL, NULL},
    {"metric", S_STR, SF_REQUIRED, TSDB_METRIC_NAME_MAX, 0, 0, NULL, NULL},
    {"op", S_ENUM, SF_REQUIRED, 0, 0, 0, ops, NULL},
    {"threshold", S_NUM, SF_REQUIRED, 0, -1e9, 1e9, NULL, NULL},
    {"for_minutes", S_INT, 0, 0, 0, 7 * 24 * 60, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Does the rule's metric (a name, or joint.*.wear / joint.*.temp) cover
 * metric id m? */
static bool rule_covers(const char *metric, unsigned m)
{
    char name[TSDB_METRIC_NAME_MAX];
    unsigned id;

    if (strcmp(metric, "joint.*.wear") == 0)
        return m < TSDB_JOINTS;
    if (strcmp(metric, "joint.*.temp") == 0)
        return m >= TSDB_JOINTS && m < 2 * TSDB_JOINTS;
    if (tsdb_metric_parse(metric, strlen(metric), &id, NULL) != HRID_OK)
        return false;
    (void)name;
    return id == m;
}

static json_t *rule_json(const struct store_alert_rule *r, const char *ent,
                         const char *model)
{
    if (strcmp(r->metric, NO_DATA) == 0)
        return json_pack("{s:I, s:s, s:s?, s:I, s:o}", "id",
                         (json_int_t)r->id, "enterprise", ent, "model", model,
                         "no_data_minutes", (json_int_t)(r->for_ms / 60000),
                         "created_at", core_time_json(r->created_at));
    return json_pack("{s:I, s:s, s:s?, s:s, s:s, s:f, s:I, s:o}", "id",
                     (json_int_t)r->id, "enterprise", ent, "model", model,
                     "metric", r->metric, "op", r->op, "threshold",
                     r->threshold, "for_minutes",
                     (json_int_t)(r->for_ms / 60000), "created_at",
                     core_time_json(r->created_at));
}

struct rule_op {
    json_t *body;
    const struct core_principal *who;
};

static int rule_run(struct core *c, struct store_conn *sc, void *arg,
                    struct arena *a, struct core_reply *reply,
                    struct core_err *err)
{
    struct rule_op *op = arg;
    struct store_alert_rule r;
    struct store_model m;
    struct store_party p;
    struct hrid_err he;
    const char *model = schema_str(op->body, "model");
    const char *ent = schema_str(op->body, "enterprise");
    char entc[7];
    int rc;

    memset(&r, 0, sizeof r);
    if (model != NULL) {
        if ((rc = core_model_find(sc, model, a, &m, err)) != CORE_OK)
            return rc;
        r.enterprise_id = m.enterprise_id;
        r.model_row = m.id;
    } else if ((rc = core_enterprise_find(c, sc, ent, a, &p, err)) !=
               CORE_OK) {
        snprintf(err->field, sizeof err->field, "enterprise");
        return rc;
    } else {
        r.enterprise_id = p.id;
    }
    if (op->who->role == ROLE_MANUFACTURER &&
        r.enterprise_id != op->who->party_id)
        return core_fail(err, CORE_EFORBIDDEN, "not_maker",
                         model ? "model" : "enterprise",
                         "a manufacturer sets alert rules on its own models");
    if ((rc = store_party_get(sc, r.enterprise_id, a, &p, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    snprintf(entc, sizeof entc, "%s%s", p.country, p.ent_code);
    if (json_object_get(op->body, "no_data_minutes") != NULL) {
        r.metric = NO_DATA;
        r.op = "silent";
        r.for_ms = schema_int(op->body, "no_data_minutes", 0) * 60000;
    } else {
        r.metric = schema_str(op->body, "metric");
        r.op = schema_str(op->body, "op");
        r.threshold = schema_num(op->body, "threshold", 0);
        r.for_ms = schema_int(op->body, "for_minutes", 0) * 60000;
    }
    r.created_by = op->who->party_id;
    r.created_at = core_now_ms();
    if ((rc = store_rule_insert(sc, &r, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 201;
    reply->body = rule_json(&r, entc, model ? m.model_id : NULL);
    return CORE_OK;
}

int core_alert_rule_create(struct core *c, const struct core_principal *who,
                           json_t *body, const struct core_idem *idem,
                           struct arena *a, struct core_reply *out,
                           struct core_err *err)
{
    struct rule_op op = {body, who};
    const char *metric;
    bool nodata;
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_MANUFACTURER | ROLE_REGULATOR,
                      "set alert rules", err);
    if (rc != CORE_OK)
        return rc;
    /* A body with no_data_minutes is a silence rule, and takes no metric,
     * op or threshold (schema_check names them as unknown fields). */
    nodata = json_is_object(body) &&
             json_object_get(body, "no_data_minutes") != NULL;
    rc = schema_check(body, nodata ? nodata_fields : rule_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    if ((schema_str(body, "model") == NULL) ==
        (schema_str(body, "enterprise") == NULL))
        return core_fail(err, CORE_EINVALID, "missing_field", "model",
                         "give exactly one of model (12 characters) and "
                         "enterprise (6)");
    if (nodata)
        return core_write(c, who, idem, rule_run, &op, a, out, err);
    metric = schema_str(body, "metric");
    if (strcmp(metric, "joint.*.wear") != 0 &&
        strcmp(metric, "joint.*.temp") != 0) {
        struct hrid_err he;
        unsigned id;

        if (tsdb_metric_parse(metric, strlen(metric), &id, &he) != HRID_OK)
            return core_fail(err, CORE_EINVALID, "invalid_field", "metric",
                             "metric: %s (or joint.*.wear, joint.*.temp)",
                             he.msg);
    }
    return core_write(c, who, idem, rule_run, &op, a, out, err);
}

/* ---- evaluation ---------------------------------------------------------- */

struct rules {
    struct store_alert_rule *r;
    size_t n, cap;
    struct arena *a;
};

static int rule_each(void *ctx, const struct store_alert_rule *r)
{
    struct rules *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct store_alert_rule *p = arena_alloc(l->a, cap * sizeof *p);

        if (p == NULL)
            return 1;
        if (l->n > 0)
            memcpy(p, l->r, l->n * sizeof *p);
        l->r = p;
        l->cap = cap;
    }
    l->r[l->n++] = *r;
    return 0;
}

/* A report of u at t arrived: the unit's silence alert of rule r, if
 * open, clears now (the silence ended when the registry heard from it). */
static int nodata_heard(struct store_conn *sc, const struct store_alert_rule *r,
                        const struct store_unit *u, int64_t t,
                        struct arena *a, struct core_err *err)
{
    struct store_alert al;
    struct hrid_err he;
    int64_t now = core_now_ms();
    int rc;

    rc = store_alert_find(sc, r->id, u->id, NO_DATA_METRIC, a, &al, &he);
    if (rc == STORE_NOTFOUND)
        return CORE_OK;
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    al.state = "cleared";
    al.cleared_at = now > al.opened_at ? now : al.opened_at;
    al.value = (double)(t - al.since) / 60000.0;
    rc = store_alert_put(sc, &al, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

int core_alert_eval(struct store_conn *sc, const struct store_unit *u,
                    const struct tsdb_report *rep,
                    struct core_alert_rules *rules, struct arena *a,
                    struct core_err *err)
{
    const struct tsdb_value *vals = rep->values;
    struct store_seen seen;
    struct hrid_err he;
    double lat = NAN, lon = NAN;
    int64_t t = rep->t;
    size_t n = rep->n;
    int rc;

    /* A located report is checked against the unit's fence. */
    for (size_t i = 0; i < n; i++) {
        if (vals[i].metric == TSDB_METRIC_LAT)
            lat = vals[i].v;
        else if (vals[i].metric == TSDB_METRIC_LON)
            lon = vals[i].v;
    }
    if (!isnan(lat) && !isnan(lon) &&
        (rc = core_fence_eval(sc, u, t, lat, lon, a, err)) != CORE_OK)
        return rc;

    seen.unit_id = u->id;
    seen.enterprise_id = u->enterprise_id;
    seen.model_row = u->model_row;
    seen.t = t;
    if ((rc = store_seen_put(sc, &seen, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);

    if (!rules->loaded || rules->enterprise_id != u->enterprise_id ||
        rules->model_row != u->model_row) {
        struct rules l = {NULL, 0, 0, a};

        rc = store_rule_list(sc, u->enterprise_id, u->model_row, a,
                             rule_each, &l, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc == 1 ? STORE_EIO : rc, &he);
        rules->loaded = true;
        rules->enterprise_id = u->enterprise_id;
        rules->model_row = u->model_row;
        rules->r = l.r;
        rules->n = l.n;
    }
    for (size_t k = 0; k < rules->n; k++) {
        const struct store_alert_rule *r = &rules->r[k];

        if (strcmp(r->metric, NO_DATA) == 0) {
            if ((rc = nodata_heard(sc, r, u, t, a, err)) != CORE_OK)
                return rc;
            continue;
        }

        for (size_t i = 0; i < n; i++) {
            struct store_alert al;
            bool beyond;

            if (!rule_covers(r->metric, vals[i].metric))
                continue;
            beyond = r->op[0] == '>' ? vals[i].v > r->threshold
                                     : vals[i].v < r->threshold;
            rc = store_alert_find(sc, r->id, u->id, (int)vals[i].metric, a, &al,
                                  &he);
            if (rc != STORE_OK && rc != STORE_NOTFOUND)
                return core_store_fail(err, rc, &he);
            if (rc == STORE_NOTFOUND) {
                if (!beyond)
                    continue;
                memset(&al, 0, sizeof al);
                al.rule_id = r->id;
                al.unit_id = u->id;
                memcpy(al.code, u->code, sizeof al.code);
                al.model_row = u->model_row;
                al.enterprise_id = u->enterprise_id;
                al.metric = (int)vals[i].metric;
                al.since = t;
                al.state = r->for_ms == 0 ? "open" : "pending";
                al.opened_at = r->for_ms == 0 ? t : 0;
            } else if (beyond) {
                /* Reports may come out of order: only later ones count
                 * towards the duration. */
                if (strcmp(al.state, "pending") == 0 &&
                    t - al.since >= r->for_ms) {
                    al.state = "open";
                    al.opened_at = t;
                }
            } else if (t >= al.since) {
                al.state = strcmp(al.state, "open") == 0 ? "cleared"
                                                         : "dropped";
                al.cleared_at = t;
            }
            al.value = vals[i].v;
            if ((rc = store_alert_put(sc, &al, &he)) != STORE_OK)
                return core_store_fail(err, rc, &he);
        }
    }
    return CORE_OK;
}

/* ---- reading --------------------------------------------------------------- */

static json_t *alert_json(const struct store_alert *al)
{
    char name[TSDB_METRIC_NAME_MAX];

    if (al->metric == NO_DATA_METRIC)
        snprintf(name, sizeof name, "%s", NO_DATA);
    else if (tsdb_metric_format((unsigned)al->metric, name, sizeof name,
                                NULL) != HRID_OK)
        snprintf(name, sizeof name, "%d", al->metric);
    /* kind: beside fence violations (kind "fence"), a threshold alert
     * or a silence alert. */
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:f, s:o, s:o, s:o}",
                     "id", (json_int_t)al->id, "kind",
                     al->metric == NO_DATA_METRIC ? "silence" : "threshold",
                     "rule", (json_int_t)al->rule_id,
                     "code", al->code, "metric", name, "state", al->state,
                     "value", al->value, "since", core_time_json(al->since),
                     "opened_at", core_time_json(al->opened_at),
                     "cleared_at", core_time_json(al->cleared_at));
}

struct alert_list {
    json_t *items;
    int64_t t;                  /* > 0: only those open at t */
    int64_t last;
    int n;
};

static int alert_each(void *ctx, const struct store_alert *al)
{
    struct alert_list *l = ctx;

    l->last = al->id;
    l->n++;
    if (l->t > 0 && (al->opened_at == 0 || al->opened_at > l->t ||
                     (al->cleared_at != 0 && al->cleared_at <= l->t)))
        return 0;
    json_array_append_new(l->items, alert_json(al));
    return 0;
}

json_t *core_alerts_open_at(struct store_conn *sc, int64_t unit_id, int64_t t,
                            struct arena *a, struct core_err *err)
{
    struct store_alert_filter f;
    struct alert_list l = {json_array(), t, 0, 0};
    struct hrid_err he;
    int rc;

    memset(&f, 0, sizeof f);
    f.unit_id = unit_id;
    f.limit = 1000;
    do {
        f.after_id = l.last;
        l.n = 0;
        rc = store_alert_list(sc, &f, a, alert_each, &l, &he);
        if (rc != STORE_OK) {
            json_decref(l.items);
            core_store_fail(err, rc, &he);
            return NULL;
        }
    } while (l.n == f.limit);
    return l.items;
}

int core_alert_list(struct core *c, const struct core_principal *who,
                    const char *state, const char *model, const char *unit,
                    const struct core_page *page, struct arena *a,
                    json_t **out, struct core_err *err)
{
    struct store_alert_filter f;
    struct alert_list l = {NULL, 0, 0, 0};
    struct store_conn *sc;
    struct hrid_err he;
    int limit, rc;

    *out = NULL;
    rc = core_require(who, ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER,
                      "list alerts", err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    memset(&f, 0, sizeof f);
    f.limit = limit;
    if ((rc = core_page_after(page, &f.after_id, err)) != CORE_OK)
        return rc;
    if (state != NULL && strcmp(state, "open") != 0 &&
        strcmp(state, "cleared") != 0 && strcmp(state, "pending") != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "state",
                         "state: open, cleared or pending");
    f.state = state;
    if (model != NULL) {
        struct store_model m;

        if ((rc = core_model_find(sc, model, a, &m, err)) != CORE_OK)
            return rc;
        f.model_row = m.id;
    }
    if (unit != NULL) {
        char canon[HRID_CODE_LEN + 1];
        struct store_unit u;

        if ((rc = core_code_arg(unit, strlen(unit), canon, err)) != CORE_OK ||
            (rc = core_unit_load(sc, canon, a, &u, err)) != CORE_OK)
            return rc;
        f.unit_id = u.id;
    }
    if (who->role == ROLE_MANUFACTURER)
        f.enterprise_id = who->party_id;
    l.items = json_array();
    rc = store_alert_list(sc, &f, a, alert_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last);
    return CORE_OK;
}

/* ---- silence ------------------------------------------------------------- */

#define SWEEP_BATCH 256

struct sweep {
    struct store_alert_rule rule;
    int64_t now;
    int64_t after_unit;         /* the batch starts after this unit */
    int64_t last_unit;          /* the batch's last unit */
    struct store_alert al[SWEEP_BATCH];
    int n;
};

static int silent_each(void *ctx, const struct store_seen *s)
{
    struct sweep *w = ctx;
    struct store_alert *al = &w->al[w->n++];

    memset(al, 0, sizeof *al);
    al->rule_id = w->rule.id;
    al->unit_id = s->unit_id;
    memcpy(al->code, s->code, sizeof al->code);
    al->model_row = s->model_row;
    al->enterprise_id = s->enterprise_id;
    al->metric = NO_DATA_METRIC;
    al->state = "open";
    al->since = s->t;
    al->opened_at = s->t + w->rule.for_ms;
    al->value = (double)(w->now - s->t) / 60000.0;
    w->last_unit = s->unit_id;
    return 0;
}

/* One write: up to SWEEP_BATCH silent units of the rule get their alert.
 * The units are found inside the write, so a report that arrived since
 * the previous batch is never overtaken by a stale alert. */
static int sweep_batch(struct store_conn *sc, void *arg, struct hrid_err *he)
{
    struct sweep *w = arg;
    int rc;

    w->n = 0;
    rc = store_seen_silent(sc, w->rule.enterprise_id, w->rule.model_row,
                           NO_DATA_STATE, w->now - w->rule.for_ms, w->rule.id,
                           NO_DATA_METRIC, w->after_unit, SWEEP_BATCH,
                           silent_each, w, he);
    if (rc != STORE_OK)
        return rc;
    for (int i = 0; i < w->n; i++)
        if ((rc = store_alert_put(sc, &w->al[i], he)) != STORE_OK)
            return rc;
    return STORE_OK;
}

int core_alert_sweep(struct core *c, int64_t now, int64_t *opened,
                     struct core_err *err)
{
    struct store_conn *sc;
    struct hrid_err he;
    struct sweep *w;
    int64_t after = 0;
    int rc = CORE_OK;

    *opened = 0;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((w = malloc(sizeof *w)) == NULL)
        return core_fail(err, CORE_EINTERNAL, "out_of_memory", NULL,
                         "out of memory sweeping silence rules");
    for (;;) {
        struct arena a;
        struct rules l;

        arena_init(&a);
        l = (struct rules){NULL, 0, 0, &a};
        hrid_err_clear(&he);
        rc = store_rule_list_metric(sc, NO_DATA, after, 64, &a, rule_each, &l,
                                    &he);
        if (rc != STORE_OK) {
            arena_release(&a);
            rc = core_store_fail(err, rc == 1 ? STORE_EIO : rc, &he);
            break;
        }
        for (size_t k = 0; k < l.n && rc == CORE_OK; k++) {
            w->rule = l.r[k];
            w->now = now;
            w->after_unit = 0;
            do {
                hrid_err_clear(&he);
                rc = store_write(c->store, sweep_batch, w, &he);
                if (rc != STORE_OK) {
                    rc = core_store_fail(err, rc, &he);
                    break;
                }
                *opened += w->n;
                w->after_unit = w->last_unit;
            } while (w->n == SWEEP_BATCH);
            after = l.r[k].id;
        }
        arena_release(&a);
        if (rc != CORE_OK || l.n < 64)
            break;
    }
    free(w);
    return rc;
}
