/*
 * audit.c - recomputes the log from the stored events and checks it
 * against the stored tiles and the last signed checkpoint (DESIGN §5,
 * docs/ledger.md "Audit").
 *
 * The leaves are split into ranges of whole level-0 tiles, one per
 * thread (each with its own read connection).  A thread reads its events
 * in seq order with the code of the unit each is filed under, encodes
 * each event's leaf bytes again (core_leaf_encode), hashes them and
 * compares them with the stored level-0 tile; when a tile is complete it
 * also compares the tile's root with the level-1 entry above it.  It stops
 * at its first missing event (a gap in seq), changed or moved event, or
 * event filed under another unit than its code.  The first bad leaf over
 * all ranges is the answer.  Then, on one thread: no event may lie beyond
 * the log; every full tile of level 1 and up must hash to the entry above
 * it; and the root of the stored tree at the checkpoint's size must be
 * the signed one.  Once every stored hash is checked against the events,
 * a root mismatch means the history under the checkpoint was rewritten,
 * events and tiles alike.
 *
 * A deleted event leaves no row to name its unit; the unit is then found
 * as the one whose recorded event count no longer matches its events
 * (a walk over every unit, paid only when something is missing).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"
#include "hrid/note.h"
#include "ledger/ledger.h"

#define AUDIT_CHUNK       2048  /* events per read */
#define AUDIT_THREADS_MAX 8
#define TILE_W            STORE_TILE_WIDTH

/* What went wrong first, in one range or overall. */
struct finding {
    bool bad;
    bool missing;               /* an event was deleted: name its unit */
    uint64_t leaf;
    char code[HRID_CODE_LEN + 1];
    char msg[512];
};

static void found(struct finding *f, uint64_t leaf, const char *code,
                  bool missing, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void found(struct finding *f, uint64_t leaf, const char *code,
                  bool missing, const char *fmt, ...)
{
    va_list ap;

    f->bad = true;
    f->missing = missing;
    f->leaf = leaf;
    snprintf(f->code, sizeof f->code, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
}

/* One thread's range of leaves [first, end), first a multiple of 256. */
struct part {
    struct store *s;
    uint64_t first, end, next;
    struct core_leaf_hasher hasher;
    struct store_conn *sc;
    int64_t tile_idx;           /* the level-0 tile in tile[], or -1 */
    int tile_width;
    unsigned char tile[STORE_TILE_BYTES];
    int64_t up_idx;             /* the level-1 tile in up[], or -1 */
    int up_width;
    unsigned char up[STORE_TILE_BYTES];
    struct finding f;
    int rc;                     /* a store failure, with he */
    struct hrid_err he;
};

static int load_tile(struct part *p, int level, int64_t idx)
{
    int64_t *have = level == 0 ? &p->tile_idx : &p->up_idx;
    int *width = level == 0 ? &p->tile_width : &p->up_width;
    unsigned char *buf = level == 0 ? p->tile : p->up;
    int rc;

    if (*have == idx)
        return STORE_OK;
    *have = -1;
    rc = store_tile_get(p->sc, level, idx, buf, width, &p->he);
    if (rc == STORE_NOTFOUND) {
        *width = 0;
        rc = STORE_OK;
    }
    if (rc == STORE_OK)
        *have = idx;
    return rc;
}

/* After leaf i, the last of its tile: the tile's root against the
 * level-1 entry above it. */
static int check_tile_root(struct part *p, uint64_t i, const char *code)
{
    unsigned char root[32];
    uint64_t t = i / TILE_W;
    int rc = load_tile(p, 1, (int64_t)(t / TILE_W));

    if (rc != STORE_OK)
        return rc;
    hrid_merkle_root((const unsigned char (*)[32])p->tile, TILE_W, root);
    if ((int)(t % TILE_W) >= p->up_width ||
        memcmp(root, p->up + (t % TILE_W) * 32, 32) != 0)
        found(&p->f, t * TILE_W, code, false,
              "leaves %llu-%llu match the log, but the log's hash over them "
              "(tile 1/%llu, entry %llu) does not: the log's hashes were "
              "rewritten", (unsigned long long)(t * TILE_W),
              (unsigned long long)i, (unsigned long long)(t / TILE_W),
              (unsigned long long)(t % TILE_W));
    return STORE_OK;
}

static int audit_event(void *ctx, const struct store_event *e)
{
    struct part *p = ctx;
    uint64_t i = p->next;
    unsigned char h[32];
    int rc;

    if ((uint64_t)e->seq != i + 1) {
        found(&p->f, i, NULL, true,
              "leaf %llu: the event is missing (events jump from seq %llu "
              "to %lld): deleted", (unsigned long long)i,
              (unsigned long long)i, (long long)e->seq);
        return 1;
    }
    if (e->unit_code == NULL || strcmp(e->unit_code, e->code) != 0) {
        found(&p->f, i, e->code, false,
              "leaf %llu (unit %s, seq %lld, %s): the event is filed under "
              "another unit (%s): moved", (unsigned long long)i, e->code,
              (long long)e->seq, e->type ? e->type : "",
              e->unit_code && e->unit_code[0] ? e->unit_code : "none");
        return 1;
    }
    if (core_leaf_hash_event(&p->hasher, e, h) != 0)
        return hrid_err_set(&p->he, STORE_EIO, 0, 0, "out of memory");
    if ((rc = load_tile(p, 0, (int64_t)(i / TILE_W))) != STORE_OK)
        return rc;
    if ((int)(i % TILE_W) >= p->tile_width ||
        memcmp(h, p->tile + (i % TILE_W) * 32, 32) != 0) {
        found(&p->f, i, e->code, false,
              "leaf %llu (unit %s, seq %lld, %s): the stored event does not "
              "match the log: changed or moved", (unsigned long long)i,
              e->code, (long long)e->seq, e->type ? e->type : "");
        return 1;
    }
    p->next++;
    if (i % TILE_W == TILE_W - 1) {
        if ((rc = check_tile_root(p, i, e->code)) != STORE_OK)
            return rc;
        if (p->f.bad)
            return 1;
    }
    return 0;
}

static void *audit_part(void *arg)
{
    struct part *p = arg;

    p->rc = STORE_OK;
    hrid_err_clear(&p->he);
    p->sc = store_conn(p->s, &p->he);
    if (p->sc == NULL) {
        p->rc = STORE_EIO;
        return NULL;
    }
    if ((p->rc = store_read_begin(p->sc, &p->he)) != STORE_OK)
        return NULL;
    core_leaf_hasher_init(&p->hasher);
    p->tile_idx = p->up_idx = -1;
    p->next = p->first;
    while (p->next < p->end && !p->f.bad) {
        uint64_t before = p->next, want = p->end - p->next;
        int rc;

        /* Rows are read in place (no arena); only the encoding of the
         * event at hand is allocated, and freed with it. */
        rc = store_event_scan(p->sc, (int64_t)p->next,
                              want < AUDIT_CHUNK ? (int)want : AUDIT_CHUNK,
                              true, NULL, audit_event, p, &p->he);
        if (p->f.bad)
            break;
        if (rc != STORE_OK) {
            p->rc = rc;
            break;
        }
        if (p->next == before)
            found(&p->f, p->next, NULL, true,
                  "leaf %llu: the log has %llu leaves or more but the events "
                  "end at %llu: events were deleted",
                  (unsigned long long)p->next, (unsigned long long)p->end,
                  (unsigned long long)p->next);
    }
    core_leaf_hasher_free(&p->hasher);
    store_read_end(p->sc);
    return NULL;
}

/* Every full tile of level 1 and up against the entry above it. */
static int check_upper_tiles(struct store_conn *sc, uint64_t size,
                             struct finding *f, struct hrid_err *he)
{
    unsigned char *t = malloc(2 * STORE_TILE_BYTES), *up, root[32];
    int rc = STORE_OK, w, uw = 0;
    int64_t up_idx = -1;

    if (t == NULL)
        return hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
    up = t + STORE_TILE_BYTES;
    for (int level = 1; level < 8 && rc == STORE_OK && !f->bad; level++) {
        uint64_t full = (size >> (8 * level)) / TILE_W;

        up_idx = -1;
        for (uint64_t i = 0; i < full && rc == STORE_OK; i++) {
            rc = store_tile_get(sc, level, (int64_t)i, t, &w, he);
            if (rc == STORE_OK && (int64_t)(i / TILE_W) != up_idx) {
                up_idx = (int64_t)(i / TILE_W);
                rc = store_tile_get(sc, level + 1, up_idx, up, &uw, he);
            }
            if (rc == STORE_NOTFOUND) {
                rc = STORE_OK;
                w = uw = 0;
            }
            if (rc != STORE_OK)
                break;
            if (w == TILE_W)
                hrid_merkle_root((const unsigned char (*)[32])t, TILE_W,
                                 root);
            if (w != TILE_W || (int)(i % TILE_W) >= uw ||
                memcmp(root, up + (i % TILE_W) * 32, 32) != 0) {
                uint64_t span = (uint64_t)1 << (8 * (level + 1));

                found(f, i * span, NULL, false,
                      "the log's hashes over leaves %llu-%llu (tile %d/%llu) "
                      "do not match the tile below them: the log's hashes "
                      "were rewritten", (unsigned long long)(i * span),
                      (unsigned long long)((i + 1) * span - 1), level,
                      (unsigned long long)i);
                break;
            }
        }
    }
    free(t);
    return rc;
}

static int first_event(void *ctx, const struct store_event *e)
{
    struct store_event *out = ctx;

    out->seq = e->seq;
    memcpy(out->code, e->code, sizeof out->code);
    return 1;
}

struct count_ctx {
    int64_t n, last_seq;
};

static int count_event(void *ctx, const struct store_event *e)
{
    struct count_ctx *cc = ctx;

    cc->n++;
    cc->last_seq = e->seq;
    return 0;
}

struct find_ctx {
    struct store_conn *sc;
    struct arena *a;
    struct hrid_err *he;
    char last[HRID_CODE_LEN + 1];   /* the last unit looked at */
    char code[HRID_CODE_LEN + 1];   /* the unit found, or "" */
};

/* Stops at a unit whose latest event counts more events than it has: an
 * earlier one was deleted.  (A deleted latest event leaves a consistent
 * count behind; the log alone tells of it.) */
static int find_unit(void *ctx, const struct store_unit *u)
{
    struct find_ctx *f = ctx;
    struct count_ctx cc = {0, 0};
    int64_t before;
    int rc;

    memcpy(f->last, u->code, sizeof f->last);
    do {
        before = cc.n;
        rc = store_event_list(f->sc, u->id, cc.last_seq, CORE_PAGE_MAX, f->a,
                              count_event, &cc, f->he);
        if (rc != STORE_OK)
            return rc;
    } while (cc.n - before == CORE_PAGE_MAX);
    if (cc.n == u->event_count)
        return 0;
    memcpy(f->code, u->code, sizeof f->code);
    return 1;
}

static void name_deleted_unit(struct store_conn *sc, struct arena *a,
                              struct core_audit_report *rep)
{
    struct store_unit_filter flt;
    struct find_ctx f;
    struct hrid_err he;
    char after[HRID_CODE_LEN + 1] = "";

    memset(&f, 0, sizeof f);
    f.sc = sc;
    f.a = a;
    f.he = &he;
    do {
        memset(&flt, 0, sizeof flt);
        memcpy(after, f.last, sizeof after);
        flt.after_code = after;
        flt.limit = CORE_PAGE_MAX;
        if (store_unit_list(sc, &flt, a, find_unit, &f, &he) < 0)
            return;
    } while (f.code[0] == '\0' && strcmp(after, f.last) != 0);
    if (f.code[0] == '\0')
        return;
    snprintf(rep->bad_code, sizeof rep->bad_code, "%s", f.code);
    snprintf(rep->msg + strlen(rep->msg), sizeof rep->msg - strlen(rep->msg),
             "; unit %s has fewer events than it recorded", f.code);
}

static int audit_threads(uint64_t size)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t tiles = (size + TILE_W - 1) / TILE_W;

    if (n < 1)
        n = 1;
    if (n > AUDIT_THREADS_MAX)
        n = AUDIT_THREADS_MAX;
    /* A thread is worth starting for 16 tiles (4,096 leaves) or more. */
    if ((uint64_t)n > tiles / 16)
        n = (long)(tiles / 16);
    return n < 1 ? 1 : (int)n;
}

/* Runs the ranges and keeps the first finding; STORE_OK or a failure. */
static int scan_ranges(struct store *s, uint64_t size, struct finding *f,
                       uint64_t *checked, struct hrid_err *he)
{
    int n = audit_threads(size), rc = STORE_OK;
    uint64_t tiles = (size + TILE_W - 1) / TILE_W, per = (tiles + n - 1) / n;
    struct part *parts = calloc((size_t)n, sizeof *parts);
    pthread_t th[AUDIT_THREADS_MAX];
    bool started[AUDIT_THREADS_MAX] = {false};

    if (parts == NULL)
        return hrid_err_set(he, STORE_EIO, 0, 0, "out of memory");
    for (int k = 0; k < n; k++) {
        parts[k].s = s;
        parts[k].first = (uint64_t)k * per * TILE_W;
        parts[k].end = (uint64_t)(k + 1) * per * TILE_W;
        if (parts[k].first > size)
            parts[k].first = size;
        if (parts[k].end > size)
            parts[k].end = size;
        /* The first range runs on the calling thread. */
        if (k > 0)
            started[k] = pthread_create(&th[k], NULL, audit_part,
                                        &parts[k]) == 0;
    }
    audit_part(&parts[0]);
    for (int k = 1; k < n; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            audit_part(&parts[k]);
    }
    *checked = 0;
    for (int k = 0; k < n; k++) {
        struct part *p = &parts[k];

        *checked += p->next - p->first;
        if (p->f.bad && (!f->bad || p->f.leaf < f->leaf))
            *f = p->f;
        if (p->rc != STORE_OK && rc == STORE_OK) {
            rc = p->rc;
            *he = p->he;
        }
    }
    free(parts);
    return f->bad ? STORE_OK : rc;
}

int core_audit(struct store *s, const char *vkey,
               struct core_audit_report *rep, struct core_err *err)
{
    struct store_checkpoint cp;
    struct hrid_checkpoint hc;
    struct store_event extra;
    struct finding f;
    struct hrid_err he;
    struct store_conn *sc;
    struct arena a;
    bool have_cp = false;
    int rc;

    memset(rep, 0, sizeof *rep);
    memset(&f, 0, sizeof f);
    rep->bad_leaf = -1;
    hrid_err_clear(&he);
    arena_init(&a);
    sc = store_conn(s, &he);
    if (sc == NULL)
        return core_store_fail(err, STORE_EIO, &he);
    if ((rc = store_read_begin(sc, &he)) != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = ledger_size(sc, &rep->log_size, &he);
    if (rc != STORE_OK)
        goto failed;
    rc = store_checkpoint_get(sc, &a, &cp, &he);
    if (rc == STORE_OK) {
        have_cp = true;
        rep->checkpoint_size = (uint64_t)cp.size;
        if (vkey != NULL) {
            if (hrid_checkpoint_open(cp.note, strlen(cp.note), vkey, &hc,
                                     &he) != HRID_OK) {
                snprintf(rep->msg, sizeof rep->msg,
                         "the stored checkpoint does not verify with the "
                         "log key: %s", he.msg);
                goto done;
            }
            if (hc.size != (uint64_t)cp.size ||
                memcmp(hc.root, cp.root, 32) != 0) {
                snprintf(rep->msg, sizeof rep->msg,
                         "the stored checkpoint's size and root differ from "
                         "its signed text");
                goto done;
            }
            rep->checkpoint_verified = true;
        }
        if ((uint64_t)cp.size > rep->log_size) {
            found(&f, rep->log_size, NULL, false,
                  "the log has %llu leaves but a checkpoint of %lld was "
                  "signed: leaves were removed",
                  (unsigned long long)rep->log_size, (long long)cp.size);
            goto report;
        }
    } else if (rc != STORE_NOTFOUND) {
        goto failed;
    }

    rc = scan_ranges(s, rep->log_size, &f, &rep->leaves, &he);
    if (rc != STORE_OK)
        goto failed;
    if (!f.bad) {
        memset(&extra, 0, sizeof extra);
        rc = store_event_scan(sc, (int64_t)rep->log_size, 1, false, &a,
                              first_event, &extra, &he);
        if (rc != STORE_OK && rc != 1)
            goto failed;
        if (extra.seq != 0)
            found(&f, rep->log_size, extra.code, false,
                  "leaf %llu (unit %s, seq %lld): the event is not in the "
                  "log, which ends at %llu leaves: inserted outside the "
                  "registry", (unsigned long long)rep->log_size, extra.code,
                  (long long)extra.seq, (unsigned long long)rep->log_size);
    }
    if (!f.bad && (rc = check_upper_tiles(sc, rep->log_size, &f, &he)) !=
                      STORE_OK)
        goto failed;
    if (!f.bad && have_cp) {
        unsigned char root[32];

        rc = ledger_root(sc, (uint64_t)cp.size, root, &he);
        if (rc != STORE_OK)
            goto failed;
        if (memcmp(root, cp.root, 32) != 0)
            snprintf(rep->msg, sizeof rep->msg,
                     "the events and the log agree, but not with the signed "
                     "checkpoint of %lld leaves: the history under it was "
                     "rewritten, events and hashes alike", (long long)cp.size);
    }
report:
    if (f.bad) {
        rep->bad_leaf = (int64_t)f.leaf;
        memcpy(rep->bad_code, f.code, sizeof rep->bad_code);
        snprintf(rep->msg, sizeof rep->msg, "%s", f.msg);
        if (f.missing)
            name_deleted_unit(sc, &a, rep);
    }
done:
    store_read_end(sc);
    arena_release(&a);
    rep->ok = rep->msg[0] == '\0';
    return CORE_OK;

failed:
    store_read_end(sc);
    arena_release(&a);
    return core_store_fail(err, rc == STORE_OK ? STORE_EIO : rc, &he);
}
