/*
 * ledger/ledger.h - the registry's log as a Merkle tree over stored tiles.
 *
 * Layer: src/ledger.  The log is an RFC 9162 tree (hrid/merkle.h) whose
 * hashes live in the store as C2SP tlog-tiles lay them out (see
 * STORE_TILE_WIDTH in store/store.h): a tile holds 256 hashes of one tree
 * level 8L, so any node of the tree is either stored or the root of at
 * most 128 stored hashes of one tile.  A proof at any tree size then costs
 * one tile read and a few hundred hashes per 8 levels: three or four tiles
 * at ten million leaves.
 *
 * The ledger knows hashes, not events: what a leaf is (its bytes) is
 * core's business (core/log.c); ledger_append takes leaf hashes.  Tree
 * sizes and indices are uint64_t; sizes fit in int64_t in the store.
 *
 * Every function here reads or writes through the store connection it is
 * given: a read connection inside store_read_begin/end for a consistent
 * view, or the writer's connection inside a write transaction.  Results
 * are STORE_OK, STORE_NOTFOUND (a size or index beyond the tree; err says
 * which) or STORE_EIO (the store failed, or its tiles contradict each
 * other).
 */
#ifndef LEDGER_LEDGER_H
#define LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "hrid/merkle.h"
#include "store/store.h"

/* Hashes per tile and tree levels per tile row (256 = 2^8). */
#define LEDGER_TILE_HEIGHT 8

/* The number of leaves in the log: the end of the rightmost level-0
 * tile.  0 for an empty log. */
int ledger_size(struct store_conn *c, uint64_t *size, struct hrid_err *err);

/*
 * Appends n leaf hashes to a log of size leaves (which must be the
 * current ledger_size), writing the rightmost tile of each level they
 * reach and every tile they fill.  For the writer's connection, inside a
 * write transaction.
 */
int ledger_append(struct store_conn *c, uint64_t size,
                  const unsigned char (*leaves)[32], size_t n,
                  struct hrid_err *err);

/* The stored hash of leaf index (index < the log's size). */
int ledger_leaf(struct store_conn *c, uint64_t index, unsigned char out[32],
                struct hrid_err *err);

/* The root of the tree of the first size leaves (size <= the log's size;
 * size 0 is the empty tree's root). */
int ledger_root(struct store_conn *c, uint64_t size, unsigned char out[32],
                struct hrid_err *err);

/*
 * The inclusion proof of leaf index in the tree of size leaves (RFC 9162
 * §2.1.3.1), leaf side first, into path (HRID_MERKLE_INCLUSION_MAX
 * hashes); its length in *len.  index < size <= the log's size.
 */
int ledger_inclusion(struct store_conn *c, uint64_t index, uint64_t size,
                     unsigned char (*path)[32], size_t *len,
                     struct hrid_err *err);

/*
 * The consistency proof between the trees of first and second leaves
 * (RFC 9162 §2.1.4.1) into path (HRID_MERKLE_CONSISTENCY_MAX hashes);
 * 0 < first <= second <= the log's size.  Empty when first == second.
 */
int ledger_consistency(struct store_conn *c, uint64_t first, uint64_t second,
                       unsigned char (*path)[32], size_t *len,
                       struct hrid_err *err);

#endif
