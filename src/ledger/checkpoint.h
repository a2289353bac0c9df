/*
 * ledger/checkpoint.h - the node's signing keys and its signed checkpoints.
 *
 * Layer: src/ledger.  A checkpoint is the C2SP tlog-checkpoint text
 * (origin, tree size, base64 root) signed as a C2SP signed note with the
 * log key, whose name is the origin.  The node signs a new one whenever
 * the log has grown, at most every interval, and keeps the last one in the
 * store, where every node of a shared database finds it.  Before signing,
 * it recomputes the root of the last signed size from the current tiles:
 * if that differs, the log was rewritten under it, and it refuses to sign
 * at all (and says so) rather than publish a checkpoint inconsistent with
 * one already out.  The refusal holds across restarts, since the last
 * checkpoint is stored.
 *
 * Keys are Ed25519, kept in files in the signer-key text of Go's
 * sumdb/note (PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>),
 * mode 0600: the operator backs them up; several nodes on one database
 * share the same files (docs/ledger.md).
 */
#ifndef LEDGER_CHECKPOINT_H
#define LEDGER_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "hrid/note.h"
#include "store/store.h"

struct ledger_key {
    char name[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char pk[32];
    unsigned char sk[64];       /* libsodium layout: seed, then pk */
};

/*
 * Loads the key in the file path; if there is no such file, generates a
 * key named name (or fallback when name is NULL), writes it (0600,
 * refusing to replace a file that appears meanwhile) and sets *created.
 * A file naming another key than name is an error unless name is NULL.
 * Returns 0, or -1 with err set.
 */
int ledger_key_load(const char *path, const char *name, const char *fallback,
                    struct ledger_key *k, bool *created, struct hrid_err *err);

/* The key's verifier key text (hrid/note.h), into out (size >= 320). */
void ledger_key_vkey(const struct ledger_key *k, char *out, size_t size);

/* Forgets the secret half. */
void ledger_key_wipe(struct ledger_key *k);

/*
 * Signs a checkpoint of the log as it is now if it has grown since the
 * last one (or there is none yet), in one write transaction, after the
 * consistency check above.  *size gets the size of the last checkpoint
 * after the call.  STORE_OK, or STORE_EIO with the reason.
 */
int ledger_checkpoint_refresh(struct store *s, const struct ledger_key *k,
                              uint64_t *size, struct hrid_err *err);

/* A thread that calls ledger_checkpoint_refresh every interval_ms while
 * the log grows, and logs a refusal to stderr (once per message). */
struct ledger_signer;
int ledger_signer_start(struct store *s, const struct ledger_key *k,
                        int interval_ms, struct ledger_signer **out,
                        struct hrid_err *err);
void ledger_signer_stop(struct ledger_signer *sg);

#endif
