/*
 * ledger.c - appending to the stored Merkle tree and proving from it (see
 * ledger/ledger.h).
 *
 * Appending keeps, per tile level, the rightmost tile in memory for the
 * length of one call: a leaf hash goes into the level-0 tile; when a tile
 * fills, it is written for good and the root of its 256 hashes goes into
 * the tile above, like a carry.  At the end the partial tiles that changed
 * are written back.  A transaction of k events so costs k leaf hashes,
 * about k/255 tile roots and a handful of tile writes: the hashing is
 * batched per transaction, never per node.
 *
 * Proofs read nodes: a node at height h of the tree is the stored hash at
 * level 8*(h/8) when h is a multiple of 8, or else the root of the 2^(h%8)
 * stored hashes below it in one tile.  Proof and range hashes then follow
 * RFC 9162's recursive definitions, which touch O(log n) nodes; a small
 * cache of tiles keeps one proof from reading a tile twice.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ledger/ledger.h"

#define TILE_W   STORE_TILE_WIDTH
#define LEVELS   8              /* 8 levels of 2^8: 2^64 leaves */

/* The largest power of two smaller than n, for n >= 2 (RFC 9162). */
static uint64_t split(uint64_t n)
{
    uint64_t k = 1;

    while (k < n - k)
        k <<= 1;
    return k;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned h = 0;

    while (n > 1) {
        n >>= 1;
        h++;
    }
    return h;
}

/* The number of stored hashes at tile level L for a tree of size leaves:
 * the complete subtrees of 2^(8L) leaves. */
static uint64_t level_count(uint64_t size, int level)
{
    return level * LEDGER_TILE_HEIGHT >= 64
               ? 0 : size >> (level * LEDGER_TILE_HEIGHT);
}

int ledger_size(struct store_conn *c, uint64_t *size, struct hrid_err *err)
{
    int64_t idx;
    int width, rc;

    *size = 0;
    rc = store_tile_last(c, 0, &idx, &width, err);
    if (rc == STORE_NOTFOUND)
        return STORE_OK;
    if (rc != STORE_OK)
        return rc;
    *size = (uint64_t)idx * TILE_W + (uint64_t)width;
    return STORE_OK;
}

/* ---- appending --------------------------------------------------------- */

struct edge {
    uint64_t idx;               /* tile index within its level */
    int width;                  /* hashes in h */
    bool loaded, dirty;
    unsigned char h[TILE_W][32];
};

struct appender {
    struct store_conn *c;
    uint64_t size;              /* leaves before this append */
    struct edge e[LEVELS];
    struct hrid_err *err;
};

static int edge_load(struct appender *ap, int level)
{
    struct edge *e = &ap->e[level];
    uint64_t count = level_count(ap->size, level);
    int width, rc;

    e->idx = count / TILE_W;
    e->width = (int)(count % TILE_W);
    e->loaded = true;
    e->dirty = false;
    if (e->width == 0)
        return STORE_OK;
    rc = store_tile_get(ap->c, level, (int64_t)e->idx, &e->h[0][0], &width,
                        ap->err);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && width != e->width))
        return hrid_err_set(ap->err, STORE_EIO, 0, 0,
                            "log tile %d/%llu holds %d hashes, a log of %llu "
                            "leaves needs %d: the tiles are damaged", level,
                            (unsigned long long)e->idx,
                            rc == STORE_OK ? width : 0,
                            (unsigned long long)ap->size, e->width);
    return rc;
}

static int edge_push(struct appender *ap, int level, const unsigned char h[32])
{
    struct edge *e;
    unsigned char root[32];
    int rc;

    if (level >= LEVELS)
        return hrid_err_set(ap->err, STORE_EIO, 0, 0, "log is full");
    e = &ap->e[level];
    if (!e->loaded && (rc = edge_load(ap, level)) != STORE_OK)
        return rc;
    memcpy(e->h[e->width++], h, 32);
    e->dirty = true;
    if (e->width < TILE_W)
        return STORE_OK;
    /* Full: written once and for all; its root carries upwards. */
    rc = store_tile_put(ap->c, level, (int64_t)e->idx, &e->h[0][0], TILE_W,
                        ap->err);
    if (rc != STORE_OK)
        return rc;
    hrid_merkle_root((const unsigned char (*)[32])e->h, TILE_W, root);
    e->idx++;
    e->width = 0;
    e->dirty = false;
    return edge_push(ap, level + 1, root);
}

int ledger_append(struct store_conn *c, uint64_t size,
                  const unsigned char (*leaves)[32], size_t n,
                  struct hrid_err *err)
{
    struct appender *ap;
    int rc = STORE_OK;

    if (n == 0)
        return STORE_OK;
    ap = malloc(sizeof *ap);
    if (ap == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "out of memory appending to the log");
    ap->c = c;
    ap->size = size;
    ap->err = err;
    for (int l = 0; l < LEVELS; l++)
        ap->e[l].loaded = false;
    for (size_t i = 0; i < n && rc == STORE_OK; i++)
        rc = edge_push(ap, 0, leaves[i]);
    for (int l = 0; l < LEVELS && rc == STORE_OK; l++) {
        struct edge *e = &ap->e[l];

        if (e->loaded && e->dirty && e->width > 0)
            rc = store_tile_put(c, l, (int64_t)e->idx, &e->h[0][0], e->width,
                                err);
    }
    free(ap);
    return rc;
}

/* ---- reading nodes ----------------------------------------------------- */

#define CACHE_TILES 6

struct cached_tile {
    int level;                  /* -1: empty slot */
    uint64_t idx;
    int width;
    unsigned char h[TILE_W][32];
};

struct reader {
    struct store_conn *c;
    struct hrid_err *err;
    EVP_MD *md;                 /* one digest and context for the call: */
    EVP_MD_CTX *ctx;            /* fetching them per node cost more than
                                   the hashing (NULL: libsodium's) */
    int next;                   /* slot to reuse next (round robin) */
    struct cached_tile t[CACHE_TILES];
};

static void reader_free(struct reader *r)
{
    EVP_MD_CTX_free(r->ctx);
    EVP_MD_free(r->md);
    free(r);
}

static void node_hash(struct reader *r, const unsigned char l[32],
                      const unsigned char rt[32], unsigned char out[32])
{
    static const unsigned char prefix = 0x01;

    if (r->ctx != NULL &&
        EVP_DigestInit_ex2(r->ctx, r->md, NULL) == 1 &&
        EVP_DigestUpdate(r->ctx, &prefix, 1) == 1 &&
        EVP_DigestUpdate(r->ctx, l, 32) == 1 &&
        EVP_DigestUpdate(r->ctx, rt, 32) == 1 &&
        EVP_DigestFinal_ex(r->ctx, out, NULL) == 1)
        return;
    hrid_merkle_node_hash(l, rt, out);
}

/* The root of n (a power of two, at most 128) consecutive hashes of one
 * level: pairs are hashed level by level in a scratch copy. */
static void subtree_root(struct reader *r, const unsigned char (*h)[32],
                         size_t n, unsigned char out[32])
{
    unsigned char tmp[TILE_W / 2][32];

    if (n == 1) {
        memcpy(out, h[0], 32);
        return;
    }
    for (size_t i = 0; i < n / 2; i++)
        node_hash(r, h[2 * i], h[2 * i + 1], tmp[i]);
    for (n /= 2; n > 1; n /= 2)
        for (size_t i = 0; i < n / 2; i++)
            node_hash(r, tmp[2 * i], tmp[2 * i + 1], tmp[i]);
    memcpy(out, tmp[0], 32);
}

static struct reader *reader_new(struct store_conn *c, struct hrid_err *err)
{
    struct reader *r = malloc(sizeof *r);

    if (r == NULL) {
        hrid_err_set(err, STORE_EIO, 0, 0, "out of memory reading the log");
        return NULL;
    }
    r->c = c;
    r->err = err;
    r->next = 0;
    r->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    r->ctx = r->md != NULL ? EVP_MD_CTX_new() : NULL;
    for (int i = 0; i < CACHE_TILES; i++)
        r->t[i].level = -1;
    return r;
}

static int tile_read(struct reader *r, int level, uint64_t idx,
                     const struct cached_tile **out)
{
    struct cached_tile *t;
    int rc;

    for (int i = 0; i < CACHE_TILES; i++) {
        if (r->t[i].level == level && r->t[i].idx == idx) {
            *out = &r->t[i];
            return STORE_OK;
        }
    }
    t = &r->t[r->next];
    r->next = (r->next + 1) % CACHE_TILES;
    t->level = -1;
    rc = store_tile_get(r->c, level, (int64_t)idx, &t->h[0][0], &t->width,
                        r->err);
    if (rc == STORE_NOTFOUND)
        return hrid_err_set(r->err, STORE_EIO, 0, 0,
                            "log tile %d/%llu is missing", level,
                            (unsigned long long)idx);
    if (rc != STORE_OK)
        return rc;
    t->level = level;
    t->idx = idx;
    *out = t;
    return STORE_OK;
}

/* The hash of the complete subtree of height h whose leftmost leaf is
 * i << h. */
static int node_get(struct reader *r, unsigned h, uint64_t i,
                    unsigned char out[32])
{
    int level = (int)(h / LEDGER_TILE_HEIGHT);
    unsigned rem = h % LEDGER_TILE_HEIGHT;
    uint64_t first = i << rem, count = (uint64_t)1 << rem;
    const struct cached_tile *t = NULL;
    int rc = tile_read(r, level, first / TILE_W, &t);
    size_t off = (size_t)(first % TILE_W);

    if (rc != STORE_OK)
        return rc;
    if (off + count > (size_t)t->width)
        return hrid_err_set(r->err, STORE_EIO, 0, 0,
                            "log tile %d/%llu holds %d hashes, node %u/%llu "
                            "needs %zu: the tiles are damaged", level,
                            (unsigned long long)t->idx, t->width, h,
                            (unsigned long long)i, off + (size_t)count);
    subtree_root(r, (const unsigned char (*)[32])t->h[off], (size_t)count,
                 out);
    return STORE_OK;
}

/* MTH(D[a:b]) of RFC 9162 for 0 <= a < b, where a is a multiple of the
 * largest power of two below b - a (true of every range the proofs ask). */
static int range_hash(struct reader *r, uint64_t a, uint64_t b,
                      unsigned char out[32])
{
    uint64_t n = b - a, k;
    unsigned char left[32], right[32];
    int rc;

    if ((n & (n - 1)) == 0 && a % n == 0) {
        unsigned h = log2_exact(n);

        return node_get(r, h, a >> h, out);
    }
    k = split(n);
    if ((rc = range_hash(r, a, a + k, left)) != STORE_OK ||
        (rc = range_hash(r, a + k, b, right)) != STORE_OK)
        return rc;
    node_hash(r, left, right, out);
    return STORE_OK;
}

static int check_size(struct store_conn *c, uint64_t size,
                      struct hrid_err *err)
{
    uint64_t have;
    int rc = ledger_size(c, &have, err);

    if (rc != STORE_OK)
        return rc;
    if (size > have)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "tree size %llu is beyond the log's %llu leaves",
                            (unsigned long long)size,
                            (unsigned long long)have);
    return STORE_OK;
}

int ledger_leaf(struct store_conn *c, uint64_t index, unsigned char out[32],
                struct hrid_err *err)
{
    struct reader *r;
    int rc = check_size(c, index + 1, err);

    if (rc != STORE_OK)
        return rc;
    if ((r = reader_new(c, err)) == NULL)
        return STORE_EIO;
    rc = node_get(r, 0, index, out);
    reader_free(r);
    return rc;
}

int ledger_root(struct store_conn *c, uint64_t size, unsigned char out[32],
                struct hrid_err *err)
{
    struct reader *r;
    int rc = check_size(c, size, err);

    if (rc != STORE_OK)
        return rc;
    if (size == 0)
        return hrid_merkle_root(NULL, 0, out) == HRID_OK ? STORE_OK
                                                          : STORE_EIO;
    if ((r = reader_new(c, err)) == NULL)
        return STORE_EIO;
    rc = range_hash(r, 0, size, out);
    reader_free(r);
    return rc;
}

static int push_range(struct reader *r, uint64_t a, uint64_t b,
                      unsigned char (*path)[32], size_t *len)
{
    return range_hash(r, a, b, path[(*len)++]);
}

/* PATH(m, D[a:b]) of RFC 9162 §2.1.3.1, leaf side first. */
static int inclusion(struct reader *r, uint64_t m, uint64_t a, uint64_t b,
                     unsigned char (*path)[32], size_t *len)
{
    uint64_t k;
    int rc;

    if (b - a <= 1)
        return STORE_OK;
    k = split(b - a);
    if (m < a + k) {
        rc = inclusion(r, m, a, a + k, path, len);
        return rc != STORE_OK ? rc : push_range(r, a + k, b, path, len);
    }
    rc = inclusion(r, m, a + k, b, path, len);
    return rc != STORE_OK ? rc : push_range(r, a, a + k, path, len);
}

int ledger_inclusion(struct store_conn *c, uint64_t index, uint64_t size,
                     unsigned char (*path)[32], size_t *len,
                     struct hrid_err *err)
{
    struct reader *r;
    int rc;

    *len = 0;
    if (index >= size)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "leaf %llu is not below tree size %llu",
                            (unsigned long long)index,
                            (unsigned long long)size);
    if ((rc = check_size(c, size, err)) != STORE_OK)
        return rc;
    if ((r = reader_new(c, err)) == NULL)
        return STORE_EIO;
    rc = inclusion(r, index, 0, size, path, len);
    reader_free(r);
    if (rc != STORE_OK)
        *len = 0;
    return rc;
}

/* SUBPROOF(m, D[a:b], complete) of RFC 9162 §2.1.4.1, m counted from 0. */
static int subproof(struct reader *r, uint64_t m, uint64_t a, uint64_t b,
                    bool complete, unsigned char (*path)[32], size_t *len)
{
    uint64_t k;
    int rc;

    if (m == b)
        return complete ? STORE_OK : push_range(r, a, b, path, len);
    k = split(b - a);
    if (m <= a + k) {
        rc = subproof(r, m, a, a + k, complete, path, len);
        return rc != STORE_OK ? rc : push_range(r, a + k, b, path, len);
    }
    rc = subproof(r, m, a + k, b, false, path, len);
    return rc != STORE_OK ? rc : push_range(r, a, a + k, path, len);
}

int ledger_consistency(struct store_conn *c, uint64_t first, uint64_t second,
                       unsigned char (*path)[32], size_t *len,
                       struct hrid_err *err)
{
    struct reader *r;
    int rc;

    *len = 0;
    if (first == 0 || first > second)
        return hrid_err_set(err, STORE_NOTFOUND, 0, 0,
                            "no consistency proof from size %llu to %llu: "
                            "0 < from <= to is required",
                            (unsigned long long)first,
                            (unsigned long long)second);
    if ((rc = check_size(c, second, err)) != STORE_OK)
        return rc;
    if (first == second)
        return STORE_OK;
    if ((r = reader_new(c, err)) == NULL)
        return STORE_EIO;
    rc = subproof(r, first, 0, second, true, path, len);
    reader_free(r);
    if (rc != STORE_OK)
        *len = 0;
    return rc;
}
