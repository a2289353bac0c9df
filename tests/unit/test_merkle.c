/*
 * test_merkle.c - unit tests of lib/merkle.c, the RFC 9162 Merkle tree.
 *
 * The root is checked against known answers and against a naive
 * recursive MTH written here straight from RFC 9162 §2.1.1, independent of
 * the library's iterative one.  Every generated proof of trees up to 64
 * leaves must verify, and every alteration of it must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hrid/merkle.h"

#define NMAX 64

static unsigned char leaves[NMAX][32];
static unsigned char roots[NMAX + 1][32];

static void from_hex(const char *hex, unsigned char out[32])
{
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

static void assert_hash_hex(const unsigned char h[32], const char *hex)
{
    unsigned char want[32];

    from_hex(hex, want);
    assert_memory_equal(h, want, 32);
}

/* MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it, recursively, with
 * k the largest power of two smaller than n. */
static void naive_mth(const unsigned char (*d)[32], uint64_t n,
                      unsigned char out[32])
{
    unsigned char l[32], r[32];
    uint64_t k = 1;

    if (n == 0) {
        /* SHA-256 of the empty string, from a well-known constant rather
         * than from the code under test. */
        from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
                 "7852b855", out);
        return;
    }
    if (n == 1) {
        memcpy(out, d[0], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    naive_mth(d, k, l);
    naive_mth(d + k, n - k, r);
    hrid_merkle_node_hash(l, r, out);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NMAX; i++) {
        char s[8];
        int len = snprintf(s, sizeof s, "%d", i);

        hrid_merkle_leaf_hash(s, (size_t)len, leaves[i]);
    }
    for (int n = 0; n <= NMAX; n++)
        assert_int_equal(hrid_merkle_root(leaves, (uint64_t)n, roots[n]),
                         HRID_OK);
    return 0;
}

static void test_empty_root(void **state)
{
    unsigned char out[32];

    (void)state;
    assert_int_equal(hrid_merkle_root(NULL, 0, out), HRID_OK);
    assert_hash_hex(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
                         "95991b7852b855");
    assert_int_equal(hrid_merkle_root(NULL, 1, out), HRID_EINVAL);
}

static void test_one_leaf(void **state)
{
    unsigned char leaf[32], out[32];

    (void)state;
    hrid_merkle_leaf_hash("hello", 5, leaf);
    assert_int_equal(hrid_merkle_root((const unsigned char (*)[32])&leaf, 1,
                                      out), HRID_OK);
    assert_memory_equal(out, leaf, 32);
}

static void test_leaf_and_node_hash(void **state)
{
    unsigned char out[32], big[1000], a[32], b[32];

    (void)state;
    /* SHA-256 of the single byte 0x00. */
    hrid_merkle_leaf_hash(NULL, 0, out);
    assert_hash_hex(out, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768"
                         "511a30617afa01d");
    /* Short entries are hashed from a stack buffer, long ones streamed:
     * both must equal SHA-256(0x00 || data), computed here directly. */
    for (size_t len = 250; len <= sizeof big - 1; len += len < 260 ? 1 : 300) {
        unsigned char want[32];

        for (size_t j = 0; j < sizeof big; j++)
            big[j] = (unsigned char)(j * 7 + len);
        big[0] = 0x00;
        assert_int_equal(EVP_Digest(big, len + 1, want, NULL, EVP_sha256(),
                                    NULL), 1);
        hrid_merkle_leaf_hash(big + 1, len, a);
        assert_memory_equal(a, want, 32);
    }
    /* The node hash of two leaves differs from either order swapped. */
    hrid_merkle_node_hash(leaves[0], leaves[1], a);
    hrid_merkle_node_hash(leaves[1], leaves[0], b);
    assert_memory_not_equal(a, b, 32);
    /* out may alias an input. */
    memcpy(out, leaves[0], 32);
    hrid_merkle_node_hash(out, leaves[1], out);
    assert_memory_equal(out, a, 32);
}

static void test_root_matches_naive(void **state)
{
    (void)state;
    for (uint64_t n = 0; n <= NMAX; n++) {
        unsigned char want[32];

        naive_mth(leaves, n, want);
        assert_memory_equal(roots[n], want, 32);
    }
}

/* The 8-entry tree of certificate-transparency's RFC 6962 test data, and
 * the roots of its prefixes. */
static void test_ct_vectors(void **state)
{
    static const struct { const char *data; size_t len; } in[8] = {
        { "", 0 },
        { "\x00", 1 },
        { "\x10", 1 },
        { "\x20\x21", 2 },
        { "\x30\x31", 2 },
        { "\x40\x41\x42\x43", 4 },
        { "\x50\x51\x52\x53\x54\x55\x56\x57", 8 },
        { "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
          16 },
    };
    static const char *const root_hex[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    unsigned char l[8][32], root[32];

    (void)state;
    for (int i = 0; i < 8; i++)
        hrid_merkle_leaf_hash(in[i].data, in[i].len, l[i]);
    for (int n = 1; n <= 8; n++) {
        assert_int_equal(hrid_merkle_root(l, (uint64_t)n, root), HRID_OK);
        assert_hash_hex(root, root_hex[n - 1]);
    }
}

/* Whether every single-bit flip of every proof hash is tried for the
 * proof of (n, i); otherwise one bit of each hash, a different one for
 * each proof.  All 256 bits of every hash of every proof up to 64 leaves
 * would take some 30 million hashes, 20 seconds under the sanitizers, so
 * all bits are flipped for trees up to 16 leaves and for the first,
 * middle and last index of larger ones. */
static int all_bits(uint64_t n, uint64_t i)
{
    return n <= 16 || i == 0 || i == n / 2 || i == n - 1;
}

/* Whether to flip bit number bit of hash h of the proof of (n, i). */
static int flip_this(uint64_t n, uint64_t i, size_t h, int bit)
{
    return all_bits(n, i) || (uint64_t)bit == (n * 31 + i * 17 + h * 7) % 256;
}

static void test_inclusion(void **state)
{
    unsigned char path[HRID_MERKLE_INCLUSION_MAX + 1][32];
    struct hrid_err err;
    size_t len;

    (void)state;
    for (uint64_t n = 1; n <= NMAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(hrid_merkle_inclusion_proof(
                                 leaves, n, i, path,
                                 HRID_MERKLE_INCLUSION_MAX, &len, &err),
                             HRID_OK);
            assert_int_equal(hrid_merkle_verify_inclusion(
                                 i, n, leaves[i], path, len, roots[n], &err),
                             HRID_OK);
            /* Every bit flip of every hash. */
            for (size_t h = 0; h < len; h++) {
                for (int bit = 0; bit < 256; bit++) {
                    if (!flip_this(n, i, h, bit))
                        continue;
                    path[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                    assert_int_equal(hrid_merkle_verify_inclusion(
                                         i, n, leaves[i], path, len,
                                         roots[n], &err), HRID_EVERIFY);
                    path[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                }
            }
            /* A wrong index, including ones past the end. */
            for (uint64_t j = 0; j < n + 2; j++) {
                if (j == i)
                    continue;
                assert_int_equal(hrid_merkle_verify_inclusion(
                                     j, n, leaves[i], path, len, roots[n],
                                     &err), HRID_EVERIFY);
            }
            /* A wrong size, with the root of that size. */
            for (uint64_t m = 1; m <= NMAX; m++) {
                if (m == n)
                    continue;
                assert_int_equal(hrid_merkle_verify_inclusion(
                                     i, m, leaves[i], path, len, roots[m],
                                     &err), HRID_EVERIFY);
            }
            /* A wrong leaf, a wrong root. */
            assert_int_equal(hrid_merkle_verify_inclusion(
                                 i, n, leaves[(i + 1) % NMAX], path, len,
                                 roots[n], &err), HRID_EVERIFY);
            assert_int_equal(hrid_merkle_verify_inclusion(
                                 i, n, leaves[i], path, len, roots[n - 1],
                                 &err), HRID_EVERIFY);
            /* Truncated and extended. */
            if (len > 0) {
                assert_int_equal(hrid_merkle_verify_inclusion(
                                     i, n, leaves[i], path, len - 1,
                                     roots[n], &err), HRID_EVERIFY);
                assert_non_null(strstr(err.msg, "inclusion proof has"));
            }
            memcpy(path[len], leaves[0], 32);
            assert_int_equal(hrid_merkle_verify_inclusion(
                                 i, n, leaves[i], path, len + 1, roots[n],
                                 &err), HRID_EVERIFY);
        }
    }
}

static void test_inclusion_edges(void **state)
{
    unsigned char path[HRID_MERKLE_INCLUSION_MAX][32];
    struct hrid_err err;
    size_t len = 99;

    (void)state;
    assert_int_equal(hrid_merkle_verify_inclusion(8, 8, leaves[0], path, 3,
                                                  roots[8], &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg, "leaf index 8 is not below tree size 8");
    assert_int_equal(hrid_merkle_verify_inclusion(0, 0, leaves[0], NULL, 0,
                                                  roots[0], &err),
                     HRID_EVERIFY);
    assert_int_equal(hrid_merkle_verify_inclusion(3, 8, leaves[3], path, 5,
                                                  roots[8], &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "inclusion proof has 5 hashes, leaf 3 of a tree of 8 "
                        "needs 3");
    /* A one-leaf tree: empty proof, the root is the leaf. */
    assert_int_equal(hrid_merkle_verify_inclusion(0, 1, leaves[0], NULL, 0,
                                                  leaves[0], &err), HRID_OK);
    assert_int_equal(hrid_merkle_verify_inclusion(0, 1, leaves[0], NULL, 0,
                                                  leaves[1], &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg, "root mismatch");
    /* A proof for a huge tree is refused by length, without overflow. */
    assert_int_equal(hrid_merkle_verify_inclusion(0, UINT64_MAX,
                                                  leaves[0], path, 3,
                                                  roots[8], &err),
                     HRID_EVERIFY);
    assert_non_null(strstr(err.msg, "needs 64"));
    /* Generation. */
    assert_int_equal(hrid_merkle_inclusion_proof(leaves, 8, 8, path,
                                                 HRID_MERKLE_INCLUSION_MAX,
                                                 &len, &err), HRID_EINVAL);
    assert_int_equal(len, 0);
    assert_int_equal(hrid_merkle_inclusion_proof(leaves, 8, 3, path, 2, &len,
                                                 &err), HRID_ERANGE);
    assert_int_equal(len, 0);
    assert_int_equal(hrid_merkle_inclusion_proof(leaves, 1, 0, path, 0, &len,
                                                 &err), HRID_OK);
    assert_int_equal(len, 0);
}

static void test_consistency(void **state)
{
    unsigned char path[HRID_MERKLE_CONSISTENCY_MAX + 1][32];
    unsigned char bad[32];
    struct hrid_err err;
    size_t len;

    (void)state;
    for (uint64_t n = 1; n <= NMAX; n++) {
        for (uint64_t m = 1; m <= n; m++) {
            assert_int_equal(hrid_merkle_consistency_proof(
                                 leaves, n, m, path,
                                 HRID_MERKLE_CONSISTENCY_MAX, &len, &err),
                             HRID_OK);
            assert_int_equal(hrid_merkle_verify_consistency(
                                 m, n, roots[m], roots[n], path, len, &err),
                             HRID_OK);
            if (m == n)
                assert_int_equal(len, 0);
            for (size_t h = 0; h < len; h++) {
                for (int bit = 0; bit < 256; bit++) {
                    if (!flip_this(n, m - 1, h, bit))
                        continue;
                    path[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                    assert_int_equal(hrid_merkle_verify_consistency(
                                         m, n, roots[m], roots[n], path, len,
                                         &err), HRID_EVERIFY);
                    path[h][bit / 8] ^= (unsigned char)(1u << (bit % 8));
                }
            }
            /* Altered roots: one bit of each. */
            memcpy(bad, roots[m], 32);
            bad[m % 32] ^= 0x01;
            assert_int_equal(hrid_merkle_verify_consistency(
                                 m, n, bad, roots[n], path, len, &err),
                             HRID_EVERIFY);
            memcpy(bad, roots[n], 32);
            bad[n % 32] ^= 0x80;
            assert_int_equal(hrid_merkle_verify_consistency(
                                 m, n, roots[m], bad, path, len, &err),
                             HRID_EVERIFY);
            if (m < n)
                assert_int_equal(hrid_merkle_verify_consistency(
                                     m, n, roots[n], roots[m], path, len,
                                     &err), HRID_EVERIFY);
            /* Wrong sizes, each with the root of that size. */
            for (uint64_t k = 1; k <= NMAX; k++) {
                if (k != m && k <= n)
                    assert_int_equal(hrid_merkle_verify_consistency(
                                         k, n, roots[k], roots[n], path, len,
                                         &err), HRID_EVERIFY);
                if (k != n && k >= m)
                    assert_int_equal(hrid_merkle_verify_consistency(
                                         m, k, roots[m], roots[k], path, len,
                                         &err), HRID_EVERIFY);
            }
            /* Truncated and extended. */
            if (len > 0)
                assert_int_equal(hrid_merkle_verify_consistency(
                                     m, n, roots[m], roots[n], path, len - 1,
                                     &err), HRID_EVERIFY);
            memcpy(path[len], roots[m], 32);
            assert_int_equal(hrid_merkle_verify_consistency(
                                 m, n, roots[m], roots[n], path, len + 1,
                                 &err), HRID_EVERIFY);
        }
    }
}

static void test_consistency_edges(void **state)
{
    unsigned char path[HRID_MERKLE_CONSISTENCY_MAX][32];
    struct hrid_err err;
    size_t len = 99;

    (void)state;
    assert_int_equal(hrid_merkle_verify_consistency(9, 8, roots[9], roots[8],
                                                    NULL, 0, &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg, "first size 9 is larger than second size 8");
    /* RFC 9162 §2.1.4.2 assumes 0 < first: the empty tree is refused. */
    assert_int_equal(hrid_merkle_verify_consistency(0, 8, roots[0], roots[8],
                                                    NULL, 0, &err),
                     HRID_EVERIFY);
    assert_int_equal(hrid_merkle_verify_consistency(0, 0, roots[0], roots[0],
                                                    NULL, 0, &err),
                     HRID_EVERIFY);
    /* Equal sizes: an empty proof and equal roots. */
    assert_int_equal(hrid_merkle_verify_consistency(8, 8, roots[8], roots[8],
                                                    NULL, 0, &err), HRID_OK);
    assert_int_equal(hrid_merkle_verify_consistency(8, 8, roots[8], roots[7],
                                                    NULL, 0, &err),
                     HRID_EVERIFY);
    assert_int_equal(hrid_merkle_verify_consistency(8, 8, roots[8], roots[8],
                                                    (const unsigned char (*)[32])
                                                    roots, 1, &err),
                     HRID_EVERIFY);
    /* Step 1: an empty proof between different sizes. */
    assert_int_equal(hrid_merkle_verify_consistency(4, 8, roots[4], roots[8],
                                                    NULL, 0, &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "consistency proof has 0 hashes, sizes 4 and 8 need 1");
    assert_int_equal(hrid_merkle_verify_consistency(3, 8, roots[3], roots[8],
                                                    path, 2, &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "consistency proof has 2 hashes, sizes 3 and 8 need 4");
    /* Generation. */
    assert_int_equal(hrid_merkle_consistency_proof(leaves, 8, 0, path,
                                                   HRID_MERKLE_CONSISTENCY_MAX,
                                                   &len, &err), HRID_EINVAL);
    assert_int_equal(len, 0);
    assert_int_equal(hrid_merkle_consistency_proof(leaves, 8, 9, path,
                                                   HRID_MERKLE_CONSISTENCY_MAX,
                                                   &len, &err), HRID_EINVAL);
    assert_int_equal(hrid_merkle_consistency_proof(leaves, 8, 3, path, 3,
                                                   &len, &err), HRID_ERANGE);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_root),
        cmocka_unit_test(test_one_leaf),
        cmocka_unit_test(test_leaf_and_node_hash),
        cmocka_unit_test(test_root_matches_naive),
        cmocka_unit_test(test_ct_vectors),
        cmocka_unit_test(test_inclusion),
        cmocka_unit_test(test_inclusion_edges),
        cmocka_unit_test(test_consistency),
        cmocka_unit_test(test_consistency_edges),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
