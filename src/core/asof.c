/*
 * asof.c - a unit as it stood at any time t (DESIGN §3): what a regulator,
 * an insurer or a court asks after an incident.
 *
 * The state is rebuilt by replaying the unit's events up to t, in seq
 * order, with asof_apply: the one place that knows what each event type
 * does to the record (the rules table in lifecycle.c decides whether an
 * event is allowed; this file only replays accepted ones).  Replaying a
 * long history on every query would cost a millisecond per few hundred
 * events, so every ASOF_SNAPSHOT_EVERY events of a unit the replayed
 * state is stored (unit_snapshots, written in the event's transaction by
 * core_asof_note), and a query starts from the latest snapshot dated at
 * or before t: at most that many events are replayed.
 *
 * State-changing events are in time order (lifecycle.c refuses an event
 * dated before the unit's previous one, incidents excepted), so replaying
 * by seq until the first event after t, skipping late incidents dated
 * after t, is replaying by time.
 *
 * What is not in the events is read as of t from its own records:
 * certifications recorded by t and valid at t, and recalls opened by t,
 * not closed by t, and not remedied on the unit by t.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

/* Events between snapshots: an as-of query replays at most this many. */
#define ASOF_SNAPSHOT_EVERY 32

static json_t *ref_or_null(int64_t id)
{
    return id > 0 ? json_integer(id) : json_null();
}

static json_t *new_state(void)
{
    return json_pack("{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, "
                     "s:{}, s:[], s:n, s:n}",
                     "state", "previous_state", "custodian", "owner",
                     "operator", "site", "scenario", "region",
                     "jurisdiction", "market_filing_no", "firmware",
                     "components", "last_inspection", "last_event");
}

/* Removes the component installed in the part's slot, if any, and adds
 * the part: the state lists installed components only. */
static void swap_component(json_t *comps, json_t *part, const char *at,
                           int64_t leaf)
{
    const char *slot = json_string_value(json_object_get(part, "slot"));
    json_t *k, *n;
    size_t i;

    json_array_foreach(comps, i, k) {
        const char *s = json_string_value(json_object_get(k, "slot"));

        if (s != NULL && slot != NULL && strcmp(s, slot) == 0) {
            json_array_remove(comps, i);
            break;
        }
    }
    n = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:s, s:I}", "slot",
                  json_object_get(part, "slot"), "part_no",
                  json_object_get(part, "part_no"), "supplier",
                  json_object_get(part, "supplier"), "lot",
                  json_object_get(part, "lot"), "serial",
                  json_object_get(part, "serial"), "installed_at", at,
                  "installed_leaf", (json_int_t)leaf);
    json_array_append_new(comps, n);
}

/* Applies one accepted event to the state. */
static void asof_apply(json_t *st, const struct store_event *e)
{
    json_t *b = core_json_text(e->body), *v;
    const char *type = e->type, *prev;
    char at[32];
    int64_t leaf = e->seq - 1;
    size_t i;

    core_time_format(e->at, at);
    if (strcmp(type, "register") == 0) {
        json_t *comps = json_array();

        json_object_set_new(st, "state", json_string("registered"));
        json_object_set_new(st, "custodian", ref_or_null(e->actor_id));
        json_object_set_new(st, "owner", ref_or_null(e->actor_id));
        /* Registrations record the jurisdiction they were made under;
         * those from before it was recorded were under the country of
         * the code's enterprise. */
        v = json_object_get(b, "jurisdiction");
        json_object_set_new(st, "jurisdiction",
                            v ? json_incref(v)
                              : json_stringn(e->code, 2));
        v = json_object_get(b, "firmware");
        json_object_set_new(st, "firmware", v ? json_deep_copy(v)
                                              : json_object());
        json_array_foreach(json_object_get(b, "components"), i, v)
            swap_component(comps, v, at, leaf);
        json_object_set_new(st, "components", comps);
    } else if (strcmp(type, "release") == 0) {
        json_object_set_new(st, "state", json_string("released"));
        json_object_set(st, "market_filing_no",
                        json_object_get(b, "market_filing_no"));
    } else if (strcmp(type, "transfer") == 0) {
        const char *kind = json_string_value(json_object_get(b, "kind"));

        v = json_object_get(b, "to");
        json_object_set(st, "custodian", v);
        if (kind != NULL && strcmp(kind, "sale") == 0)
            json_object_set(st, "owner", v);
        json_object_set_new(st, "operator", json_null());
    } else if (strcmp(type, "deploy") == 0) {
        v = json_object_get(b, "operator");
        json_object_set_new(st, "state", json_string("in_service"));
        json_object_set(st, "operator", v && !json_is_null(v)
                                            ? v
                                            : json_object_get(st,
                                                              "custodian"));
        json_object_set(st, "site", json_object_get(b, "site"));
        json_object_set(st, "scenario", json_object_get(b, "scenario"));
        json_object_set(st, "region",
                        json_object_get(json_object_get(b, "site"),
                                        "region"));
    } else if (strcmp(type, "maintenance_start") == 0) {
        json_object_set_new(st, "state", json_string("maintenance"));
    } else if (strcmp(type, "maintenance_end") == 0) {
        json_object_set_new(st, "state", json_string("in_service"));
        json_array_foreach(json_object_get(b, "parts_replaced"), i, v)
            swap_component(json_object_get(st, "components"), v, at, leaf);
    } else if (strcmp(type, "firmware_update") == 0) {
        const char *comp = json_string_value(json_object_get(b, "component"));

        if (comp != NULL)
            json_object_set(json_object_get(st, "firmware"), comp,
                            json_object_get(b, "to_version"));
    } else if (strcmp(type, "inspection") == 0) {
        json_object_set_new(st, "last_inspection", json_pack(
            "{s:s, s:O?, s:O?, s:I}", "at", at, "result",
            json_object_get(b, "result"), "next_due",
            json_object_get(b, "next_due"), "leaf", (json_int_t)leaf));
    } else if (strcmp(type, "suspend") == 0) {
        json_object_set(st, "previous_state", json_object_get(st, "state"));
        json_object_set_new(st, "state", json_string("suspended"));
    } else if (strcmp(type, "resume") == 0) {
        prev = json_string_value(json_object_get(st, "previous_state"));
        json_object_set_new(st, "state", json_string(prev ? prev
                                                          : "released"));
        json_object_set_new(st, "previous_state", json_null());
    } else if (strcmp(type, "scrap") == 0) {
        json_object_set_new(st, "state", json_string("scrapped"));
    } else if (strcmp(type, "recycle") == 0) {
        json_object_set_new(st, "state", json_string("recycled"));
    } else if (strcmp(type, "void") == 0) {
        json_object_set_new(st, "state", json_string("voided"));
    } else if (strcmp(type, "export") == 0 || strcmp(type, "import") == 0) {
        json_object_set(st, "jurisdiction", json_object_get(b, "country"));
    }
    /* incident, grant, certification, recall_notice, recall_remedy: in
     * the history, but no change to these members. */
    json_object_set_new(st, "last_event", json_pack(
        "{s:I, s:I, s:s, s:s}", "seq", (json_int_t)e->seq, "leaf",
        (json_int_t)leaf, "type", type, "at", at));
    json_decref(b);
}

struct replay {
    json_t *st;
    int64_t t;                  /* replay events dated at or before t */
    int64_t last_seq;
    int n;
    bool done;
};

static int replay_each(void *ctx, const struct store_event *e)
{
    struct replay *r = ctx;

    r->last_seq = e->seq;
    r->n++;
    if (e->at > r->t) {
        /* A late incident may be dated after t and recorded before
         * later events; any other event after t ends the replay. */
        if (strcmp(e->type, "incident") == 0)
            return 0;
        r->done = true;
        return 1;
    }
    asof_apply(r->st, e);
    return 0;
}

/* The unit's replayed state at t (a new reference), from the latest
 * snapshot at or before t. */
static json_t *replay_to(struct store_conn *sc, int64_t unit_id, int64_t t,
                         struct arena *a, int *replayed,
                         struct core_err *err)
{
    struct replay r;
    struct hrid_err he;
    const char *snap;
    int64_t seq, at;
    int rc;

    memset(&r, 0, sizeof r);
    r.t = t;
    rc = store_snapshot_before(sc, unit_id, t, a, &seq, &at, &snap, &he);
    if (rc == STORE_OK) {
        r.st = core_json_text(snap);
        r.last_seq = seq;
    } else if (rc == STORE_NOTFOUND) {
        r.st = new_state();
    } else {
        core_store_fail(err, rc, &he);
        return NULL;
    }
    do {
        int before = r.n;

        rc = store_event_list(sc, unit_id, r.last_seq, CORE_PAGE_MAX, a,
                              replay_each, &r, &he);
        if (rc != STORE_OK && rc != 1) {
            json_decref(r.st);
            core_store_fail(err, rc, &he);
            return NULL;
        }
        if (r.n - before < CORE_PAGE_MAX)
            break;
    } while (!r.done);
    if (replayed != NULL)
        *replayed = r.n;
    return r.st;
}

int core_asof_note(struct store_conn *sc, const struct store_unit *u,
                   const struct store_event *e, struct arena *a,
                   struct core_err *err)
{
    struct hrid_err he;
    json_t *st;
    char *text;
    int rc;

    if (u->event_count % ASOF_SNAPSHOT_EVERY != 0)
        return CORE_OK;
    /* Everything up to this event, which is the unit's latest. */
    st = replay_to(sc, u->id, INT64_MAX, a, NULL, err);
    if (st == NULL)
        return err->status;
    text = core_json_dump(a, st);
    json_decref(st);
    if (text == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    rc = store_snapshot_put(sc, u->id, e->seq, e->at, text, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

/* Recalls as of t: opened by t, not closed by t, unremedied at t. */
struct recalls_at {
    struct store_conn *sc;
    struct arena *a;
    int64_t t;
    json_t *items;
    int rc;
    struct hrid_err he;
};

static int recall_at_each(void *ctx, const struct store_recall_unit *k)
{
    struct recalls_at *ra = ctx;
    struct store_recall r;

    ra->rc = store_recall_get(ra->sc, k->recall_id, ra->a, &r, &ra->he);
    if (ra->rc != STORE_OK)
        return 1;
    if (r.created_at > ra->t || (r.closed_at != 0 && r.closed_at <= ra->t) ||
        (k->remedied_at != 0 && k->remedied_at <= ra->t))
        return 0;
    json_array_append_new(ra->items, json_pack(
        "{s:I, s:s, s:s?, s:s?}", "id", (json_int_t)r.id, "defect", r.defect,
        "hazard", r.hazard, "remedy", r.remedy));
    return 0;
}

struct certs_at {
    int64_t t;
    json_t *items;
    const char *model_id, *code;
};

static int cert_at_each(void *ctx, const struct store_cert *k)
{
    struct certs_at *ca = ctx;

    if (k->created_at > ca->t || k->valid_from > ca->t ||
        k->valid_until <= ca->t || (k->revoked_at && k->revoked_at <= ca->t))
        return 0;
    json_array_append_new(ca->items, core_cert_json(
        k, k->unit_id ? NULL : ca->model_id, k->unit_id ? ca->code : NULL,
        ca->t));
    return 0;
}

json_t *core_asof_json(struct core *c, struct store_conn *sc,
                       const struct store_unit *u, int64_t t,
                       struct arena *a, struct core_err *err)
{
    struct store_model m;
    struct recalls_at ra;
    struct certs_at ca;
    struct hrid_err he;
    json_t *st, *o;
    char ts[32];
    int replayed = 0, rc;

    if (t < u->registered_at) {
        core_time_format(u->registered_at, ts);
        core_fail(err, CORE_ECONFLICT, "before_registration", "t",
                  "t: unit %s was registered at %s", u->code, ts);
        return NULL;
    }
    rc = core_cache_model(c, sc, u->model_row, a, &m, &he);
    if (rc != STORE_OK) {
        core_store_fail(err, rc, &he);
        return NULL;
    }
    st = replay_to(sc, u->id, t, a, &replayed, err);
    if (st == NULL)
        return NULL;
    memset(&ca, 0, sizeof ca);
    ca.t = t;
    ca.items = json_array();
    ca.model_id = m.model_id;
    ca.code = u->code;
    rc = store_cert_list(sc, m.id, u->id, a, cert_at_each, &ca, &he);
    memset(&ra, 0, sizeof ra);
    ra.sc = sc;
    ra.a = a;
    ra.t = t;
    ra.items = json_array();
    if (rc == STORE_OK)
        rc = store_recall_unit_list(sc, 0, u->id, NULL, 0, 1000, a,
                                    recall_at_each, &ra, &ra.he);
    if (rc == STORE_OK && ra.rc != STORE_OK) {
        rc = ra.rc;
        he = ra.he;
    }
    if (rc != STORE_OK && rc != 1) {
        json_decref(st);
        json_decref(ca.items);
        json_decref(ra.items);
        core_store_fail(err, rc, &he);
        return NULL;
    }
    core_time_format(t, ts);
    o = json_pack("{s:s, s:s, s:s}", "code", u->code, "as_of", ts, "model",
                  m.model_id);
    json_object_update(o, st);
    json_decref(st);
    json_object_set_new(o, "certifications", ca.items);
    json_object_set_new(o, "open_recalls", ra.items);
    {
        json_t *alerts = core_alerts_open_at(sc, u->id, t, a, err);

        if (alerts == NULL) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "open_alerts", alerts);
        alerts = core_violations_at(sc, u->id, t, a, err);
        if (alerts == NULL) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "fence_violations", alerts);
    }
    json_object_set_new(o, "replayed_events", json_integer(replayed));
    return o;
}

int core_unit_asof(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, const char *t_arg,
                   struct arena *a, json_t **out, struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1];
    struct store_conn *sc;
    struct store_unit u;
    enum core_view view;
    struct hrid_err he;
    int64_t t;
    int rc;

    *out = NULL;
    if (t_arg == NULL)
        t = core_now_ms();
    else if (core_time_parse(t_arg, &t) != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "t",
                         "t: '%.40s' is not an RFC 3339 time", t_arg);
    if ((rc = core_code_arg(code, code_len, canon, err)) != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = core_unit_load(sc, canon, a, &u, err);
    if (rc == CORE_OK)
        rc = core_unit_view(sc, who, &u, a, &view, err);
    /* The full record at a past time names owners and sites: for those
     * who see the unit's custody now, regulators, and its maker. */
    if (rc == CORE_OK && view == VIEW_PUBLIC)
        rc = core_fail(err, who->role == ROLE_PUBLIC ? CORE_EUNAUTH
                                                     : CORE_EFORBIDDEN,
                       who->role == ROLE_PUBLIC ? "unauthorized"
                                                : "forbidden", NULL,
                       "the as-of record of unit %s is for its maker, "
                       "custodians and regulators", canon);
    if (rc == CORE_OK && (*out = core_asof_json(c, sc, &u, t, a, err)) ==
                             NULL)
        rc = err->status;
    store_read_end(sc);
    return rc;
}
