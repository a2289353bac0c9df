/*
 * rollup.c - hourly rollups: folding raw samples into buckets, merging
 * buckets, and rollup chunks (see telemetry/tsdb.h; docs/telemetry.md has
 * the byte format).
 *
 * Rollups are computed on the quantised integers, so a bucket's sum is
 * exact however many samples it holds and however often buckets merge:
 * the double in struct tsdb_rollup is the nearest to that exact sum, and
 * quantising it gives the integer back.  An average taken from a rollup
 * is therefore the same double as one taken from the raw samples.
 *
 * A rollup chunk codes five series over its buckets: the hour (as hours
 * since the epoch), the count, the minimum, the spread max - min (small
 * and never negative) and the sum.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "telemetry/tsdb_int.h"

#define QLIM (INT64_C(1) << 53)

/* A bucket in integers. */
struct qbucket {
    int64_t start;
    int64_t count;
    int64_t min, max, sum;
};

int64_t tsdb_rollup_window(int64_t t)
{
    return t - t % TSDB_ROLLUP_WINDOW_MS;
}

static int precision_error(struct hrid_err *err, const char *what, double v,
                           int digits)
{
    return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                        "%s %.17g is not a value of %d decimal digits", what,
                        v, digits);
}

static int to_q(const struct tsdb_rollup *r, int digits, struct qbucket *q,
                struct hrid_err *err)
{
    q->start = r->start;
    q->count = r->count;
    if (!tsdb_quantize(r->min, digits, &q->min))
        return precision_error(err, "bucket minimum", r->min, digits);
    if (!tsdb_quantize(r->max, digits, &q->max))
        return precision_error(err, "bucket maximum", r->max, digits);
    if (!tsdb_quantize(r->sum, digits, &q->sum))
        return precision_error(err, "bucket sum", r->sum, digits);
    return HRID_OK;
}

static void from_q(const struct qbucket *q, int digits, struct tsdb_rollup *r)
{
    double p = tsdb_pow10(digits);

    r->start = q->start;
    r->count = (uint32_t)q->count;
    r->min = (double)q->min / p;
    r->max = (double)q->max / p;
    r->sum = (double)q->sum / p;
}

/* dst += src in integers; HRID_ERANGE when the count passes 2^32 - 1 or
 * the sum 2^53 (past which it would not be exact as a double). */
static int qmerge(struct qbucket *dst, const struct qbucket *src,
                  struct hrid_err *err)
{
    int64_t sum;

    if (dst->count + src->count > (int64_t)UINT32_MAX)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_OVERFLOW, 0,
                            "bucket at %" PRId64 " would count more than "
                            "2^32 - 1 samples", dst->start);
    if (__builtin_add_overflow(dst->sum, src->sum, &sum) || sum > QLIM
        || sum < -QLIM)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_OVERFLOW, 0,
                            "bucket at %" PRId64 " would sum past 2^53",
                            dst->start);
    dst->count += src->count;
    dst->sum = sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return HRID_OK;
}

int tsdb_rollup_merge(struct tsdb_rollup *dst, const struct tsdb_rollup *src,
                      int digits, struct hrid_err *err)
{
    struct qbucket a, b;
    int rc;

    if (dst->start != src->start)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_WINDOW, 0,
                            "buckets of hours %" PRId64 " and %" PRId64
                            " do not merge", dst->start, src->start);
    if ((rc = to_q(dst, digits, &a, err)) != HRID_OK
        || (rc = to_q(src, digits, &b, err)) != HRID_OK
        || (rc = qmerge(&a, &b, err)) != HRID_OK)
        return rc;
    from_q(&a, digits, dst);
    return HRID_OK;
}

/* The index of the first bucket of b[0..n) whose start is >= start. */
static size_t lower_bound(const struct tsdb_rollup *b, size_t n, int64_t start)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (b[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int tsdb_rollup_add(struct tsdb_rollup *b, size_t max, size_t *n,
                    const struct tsdb_sample *s, size_t ns, int digits,
                    struct hrid_err *err)
{
    size_t i = 0;

    if (digits < 0 || digits > TSDB_DIGITS_MAX)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                            "%d digits is out of range 0..%d", digits,
                            TSDB_DIGITS_MAX);
    /* One run of samples of the same hour at a time: the run is summed in
     * integers and merged into its bucket once. */
    while (i < ns) {
        struct qbucket run, cur;
        size_t at;
        int rc;

        if (s[i].t < 0 || s[i].t > TSDB_TIME_MAX)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_TIME, 0,
                                "time %" PRId64 " ms is outside 1970 to 9999",
                                s[i].t);
        run.start = s[i].t - s[i].t % TSDB_HOUR_MS;
        run.count = 0;
        run.sum = 0;
        for (; i < ns && s[i].t - run.start < TSDB_HOUR_MS; i++) {
            int64_t q;

            if (i > 0 && s[i].t <= s[i - 1].t)
                return hrid_err_set(err, HRID_EINVAL, TSDB_R_ORDER, 0,
                                    "samples at %" PRId64 " and %" PRId64
                                    " ms are not in increasing order",
                                    s[i - 1].t, s[i].t);
            if (!tsdb_quantize(s[i].v, digits, &q))
                return precision_error(err, "sample", s[i].v, digits);
            if (run.count == 0 || q < run.min)
                run.min = q;
            if (run.count == 0 || q > run.max)
                run.max = q;
            /* A run is at most an hour of distinct milliseconds, and
             * each |q| <= 2^53: the sum is checked as it goes. */
            if (__builtin_add_overflow(run.sum, q, &run.sum)
                || run.sum > QLIM || run.sum < -QLIM)
                return hrid_err_set(err, HRID_ERANGE, TSDB_R_OVERFLOW, 0,
                                    "bucket at %" PRId64 " would sum past "
                                    "2^53", run.start);
            run.count++;
        }
        at = *n > 0 && b[*n - 1].start < run.start
                 ? *n : lower_bound(b, *n, run.start);
        if (at < *n && b[at].start == run.start) {
            if ((rc = to_q(&b[at], digits, &cur, err)) != HRID_OK
                || (rc = qmerge(&cur, &run, err)) != HRID_OK)
                return rc;
            from_q(&cur, digits, &b[at]);
            continue;
        }
        if (*n >= max)
            return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                                "no room for a bucket beyond %zu", max);
        if (run.count > (int64_t)UINT32_MAX)
            return hrid_err_set(err, HRID_ERANGE, TSDB_R_OVERFLOW, 0,
                                "bucket at %" PRId64 " would count more than "
                                "2^32 - 1 samples", run.start);
        memmove(&b[at + 1], &b[at], (*n - at) * sizeof *b);
        from_q(&run, digits, &b[at]);
        (*n)++;
    }
    return HRID_OK;
}

int tsdb_rollup_merge_lists(const struct tsdb_rollup *a, size_t na,
                            const struct tsdb_rollup *b, size_t nb,
                            struct tsdb_rollup *out, size_t max, size_t *n,
                            int digits, struct hrid_err *err)
{
    size_t i = 0, j = 0, k = 0;

    *n = 0;
    while (i < na || j < nb) {
        int rc;

        if (k >= max)
            return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                                "merged buckets need more than %zu", max);
        if (j >= nb || (i < na && a[i].start < b[j].start)) {
            out[k++] = a[i++];
        } else if (i >= na || b[j].start < a[i].start) {
            out[k++] = b[j++];
        } else {
            out[k] = a[i++];
            if ((rc = tsdb_rollup_merge(&out[k], &b[j++], digits, err))
                != HRID_OK)
                return rc;
            k++;
        }
    }
    *n = k;
    return HRID_OK;
}

/* min * count <= sum <= max * count, without overflow: a product that
 * does not fit int64 cannot be within 2^53 of a valid sum. */
static bool sum_in_bounds(const struct qbucket *q)
{
    int64_t lo, hi;

    if (__builtin_mul_overflow(q->min, q->count, &lo)
        || __builtin_mul_overflow(q->max, q->count, &hi))
        return false;
    return lo <= q->sum && q->sum <= hi;
}

int tsdb_rollup_encode(unsigned metric, const struct tsdb_rollup *b, size_t n,
                       void *out, size_t cap, size_t *len,
                       struct hrid_err *err)
{
    const struct tsdb_metric_info *m = tsdb_metric_info(metric);
    int64_t col[5][TSDB_ROLLUP_BUCKETS];
    struct tsdb_bytew w = { out, cap, 0, true };
    struct tsdb_bitw bits = { &w, 0, 0 };
    struct tsdb_series s[5];

    *len = 0;
    if (m == NULL)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "unknown metric id %u", metric);
    if (n < 1 || n > TSDB_ROLLUP_BUCKETS)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "a rollup chunk holds 1 to %d buckets, not %zu",
                            TSDB_ROLLUP_BUCKETS, n);
    for (size_t i = 0; i < n; i++) {
        struct qbucket q;
        int rc;

        if (b[i].start < 0 || b[i].start > TSDB_TIME_MAX
            || b[i].start % TSDB_HOUR_MS != 0)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_TIME, 0,
                                "bucket start %" PRId64 " ms is not a whole "
                                "hour from 1970 to 9999", b[i].start);
        if (i > 0 && b[i].start <= b[i - 1].start)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_ORDER, 0,
                                "buckets at %" PRId64 " and %" PRId64
                                " ms are not in increasing order",
                                b[i - 1].start, b[i].start);
        if (tsdb_rollup_window(b[i].start) != tsdb_rollup_window(b[0].start))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_WINDOW, 0,
                                "bucket at %" PRId64 " ms is past the "
                                "window of the first", b[i].start);
        if (b[i].count == 0)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                                "bucket at %" PRId64 " ms counts no sample",
                                b[i].start);
        if ((rc = to_q(&b[i], m->digits, &q, err)) != HRID_OK)
            return rc;
        if (q.min > q.max || !sum_in_bounds(&q))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_RANGE, 0,
                                "bucket at %" PRId64 " ms: min, max and sum "
                                "disagree", b[i].start);
        col[0][i] = q.start / TSDB_HOUR_MS;
        col[1][i] = q.count;
        col[2][i] = q.min;
        col[3][i] = q.max - q.min;
        col[4][i] = q.sum;
    }
    for (int c = 0; c < 5; c++)
        tsdb_series_plan(col[c], n, &s[c]);
    tsdb_bytew_put(&w, TSDB_FMT_ROLLUP);
    tsdb_bytew_put(&w, (uint8_t)metric);
    tsdb_bytew_put(&w, (uint8_t)m->digits);
    tsdb_bytew_varint(&w, n);
    for (int c = 0; c < 5; c++)
        tsdb_series_put_header(&s[c], &w);
    for (int c = 0; c < 5; c++)
        tsdb_series_put_residuals(&s[c], col[c], &bits);
    tsdb_bitw_flush(&bits);
    tsdb_chunk_seal(&w);
    if (!w.ok)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "rollup chunk needs more than %zu bytes", cap);
    *len = w.len;
    return HRID_OK;
}

int tsdb_rollup_decode(const void *bytes, size_t len, struct tsdb_rollup *out,
                       size_t max, size_t *n, struct tsdb_chunk_info *info,
                       struct hrid_err *err)
{
    struct tsdb_chunk_info inf;
    int64_t col[5][TSDB_ROLLUP_BUCKETS];
    struct tsdb_series s[5];
    struct tsdb_byter r;
    struct tsdb_bitr bits;
    int64_t window = 0;
    int rc;

    *n = 0;
    rc = tsdb_chunk_open(bytes, len, TSDB_FMT_ROLLUP, TSDB_ROLLUP_BUCKETS,
                         &inf, &r, err);
    if (info != NULL)
        *info = inf;
    if (rc != HRID_OK)
        return rc;
    for (int c = 0; c < 5; c++)
        if (!tsdb_series_get_header(&s[c], inf.n, &r))
            return tsdb_corrupt(err, "series header cut short");
    tsdb_bitr_init(&bits, r.p, r.end);
    for (int c = 0; c < 5; c++)
        if (!tsdb_series_get_residuals(&s[c], &bits, col[c]))
            return tsdb_corrupt(err, "residuals cut short");
    if (!tsdb_bitr_at_end(&bits))
        return tsdb_corrupt(err, "bytes after the last residual");
    if (inf.n > max)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "chunk holds %zu buckets, room for %zu", inf.n,
                            max);
    for (size_t i = 0; i < inf.n; i++) {
        struct qbucket q;

        if (col[0][i] < 0 || col[0][i] > TSDB_TIME_MAX / TSDB_HOUR_MS)
            return tsdb_corrupt(err, "hour outside 1970 to 9999");
        if (i > 0 && col[0][i] <= col[0][i - 1])
            return tsdb_corrupt(err, "hours not increasing");
        q.start = col[0][i] * TSDB_HOUR_MS;
        if (i == 0)
            window = tsdb_rollup_window(q.start);
        else if (tsdb_rollup_window(q.start) != window)
            return tsdb_corrupt(err, "hour outside the chunk's window");
        if (col[1][i] < 1 || col[1][i] > (int64_t)UINT32_MAX)
            return tsdb_corrupt(err, "count out of range");
        if (col[2][i] < -QLIM || col[2][i] > QLIM || col[3][i] < 0
            || col[3][i] > QLIM - col[2][i]
            || col[4][i] < -QLIM || col[4][i] > QLIM)
            return tsdb_corrupt(err, "value beyond 2^53");
        q.count = col[1][i];
        q.min = col[2][i];
        q.max = col[2][i] + col[3][i];
        q.sum = col[4][i];
        if (!sum_in_bounds(&q))
            return tsdb_corrupt(err, "sum outside count times min and max");
        from_q(&q, inf.digits, &out[i]);
    }
    inf.first = out[0].start;
    inf.last = out[inf.n - 1].start;
    if (info != NULL)
        *info = inf;
    *n = inf.n;
    return HRID_OK;
}
