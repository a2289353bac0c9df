/*
 * incident.c - incident reports (DESIGN §3): who was operating which robot,
 * on which firmware, after which maintenance, when something went wrong.
 *
 * Two ways in.  A custodian, operator or regulator records an "incident"
 * event on the unit (lifecycle.c): it is in the unit's history and the
 * log, and its report is verified.  A member of the public reports one
 * from the verify page: it is kept as unverified, is not an event (the
 * history and the log hold only what the unit's parties and authorities
 * recorded), and the server limits how often one address may report.
 * Either way the report keeps the unit as it stood at the incident's time
 * (core_asof_json), so the liability questions answer themselves later,
 * whatever happened to the unit since.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

static const char *const severities[] = {"minor", "serious", "critical",
                                         "fatal", NULL};
static const char *const kinds[] = {"collision", "fall", "data", "security",
                                    "other", NULL};

static const struct schema_field public_fields[] = {
    {"at", S_TIME, 0, 0, 0, 0, NULL, NULL},
    {"severity", S_ENUM, SF_REQUIRED, 0, 0, 0, severities, NULL},
    {"kind", S_ENUM, SF_REQUIRED, 0, 0, 0, kinds, NULL},
    {"place", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"description", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"contact", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

int core_incident_note(struct core *c, struct store_conn *sc,
                       const struct store_unit *u, int64_t at, json_t *body,
                       int64_t reporter, bool verified, int64_t event_seq,
                       struct arena *a, struct core_err *err)
{
    struct store_incident k;
    struct hrid_err he;
    json_t *snap;
    int64_t t = at < u->registered_at ? u->registered_at : at;
    int rc;

    snap = core_asof_json(c, sc, u, t, a, err);
    if (snap == NULL)
        return err->status;
    memset(&k, 0, sizeof k);
    k.unit_id = u->id;
    memcpy(k.code, u->code, sizeof k.code);
    k.model_row = u->model_row;
    k.enterprise_id = u->enterprise_id;
    k.at = at;
    k.recorded_at = core_now_ms();
    k.severity = schema_str(body, "severity");
    k.kind = schema_str(body, "kind");
    k.place = schema_str(body, "place");
    k.description = schema_str(body, "description");
    k.reporter_id = reporter;
    k.verified = verified;
    k.contact = schema_str(body, "contact");
    k.event_seq = event_seq;
    k.snapshot = core_json_dump(a, snap);
    json_decref(snap);
    if (k.snapshot == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    rc = store_incident_insert(sc, &k, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

static json_t *incident_json(const struct store_incident *k, bool full)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(k->id));
    core_set(o, "code", json_string(k->code));
    core_set(o, "at", core_time_json(k->at));
    core_set(o, "recorded_at", core_time_json(k->recorded_at));
    core_set(o, "severity", core_str(k->severity));
    core_set(o, "kind", core_str(k->kind));
    core_set(o, "place", core_str(k->place));
    core_set(o, "description", core_str(k->description));
    json_object_set_new(o, "verified", json_boolean(k->verified));
    core_set(o, "leaf", k->event_seq ? json_integer(k->event_seq - 1)
                                     : json_null());
    if (full) {
        core_set(o, "reporter", k->reporter_id ? json_integer(k->reporter_id)
                                               : json_null());
        core_set(o, "contact", core_str(k->contact));
        core_set(o, "unit_as_of", core_json_text(k->snapshot));
    }
    return o;
}

/* ---- a public report ------------------------------------------------------ */

struct public_op {
    char code[HRID_CODE_LEN + 1];
    json_t *body;
};

static int public_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct public_op *op = arg;
    struct store_unit u;
    struct store_incident_filter f;
    int64_t now = core_now_ms(), at = schema_time(op->body, "at", now);
    int rc;

    if ((rc = core_unit_load(sc, op->code, a, &u, err)) != CORE_OK)
        return rc;
    if (at > now + CORE_CLOCK_SKEW_MS)
        return core_fail(err, CORE_EINVALID, "invalid_field", "at",
                         "at: in the future");
    rc = core_incident_note(c, sc, &u, at, op->body, 0, false, 0, a, err);
    if (rc != CORE_OK)
        return rc;
    memset(&f, 0, sizeof f);
    reply->http_status = 201;
    reply->body = json_pack("{s:s, s:b, s:s}", "code", u.code, "verified", 0,
                            "message", "thank you: the report is recorded "
                            "as unverified and will be reviewed");
    return CORE_OK;
}

int core_incident_public(struct core *c, const struct core_principal *who,
                         const char *code, size_t code_len, json_t *body,
                         struct arena *a, struct core_reply *out,
                         struct core_err *err)
{
    struct public_op op;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = core_code_arg(code, code_len, op.code, err)) != CORE_OK)
        return rc;
    if ((rc = schema_check(body, public_fields, "", err)) != CORE_OK)
        return rc;
    op.body = body;
    return core_write(c, who, NULL, public_run, &op, a, out, err);
}

/* ---- listing ------------------------------------------------------------ */

struct inc_list {
    json_t *items;
    bool full;
    int64_t last;
    int n;
};

static int inc_each(void *ctx, const struct store_incident *k)
{
    struct inc_list *l = ctx;

    json_array_append_new(l->items, incident_json(k, l->full));
    l->last = k->id;
    l->n++;
    return 0;
}

int core_incident_list(struct core *c, const struct core_principal *who,
                       const char *unit, const char *model, const char *ent,
                       const char *verified, const struct core_page *page,
                       struct arena *a, json_t **out, struct core_err *err)
{
    struct store_incident_filter f;
    struct store_conn *sc;
    struct inc_list l = {NULL, true, 0, 0};
    struct hrid_err he;
    int limit, rc;

    *out = NULL;
    rc = core_require(who, ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER,
                      "list incidents", err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    memset(&f, 0, sizeof f);
    f.verified = -1;
    f.limit = limit;
    if ((rc = core_page_after(page, &f.after_id, err)) != CORE_OK)
        return rc;
    if (verified != NULL) {
        if (strcmp(verified, "true") != 0 && strcmp(verified, "false") != 0)
            return core_fail(err, CORE_EINVALID, "invalid_field", "verified",
                             "verified: 'true' or 'false'");
        f.verified = verified[0] == 't';
    }
    if (unit != NULL) {
        char canon[HRID_CODE_LEN + 1];
        struct store_unit u;

        if ((rc = core_code_arg(unit, strlen(unit), canon, err)) != CORE_OK ||
            (rc = core_unit_load(sc, canon, a, &u, err)) != CORE_OK)
            return rc;
        f.unit_id = u.id;
        if (who->role == ROLE_MANUFACTURER &&
            u.enterprise_id != who->party_id)
            return core_fail(err, CORE_EFORBIDDEN, "not_maker", "unit",
                             "a manufacturer lists incidents of its own "
                             "units");
    }
    if (model != NULL) {
        struct store_model m;

        if ((rc = core_model_find(sc, model, a, &m, err)) != CORE_OK)
            return rc;
        f.model_row = m.id;
    }
    if (ent != NULL) {
        struct store_party p;

        if ((rc = core_enterprise_find(c, sc, ent, a, &p, err)) != CORE_OK)
            return rc;
        f.enterprise_id = p.id;
    }
    /* A maker sees its own fleet's only, without reporters' contacts. */
    if (who->role == ROLE_MANUFACTURER) {
        if (f.enterprise_id != 0 && f.enterprise_id != who->party_id)
            return core_fail(err, CORE_EFORBIDDEN, "not_maker", "enterprise",
                             "a manufacturer lists incidents of its own "
                             "units");
        f.enterprise_id = who->party_id;
        l.full = false;
    }
    l.items = json_array();
    rc = store_incident_list(sc, &f, a, inc_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last);
    return CORE_OK;
}
