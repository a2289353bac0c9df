/*
 * log.c - every accepted event becomes a leaf of the log (DESIGN §5), in
 * the transaction that accepts it; and what the API shows of the log.
 *
 * Events are appended by core_event_record wherever the rules accept one;
 * this file does not need to know where.  Before each write transaction
 * commits, the store runs log_precommit (store_set_precommit), which reads
 * back every event after the log's current size, checks that their seqs
 * follow on without a gap, hashes each one's leaf bytes
 * (core_leaf_hash_event) and appends the hashes to the tiles
 * (ledger_append).  Reading the rows back, rather than hashing what the
 * callers meant to write, means the log commits to exactly what the store
 * holds, which is what the audit recomputes; and a transaction of many
 * events hashes them in one pass.  The leaf index of an event is its seq
 * minus one.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/core_int.h"
#include "ledger/ledger.h"

/* Events read back per step; their hashes are appended per step. */
#define LOG_CHUNK 4096

void core_leaf_hasher_init(struct core_leaf_hasher *h)
{
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = h->md != NULL ? EVP_MD_CTX_new() : NULL;
}

void core_leaf_hasher_free(struct core_leaf_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = NULL;
    h->md = NULL;
}

/* SHA-256(0x00 || data): libcrypto's with a reused context (three times
 * libsodium's speed here), libsodium's when libcrypto could not set up. */
void core_leaf_hash(struct core_leaf_hasher *h, const void *data, size_t len,
                    unsigned char out[32])
{
    static const unsigned char prefix = 0x00;

    if (h->ctx != NULL &&
        EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 &&
        EVP_DigestUpdate(h->ctx, &prefix, 1) == 1 &&
        EVP_DigestUpdate(h->ctx, data, len) == 1 &&
        EVP_DigestFinal_ex(h->ctx, out, NULL) == 1)
        return;
    hrid_merkle_leaf_hash(data, len, out);
}

struct log_step {
    struct core_leaf_hasher *hasher;
    uint64_t next;              /* the seq the next event must have */
    size_t n;
    unsigned char (*hashes)[32];
    struct hrid_err *err;
};

static int log_step_event(void *ctx, const struct store_event *e)
{
    struct log_step *st = ctx;

    if ((uint64_t)e->seq != st->next)
        return hrid_err_set(st->err, STORE_EIO, 0, 0,
                            "event %lld follows log leaf %llu: the events "
                            "have a gap", (long long)e->seq,
                            (unsigned long long)st->next - 2);
    if (core_leaf_hash_event(st->hasher, e, st->hashes[st->n++]) != 0)
        return hrid_err_set(st->err, STORE_EIO, 0, 0,
                            "out of memory encoding event %lld",
                            (long long)e->seq);
    st->next++;
    return STORE_OK;
}

/* Runs on whichever thread commits: the writer's with SQLite, any
 * request's with a database server; so it keeps nothing in struct core. */
static int log_precommit(struct store_conn *sc, void *arg,
                         struct hrid_err *he)
{
    struct core_leaf_hasher hasher;
    struct log_step st;
    unsigned char (*hashes)[32];
    uint64_t size;
    int rc;

    (void)arg;
    rc = ledger_size(sc, &size, he);
    if (rc != STORE_OK)
        return rc;
    hashes = malloc(LOG_CHUNK * sizeof *hashes);
    if (hashes == NULL)
        return hrid_err_set(he, STORE_EIO, 0, 0,
                            "out of memory appending to the log");
    core_leaf_hasher_init(&hasher);
    for (;;) {
        memset(&st, 0, sizeof st);
        st.hasher = &hasher;
        st.next = size + 1;
        st.hashes = hashes;
        st.err = he;
        /* Rows read in place: each is hashed before the next step. */
        rc = store_event_scan(sc, (int64_t)size, LOG_CHUNK, false, NULL,
                              log_step_event, &st, he);
        if (rc == STORE_OK)
            rc = ledger_append(sc, size, (const unsigned char (*)[32])hashes,
                               st.n, he);
        if (rc != STORE_OK || st.n < LOG_CHUNK)
            break;
        size += st.n;
    }
    core_leaf_hasher_free(&hasher);
    free(hashes);
    return rc;
}

void core_log_attach(struct core *c)
{
    store_set_precommit(c->store, log_precommit, c);
}

void core_log_detach(struct core *c)
{
    store_set_precommit(c->store, NULL, NULL);
}

/* ---- what the API shows ------------------------------------------------ */

static json_t *b64_hash(const unsigned char h[32])
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

    sodium_bin2base64(b64, sizeof b64, h, 32, sodium_base64_VARIANT_ORIGINAL);
    return json_string(b64);
}

static json_t *b64_pk(const unsigned char pk[32])
{
    return b64_hash(pk);
}

static json_t *path_json(unsigned char (*path)[32], size_t len)
{
    json_t *l = json_array();

    for (size_t i = 0; i < len; i++)
        json_array_append_new(l, b64_hash(path[i]));
    return l;
}

/* A proof argument must not exceed the tree: 404 with the log's size, so
 * a client can tell "not yet" from a malformed request. */
static int log_fail(struct core_err *err, int rc, struct hrid_err *he)
{
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL, "%s",
                         he->msg);
    return core_store_fail(err, rc, he);
}

int core_log_inclusion(struct core *c, uint64_t leaf, uint64_t size,
                       json_t **out, struct core_err *err)
{
    unsigned char path[HRID_MERKLE_INCLUSION_MAX][32], h[32];
    struct store_conn *sc = core_conn(c, err);
    struct hrid_err he;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (sc == NULL)
        return err->status;
    if (leaf >= size)
        return core_fail(err, CORE_EINVALID, "invalid_field", "leaf",
                         "leaf: %llu is not below size %llu",
                         (unsigned long long)leaf, (unsigned long long)size);
    hrid_err_clear(&he);
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = ledger_inclusion(sc, leaf, size, path, &len, &he);
    if (rc == STORE_OK)
        rc = ledger_leaf(sc, leaf, h, &he);
    store_read_end(sc);
    if (rc != STORE_OK)
        return log_fail(err, rc, &he);
    *out = json_pack("{s:I, s:I, s:o, s:o}", "leaf", (json_int_t)leaf,
                     "size", (json_int_t)size, "leaf_hash", b64_hash(h),
                     "hashes", path_json(path, len));
    return CORE_OK;
}

int core_log_consistency(struct core *c, uint64_t from, uint64_t to,
                         json_t **out, struct core_err *err)
{
    unsigned char path[HRID_MERKLE_CONSISTENCY_MAX][32];
    struct store_conn *sc = core_conn(c, err);
    struct hrid_err he;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (sc == NULL)
        return err->status;
    if (from == 0 || from > to)
        return core_fail(err, CORE_EINVALID, "invalid_field", "from",
                         "from: must be at least 1 and at most to (%llu)",
                         (unsigned long long)to);
    hrid_err_clear(&he);
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = ledger_consistency(sc, from, to, path, &len, &he);
    store_read_end(sc);
    if (rc != STORE_OK)
        return log_fail(err, rc, &he);
    *out = json_pack("{s:I, s:I, s:o}", "from", (json_int_t)from, "to",
                     (json_int_t)to, "hashes", path_json(path, len));
    return CORE_OK;
}

int core_log_key(struct core *c, json_t **out, struct core_err *err)
{
    char vkey[320];

    *out = NULL;
    if (!c->have_log_key)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "this node has no log key");
    ledger_key_vkey(&c->log, vkey, sizeof vkey);
    *out = json_pack("{s:s, s:s, s:o}", "vkey", vkey, "origin", c->log.name,
                     "public_key", b64_pk(c->log.pk));
    return CORE_OK;
}

int core_log_checkpoint(struct core *c, struct arena *a, const char **note,
                        struct core_err *err)
{
    struct store_conn *sc = core_conn(c, err);
    struct store_checkpoint cp;
    struct hrid_err he;
    int rc;

    *note = NULL;
    if (sc == NULL)
        return err->status;
    hrid_err_clear(&he);
    rc = store_checkpoint_get(sc, a, &cp, &he);
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL,
                         "no checkpoint has been signed yet");
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    *note = cp.note;
    return CORE_OK;
}
