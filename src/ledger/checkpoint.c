/*
 * checkpoint.c - signing keys in files, and the signed checkpoints of the
 * log (see ledger/checkpoint.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/arena.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

#define KEY_PREFIX "PRIVATE+KEY+"
#define KEY_FILE_MAX 512

/* ---- keys -------------------------------------------------------------- */

static int key_from_seed(struct ledger_key *k, const char *name,
                         const unsigned char seed[32], struct hrid_err *err)
{
    if (strlen(name) > HRID_CHECKPOINT_ORIGIN_MAX || name[0] == '\0' ||
        strpbrk(name, "+ \t\r\n") != NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "key name '%.64s' must be 1-%d characters without "
                            "spaces or '+'", name,
                            HRID_CHECKPOINT_ORIGIN_MAX);
    snprintf(k->name, sizeof k->name, "%s", name);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    return 0;
}

/* Parses PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>. */
static int key_parse(char *text, struct ledger_key *k, const char *path,
                     struct hrid_err *err)
{
    unsigned char raw[33], id[4];
    char *name, *hex, *b64, *end;
    char want[9];
    size_t rawlen = 0;
    int rc;

    text[strcspn(text, "\r\n")] = '\0';
    if (strncmp(text, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
        goto bad;
    name = text + strlen(KEY_PREFIX);
    if ((hex = strchr(name, '+')) == NULL)
        goto bad;
    *hex++ = '\0';
    if ((b64 = strchr(hex, '+')) == NULL)
        goto bad;
    *b64++ = '\0';
    if (sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &rawlen,
                          (const char **)&end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || rawlen != 33 || raw[0] != 0x01)
        goto bad;
    rc = key_from_seed(k, name, raw + 1, err);
    sodium_memzero(raw, sizeof raw);
    if (rc != 0)
        return -1;
    hrid_note_key_id(k->name, k->pk, id);
    snprintf(want, sizeof want, "%02x%02x%02x%02x", id[0], id[1], id[2],
             id[3]);
    if (strcasecmp(hex, want) != 0) {
        ledger_key_wipe(k);
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "key file '%s': key id %s does not match its "
                            "name and key (%s)", path, hex, want);
    }
    return 0;

bad:
    return hrid_err_set(err, HRID_EINVAL, 0, 0,
                        "key file '%s' does not hold a key in the form "
                        "PRIVATE+KEY+<name>+<key id>+<base64 key>", path);
}

static int key_write(const char *path, const struct ledger_key *k,
                     struct hrid_err *err)
{
    unsigned char raw[33], id[4];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    int fd, n, ok;
    FILE *f;

    raw[0] = 0x01;
    memcpy(raw + 1, k->sk, 32);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof raw);
    hrid_note_key_id(k->name, k->pk, id);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        sodium_memzero(b64, sizeof b64);
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "cannot create key file '%s': %s", path,
                            strerror(errno));
    }
    n = fprintf(f, KEY_PREFIX "%s+%02x%02x%02x%02x+%s\n", k->name, id[0],
                id[1], id[2], id[3], b64);
    sodium_memzero(b64, sizeof b64);
    ok = n > 0 && fflush(f) == 0 && fsync(fd) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        unlink(path);
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "cannot write key file '%s': %s", path,
                            strerror(errno));
    }
    return 0;
}

int ledger_key_load(const char *path, const char *name, const char *fallback,
                    struct ledger_key *k, bool *created, struct hrid_err *err)
{
    char text[KEY_FILE_MAX];
    unsigned char seed[32];
    size_t n;
    FILE *f;
    int rc;

    *created = false;
    memset(k, 0, sizeof *k);
    f = fopen(path, "re");
    if (f == NULL && errno != ENOENT)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "cannot read key file '%s': %s", path,
                            strerror(errno));
    if (f != NULL) {
        n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        rc = key_parse(text, k, path, err);
        sodium_memzero(text, sizeof text);
        if (rc != 0)
            return -1;
        if (name != NULL && strcmp(name, k->name) != 0) {
            hrid_err_set(err, HRID_EINVAL, 0, 0,
                         "key file '%s' holds the key of '%s', not '%s'",
                         path, k->name, name);
            ledger_key_wipe(k);
            return -1;
        }
        return 0;
    }
    randombytes_buf(seed, sizeof seed);
    rc = key_from_seed(k, name != NULL ? name : fallback, seed, err);
    sodium_memzero(seed, sizeof seed);
    if (rc != 0 || key_write(path, k, err) != 0) {
        ledger_key_wipe(k);
        return -1;
    }
    *created = true;
    return 0;
}

void ledger_key_vkey(const struct ledger_key *k, char *out, size_t size)
{
    if (hrid_vkey_format(k->name, k->pk, out, size, NULL) != HRID_OK &&
        size > 0)
        out[0] = '\0';
}

void ledger_key_wipe(struct ledger_key *k)
{
    sodium_memzero(k->sk, sizeof k->sk);
}

/* ---- checkpoints ------------------------------------------------------- */

struct refresh {
    const struct ledger_key *k;
    uint64_t size;              /* out: the last checkpoint's size */
};

static int refresh_fn(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct refresh *r = arg;
    struct store_checkpoint cp;
    unsigned char root[32], old[32];
    char text[HRID_CHECKPOINT_ORIGIN_MAX + 80];
    char note[HRID_NOTE_MAX + 1];
    struct hrid_err he;
    struct arena a;
    uint64_t size;
    size_t len;
    int rc;

    arena_init(&a);
    rc = ledger_size(c, &size, err);
    if (rc == STORE_OK)
        rc = store_checkpoint_get(c, &a, &cp, err);
    if (rc == STORE_OK) {
        r->size = (uint64_t)cp.size;
        if ((uint64_t)cp.size == size) {
            arena_release(&a);
            return STORE_OK;
        }
        if ((uint64_t)cp.size > size) {
            rc = hrid_err_set(err, STORE_EIO, 0, 0,
                              "the log has %llu leaves but a checkpoint of "
                              "%lld was signed: entries were removed; not "
                              "signing", (unsigned long long)size,
                              (long long)cp.size);
        } else {
            rc = ledger_root(c, (uint64_t)cp.size, old, err);
            if (rc == STORE_OK && memcmp(old, cp.root, 32) != 0)
                rc = hrid_err_set(err, STORE_EIO, 0, 0,
                                  "the log's first %lld leaves no longer "
                                  "hash to the signed checkpoint's root: "
                                  "history was rewritten; not signing",
                                  (long long)cp.size);
        }
    } else if (rc == STORE_NOTFOUND) {
        rc = STORE_OK;
    }
    arena_release(&a);
    if (rc != STORE_OK)
        return rc;
    rc = ledger_root(c, size, root, err);
    if (rc != STORE_OK)
        return rc;
    if (hrid_checkpoint_format(r->k->name, size, root, text, sizeof text,
                               &he) != HRID_OK ||
        hrid_note_sign(text, strlen(text), r->k->name, r->k->sk, note,
                       sizeof note, &len, &he) != HRID_OK)
        return hrid_err_set(err, STORE_EIO, 0, 0, "cannot sign: %s",
                            he.msg);
    memset(&cp, 0, sizeof cp);
    cp.size = (int64_t)size;
    memcpy(cp.root, root, 32);
    cp.note = note;
    cp.signed_at = (int64_t)time(NULL) * 1000;
    rc = store_checkpoint_put(c, &cp, err);
    if (rc == STORE_OK)
        r->size = size;
    return rc;
}

int ledger_checkpoint_refresh(struct store *s, const struct ledger_key *k,
                              uint64_t *size, struct hrid_err *err)
{
    struct refresh r = {k, 0};
    int rc = store_write(s, refresh_fn, &r, err);

    *size = r.size;
    return rc;
}

/* ---- the signing thread ----------------------------------------------- */

struct ledger_signer {
    struct store *s;
    const struct ledger_key *k;
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

static void *signer_main(void *arg)
{
    struct ledger_signer *sg = arg;
    char last_error[HRID_ERR_MSG_MAX] = "";
    uint64_t signed_size = 0, size;
    bool first = true;
    struct hrid_err err;
    struct timespec ts;

    for (;;) {
        struct store_conn *c;

        hrid_err_clear(&err);
        c = store_conn(sg->s, &err);
        if (c != NULL && ledger_size(c, &size, &err) == STORE_OK &&
            (first || size != signed_size)) {
            if (ledger_checkpoint_refresh(sg->s, sg->k, &signed_size,
                                          &err) == STORE_OK) {
                first = false;
                last_error[0] = '\0';
            } else if (strcmp(err.msg, last_error) != 0) {
                fprintf(stderr, "hridd: log checkpoint: %s\n", err.msg);
                snprintf(last_error, sizeof last_error, "%s", err.msg);
            }
        }
        pthread_mutex_lock(&sg->mu);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(sg->interval_ms % 1000) * 1000000L;
        ts.tv_sec += sg->interval_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!sg->stopping &&
               pthread_cond_timedwait(&sg->cv, &sg->mu, &ts) == 0)
            ;
        if (sg->stopping) {
            pthread_mutex_unlock(&sg->mu);
            break;
        }
        pthread_mutex_unlock(&sg->mu);
    }
    return NULL;
}

int ledger_signer_start(struct store *s, const struct ledger_key *k,
                        int interval_ms, struct ledger_signer **out,
                        struct hrid_err *err)
{
    struct ledger_signer *sg = calloc(1, sizeof *sg);

    *out = NULL;
    if (sg == NULL)
        return hrid_err_set(err, STORE_EIO, 0, 0, "out of memory");
    sg->s = s;
    sg->k = k;
    sg->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    pthread_mutex_init(&sg->mu, NULL);
    pthread_cond_init(&sg->cv, NULL);
    if (pthread_create(&sg->thread, NULL, signer_main, sg) != 0) {
        pthread_cond_destroy(&sg->cv);
        pthread_mutex_destroy(&sg->mu);
        free(sg);
        return hrid_err_set(err, STORE_EIO, 0, 0,
                            "cannot start the checkpoint thread");
    }
    *out = sg;
    return STORE_OK;
}

void ledger_signer_stop(struct ledger_signer *sg)
{
    if (sg == NULL)
        return;
    pthread_mutex_lock(&sg->mu);
    sg->stopping = true;
    pthread_cond_signal(&sg->cv);
    pthread_mutex_unlock(&sg->mu);
    pthread_join(sg->thread, NULL);
    pthread_cond_destroy(&sg->cv);
    pthread_mutex_destroy(&sg->mu);
    free(sg);
}
