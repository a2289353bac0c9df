/*
 * recall.c - recall campaigns (DESIGN §3): target, notify, remedy, track.
 *
 * A maker opens a recall of its own units, or a regulator orders one for a
 * maker.  The target is any combination (all must hold) of: models, a
 * batch/lot range, a production date range, a component (part number,
 * supplier, lot range, currently or ever installed) and a firmware
 * version range of one component.  Opening the recall materialises the
 * affected units at that moment, in the same transaction: each gets a row
 * in recall_units, which from then on refuses its deployment and denies
 * its market access, and a "recall_notice" event (in its history and the
 * log, seen by its custodian).  Units already scrapped, recycled or voided
 * are not on the market and are left out.  The store writes the rows in a
 * statement per model named (store_recall_reach, served by the model's or
 * the part's index); core then checks the firmware criterion on each.
 *
 * The notices of the first NOTICE_BATCH units are written with the recall.
 * Those of a bigger recall are owed (notified_seq 0) and written after it
 * commits, NOTICE_BATCH units a transaction (core_recall_notify, run by
 * hridd as soon as the recall commits and again at start, so an
 * interrupted recall resumes): a recall of a whole model then holds the
 * writer while its rows are written, not while a million notices are.  A
 * unit's owed notices are also written before anything else is recorded
 * on it (core_recall_settle), so its history reads as if they had been
 * written with the recall: dated when the recall opened (or at the unit's
 * last event, if later) and before every later event.
 *
 * A unit is remedied by a "recall_remedy" event (the maker or a service
 * provider with a live grant, saying what was done); lifecycle.c applies
 * it.  While a recall is open and a unit unremedied, deploying the unit is
 * refused (lifecycle.c) and market access denied (cert.c); a regulator may
 * suspend every unremedied unit of a recall in one call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

/* Notices written in one transaction: with the recall, then after it. */
#define NOTICE_BATCH 1000

static const struct schema_field range_fields[] = {
    {"from", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"to", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
static const struct schema_field date_range_fields[] = {
    {"from", S_DATE, 0, 0, 0, 0, NULL, NULL},
    {"to", S_DATE, 0, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
static const char *const installed_values[] = {"current", "ever", NULL};
static const struct schema_field component_fields[] = {
    {"part_no", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"supplier", S_STR, 0, SCHEMA_NAME_MAX, 0, 0, NULL, NULL},
    {"lots", S_OBJ, 0, 0, 0, 0, NULL, range_fields},
    {"installed", S_ENUM, 0, 0, 0, 0, installed_values, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
static const struct schema_field firmware_fields[] = {
    {"component", S_STR, SF_REQUIRED, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"from", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {"to", S_STR, 0, SCHEMA_ID_MAX, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
static const struct schema_field target_fields[] = {
    {"models", S_STRARR, 0, 256, 0, 0, NULL, NULL},
    {"batches", S_OBJ, 0, 0, 0, 0, NULL, range_fields},
    {"production_dates", S_OBJ, 0, 0, 0, 0, NULL, date_range_fields},
    {"component", S_OBJ, 0, 0, 0, 0, NULL, component_fields},
    {"firmware", S_OBJ, 0, 0, 0, 0, NULL, firmware_fields},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
static const struct schema_field recall_fields[] = {
    {"enterprise", S_STR, 0, 6, 0, 0, NULL, NULL},
    {"defect", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"hazard", S_STR, 0, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"remedy", S_STR, SF_REQUIRED, SCHEMA_TEXT_MAX, 0, 0, NULL, NULL},
    {"target", S_OBJ, SF_REQUIRED, 0, 0, 0, NULL, target_fields},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Version strings compare by their dotted numeric parts ("1.10" after
 * "1.9"); a part that is not a number compares as text. */
int core_version_cmp(const char *x, const char *y)
{
    while (*x != '\0' || *y != '\0') {
        char *ex, *ey;
        unsigned long long a = strtoull(x, &ex, 10), b = strtoull(y, &ey, 10);
        size_t nx, ny;
        int c;

        if (ex != x && ey != y) {
            if (a != b)
                return a < b ? -1 : 1;
            x = ex;
            y = ey;
        } else {
            nx = strcspn(x, ".");
            ny = strcspn(y, ".");
            c = strncmp(x, y, nx < ny ? nx : ny);
            if (c != 0 || nx != ny)
                return c != 0 ? c : (nx < ny ? -1 : 1);
            x += nx;
            y += ny;
        }
        if (*x == '.')
            x++;
        else if (*x != '\0' && *y == '.')
            return 1;
        if (*y == '.')
            y++;
        if (*x == '\0' && *y != '\0')
            return -1;
        if (*y == '\0' && *x != '\0')
            return 1;
    }
    return 0;
}

/* ---- targeting ----------------------------------------------------------- */

struct target {
    json_t *models;             /* array of model ids, or NULL */
    const char *batch_from, *batch_to;
    const char *date_from, *date_to;
    const char *part_no, *supplier, *lot_from, *lot_to;
    bool ever;                  /* ever installed, not only now */
    const char *fw_component, *fw_from, *fw_to;
};

/* The store reaches the units by every criterion but the firmware one:
 * versions compare by their dotted numbers (core_version_cmp), which SQL
 * does not, so core checks that one on each unit the store reached. */
static bool firmware_in(const struct target *t, const struct store_unit *u)
{
    json_t *fw = core_json_text(u->firmware);
    const char *v = json_string_value(json_object_get(fw, t->fw_component));
    bool ok = v != NULL &&
              (t->fw_from == NULL || core_version_cmp(v, t->fw_from) >= 0) &&
              (t->fw_to == NULL || core_version_cmp(v, t->fw_to) <= 0);

    json_decref(fw);
    return ok;
}

static void target_read(json_t *tj, struct target *t)
{
    json_t *b = json_object_get(tj, "batches");
    json_t *d = json_object_get(tj, "production_dates");
    json_t *c = json_object_get(tj, "component");
    json_t *f = json_object_get(tj, "firmware");
    const char *inst;

    memset(t, 0, sizeof *t);
    t->models = json_object_get(tj, "models");
    t->batch_from = schema_str(b, "from");
    t->batch_to = schema_str(b, "to");
    t->date_from = schema_str(d, "from");
    t->date_to = schema_str(d, "to");
    if (c != NULL) {
        t->part_no = schema_str(c, "part_no");
        t->supplier = schema_str(c, "supplier");
        t->lot_from = schema_str(json_object_get(c, "lots"), "from");
        t->lot_to = schema_str(json_object_get(c, "lots"), "to");
        inst = schema_str(c, "installed");
        t->ever = inst != NULL && strcmp(inst, "ever") == 0;
    }
    if (f != NULL) {
        t->fw_component = schema_str(f, "component");
        t->fw_from = schema_str(f, "from");
        t->fw_to = schema_str(f, "to");
    }
}

/* ---- notices ------------------------------------------------------------ */

static json_t *notice_body(const struct store_recall *r)
{
    return json_pack("{s:I, s:s, s:s?, s:s}", "recall", (json_int_t)r->id,
                     "defect", r->defect, "hazard", r->hazard, "remedy",
                     r->remedy);
}

/* Records recall r's notice on u, by whoever opened r, dated when r
 * opened or at u's last event if that is later; the caller writes u's
 * row.  *seq receives the event's sequence number. */
static int notice_record(struct store_conn *sc, struct store_unit *u,
                         const struct store_recall *r, json_t *body,
                         struct arena *a, int64_t *seq, struct core_err *err)
{
    struct core_principal who;
    struct store_event e;
    int rc;

    memset(&who, 0, sizeof who);
    who.role = r->ordered ? ROLE_REGULATOR : ROLE_MANUFACTURER;
    who.party_id = r->created_by;
    rc = core_event_record(sc, u, "recall_notice",
                           r->created_at > u->last_event_at
                               ? r->created_at
                               : u->last_event_at,
                           &who, body, a, &e, err);
    *seq = e.seq;
    return rc;
}

/* The recalls whose notice a unit is owed, a few at a time. */
struct owed {
    int64_t recall[16];
    int n, rows;
    int64_t last;
};

static int owed_each(void *ctx, const struct store_recall_unit *k)
{
    struct owed *o = ctx;

    o->rows++;
    o->last = k->recall_id;
    if (k->notified_seq == 0)
        o->recall[o->n++] = k->recall_id;
    return o->n == (int)(sizeof o->recall / sizeof o->recall[0]);
}

int core_recall_settle(struct store_conn *sc, struct store_unit *u,
                       struct arena *a, struct core_err *err)
{
    struct store_recall r;
    struct hrid_err he;
    struct owed o;
    int64_t after = 0, seq;
    bool more;
    int rc;

    do {
        memset(&o, 0, sizeof o);
        rc = store_recall_unit_list(sc, 0, u->id, "notified", after, 256, a,
                                    owed_each, &o, &he);
        if (rc != STORE_OK && rc != 1)
            return core_store_fail(err, rc, &he);
        more = rc == 1 || o.rows == 256;
        after = o.last;
        for (int i = 0; i < o.n; i++) {
            json_t *body;

            rc = store_recall_get(sc, o.recall[i], a, &r, &he);
            if (rc != STORE_OK)
                return core_store_fail(err, rc, &he);
            body = notice_body(&r);
            rc = notice_record(sc, u, &r, body, a, &seq, err);
            json_decref(body);
            if (rc != CORE_OK)
                return rc;
            rc = store_recall_unit_notified(sc, r.id, u->id, seq, &he);
            if (rc != STORE_OK)
                return core_store_fail(err, rc, &he);
        }
    } while (more);
    return CORE_OK;
}

/* One transaction of the oldest recall owing notices: its next
 * NOTICE_BATCH units in unit order, each given its notice.  No unit owes
 * an older recall's (that recall would be the oldest), so the notice goes
 * straight in; a newer recall's owed ones come when its turn does. */
struct notify_op {
    int64_t written;
    bool more;                  /* a recall may still owe notices */
    int n, rows;
    int64_t last;
    char (*codes)[HRID_CODE_LEN + 1];
};

static int notify_collect(void *ctx, const struct store_recall_unit *k)
{
    struct notify_op *op = ctx;

    op->rows++;
    op->last = k->unit_id;
    if (k->notified_seq == 0)
        memcpy(op->codes[op->n++], k->code, HRID_CODE_LEN + 1);
    return 0;
}

static int notify_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct notify_op *op = arg;
    struct store_recall r;
    struct store_unit u, was;
    struct hrid_err he;
    json_t *body;
    int64_t seq;
    int rc;

    (void)c;
    (void)reply;
    rc = store_recall_notifying(sc, a, &r, &he);
    if (rc == STORE_NOTFOUND)
        return CORE_OK;
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    op->more = true;
    op->codes = arena_alloc(a, NOTICE_BATCH * sizeof *op->codes);
    if (op->codes == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    rc = store_recall_unit_list(sc, r.id, 0, NULL, r.notify_after,
                                NOTICE_BATCH, a, notify_collect, op, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    body = notice_body(&r);
    for (int i = 0; i < op->n && rc == CORE_OK; i++) {
        if ((rc = core_unit_load(sc, op->codes[i], a, &u, err)) != CORE_OK)
            break;
        was = u;
        if ((rc = notice_record(sc, &u, &r, body, a, &seq, err)) != CORE_OK)
            break;
        if ((rc = store_recall_unit_notified(sc, r.id, u.id, seq, &he)) !=
            STORE_OK) {
            rc = core_store_fail(err, rc, &he);
            break;
        }
        if ((rc = core_unit_save(sc, &was, &u, err)) != CORE_OK)
            break;
        op->written++;
    }
    json_decref(body);
    if (rc != CORE_OK)
        return rc;
    rc = store_recall_set_notify(sc, r.id,
                                 op->rows == NOTICE_BATCH ? op->last : -1,
                                 &he);
    return rc == STORE_OK ? CORE_OK : core_store_fail(err, rc, &he);
}

int core_recall_notify(struct core *c, int64_t *written, bool *more,
                       struct core_err *err)
{
    struct core_principal sys = {ROLE_ADMIN, 0, 0, NULL};
    struct notify_op op;
    struct core_reply out;
    struct arena a;
    int rc;

    memset(&op, 0, sizeof op);
    arena_init(&a);
    rc = core_write(c, &sys, NULL, notify_run, &op, &a, &out, err);
    json_decref(out.body);
    arena_release(&a);
    *written = rc == CORE_OK ? op.written : 0;
    *more = rc == CORE_OK && op.more;
    return rc;
}

void core_on_notices(struct core *c, void (*wake)(void *), void *ctx)
{
    c->notices_wake = wake;
    c->notices_ctx = ctx;
}

/* ---- opening a recall -------------------------------------------------- */

struct recall_op {
    json_t *body;
    const struct core_principal *who;
    char ent[7];                /* CCEEEE, "" for the caller's own */
    int64_t owed;               /* notices left for core_recall_notify */
};

/* After the store has reached the units: a page of the recall's rows at a
 * time, in unit order, the firmware criterion checked (a unit that fails
 * it is dropped) and the first NOTICE_BATCH units notified. */
struct pass {
    struct store_conn *sc;
    struct arena *a;            /* the page's: released after each page */
    const struct target *t;
    const struct store_recall *r;
    int64_t affected, notified, last_notified, after;
    int rows;
    struct {
        int64_t unit_id;
        char code[HRID_CODE_LEN + 1];
    } page[CORE_PAGE_MAX];
    struct core_err *err;
};

static int pass_collect(void *ctx, const struct store_recall_unit *k)
{
    struct pass *p = ctx;

    p->after = k->unit_id;
    p->page[p->rows].unit_id = k->unit_id;
    memcpy(p->page[p->rows++].code, k->code, HRID_CODE_LEN + 1);
    return 0;
}

static int pass_unit(struct pass *p, int64_t unit_id, const char *code)
{
    struct store_unit u, was;
    struct hrid_err he;
    int rc;

    if (p->t->fw_component == NULL && p->notified == NOTICE_BATCH)
        return CORE_OK;
    if ((rc = core_unit_load(p->sc, code, p->a, &u, p->err)) != CORE_OK)
        return rc;
    if (p->t->fw_component != NULL && !firmware_in(p->t, &u)) {
        p->affected--;
        rc = store_recall_unit_drop(p->sc, p->r->id, unit_id, &he);
        return rc == STORE_OK ? CORE_OK : core_store_fail(p->err, rc, &he);
    }
    if (p->notified == NOTICE_BATCH)
        return CORE_OK;
    was = u;
    /* The unit is owed this recall's notice now, after any an earlier
     * recall still owes it. */
    if ((rc = core_recall_settle(p->sc, &u, p->a, p->err)) != CORE_OK)
        return rc;
    if ((rc = core_unit_save(p->sc, &was, &u, p->err)) != CORE_OK)
        return rc;
    p->notified++;
    p->last_notified = unit_id;
    return CORE_OK;
}

static int pass_run(struct pass *p)
{
    struct hrid_err he;
    int rc = CORE_OK;

    do {
        p->rows = 0;
        rc = store_recall_unit_list(p->sc, p->r->id, 0, NULL, p->after,
                                    CORE_PAGE_MAX, p->a, pass_collect, p,
                                    &he);
        if (rc != STORE_OK)
            return core_store_fail(p->err, rc, &he);
        for (int i = 0; i < p->rows && rc == CORE_OK; i++)
            rc = pass_unit(p, p->page[i].unit_id, p->page[i].code);
        arena_release(p->a);
    } while (rc == CORE_OK && p->rows == CORE_PAGE_MAX &&
             (p->t->fw_component != NULL || p->notified < NOTICE_BATCH));
    return rc;
}

static json_t *recall_json(const struct store_recall *r, const char *ent,
                           int64_t notified, int64_t remedied, int64_t owed)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(r->id));
    core_set(o, "enterprise", json_string(ent));
    core_set(o, "status", core_str(r->status));
    json_object_set_new(o, "ordered_by_regulator", json_boolean(r->ordered));
    core_set(o, "defect", core_str(r->defect));
    core_set(o, "hazard", core_str(r->hazard));
    core_set(o, "remedy", core_str(r->remedy));
    core_set(o, "target", core_json_text(r->target));
    core_set(o, "created_at", core_time_json(r->created_at));
    core_set(o, "closed_at", core_time_json(r->closed_at));
    json_object_set_new(o, "units", json_pack(
        "{s:I, s:I, s:I, s:f, s:I}", "affected", (json_int_t)notified,
        "remedied", (json_int_t)remedied, "unremedied",
        (json_int_t)(notified - remedied), "completion",
        notified ? (double)remedied / (double)notified : 1.0,
        "notices_pending", (json_int_t)owed));
    return o;
}

/* The rows of the target's models that are the maker's (one naming
 * another maker's model, or none, reaches no unit of this maker's). */
static int model_rows(struct store_conn *sc, const struct target *t,
                      int64_t enterprise_id, struct arena *a, int64_t *rows,
                      size_t *n, struct core_err *err)
{
    struct store_model m;
    json_t *v;
    size_t i;
    int rc;

    *n = 0;
    json_array_foreach(t->models, i, v) {
        struct core_err e;

        memset(&e, 0, sizeof e);
        rc = core_model_find(sc, json_string_value(v), a, &m, &e);
        if (rc == CORE_ENOTFOUND)
            continue;
        if (rc != CORE_OK) {
            *err = e;
            return rc;
        }
        if (m.enterprise_id == enterprise_id)
            rows[(*n)++] = m.id;
    }
    return CORE_OK;
}

static int recall_run(struct core *c, struct store_conn *sc, void *arg,
                      struct arena *a, struct core_reply *reply,
                      struct core_err *err)
{
    struct recall_op *op = arg;
    struct arena page_a;
    struct store_party ent;
    struct store_recall r;
    struct store_recall_target rt;
    struct store_comp_match part;
    struct target t;
    struct pass *p;
    struct hrid_err he;
    int64_t affected, owed;
    json_t *b = op->body;
    char entc[7];
    int rc;

    if (op->ent[0] != '\0') {
        rc = core_enterprise_find(c, sc, op->ent, a, &ent, err);
        if (rc != CORE_OK) {
            snprintf(err->field, sizeof err->field, "enterprise");
            return rc;
        }
    } else {
        rc = store_party_get(sc, op->who->party_id, a, &ent, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    }
    if (op->who->role == ROLE_MANUFACTURER && ent.id != op->who->party_id)
        return core_fail(err, CORE_EFORBIDDEN, "not_maker", "enterprise",
                         "a manufacturer recalls only its own units");
    snprintf(entc, sizeof entc, "%s%s", ent.country ? ent.country : "",
             ent.ent_code ? ent.ent_code : "");
    target_read(json_object_get(b, "target"), &t);
    memset(&r, 0, sizeof r);
    r.enterprise_id = ent.id;
    r.created_by = op->who->party_id;
    r.ordered = op->who->role == ROLE_REGULATOR;
    r.defect = schema_str(b, "defect");
    r.hazard = schema_str(b, "hazard");
    r.remedy = schema_str(b, "remedy");
    r.target = core_json_dump(a, json_object_get(b, "target"));
    r.status = "open";
    r.created_at = core_now_ms();
    r.notify_after = -1;
    if ((rc = store_recall_insert(sc, &r, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);

    /* The store reaches the units in a statement or a few; a unit's row
     * is what refuses its deployment and market access. */
    memset(&rt, 0, sizeof rt);
    rt.enterprise_id = ent.id;
    rt.batch_from = t.batch_from;
    rt.batch_to = t.batch_to;
    rt.date_from = t.date_from;
    rt.date_to = t.date_to;
    if (t.part_no != NULL) {
        part = (struct store_comp_match){t.part_no, t.supplier, t.lot_from,
                                         t.lot_to, !t.ever};
        rt.part = &part;
    }
    if (t.models != NULL) {
        rt.models = arena_alloc(a, (json_array_size(t.models) + 1) *
                                       sizeof *rt.models);
        if (rt.models == NULL)
            return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                             "out of memory");
        rc = model_rows(sc, &t, ent.id, a, (int64_t *)rt.models,
                        &rt.n_models, err);
        if (rc != CORE_OK)
            return rc;
    }
    affected = 0;
    if (t.models == NULL || rt.n_models > 0) {
        rc = store_recall_reach(sc, r.id, &rt, &affected, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
    }

    if ((p = calloc(1, sizeof *p)) == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    /* What each page of the pass makes is freed before the next, so
     * memory stays at one page's worth. */
    arena_init(&page_a);
    p->sc = sc;
    p->a = &page_a;
    p->t = &t;
    p->r = &r;
    p->err = err;
    p->affected = affected;
    rc = affected > 0 ? pass_run(p) : CORE_OK;
    arena_release(p->a);
    owed = p->affected - p->notified;
    if (rc == CORE_OK && owed > 0) {
        r.notify_after = p->last_notified;
        rc = store_recall_set_notify(sc, r.id, r.notify_after, &he);
        if (rc != STORE_OK)
            rc = core_store_fail(err, rc, &he);
    }
    if (rc == CORE_OK) {
        op->owed = owed;
        reply->http_status = 201;
        reply->body = recall_json(&r, entc, p->affected, 0, owed);
    }
    free(p);
    return rc;
}

int core_recall_create(struct core *c, const struct core_principal *who,
                       json_t *body, const struct core_idem *idem,
                       struct arena *a, struct core_reply *out,
                       struct core_err *err)
{
    struct recall_op op;
    json_t *t;
    const char *ent;
    int rc;

    memset(out, 0, sizeof *out);
    rc = core_require(who, ROLE_MANUFACTURER | ROLE_REGULATOR,
                      "open recalls", err);
    if (rc != CORE_OK)
        return rc;
    if ((rc = schema_check(body, recall_fields, "", err)) != CORE_OK)
        return rc;
    t = json_object_get(body, "target");
    if (json_object_size(t) == 0)
        return core_fail(err, CORE_EINVALID, "missing_field", "target",
                         "target: give at least one of models, batches, "
                         "production_dates, component, firmware");
    memset(&op, 0, sizeof op);
    ent = schema_str(body, "enterprise");
    if (ent == NULL && who->role == ROLE_REGULATOR)
        return core_fail(err, CORE_EINVALID, "missing_field", "enterprise",
                         "enterprise: a regulator orders a recall for a "
                         "maker: name it (e.g. CN0001)");
    if (ent != NULL)
        snprintf(op.ent, sizeof op.ent, "%s", ent);
    op.body = body;
    op.who = who;
    rc = core_write(c, who, idem, recall_run, &op, a, out, err);
    if (rc == CORE_OK && op.owed > 0 && c->notices_wake != NULL)
        c->notices_wake(c->notices_ctx);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

/* The recall, if the caller may see its units: its maker, regulators and
 * the admin.  Anyone may read the campaign itself (public safety). */
static int recall_load(struct core *c, struct store_conn *sc, int64_t id,
                       struct arena *a, struct store_recall *r, char ent[7],
                       struct core_err *err)
{
    struct store_party p;
    struct hrid_err he;
    int rc;

    rc = store_recall_get(sc, id, a, r, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no recall %lld", (long long)id);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = core_cache_party(c, sc, r->enterprise_id, a, &p, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    snprintf(ent, 7, "%s%s", p.country, p.ent_code);
    return CORE_OK;
}

static bool may_see_units(const struct core_principal *who,
                          const struct store_recall *r)
{
    return who->role == ROLE_REGULATOR || who->role == ROLE_ADMIN ||
           (who->role == ROLE_MANUFACTURER &&
            who->party_id == r->enterprise_id);
}

int core_recall_get(struct core *c, const struct core_principal *who,
                    int64_t id, struct arena *a, json_t **out,
                    struct core_err *err)
{
    struct store_conn *sc = core_conn(c, err);
    struct store_recall r;
    struct hrid_err he;
    int64_t n = 0, m = 0, o = 0;
    char ent[7];
    int rc;

    (void)who;
    *out = NULL;
    if (sc == NULL)
        return err->status;
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = recall_load(c, sc, id, a, &r, ent, err);
    if (rc == CORE_OK &&
        (rc = store_recall_counts(sc, id, &n, &m, &o, &he)) != STORE_OK)
        rc = core_store_fail(err, rc, &he);
    store_read_end(sc);
    if (rc != CORE_OK)
        return rc;
    *out = recall_json(&r, ent, n, m, o);
    return CORE_OK;
}

struct ru_list {
    json_t *items;
    int64_t last;
    int n;
};

static int ru_each(void *ctx, const struct store_recall_unit *k)
{
    struct ru_list *l = ctx;

    json_array_append_new(l->items, json_pack(
        "{s:s, s:s, s:o, s:o}", "code", k->code, "state", k->state,
        "notice_leaf", k->notified_seq != 0
                           ? json_integer(k->notified_seq - 1)
                           : json_null(),
        "remedied_at", core_time_json(k->remedied_at)));
    l->last = k->unit_id;
    l->n++;
    return 0;
}

int core_recall_units(struct core *c, const struct core_principal *who,
                      int64_t id, const char *state,
                      const struct core_page *page, struct arena *a,
                      json_t **out, struct core_err *err)
{
    struct store_conn *sc = core_conn(c, err);
    struct store_recall r;
    struct ru_list l = {NULL, 0, 0};
    struct hrid_err he;
    int64_t after;
    char ent[7];
    int limit, rc;

    *out = NULL;
    if (sc == NULL)
        return err->status;
    if ((limit = core_page_limit(page, err)) < 0)
        return err->status;
    if ((rc = core_page_after(page, &after, err)) != CORE_OK)
        return rc;
    if (state != NULL && strcmp(state, "notified") != 0 &&
        strcmp(state, "remedied") != 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "state",
                         "state: 'notified' or 'remedied'");
    if ((rc = recall_load(c, sc, id, a, &r, ent, err)) != CORE_OK)
        return rc;
    if (!may_see_units(who, &r))
        return core_fail(err, who->role == ROLE_PUBLIC ? CORE_EUNAUTH
                                                       : CORE_EFORBIDDEN,
                         who->role == ROLE_PUBLIC ? "unauthorized"
                                                  : "forbidden", NULL,
                         "the units of recall %lld are for its maker and "
                         "regulators", (long long)id);
    l.items = json_array();
    rc = store_recall_unit_list(sc, id, 0, state, after, limit, a, ru_each,
                                &l, &he);
    if (rc != STORE_OK) {
        json_decref(l.items);
        return core_store_fail(err, rc, &he);
    }
    *out = core_page_json(l.items, l.n, limit, l.last);
    return CORE_OK;
}

/* Open recalls a unit is unremedied under: [{id, defect, hazard, remedy}];
 * NULL with err on failure. */
struct open_ctx {
    struct store_conn *sc;
    struct arena *a;
    json_t *items;
    int rc;
    struct hrid_err he;
};

static int open_each(void *ctx, const struct store_recall_unit *k)
{
    struct open_ctx *o = ctx;
    struct store_recall r;

    o->rc = store_recall_get(o->sc, k->recall_id, o->a, &r, &o->he);
    if (o->rc != STORE_OK)
        return 1;
    if (strcmp(r.status, "open") == 0)
        json_array_append_new(o->items, json_pack(
            "{s:I, s:s, s:s?, s:s?}", "id", (json_int_t)r.id, "defect",
            r.defect, "hazard", r.hazard, "remedy", r.remedy));
    return 0;
}

json_t *core_recall_open_json(struct store_conn *sc, int64_t unit_id,
                              struct arena *a, struct core_err *err)
{
    struct open_ctx o;
    int rc;

    memset(&o, 0, sizeof o);
    o.sc = sc;
    o.a = a;
    o.items = json_array();
    rc = store_recall_unit_list(sc, 0, unit_id, "notified", 0, 1000, a,
                                open_each, &o, &o.he);
    if (rc == STORE_OK && o.rc == STORE_OK)
        return o.items;
    json_decref(o.items);
    core_store_fail(err, o.rc != STORE_OK ? o.rc : rc, &o.he);
    return NULL;
}

/* ---- suspending and closing --------------------------------------------- */

struct act_op {
    int64_t id;
    const struct core_principal *who;
    bool close;
};

struct suspend_ctx {
    struct store_conn *sc;
    struct arena *a;
    const struct core_principal *who;
    int64_t recall, now, done, last;
    int n;
    char (*codes)[HRID_CODE_LEN + 1];
    struct core_err *err;
};

static int suspend_collect(void *ctx, const struct store_recall_unit *k)
{
    struct suspend_ctx *s = ctx;

    s->last = k->unit_id;
    memcpy(s->codes[s->n++], k->code, HRID_CODE_LEN + 1);
    return 0;
}

static int suspend_one(struct suspend_ctx *s, const char *code)
{
    struct store_unit u, was;
    struct store_event e;
    json_t *body;
    int rc;

    if (core_unit_load(s->sc, code, s->a, &u, s->err) != CORE_OK)
        return -1;
    was = u;
    if (strcmp(u.state, "released") != 0 &&
        strcmp(u.state, "in_service") != 0 &&
        strcmp(u.state, "maintenance") != 0)
        return 0;
    if (core_recall_settle(s->sc, &u, s->a, s->err) != CORE_OK)
        return -1;
    body = json_pack("{s:s, s:s}", "reason", "recall", "recall_id",
                     arena_sprintf(s->a, "%lld", (long long)s->recall));
    rc = core_event_record(s->sc, &u, "suspend",
                           s->now > u.last_event_at ? s->now
                                                    : u.last_event_at,
                           s->who, body, s->a, &e, s->err);
    json_decref(body);
    if (rc != CORE_OK)
        return -1;
    u.prev_state = u.state;
    u.state = "suspended";
    if (core_unit_save(s->sc, &was, &u, s->err) != CORE_OK)
        return -1;
    s->done++;
    return 0;
}

/* Suspends the recall's notified units, a page at a time, each page's
 * allocations freed before the next. */
static int suspend_all(struct suspend_ctx *s, int64_t recall_id)
{
    struct arena page_a;
    struct hrid_err he;
    int rc = CORE_OK;

    arena_init(&page_a);
    s->a = &page_a;
    do {
        s->n = 0;
        rc = store_recall_unit_list(s->sc, recall_id, 0, "notified", s->last,
                                    CORE_PAGE_MAX, s->a, suspend_collect, s,
                                    &he);
        if (rc != STORE_OK) {
            rc = core_store_fail(s->err, rc, &he);
            break;
        }
        for (int i = 0; i < s->n && rc == CORE_OK; i++)
            if (suspend_one(s, s->codes[i]) != 0)
                rc = s->err->status;
        arena_release(s->a);
    } while (rc == CORE_OK && s->n == CORE_PAGE_MAX);
    arena_release(s->a);
    s->a = NULL;
    return rc;
}

static int act_run(struct core *c, struct store_conn *sc, void *arg,
                   struct arena *a, struct core_reply *reply,
                   struct core_err *err)
{
    struct act_op *op = arg;
    struct store_recall r;
    struct suspend_ctx s;
    struct hrid_err he;
    int64_t n, m, o;
    char ent[7];
    int rc;

    if ((rc = recall_load(c, sc, op->id, a, &r, ent, err)) != CORE_OK)
        return rc;
    if (!may_see_units(op->who, &r) || op->who->role == ROLE_ADMIN)
        return core_fail(err, CORE_EFORBIDDEN, "forbidden", NULL,
                         "recall %lld is acted on by its maker or a "
                         "regulator", (long long)op->id);
    if (strcmp(r.status, "open") != 0)
        return core_fail(err, CORE_ECONFLICT, "recall_closed", NULL,
                         "recall %lld is closed", (long long)op->id);
    if (op->close) {
        r.closed_at = core_now_ms();
        r.status = "closed";
        if ((rc = store_recall_close(sc, op->id, r.closed_at, &he)) !=
            STORE_OK)
            return core_store_fail(err, rc, &he);
    } else {
        memset(&s, 0, sizeof s);
        s.sc = sc;
        s.who = op->who;
        s.recall = op->id;
        s.now = core_now_ms();
        s.err = err;
        s.codes = arena_alloc(a, CORE_PAGE_MAX * sizeof *s.codes);
        if (s.codes == NULL)
            return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                             "out of memory");
        rc = suspend_all(&s, op->id);
        if (rc != CORE_OK)
            return rc;
    }
    if ((rc = store_recall_counts(sc, op->id, &n, &m, &o, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    reply->http_status = 200;
    reply->body = recall_json(&r, ent, n, m, o);
    if (!op->close)
        json_object_set_new(reply->body, "suspended", json_integer(s.done));
    return CORE_OK;
}

int core_recall_suspend(struct core *c, const struct core_principal *who,
                        int64_t id, struct arena *a, struct core_reply *out,
                        struct core_err *err)
{
    struct act_op op = {id, who, false};
    int rc = core_require(who, ROLE_REGULATOR, "suspend a recall's units",
                          err);

    memset(out, 0, sizeof *out);
    return rc != CORE_OK ? rc
                         : core_write(c, who, NULL, act_run, &op, a, out, err);
}

int core_recall_close(struct core *c, const struct core_principal *who,
                      int64_t id, struct arena *a, struct core_reply *out,
                      struct core_err *err)
{
    struct act_op op = {id, who, true};
    int rc = core_require(who, ROLE_MANUFACTURER | ROLE_REGULATOR,
                          "close a recall", err);

    memset(out, 0, sizeof *out);
    return rc != CORE_OK ? rc
                         : core_write(c, who, NULL, act_run, &op, a, out, err);
}
