/*
 * audit.c - recomputes the log from the stored events and checks it
 * against the stored tiles and the last signed checkpoint (DESIGN §5,
 * docs/ledger.md "Audit").
 *
 * One pass over the events in seq order: each event's leaf bytes are
 * encoded again (core_leaf_encode), hashed, and compared with the leaf
 * hash the tiles hold at its index; the recomputed hashes also feed a
 * running root, taken at the checkpoint's size and at the log's.  The
 * first event that is missing (a gap in seq), changed, moved, or beyond
 * the log is reported with its leaf index and unit, and the pass stops
 * there.  If every leaf matches but a root does not, the tiles above the
 * leaves or the checkpoint were altered.
 *
 * A deleted event leaves no row to name its unit; the unit is then found
 * as the one whose recorded event count no longer matches its events
 * (a walk over every unit, paid only when something is missing).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "hrid/note.h"
#include "ledger/ledger.h"

#define AUDIT_CHUNK 8192

/* A running RFC 9162 root: entry j of the stack is a complete subtree,
 * larger than entry j + 1 (as hrid_merkle_root). */
struct running_root {
    unsigned char stack[65][32];
    int top;
    uint64_t n;
};

static void rr_push(struct running_root *rr, const unsigned char h[32])
{
    memcpy(rr->stack[rr->top++], h, 32);
    rr->n++;
    for (uint64_t c = rr->n; (c & 1) == 0; c >>= 1) {
        hrid_merkle_node_hash(rr->stack[rr->top - 2], rr->stack[rr->top - 1],
                              rr->stack[rr->top - 2]);
        rr->top--;
    }
}

/* The root of the leaves pushed so far, without changing the stack. */
static void rr_root(const struct running_root *rr, unsigned char out[32])
{
    if (rr->top == 0) {
        hrid_merkle_root(NULL, 0, out);
        return;
    }
    memcpy(out, rr->stack[rr->top - 1], 32);
    for (int j = rr->top - 2; j >= 0; j--)
        hrid_merkle_node_hash(rr->stack[j], out, out);
}

struct audit {
    struct store_conn *sc;
    struct core_leaf_hasher hasher;
    struct running_root rr;
    uint64_t log_size, cp_size;
    unsigned char cp_root[32];
    bool have_cp, cp_checked;
    struct core_audit_report *rep;
    /* the level-0 tile being compared */
    int64_t tile_idx;
    int tile_width;
    unsigned char tile[STORE_TILE_BYTES];
    struct hrid_err *he;
    struct arena *a;
    bool bad;
};

static int audit_bad(struct audit *au, uint64_t leaf, const char *code,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int audit_bad(struct audit *au, uint64_t leaf, const char *code,
                     const char *fmt, ...)
{
    va_list ap;

    au->bad = true;
    au->rep->bad_leaf = (int64_t)leaf;
    snprintf(au->rep->bad_code, sizeof au->rep->bad_code, "%s",
             code ? code : "");
    va_start(ap, fmt);
    vsnprintf(au->rep->msg, sizeof au->rep->msg, fmt, ap);
    va_end(ap);
    return 1;                   /* stops the scan */
}

static int audit_event(void *ctx, const struct store_event *e)
{
    struct audit *au = ctx;
    uint64_t i = au->rr.n;
    unsigned char h[32];
    size_t len;
    char *bytes;
    int rc;

    if ((uint64_t)e->seq != i + 1)
        return audit_bad(au, i, NULL,
                         "leaf %llu: the event is missing (events jump from "
                         "seq %llu to %lld): deleted", (unsigned long long)i,
                         (unsigned long long)i, (long long)e->seq);
    if (i >= au->log_size)
        return audit_bad(au, i, e->code,
                         "leaf %llu (unit %s, %s): the event is not in the "
                         "log, which ends at %llu leaves: inserted "
                         "outside the registry", (unsigned long long)i,
                         e->code, e->type ? e->type : "",
                         (unsigned long long)au->log_size);
    bytes = core_leaf_encode(au->a, e, &len);
    if (bytes == NULL)
        return hrid_err_set(au->he, STORE_EIO, 0, 0, "out of memory");
    core_leaf_hash(&au->hasher, bytes, len, h);
    if ((int64_t)(i / STORE_TILE_WIDTH) != au->tile_idx) {
        au->tile_idx = (int64_t)(i / STORE_TILE_WIDTH);
        rc = store_tile_get(au->sc, 0, au->tile_idx, au->tile,
                            &au->tile_width, au->he);
        if (rc == STORE_NOTFOUND)
            return audit_bad(au, i, e->code,
                             "leaf %llu: log tile 0/%lld is missing",
                             (unsigned long long)i, (long long)au->tile_idx);
        if (rc != STORE_OK)
            return rc;
    }
    if ((int)(i % STORE_TILE_WIDTH) >= au->tile_width ||
        memcmp(h, au->tile + (i % STORE_TILE_WIDTH) * 32, 32) != 0)
        return audit_bad(au, i, e->code,
                         "leaf %llu (unit %s, seq %lld, %s): the stored event "
                         "does not match the log: changed or moved",
                         (unsigned long long)i, e->code, (long long)e->seq,
                         e->type ? e->type : "");
    rr_push(&au->rr, h);
    if (au->have_cp && au->rr.n == au->cp_size) {
        unsigned char root[32];

        rr_root(&au->rr, root);
        au->cp_checked = true;
        if (memcmp(root, au->cp_root, 32) != 0)
            return audit_bad(au, i, e->code,
                             "the events up to leaf %llu match the stored "
                             "log, but not the signed checkpoint of %llu: "
                             "the log's hashes were rewritten",
                             (unsigned long long)i,
                             (unsigned long long)au->cp_size);
    }
    return 0;
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

/* Stops at a unit whose recorded event count differs from its events. */
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

static void name_deleted_unit(struct audit *au)
{
    struct store_unit_filter flt;
    struct find_ctx f;
    char after[HRID_CODE_LEN + 1] = "";

    memset(&f, 0, sizeof f);
    f.sc = au->sc;
    f.a = au->a;
    f.he = au->he;
    do {
        memset(&flt, 0, sizeof flt);
        memcpy(after, f.last, sizeof after);
        flt.after_code = after;
        flt.limit = CORE_PAGE_MAX;
        if (store_unit_list(au->sc, &flt, au->a, find_unit, &f, au->he) < 0)
            return;
    } while (f.code[0] == '\0' && strcmp(after, f.last) != 0);
    if (f.code[0] == '\0')
        return;
    snprintf(au->rep->bad_code, sizeof au->rep->bad_code, "%s", f.code);
    snprintf(au->rep->msg + strlen(au->rep->msg),
             sizeof au->rep->msg - strlen(au->rep->msg),
             "; unit %s has fewer events than it recorded", f.code);
}

int core_audit(struct store *s, const char *vkey,
               struct core_audit_report *rep, struct core_err *err)
{
    struct audit *au;
    struct store_checkpoint cp;
    struct hrid_checkpoint hc;
    struct hrid_err he;
    struct store_conn *sc;
    struct arena a;
    int rc;

    memset(rep, 0, sizeof *rep);
    rep->bad_leaf = -1;
    hrid_err_clear(&he);
    sc = store_conn(s, &he);
    if (sc == NULL)
        return core_store_fail(err, STORE_EIO, &he);
    au = calloc(1, sizeof *au);
    if (au == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    arena_init(&a);
    au->sc = sc;
    au->rep = rep;
    au->he = &he;
    au->a = &a;
    au->tile_idx = -1;
    core_leaf_hasher_init(&au->hasher);
    rc = store_read_begin(sc, &he);
    if (rc != STORE_OK)
        goto store_failed;
    rc = ledger_size(sc, &au->log_size, &he);
    if (rc != STORE_OK)
        goto store_failed;
    rep->log_size = au->log_size;
    rc = store_checkpoint_get(sc, &a, &cp, &he);
    if (rc == STORE_OK) {
        au->have_cp = true;
        au->cp_size = (uint64_t)cp.size;
        memcpy(au->cp_root, cp.root, 32);
        rep->checkpoint_size = au->cp_size;
        if (vkey != NULL) {
            if (hrid_checkpoint_open(cp.note, strlen(cp.note), vkey, &hc,
                                     &he) != HRID_OK) {
                snprintf(rep->msg, sizeof rep->msg,
                         "the stored checkpoint does not verify with the "
                         "log key: %s", he.msg);
                goto done;
            }
            if (hc.size != au->cp_size || memcmp(hc.root, cp.root, 32) != 0) {
                snprintf(rep->msg, sizeof rep->msg,
                         "the stored checkpoint's size and root differ from "
                         "its signed text");
                goto done;
            }
            rep->checkpoint_verified = true;
        }
        if (au->cp_size > au->log_size) {
            snprintf(rep->msg, sizeof rep->msg,
                     "the log has %llu leaves but a checkpoint of %llu was "
                     "signed: leaves were removed",
                     (unsigned long long)au->log_size,
                     (unsigned long long)au->cp_size);
            rep->bad_leaf = (int64_t)au->log_size;
            goto done;
        }
    } else if (rc != STORE_NOTFOUND) {
        goto store_failed;
    }

    /* The scan, in chunks; audit_event returns 1 to stop at a bad leaf. */
    for (;;) {
        uint64_t before = au->rr.n;

        arena_release(&a);
        arena_init(&a);
        rc = store_event_scan(sc, (int64_t)au->rr.n, AUDIT_CHUNK, &a,
                              audit_event, au, &he);
        if (au->bad)
            break;
        if (rc != STORE_OK)
            goto store_failed;
        if (au->rr.n - before < AUDIT_CHUNK)
            break;
    }
    rep->leaves = au->rr.n;
    if (!au->bad && au->rr.n < au->log_size) {
        audit_bad(au, au->rr.n, NULL,
                  "leaf %llu: the log has %llu leaves but the events end at "
                  "%llu: events were deleted", (unsigned long long)au->rr.n,
                  (unsigned long long)au->log_size,
                  (unsigned long long)au->rr.n);
    }
    if (au->bad && rep->bad_code[0] == '\0')
        name_deleted_unit(au);
    if (!au->bad) {
        unsigned char mine[32], stored[32];

        rr_root(&au->rr, mine);
        rc = ledger_root(sc, au->log_size, stored, &he);
        if (rc != STORE_OK)
            goto store_failed;
        if (memcmp(mine, stored, 32) != 0)
            audit_bad(au, au->log_size, NULL,
                      "every leaf matches, but the stored tiles above them "
                      "do not: the log's hashes were rewritten");
        else if (au->have_cp && !au->cp_checked && au->cp_size > 0)
            audit_bad(au, au->cp_size, NULL,
                      "the checkpoint of %llu leaves was never reached",
                      (unsigned long long)au->cp_size);
    }
done:
    store_read_end(sc);
    rep->ok = !au->bad && rep->msg[0] == '\0';
    core_leaf_hasher_free(&au->hasher);
    arena_release(&a);
    free(au);
    return CORE_OK;

store_failed:
    store_read_end(sc);
    core_leaf_hasher_free(&au->hasher);
    arena_release(&a);
    free(au);
    return core_store_fail(err, rc == STORE_OK ? STORE_EIO : rc, &he);
}
