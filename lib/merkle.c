/*
 * merkle.c - the RFC 9162 Merkle tree of libhrid (see hrid/merkle.h).
 *
 * Single hashes (a leaf, a node, the steps of a verification) use
 * libsodium's SHA-256, which allocates nothing and cannot fail; building a
 * root over many leaves uses OpenSSL's libcrypto with one reused context,
 * about three times faster here, and falls back to libsodium if libcrypto
 * cannot set one up.  The root is computed left to right with a
 * stack of complete subtrees, like a binary counter, so no recursion and
 * at most 64 hashes on the stack whatever the tree size.  Proof generation
 * walks from the root down towards the leaf, which takes at most 64 steps,
 * and collects the sibling hashes in a fixed local array.  The verifiers
 * follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, after first
 * computing how many hashes the proof must hold, so that a proof of the
 * wrong length is refused with a message that says so.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "hrid/merkle.h"

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    crypto_hash_sha256(out, data, len);
}

void hrid_merkle_leaf_hash(const void *data, size_t len,
                           unsigned char out[32])
{
    static const unsigned char prefix = 0x00;
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void hrid_merkle_node_hash(const unsigned char l[32], const unsigned char r[32],
                           unsigned char out[32])
{
    unsigned char buf[1 + 32 + 32];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    sha256(buf, sizeof buf, out);
}

/* The largest power of two smaller than n, for n >= 2 (RFC 9162 §2.1.1).
 * Written as 2k < n so that it cannot overflow near 2^64. */
static uint64_t split(uint64_t n)
{
    uint64_t k = 1;

    while (k < n - k)
        k <<= 1;
    return k;
}

/* Node hashing for long runs: one fetched digest and one context for the
 * whole tree, which avoids libcrypto's per-call fetch and context
 * allocation (about 1 us a hash against 0.3).  Falls back to the one-shot
 * hash when libcrypto cannot allocate them. */
struct hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

static void node_hash_with(struct hasher *hs, const unsigned char l[32],
                           const unsigned char r[32], unsigned char out[32])
{
    static const unsigned char prefix = 0x01;

    if (hs->ctx == NULL) {
        hrid_merkle_node_hash(l, r, out);
        return;
    }
    if (EVP_DigestInit_ex2(hs->ctx, hs->md, NULL) != 1
        || EVP_DigestUpdate(hs->ctx, &prefix, 1) != 1
        || EVP_DigestUpdate(hs->ctx, l, 32) != 1
        || EVP_DigestUpdate(hs->ctx, r, 32) != 1
        || EVP_DigestFinal_ex(hs->ctx, out, NULL) != 1)
        hrid_merkle_node_hash(l, r, out);
}

int hrid_merkle_root(const unsigned char (*leaves)[32], uint64_t n,
                     unsigned char out[32])
{
    struct hasher hs = { NULL, NULL };
    /* Entry j of the stack is a complete subtree, larger than entry j+1;
     * after i leaves there is one entry per set bit of i, at most 63 for
     * i < 2^64 - 1, plus the leaf just pushed. */
    unsigned char stack[64][32];
    int top = 0;

    if (n == 0) {
        sha256("", 0, out);
        return HRID_OK;
    }
    if (leaves == NULL)
        return HRID_EINVAL;
    if (n > 2) {
        hs.md = EVP_MD_fetch(NULL, "SHA256", NULL);
        hs.ctx = hs.md != NULL ? EVP_MD_CTX_new() : NULL;
    }
    for (uint64_t i = 0; i < n; i++) {
        memcpy(stack[top++], leaves[i], 32);
        /* Each trailing zero of the count i + 1 completes one subtree. */
        for (uint64_t c = i + 1; (c & 1) == 0; c >>= 1) {
            node_hash_with(&hs, stack[top - 2], stack[top - 1],
                           stack[top - 2]);
            top--;
        }
    }
    /* The leftover subtrees, largest first, join from the right: MTH
     * splits off the largest power of two on the left at every level. */
    while (top > 1) {
        node_hash_with(&hs, stack[top - 2], stack[top - 1], stack[top - 2]);
        top--;
    }
    memcpy(out, stack[0], 32);
    EVP_MD_CTX_free(hs.ctx);
    EVP_MD_free(hs.md);
    return HRID_OK;
}

/* Writes the collected hashes to path_out: base first when there is one,
 * then the siblings from the leaf side up, the reverse of the order the
 * descent from the root found them in. */
static int emit(const unsigned char *base, unsigned char (*sib)[32],
                size_t nsib, unsigned char (*path_out)[32], size_t max,
                size_t *len, struct hrid_err *err)
{
    size_t need = nsib + (base != NULL);
    size_t j = 0;

    if (need > max)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "proof needs %zu hashes, room for %zu", need, max);
    if (base != NULL)
        memcpy(path_out[j++], base, 32);
    while (nsib > 0)
        memcpy(path_out[j++], sib[--nsib], 32);
    *len = need;
    return HRID_OK;
}

int hrid_merkle_inclusion_proof(const unsigned char (*leaves)[32], uint64_t n,
                                uint64_t index, unsigned char (*path_out)[32],
                                size_t max, size_t *len, struct hrid_err *err)
{
    unsigned char sib[HRID_MERKLE_INCLUSION_MAX][32];
    size_t nsib = 0;
    uint64_t off = 0, size = n, m = index;

    *len = 0;
    if (index >= n)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "leaf index %" PRIu64 " is not below tree size %"
                            PRIu64, index, n);
    if (leaves == NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "no leaves");
    /* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) when m < k, and
     * PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise. */
    while (size > 1) {
        uint64_t k = split(size);

        if (m < k) {
            hrid_merkle_root(leaves + off + k, size - k, sib[nsib++]);
            size = k;
        } else {
            hrid_merkle_root(leaves + off, k, sib[nsib++]);
            off += k;
            m -= k;
            size -= k;
        }
    }
    return emit(NULL, sib, nsib, path_out, max, len, err);
}

int hrid_merkle_consistency_proof(const unsigned char (*leaves)[32],
                                  uint64_t n_new, uint64_t m_old,
                                  unsigned char (*path_out)[32], size_t max,
                                  size_t *len, struct hrid_err *err)
{
    unsigned char sib[HRID_MERKLE_INCLUSION_MAX][32];
    unsigned char base[32];
    bool has_base = false, b = true;
    size_t nsib = 0;
    uint64_t off = 0, size = n_new, m = m_old;

    *len = 0;
    if (m_old == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "rfc 9162 defines no consistency proof from the "
                            "empty tree");
    if (m_old > n_new)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "old size %" PRIu64 " is larger than new size %"
                            PRIu64, m_old, n_new);
    if (leaves == NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "no leaves");
    /* SUBPROOF(m, D[n], b): with m == n, nothing when b (the old root is
     * known to the verifier) or MTH(D[m]); otherwise descend as PATH does,
     * clearing b once the old tree is no longer a left prefix. */
    for (;;) {
        uint64_t k;

        if (m == size) {
            if (!b) {
                hrid_merkle_root(leaves + off, size, base);
                has_base = true;
            }
            break;
        }
        k = split(size);
        if (m <= k) {
            hrid_merkle_root(leaves + off + k, size - k, sib[nsib++]);
            size = k;
        } else {
            hrid_merkle_root(leaves + off, k, sib[nsib++]);
            off += k;
            m -= k;
            size -= k;
            b = false;
        }
    }
    return emit(has_base ? base : NULL, sib, nsib, path_out, max, len, err);
}

/* Shifts fn and sn right together until fn is odd or zero: RFC 9162
 * §2.1.3.2 step 4b and §2.1.4.2 step 6b iii. */
static void shift_to_odd(uint64_t *fn, uint64_t *sn)
{
    while ((*fn & 1) == 0 && *fn != 0) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

/* The number of path hashes the RFC loop consumes from (fn, sn) before sn
 * reaches 0: the loop below without the hashing. */
static size_t path_steps(uint64_t fn, uint64_t sn)
{
    size_t steps = 0;

    while (sn != 0) {
        if ((fn & 1) || fn == sn)
            shift_to_odd(&fn, &sn);
        fn >>= 1;
        sn >>= 1;
        steps++;
    }
    return steps;
}

int hrid_merkle_verify_inclusion(uint64_t leaf_index, uint64_t tree_size,
                                 const unsigned char leaf[32],
                                 const unsigned char (*path)[32], size_t len,
                                 const unsigned char root[32],
                                 struct hrid_err *err)
{
    unsigned char r[32];
    uint64_t fn, sn;
    size_t need;

    /* Step 1. */
    if (leaf_index >= tree_size)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "leaf index %" PRIu64 " is not below tree size %"
                            PRIu64, leaf_index, tree_size);
    need = path_steps(leaf_index, tree_size - 1);
    if (len != need)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "inclusion proof has %zu hashes, leaf %" PRIu64
                            " of a tree of %" PRIu64 " needs %zu",
                            len, leaf_index, tree_size, need);
    if (len > 0 && path == NULL)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0, "no inclusion proof");
    /* Steps 2 to 4. */
    fn = leaf_index;
    sn = tree_size - 1;
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                                "inclusion proof is too long");
        if ((fn & 1) || fn == sn) {
            hrid_merkle_node_hash(path[i], r, r);
            shift_to_odd(&fn, &sn);
        } else {
            hrid_merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 5. */
    if (sn != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "inclusion proof is too short");
    if (memcmp(r, root, 32) != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0, "root mismatch");
    return HRID_OK;
}

int hrid_merkle_verify_consistency(uint64_t first, uint64_t second,
                                   const unsigned char first_root[32],
                                   const unsigned char second_root[32],
                                   const unsigned char (*path)[32], size_t len,
                                   struct hrid_err *err)
{
    unsigned char fr[32], sr[32];
    uint64_t fn, sn;
    bool pow2;
    size_t i, need;

    if (first > second)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "first size %" PRIu64 " is larger than second "
                            "size %" PRIu64, first, second);
    if (first == 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "first size is 0: rfc 9162 defines no consistency "
                            "proof from the empty tree");
    /* The RFC's algorithm assumes first < second; two equal sizes are
     * consistent when their roots are the same, with nothing to prove. */
    if (first == second) {
        if (len != 0)
            return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                                "consistency proof has %zu hashes, equal "
                                "sizes need none", len);
        if (memcmp(first_root, second_root, 32) != 0)
            return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                                "roots differ for the same size %" PRIu64,
                                first);
        return HRID_OK;
    }
    /* Step 2 prepends first_root when first is a power of two; the other
     * steps then consume the whole path but its first hash. */
    pow2 = (first & (first - 1)) == 0;
    fn = first - 1;
    sn = second - 1;
    while (fn & 1) {                    /* step 4 */
        fn >>= 1;
        sn >>= 1;
    }
    need = path_steps(fn, sn) + (pow2 ? 0 : 1);
    if (len == 0 || len != need)        /* step 1, and the length */
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "consistency proof has %zu hashes, sizes %" PRIu64
                            " and %" PRIu64 " need %zu",
                            len, first, second, need);
    if (path == NULL)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0, "no consistency proof");
    /* Step 5. */
    i = 0;
    memcpy(fr, pow2 ? first_root : path[i++], 32);
    memcpy(sr, fr, 32);
    /* Step 6. */
    for (; i < len; i++) {
        if (sn == 0)
            return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                                "consistency proof is too long");
        if ((fn & 1) || fn == sn) {
            hrid_merkle_node_hash(path[i], fr, fr);
            hrid_merkle_node_hash(path[i], sr, sr);
            shift_to_odd(&fn, &sn);
        } else {
            hrid_merkle_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 7. */
    if (sn != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "consistency proof is too short");
    if (memcmp(fr, first_root, 32) != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0, "first root mismatch");
    if (memcmp(sr, second_root, 32) != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0, "second root mismatch");
    return HRID_OK;
}
