/*
 * cert.c - certifications and the market-access gate (DESIGN §2, §3).
 *
 * A certifier or regulator certifies a model (every unit of it) or one
 * unit: a scheme, a tier, the scenarios it covers, conditions and limits
 * (a speed limit, say), valid from one time to another.  A unit's own
 * certification is also recorded as a "certification" event on the unit,
 * so it is in its history and in the log; a model's is not a unit's
 * event.  Revocation keeps the row (with its time), so what was valid
 * when can always be told.
 *
 * Two rules read them: a unit of intelligence level 4 or above may only
 * be deployed to a scenario a valid certification covers at the time of
 * deployment (core_cert_covers, called by the deploy rule); and the
 * market-access gate, which answers allowed or denied with every reason
 * that applies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

static const char *const cert_scenarios[] = {
    "factory", "logistics", "retail", "public", "care",
    "home", "education", "research", NULL,
};

static const struct schema_field limit_fields[] = {
    {"max_speed_mps", S_NUM, 0, 0, 0, 100, NULL, NULL},
    {"max_payload_kg", S_NUM, 0, 0, 0, 10000, NULL, NULL},
    {"supervision", S_ENUM, 0, 0, 0, 0,
     (const char *const[]){"none", "remote", "on_site", NULL}, NULL},
    {"hours", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const struct schema_field cert_fields[] = {
    {"model", S_STR, 0, 12, 0, 0, NULL, NULL},
    {"unit", S_STR, 0, 64, 0, 0, NULL, NULL},
    {"scheme", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"tier", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"scenarios", S_STRARR, SF_REQUIRED, 8, 0, 0, NULL, NULL},
    {"conditions", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"limits", S_OBJ, 0, 0, 0, 0, NULL, limit_fields},
    {"valid_from", S_TIME, 0, 0, 0, 0, NULL, NULL},
    {"valid_until", S_TIME, SF_REQUIRED, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static bool known_scenario(const char *s)
{
    for (size_t i = 0; cert_scenarios[i] != NULL; i++)
        if (strcmp(s, cert_scenarios[i]) == 0)
            return true;
    return false;
}

json_t *core_cert_json(const struct store_cert *k, const char *model_id,
                       const char *code, int64_t now)
{
    json_t *o = json_object();
    bool valid = k->revoked_at == 0 && k->valid_from <= now &&
                 now < k->valid_until;

    json_object_set_new(o, "id", json_integer(k->id));
    core_set(o, "applies_to", json_string(k->unit_id ? "unit" : "model"));
    if (model_id != NULL)
        core_set(o, "model", json_string(model_id));
    if (code != NULL)
        core_set(o, "unit", json_string(code));
    core_set(o, "scheme", core_str(k->scheme));
    core_set(o, "tier", core_str(k->tier));
    core_set(o, "scenarios", core_json_text(k->scenarios));
    core_set(o, "conditions", core_str(k->conditions));
    core_set(o, "limits", k->limits ? core_json_text(k->limits) : json_null());
    core_set(o, "valid_from", core_time_json(k->valid_from));
    core_set(o, "valid_until", core_time_json(k->valid_until));
    json_object_set_new(o, "issuer", json_integer(k->issuer_id));
    core_set(o, "created_at", core_time_json(k->created_at));
    core_set(o, "revoked_at", core_time_json(k->revoked_at));
    core_set(o, "valid", json_boolean(valid));
    return o;
}

/* ---- the coverage check ------------------------------------------------ */

struct cover_ctx {
    int64_t at;                 /* the time it must hold */
    int64_t recorded_by;        /* recorded no later than this (as-of) */
    const char *scenario;       /* NULL: any scenario */
    struct core_cover *out;
};

static bool scenarios_has(const char *json, const char *scenario)
{
    json_t *l = core_json_text(json), *v;
    size_t i;
    bool found = false;

    json_array_foreach(l, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), scenario) == 0)
            found = true;
    json_decref(l);
    return found;
}

static int cover_each(void *ctx, const struct store_cert *k)
{
    struct cover_ctx *cc = ctx;
    struct core_cover *o = cc->out;

    if (k->created_at > cc->recorded_by)
        return 0;
    o->seen++;
    if (k->revoked_at != 0 && k->revoked_at <= cc->at) {
        o->revoked++;
        return 0;
    }
    if (cc->at < k->valid_from) {
        o->not_yet++;
        return 0;
    }
    if (cc->at >= k->valid_until) {
        if (k->valid_until > o->expired_at)
            o->expired_at = k->valid_until;
        return 0;
    }
    if (cc->scenario != NULL && !scenarios_has(k->scenarios, cc->scenario)) {
        size_t n = strlen(o->other);

        if (n < sizeof o->other - 80)
            snprintf(o->other + n, sizeof o->other - n, "%s%s",
                     n ? ", " : "", k->scenarios);
        return 0;
    }
    o->valid++;
    if (o->cert_id == 0)
        o->cert_id = k->id;
    return 0;
}

int core_cert_covers(struct store_conn *sc, int64_t model_row,
                     int64_t unit_id, int64_t at, int64_t recorded_by,
                     const char *scenario, struct arena *a,
                     struct core_cover *out, struct core_err *err)
{
    struct cover_ctx cc = {at, recorded_by, scenario, out};
    struct hrid_err he;
    int rc;

    memset(out, 0, sizeof *out);
    rc = store_cert_list(sc, model_row, unit_id, a, cover_each, &cc, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    return CORE_OK;
}

void core_cover_reason(const struct core_cover *c, const char *scenario,
                       char *out, size_t size)
{
    char t[32];

    if (c->valid > 0)
        snprintf(out, size, "certification %lld covers it",
                 (long long)c->cert_id);
    else if (c->seen == 0)
        snprintf(out, size, "no certification is recorded");
    else if (c->other[0] != '\0')
        snprintf(out, size, "the valid certifications cover %s, not '%s'",
                 c->other, scenario ? scenario : "");
    else if (c->expired_at != 0) {
        core_time_format(c->expired_at, t);
        snprintf(out, size, "its certification expired at %s", t);
    } else if (c->not_yet > 0)
        snprintf(out, size, "its certification is not valid yet");
    else
        snprintf(out, size, "its certification was revoked");
}

/* ---- recording ----------------------------------------------------------- */

struct cert_op {
    json_t *body;
    const struct core_principal *who;
    char code[HRID_CODE_LEN + 1];   /* "" for a model's */
    char model_id[HRID_MODEL_ID_LEN + 1];
};

static int cert_op_run(struct core *c, struct store_conn *sc, void *arg,
                       struct arena *a, struct core_reply *reply,
                       struct core_err *err)
{
    struct cert_op *op = arg;
    struct store_cert k;
    struct store_model m;
    struct store_unit u, was;
    struct store_event e;
    struct hrid_err he;
    json_t *b = op->body, *ev;
    int64_t now = core_now_ms();
    int rc;

    (void)c;
    memset(&k, 0, sizeof k);
    if (op->code[0] != '\0') {
        rc = core_unit_load(sc, op->code, a, &u, err);
        if (rc != CORE_OK)
            return rc;
        was = u;
        if ((rc = core_recall_settle(sc, &u, a, err)) != CORE_OK)
            return rc;
        if (strcmp(u.state, "scrapped") == 0 ||
            strcmp(u.state, "recycled") == 0 || strcmp(u.state, "voided") == 0)
            return core_fail(err, CORE_ECONFLICT, "unit_scrapped", "unit",
                             "unit '%s' is %s: it cannot be certified",
                             u.code, u.state);
        k.unit_id = u.id;
        rc = store_model_get_row(sc, u.model_row, a, &m, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    } else {
        if ((rc = core_model_find(sc, op->model_id, a, &m, err)) != CORE_OK)
            return rc;
        k.model_row = m.id;
    }
    k.scheme = schema_str(b, "scheme");
    k.tier = schema_str(b, "tier");
    k.scenarios = core_json_dump(a, json_object_get(b, "scenarios"));
    k.conditions = schema_str(b, "conditions");
    k.limits = json_object_get(b, "limits")
                   ? core_json_dump(a, json_object_get(b, "limits")) : NULL;
    k.valid_from = schema_time(b, "valid_from", now);
    k.valid_until = schema_time(b, "valid_until", 0);
    k.issuer_id = op->who->party_id;
    k.created_at = now;
    if (k.valid_until <= k.valid_from)
        return core_fail(err, CORE_EINVALID, "invalid_field", "valid_until",
                         "valid_until: must be after valid_from");
    if ((rc = store_cert_insert(sc, &k, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (k.unit_id != 0) {
        /* On the unit's record and in the log. */
        ev = json_deep_copy(b);
        json_object_del(ev, "unit");
        json_object_set_new(ev, "certification", json_integer(k.id));
        rc = core_event_record(sc, &u, "certification",
                               now > u.last_event_at ? now : u.last_event_at,
                               op->who, ev, a, &e, err);
        json_decref(ev);
        if (rc != CORE_OK)
            return rc;
        if ((rc = core_unit_save(sc, &was, &u, err)) != CORE_OK)
            return rc;
    }
    reply->http_status = 201;
    reply->body = core_cert_json(&k, k.unit_id ? NULL : m.model_id,
                                 k.unit_id ? u.code : NULL, now);
    return CORE_OK;
}

int core_cert_create(struct core *c, const struct core_principal *who,
                     json_t *body, const struct core_idem *idem,
                     struct arena *a, struct core_reply *out,
                     struct core_err *err)
{
    struct cert_op op;
    json_t *v;
    size_t i;
    const char *unit, *model;
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_CERTIFIER | ROLE_REGULATOR,
                      "record certifications", err);
    if (rc != CORE_OK)
        return rc;
    if ((rc = schema_check(body, cert_fields, "", err)) != CORE_OK)
        return rc;
    json_array_foreach(json_object_get(body, "scenarios"), i, v) {
        if (!known_scenario(json_string_value(v))) {
            char field[32];

            snprintf(field, sizeof field, "scenarios[%zu]", i);
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: '%.32s' is not a scenario (factory, "
                             "logistics, retail, public, care, home, "
                             "education, research)", field,
                             json_string_value(v));
        }
    }
    memset(&op, 0, sizeof op);
    unit = schema_str(body, "unit");
    model = schema_str(body, "model");
    if ((unit == NULL) == (model == NULL))
        return core_fail(err, CORE_EINVALID, unit ? "invalid_field"
                                                  : "missing_field",
                         unit ? "model" : "model",
                         "give exactly one of model (12 characters) and "
                         "unit (a code)");
    if (unit != NULL) {
        rc = core_code_arg(unit, strlen(unit), op.code, err);
        if (rc != CORE_OK) {
            snprintf(err->field, sizeof err->field, "unit");
            return rc;
        }
    } else {
        if (strlen(model) != HRID_MODEL_ID_LEN)
            return core_fail(err, CORE_EINVALID, "invalid_field", "model",
                             "model: '%.32s' is not 12 characters (country, "
                             "enterprise and model code)", model);
        core_upper(op.model_id, model, HRID_MODEL_ID_LEN);
    }
    op.body = body;
    op.who = who;
    return core_write(c, who, idem, cert_op_run, &op, a, out, err);
}

struct revoke_op {
    int64_t id;
    const struct core_principal *who;
};

static int revoke_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct revoke_op *op = arg;
    struct store_cert k;
    struct hrid_err he;
    int64_t now = core_now_ms();
    int rc;

    (void)c;
    rc = store_cert_get(sc, op->id, a, &k, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no certification %lld", (long long)op->id);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (op->who->role != ROLE_REGULATOR && k.issuer_id != op->who->party_id)
        return core_fail(err, CORE_EFORBIDDEN, "forbidden", NULL,
                         "certification %lld was issued by another party; "
                         "only it or a regulator may revoke it",
                         (long long)op->id);
    if (k.revoked_at != 0)
        return core_fail(err, CORE_ECONFLICT, "already_revoked", NULL,
                         "certification %lld was revoked already",
                         (long long)op->id);
    if ((rc = store_cert_revoke(sc, op->id, now, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    k.revoked_at = now;
    reply->http_status = 200;
    reply->body = core_cert_json(&k, NULL, NULL, now);
    return CORE_OK;
}

int core_cert_revoke(struct core *c, const struct core_principal *who,
                     int64_t id, struct arena *a, struct core_reply *out,
                     struct core_err *err)
{
    struct revoke_op op = {id, who};
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_CERTIFIER | ROLE_REGULATOR,
                      "revoke certifications", err);
    if (rc != CORE_OK)
        return rc;
    return core_write(c, who, NULL, revoke_run, &op, a, out, err);
}

/* ---- reading ------------------------------------------------------------- */

struct list_ctx {
    json_t *items;
    const char *model_id, *code;
    int64_t now;
    bool valid_only;
};

static int list_each(void *ctx, const struct store_cert *k)
{
    struct list_ctx *l = ctx;
    json_t *o = core_cert_json(k, k->unit_id ? NULL : l->model_id,
                               k->unit_id ? l->code : NULL, l->now);

    if (l->valid_only && !json_is_true(json_object_get(o, "valid"))) {
        json_decref(o);
        return 0;
    }
    json_array_append_new(l->items, o);
    return 0;
}

json_t *core_cert_list_json(struct store_conn *sc, int64_t model_row,
                            const char *model_id, int64_t unit_id,
                            const char *code, bool valid_only,
                            struct arena *a, struct core_err *err)
{
    struct list_ctx l = {json_array(), model_id, code, core_now_ms(),
                         valid_only};
    struct hrid_err he;
    int rc = store_cert_list(sc, model_row, unit_id, a, list_each, &l, &he);

    if (rc != STORE_OK) {
        json_decref(l.items);
        core_store_fail(err, rc, &he);
        return NULL;
    }
    return l.items;
}

int core_cert_list(struct core *c, const char *model, const char *code,
                   size_t code_len, struct arena *a, json_t **out,
                   struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1];
    struct store_conn *sc;
    struct store_unit u;
    struct store_model m;
    struct hrid_err he;
    int rc;

    *out = NULL;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    if (code != NULL) {
        if ((rc = core_code_arg(code, code_len, canon, err)) != CORE_OK ||
            (rc = core_unit_load(sc, canon, a, &u, err)) != CORE_OK)
            return rc;
        rc = store_model_get_row(sc, u.model_row, a, &m, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    } else if ((rc = core_model_find(sc, model, a, &m, err)) != CORE_OK) {
        return rc;
    }
    *out = core_cert_list_json(sc, m.id, m.model_id, code ? u.id : 0,
                               code ? u.code : NULL, false, a, err);
    if (*out == NULL)
        return err->status;
    *out = json_pack("{s:o}", "items", *out);
    return CORE_OK;
}

/* ---- the market-access gate --------------------------------------------- */

static void reason(json_t *l, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reason(json_t *l, const char *code, const char *fmt, ...)
{
    char msg[CORE_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(l, json_pack("{s:s, s:s}", "code", code,
                                       "message", msg));
}

int core_market_access(struct core *c, const char *code, size_t code_len,
                       struct arena *a, json_t **out, struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1], why[256], t[32];
    struct store_conn *sc;
    struct store_unit u;
    struct store_model m;
    struct core_cover cov;
    struct hrid_err he;
    struct core_err ue = {0};
    json_t *reasons = json_array(), *o;
    int64_t now = core_now_ms();
    int rc;

    *out = NULL;
    core_time_format(now, t);
    o = json_pack("{s:s%, s:s}", "code", code, code_len, "checked_at", t);
    if (hrid_code_parse(code, code_len, canon, &he) != HRID_OK) {
        reason(reasons, "invalid_code", "%s", he.msg);
        goto done;
    }
    json_object_set_new(o, "code", json_string(canon));
    if ((sc = core_conn(c, err)) == NULL) {
        rc = err->status;
        goto fail;
    }
    if ((rc = store_read_begin(sc, &he)) != STORE_OK) {
        rc = core_store_fail(err, rc, &he);
        goto fail;
    }
    rc = core_unit_load(sc, canon, a, &u, &ue);
    if (rc == CORE_ENOTFOUND) {
        store_read_end(sc);
        reason(reasons, "not_registered", "no unit %s is registered: no "
               "code, no market access", canon);
        goto done;
    }
    if (rc == CORE_OK) {
        rc = store_model_get_row(sc, u.model_row, a, &m, &he);
        rc = rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
    } else {
        *err = ue;
    }
    if (rc != CORE_OK) {
        store_read_end(sc);
        goto fail;
    }
    json_object_set_new(o, "state", json_string(u.state));
    json_object_set_new(o, "model", json_string(m.model_id));
    if (strcmp(m.status, "approved") != 0)
        reason(reasons, "model_not_approved", "model %s is %s, not approved",
               m.model_id, m.status);
    if (strcmp(u.state, "registered") == 0)
        reason(reasons, "not_released", "unit %s is registered but not "
               "released to the market", canon);
    else if (strcmp(u.state, "voided") == 0)
        reason(reasons, "voided", "unit %s was voided by its maker", canon);
    else if (strcmp(u.state, "suspended") == 0)
        reason(reasons, "suspended", "unit %s is suspended by a regulator",
               canon);
    else if (strcmp(u.state, "scrapped") == 0 ||
             strcmp(u.state, "recycled") == 0)
        reason(reasons, "scrapped", "unit %s is %s", canon, u.state);
    {
        json_t *open = core_recall_open_json(sc, u.id, a, &ue), *r;
        size_t i;

        if (open == NULL) {
            store_read_end(sc);
            *err = ue;
            rc = ue.status;
            goto fail;
        }
        json_array_foreach(open, i, r)
            reason(reasons, "recalled", "unit %s is under recall %lld (%s) "
                   "and not remedied", canon,
                   (long long)json_integer_value(json_object_get(r, "id")),
                   json_string_value(json_object_get(r, "defect")));
        json_decref(open);
    }
    if (m.level >= 4) {
        rc = core_cert_covers(sc, m.id, u.id, now, now, NULL, a, &cov, err);
        if (rc != CORE_OK) {
            store_read_end(sc);
            goto fail;
        }
        if (cov.valid == 0) {
            core_cover_reason(&cov, NULL, why, sizeof why);
            reason(reasons, cov.expired_at ? "certificate_expired"
                                           : "not_certified",
                   "unit %s is intelligence level %d and %s", canon, m.level,
                   why);
        }
    }
    store_read_end(sc);
done:
    json_object_set_new(o, "allowed", json_boolean(json_array_size(reasons)
                                                    == 0));
    json_object_set_new(o, "reasons", reasons);
    *out = o;
    return CORE_OK;
fail:
    json_decref(reasons);
    json_decref(o);
    return rc;
}
