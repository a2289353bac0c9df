/*
 * unit.c - registering units and showing them to each kind of caller.
 *
 * Registration computes the code from the model (country, enterprise,
 * model segments) and the serial body (the maker's own, or YYMMDD of the
 * production date and a sequence the platform allocates), appends the
 * "register" event, and writes the unit row and its components, all in
 * one transaction: a bulk of 10,000 units commits whole or not at all.
 *
 * Views follow DESIGN §5: the public sees what a QR scan should show;
 * the maker adds its production record; the custodian (and its operator
 * and grantees) adds custody and deployment; regulators see everything.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/jsonmem.h"
#include "core/jsonw.h"

static const char *const state_names[] = {
    "registered", "released", "in_service", "maintenance",
    "suspended",  "scrapped", "recycled",   "voided",
};

const char *core_state_name(unsigned st)
{
    for (unsigned i = 0; i < 8; i++)
        if (st == 1u << i)
            return state_names[i];
    return "unknown";
}

unsigned core_state_parse(const char *s)
{
    for (unsigned i = 0; s != NULL && i < 8; i++)
        if (strcmp(s, state_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* ---- registration ---------------------------------------------------- */

static const struct schema_field component_fields[] = {
    {"slot", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"part_no", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"supplier", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"lot", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"serial", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* A humanoid has 20-60 joints (DESIGN §4) plus batteries, sensors and
 * compute; 256 components leave room for the most detailed bill. */
#define UNIT_COMPONENTS_MAX 256

static const struct schema_field unit_fields[] = {
    {"model", S_STR, SF_REQUIRED, HRID_MODEL_ID_LEN, 0, 0, NULL, NULL},
    {"serial", S_STR, 0, 32, 0, 0, NULL, NULL},
    {"batch", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"production_date", S_DATE, SF_REQUIRED, 0, 0, 0, NULL, NULL},
    {"factory", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"firmware", S_MAP, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"components", S_ARR, 0, UNIT_COMPONENTS_MAX, 0, 0, NULL,
     component_fields},
    {"device_key", S_B64, 0, 32, 0, 0, NULL, NULL},
    {"at", S_TIME, 0, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* The models a registration has looked up, so that a bulk naming a few
 * models, in any order, reads each once.  Past REG_MODELS distinct ones,
 * the oldest is read again when named. */
#define REG_MODELS 32

/* A checked unit object as register_one needs it, read out of the JSON
 * by the request's thread (reg_prepare_one). */
struct reg_unit {
    char mid[HRID_MODEL_ID_LEN + 1];    /* the model, canonical */
    const char *serial;     /* the maker's serial body; NULL: allocate */
    const char *pdate;      /* production date, YYYY-MM-DD */
    int64_t made;           /* its 00:00 UTC, ms */
    bool has_at;
    int64_t at;             /* "at", when given */
    const char *batch, *factory, *device_key;
    const char *firmware;   /* canonical JSON */
    char counter[48];       /* an allocated serial's counter, or "" */
    /* The register event's body as canonical JSON up to its serial,
     * body_len bytes, with room after them for the serial member and the
     * closing brace, which register_one writes (reg_body). */
    char *body;
    size_t body_len;
    size_t ncomp;
    struct store_component *comps;      /* slot to serial set */
};

struct reg_op {
    size_t n;               /* units */
    bool bulk;
    const struct core_principal *who;
    json_t *serials;        /* counter name -> next serial number */
    struct store_model models[REG_MODELS];
    size_t nmodels;         /* models seen; slot nmodels % REG_MODELS next */
    struct reg_unit *prep;  /* one per unit (reg_prepare_one) */
    /* A bulk's codes and register events, for its reply (reg_reply). */
    char (*codes)[HRID_CODE_LEN + 1];
    int64_t *seqs;
};

/* A bulk registration's reply, written after its commit (core_reply). */
static int reg_reply(void *arg, struct arena *a, const char **text,
                     size_t *len)
{
    const struct reg_op *op = arg;
    size_t i, n = op->n;
    struct jsonw w = {.a = a};

    jsonw_open(&w, '{');
    jsonw_member_int(&w, "count", (int64_t)n);
    jsonw_key(&w, "units");
    jsonw_open(&w, '[');
    for (i = 0; i < n; i++) {
        char display[HRID_CODE_DISPLAY_LEN + 1];

        hrid_code_display(op->codes[i], display);
        jsonw_open(&w, '{');
        jsonw_member_str(&w, "code", op->codes[i]);
        jsonw_member_str(&w, "display", display);
        jsonw_member_int(&w, "seq", op->seqs[i]);
        jsonw_close(&w, '}');
    }
    jsonw_close(&w, ']');
    jsonw_close(&w, '}');
    return (*text = jsonw_finish(&w, len)) != NULL ? 0 : -1;
}

/* Milliseconds of 00:00 UTC on a checked YYYY-MM-DD. */
static int64_t date_ms(const char *date)
{
    char buf[32];
    int64_t ms = 0;

    snprintf(buf, sizeof buf, "%.10sT00:00:00Z", date);
    core_time_parse(buf, &ms);
    return ms;
}

/* The serial member register_one appends to a register event's body. */
static const char serial_key[] = ",\"serial\":\"";
#define SERIAL_TAIL (sizeof serial_key - 1 + HRID_SERIAL_BODY_LEN + 3)

/* s, in a unless tmp is a (where s already is); false when out of
 * memory.  The strings of a unit object read from a bulk's text live in
 * tmp, which the next unit reuses. */
static bool keep(struct arena *a, const struct arena *tmp, const char **s)
{
    if (*s == NULL || a == tmp)
        return true;
    return (*s = arena_strdup(a, *s)) != NULL;
}

/*
 * Reads a checked unit object in into p, on the request's own thread
 * before the job is queued: the writer, which every write waits for, then
 * neither looks members up nor serialises JSON.  What p keeps is in a;
 * in and the JSON written on the way are in tmp (which may be a).
 *
 * The register event's body is the registration as recorded: the unit
 * object without "at", its model in canonical form, the registry's
 * jurisdiction and the serial body, which for an allocated serial only
 * the writer knows.  "serial" sorts after every other unit field, so the
 * canonical text is written here up to where the serial goes, and
 * register_one appends the serial.
 */
static int reg_prepare_one(struct core *c, struct reg_unit *p, json_t *in,
                           struct arena *a, struct arena *tmp,
                           struct core_err *err)
{
    json_t *b = json_copy(in), *fw = json_object_get(in, "firmware");
    json_t *comps = json_object_get(in, "components"), *v;
    const char *k, *text;
    size_t j, n;
    bool ok = true;

    if (b == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    memset(p, 0, sizeof *p);
    core_upper(p->mid, schema_str(in, "model"), HRID_MODEL_ID_LEN);
    p->serial = schema_str(in, "serial");
    if (p->serial != NULL && strcmp(p->serial, "allocate") == 0)
        p->serial = NULL;
    p->pdate = schema_str(in, "production_date");
    p->made = date_ms(p->pdate);
    p->has_at = json_object_get(in, "at") != NULL;
    p->at = schema_time(in, "at", 0);
    p->batch = schema_str(in, "batch");
    p->factory = schema_str(in, "factory");
    p->device_key = schema_str(in, "device_key");
    p->firmware = fw != NULL ? core_json_dump(tmp, fw) : "{}";
    ok = p->firmware != NULL && keep(a, tmp, &p->serial) &&
         keep(a, tmp, &p->pdate) && keep(a, tmp, &p->batch) &&
         keep(a, tmp, &p->factory) && keep(a, tmp, &p->device_key) &&
         keep(a, tmp, &p->firmware);
    /* One counter per model and production date, as an allocated serial
     * body is YYMMDD and a sequence. */
    if (p->serial == NULL)
        snprintf(p->counter, sizeof p->counter, "serial:%s:%.10s", p->mid,
                 p->pdate);
    p->ncomp = json_array_size(comps);
    p->comps = arena_alloc(a, (p->ncomp ? p->ncomp : 1) * sizeof *p->comps);
    ok = ok && p->comps != NULL;
    json_array_foreach(comps, j, v) {
        struct store_component *sk = &p->comps[j];

        if (!ok)
            break;
        memset(sk, 0, sizeof *sk);
        sk->slot = schema_str(v, "slot");
        sk->part_no = schema_str(v, "part_no");
        sk->supplier = schema_str(v, "supplier");
        sk->lot = schema_str(v, "lot");
        sk->serial = schema_str(v, "serial");
        ok = keep(a, tmp, &sk->slot) && keep(a, tmp, &sk->part_no) &&
             keep(a, tmp, &sk->supplier) && keep(a, tmp, &sk->lot) &&
             keep(a, tmp, &sk->serial);
    }
    if (!ok) {
        json_decref(b);
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    }

    json_object_del(b, "at");
    json_object_del(b, "serial");
    json_object_set_new(b, "model", json_string(p->mid));
    json_object_set_new(b, "jurisdiction", json_string(c->country));
    json_object_foreach(b, k, v) {
        if (strcmp(k, "serial") > 0) {
            json_decref(b);
            return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                             "unit field '%s' sorts after \"serial\"", k);
        }
    }
    text = core_json_dump(tmp, b);
    json_decref(b);
    if (text == NULL || (n = strlen(text)) == 0 ||
        (p->body = arena_alloc(a, n - 1 + SERIAL_TAIL)) == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    p->body_len = n - 1;                   /* without the closing brace */
    memcpy(p->body, text, p->body_len);
    return CORE_OK;
}

/* A prepared unit's register event body, with its serial body ser. */
static const char *reg_body(const struct reg_unit *p, const char *ser)
{
    char *t = p->body + p->body_len;

    memcpy(t, serial_key, sizeof serial_key - 1);
    t += sizeof serial_key - 1;
    memcpy(t, ser, HRID_SERIAL_BODY_LEN);
    memcpy(t + HRID_SERIAL_BODY_LEN, "\"}", 3);
    return p->body;
}

/* Room for the codes and events a bulk's reply lists (reg_reply). */
static int reg_results(struct reg_op *op, struct arena *a,
                       struct core_err *err)
{
    op->codes = arena_alloc(a, op->n * sizeof *op->codes);
    op->seqs = arena_alloc(a, op->n * sizeof *op->seqs);
    if (op->codes == NULL || op->seqs == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    return CORE_OK;
}

/* The model mid (canonical), from op's models or the store. */
static int reg_model(struct store_conn *sc, struct reg_op *op,
                     const char *mid, struct arena *a,
                     struct store_model **out, struct hrid_err *he)
{
    size_t n = op->nmodels < REG_MODELS ? op->nmodels : REG_MODELS;
    struct store_model *m;
    int rc;

    for (size_t k = 0; k < n; k++)
        if (strcmp(op->models[k].model_id, mid) == 0) {
            *out = &op->models[k];
            return STORE_OK;
        }
    m = &op->models[op->nmodels % REG_MODELS];
    rc = store_model_get(sc, mid, a, m, he);
    if (rc != STORE_OK) {
        m->model_id[0] = '\0';
        return rc;
    }
    op->nmodels++;
    *out = m;
    return STORE_OK;
}

/*
 * Reserves, for each counter the request draws on, as many numbers as it
 * needs in one store call, so that a bulk of 10,000 allocated serials
 * costs one counter update per model and date, not one per unit.
 */
static int reserve_serials(struct store_conn *sc, struct reg_op *op,
                           struct core_err *err)
{
    struct hrid_err he;
    const char *name;
    json_t *count;
    size_t i, units = op->n;

    for (i = 0; i < units; i++) {
        const struct reg_unit *p = &op->prep[i];

        if (p->serial != NULL)
            continue;
        count = json_object_get(op->serials, p->counter);
        if (count == NULL)
            json_object_set_new(op->serials, p->counter, json_integer(1));
        else
            json_integer_set(count, json_integer_value(count) + 1);
    }
    json_object_foreach(op->serials, name, count) {
        int64_t n = json_integer_value(count), last;
        int rc = store_counter_add(sc, name, n, &last, &he);

        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        json_integer_set(count, last - n + 1);
    }
    return CORE_OK;
}

static void field_path(char *out, size_t n, bool bulk, size_t i,
                       const char *name)
{
    if (bulk)
        snprintf(out, n, "units[%zu].%s", i, name);
    else
        snprintf(out, n, "%s", name);
}

/* Registers one checked unit object; i is its index in a bulk.  A single
 * registration's reply (the unit's view) goes to reply; a bulk's code and
 * event go to op, for reg_reply. */
static int register_one(struct core *c, struct store_conn *sc,
                        struct reg_op *op, size_t i, struct arena *a,
                        json_t **reply, struct core_err *err)
{
    const struct reg_unit *p = &op->prep[i];
    const char *mid = p->mid, *pdate = p->pdate, *body;
    struct store_model *model;
    struct store_unit u;
    struct store_event e;
    struct hrid_err he;
    char field[CORE_FIELD_MAX], ser[HRID_SERIAL_BODY_LEN + 1];
    char code[HRID_CODE_LEN + 1];
    int64_t now = core_now_ms();
    int64_t at = p->has_at ? p->at : now;
    size_t k;
    int rc;

    rc = reg_model(sc, op, mid, a, &model, &he);
    if (rc != STORE_OK) {
        field_path(field, sizeof field, op->bulk, i, "model");
        if (rc == STORE_NOTFOUND)
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: no model '%s'", field, mid);
        return core_store_fail(err, rc, &he);
    }
    if (model->enterprise_id != op->who->party_id) {
        field_path(field, sizeof field, op->bulk, i, "model");
        return core_fail(err, CORE_EFORBIDDEN, "not_maker", field,
                         "model '%s' belongs to another enterprise", mid);
    }
    if (strcmp(model->status, "withdrawn") == 0) {
        field_path(field, sizeof field, op->bulk, i, "model");
        return core_fail(err, CORE_ECONFLICT, "model_withdrawn", field,
                         "model '%s' is withdrawn: no new units", mid);
    }
    if (at > now + CORE_CLOCK_SKEW_MS) {
        field_path(field, sizeof field, op->bulk, i, "at");
        return core_fail(err, CORE_EINVALID, "invalid_field", field,
                         "%s: more than 5 minutes in the future", field);
    }
    /* A unit cannot be registered before it was made; a day of slack
     * covers time zones between a factory's date and UTC. */
    if (p->made > now + 24 * 3600 * 1000LL ||
        at < p->made - 24 * 3600 * 1000LL) {
        field_path(field, sizeof field, op->bulk, i, "production_date");
        return core_fail(err, CORE_EINVALID, "invalid_field", field,
                         "%s: '%s' is after the registration time", field,
                         pdate);
    }

    /* The serial body: the maker's own, or the next of the numbers
     * register_op reserved for this model and production date. */
    if (p->serial == NULL) {
        json_t *next;
        int64_t n;
        int y = (pdate[0] - '0') * 1000 + (pdate[1] - '0') * 100 +
                (pdate[2] - '0') * 10 + (pdate[3] - '0');
        int mo = (pdate[5] - '0') * 10 + (pdate[6] - '0');
        int d = (pdate[8] - '0') * 10 + (pdate[9] - '0');

        next = json_object_get(op->serials, p->counter);
        n = json_integer_value(next);
        json_integer_set(next, n + 1);
        if (hrid_serial_allocate(y, mo, d, (uint64_t)n, ser, &he) != HRID_OK) {
            field_path(field, sizeof field, op->bulk, i, "production_date");
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: %s", field, he.msg);
        }
    } else {
        size_t n = strlen(p->serial);

        if (n != HRID_SERIAL_BODY_LEN) {
            field_path(field, sizeof field, op->bulk, i, "serial");
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: must be 16 characters 0-9A-Z (the serial "
                             "body) or \"allocate\"; got %zu", field, n);
        }
        memcpy(ser, p->serial, n + 1);
    }
    {
        char cc[3] = {mid[0], mid[1], '\0'}, ent[5], mc[7];

        memcpy(ent, mid + 2, 4);
        ent[4] = '\0';
        memcpy(mc, mid + 6, 6);
        mc[6] = '\0';
        if (hrid_code_make(cc, ent, mc, ser, code, &he) != HRID_OK) {
            field_path(field, sizeof field, op->bulk, i, "serial");
            return core_fail(err, CORE_EINVALID, "invalid_field", field,
                             "%s: %s", field, he.msg);
        }
    }

    body = reg_body(p, ser);

    memset(&u, 0, sizeof u);
    memcpy(u.code, code, sizeof code);
    u.model_row = model->id;
    u.enterprise_id = model->enterprise_id;
    u.state = "registered";
    u.custodian_id = op->who->party_id;
    u.owner_id = op->who->party_id;
    u.serial = ser;
    u.batch = p->batch;
    u.production_date = pdate;
    u.factory = p->factory;
    u.firmware = p->firmware;
    u.device_key = p->device_key;
    u.jurisdiction = c->country;
    u.extra = "{}";
    u.registered_at = at;
    u.updated_at = now;
    rc = store_unit_insert(sc, &u, &he);
    if (rc == STORE_CONFLICT) {
        field_path(field, sizeof field, op->bulk, i, "serial");
        return core_fail(err, CORE_ECONFLICT, "unit_exists", field,
                         "unit '%s' is already registered", code);
    }
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = core_event_record_text(sc, &u, "register", at, op->who, body, &e,
                                a, err);
    if (rc != CORE_OK)
        return rc;
    for (k = 0; k < p->ncomp; k++) {
        p->comps[k].unit_id = u.id;
        p->comps[k].installed_at = at;
        p->comps[k].installed_seq = e.seq;
    }
    rc = store_component_insert(sc, p->comps, p->ncomp, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    if (op->bulk) {
        memcpy(op->codes[i], code, sizeof op->codes[i]);
        op->seqs[i] = e.seq;
    } else {
        *reply = core_unit_json(c, sc, &u, VIEW_MANUFACTURER, a, err);
        if (*reply == NULL)
            return err->status;
    }
    return CORE_OK;
}

static int register_op(struct core *c, struct store_conn *sc, void *arg,
                       struct arena *a, struct core_reply *reply,
                       struct core_err *err)
{
    struct reg_op *op = arg;
    json_t *one = NULL;
    size_t i, n = op->n;

    op->nmodels = 0;
    op->serials = json_object();
    if (reserve_serials(sc, op, err) != CORE_OK) {
        json_decref(op->serials);
        return err->status;
    }
    for (i = 0; i < n; i++) {
        int rc = register_one(c, sc, op, i, a, &one, err);

        if (rc != CORE_OK) {
            json_decref(op->serials);
            return rc;
        }
    }
    json_decref(op->serials);
    reply->http_status = 201;
    if (op->bulk) {
        reply->build = reg_reply;
        reply->build_arg = op;
    } else {
        reply->body = one;
    }
    return CORE_OK;
}

/* A bulk's units read one at a time, from its text or its tree. */
struct reg_stream {
    struct core *c;
    struct reg_op *op;
    size_t cap;                 /* op->prep's room */
    struct arena *a, *tmp;
    struct core_err *err;
    int rc;
};

static int reg_each(void *ctx, size_t i, json_t *u)
{
    struct reg_stream *s = ctx;
    struct reg_op *op = s->op;
    char path[32];

    if (i >= CORE_BULK_MAX) {
        s->rc = core_fail(s->err, CORE_ETOOLARGE, "too_large", "units",
                          "units: more than %d units in one request; at "
                          "most %d", CORE_BULK_MAX, CORE_BULK_MAX);
        return 1;
    }
    snprintf(path, sizeof path, "units[%zu]", i);
    if (!json_is_object(u)) {
        s->rc = core_fail(s->err, CORE_EINVALID, "invalid_field", path,
                          "%s: must be a unit object", path);
        return 1;
    }
    if ((s->rc = schema_check(u, unit_fields, path, s->err)) != CORE_OK)
        return 1;
    if (i == s->cap) {
        /* The room doubles: what it leaves behind is at most as much as
         * the units read. */
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct reg_unit *prep = arena_alloc(s->a, cap * sizeof *prep);

        if (prep == NULL) {
            s->rc = core_fail(s->err, CORE_EINTERNAL, "internal", NULL,
                              "out of memory");
            return 1;
        }
        if (i > 0)
            memcpy(prep, op->prep, i * sizeof *prep);
        op->prep = prep;
        s->cap = cap;
    }
    s->rc = reg_prepare_one(s->c, &op->prep[i], u, s->a, s->tmp, s->err);
    op->n = i + 1;
    return s->rc != CORE_OK;
}

/* A bulk that holds no unit. */
static int reg_none(struct core_err *err)
{
    return core_fail(err, CORE_EINVALID, "invalid_field", "units",
                     "units: must be an array of 1 to %d unit objects",
                     CORE_BULK_MAX);
}

int core_units_register(struct core *c, const struct core_principal *who,
                        json_t *body, const struct core_idem *idem,
                        struct arena *a, struct core_reply *out,
                        struct core_err *err)
{
    struct reg_op op;
    json_t *units = json_object_get(body, "units");
    struct reg_stream s = {.c = c, .op = &op, .a = a, .tmp = a, .err = err};
    int rc;

    memset(out, 0, sizeof *out);
    memset(&op, 0, sizeof op);
    op.who = who;
    rc = core_require(who, ROLE_MANUFACTURER, "register units", err);
    if (rc != CORE_OK)
        return rc;
    if (!json_is_object(body))
        return core_fail(err, CORE_EBADREQ, "bad_request", NULL,
                         "the body must be a unit object or {\"units\":[...]}");
    if (units != NULL) {
        size_t i;
        json_t *u;

        if (json_object_size(body) != 1) {
            const char *k;
            json_t *v;

            json_object_foreach(body, k, v) if (strcmp(k, "units") != 0)
                return core_fail(err, CORE_EINVALID, "unknown_field", k,
                                 "unknown field '%.64s' beside \"units\"", k);
        }
        if (!json_is_array(units) || json_array_size(units) == 0)
            return reg_none(err);
        if (json_array_size(units) > CORE_BULK_MAX)
            return core_fail(err, CORE_ETOOLARGE, "too_large", "units",
                             "units: %zu units in one request; at most %d",
                             json_array_size(units), CORE_BULK_MAX);
        json_array_foreach(units, i, u)
            if (reg_each(&s, i, u))
                return s.rc;
        op.bulk = true;
        if (reg_results(&op, a, err) != CORE_OK)
            return err->status;
        return core_write(c, who, idem, register_op, &op, a, out, err);
    }
    rc = schema_check(body, unit_fields, "", err);
    if (rc != CORE_OK)
        return rc;
    op.n = 1;
    if ((op.prep = arena_alloc(a, sizeof *op.prep)) == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    rc = reg_prepare_one(c, op.prep, body, a, a, err);
    if (rc != CORE_OK)
        return rc;
    return core_write(c, who, idem, register_op, &op, a, out, err);
}

int core_units_register_text(struct core *c, const struct core_principal *who,
                             const char *text, size_t len,
                             const struct core_idem *idem, struct arena *a,
                             struct core_reply *out, struct core_err *err)
{
    struct reg_op op;
    struct arena tmp;
    struct reg_stream s = {.c = c, .op = &op, .a = a, .tmp = &tmp,
                           .err = err};
    enum jsonmem_each_result r;
    json_error_t jerr;
    json_t *body;
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&op, 0, sizeof op);
    op.who = who;
    op.bulk = true;
    rc = core_require(who, ROLE_MANUFACTURER, "register units", err);
    if (rc != CORE_OK)
        return rc;
    if (len == 0)
        return core_fail(err, CORE_EBADREQ, "bad_json", NULL,
                         "request body is empty: a JSON document was "
                         "expected");
    arena_init(&tmp);
    r = jsonmem_each(text, len, "units", &tmp, reg_each, &s, &n);
    arena_release(&tmp);
    if (r == JSONMEM_EACH_STOPPED)
        return s.rc;
    if (r == JSONMEM_EACH_DONE) {
        if (n == 0)
            return reg_none(err);
        if (reg_results(&op, a, err) != CORE_OK)
            return err->status;
        return core_write(c, who, idem, register_op, &op, a, out, err);
    }
    /* A single unit, or a body of any other shape: parsed whole, which
     * also says what is wrong with one that is not valid JSON. */
    body = jsonmem_loadb(a, text, len, 0, &jerr);
    if (body == NULL)
        return core_fail(err, CORE_EBADREQ, "bad_json", NULL,
                         "request body is not valid JSON: line %d, column "
                         "%d: %s", jerr.line, jerr.column, jerr.text);
    rc = core_units_register(c, who, body, idem, a, out, err);
    json_decref(body);
    return rc;
}

/* ---- views ------------------------------------------------------------ */

bool core_grant_live(const struct store_grant *g, const struct store_unit *u,
                     int64_t t)
{
    return g->revoked_at == 0 && g->valid_from <= t && t < g->valid_until &&
           g->granted_by == u->custodian_id;
}

struct grant_find {
    const struct core_principal *who;
    const struct store_unit *u;
    const char *scope;
    int64_t t;
    bool found;
};

static int grant_each(void *ctx, const struct store_grant *g)
{
    struct grant_find *f = ctx;

    if (g->grantee_id == f->who->party_id && core_grant_live(g, f->u, f->t) &&
        (f->scope == NULL || strcmp(g->scope, f->scope) == 0)) {
        f->found = true;
        return 1;
    }
    return 0;
}

int core_has_grant(struct store_conn *sc, const struct core_principal *who,
                   const struct store_unit *u, const char *scope, int64_t t,
                   struct arena *a, bool *has, struct core_err *err)
{
    struct grant_find f = {who, u, scope, t, false};
    struct hrid_err he;
    int rc;

    *has = false;
    if (!(who->role & (ROLE_SERVICE | ROLE_RECYCLER)))
        return CORE_OK;
    rc = store_grant_list(sc, u->id, a, grant_each, &f, &he);
    if (rc != STORE_OK && rc != 1)
        return core_store_fail(err, rc, &he);
    *has = f.found;
    return CORE_OK;
}

int core_unit_view(struct store_conn *sc, const struct core_principal *who,
                   const struct store_unit *u, struct arena *a,
                   enum core_view *view, struct core_err *err)
{
    bool granted;
    int rc;

    if (who->role & (ROLE_REGULATOR | ROLE_ADMIN)) {
        *view = VIEW_REGULATOR;
        return CORE_OK;
    }
    if (who->party_id != 0 &&
        (who->party_id == u->custodian_id || who->party_id == u->owner_id ||
         who->party_id == u->operator_id)) {
        *view = VIEW_CUSTODIAN;
        return CORE_OK;
    }
    rc = core_has_grant(sc, who, u, NULL, core_now_ms(), a, &granted, err);
    if (rc != CORE_OK)
        return rc;
    if (granted)
        *view = VIEW_CUSTODIAN;
    else if (who->role == ROLE_MANUFACTURER && who->party_id == u->enterprise_id)
        *view = VIEW_MANUFACTURER;
    else
        *view = VIEW_PUBLIC;
    return CORE_OK;
}

/* A party named in a unit's view: its public name, or (full) who it is;
 * null when none. */
static void party_ref(struct jsonw *w, struct core *c, struct store_conn *sc,
                      int64_t id, bool full, struct arena *a)
{
    struct store_party p;
    struct hrid_err he;

    if (id == 0 || core_cache_party(c, sc, id, a, &p, &he) != STORE_OK) {
        jsonw_null(w);
        return;
    }
    jsonw_open(w, '{');
    if (full) {
        jsonw_member_int(w, "id", p.id);
        jsonw_member_str(w, "kind", p.kind);
        jsonw_member_str(w, "name", p.name);
        jsonw_member_str(w, "public_name", p.public_name);
    } else {
        jsonw_member_str(w, "name", p.public_name);
    }
    jsonw_close(w, '}');
}

static void time_member(struct jsonw *w, const char *key, int64_t ms)
{
    jsonw_key(w, key);
    core_time_write(w, ms);
}

static int component_each(void *ctx, const struct store_component *k)
{
    struct jsonw *w = ctx;

    jsonw_open(w, '{');
    jsonw_member_str(w, "slot", k->slot);
    jsonw_member_str(w, "part_no", k->part_no);
    jsonw_member_str(w, "supplier", k->supplier);
    jsonw_member_str(w, "lot", k->lot);
    jsonw_member_str(w, "serial", k->serial);
    time_member(w, "installed_at", k->installed_at);
    jsonw_close(w, '}');
    return 0;
}

/* A member whose value core builds as a tree (lists that are mostly
 * empty); false, with err set, when building it failed. */
static bool tree_member(struct jsonw *w, const char *key, json_t *v)
{
    if (v == NULL)
        return false;
    jsonw_key(w, key);
    jsonw_value(w, v, 0);
    json_decref(v);
    return true;
}

/*
 * A unit as the view shows it, written straight out: the reply of
 * GET /v1/units/{code} is the registry's hottest, and building it as a
 * jansson tree, then writing and freeing the tree, was two fifths of
 * hridd's instructions per request.
 */
int core_unit_write(struct jsonw *w, struct core *c, struct store_conn *sc,
                    const struct store_unit *u,
                    const struct store_unit_marks *marks,
                    enum core_view view, struct arena *a,
                    struct core_err *err)
{
    struct store_model m;
    struct store_party ent;
    struct hrid_err he;
    char display[HRID_CODE_DISPLAY_LEN + 1], entc[7];
    int rc;

    rc = core_cache_model(c, sc, u->model_row, a, &m, &he);
    if (rc == STORE_OK)
        rc = core_cache_party(c, sc, u->enterprise_id, a, &ent, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc == STORE_NOTFOUND ? STORE_EIO : rc,
                               &he);
    hrid_code_display(u->code, display);
    memcpy(entc, u->code, 6);
    entc[6] = '\0';
    jsonw_open(w, '{');
    jsonw_member_str(w, "code", u->code);
    jsonw_member_str(w, "display", display);
    jsonw_member_str(w, "view",
                     view == VIEW_REGULATOR      ? "regulator"
                     : view == VIEW_CUSTODIAN    ? "custodian"
                     : view == VIEW_MANUFACTURER ? "manufacturer"
                                                 : "public");
    jsonw_key(w, "country");
    jsonw_open(w, '{');
    jsonw_key(w, "code");
    jsonw_string(w, u->code, 2);
    jsonw_member_str(w, "name", hrid_country_name(u->code));
    jsonw_close(w, '}');
    jsonw_key(w, "enterprise");
    jsonw_open(w, '{');
    jsonw_member_str(w, "id", entc);
    jsonw_member_str(w, "name", ent.public_name);
    jsonw_close(w, '}');
    jsonw_key(w, "model");
    jsonw_open(w, '{');
    jsonw_member_str(w, "id", m.model_id);
    jsonw_member_str(w, "name", m.name);
    jsonw_member_int(w, "level", m.level);
    jsonw_member_str(w, "level_meaning", hrid_level_meaning(m.level));
    jsonw_member_str(w, "status", m.status);
    jsonw_close(w, '}');
    jsonw_member_str(w, "production_date", u->production_date);
    jsonw_member_str(w, "state", u->state);
    /* Who operates it: by public name, or in full from the custodian's
     * view up. */
    jsonw_key(w, "operator");
    party_ref(w, c, sc, u->operator_id, view >= VIEW_CUSTODIAN, a);
    jsonw_member_str(w, "scenario", u->scenario);
    jsonw_member_str(w, "region", u->region);
    /* What the robot is approved for and under which limits, and the
     * recalls it awaits a remedy for: every view, the public's too.  The
     * marks, when known, say whether there is anything to look for. */
    if (marks != NULL && !marks->certified) {
        jsonw_key(w, "certifications");
        jsonw_put(w, "[]", 2);
    } else if (!tree_member(w, "certifications",
                            core_cert_list_json(sc, m.id, m.model_id, u->id,
                                                u->code, true, a, err))) {
        return err->status;
    }
    if (marks != NULL && !marks->recalled) {
        jsonw_key(w, "open_recalls");
        jsonw_put(w, "[]", 2);
    } else if (!tree_member(w, "open_recalls",
                            core_recall_open_json(sc, u->id, a, err))) {
        return err->status;
    }
    if (view >= VIEW_MANUFACTURER) {
        jsonw_member_str(w, "serial", u->serial);
        jsonw_member_str(w, "batch", u->batch);
        jsonw_member_str(w, "factory", u->factory);
        tree_member(w, "firmware", core_json_text(u->firmware));
        jsonw_key(w, "components");
        jsonw_open(w, '[');
        rc = store_component_list(sc, u->id, true, a, component_each, w,
                                  &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        jsonw_close(w, ']');
        jsonw_member_str(w, "device_key", u->device_key);
        jsonw_member_str(w, "market_filing_no", u->market_filing_no);
        jsonw_member_str(w, "jurisdiction", u->jurisdiction);
        time_member(w, "registered_at", u->registered_at);
        time_member(w, "updated_at", u->updated_at);
        time_member(w, "last_event_at", u->last_event_at);
        jsonw_member_int(w, "last_event_seq", u->last_event_seq);
        jsonw_member_int(w, "event_count", u->event_count);
    }
    if (view >= VIEW_CUSTODIAN) {
        int64_t now = core_now_ms();

        if (!tree_member(w, "open_alerts",
                         core_alerts_open_at(sc, u->id, now, a, err)) ||
            !tree_member(w, "fence_violations",
                         core_violations_at(sc, u->id, now, a, err)))
            return err->status;
        jsonw_key(w, "custodian");
        party_ref(w, c, sc, u->custodian_id, true, a);
        jsonw_key(w, "owner");
        party_ref(w, c, sc, u->owner_id, true, a);
        if (u->site != NULL)
            tree_member(w, "site", core_json_text(u->site));
        else {
            jsonw_key(w, "site");
            jsonw_null(w);
        }
        jsonw_member_str(w, "previous_state", u->prev_state);
    }
    jsonw_close(w, '}');
    if (w->failed)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory writing unit %s", u->code);
    return CORE_OK;
}

json_t *core_unit_json(struct core *c, struct store_conn *sc,
                       const struct store_unit *u, enum core_view view,
                       struct arena *a, struct core_err *err)
{
    struct jsonw w = {.a = a};
    json_t *o;

    if (core_unit_write(&w, c, sc, u, NULL, view, a, err) != CORE_OK)
        return NULL;
    o = json_loadb(w.p, w.len, 0, NULL);
    if (o == NULL)
        core_fail(err, CORE_EINTERNAL, "internal", NULL,
                  "out of memory reading unit %s", u->code);
    return o;
}

/* A unit read by code: CORE_OK, or 404 not_found, or the store's failure. */
static int unit_read(const char *code, int rc, const struct hrid_err *he,
                     struct core_err *err)
{
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "code",
                         "unit '%s' is not registered", code);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, he);
    return CORE_OK;
}

int core_unit_load(struct store_conn *sc, const char *code, struct arena *a,
                   struct store_unit *u, struct core_err *err)
{
    struct hrid_err he;

    return unit_read(code, store_unit_get(sc, code, a, u, &he), &he, err);
}

static bool same_str(const char *x, const char *y)
{
    return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

int core_unit_save(struct store_conn *sc, const struct store_unit *was,
                   struct store_unit *u, struct core_err *err)
{
    struct hrid_err he;
    int rc;

    if (same_str(was->state, u->state) &&
        same_str(was->prev_state, u->prev_state) &&
        was->custodian_id == u->custodian_id &&
        was->owner_id == u->owner_id &&
        was->operator_id == u->operator_id &&
        same_str(was->batch, u->batch) &&
        same_str(was->production_date, u->production_date) &&
        same_str(was->factory, u->factory) &&
        same_str(was->firmware, u->firmware) &&
        same_str(was->device_key, u->device_key) &&
        same_str(was->site, u->site) &&
        same_str(was->scenario, u->scenario) &&
        same_str(was->region, u->region) &&
        same_str(was->market_filing_no, u->market_filing_no) &&
        same_str(was->jurisdiction, u->jurisdiction) &&
        same_str(was->extra, u->extra))
        return CORE_OK;
    u->updated_at = core_now_ms();
    rc = store_unit_update(sc, was, u, &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

int core_unit_get_text(struct core *c, const struct core_principal *who,
                       const char *code, size_t code_len, struct arena *a,
                       const char **out, size_t *out_len,
                       struct core_err *err)
{
    struct jsonw w = {.a = a};
    struct store_unit_marks marks;
    struct store_conn *sc;
    struct store_unit u;
    struct hrid_err he;
    enum core_view view;
    char canon[HRID_CODE_LEN + 1];
    bool one_snapshot;
    int rc;

    *out = NULL;
    *out_len = 0;
    rc = core_code_arg(code, code_len, canon, err);
    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    /*
     * A public view is the row and, when the row's marks say so, the
     * certifications and recalls: lists that no column of the row depends
     * on, read in a statement of their own if at all.  The views with a
     * key add the components, alerts and parties that go with the row's
     * own columns (firmware, custodian), so they read in one snapshot.
     */
    one_snapshot = who->role != ROLE_PUBLIC;
    if (one_snapshot && (rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = unit_read(canon, store_unit_view_get(sc, canon, a, &u, &marks, &he),
                   &he, err);
    if (rc == CORE_OK)
        rc = core_unit_view(sc, who, &u, a, &view, err);
    /* Only the views from the maker's up list the history's counts. */
    if (rc == CORE_OK && view >= VIEW_MANUFACTURER &&
        (rc = store_unit_history(sc, &u, &he)) != STORE_OK)
        rc = core_store_fail(err, rc, &he);
    if (rc == CORE_OK)
        rc = core_unit_write(&w, c, sc, &u, &marks, view, a, err);
    if (one_snapshot)
        store_read_end(sc);
    if (rc == CORE_OK) {
        *out = w.p;
        *out_len = w.len;
    }
    return rc;
}

int core_unit_get(struct core *c, const struct core_principal *who,
                  const char *code, size_t code_len, struct arena *a,
                  json_t **out, struct core_err *err)
{
    const char *text;
    size_t len;
    int rc = core_unit_get_text(c, who, code, code_len, a, &text, &len, err);

    *out = NULL;
    if (rc != CORE_OK)
        return rc;
    if ((*out = json_loadb(text, len, 0, NULL)) == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory reading a unit");
    return CORE_OK;
}

struct unit_list_ctx {
    struct core *c;
    struct store_conn *sc;
    const struct core_principal *who;
    struct arena *a;
    struct jsonw w;             /* the reply, items written as listed */
    struct core_err *err;
    enum core_view view;
    char last[HRID_CODE_LEN + 1];
    int n;
};

static int unit_each(void *ctx, const struct store_unit *u)
{
    struct unit_list_ctx *l = ctx;

    if (core_unit_write(&l->w, l->c, l->sc, u, NULL, l->view, l->a,
                        l->err) != CORE_OK)
        return -1;
    memcpy(l->last, u->code, sizeof l->last);
    l->n++;
    return 0;
}

int core_unit_list(struct core *c, const struct core_principal *who,
                   const char *state, const char *model_id,
                   const struct core_page *page, struct arena *a,
                   const char **out, size_t *out_len, struct core_err *err)
{
    struct store_unit_filter f;
    struct unit_list_ctx l;
    struct store_conn *sc;
    struct store_model m;
    struct hrid_err he;
    int limit, rc;

    *out = NULL;
    *out_len = 0;
    rc = core_require(who, ROLE_ANY_KEY, "list units", err);
    if (rc != CORE_OK)
        return rc;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    memset(&f, 0, sizeof f);
    memset(&l, 0, sizeof l);
    l.view = VIEW_REGULATOR;
    if (who->role == ROLE_MANUFACTURER) {
        f.enterprise_id = who->party_id;
        l.view = VIEW_MANUFACTURER;
    } else if (!(who->role & (ROLE_REGULATOR | ROLE_ADMIN))) {
        f.custodian_id = who->party_id;
        l.view = VIEW_CUSTODIAN;
    }
    if (state != NULL && state[0] != '\0') {
        if (core_state_parse(state) == 0)
            return core_fail(err, CORE_EINVALID, "invalid_field", "state",
                             "state: '%.32s' is not one of registered, "
                             "released, in_service, maintenance, suspended, "
                             "scrapped, recycled, voided", state);
        f.state = state;
    }
    if (model_id != NULL && model_id[0] != '\0') {
        char id[HRID_MODEL_ID_LEN + 1];
        size_t n = strlen(model_id);

        if (n != HRID_MODEL_ID_LEN)
            return core_fail(err, CORE_EINVALID, "invalid_field", "model",
                             "model: must be 12 characters");
        core_upper(id, model_id, n);
        rc = store_model_get(sc, id, a, &m, &he);
        if (rc == STORE_NOTFOUND)
            return core_fail(err, CORE_EINVALID, "invalid_field", "model",
                             "model: no model '%s'", id);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        f.model_row = m.id;
    }
    if (page != NULL && page->cursor != NULL && page->cursor[0] != '\0') {
        if (strlen(page->cursor) != HRID_CODE_LEN)
            return core_fail(err, CORE_EINVALID, "invalid_field", "cursor",
                             "cursor: not a cursor this listing returned");
        f.after_code = page->cursor;
    }
    f.limit = limit;
    l.c = c;
    l.sc = sc;
    l.who = who;
    l.a = a;
    l.err = err;
    l.w.a = a;
    jsonw_open(&l.w, '{');
    jsonw_key(&l.w, "items");
    jsonw_open(&l.w, '[');
    rc = store_unit_list(sc, &f, a, unit_each, &l, &he);
    if (rc != STORE_OK) {
        if (rc == -1)
            return err->status;
        return core_store_fail(err, rc, &he);
    }
    jsonw_close(&l.w, ']');
    jsonw_key(&l.w, "next_cursor");
    jsonw_str(&l.w, l.n == limit ? l.last : NULL);
    jsonw_close(&l.w, '}');
    if (l.w.failed)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory listing units");
    *out = l.w.p;
    *out_len = l.w.len;
    return CORE_OK;
}

int core_event_text(const struct store_event *e, const char *state,
                    struct arena *a, const char **text, size_t *len)
{
    size_t body_len = strlen(e->body);
    struct jsonw w = {.a = a};

    /* Room for the members around the body: one allocation. */
    w.p = arena_alloc(a, body_len + 384);
    w.cap = w.p != NULL ? body_len + 384 : 0;
    jsonw_open(&w, '{');
    jsonw_member_int(&w, "seq", e->seq);
    jsonw_member_int(&w, "leaf", e->seq - 1);
    jsonw_member_str(&w, "code", e->code);
    jsonw_member_str(&w, "type", e->type);
    time_member(&w, "at", e->at);
    time_member(&w, "recorded_at", e->recorded_at);
    jsonw_key(&w, "actor");
    jsonw_open(&w, '{');
    jsonw_member_int(&w, "party", e->actor_id);
    if (e->actor_role != NULL)
        jsonw_member_str(&w, "role", e->actor_role);
    jsonw_close(&w, '}');
    if (state != NULL)
        jsonw_member_str(&w, "state", state);
    jsonw_key(&w, "body");
    jsonw_put(&w, e->body, body_len);
    jsonw_close(&w, '}');
    return (*text = jsonw_finish(&w, len)) != NULL ? 0 : -1;
}

json_t *core_event_json(const struct store_event *e, const char *state)
{
    json_t *o = json_object();

    json_object_set_new(o, "seq", json_integer(e->seq));
    json_object_set_new(o, "leaf", json_integer(e->seq - 1));
    core_set(o, "code", json_string(e->code));
    core_set(o, "type", core_str(e->type));
    core_set(o, "at", core_time_json(e->at));
    core_set(o, "recorded_at", core_time_json(e->recorded_at));
    core_set(o, "actor", json_pack("{s:I, s:s?}", "party",
                                   (json_int_t)e->actor_id, "role",
                                   e->actor_role));
    if (state != NULL)
        core_set(o, "state", json_string(state));
    core_set(o, "body", core_json_text(e->body));
    return o;
}
