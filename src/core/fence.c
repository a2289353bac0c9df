/*
 * fence.c - electronic fences (DESIGN §4): where a robot may be.
 *
 * A regulator or an owner draws zones (GeoJSON polygons, longitude then
 * latitude, first ring the outline, further rings holes), and a unit's
 * custodian or a regulator sets the unit's permission profile: the zones
 * it may be in, the scenarios it may work in, a speed limit.  Every
 * accepted telemetry report with a location is checked against the
 * profile in the report's transaction (core_fence_eval, from the alert
 * evaluation): a location outside every allowed zone opens a violation,
 * or extends the open one, keeping the first and last offending reports;
 * the first report back inside closes it.  Open violations show in the
 * unit's custodian and regulator views and in its as-of record.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

/* A polygon's rings hold at most this many points, and a zone at most
 * this many rings: a site's outline, not a country's coastline. */
#define RING_POINTS_MAX 1000
#define RINGS_MAX 16

static const char *const scenarios[] = {
    "factory", "logistics", "retail", "public", "care",
    "home", "education", "research", NULL,
};

static const struct schema_field zone_fields[] = {
    {"name", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"polygon", S_JSON, SF_REQUIRED, 65536, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* zone_ids (an array of 1 to 64 zone ids) is checked in fence_run. */
static const struct schema_field fence_fields[] = {
    {"scenarios", S_STRARR, 0, 8, 0, 0, NULL, NULL},
    {"speed_limit_mps", S_NUM, 0, 0, 0, 100, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Checks a GeoJSON Polygon: {"type":"Polygon","coordinates":[ring...]},
 * each ring at least four [lon, lat] points, closed, within range. */
static int check_polygon(json_t *p, struct core_err *err)
{
    json_t *rings = json_object_get(p, "coordinates"), *ring, *pt;
    size_t i, k;

    if (!json_is_object(p) ||
        !json_is_string(json_object_get(p, "type")) ||
        strcmp(json_string_value(json_object_get(p, "type")), "Polygon") !=
            0 ||
        !json_is_array(rings) || json_array_size(rings) == 0 ||
        json_array_size(rings) > RINGS_MAX)
        return core_fail(err, CORE_EINVALID, "invalid_field", "polygon",
                         "polygon: a GeoJSON Polygon {\"type\":\"Polygon\","
                         "\"coordinates\":[[[lon,lat],...]]} of 1 to %d rings",
                         RINGS_MAX);
    json_array_foreach(rings, i, ring) {
        size_t n = json_array_size(ring);

        if (!json_is_array(ring) || n < 4 || n > RING_POINTS_MAX)
            return core_fail(err, CORE_EINVALID, "invalid_field", "polygon",
                             "polygon: ring %zu must have 4 to %d points", i,
                             RING_POINTS_MAX);
        json_array_foreach(ring, k, pt) {
            double lon = json_number_value(json_array_get(pt, 0));
            double lat = json_number_value(json_array_get(pt, 1));

            if (!json_is_array(pt) || json_array_size(pt) < 2 ||
                !json_is_number(json_array_get(pt, 0)) ||
                !json_is_number(json_array_get(pt, 1)) || fabs(lon) > 180 ||
                fabs(lat) > 90)
                return core_fail(err, CORE_EINVALID, "invalid_field",
                                 "polygon", "polygon: ring %zu point %zu is "
                                 "not [lon, lat] within range", i, k);
        }
        if (!json_equal(json_array_get(ring, 0), json_array_get(ring, n - 1)))
            return core_fail(err, CORE_EINVALID, "invalid_field", "polygon",
                             "polygon: ring %zu is not closed (its last "
                             "point must repeat its first)", i);
    }
    return CORE_OK;
}

/* Even-odd rule over every ring: inside the outline and outside holes. */
static bool inside(json_t *polygon, double lat, double lon)
{
    json_t *rings = json_object_get(polygon, "coordinates"), *ring;
    bool in = false;
    size_t r;

    json_array_foreach(rings, r, ring) {
        size_t n = json_array_size(ring);

        for (size_t i = 0, j = n - 1; i < n; j = i++) {
            double xi = json_number_value(json_array_get(json_array_get(ring, i), 0));
            double yi = json_number_value(json_array_get(json_array_get(ring, i), 1));
            double xj = json_number_value(json_array_get(json_array_get(ring, j), 0));
            double yj = json_number_value(json_array_get(json_array_get(ring, j), 1));

            if ((yi > lat) != (yj > lat) &&
                lon < (xj - xi) * (lat - yi) / (yj - yi) + xi)
                in = !in;
        }
    }
    return in;
}

/* ---- zones and profiles --------------------------------------------------- */

struct zone_op {
    json_t *body;
    const struct core_principal *who;
};

static int zone_run(struct core *c, struct store_conn *sc, void *arg,
                    struct arena *a, struct core_reply *reply,
                    struct core_err *err)
{
    struct zone_op *op = arg;
    struct store_zone z;
    struct hrid_err he;
    int rc;

    (void)c;
    memset(&z, 0, sizeof z);
    z.name = schema_str(op->body, "name");
    z.polygon = core_json_dump(a, json_object_get(op->body, "polygon"));
    z.created_by = op->who->party_id;
    z.created_at = core_now_ms();
    if ((rc = store_zone_insert(sc, &z, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 201;
    reply->body = json_pack("{s:I, s:s, s:O, s:o}", "id", (json_int_t)z.id,
                            "name", z.name, "polygon",
                            json_object_get(op->body, "polygon"),
                            "created_at", core_time_json(z.created_at));
    return CORE_OK;
}

int core_zone_create(struct core *c, const struct core_principal *who,
                     json_t *body, const struct core_idem *idem,
                     struct arena *a, struct core_reply *out,
                     struct core_err *err)
{
    struct zone_op op = {body, who};
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_REGULATOR | ROLE_OWNER, "draw zones", err);
    if (rc != CORE_OK || (rc = schema_check(body, zone_fields, "", err)) !=
                             CORE_OK ||
        (rc = check_polygon(json_object_get(body, "polygon"), err)) !=
            CORE_OK)
        return rc;
    return core_write(c, who, idem, zone_run, &op, a, out, err);
}

struct fence_op {
    char code[HRID_CODE_LEN + 1];
    json_t *body;
    const struct core_principal *who;
};

static int fence_run(struct core *c, struct store_conn *sc, void *arg,
                     struct arena *a, struct core_reply *reply,
                     struct core_err *err)
{
    struct fence_op *op = arg;
    struct store_fence f;
    struct store_unit u;
    struct store_zone z;
    struct hrid_err he;
    json_t *ids = json_object_get(op->body, "zone_ids"), *v;
    size_t i;
    int rc;

    (void)c;
    if ((rc = core_unit_load(sc, op->code, a, &u, err)) != CORE_OK)
        return rc;
    if (op->who->role != ROLE_REGULATOR &&
        op->who->party_id != u.custodian_id)
        return core_fail(err, CORE_EFORBIDDEN, "not_custodian", NULL,
                         "the fence of unit %s is set by its custodian or a "
                         "regulator", u.code);
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > 64)
        return core_fail(err, CORE_EINVALID, "missing_field", "zone_ids",
                         "zone_ids: the ids of 1 to 64 zones the unit may "
                         "be in");
    json_array_foreach(ids, i, v) {
        char field[32];

        snprintf(field, sizeof field, "zone_ids[%zu]", i);
        if (!json_is_integer(v))
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: a zone id", field);
        rc = store_zone_get(sc, json_integer_value(v), a, &z, &he);
        if (rc == STORE_NOTFOUND)
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: no zone %lld", field,
                             (long long)json_integer_value(v));
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    }
    memset(&f, 0, sizeof f);
    f.unit_id = u.id;
    f.zones = core_json_dump(a, ids);
    f.scenarios = json_object_get(op->body, "scenarios")
                      ? core_json_dump(a, json_object_get(op->body,
                                                          "scenarios"))
                      : NULL;
    f.speed_limit = schema_num(op->body, "speed_limit_mps", 0);
    f.set_by = op->who->party_id;
    f.set_at = core_now_ms();
    if ((rc = store_fence_put(sc, &f, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 200;
    reply->body = json_pack("{s:s, s:O, s:o, s:f, s:o}", "code", u.code,
                            "zone_ids", ids, "scenarios",
                            f.scenarios ? core_json_text(f.scenarios)
                                        : json_null(),
                            "speed_limit_mps", f.speed_limit, "set_at",
                            core_time_json(f.set_at));
    return CORE_OK;
}

int core_fence_set(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, json_t *body,
                   const struct core_idem *idem, struct arena *a,
                   struct core_reply *out, struct core_err *err)
{
    struct fence_op op;
    json_t *v;
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_ANY_KEY & ~ROLE_ADMIN, "set fences", err);
    if (rc != CORE_OK ||
        (rc = core_code_arg(code, code_len, op.code, err)) != CORE_OK)
        return rc;
    if (!json_is_object(body))
        return core_fail(err, CORE_EBADREQ, "bad_request", NULL,
                         "the body must be a JSON object");
    {
        json_t *rest = json_copy(body);

        json_object_del(rest, "zone_ids");
        rc = schema_check(rest, fence_fields, "", err);
        json_decref(rest);
        if (rc != CORE_OK)
            return rc;
    }
    json_array_foreach(json_object_get(body, "scenarios"), i, v) {
        bool known = false;

        for (size_t k = 0; scenarios[k] != NULL; k++)
            if (strcmp(json_string_value(v), scenarios[k]) == 0)
                known = true;
        if (!known)
            return core_fail(err, CORE_EINVALID, "invalid_field", "scenarios",
                             "scenarios[%zu]: '%.32s' is not a scenario", i,
                             json_string_value(v));
    }
    op.body = body;
    op.who = who;
    return core_write(c, who, idem, fence_run, &op, a, out, err);
}

/* ---- evaluation ----------------------------------------------------------- */

struct open_find {
    struct store_violation v;
    bool found;
};

static int open_each(void *ctx, const struct store_violation *v)
{
    struct open_find *f = ctx;

    f->v = *v;
    f->found = true;
    return 1;
}

int core_fence_eval(struct store_conn *sc, const struct store_unit *u,
                    int64_t t, double lat, double lon, struct arena *a,
                    struct core_err *err)
{
    struct store_fence f;
    struct open_find of = {{0}, false};
    struct hrid_err he;
    json_t *ids, *v;
    bool in = false;
    size_t i;
    int rc;

    rc = store_fence_get(sc, u->id, a, &f, &he);
    if (rc == STORE_NOTFOUND)
        return CORE_OK;
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    ids = core_json_text(f.zones);
    json_array_foreach(ids, i, v) {
        struct store_zone z;
        json_t *poly;

        rc = store_zone_get(sc, json_integer_value(v), a, &z, &he);
        if (rc != STORE_OK)
            continue;
        poly = core_json_text(z.polygon);
        in = inside(poly, lat, lon);
        json_decref(poly);
        if (in)
            break;
    }
    json_decref(ids);
    rc = store_violation_list(sc, u->id, "open", 0, 1, a, open_each, &of,
                              &he);
    if (rc != STORE_OK && rc != 1)
        return core_store_fail(err, rc, &he);
    if (in) {
        if (!of.found || t < of.v.first_t)
            return CORE_OK;
        of.v.state = "closed";
        of.v.closed_at = t;
    } else if (of.found) {
        if (t > of.v.last_t) {
            of.v.last_t = t;
            of.v.lat = lat;
            of.v.lon = lon;
        }
    } else {
        memset(&of.v, 0, sizeof of.v);
        of.v.unit_id = u->id;
        memcpy(of.v.code, u->code, sizeof of.v.code);
        of.v.enterprise_id = u->enterprise_id;
        of.v.state = "open";
        of.v.first_t = of.v.last_t = t;
        of.v.lat = lat;
        of.v.lon = lon;
    }
    rc = store_violation_put(sc, &of.v, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

int core_fence_scenario(struct store_conn *sc, const struct store_unit *u,
                        const char *scenario, struct arena *a,
                        struct core_err *err)
{
    struct store_fence f;
    struct hrid_err he;
    json_t *list, *v;
    bool ok = false;
    size_t i;
    int rc;

    rc = store_fence_get(sc, u->id, a, &f, &he);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && f.scenarios == NULL))
        return CORE_OK;
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    list = core_json_text(f.scenarios);
    json_array_foreach(list, i, v)
        if (strcmp(json_string_value(v), scenario) == 0)
            ok = true;
    rc = ok ? CORE_OK
            : core_fail(err, CORE_ECONFLICT, "scenario_not_permitted",
                        "scenario", "unit '%s' may work only in the scenarios "
                        "of its fence profile (%s), not in '%s'", u->code,
                        f.scenarios, scenario);
    json_decref(list);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

struct viol_list {
    json_t *items;
    int64_t t;                  /* > 0: only those open at t */
    int64_t last;
    int n;
};

static int viol_each(void *ctx, const struct store_violation *v)
{
    struct viol_list *l = ctx;

    l->last = v->id;
    l->n++;
    if (l->t > 0 && (v->first_t > l->t ||
                     (v->closed_at != 0 && v->closed_at <= l->t)))
        return 0;
    json_array_append_new(l->items, json_pack(
        "{s:I, s:s, s:s, s:s, s:o, s:o, s:f, s:f, s:o}", "id",
        (json_int_t)v->id, "kind", "fence", "code", v->code, "state",
        v->state, "first_report", core_time_json(v->first_t), "last_report",
        core_time_json(v->last_t), "lat", v->lat, "lon", v->lon, "closed_at",
        core_time_json(v->closed_at)));
    return 0;
}

json_t *core_violations_at(struct store_conn *sc, int64_t unit_id, int64_t t,
                           struct arena *a, struct core_err *err)
{
    struct viol_list l = {json_array(), t, 0, 0};
    struct hrid_err he;
    int rc;

    do {
        l.n = 0;
        rc = store_violation_list(sc, unit_id, NULL, l.last, 1000, a,
                                  viol_each, &l, &he);
        if (rc != STORE_OK) {
            json_decref(l.items);
            core_store_fail(err, rc, &he);
            return NULL;
        }
    } while (l.n == 1000);
    return l.items;
}

int core_violation_list(struct core *c, const struct core_principal *who,
                        const char *state, const struct core_page *page,
                        struct arena *a, json_t **out, struct core_err *err)
{
    struct viol_list l = {NULL, 0, 0, 0};
    struct store_conn *sc;
    struct hrid_err he;
    int64_t after;
    int limit, rc;

    *out = NULL;
    rc = core_require(who, ROLE_REGULATOR | ROLE_ADMIN,
                      "list fence violations", err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((rc = core_page_after(page, &after, err)) != CORE_OK)
        return rc;
    if (state != NULL && strcmp(state, "open") != 0 &&
        strcmp(state, "closed") != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "state",
                         "state: open or closed");
    l.items = json_array();
    rc = store_violation_list(sc, 0, state, after, limit, a, viol_each, &l,
                              &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last);
    return CORE_OK;
}
