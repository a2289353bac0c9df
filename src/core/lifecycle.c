/*
 * lifecycle.c - the state machine of DESIGN §3, events and grants.
 *
 * Every event type is one row of the rules table: its fields, the states
 * it may start from, the state it leads to, who may record it, and an
 * apply function for its effects on the unit row.  core_event_add checks
 * a request in a fixed order, so that the same request always gets the
 * same answer:
 *
 *   1. the body's fields (422), the unit (404);
 *   2. the caller's relation to the unit: maker, custodian, operator,
 *      grantee, regulator (403);
 *   3. the state machine (409: unit_scrapped for a scrapped or recycled
 *      unit, invalid_state otherwise);
 *   4. the time: not ahead of the clock (422), not before registration
 *      or the previous event (409);
 *   5. the type's own rules in apply (409/422).
 *
 * All of it runs inside one write transaction: the event row, the unit
 * row and the components change together or not at all, and writers to
 * one unit are serialised by the store.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

/* Who may record an event: bits of relations between caller and unit. */
enum {
    REL_MAKER        = 1u << 0,  /* the unit's manufacturer */
    REL_CUSTODIAN    = 1u << 1,  /* the current custodian, any role */
    REL_OWNER_CUST   = 1u << 2,  /* an owner-role custodian */
    REL_OPERATOR     = 1u << 3,  /* the operator the unit is deployed to */
    REL_GRANT_SVC    = 1u << 4,  /* a service party with a live grant */
    REL_GRANT_RECYC  = 1u << 5,  /* a recycler with a live grant */
    REL_RECYC_CUST   = 1u << 6,  /* a recycler-role custodian */
    REL_REGULATOR    = 1u << 7
};

#define ST_LIVE (ST_RELEASED | ST_IN_SERVICE | ST_MAINTENANCE | ST_SUSPENDED)
#define ST_ANY_LIVE (ST_REGISTERED | ST_LIVE)
#define TO_SAME 0u
#define TO_PREV 0xffu

struct ev_ctx {
    struct core *core;
    struct store_conn *sc;
    struct arena *a;
    const struct core_principal *who;
    struct store_unit u;
    json_t *body;            /* the checked body, without "type" and "at" */
    int64_t at;
    int64_t seq;             /* the event's seq, once appended */
    struct core_err *err;
};

typedef int (*apply_fn)(struct ev_ctx *x);

/* apply checks the type's own rules and changes the unit row (x->u) and
 * the recorded body (x->body); it runs before the event is appended and
 * writes nothing.  after runs once the event has its seq, for rows that
 * point back to it (components). */
struct event_rule {
    const char *type;
    const struct schema_field *fields;
    unsigned from;           /* states it may start from */
    unsigned to;             /* TO_SAME, TO_PREV or a state */
    unsigned who;            /* REL_* */
    apply_fn apply;          /* may be NULL */
    apply_fn after;          /* may be NULL */
};

#define END {NULL, 0, 0, 0, 0, 0, NULL, NULL}
#define AT_FIELD {"at", S_TIME, 0, 0, 0, 0, NULL, NULL}
#define TYPE_FIELD {"type", S_STR, SF_REQUIRED, 32, 0, 0, NULL, NULL}

static const char *const transfer_kinds[] = {"sale", "lease", "return", NULL};
static const char *const scenarios[] = {
    "factory", "logistics", "retail", "public", "care",
    "home", "education", "research", NULL,
};
static const char *const results[] = {"pass", "fail", "conditional", NULL};
static const char *const severities[] = {"minor", "serious", "critical",
                                         "fatal", NULL};
static const char *const incident_kinds[] = {"collision", "fall", "data",
                                             "security", "other", NULL};
static const char *const grant_scopes[] = {"service", "recycling", NULL};

static const struct schema_field release_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"market_filing_no", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field transfer_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"to", S_INT, SF_REQUIRED, 0, 1, 9e15, NULL, NULL},
    {"kind", S_ENUM, SF_REQUIRED, 0, 0, 0, transfer_kinds, NULL},
    {"price", S_NUM, SF_NULL, 0, 0, 1e12, NULL, NULL},
    {"currency", S_STR, SF_NULL, 3, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field site_fields[] = {
    {"name", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"region", S_STR, SF_REQUIRED, 16, 0, 0, NULL, NULL},
    {"lat", S_NUM, 0, 0, -90, 90, NULL, NULL},
    {"lon", S_NUM, 0, 0, -180, 180, NULL, NULL},
    END,
};
static const struct schema_field deploy_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"site", S_OBJ, SF_REQUIRED, 0, 0, 0, NULL, site_fields},
    {"scenario", S_ENUM, SF_REQUIRED, 0, 0, 0, scenarios, NULL},
    {"operator", S_INT, SF_NULL, 0, 1, 9e15, NULL, NULL},
    END,
};
static const struct schema_field mstart_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"work_order", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"reason", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field part_fields[] = {
    {"slot", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"old_serial", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"part_no", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"supplier", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"lot", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"serial", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field mend_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"work_order", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"findings", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"parts_replaced", S_ARR, 0, 256, 0, 0, NULL, part_fields},
    END,
};
static const struct schema_field firmware_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"component", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"from_version", S_STR, SF_NULL, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"to_version", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"package_digest", S_HEX, SF_REQUIRED, 64, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field inspection_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"result", S_ENUM, SF_REQUIRED, 0, 0, 0, results, NULL},
    {"next_due", S_DATE, 0, 0, 0, 0, NULL, NULL},
    {"notes", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field incident_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"severity", S_ENUM, SF_REQUIRED, 0, 0, 0, severities, NULL},
    {"kind", S_ENUM, SF_REQUIRED, 0, 0, 0, incident_kinds, NULL},
    {"place", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"description", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field suspend_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"reason", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"recall_id", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field reason_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"reason", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field resume_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"reason", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field wipe_fields[] = {
    {"method", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"attestation", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field material_fields[] = {
    {"material", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"mass_kg", S_NUM, 0, 0, 0, 2000, NULL, NULL},
    END,
};
static const struct schema_field recycle_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"data_wipe", S_OBJ, SF_REQUIRED, 0, 0, 0, NULL, wipe_fields},
    {"materials", S_ARR, 0, 64, 0, 0, NULL, material_fields},
    END,
};
static const struct schema_field border_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"country", S_STR, SF_REQUIRED, 2, 0, 0, NULL, NULL},
    {"customs_ref", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field void_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"replaced_by", S_STR, 0, 64, 0, 0, NULL, NULL},
    {"reason", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field remedy_fields[] = {
    TYPE_FIELD, AT_FIELD,
    {"recall", S_INT, SF_REQUIRED, 0, 1, 9e15, NULL, NULL},
    {"action", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"work_order", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    END,
};
static const struct schema_field grant_fields[] = {
    {"grantee", S_INT, SF_REQUIRED, 0, 1, 9e15, NULL, NULL},
    {"scope", S_ENUM, SF_REQUIRED, 0, 0, 0, grant_scopes, NULL},
    {"from", S_TIME, 0, 0, 0, 0, NULL, NULL},
    {"until", S_TIME, SF_REQUIRED, 0, 0, 0, NULL, NULL},
    END,
};

/* ---- effects ----------------------------------------------------------- */

/* Loads party id for a field; 422 naming the field when unknown. */
static int load_party(struct ev_ctx *x, int64_t id, const char *field,
                      struct store_party *p)
{
    struct hrid_err he;
    int rc = store_party_get(x->sc, id, x->a, p, &he);

    if (rc == STORE_NOTFOUND)
        return core_fail(x->err, CORE_EINVALID, "invalid_field", field,
                         "%s: no party %lld", field, (long long)id);
    if (rc != STORE_OK)
        return core_store_fail(x->err, rc, &he);
    return CORE_OK;
}

static int apply_release(struct ev_ctx *x)
{
    struct store_model m;
    struct hrid_err he;
    int rc = store_model_get_row(x->sc, x->u.model_row, x->a, &m, &he);

    if (rc != STORE_OK)
        return core_store_fail(x->err, rc, &he);
    if (strcmp(m.status, "approved") != 0)
        return core_fail(x->err, CORE_ECONFLICT, "model_not_approved", NULL,
                         "model '%s' is %s, not approved: unit '%s' cannot "
                         "be released", m.model_id, m.status, x->u.code);
    x->u.market_filing_no = schema_str(x->body, "market_filing_no");
    return CORE_OK;
}

static int apply_transfer(struct ev_ctx *x)
{
    struct store_party p;
    int64_t to = schema_int(x->body, "to", 0);
    const char *kind = schema_str(x->body, "kind");
    int rc;

    if (to == x->u.custodian_id)
        return core_fail(x->err, CORE_EINVALID, "invalid_field", "to",
                         "to: party %lld already holds unit '%s'",
                         (long long)to, x->u.code);
    rc = load_party(x, to, "to", &p);
    if (rc != CORE_OK)
        return rc;
    /* Custody passes between makers, sellers, owners and recyclers;
     * regulators, certifiers and service providers never hold a unit. */
    if (strcmp(p.kind, "manufacturer") != 0 && strcmp(p.kind, "seller") != 0 &&
        strcmp(p.kind, "owner") != 0 && strcmp(p.kind, "recycler") != 0)
        return core_fail(x->err, CORE_EINVALID, "invalid_field", "to",
                         "to: party %lld is a %s; units pass only to "
                         "manufacturers, sellers, owners and recyclers",
                         (long long)to, p.kind);
    x->u.custodian_id = to;
    if (strcmp(kind, "sale") == 0)
        x->u.owner_id = to;
    x->u.operator_id = 0;
    return CORE_OK;
}

static int apply_deploy(struct ev_ctx *x)
{
    json_t *site = json_object_get(x->body, "site");
    int64_t op = schema_int(x->body, "operator", 0);
    const char *scenario = schema_str(x->body, "scenario");
    struct store_model m;
    struct hrid_err he;
    int rc;

    rc = store_model_get_row(x->sc, x->u.model_row, x->a, &m, &he);
    if (rc != STORE_OK)
        return core_store_fail(x->err, rc, &he);
    /* An open recall not yet remedied on this unit stops deployments. */
    {
        json_t *open = core_recall_open_json(x->sc, x->u.id, x->a, x->err);

        if (open == NULL)
            return x->err->status;
        if (json_array_size(open) > 0) {
            json_t *r = json_array_get(open, 0);

            core_fail(x->err, CORE_ECONFLICT, "recall_open", NULL,
                      "unit '%s' is under recall %lld (%s), not remedied: "
                      "it cannot be deployed until the remedy is recorded",
                      x->u.code,
                      (long long)json_integer_value(json_object_get(r, "id")),
                      json_string_value(json_object_get(r, "defect")));
            json_decref(open);
            return CORE_ECONFLICT;
        }
        json_decref(open);
    }
    /* DESIGN §2: level 4 and above needs a certification valid at the
     * time of deployment that covers the scenario. */
    if (m.level >= 4) {
        struct core_cover cov;
        char why[256];

        rc = core_cert_covers(x->sc, m.id, x->u.id, x->at, core_now_ms(),
                              scenario, x->a, &cov, x->err);
        if (rc != CORE_OK)
            return rc;
        if (cov.valid == 0) {
            core_cover_reason(&cov, scenario, why, sizeof why);
            return core_fail(x->err, CORE_ECONFLICT,
                             "certification_required", "scenario",
                             "unit '%s' is intelligence level %d: deploying "
                             "it to '%s' needs a valid certification covering "
                             "that scenario, and %s", x->u.code, m.level,
                             scenario, why);
        }
    }
    /* The unit's fence profile, when it names scenarios, bounds them. */
    if ((rc = core_fence_scenario(x->sc, &x->u, scenario, x->a, x->err)) !=
        CORE_OK)
        return rc;
    if (op != 0) {
        struct store_party p;

        rc = load_party(x, op, "operator", &p);
        if (rc != CORE_OK)
            return rc;
        if (strcmp(p.kind, "owner") != 0)
            return core_fail(x->err, CORE_EINVALID, "invalid_field",
                             "operator", "operator: party %lld is a %s, "
                             "not an owner or operator", (long long)op,
                             p.kind);
    } else {
        op = x->u.custodian_id;
    }
    x->u.operator_id = op;
    x->u.site = core_json_dump(x->a, site);
    x->u.scenario = scenario;
    x->u.region = schema_str(site, "region");
    return CORE_OK;
}

struct slot_find {
    const char *slot;
    struct store_component found;
    int n;
};

static int slot_each(void *ctx, const struct store_component *k)
{
    struct slot_find *f = ctx;

    if (strcmp(k->slot, f->slot) == 0) {
        f->found = *k;
        f->n++;
    }
    return 0;
}

/* Checks each replaced part against the installed components and, when
 * write is true (after the event is appended), swaps them. */
static int replace_parts(struct ev_ctx *x, bool write)
{
    json_t *parts = json_object_get(x->body, "parts_replaced");
    json_t *part;
    struct hrid_err he;
    size_t i;
    int rc;

    json_array_foreach(parts, i, part) {
        struct slot_find f;
        struct store_component k;
        const char *old = schema_str(part, "old_serial");
        char field[64];

        memset(&f, 0, sizeof f);
        f.slot = schema_str(part, "slot");
        rc = store_component_list(x->sc, x->u.id, true, x->a, slot_each, &f,
                                  &he);
        if (rc != STORE_OK)
            return core_store_fail(x->err, rc, &he);
        snprintf(field, sizeof field, "parts_replaced[%zu].slot", i);
        if (f.n == 0)
            return core_fail(x->err, CORE_EINVALID, "invalid_field", field,
                             "%s: unit '%s' has no component in slot "
                             "'%.64s'", field, x->u.code, f.slot);
        if (old != NULL &&
            (f.found.serial == NULL || strcmp(f.found.serial, old) != 0)) {
            snprintf(field, sizeof field, "parts_replaced[%zu].old_serial",
                     i);
            return core_fail(x->err, CORE_ECONFLICT, "component_mismatch",
                             field, "%s: slot '%.64s' holds serial '%.64s', "
                             "not '%.64s'", field, f.slot,
                             f.found.serial ? f.found.serial : "(none)", old);
        }
        if (!write)
            continue;
        rc = store_component_remove(x->sc, f.found.id, x->at, x->seq, &he);
        if (rc != STORE_OK)
            return core_store_fail(x->err, rc, &he);
        memset(&k, 0, sizeof k);
        k.unit_id = x->u.id;
        k.slot = f.slot;
        k.part_no = schema_str(part, "part_no");
        k.supplier = schema_str(part, "supplier");
        k.lot = schema_str(part, "lot");
        k.serial = schema_str(part, "serial");
        k.installed_at = x->at;
        k.installed_seq = x->seq;
        rc = store_component_insert(x->sc, &k, 1, &he);
        if (rc != STORE_OK)
            return core_store_fail(x->err, rc, &he);
    }
    return CORE_OK;
}

static int check_parts(struct ev_ctx *x)
{
    return replace_parts(x, false);
}

static int swap_parts(struct ev_ctx *x)
{
    return replace_parts(x, true);
}

static int apply_firmware(struct ev_ctx *x)
{
    json_t *fw = core_json_text(x->u.firmware);
    const char *comp = schema_str(x->body, "component");
    const char *from = schema_str(x->body, "from_version");
    json_t *cur = json_object_get(fw, comp);

    if (json_is_string(cur) &&
        (from == NULL || strcmp(from, json_string_value(cur)) != 0)) {
        int rc = core_fail(x->err, CORE_ECONFLICT, "firmware_mismatch",
                           "from_version",
                           "from_version: component '%.64s' of unit '%s' "
                           "runs '%.64s', not '%.64s'", comp, x->u.code,
                           json_string_value(cur), from ? from : "(none)");

        json_decref(fw);
        return rc;
    }
    if (cur == NULL && from != NULL) {
        json_decref(fw);
        return core_fail(x->err, CORE_ECONFLICT, "firmware_mismatch",
                         "from_version", "from_version: unit '%s' has no "
                         "firmware recorded for component '%.64s'",
                         x->u.code, comp);
    }
    json_object_set_new(fw, comp,
                        json_string(schema_str(x->body, "to_version")));
    x->u.firmware = core_json_dump(x->a, fw);
    json_decref(fw);
    return CORE_OK;
}

static int apply_border(struct ev_ctx *x)
{
    const char *cc = schema_str(x->body, "country");

    if (strlen(cc) != 2 || hrid_country_name(cc) == NULL)
        return core_fail(x->err, CORE_EINVALID, "invalid_field", "country",
                         "country: '%s' is not an assigned ISO 3166-1 "
                         "alpha-2 code (upper case)", cc);
    if (x->u.jurisdiction != NULL && strcmp(cc, x->u.jurisdiction) == 0)
        return core_fail(x->err, CORE_ECONFLICT, "invalid_state", "country",
                         "unit '%s' is already under jurisdiction %s",
                         x->u.code, cc);
    x->u.jurisdiction = cc;
    return CORE_OK;
}

static int apply_void(struct ev_ctx *x)
{
    const char *rep = schema_str(x->body, "replaced_by");
    char canon[HRID_CODE_LEN + 1];
    struct store_unit r;
    int rc;

    if (rep == NULL)
        return CORE_OK;
    rc = core_code_arg(rep, strlen(rep), canon, x->err);
    if (rc != CORE_OK) {
        snprintf(x->err->field, sizeof x->err->field, "replaced_by");
        return rc;
    }
    rc = core_unit_load(x->sc, canon, x->a, &r, x->err);
    if (rc != CORE_OK) {
        snprintf(x->err->field, sizeof x->err->field, "replaced_by");
        return rc == CORE_ENOTFOUND
                   ? core_fail(x->err, CORE_EINVALID, "invalid_field",
                               "replaced_by", "replaced_by: unit '%s' is not "
                               "registered", canon)
                   : rc;
    }
    if (r.enterprise_id != x->u.enterprise_id || r.id == x->u.id)
        return core_fail(x->err, CORE_EINVALID, "invalid_field",
                         "replaced_by", "replaced_by: unit '%s' is not "
                         "another unit of the same maker", canon);
    json_object_set_new(x->body, "replaced_by", json_string(canon));
    return CORE_OK;
}

/* An incident event is also a verified incident report, with the unit as
 * it stood then (incident.c). */
static int record_incident(struct ev_ctx *x)
{
    return core_incident_note(x->core, x->sc, &x->u, x->at, x->body,
                              x->who->party_id, true, x->seq, x->a, x->err);
}

/* recall_remedy: the unit must be unremedied under that open recall. */
struct remedy_find {
    int64_t recall;
    struct store_recall_unit found;
    bool hit;
};

static int remedy_each(void *ctx, const struct store_recall_unit *k)
{
    struct remedy_find *f = ctx;

    if (k->recall_id == f->recall) {
        f->found = *k;
        f->hit = true;
        return 1;
    }
    return 0;
}

static int find_remedy(struct ev_ctx *x, struct remedy_find *f)
{
    struct store_recall r;
    struct hrid_err he;
    int rc;

    memset(f, 0, sizeof *f);
    f->recall = schema_int(x->body, "recall", 0);
    rc = store_recall_unit_list(x->sc, 0, x->u.id, NULL, 0, 1000, x->a,
                                remedy_each, f, &he);
    if (rc != STORE_OK && rc != 1)
        return core_store_fail(x->err, rc, &he);
    if (!f->hit)
        return core_fail(x->err, CORE_ECONFLICT, "not_recalled", "recall",
                         "recall: unit '%s' is not affected by recall %lld",
                         x->u.code, (long long)f->recall);
    if (strcmp(f->found.state, "remedied") == 0)
        return core_fail(x->err, CORE_ECONFLICT, "already_remedied", "recall",
                         "recall: unit '%s' was remedied under recall %lld "
                         "already", x->u.code, (long long)f->recall);
    rc = store_recall_get(x->sc, f->recall, x->a, &r, &he);
    if (rc != STORE_OK)
        return core_store_fail(x->err, rc, &he);
    if (strcmp(r.status, "open") != 0)
        return core_fail(x->err, CORE_ECONFLICT, "recall_closed", "recall",
                         "recall: recall %lld is closed", (long long)r.id);
    return CORE_OK;
}

static int check_remedy(struct ev_ctx *x)
{
    struct remedy_find f;

    return find_remedy(x, &f);
}

static int record_remedy(struct ev_ctx *x)
{
    struct remedy_find f;
    struct hrid_err he;
    int rc = find_remedy(x, &f);

    if (rc != CORE_OK)
        return rc;
    rc = store_recall_unit_remedied(x->sc, f.found.recall_id,
                                    f.found.unit_id, x->seq, x->at, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(x->err, rc, &he);
}

static const struct event_rule rules[] = {
    {"release", release_fields, ST_REGISTERED, ST_RELEASED, REL_MAKER,
     apply_release, NULL},
    {"transfer", transfer_fields, ST_LIVE, TO_SAME, REL_CUSTODIAN,
     apply_transfer, NULL},
    {"deploy", deploy_fields, ST_RELEASED | ST_IN_SERVICE, ST_IN_SERVICE,
     REL_OWNER_CUST | REL_OPERATOR, apply_deploy, NULL},
    {"maintenance_start", mstart_fields, ST_IN_SERVICE, ST_MAINTENANCE,
     REL_GRANT_SVC | REL_OWNER_CUST | REL_OPERATOR, NULL, NULL},
    {"maintenance_end", mend_fields, ST_MAINTENANCE, ST_IN_SERVICE,
     REL_GRANT_SVC | REL_OWNER_CUST | REL_OPERATOR, check_parts, swap_parts},
    {"firmware_update", firmware_fields, ST_ANY_LIVE, TO_SAME,
     REL_MAKER | REL_GRANT_SVC, apply_firmware, NULL},
    {"inspection", inspection_fields, ST_ANY_LIVE, TO_SAME,
     REL_GRANT_SVC | REL_REGULATOR, NULL, NULL},
    {"incident", incident_fields, ST_ANY_LIVE | ST_SCRAPPED, TO_SAME,
     REL_OWNER_CUST | REL_OPERATOR | REL_REGULATOR, NULL, record_incident},
    {"suspend", suspend_fields, ST_RELEASED | ST_IN_SERVICE | ST_MAINTENANCE,
     ST_SUSPENDED, REL_REGULATOR, NULL, NULL},
    {"resume", resume_fields, ST_SUSPENDED, TO_PREV, REL_REGULATOR, NULL, NULL},
    {"scrap", reason_fields, ST_ANY_LIVE, ST_SCRAPPED,
     REL_OWNER_CUST | REL_RECYC_CUST | REL_GRANT_RECYC, NULL, NULL},
    {"recycle", recycle_fields, ST_SCRAPPED, ST_RECYCLED,
     REL_RECYC_CUST | REL_GRANT_RECYC, NULL, NULL},
    {"export", border_fields, ST_RELEASED | ST_IN_SERVICE | ST_MAINTENANCE,
     TO_SAME, REL_CUSTODIAN, apply_border, NULL},
    {"import", border_fields, ST_RELEASED | ST_IN_SERVICE | ST_MAINTENANCE,
     TO_SAME, REL_CUSTODIAN, apply_border, NULL},
    {"void", void_fields, ST_REGISTERED, ST_VOIDED, REL_MAKER, apply_void, NULL},
    {"recall_remedy", remedy_fields, ST_ANY_LIVE, TO_SAME,
     REL_MAKER | REL_GRANT_SVC, check_remedy, record_remedy},
};

#define NRULES (sizeof rules / sizeof rules[0])

/* The relations who has with x->u, as REL_* bits. */
static int relations(struct ev_ctx *x, unsigned *rel)
{
    const struct core_principal *w = x->who;
    const struct store_unit *u = &x->u;
    bool g;
    int rc;

    *rel = 0;
    if (w->role == ROLE_REGULATOR)
        *rel |= REL_REGULATOR;
    if (w->role == ROLE_MANUFACTURER && w->party_id == u->enterprise_id)
        *rel |= REL_MAKER;
    if (w->party_id != 0 && w->party_id == u->custodian_id &&
        (w->role & (ROLE_MANUFACTURER | ROLE_SELLER | ROLE_OWNER |
                    ROLE_RECYCLER))) {
        *rel |= REL_CUSTODIAN;
        if (w->role == ROLE_OWNER)
            *rel |= REL_OWNER_CUST;
        if (w->role == ROLE_RECYCLER)
            *rel |= REL_RECYC_CUST;
    }
    if (w->role == ROLE_OWNER && w->party_id != 0 &&
        w->party_id == u->operator_id)
        *rel |= REL_OPERATOR;
    if (w->role == ROLE_SERVICE) {
        rc = core_has_grant(x->sc, w, u, "service", core_now_ms(), x->a, &g,
                            x->err);
        if (rc != CORE_OK)
            return rc;
        if (g)
            *rel |= REL_GRANT_SVC;
    }
    if (w->role == ROLE_RECYCLER) {
        rc = core_has_grant(x->sc, w, u, "recycling", core_now_ms(), x->a, &g,
                            x->err);
        if (rc != CORE_OK)
            return rc;
        if (g)
            *rel |= REL_GRANT_RECYC;
    }
    return CORE_OK;
}

/* The refusal for a caller without the relation a rule needs. */
static int refuse_relation(struct ev_ctx *x, const struct event_rule *r)
{
    const char *code = x->u.code;

    if ((r->who & (REL_GRANT_SVC | REL_GRANT_RECYC)) &&
        (x->who->role & (ROLE_SERVICE | ROLE_RECYCLER)) &&
        !(r->who & REL_RECYC_CUST && x->who->role == ROLE_RECYCLER &&
          x->who->party_id == x->u.custodian_id))
        return core_fail(x->err, CORE_EFORBIDDEN, "no_grant", NULL,
                         "%s on unit '%s' needs a live grant from its "
                         "custodian", r->type, code);
    if (r->who & (REL_CUSTODIAN | REL_OWNER_CUST | REL_OPERATOR |
                  REL_RECYC_CUST))
        return core_fail(x->err, CORE_EFORBIDDEN, "not_custodian", NULL,
                         "%s on unit '%s' is for its custodian%s; the %s "
                         "role of party %lld does not qualify", r->type, code,
                         r->who & REL_OPERATOR ? " or operator" : "",
                         core_role_name(x->who->role),
                         (long long)x->who->party_id);
    if (r->who == REL_MAKER)
        return core_fail(x->err, CORE_EFORBIDDEN, "not_maker", NULL,
                         "%s on unit '%s' is for its manufacturer", r->type,
                         code);
    return core_fail(x->err, CORE_EFORBIDDEN, "forbidden", NULL,
                     "the %s role may not record %s", 
                     core_role_name(x->who->role), r->type);
}

static const struct event_rule *find_rule(const char *type)
{
    for (size_t i = 0; type != NULL && i < NRULES; i++)
        if (strcmp(rules[i].type, type) == 0)
            return &rules[i];
    return NULL;
}

int core_event_record(struct store_conn *sc, struct store_unit *u,
                      const char *type, int64_t at,
                      const struct core_principal *who, json_t *body,
                      struct arena *a, struct store_event *e,
                      struct core_err *err)
{
    const char *text = core_json_dump(a, body);

    if (text == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    return core_event_record_text(sc, u, type, at, who, text, e, a, err);
}

int core_event_record_text(struct store_conn *sc, struct store_unit *u,
                           const char *type, int64_t at,
                           const struct core_principal *who,
                           const char *body, struct store_event *e,
                           struct arena *a, struct core_err *err)
{
    struct hrid_err he;
    int rc;

    memset(e, 0, sizeof *e);
    e->unit_id = u->id;
    memcpy(e->code, u->code, sizeof e->code);
    e->type = type;
    e->at = at;
    e->recorded_at = core_now_ms();
    e->actor_id = who->party_id;
    e->actor_role = core_role_name(who->role);
    e->body = body;
    e->unit_count = u->event_count + 1;
    e->unit_last_at = at > u->last_event_at ? at : u->last_event_at;
    rc = store_event_append(sc, e, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    u->last_event_at = e->unit_last_at;
    u->last_event_seq = e->seq;
    u->event_count = e->unit_count;
    return core_asof_note(sc, u, e, a, err);
}

struct event_op {
    const char *code;            /* canonical */
    json_t *body;                /* the request body (checked) */
    const struct event_rule *rule;
    const struct core_principal *who;
    struct store_event e;        /* the event recorded, for the reply */
    const char *state;           /* the unit's state after it */
};

static int event_reply(void *arg, struct arena *a, const char **text,
                       size_t *len)
{
    struct event_op *op = arg;

    return core_event_text(&op->e, op->state, a, text, len);
}

static int event_op_run(struct core *c, struct store_conn *sc, void *arg,
                        struct arena *a, struct core_reply *reply,
                        struct core_err *err)
{
    struct event_op *op = arg;
    const struct event_rule *r = op->rule;
    struct ev_ctx x;
    struct store_unit was;
    struct store_event e;
    unsigned st, rel;
    int64_t now = core_now_ms();
    int rc;

    memset(&x, 0, sizeof x);
    x.core = c;
    x.sc = sc;
    x.a = a;
    x.who = op->who;
    x.err = err;
    rc = core_unit_load(sc, op->code, a, &x.u, err);
    if (rc != CORE_OK)
        return rc;
    was = x.u;
    if ((rc = core_recall_settle(sc, &x.u, a, err)) != CORE_OK)
        return rc;
    x.at = schema_time(op->body, "at", now);

    rc = relations(&x, &rel);
    if (rc != CORE_OK)
        return rc;
    if (!(rel & r->who))
        return refuse_relation(&x, r);

    st = core_state_parse(x.u.state);
    if (!(st & r->from)) {
        if (st & (ST_SCRAPPED | ST_RECYCLED))
            return core_fail(err, CORE_ECONFLICT, "unit_scrapped", NULL,
                             "unit '%s' is %s: %s refused", x.u.code,
                             x.u.state, r->type);
        if (st & ST_VOIDED)
            return core_fail(err, CORE_ECONFLICT, "unit_voided", NULL,
                             "unit '%s' is voided: %s refused", x.u.code,
                             r->type);
        return core_fail(err, CORE_ECONFLICT, "invalid_state", NULL,
                         "unit '%s' is %s: %s is not allowed in that state",
                         x.u.code, x.u.state, r->type);
    }

    if (x.at > now + CORE_CLOCK_SKEW_MS)
        return core_fail(err, CORE_EINVALID, "invalid_field", "at",
                         "at: more than 5 minutes ahead of the registry's "
                         "clock");
    if (x.at < x.u.registered_at)
        return core_fail(err, CORE_ECONFLICT, "event_before_registration",
                         "at", "at: unit '%s' was registered later", x.u.code);
    /* Incidents may be reported late; every other event keeps the
     * history in time order, so that replaying it by time and by
     * sequence give the same unit. */
    if (x.at < x.u.last_event_at && strcmp(r->type, "incident") != 0)
        return core_fail(err, CORE_ECONFLICT, "event_out_of_order", "at",
                         "at: unit '%s' has a later event already",
                         x.u.code);

    /* The body recorded is the request without the envelope. */
    x.body = json_deep_copy(op->body);
    json_object_del(x.body, "type");
    json_object_del(x.body, "at");

    if (r->apply != NULL && (rc = r->apply(&x)) != CORE_OK) {
        json_decref(x.body);
        return rc;
    }
    rc = core_event_record(sc, &x.u, r->type, x.at, op->who, x.body, a, &e,
                           err);
    if (rc != CORE_OK) {
        json_decref(x.body);
        return rc;
    }
    x.seq = e.seq;
    rc = r->after != NULL ? r->after(&x) : CORE_OK;
    if (rc != CORE_OK) {
        json_decref(x.body);
        return rc;
    }

    if (r->to == TO_PREV) {
        x.u.state = x.u.prev_state ? x.u.prev_state : "released";
        x.u.prev_state = NULL;
    } else if (r->to != TO_SAME) {
        if (r->to == ST_SUSPENDED)
            x.u.prev_state = x.u.state;
        x.u.state = core_state_name(r->to);
    }
    /* The unit row's new strings point into x.body: free it only once
     * the row is written. */
    rc = core_unit_save(sc, &was, &x.u, err);
    json_decref(x.body);
    if (rc != CORE_OK)
        return rc;
    reply->http_status = 201;
    op->e = e;
    op->state = x.u.state;
    reply->build = event_reply;
    reply->build_arg = op;
    return CORE_OK;
}

/* The checks of an event request that need no store: the caller's role,
 * the code (canonical into canon), the body's shape and its type's
 * fields.  Sets *rule. */
static int event_check(const struct core_principal *who, const char *code,
                       size_t code_len, json_t *body,
                       char canon[HRID_CODE_LEN + 1],
                       const struct event_rule **rule, struct core_err *err)
{
    const struct event_rule *r;
    const char *type;
    int rc;

    rc = core_require(who, ROLE_ANY_KEY & ~ROLE_ADMIN, "record events", err);
    if (rc != CORE_OK)
        return rc;
    rc = core_code_arg(code, code_len, canon, err);
    if (rc != CORE_OK)
        return rc;
    if (!json_is_object(body))
        return core_fail(err, CORE_EBADREQ, "bad_request", NULL,
                         "the body must be a JSON object");
    type = schema_str(body, "type");
    r = find_rule(type);
    if (r == NULL) {
        char allowed[256];
        size_t at = 0;

        for (size_t i = 0; i < NRULES && at < sizeof allowed; i++)
            at += (size_t)snprintf(allowed + at, sizeof allowed - at, "%s%s",
                                   i ? ", " : "", rules[i].type);
        if (type == NULL)
            return core_fail(err, CORE_EINVALID, "missing_field", "type",
                             "missing field 'type' (one of %s)", allowed);
        if (strcmp(type, "certification") == 0 ||
            strcmp(type, "recall_notice") == 0 ||
            strcmp(type, "register") == 0 || strcmp(type, "grant") == 0)
            return core_fail(err, CORE_EINVALID, "invalid_field", "type",
                             "type: '%s' events are recorded by %s", type,
                             strcmp(type, "certification") == 0
                                 ? "POST /v1/certifications"
                             : strcmp(type, "recall_notice") == 0
                                 ? "POST /v1/recalls"
                             : strcmp(type, "register") == 0
                                 ? "POST /v1/units"
                                 : "POST /v1/units/{code}/grants");
        return core_fail(err, CORE_EINVALID, "invalid_field", "type",
                         "type: '%.32s' is not an event type (one of %s)",
                         type, allowed);
    }
    *rule = r;
    return schema_check(body, r->fields, "", err);
}

int core_event_add(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, json_t *body,
                   const struct core_idem *idem, struct arena *a,
                   struct core_reply *out, struct core_err *err)
{
    struct event_op op = {.body = body, .who = who};
    char canon[HRID_CODE_LEN + 1];
    int rc;

    memset(out, 0, sizeof *out);
    rc = event_check(who, code, code_len, body, canon, &op.rule, err);
    if (rc != CORE_OK)
        return rc;
    op.code = canon;
    return core_write(c, who, idem, event_op_run, &op, a, out, err);
}

int core_event_submit(struct core *c, const struct core_principal *who,
                      const char *code, size_t code_len, json_t *body,
                      const struct core_idem *idem, struct arena *a,
                      struct core_async *as, struct core_reply *out,
                      struct core_err *err)
{
    struct event_op *op = arena_calloc(a, sizeof *op);
    char *canon = arena_alloc(a, HRID_CODE_LEN + 1);
    int rc;

    memset(out, 0, sizeof *out);
    if (op == NULL || canon == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    rc = event_check(who, code, code_len, body, canon, &op->rule, err);
    if (rc != CORE_OK)
        return rc;
    op->code = canon;
    op->body = body;
    op->who = who;
    return core_write_async(c, who, idem, event_op_run, op, a, as, out, err);
}

/* ---- history ----------------------------------------------------------- */

struct ev_list_ctx {
    json_t *items;
    const struct core_principal *who;
    enum core_view view;
    int64_t last;
    int n;
};

static int event_each(void *ctx, const struct store_event *e)
{
    struct ev_list_ctx *l = ctx;
    json_t *o = core_event_json(e, NULL);

    /* Prices are private to the parties of a transfer (and regulators). */
    if (strcmp(e->type, "transfer") == 0 && l->view != VIEW_REGULATOR) {
        json_t *b = json_object_get(o, "body");

        if (l->who->party_id != e->actor_id &&
            l->who->party_id != schema_int(b, "to", 0) &&
            (json_object_get(b, "price") != NULL ||
             json_object_get(b, "currency") != NULL)) {
            /* Named, so that a verifier knows it cannot recompute this
             * leaf from what it was shown (docs/ledger.md) and checks it
             * by its hash instead. */
            json_object_del(b, "price");
            json_object_del(b, "currency");
            json_object_set_new(o, "redacted",
                                json_pack("[s, s]", "body.price",
                                          "body.currency"));
        }
    }
    json_array_append_new(l->items, o);
    l->last = e->seq;
    l->n++;
    return 0;
}

int core_event_list(struct core *c, const struct core_principal *who,
                    const char *code, size_t code_len,
                    const struct core_page *page, struct arena *a,
                    json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_unit u;
    struct ev_list_ctx l;
    struct hrid_err he;
    char canon[HRID_CODE_LEN + 1];
    int64_t after;
    int limit, rc;

    *out = NULL;
    rc = core_require(who, ROLE_ANY_KEY, "read a unit's history", err);
    if (rc != CORE_OK)
        return rc;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((rc = core_page_after(page, &after, err)) != CORE_OK)
        return rc;
    rc = core_code_arg(code, code_len, canon, err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = core_unit_load(sc, canon, a, &u, err);
    if (rc != CORE_OK)
        return rc;
    memset(&l, 0, sizeof l);
    rc = core_unit_view(sc, who, &u, a, &l.view, err);
    if (rc != CORE_OK)
        return rc;
    if (l.view == VIEW_PUBLIC)
        return core_fail(err, CORE_EFORBIDDEN, "forbidden", NULL,
                         "the history of unit '%s' is for its maker, its "
                         "custodians and regulators", canon);
    l.who = who;
    l.items = json_array();
    rc = store_event_list(sc, u.id, after, limit, a, event_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last);
    return CORE_OK;
}

/* ---- grants ------------------------------------------------------------ */

static json_t *grant_json(const struct store_grant *g, const char *code)
{
    json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:s?}", "id",
                          (json_int_t)g->id, "code", code, "grantee",
                          (json_int_t)g->grantee_id, "granted_by",
                          (json_int_t)g->granted_by, "scope", g->scope);

    core_set(o, "from", core_time_json(g->valid_from));
    core_set(o, "until", core_time_json(g->valid_until));
    core_set(o, "revoked_at", core_time_json(g->revoked_at));
    core_set(o, "created_at", core_time_json(g->created_at));
    return o;
}

struct grant_op {
    const char *code;
    json_t *body;
    const struct core_principal *who;
};

static int grant_op_run(struct core *c, struct store_conn *sc, void *arg,
                        struct arena *a, struct core_reply *reply,
                        struct core_err *err)
{
    struct grant_op *op = arg;
    struct store_unit u, was;
    struct store_party p;
    struct store_grant g;
    struct store_event e;
    struct hrid_err he;
    const char *scope = schema_str(op->body, "scope");
    int64_t now = core_now_ms();
    json_t *body;
    int rc;

    (void)c;
    rc = core_unit_load(sc, op->code, a, &u, err);
    if (rc != CORE_OK)
        return rc;
    was = u;
    if ((rc = core_recall_settle(sc, &u, a, err)) != CORE_OK)
        return rc;
    if (op->who->party_id != u.custodian_id)
        return core_fail(err, CORE_EFORBIDDEN, "not_custodian", NULL,
                         "only the custodian of unit '%s' grants access",
                         u.code);
    if (core_state_parse(u.state) & (ST_RECYCLED | ST_VOIDED))
        return core_fail(err, CORE_ECONFLICT, "invalid_state", NULL,
                         "unit '%s' is %s: nothing left to grant", u.code,
                         u.state);
    rc = store_party_get(sc, schema_int(op->body, "grantee", 0), a, &p, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_EINVALID, "invalid_field", "grantee",
                         "grantee: no party %lld",
                         (long long)schema_int(op->body, "grantee", 0));
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (strcmp(scope, "service") == 0 ? strcmp(p.kind, "service") != 0
                                      : strcmp(p.kind, "recycler") != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "grantee",
                         "grantee: party %lld is a %s; scope '%s' is granted "
                         "to %s parties", (long long)p.id, p.kind, scope,
                         strcmp(scope, "service") == 0 ? "service"
                                                       : "recycler");
    memset(&g, 0, sizeof g);
    g.unit_id = u.id;
    g.grantee_id = p.id;
    g.granted_by = op->who->party_id;
    g.scope = scope;
    g.valid_from = schema_time(op->body, "from", now);
    g.valid_until = schema_time(op->body, "until", 0);
    g.created_at = now;
    if (g.valid_until <= g.valid_from || g.valid_until <= now)
        return core_fail(err, CORE_EINVALID, "invalid_field", "until",
                         "until: must be later than from and than now");
    rc = store_grant_insert(sc, &g, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    /* Access to a unit is part of its record: who could act on it, and
     * from whom that came, is evidence too. */
    body = grant_json(&g, u.code);
    json_object_del(body, "code");
    json_object_del(body, "revoked_at");
    json_object_del(body, "created_at");
    rc = core_event_record(sc, &u, "grant",
                           now > u.last_event_at ? now : u.last_event_at,
                           op->who, body, a, &e, err);
    json_decref(body);
    if (rc != CORE_OK)
        return rc;
    rc = core_unit_save(sc, &was, &u, err);
    if (rc != CORE_OK)
        return rc;
    reply->http_status = 201;
    reply->body = grant_json(&g, u.code);
    json_object_set_new(reply->body, "seq", json_integer(e.seq));
    return CORE_OK;
}

int core_grant_create(struct core *c, const struct core_principal *who,
                      const char *code, size_t code_len, json_t *body,
                      const struct core_idem *idem, struct arena *a,
                      struct core_reply *out, struct core_err *err)
{
    struct grant_op op;
    char canon[HRID_CODE_LEN + 1];
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_MANUFACTURER | ROLE_SELLER | ROLE_OWNER |
                               ROLE_RECYCLER,
                      "grant access to units", err);
    if (rc == CORE_OK)
        rc = core_code_arg(code, code_len, canon, err);
    if (rc == CORE_OK)
        rc = schema_check(body, grant_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    op.code = canon;
    op.body = body;
    op.who = who;
    return core_write(c, who, idem, grant_op_run, &op, a, out, err);
}

struct grant_list_ctx {
    json_t *items;
    const char *code;
};

static int grant_list_each(void *ctx, const struct store_grant *g)
{
    struct grant_list_ctx *l = ctx;

    json_array_append_new(l->items, grant_json(g, l->code));
    return 0;
}

int core_grant_list(struct core *c, const struct core_principal *who,
                    const char *code, size_t code_len, struct arena *a,
                    json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_unit u;
    struct grant_list_ctx l;
    struct hrid_err he;
    enum core_view view;
    char canon[HRID_CODE_LEN + 1];
    int rc;

    *out = NULL;
    rc = core_require(who, ROLE_ANY_KEY, "read grants", err);
    if (rc == CORE_OK)
        rc = core_code_arg(code, code_len, canon, err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = core_unit_load(sc, canon, a, &u, err);
    if (rc == CORE_OK)
        rc = core_unit_view(sc, who, &u, a, &view, err);
    if (rc != CORE_OK)
        return rc;
    if (view < VIEW_CUSTODIAN)
        return core_fail(err, CORE_EFORBIDDEN, "not_custodian", NULL,
                         "the grants of unit '%s' are for its custodian and "
                         "regulators", canon);
    l.items = json_array();
    l.code = canon;
    rc = store_grant_list(sc, u.id, a, grant_list_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = json_pack("{s:o}", "items", l.items);
    return CORE_OK;
}
