/*
 * registry.c - parties, enterprises, API keys and product models.
 *
 * The platform operator (admin) enrols parties and issues keys; enrolling
 * a manufacturer assigns its 4-character enterprise code, unique within
 * its country and drawn from the alphabet without I and O.  A
 * manufacturer files product models; filing assigns the 6-character model
 * code (level, filing year, a sequence within the enterprise and year),
 * and a regulator approves or withdraws the model.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

/* ---- parties --------------------------------------------------------- */

static const char *const party_kinds[] = {
    "regulator", "seller", "owner", "service", "recycler", "certifier", NULL,
};

static const struct schema_field party_fields[] = {
    {"kind", S_ENUM, SF_REQUIRED, 0, 0, 0, party_kinds, NULL},
    {"name", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"public_name", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"country", S_STR, SF_REQUIRED, 2, 0, 0, NULL, NULL},
    {"info", S_JSON, 0, SCHEMA_JSON_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const struct schema_field enterprise_fields[] = {
    {"country", S_STR, SF_REQUIRED, 2, 0, 0, NULL, NULL},
    {"name", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"public_name", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"info", S_JSON, 0, SCHEMA_JSON_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Whether who may see a party's private info: admin, regulator, itself. */
static bool sees_private(const struct core_principal *who, int64_t party_id)
{
    return (who->role & (ROLE_ADMIN | ROLE_REGULATOR)) ||
           (who->party_id != 0 && who->party_id == party_id);
}

json_t *core_party_json(const struct store_party *p, bool private_info)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(p->id));
    core_set(o, "kind", core_str(p->kind));
    core_set(o, "name", core_str(p->name));
    core_set(o, "public_name", core_str(p->public_name));
    core_set(o, "country", core_str(p->country));
    if (p->ent_code != NULL) {
        char ent[8];

        snprintf(ent, sizeof ent, "%s%s", p->country, p->ent_code);
        core_set(o, "enterprise", json_string(ent));
        core_set(o, "code", json_string(p->ent_code));
    }
    if (private_info)
        core_set(o, "info", core_json_text(p->info));
    core_set(o, "created_at", core_time_json(p->created_at));
    return o;
}

static int check_country(const char *cc, struct core_err *err)
{
    if (cc == NULL || strlen(cc) != 2 || hrid_country_name(cc) == NULL)
        return core_fail(err, CORE_EINVALID, "invalid_field", "country",
                         "country: '%.8s' is not an assigned ISO 3166-1 "
                         "alpha-2 code (upper case, e.g. CN)",
                         cc ? cc : "");
    return CORE_OK;
}

struct party_op {
    json_t *body;
    bool enterprise;
};

static int party_create_op(struct core *c, struct store_conn *sc, void *arg,
                           struct arena *a, struct core_reply *reply,
                           struct core_err *err)
{
    struct party_op *op = arg;
    struct store_party p;
    struct hrid_err he;
    json_t *info = json_object_get(op->body, "info");
    char code[5];
    int rc;

    (void)c;
    memset(&p, 0, sizeof p);
    p.kind = op->enterprise ? "manufacturer" : schema_str(op->body, "kind");
    p.name = schema_str(op->body, "name");
    p.public_name = schema_str(op->body, "public_name");
    if (p.public_name == NULL)
        p.public_name = p.name;
    p.country = schema_str(op->body, "country");
    p.info = info ? core_json_dump(a, info) : "{}";
    p.created_at = core_now_ms();
    if (op->enterprise) {
        char counter[32];
        int64_t n;

        /* Codes are allocated in order within the country; a code taken
         * by an earlier enrolment (the counter is per country, so this
         * only happens after a restore) is skipped. */
        snprintf(counter, sizeof counter, "enterprise:%s", p.country);
        for (;;) {
            rc = store_counter_next(sc, counter, &n, &he);
            if (rc != STORE_OK)
                return core_store_fail(err, rc, &he);
            if (hrid_alloc_segment((uint64_t)n, HRID_ENTERPRISE_LEN, code,
                                   &he) != HRID_OK)
                return core_fail(err, CORE_ECONFLICT, "codes_exhausted",
                                 "country", "country %s has no enterprise "
                                 "code left", p.country);
            p.ent_code = code;
            rc = store_party_insert(sc, &p, &he);
            if (rc != STORE_CONFLICT)
                break;
        }
    } else {
        rc = store_party_insert(sc, &p, &he);
    }
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 201;
    reply->body = core_party_json(&p, true);
    return CORE_OK;
}

static int party_create(struct core *c, const struct core_principal *who,
                        json_t *body, bool enterprise,
                        const struct core_idem *idem, struct arena *a,
                        struct core_reply *out, struct core_err *err)
{
    struct party_op op = {body, enterprise};
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_ADMIN,
                      enterprise ? "enrol enterprises" : "create parties",
                      err);
    if (rc == CORE_OK)
        rc = schema_check(body, enterprise ? enterprise_fields : party_fields,
                          "", err);
    if (rc == CORE_OK)
        rc = check_country(schema_str(body, "country"), err);
    if (rc != CORE_OK)
        return rc;
    return core_write(c, who, idem, party_create_op, &op, a, out, err);
}

int core_party_create(struct core *c, const struct core_principal *who,
                      json_t *body, const struct core_idem *idem,
                      struct arena *a, struct core_reply *out,
                      struct core_err *err)
{
    return party_create(c, who, body, false, idem, a, out, err);
}

int core_enterprise_enrol(struct core *c, const struct core_principal *who,
                          json_t *body, const struct core_idem *idem,
                          struct arena *a, struct core_reply *out,
                          struct core_err *err)
{
    return party_create(c, who, body, true, idem, a, out, err);
}

int core_party_get(struct core *c, const struct core_principal *who,
                   int64_t id, struct arena *a, json_t **out,
                   struct core_err *err)
{
    struct store_conn *sc;
    struct store_party p;
    struct hrid_err he;
    int rc;

    *out = NULL;
    if (!(who->role & (ROLE_ADMIN | ROLE_REGULATOR)) && who->party_id != id) {
        rc = core_require(who, ROLE_ADMIN | ROLE_REGULATOR, "read parties",
                          err);
        /* A keyed caller asking for another party learns nothing. */
        if (rc == CORE_EFORBIDDEN)
            rc = core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                           "no party %lld", (long long)id);
        return rc;
    }
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = store_party_get(sc, id, a, &p, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no party %lld", (long long)id);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    *out = core_party_json(&p, sees_private(who, id));
    return CORE_OK;
}

struct list_ctx {
    json_t *items;
    const struct core_principal *who;
    int64_t last_id;
    int n;
};

static int party_each(void *ctx, const struct store_party *p)
{
    struct list_ctx *l = ctx;

    json_array_append_new(l->items, core_party_json(p, true));
    l->last_id = p->id;
    l->n++;
    return 0;
}

int core_party_list(struct core *c, const struct core_principal *who,
                    const char *kind, const struct core_page *page,
                    struct arena *a, json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct list_ctx l = {NULL, who, 0, 0};
    struct hrid_err he;
    int64_t after;
    int limit, rc;

    *out = NULL;
    rc = core_require(who, ROLE_ADMIN | ROLE_REGULATOR, "list parties", err);
    if (rc != CORE_OK)
        return rc;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((rc = core_page_after(page, &after, err)) != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    l.items = json_array();
    rc = store_party_list(sc, kind && kind[0] ? kind : NULL, after, limit, a,
                          party_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last_id);
    return CORE_OK;
}

int core_enterprise_get(struct core *c, const struct core_principal *who,
                        const char *ent, struct arena *a, json_t **out,
                        struct core_err *err)
{
    struct store_conn *sc;
    struct store_party p;
    json_t *o;
    int rc;

    *out = NULL;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = core_enterprise_find(c, sc, ent, a, &p, err);
    if (rc != CORE_OK)
        return rc;
    o = core_party_json(&p, sees_private(who, p.id));
    json_object_set_new(o, "party", json_integer(p.id));
    *out = o;
    return CORE_OK;
}

/* ---- keys ------------------------------------------------------------ */

static const struct schema_field key_fields[] = {
    {"party", S_INT, SF_REQUIRED, 0, 1, 9e15, NULL, NULL},
    {"role", S_STR, SF_REQUIRED, 32, 0, 0, NULL, NULL},
    {"label", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static json_t *key_json(const struct store_key *k)
{
    json_t *o = json_object();

    core_set(o, "key_id", core_str(k->key_id));
    json_object_set_new(o, "party", json_integer(k->party_id));
    core_set(o, "role", core_str(k->role));
    core_set(o, "label", core_str(k->label));
    core_set(o, "created_at", core_time_json(k->created_at));
    core_set(o, "revoked_at", core_time_json(k->revoked_at));
    return o;
}

static int key_create_op(struct core *c, struct store_conn *sc, void *arg,
                         struct arena *a, struct core_reply *reply,
                         struct core_err *err)
{
    json_t *body = arg;
    struct store_party p;
    struct store_key k;
    struct hrid_err he;
    unsigned role = core_role_parse(schema_str(body, "role"));
    const char *kind = core_role_party_kind(role);
    char key[CORE_KEY_LEN + 1], key_id[CORE_KEY_ID_LEN + 1];
    int rc;

    (void)c;
    if (role == 0 || role == ROLE_PUBLIC)
        return core_fail(err, CORE_EINVALID, "invalid_field", "role",
                         "role: '%.32s' is not one of admin, regulator, "
                         "manufacturer, seller, owner, service, recycler, "
                         "certifier", schema_str(body, "role"));
    rc = store_party_get(sc, schema_int(body, "party", 0), a, &p, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_EINVALID, "invalid_field", "party",
                         "party: no party %lld",
                         (long long)schema_int(body, "party", 0));
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (strcmp(p.kind, kind) != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "role",
                         "role: a %s party cannot hold a %s key (its role "
                         "is %s)", p.kind, core_role_name(role),
                         core_role_name(core_role_parse(p.kind)) ?
                             core_role_name(core_role_parse(p.kind)) :
                             strcmp(p.kind, "platform") == 0 ? "admin"
                                                             : p.kind);
    core_key_generate(key);
    memset(&k, 0, sizeof k);
    core_key_hash(key, k.hash, key_id);
    k.key_id = key_id;
    k.party_id = p.id;
    k.role = core_role_name(role);
    k.label = schema_str(body, "label");
    k.created_at = core_now_ms();
    rc = store_key_insert(sc, &k, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 201;
    reply->body = key_json(&k);
    json_object_set_new(reply->body, "key", json_string(key));
    return CORE_OK;
}

int core_key_create(struct core *c, const struct core_principal *who,
                    json_t *body, struct arena *a, struct core_reply *out,
                    struct core_err *err)
{
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_ADMIN, "issue keys", err);
    if (rc == CORE_OK)
        rc = schema_check(body, key_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    /* No idempotent replay for keys: the reply holds a secret, which is
     * never stored. */
    return core_write(c, who, NULL, key_create_op, body, a, out, err);
}

static int key_revoke_op(struct core *c, struct store_conn *sc, void *arg,
                         struct arena *a, struct core_reply *reply,
                         struct core_err *err)
{
    const char *key_id = arg;
    struct store_key k;
    struct hrid_err he;
    int rc;

    rc = store_key_get(sc, key_id, a, &k, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no key '%.32s'", key_id);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (k.revoked_at == 0) {
        k.revoked_at = core_now_ms();
        rc = store_key_revoke(sc, k.id, k.revoked_at, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    }
    core_cache_forget_key(c, key_id);
    reply->http_status = 200;
    reply->body = key_json(&k);
    return CORE_OK;
}

int core_key_revoke(struct core *c, const struct core_principal *who,
                    const char *key_id, struct arena *a,
                    struct core_reply *out, struct core_err *err)
{
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_ADMIN, "revoke keys", err);
    if (rc != CORE_OK)
        return rc;
    if (key_id == NULL || strlen(key_id) != CORE_KEY_ID_LEN)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no key '%.32s'", key_id ? key_id : "");
    if (who->key_row != 0) {
        /* Revoking the key in use would lock the caller out by accident
         * when it is the only admin key; it is allowed, but only for a
         * key other than the caller's own. */
        struct store_conn *sc = core_conn(c, err);
        struct store_key k;
        struct hrid_err he;

        if (sc == NULL)
            return err->status;
        if (store_key_get(sc, key_id, a, &k, &he) == STORE_OK &&
            k.id == who->key_row)
            return core_fail(err, CORE_ECONFLICT, "own_key", NULL,
                             "a key cannot revoke itself; use another "
                             "admin key");
    }
    rc = core_write(c, who, NULL, key_revoke_op, (void *)key_id, a, out,
                    err);
    /* Forgotten again after the commit: a reader between the write's own
     * forget and the commit may have cached the key as still live. */
    core_cache_forget_key(c, key_id);
    return rc;
}

static int key_each(void *ctx, const struct store_key *k)
{
    json_array_append_new(ctx, key_json(k));
    return 0;
}

int core_key_list(struct core *c, const struct core_principal *who,
                  int64_t party_id, struct arena *a, json_t **out,
                  struct core_err *err)
{
    struct store_conn *sc;
    struct hrid_err he;
    json_t *items;
    int rc;

    *out = NULL;
    rc = core_require(who, ROLE_ADMIN, "list keys", err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    items = json_array();
    rc = store_key_list(sc, party_id, a, key_each, items, &he);
    if (rc != STORE_OK) {
        json_decref(items);
        return core_store_fail(err, rc, &he);
    }
    *out = json_pack("{s:o}", "items", items);
    return CORE_OK;
}

/* ---- models ---------------------------------------------------------- */

static const struct schema_field model_param_fields[] = {
    {"height_mm", S_NUM, 0, 0, 100, 5000, NULL, NULL},
    {"mass_kg", S_NUM, 0, 0, 1, 2000, NULL, NULL},
    {"dof", S_INT, 0, 0, 1, 200, NULL, NULL},
    {"payload_kg", S_NUM, 0, 0, 0, 2000, NULL, NULL},
    {"battery_wh", S_NUM, 0, 0, 0, 100000, NULL, NULL},
    {"max_speed_mps", S_NUM, 0, 0, 0, 50, NULL, NULL},
    {"extra", S_JSON, 0, SCHEMA_JSON_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const struct schema_field model_filing_fields[] = {
    {"filing_no", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"documents", S_STRARR, 0, 32, 0, 0, NULL, NULL},
    {"notes", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const struct schema_field model_fields[] = {
    {"name", S_STR, SF_REQUIRED, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"level", S_INT, SF_REQUIRED, 0, 0, HRID_LEVEL_MAX, NULL, NULL},
    {"filing_year", S_INT, 0, 0, 2000, 2099, NULL, NULL},
    {"params", S_OBJ, SF_REQUIRED, 0, 0, 0, NULL, model_param_fields},
    {"filing", S_OBJ, 0, 0, 0, 0, NULL, model_filing_fields},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

static const char *const model_statuses[] = {"approved", "withdrawn", NULL};

static const struct schema_field model_status_fields[] = {
    {"status", S_ENUM, SF_REQUIRED, 0, 0, 0, model_statuses, NULL},
    {"reason", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

json_t *core_model_json(const struct store_model *m, const char *ent,
                        bool private_filing)
{
    json_t *o = json_object();

    core_set(o, "model", json_string(m->model_id));
    core_set(o, "code", json_string(m->model_id + 6));
    core_set(o, "enterprise", json_string(ent));
    core_set(o, "name", core_str(m->name));
    json_object_set_new(o, "level", json_integer(m->level));
    core_set(o, "level_meaning", core_str(hrid_level_meaning(m->level)));
    json_object_set_new(o, "filing_year", json_integer(m->filing_year));
    core_set(o, "status", core_str(m->status));
    core_set(o, "params", core_json_text(m->params));
    if (private_filing)
        core_set(o, "filing", core_json_text(m->filing));
    core_set(o, "filed_at", core_time_json(m->filed_at));
    core_set(o, "approved_at", core_time_json(m->approved_at));
    core_set(o, "withdrawn_at", core_time_json(m->withdrawn_at));
    return o;
}

struct model_op {
    const char *ent;
    json_t *body;
    const struct core_principal *who;
};

static int model_file_op(struct core *c, struct store_conn *sc, void *arg,
                         struct arena *a, struct core_reply *reply,
                         struct core_err *err)
{
    struct model_op *op = arg;
    struct store_party p;
    struct store_model m;
    struct hrid_err he;
    json_t *filing = json_object_get(op->body, "filing");
    char counter[48], seq[4], ent[7];
    int64_t now = core_now_ms(), n;
    int year, rc;

    rc = core_enterprise_find(c, sc, op->ent, a, &p, err);
    if (rc != CORE_OK)
        return rc;
    if (!(op->who->role & ROLE_ADMIN) && op->who->party_id != p.id)
        return core_fail(err, CORE_EFORBIDDEN, "not_maker", NULL,
                         "only enterprise %s%s may file its models",
                         p.country, p.ent_code);
    year = (int)schema_int(op->body, "filing_year", 0);
    if (year == 0) {
        char t[32];

        core_time_format(now, t);
        year = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 +
               (t[3] - '0');
    }
    snprintf(ent, sizeof ent, "%s%s", p.country, p.ent_code);
    snprintf(counter, sizeof counter, "model:%s:%02d", ent, year % 100);
    rc = store_counter_next(sc, counter, &n, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (hrid_alloc_segment((uint64_t)n, 3, seq, &he) != HRID_OK)
        return core_fail(err, CORE_ECONFLICT, "codes_exhausted", NULL,
                         "enterprise %s has filed all %d model codes of %d",
                         ent, 34 * 34 * 34 - 1, year);
    memset(&m, 0, sizeof m);
    memcpy(m.model_id, ent, 6);
    m.model_id[6] = (char)('0' + schema_int(op->body, "level", 0));
    m.model_id[7] = (char)('0' + year % 100 / 10);
    m.model_id[8] = (char)('0' + year % 10);
    memcpy(m.model_id + 9, seq, 4);
    m.enterprise_id = p.id;
    m.level = (int)schema_int(op->body, "level", 0);
    m.filing_year = year;
    m.name = schema_str(op->body, "name");
    m.status = "filed";
    m.params = core_json_dump(a, json_object_get(op->body, "params"));
    m.filing = filing ? core_json_dump(a, filing) : "{}";
    m.filed_at = now;
    rc = store_model_insert(sc, &m, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 201;
    reply->body = core_model_json(&m, ent, true);
    return CORE_OK;
}

int core_model_file(struct core *c, const struct core_principal *who,
                    const char *ent, json_t *body,
                    const struct core_idem *idem, struct arena *a,
                    struct core_reply *out, struct core_err *err)
{
    struct model_op op = {ent, body, who};
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_MANUFACTURER | ROLE_ADMIN, "file models",
                      err);
    if (rc == CORE_OK)
        rc = schema_check(body, model_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    return core_write(c, who, idem, model_file_op, &op, a, out, err);
}

int core_model_find(struct store_conn *sc, const char *model_id,
                    struct arena *a, struct store_model *m,
                    struct core_err *err)
{
    char id[HRID_MODEL_ID_LEN + 1];
    struct hrid_err he;
    size_t n = model_id ? strlen(model_id) : 0;
    int rc;

    if (n != HRID_MODEL_ID_LEN)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "model",
                         "model '%.32s' is not 12 characters (country, "
                         "enterprise and model code)", model_id ? model_id
                                                                : "");
    core_upper(id, model_id, n);
    rc = store_model_get(sc, id, a, m, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "model",
                         "no model '%s'", id);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    return CORE_OK;
}

static bool sees_filing(const struct core_principal *who,
                        const struct store_model *m)
{
    return (who->role & (ROLE_ADMIN | ROLE_REGULATOR)) ||
           (who->party_id != 0 && who->party_id == m->enterprise_id);
}

static void model_ent(const struct store_model *m, char ent[7])
{
    memcpy(ent, m->model_id, 6);
    ent[6] = '\0';
}

int core_model_get(struct core *c, const struct core_principal *who,
                   const char *model_id, struct arena *a, json_t **out,
                   struct core_err *err)
{
    struct store_conn *sc;
    struct store_model m;
    char ent[7];
    int rc;

    *out = NULL;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = core_model_find(sc, model_id, a, &m, err);
    if (rc != CORE_OK)
        return rc;
    model_ent(&m, ent);
    *out = core_model_json(&m, ent, sees_filing(who, &m));
    return CORE_OK;
}

struct model_list_ctx {
    json_t *items;
    const struct core_principal *who;
    int64_t last_id;
    int n;
};

static int model_each(void *ctx, const struct store_model *m)
{
    struct model_list_ctx *l = ctx;
    char ent[7];

    model_ent(m, ent);
    json_array_append_new(l->items,
                          core_model_json(m, ent, sees_filing(l->who, m)));
    l->last_id = m->id;
    l->n++;
    return 0;
}

int core_model_list(struct core *c, const struct core_principal *who,
                    const char *ent, const struct core_page *page,
                    struct arena *a, json_t **out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_party p;
    struct model_list_ctx l = {NULL, who, 0, 0};
    struct hrid_err he;
    int64_t after;
    int limit, rc;

    *out = NULL;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((rc = core_page_after(page, &after, err)) != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    rc = core_enterprise_find(c, sc, ent, a, &p, err);
    if (rc != CORE_OK)
        return rc;
    l.items = json_array();
    rc = store_model_list(sc, p.id, after, limit, a, model_each, &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last_id);
    return CORE_OK;
}

struct status_op {
    const char *model_id;
    json_t *body;
    const struct core_principal *who;
    int64_t row;             /* the model's row, once found */
};

static int model_status_op(struct core *c, struct store_conn *sc, void *arg,
                           struct arena *a, struct core_reply *reply,
                           struct core_err *err)
{
    struct status_op *op = arg;
    struct store_model m;
    struct hrid_err he;
    const char *to = schema_str(op->body, "status");
    char ent[7];
    int rc;

    rc = core_model_find(sc, op->model_id, a, &m, err);
    if (rc != CORE_OK)
        return rc;
    if (strcmp(to, "approved") == 0) {
        if (!(op->who->role & ROLE_REGULATOR))
            return core_fail(err, CORE_EFORBIDDEN, "forbidden", "status",
                             "only a regulator approves models");
        if (strcmp(m.status, "filed") != 0)
            return core_fail(err, CORE_ECONFLICT, "invalid_state", "status",
                             "model '%s' is %s: only a filed model can be "
                             "approved", m.model_id, m.status);
        m.status = "approved";
        m.approved_at = core_now_ms();
        m.approved_by = op->who->party_id;
    } else {
        if (!(op->who->role & ROLE_REGULATOR) &&
            op->who->party_id != m.enterprise_id)
            return core_fail(err, CORE_EFORBIDDEN, "not_maker", "status",
                             "only a regulator or the maker withdraws a "
                             "model");
        if (strcmp(m.status, "withdrawn") == 0)
            return core_fail(err, CORE_ECONFLICT, "invalid_state", "status",
                             "model '%s' is already withdrawn", m.model_id);
        m.status = "withdrawn";
        m.withdrawn_at = core_now_ms();
    }
    rc = store_model_update(sc, &m, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    core_cache_forget_model(c, m.id);
    op->row = m.id;
    model_ent(&m, ent);
    reply->http_status = 200;
    reply->body = core_model_json(&m, ent, true);
    return CORE_OK;
}

int core_model_set_status(struct core *c, const struct core_principal *who,
                          const char *model_id, json_t *body,
                          struct arena *a, struct core_reply *out,
                          struct core_err *err)
{
    struct status_op op = {model_id, body, who, 0};
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_REGULATOR | ROLE_MANUFACTURER,
                      "change a model's status", err);
    if (rc == CORE_OK)
        rc = schema_check(body, model_status_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    rc = core_write(c, who, NULL, model_status_op, &op, a, out, err);
    /* As for keys: forget again once the change is committed. */
    if (rc == CORE_OK)
        core_cache_forget_model(c, op.row);
    return rc;
}
