/*
 * stats.c - market statistics (DESIGN §4): units by enterprise, model,
 * state, region and intelligence level; registrations and releases per
 * month; incidents per 1,000 units per model; recall completion.
 *
 * The store keeps counts as units are written (store_stats), so a query
 * reads a table of combinations (enterprises x models x states x regions
 * in use), never the units themselves; grouping by the dimensions asked
 * happens here.  Regulators and the admin see everything.  A maker sees
 * its own numbers in full, and of the rest of the market only anonymous
 * totals ("market"), never another maker's or model's figures.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

enum dim { D_ENTERPRISE, D_MODEL, D_STATE, D_REGION, D_LEVEL, D_N };

static const char *const dim_names[D_N] = {
    "enterprise", "model", "state", "region", "level",
};

struct stats_ctx {
    struct core *c;
    struct store_conn *sc;
    struct arena *a;
    int dims[2], ndims;
    json_t *groups;             /* key "a\x1fb" -> {dims..., units} */
    int64_t total, market;
    int64_t own;                /* the maker's party, or 0 */
    int rc;
    struct hrid_err he;
};

static int parse_dims(const char *by, int dims[2], int *n,
                      struct core_err *err)
{
    char buf[64];
    char *save = NULL, *tok;

    *n = 0;
    if (by == NULL || by[0] == '\0')
        return core_fail(err, CORE_EINVALID, "missing_field", "by",
                         "by: one or two of enterprise, model, state, "
                         "region, level (e.g. by=model,state)");
    snprintf(buf, sizeof buf, "%s", by);
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int d;

        for (d = 0; d < D_N && strcmp(tok, dim_names[d]) != 0; d++)
            ;
        if (d == D_N || *n == 2 || (*n == 1 && dims[0] == d))
            return core_fail(err, CORE_EINVALID, "invalid_field", "by",
                             "by: '%.40s' is not one or two distinct of "
                             "enterprise, model, state, region, level", by);
        dims[(*n)++] = d;
    }
    return *n > 0 ? CORE_OK
                  : core_fail(err, CORE_EINVALID, "invalid_field", "by",
                              "by: empty");
}

/* The value of dimension d for a row of counts. */
static const char *dim_value(struct stats_ctx *s, int d,
                             const struct store_stat *k, char *buf,
                             size_t size)
{
    struct store_model m;
    struct store_party p;

    switch (d) {
    case D_ENTERPRISE:
        if (core_cache_party(s->c, s->sc, k->enterprise_id, s->a, &p,
                             &s->he) != STORE_OK)
            return NULL;
        snprintf(buf, size, "%s%s", p.country, p.ent_code);
        return buf;
    case D_MODEL:
    case D_LEVEL:
        if (core_cache_model(s->c, s->sc, k->model_row, s->a, &m, &s->he) !=
            STORE_OK)
            return NULL;
        if (d == D_MODEL)
            snprintf(buf, size, "%s", m.model_id);
        else
            snprintf(buf, size, "%d", m.level);
        return buf;
    case D_STATE:
        return k->k1;
    default:
        return k->k2 != NULL && k->k2[0] != '\0' ? k->k2 : "none";
    }
}

static int unit_row(void *ctx, const struct store_stat *k)
{
    struct stats_ctx *s = ctx;
    char v[2][64], key[160];
    const char *vals[2];
    json_t *g;

    s->market += k->n1;
    if (s->own != 0 && k->enterprise_id != s->own)
        return 0;
    s->total += k->n1;
    for (int i = 0; i < s->ndims; i++) {
        vals[i] = dim_value(s, s->dims[i], k, v[i], sizeof v[i]);
        if (vals[i] == NULL) {
            s->rc = STORE_EIO;
            return 1;
        }
    }
    snprintf(key, sizeof key, "%s\x1f%s", vals[0],
             s->ndims > 1 ? vals[1] : "");
    g = json_object_get(s->groups, key);
    if (g == NULL) {
        g = json_object();
        for (int i = 0; i < s->ndims; i++)
            json_object_set_new(g, dim_names[s->dims[i]],
                                json_string(vals[i]));
        json_object_set_new(g, "units", json_integer(0));
        json_object_set_new(s->groups, key, g);
    }
    json_object_set_new(g, "units", json_integer(
        json_integer_value(json_object_get(g, "units")) + k->n1));
    return 0;
}

static int who_sees(const struct core_principal *who, int64_t *own,
                    struct core_err *err)
{
    int rc = core_require(who, ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER,
                          "read market statistics", err);

    *own = who->role == ROLE_MANUFACTURER ? who->party_id : 0;
    return rc;
}

static int cmp_items(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    json_int_t na = json_integer_value(json_object_get(a, "units"));
    json_int_t nb = json_integer_value(json_object_get(b, "units"));

    return na < nb ? 1 : na > nb ? -1 : 0;
}

int core_stats_units(struct core *c, const struct core_principal *who,
                     const char *by, struct arena *a, json_t **out,
                     struct core_err *err)
{
    struct stats_ctx s;
    const char *key;
    json_t *v, *items, **arr;
    size_t n = 0;
    int rc;

    *out = NULL;
    memset(&s, 0, sizeof s);
    if ((rc = who_sees(who, &s.own, err)) != CORE_OK ||
        (rc = parse_dims(by, s.dims, &s.ndims, err)) != CORE_OK)
        return rc;
    if ((s.sc = core_conn(c, err)) == NULL)
        return err->status;
    s.c = c;
    s.a = a;
    s.groups = json_object();
    rc = store_stats(s.sc, STORE_STATS_UNITS, 0, a, unit_row, &s, &s.he);
    if (rc != STORE_OK || s.rc != STORE_OK) {
        json_decref(s.groups);
        return core_store_fail(err, s.rc != STORE_OK ? s.rc : rc, &s.he);
    }
    /* Largest groups first. */
    arr = arena_alloc(a, (json_object_size(s.groups) + 1) * sizeof *arr);
    if (arr == NULL) {
        json_decref(s.groups);
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    }
    json_object_foreach(s.groups, key, v)
        arr[n++] = v;
    qsort(arr, n, sizeof *arr, cmp_items);
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(items, arr[i]);
    json_decref(s.groups);
    v = json_array();
    for (int i = 0; i < s.ndims; i++)
        json_array_append_new(v, json_string(dim_names[s.dims[i]]));
    *out = json_pack("{s:o, s:o, s:I}", "by", v, "items", items, "total",
                     (json_int_t)s.total);
    if (s.own != 0)
        json_object_set_new(*out, "market", json_pack(
            "{s:I}", "units", (json_int_t)s.market));
    return CORE_OK;
}

struct months_ctx {
    int64_t own;
    json_t *months;             /* month -> {registered, released} */
    json_t *market;
};

static void add_to(json_t *map, const char *month, int64_t reg, int64_t rel)
{
    json_t *m = json_object_get(map, month);

    if (m == NULL) {
        m = json_pack("{s:s, s:I, s:I}", "month", month, "registered",
                      (json_int_t)0, "released", (json_int_t)0);
        json_object_set_new(map, month, m);
    }
    json_object_set_new(m, "registered", json_integer(
        json_integer_value(json_object_get(m, "registered")) + reg));
    json_object_set_new(m, "released", json_integer(
        json_integer_value(json_object_get(m, "released")) + rel));
}

static int month_row(void *ctx, const struct store_stat *k)
{
    struct months_ctx *m = ctx;

    if (m->own == 0 || k->enterprise_id == m->own)
        add_to(m->months, k->k1, k->n1, k->n2);
    if (m->own != 0)
        add_to(m->market, k->k1, k->n1, k->n2);
    return 0;
}

static json_t *sorted_values(json_t *map)
{
    json_t *l = json_array(), *v;
    const char *k;

    /* Months are YYYY-MM keys, inserted in order by the store. */
    json_object_foreach(map, k, v)
        json_array_append(l, v);
    return l;
}

int core_stats_months(struct core *c, const struct core_principal *who,
                      struct arena *a, json_t **out, struct core_err *err)
{
    struct months_ctx m = {0, NULL, NULL};
    struct store_conn *sc;
    struct hrid_err he;
    int rc;

    *out = NULL;
    if ((rc = who_sees(who, &m.own, err)) != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    m.months = json_object();
    m.market = json_object();
    rc = store_stats(sc, STORE_STATS_MONTHS, 0, a, month_row, &m, &he);
    if (rc != STORE_OK) {
        json_decref(m.months);
        json_decref(m.market);
        return core_store_fail(err, rc, &he);
    }
    *out = json_pack("{s:o}", "items", sorted_values(m.months));
    if (m.own != 0)
        json_object_set_new(*out, "market", sorted_values(m.market));
    json_decref(m.months);
    json_decref(m.market);
    return CORE_OK;
}

struct inc_ctx {
    struct core *c;
    struct store_conn *sc;
    struct arena *a;
    int64_t own;
    json_t *models;             /* model_row -> {model, units, incidents} */
    int rc;
    struct hrid_err he;
};

static json_t *model_entry(struct inc_ctx *x, int64_t row)
{
    char key[24];
    json_t *m;
    struct store_model md;

    snprintf(key, sizeof key, "%lld", (long long)row);
    m = json_object_get(x->models, key);
    if (m != NULL)
        return m;
    if (core_cache_model(x->c, x->sc, row, x->a, &md, &x->he) != STORE_OK) {
        x->rc = STORE_EIO;
        return NULL;
    }
    m = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I}", "model",
                  md.model_id, "level", md.level, "units", (json_int_t)0,
                  "incidents", (json_int_t)0, "verified", (json_int_t)0,
                  "open_alerts", (json_int_t)0, "units_alerted",
                  (json_int_t)0);
    json_object_set_new(x->models, key, m);
    return m;
}

static void bump(json_t *m, const char *field, int64_t n)
{
    json_object_set_new(m, field, json_integer(
        json_integer_value(json_object_get(m, field)) + n));
}

/* Units (n1), incidents (n1, of them verified n2) or open alerts (n1,
 * on n2 units) of a model. */
static int inc_add(struct inc_ctx *x, const struct store_stat *k,
                   const char *n1, const char *n2)
{
    json_t *m;

    if (x->own != 0 && k->enterprise_id != x->own)
        return 0;
    if ((m = model_entry(x, k->model_row)) == NULL)
        return 1;
    bump(m, n1, k->n1);
    if (n2 != NULL)
        bump(m, n2, k->n2);
    return 0;
}

static int inc_units(void *ctx, const struct store_stat *k)
{
    return inc_add(ctx, k, "units", NULL);
}

static int inc_rows(void *ctx, const struct store_stat *k)
{
    return inc_add(ctx, k, "incidents", "verified");
}

static int alert_rows(void *ctx, const struct store_stat *k)
{
    return inc_add(ctx, k, "open_alerts", "units_alerted");
}

int core_stats_incidents(struct core *c, const struct core_principal *who,
                         struct arena *a, json_t **out, struct core_err *err)
{
    struct inc_ctx x;
    const char *key;
    json_t *m, *items;
    int rc;

    *out = NULL;
    memset(&x, 0, sizeof x);
    if ((rc = who_sees(who, &x.own, err)) != CORE_OK)
        return rc;
    if ((x.sc = core_conn(c, err)) == NULL)
        return err->status;
    x.c = c;
    x.a = a;
    x.models = json_object();
    rc = store_stats(x.sc, STORE_STATS_UNITS, 0, a, inc_units, &x, &x.he);
    if (rc == STORE_OK && x.rc == STORE_OK)
        rc = store_stats(x.sc, STORE_STATS_INCIDENTS, 0, a, inc_rows, &x,
                         &x.he);
    if (rc == STORE_OK && x.rc == STORE_OK)
        rc = store_stats(x.sc, STORE_STATS_ALERTS, 0, a, alert_rows, &x,
                         &x.he);
    if (rc != STORE_OK || x.rc != STORE_OK) {
        json_decref(x.models);
        return core_store_fail(err, x.rc != STORE_OK ? x.rc : rc, &x.he);
    }
    items = json_array();
    json_object_foreach(x.models, key, m) {
        json_int_t u = json_integer_value(json_object_get(m, "units"));
        json_int_t n = json_integer_value(json_object_get(m, "incidents"));

        json_object_set_new(m, "per_1000_units",
                            json_real(u ? 1000.0 * (double)n / (double)u
                                        : 0.0));
        json_array_append(items, m);
    }
    json_decref(x.models);
    *out = json_pack("{s:o}", "items", items);
    return CORE_OK;
}

static int recall_row(void *ctx, const struct store_stat *k)
{
    json_array_append_new((json_t *)ctx, json_pack(
        "{s:I, s:s?, s:I, s:I, s:f}", "recall", (json_int_t)k->model_row,
        "status", k->k1, "affected", (json_int_t)k->n1, "remedied",
        (json_int_t)k->n2, "completion",
        k->n1 ? (double)k->n2 / (double)k->n1 : 1.0));
    return 0;
}

int core_stats_recalls(struct core *c, const struct core_principal *who,
                       struct arena *a, json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct hrid_err he;
    json_t *items;
    int64_t own;
    int rc;

    *out = NULL;
    if ((rc = who_sees(who, &own, err)) != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    items = json_array();
    rc = store_stats(sc, STORE_STATS_RECALLS, own, a, recall_row, items, &he);
    if (rc != STORE_OK) {
        json_decref(items);
        return core_store_fail(err, rc, &he);
    }
    *out = json_pack("{s:o}", "items", items);
    return CORE_OK;
}
