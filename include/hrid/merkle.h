/*
 * hrid/merkle.h - the Merkle tree of the registry's log, as defined by
 * RFC 9162 (Certificate Transparency version 2.0) §2.1, with SHA-256.
 *
 * A leaf hash is SHA-256(0x00 || data), an interior node SHA-256(0x01 ||
 * left || right); the 0x00/0x01 prefixes keep a leaf from ever being taken
 * for a node (second-preimage resistance).  The tree of n leaves splits at
 * k, the largest power of two smaller than n, so a log that only grows
 * keeps every earlier tree as a prefix, which consistency proofs show.
 *
 * Hashes are 32-byte arrays; a list of hashes is an array of them,
 * unsigned char (*)[32].  Tree sizes and indices are uint64_t.
 *
 * Verification (hrid_merkle_verify_*) is the part auditors and robots run
 * on proofs they received: it allocates nothing, keeps no state and
 * accepts any input, explaining in err why a proof was refused.  Proof
 * generation works on an in-memory array of leaf hashes, for tests and
 * small tools; a log with millions of entries builds proofs from stored
 * subtree hashes instead.
 *
 * Every function here is reentrant: no global state.  Verification and
 * the two hash functions use libsodium's SHA-256, which allocates nothing
 * and cannot fail; hrid_merkle_root (and so proof generation) takes one
 * libcrypto digest context per call, three times faster over many nodes,
 * and hashes with libsodium instead when libcrypto cannot provide one.
 */
#ifndef HRID_MERKLE_H
#define HRID_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "hrid/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HRID_MERKLE_HASH_LEN 32     /* SHA-256 */

/* The longest inclusion proof: one hash per level of a tree of at most
 * 2^64 - 1 leaves.  The longest consistency proof has one more (the old
 * tree's root when it is not a complete subtree of the new one's path). */
#define HRID_MERKLE_INCLUSION_MAX   64
#define HRID_MERKLE_CONSISTENCY_MAX 65

/* Writes SHA-256(0x00 || data) to out; data may be NULL when len is 0. */
void hrid_merkle_leaf_hash(const void *data, size_t len,
                           unsigned char out[32]);

/* Writes SHA-256(0x01 || l || r) to out.  out may alias l or r. */
void hrid_merkle_node_hash(const unsigned char l[32], const unsigned char r[32],
                           unsigned char out[32]);

/*
 * Computes MTH(D[n]) of RFC 9162 §2.1.1 over n leaf hashes (not the raw
 * entries: leaves[i] is already hrid_merkle_leaf_hash of entry i) and
 * writes it to out.  The empty tree's root is SHA-256 of the empty string.
 * Iterative, with a stack of at most 64 hashes; leaves may be NULL when n
 * is 0.  Returns HRID_OK, or HRID_EINVAL when leaves is NULL and n > 0.
 */
int hrid_merkle_root(const unsigned char (*leaves)[32], uint64_t n,
                     unsigned char out[32]);

/*
 * Builds the inclusion proof PATH(index, D[n]) of RFC 9162 §2.1.3.1 for
 * leaf index of the n leaf hashes at leaves, writes its hashes to
 * path_out (room for max hashes; HRID_MERKLE_INCLUSION_MAX always
 * suffices) and their number to *len, leaf-side first.  Returns HRID_OK,
 * HRID_EINVAL when index >= n, or HRID_ERANGE when the proof needs more
 * than max hashes; on failure *len is 0.
 */
int hrid_merkle_inclusion_proof(const unsigned char (*leaves)[32], uint64_t n,
                                uint64_t index, unsigned char (*path_out)[32],
                                size_t max, size_t *len, struct hrid_err *err);

/*
 * Builds the consistency proof PROOF(m_old, D[n_new]) of RFC 9162
 * §2.1.4.1 between the tree of the first m_old leaf hashes and the tree of
 * all n_new, writes it to path_out (room for max hashes;
 * HRID_MERKLE_CONSISTENCY_MAX always suffices) and its length to *len.
 * When m_old == n_new the proof is empty.  Returns HRID_OK, HRID_EINVAL
 * when m_old is 0 (the RFC defines no proof from the empty tree) or larger
 * than n_new, or HRID_ERANGE when max is too small; on failure *len is 0.
 */
int hrid_merkle_consistency_proof(const unsigned char (*leaves)[32],
                                  uint64_t n_new, uint64_t m_old,
                                  unsigned char (*path_out)[32], size_t max,
                                  size_t *len, struct hrid_err *err);

/*
 * Verifies an inclusion proof exactly as RFC 9162 §2.1.3.2: that the leaf
 * hash leaf sits at leaf_index in the tree of tree_size leaves whose root
 * is root, given the len hashes of path (leaf-side first; path may be NULL
 * when len is 0).  Returns HRID_OK, or HRID_EVERIFY with a message such as
 * "leaf index 8 is not below tree size 8",
 * "inclusion proof has 5 hashes, leaf 3 of a tree of 8 needs 3" or
 * "root mismatch".  Allocates nothing.
 */
int hrid_merkle_verify_inclusion(uint64_t leaf_index, uint64_t tree_size,
                                 const unsigned char leaf[32],
                                 const unsigned char (*path)[32], size_t len,
                                 const unsigned char root[32],
                                 struct hrid_err *err);

/*
 * Verifies a consistency proof exactly as RFC 9162 §2.1.4.2: that the
 * tree of first leaves with root first_root is a prefix of the tree of
 * second leaves with root second_root, given the len hashes of path.  As
 * the RFC requires 0 < first < second for a proof, first == second is
 * accepted only with an empty proof and equal roots, and first == 0 is
 * refused.  Returns HRID_OK, or HRID_EVERIFY with a message such as
 * "first size 9 is larger than second size 8",
 * "consistency proof has 2 hashes, sizes 3 and 8 need 4",
 * "first root mismatch" or "second root mismatch".  Allocates nothing.
 */
int hrid_merkle_verify_consistency(uint64_t first, uint64_t second,
                                   const unsigned char first_root[32],
                                   const unsigned char second_root[32],
                                   const unsigned char (*path)[32], size_t len,
                                   struct hrid_err *err);

#ifdef __cplusplus
}
#endif
#endif
