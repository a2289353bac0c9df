/*
 * write.c - the one write path of the registry, with idempotent replay,
 * and small helpers shared by the operations.
 *
 * Every operation that changes anything runs through core_write: its
 * checks and its writes happen inside one store_write transaction, so a
 * refusal leaves nothing behind, and a request retried with the same
 * Idempotency-Key finds the stored reply in that same transaction instead
 * of writing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "core/jsonw.h"

struct write_job {
    struct core *core;
    const struct core_principal *who;
    const struct core_idem *idem;
    core_op_fn op;
    void *arg;
    struct arena *a;
    struct core_reply *reply;
    struct core_err *err;
    struct hrid_err he;          /* the store's error */
    int result;                  /* the store's result, once over */
    struct core_async *as;       /* core_write_async's caller */
};

/* The reply's text from its build, if it has one yet; -1 when there is
 * no memory for it (the commit stands). */
static int reply_build(struct core_reply *reply, struct arena *a)
{
    int rc = 0;

    if (reply->build != NULL)
        rc = reply->build(reply->build_arg, a, &reply->text,
                          &reply->text_len);
    reply->build = NULL;
    return rc;
}

/* Forgets what an operation that failed had put in its reply. */
static void reply_void(struct core_reply *reply)
{
    json_decref(reply->body);
    reply->body = NULL;
    reply->text = NULL;
    reply->text_len = 0;
    reply->build = NULL;
}

json_t *core_reply_json(const struct core_reply *reply)
{
    if (reply->body != NULL)
        return json_incref(reply->body);
    if (reply->text != NULL)
        return json_loadb(reply->text, reply->text_len, 0, NULL);
    return NULL;
}

static int write_job_run(struct store_conn *sc, void *arg,
                         struct hrid_err *he)
{
    struct write_job *j = arg;
    const struct core_idem *idem = j->idem;
    bool with_idem = idem != NULL && idem->key != NULL;
    struct store_idem rec;
    int rc;

    if (with_idem) {
        rc = store_idem_get(sc, j->who->party_id, idem->key, j->a, &rec, he);
        if (rc == STORE_OK) {
            if (memcmp(rec.req_hash, idem->req_hash, 32) != 0) {
                core_fail(j->err, CORE_EINVALID, "idempotency_key_reused",
                          "Idempotency-Key",
                          "idempotency key '%.128s' was used for a "
                          "different request", idem->key);
                return STORE_ABORT;
            }
            j->reply->http_status = rec.status;
            j->reply->body = core_json_text(rec.response);
            j->reply->replayed = true;
            return STORE_OK;
        }
        if (rc != STORE_NOTFOUND) {
            core_store_fail(j->err, rc, he);
            return rc;
        }
    }
    rc = j->op(j->core, sc, j->arg, j->a, j->reply, j->err);
    if (rc != CORE_OK) {
        reply_void(j->reply);
        return STORE_ABORT;
    }
    if (with_idem) {
        if (reply_build(j->reply, j->a) != 0) {
            core_fail(j->err, CORE_EINTERNAL, "internal", NULL,
                      "out of memory");
            return STORE_ABORT;
        }
        memset(&rec, 0, sizeof rec);
        rec.party_id = j->who->party_id;
        rec.key = idem->key;
        memcpy(rec.req_hash, idem->req_hash, 32);
        rec.status = j->reply->http_status;
        rec.response = j->reply->text != NULL
                           ? j->reply->text
                           : core_json_dump(j->a, j->reply->body);
        rec.created_at = core_now_ms();
        if (rec.response == NULL) {
            core_fail(j->err, CORE_EINTERNAL, "internal", NULL,
                      "out of memory");
            return STORE_ABORT;
        }
        rc = store_idem_put(sc, &rec, he);
        if (rc != STORE_OK) {
            core_store_fail(j->err, rc, he);
            return rc;
        }
    }
    return STORE_OK;
}

/* What core_write returns once store_write returned result. */
static int write_settle(struct write_job *j, int result)
{
    struct core_reply *reply = j->reply;
    struct core_err *err = j->err;

    if (result == STORE_OK) {
        if (reply_build(reply, j->a) != 0)
            return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                             "out of memory writing the reply");
        return CORE_OK;
    }
    /* The transaction did not commit: whatever reply op built is void. */
    reply_void(reply);
    if (result == STORE_ABORT && err->status != CORE_OK)
        return err->status;
    if (err->status != CORE_OK && result != STORE_EIO)
        return err->status;
    return core_store_fail(err, result == STORE_ABORT ? STORE_EIO : result,
                           &j->he);
}

int core_write(struct core *c, const struct core_principal *who,
               const struct core_idem *idem, core_op_fn op, void *arg,
               struct arena *a, struct core_reply *reply,
               struct core_err *err)
{
    struct write_job j = {.core = c, .who = who, .idem = idem, .op = op,
                         .arg = arg, .a = a, .reply = reply, .err = err};

    memset(reply, 0, sizeof *reply);
    err->status = CORE_OK;
    hrid_err_clear(&j.he);
    return write_settle(&j, store_write(c->store, write_job_run, &j, &j.he));
}

/* On the writer's thread, once the job's transaction is over.  The wake
 * is the last touch of the job: the caller may free it right after. */
static void write_done(void *arg, int result)
{
    struct write_job *j = arg;
    struct core_async *as = j->as;

    j->result = result;
    as->wake(as->wake_arg);
}

int core_write_async(struct core *c, const struct core_principal *who,
                     const struct core_idem *idem, core_op_fn op, void *arg,
                     struct arena *a, struct core_async *as,
                     struct core_reply *reply, struct core_err *err)
{
    struct write_job *j = arena_alloc(a, sizeof *j);
    int rc;

    memset(reply, 0, sizeof *reply);
    err->status = CORE_OK;
    if (j == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    *j = (struct write_job){.core = c, .who = who, .idem = idem, .op = op,
                            .arg = arg, .a = a, .reply = reply, .err = err};
    hrid_err_clear(&j->he);
    j->as = as;
    as->job = j;
    rc = store_write_async(c->store, write_job_run, j, &j->he, write_done, j);
    return rc == STORE_OK ? CORE_PENDING : write_settle(j, rc);
}

int core_async_finish(struct core_async *as)
{
    return write_settle(as->job, as->job->result);
}

/* Records deleted a transaction: the sweep never holds the writer (and,
 * on PostgreSQL, the log sequencer) for long. */
#define IDEM_EXPIRE_BATCH 5000

struct idem_expire {
    int64_t before;
    int64_t deleted;
};

static int idem_expire_run(struct store_conn *sc, void *arg,
                           struct hrid_err *he)
{
    struct idem_expire *x = arg;

    return store_idem_expire(sc, x->before, IDEM_EXPIRE_BATCH, &x->deleted,
                             he);
}

int core_idem_expire(struct core *c, int64_t before, int64_t *deleted,
                     struct core_err *err)
{
    struct idem_expire x = {before, 0};
    struct hrid_err he;
    int rc;

    *deleted = 0;
    do {
        hrid_err_clear(&he);
        rc = store_write(c->store, idem_expire_run, &x, &he);
        if (rc != STORE_OK)
            return core_store_fail(err, rc, &he);
        *deleted += x.deleted;
    } while (x.deleted == IDEM_EXPIRE_BATCH);
    return CORE_OK;
}

int core_require(const struct core_principal *who, unsigned mask,
                 const char *what, struct core_err *err)
{
    if (who->role & mask)
        return CORE_OK;
    if (who->role == ROLE_PUBLIC)
        return core_fail(err, CORE_EUNAUTH, "unauthorized", NULL,
                         "%s needs an API key", what);
    return core_fail(err, CORE_EFORBIDDEN, "forbidden", NULL,
                     "the %s role may not %s", core_role_name(who->role),
                     what);
}

struct store_conn *core_conn(struct core *c, struct core_err *err)
{
    struct hrid_err he;
    struct store_conn *sc = store_conn(c->store, &he);

    if (sc == NULL)
        core_store_fail(err, STORE_EIO, &he);
    return sc;
}

int core_enterprise_find(struct core *c, struct store_conn *sc,
                         const char *ent, struct arena *a,
                         struct store_party *out, struct core_err *err)
{
    char cc[3], code[5];
    struct hrid_err he;
    int rc;

    (void)c;
    if (ent == NULL || strlen(ent) != 6)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "enterprise",
                         "enterprise '%.32s' is not 6 characters (country and "
                         "enterprise code, e.g. CN0001)", ent ? ent : "");
    core_upper(cc, ent, 2);
    core_upper(code, ent + 2, 4);
    rc = store_party_by_ent_code(sc, cc, code, a, out, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "enterprise",
                         "no enterprise '%s%s'", cc, code);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    return CORE_OK;
}

int core_code_arg(const char *code, size_t len,
                  char out[HRID_CODE_LEN + 1], struct core_err *err)
{
    struct hrid_err he;

    if (hrid_code_parse(code, len, out, &he) == HRID_OK)
        return CORE_OK;
    core_fail(err, CORE_EINVALID, "invalid_code", "code", "%s", he.msg);
    err->pos = he.pos;
    err->reason = he.reason;
    return CORE_EINVALID;
}

int core_page_limit(const struct core_page *page, struct core_err *err)
{
    if (page == NULL || page->limit == 0)
        return CORE_PAGE_DEFAULT;
    if (page->limit < 1 || page->limit > CORE_PAGE_MAX) {
        core_fail(err, CORE_EINVALID, "invalid_field", "limit",
                  "limit: must be an integer from 1 to %d", CORE_PAGE_MAX);
        return -1;
    }
    return page->limit;
}

int core_page_after(const struct core_page *page, int64_t *after,
                    struct core_err *err)
{
    long long v;
    char tail;

    *after = 0;
    if (page == NULL || page->cursor == NULL || page->cursor[0] == '\0')
        return CORE_OK;
    if (sscanf(page->cursor, "%lld%c", &v, &tail) != 1 || v < 0)
        return core_fail(err, CORE_EINVALID, "invalid_field", "cursor",
                         "cursor: not a cursor this listing returned");
    *after = v;
    return CORE_OK;
}

json_t *core_page_json(json_t *items, int n, int limit, int64_t last_id)
{
    json_t *o = json_object();
    char cur[32];

    json_object_set_new(o, "items", items);
    if (n == limit) {
        snprintf(cur, sizeof cur, "%lld", (long long)last_id);
        json_object_set_new(o, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    return o;
}

void core_upper(char *out, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && s[i] != '\0'; i++)
        out[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
    out[i] = '\0';
}

void core_set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

json_t *core_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *core_json_text(const char *text)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

    return v ? v : json_object();
}

char *core_json_dump(struct arena *a, const json_t *v)
{
    return v != NULL ? jsonw_dump(a, v, JSONW_SORTED, NULL) : NULL;
}

/*
 * The bytes of an event's log leaf (docs/ledger.md): the canonical JSON
 * of the event as GET /v1/units/{code}/events shows it, without the
 * members that are not part of the record (seq, leaf, state, redacted).
 * The body is copied as stored, since the store holds it already in
 * canonical form; the members around it are written into two small
 * buffers, so that the hash can be taken over the three parts without
 * copying the body (leaf_parts is the one place that knows the layout).
 */
#define LEAF_PART_MAX 512

void core_time_write(struct jsonw *w, int64_t ms)
{
    char t[32];

    if (ms == 0) {
        jsonw_null(w);
        return;
    }
    core_time_format(ms, t);
    jsonw_str(w, t);
}

/* head: everything before the body's value; tail: everything after. */
static bool leaf_parts(const struct store_event *e, struct jsonw *head,
                       struct jsonw *tail)
{
    jsonw_put(head, "{\"actor\":{\"party\":", 18);
    jsonw_int(head, e->actor_id);
    if (e->actor_role != NULL) {
        jsonw_put(head, ",\"role\":", 8);
        jsonw_string(head, e->actor_role, strlen(e->actor_role));
    }
    jsonw_put(head, "},\"at\":", 7);
    core_time_write(head, e->at);
    jsonw_put(head, ",\"body\":", 8);

    jsonw_put(tail, ",\"code\":", 8);
    jsonw_string(tail, e->code, strlen(e->code));
    jsonw_put(tail, ",\"recorded_at\":", 15);
    core_time_write(tail, e->recorded_at);
    jsonw_put(tail, ",\"type\":", 8);
    jsonw_string(tail, e->type ? e->type : "", e->type ? strlen(e->type) : 0);
    jsonw_put(tail, "}", 1);
    return !head->failed && !tail->failed;
}

char *core_leaf_encode(struct arena *a, const struct store_event *e,
                       size_t *len)
{
    struct jsonw head = {.a = a}, tail = head;
    size_t blen = strlen(e->body);
    char *out;

    if (!leaf_parts(e, &head, &tail) ||
        (out = arena_alloc(a, head.len + blen + tail.len + 1)) == NULL)
        return NULL;
    memcpy(out, head.p, head.len);
    memcpy(out + head.len, e->body, blen);
    memcpy(out + head.len + blen, tail.p, tail.len);
    *len = head.len + blen + tail.len;
    out[*len] = '\0';
    return out;
}

int core_leaf_hash_event(struct core_leaf_hasher *h,
                         const struct store_event *e, unsigned char out[32])
{
    char hb[LEAF_PART_MAX], tb[LEAF_PART_MAX];
    struct jsonw head = {.p = hb, .cap = sizeof hb}, tail = head;
    static const unsigned char prefix = 0x00;
    struct arena a;
    size_t len;
    char *bytes;

    tail.p = tb;
    if (h->ctx != NULL && leaf_parts(e, &head, &tail) &&
        EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 &&
        EVP_DigestUpdate(h->ctx, &prefix, 1) == 1 &&
        EVP_DigestUpdate(h->ctx, head.p, head.len) == 1 &&
        EVP_DigestUpdate(h->ctx, e->body, strlen(e->body)) == 1 &&
        EVP_DigestUpdate(h->ctx, tail.p, tail.len) == 1 &&
        EVP_DigestFinal_ex(h->ctx, out, NULL) == 1)
        return 0;
    /* Parts longer than the buffers, or no libcrypto: the slow way. */
    arena_init(&a);
    bytes = core_leaf_encode(&a, e, &len);
    if (bytes != NULL)
        core_leaf_hash(h, bytes, len, out);
    arena_release(&a);
    return bytes != NULL ? 0 : -1;
}
