/*
 * bench_ledger.c - the log's costs (docs/ledger.md), on a store holding
 * LEAVES leaves (ten million: the size the trust targets are set for).
 *
 *   - appending: leaf hashes through ledger_append in transactions of
 *     APPEND_BATCH, as the precommit hook does (tile roots and tile
 *     writes included, leaf hashing not: that is per event, below);
 *   - leaf hashing: SHA-256(0x00 || bytes) of a typical 300-byte event
 *     encoding, libcrypto with a reused context vs libsodium;
 *   - inclusion proofs at size LEAVES for random leaves, and consistency
 *     proofs from random sizes, read from the tiles: median and p99 per
 *     proof;
 *   - credential and label verification (libhrid), and checkpoint
 *     signing, per second.
 * Every rate is the median of RUNS runs.
 *
 *   bench_ledger [SCRATCH_DIR] [LEAVES]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "bench.h"
#include "hrid/credential.h"
#include "hrid/merkle.h"
#include "hrid/note.h"
#include "ledger/ledger.h"
#include "store/store.h"

#define RUNS          3
#define LEAVES_DEFAULT 10000000
#define APPEND_BATCH  10000
#define PROOFS        10000
#define HASHES        1000000
#define SIGS          20000

static void die(const char *what, const struct hrid_err *err)
{
    fprintf(stderr, "bench_ledger: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

struct append_job {
    uint64_t size;
    unsigned char (*h)[32];
    size_t n;
};

static int append_fn(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct append_job *j = arg;

    return ledger_append(c, j->size, (const unsigned char (*)[32])j->h, j->n,
                         err);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void bench_hashing(void)
{
    unsigned char buf[300], out[32];
    double r_evp[RUNS], r_sodium[RUNS];
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const unsigned char zero = 0;

    memset(buf, 'x', sizeof buf);
    for (int r = 0; r < RUNS; r++) {
        double t = bench_now();

        for (int i = 0; i < HASHES; i++) {
            buf[0] = (unsigned char)i;
            EVP_DigestInit_ex2(ctx, md, NULL);
            EVP_DigestUpdate(ctx, &zero, 1);
            EVP_DigestUpdate(ctx, buf, sizeof buf);
            EVP_DigestFinal_ex(ctx, out, NULL);
        }
        r_evp[r] = HASHES / (bench_now() - t);
        t = bench_now();
        for (int i = 0; i < HASHES; i++) {
            buf[0] = (unsigned char)i;
            hrid_merkle_leaf_hash(buf, sizeof buf, out);
        }
        r_sodium[r] = HASHES / (bench_now() - t);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    printf("%-44s %8.2f M/s\n", "leaf hash, 300 B, libcrypto",
           bench_median(r_evp, RUNS) / 1e6);
    printf("%-44s %8.2f M/s\n", "leaf hash, 300 B, libsodium",
           bench_median(r_sodium, RUNS) / 1e6);
}

static void bench_signatures(void)
{
    unsigned char pk[32], sk[64], sig[64];
    struct hrid_credential cr;
    char label[HRID_LABEL_MAX + 1], text[128], note[HRID_NOTE_MAX + 1];
    char code[HRID_CODE_LEN + 1];
    double r_cred[RUNS], r_label[RUNS], r_sign[RUNS], r_cp[RUNS];
    struct hrid_err err;
    unsigned char root[32] = {1};
    size_t len;
    char vkey[320];
    struct hrid_checkpoint cp;

    crypto_sign_keypair(pk, sk);
    if (hrid_code_make("CN", "0001", "326A1B", "2600000000000017", code,
                       &err) != HRID_OK)
        die("code", &err);
    memset(&cr, 0, sizeof cr);
    memcpy(cr.code, code, sizeof cr.code);
    memcpy(cr.enterprise, "CN0001", 7);
    memcpy(cr.model, "CN0001326A1B", 13);
    memcpy(cr.production_date, "2026-05-22", 11);
    memcpy(cr.issued_at, "2026-05-22T08:30:00.000Z", 25);
    if (hrid_credential_sign(&cr, sk, sig, &err) != HRID_OK)
        die("credential sign", &err);
    if (hrid_label_make("https://hrid.example.gov.cn", code, sk, label,
                        sizeof label, &err) != HRID_OK)
        die("label", &err);
    hrid_checkpoint_format("hrid.example/log", 10000000, root, text,
                           sizeof text, &err);
    hrid_vkey_format("hrid.example/log", pk, vkey, sizeof vkey, &err);
    for (int r = 0; r < RUNS; r++) {
        double t = bench_now();

        for (int i = 0; i < SIGS; i++)
            if (hrid_credential_verify(&cr, sig, pk, &err) != HRID_OK)
                die("credential verify", &err);
        r_cred[r] = SIGS / (bench_now() - t);
        t = bench_now();
        for (int i = 0; i < SIGS; i++)
            if (hrid_label_verify(label, strlen(label), pk, code, &err) !=
                HRID_OK)
                die("label verify", &err);
        r_label[r] = SIGS / (bench_now() - t);
        t = bench_now();
        for (int i = 0; i < SIGS; i++)
            hrid_credential_sign(&cr, sk, sig, &err);
        r_sign[r] = SIGS / (bench_now() - t);
        t = bench_now();
        for (int i = 0; i < SIGS; i++) {
            hrid_note_sign(text, strlen(text), "hrid.example/log", sk, note,
                           sizeof note, &len, &err);
            if (hrid_checkpoint_open(note, len, vkey, &cp, &err) != HRID_OK)
                die("checkpoint open", &err);
        }
        r_cp[r] = SIGS / (bench_now() - t);
    }
    printf("%-44s %8.0f /s\n", "credential verify (libhrid)",
           bench_median(r_cred, RUNS));
    printf("%-44s %8.0f /s\n", "label verify (libhrid)",
           bench_median(r_label, RUNS));
    printf("%-44s %8.0f /s\n", "credential sign", bench_median(r_sign, RUNS));
    printf("%-44s %8.0f /s\n", "checkpoint sign + open",
           bench_median(r_cp, RUNS));
}

int main(int argc, char **argv)
{
    const char *tmp = argc > 1 ? argv[1] : "/tmp";
    uint64_t leaves = argc > 2 ? strtoull(argv[2], NULL, 10) : LEAVES_DEFAULT;
    char dir[512], path[600], p2[640];
    unsigned char (*batch)[32];
    unsigned char path_h[HRID_MERKLE_CONSISTENCY_MAX][32], root[32], leaf[32];
    struct store *s;
    struct store_conn *c;
    struct hrid_err err;
    double *lat, t0, t, append_rate;
    uint64_t seed = 0x9e3779b97f4a7c15ull, size = 0;
    size_t len;

    if (sodium_init() < 0)
        die("sodium_init", NULL);
    snprintf(dir, sizeof dir, "%s/hrid-bench-ledger-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    if (store_open(path, &s, &err) != STORE_OK)
        die("store_open", &err);
    batch = malloc(APPEND_BATCH * sizeof *batch);
    lat = malloc(PROOFS * sizeof *lat);
    if (batch == NULL || lat == NULL)
        die("out of memory", NULL);

    /* Appending: one run, the whole log. */
    t0 = bench_now();
    while (size < leaves) {
        struct append_job j = {size, batch, APPEND_BATCH};

        if (leaves - size < APPEND_BATCH)
            j.n = (size_t)(leaves - size);
        for (size_t i = 0; i < j.n; i++) {
            uint64_t v = size + i;

            hrid_merkle_leaf_hash(&v, sizeof v, batch[i]);
        }
        if (store_write(s, append_fn, &j, &err) != STORE_OK)
            die("append", &err);
        size += j.n;
    }
    append_rate = (double)leaves / (bench_now() - t0);
    printf("== log of %llu leaves\n", (unsigned long long)leaves);
    printf("%-44s %8.2f M leaves/s (%d per transaction, leaf hashing "
           "included)\n", "ledger_append, durable", append_rate / 1e6,
           APPEND_BATCH);

    if ((c = store_conn(s, &err)) == NULL)
        die("store_conn", &err);
    t = bench_now();
    if (ledger_root(c, leaves, root, &err) != STORE_OK)
        die("root", &err);
    printf("%-44s %8.3f ms\n", "root at the full size", (bench_now() - t) * 1e3);

    /* Inclusion proofs, checked as they go. */
    for (int i = 0; i < PROOFS; i++) {
        uint64_t idx = rnd(&seed) % leaves, v = idx;

        t = bench_now();
        if (ledger_inclusion(c, idx, leaves, path_h, &len, &err) != STORE_OK)
            die("inclusion", &err);
        lat[i] = bench_now() - t;
        hrid_merkle_leaf_hash(&v, sizeof v, leaf);
        if (hrid_merkle_verify_inclusion(idx, leaves, leaf,
                                         (const unsigned char (*)[32])path_h,
                                         len, root, &err) != HRID_OK)
            die("inclusion verify", &err);
    }
    qsort(lat, PROOFS, sizeof *lat, bench_cmp_double);
    printf("%-44s %8.3f ms median, %.3f ms p99 (%d random leaves)\n",
           "inclusion proof at the full size", lat[PROOFS / 2] * 1e3,
           lat[PROOFS * 99 / 100] * 1e3, PROOFS);

    for (int i = 0; i < PROOFS / 10; i++) {
        uint64_t m = 1 + rnd(&seed) % leaves;

        t = bench_now();
        if (ledger_consistency(c, m, leaves, path_h, &len, &err) != STORE_OK)
            die("consistency", &err);
        lat[i] = bench_now() - t;
    }
    qsort(lat, PROOFS / 10, sizeof *lat, bench_cmp_double);
    printf("%-44s %8.3f ms median, %.3f ms p99 (%d random sizes)\n",
           "consistency proof to the full size", lat[PROOFS / 20] * 1e3,
           lat[PROOFS / 10 * 99 / 100] * 1e3, PROOFS / 10);

    bench_hashing();
    bench_signatures();

    store_close(s);
    free(batch);
    free(lat);
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p2, sizeof p2, "%s%s", path, sfx[i]);
        unlink(p2);
    }
    rmdir(dir);
    return 0;
}
