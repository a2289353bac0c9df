/*
 * test_ledger.c - the stored Merkle tree (src/ledger/ledger.h) against
 * libhrid's in-memory RFC 9162 functions, which test_merkle holds to the
 * RFC's examples and to a naive computation.
 *
 * Leaves are appended through store_write in transactions of varied sizes
 * (1, 7, 255, 256, 1000, ... hashes), so that tiles fill inside and across
 * transactions; then, for every tree size of interest, the root, every
 * leaf, inclusion proofs and consistency proofs read from the tiles must
 * equal what the in-memory functions compute over the same leaf hashes,
 * and must verify.  The large test crosses into the second tile level
 * (65,536 leaves) and the partial tiles above it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hrid/merkle.h"
#include "hrid/note.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "store/store.h"

struct fx {
    char dir[128];
    char path[192];
    struct store *s;
    unsigned char (*leaves)[32];
    uint64_t n;                 /* leaves appended so far */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    struct hrid_err err;

    if (f == NULL)
        return -1;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(f->dir, sizeof f->dir, "%.100s/hrid-ledger-XXXXXX", tmp);
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/hrid.db", f->dir);
    if (store_open(f->path, &f->s, &err) != STORE_OK) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return -1;
    }
    f->leaves = malloc(70000 * sizeof *f->leaves);
    *state = f;
    return f->leaves != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[256];
    static const char *const sfx[] = {"", "-wal", "-shm"};

    store_close(f->s);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f->leaves);
    free(f);
    return 0;
}

struct append_job {
    struct fx *f;
    size_t n;
};

static int append_fn(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct append_job *j = arg;
    uint64_t size;
    int rc = ledger_size(c, &size, err);

    if (rc != STORE_OK)
        return rc;
    if (size != j->f->n)
        return hrid_err_set(err, STORE_EIO, 0, 0, "size %llu, expected %llu",
                            (unsigned long long)size,
                            (unsigned long long)j->f->n);
    return ledger_append(c, size,
                         (const unsigned char (*)[32])(j->f->leaves + size),
                         j->n, err);
}

/* Makes leaf hashes n .. n + count - 1 and appends them in one write. */
static void append(struct fx *f, size_t count)
{
    struct append_job j = {f, count};
    struct hrid_err err;
    char entry[32];

    for (size_t i = 0; i < count; i++) {
        int len = snprintf(entry, sizeof entry, "entry %llu",
                           (unsigned long long)(f->n + i));

        hrid_merkle_leaf_hash(entry, (size_t)len, f->leaves[f->n + i]);
    }
    hrid_err_clear(&err);
    if (store_write(f->s, append_fn, &j, &err) != STORE_OK)
        fail_msg("append of %zu: %s", count, err.msg);
    f->n += count;
}

/* Everything the tiles give for tree size m equals the in-memory result. */
static void check_size(struct fx *f, struct store_conn *c, uint64_t m,
                       uint64_t step)
{
    unsigned char root[32], want[32], h[32];
    unsigned char p1[HRID_MERKLE_CONSISTENCY_MAX][32];
    unsigned char p2[HRID_MERKLE_CONSISTENCY_MAX][32];
    struct hrid_err err;
    size_t l1, l2;

    assert_int_equal(ledger_root(c, m, root, &err), STORE_OK);
    assert_int_equal(hrid_merkle_root((const unsigned char (*)[32])f->leaves,
                                      m, want), HRID_OK);
    assert_memory_equal(root, want, 32);
    for (uint64_t i = 0; i < m; i += step) {
        assert_int_equal(ledger_leaf(c, i, h, &err), STORE_OK);
        assert_memory_equal(h, f->leaves[i], 32);
        assert_int_equal(ledger_inclusion(c, i, m, p1, &l1, &err), STORE_OK);
        assert_int_equal(hrid_merkle_inclusion_proof(
                             (const unsigned char (*)[32])f->leaves, m, i, p2,
                             HRID_MERKLE_INCLUSION_MAX, &l2, &err), HRID_OK);
        assert_int_equal(l1, l2);
        assert_memory_equal(p1, p2, l1 * 32);
        assert_int_equal(hrid_merkle_verify_inclusion(
                             i, m, f->leaves[i],
                             (const unsigned char (*)[32])p1, l1, root, &err),
                         HRID_OK);
        if (i == 0)
            continue;
        /* Consistency from size i to m. */
        assert_int_equal(ledger_consistency(c, i, m, p1, &l1, &err),
                         STORE_OK);
        assert_int_equal(hrid_merkle_consistency_proof(
                             (const unsigned char (*)[32])f->leaves, m, i, p2,
                             HRID_MERKLE_CONSISTENCY_MAX, &l2, &err),
                         HRID_OK);
        assert_int_equal(l1, l2);
        assert_memory_equal(p1, p2, l1 * 32);
        assert_int_equal(ledger_root(c, i, h, &err), STORE_OK);
        assert_int_equal(hrid_merkle_verify_consistency(
                             i, m, h, root, (const unsigned char (*)[32])p1,
                             l1, &err), HRID_OK);
    }
}

static struct store_conn *reader(struct fx *f)
{
    struct hrid_err err;
    struct store_conn *c = store_conn(f->s, &err);

    assert_non_null(c);
    return c;
}

static void test_empty(void **state)
{
    struct fx *f = *state;
    struct store_conn *c = reader(f);
    unsigned char root[32], want[32], path[64][32];
    struct hrid_err err;
    uint64_t size = 99;
    size_t len;

    assert_int_equal(ledger_size(c, &size, &err), STORE_OK);
    assert_int_equal(size, 0);
    assert_int_equal(ledger_root(c, 0, root, &err), STORE_OK);
    hrid_merkle_root(NULL, 0, want);
    assert_memory_equal(root, want, 32);
    assert_int_equal(ledger_root(c, 1, root, &err), STORE_NOTFOUND);
    assert_non_null(strstr(err.msg, "beyond the log"));
    assert_int_equal(ledger_inclusion(c, 0, 1, path, &len, &err),
                     STORE_NOTFOUND);
    assert_int_equal(ledger_consistency(c, 0, 0, path, &len, &err),
                     STORE_NOTFOUND);
}

/* Sizes 1..600 one transaction at a time, then a few bigger steps. */
static void test_small_sizes(void **state)
{
    struct fx *f = *state;
    struct store_conn *c = reader(f);
    static const size_t steps[] = {1, 1, 1, 4, 7, 2, 240, 1, 256, 255, 1,
                                   3, 300, 513};
    uint64_t size;
    struct hrid_err err;

    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        append(f, steps[s]);
        assert_int_equal(ledger_size(c, &size, &err), STORE_OK);
        assert_int_equal(size, f->n);
        check_size(f, c, f->n, f->n < 300 ? 1 : 7);
    }
    /* Every smaller tree is still provable in the grown log. */
    for (uint64_t m = 1; m <= f->n; m += (m < 300 ? 1 : 37))
        check_size(f, c, m, m < 64 ? 1 : m / 16);
}

/* Past 65,536 leaves the level-1 tile fills and level 2 starts. */
static void test_large(void **state)
{
    struct fx *f = *state;
    struct store_conn *c = reader(f);
    static const uint64_t sizes[] = {65535, 65536, 65537, 65536 + 256,
                                     65536 + 257, 69999};

    while (f->n < 69999)
        append(f, f->n + 4999 < 69999 ? 4999 : 69999 - f->n);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        check_size(f, c, sizes[s], 6007);
}

/* A tile whose width contradicts the tree is reported, not trusted. */
static void test_append_wrong_size(void **state)
{
    struct fx *f = *state;
    struct append_job j = {f, 1};
    struct hrid_err err;

    append(f, 10);
    f->n = 3;               /* pretend the log is shorter than it is */
    assert_int_equal(store_write(f->s, append_fn, &j, &err), STORE_EIO);
    assert_non_null(strstr(err.msg, "size 10, expected 3"));
}

static int put_tile_fn(struct store_conn *c, void *arg, struct hrid_err *err)
{
    unsigned char *h = arg;

    return store_tile_put(c, 0, 0, h, 5, err);
}

/* The node signs checkpoints of a growing log, and refuses to sign once
 * the tree under the last one was rewritten: never two inconsistent
 * checkpoints. */
static void test_checkpoints_never_inconsistent(void **state)
{
    struct fx *f = *state;
    struct ledger_key k;
    struct hrid_checkpoint cp;
    struct store_checkpoint sc;
    struct store_conn *c = reader(f);
    struct hrid_err err;
    struct arena a;
    char path[256], vkey[320];
    unsigned char tile[5 * 32];
    uint64_t size;
    bool created;
    int w;

    snprintf(path, sizeof path, "%s/log-key", f->dir);
    assert_int_equal(ledger_key_load(path, "test.example/log", "x", &k,
                                     &created, &err), 0);
    assert_true(created);
    ledger_key_vkey(&k, vkey, sizeof vkey);
    append(f, 3);
    assert_int_equal(ledger_checkpoint_refresh(f->s, &k, &size, &err),
                     STORE_OK);
    assert_int_equal(size, 3);
    append(f, 2);
    assert_int_equal(ledger_checkpoint_refresh(f->s, &k, &size, &err),
                     STORE_OK);
    assert_int_equal(size, 5);
    arena_init(&a);
    assert_int_equal(store_checkpoint_get(c, &a, &sc, &err), STORE_OK);
    assert_int_equal(hrid_checkpoint_open(sc.note, strlen(sc.note), vkey,
                                          &cp, &err), HRID_OK);
    assert_int_equal(cp.size, 5);
    arena_release(&a);
    /* Rewrite leaf 1 under the signed checkpoint, then grow the log. */
    assert_int_equal(store_tile_get(c, 0, 0, tile, &w, &err), STORE_OK);
    assert_int_equal(w, 5);
    tile[32] ^= 1;
    assert_int_equal(store_write(f->s, put_tile_fn, tile, &err), STORE_OK);
    append(f, 1);
    assert_int_equal(ledger_checkpoint_refresh(f->s, &k, &size, &err),
                     STORE_EIO);
    assert_non_null(strstr(err.msg, "rewritten"));
    assert_int_equal(size, 5);
    /* It keeps refusing, and the published checkpoint stays the last
     * good one. */
    assert_int_equal(ledger_checkpoint_refresh(f->s, &k, &size, &err),
                     STORE_EIO);
    arena_init(&a);
    assert_int_equal(store_checkpoint_get(c, &a, &sc, &err), STORE_OK);
    assert_int_equal(sc.size, 5);
    arena_release(&a);
    /* A key file naming another log is refused. */
    assert_int_equal(ledger_key_load(path, "other/log", "x", &k, &created,
                                     &err), -1);
    assert_non_null(strstr(err.msg, "test.example/log"));
    ledger_key_wipe(&k);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_wrong_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_never_inconsistent,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
