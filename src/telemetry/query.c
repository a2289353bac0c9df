/*
 * query.c - a metric's series over [from, to) with a step, from decoded
 * raw samples and hourly rollups (see telemetry/tsdb.h).
 *
 * One pass over both inputs in time order, like the merge step of a merge
 * sort: the next rollup bucket or raw sample, whichever starts first,
 * goes into the current output bucket, which is emitted when the next
 * item belongs to a later one.  Buckets accumulate quantised integers, so
 * a bucket made from sixty raw samples and one made from the hour's
 * rollup have the same sum and the same average.  Raw samples of an hour
 * that has a rollup bucket are skipped with a second cursor over the
 * rollups, which only moves forward.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry/tsdb_int.h"

#define QLIM (INT64_C(1) << 53)

struct acc {
    int64_t key;          /* the bucket's first ms */
    uint64_t count;
    int64_t min, max, sum;
};

/* The first index of raw[0..n) with t >= from. */
static size_t first_sample(const struct tsdb_sample *raw, size_t n,
                           int64_t from)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (raw[mid].t < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t first_bucket(const struct tsdb_rollup *r, size_t n, int64_t from)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r[mid].start < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t ceil_hour(int64_t t)
{
    int64_t r = t % TSDB_HOUR_MS;

    return r == 0 ? t : t - r + TSDB_HOUR_MS;
}

static int emit(const struct acc *a, int digits, struct tsdb_point *out,
                size_t max, size_t *n, struct hrid_err *err)
{
    double p = tsdb_pow10(digits);

    if (a->count == 0)
        return HRID_OK;
    if (*n >= max)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "query needs more than %zu points", max);
    out[*n].t = a->key;
    out[*n].count = (uint32_t)a->count;
    out[*n].min = (double)a->min / p;
    out[*n].max = (double)a->max / p;
    out[*n].avg = (double)a->sum / p / (double)a->count;
    (*n)++;
    return HRID_OK;
}

/* Adds count values of minimum lo, maximum hi and sum sum at time t to the
 * accumulator, first emitting the one in progress when t belongs to a
 * later bucket. */
static int add(struct acc *a, int64_t step, int64_t t, uint64_t count,
               int64_t lo, int64_t hi, int64_t sum, int digits,
               struct tsdb_point *out, size_t max, size_t *n,
               struct hrid_err *err)
{
    int64_t key = t - t % step;

    if (key != a->key) {
        int rc = emit(a, digits, out, max, n, err);

        if (rc != HRID_OK)
            return rc;
        a->key = key;
        a->count = 0;
        a->sum = 0;
    }
    if (a->count == 0 || lo < a->min)
        a->min = lo;
    if (a->count == 0 || hi > a->max)
        a->max = hi;
    a->count += count;
    if (a->count > UINT32_MAX
        || __builtin_add_overflow(a->sum, sum, &a->sum) || a->sum > QLIM
        || a->sum < -QLIM)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_OVERFLOW, 0,
                            "bucket at %" PRId64 " ms sums or counts past "
                            "its limits", key);
    return HRID_OK;
}

static int raw_points(const struct tsdb_query *q, struct tsdb_point *out,
                      size_t max, size_t *n, struct hrid_err *err)
{
    for (size_t i = first_sample(q->raw, q->nraw, q->from);
         i < q->nraw && q->raw[i].t < q->to; i++) {
        if (*n >= max)
            return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                                "query needs more than %zu points", max);
        out[*n].t = q->raw[i].t;
        out[*n].count = 1;
        out[*n].min = out[*n].max = out[*n].avg = q->raw[i].v;
        (*n)++;
    }
    return HRID_OK;
}

int tsdb_query_run(const struct tsdb_query *q, struct tsdb_point *out,
                   size_t max, size_t *n, struct hrid_err *err)
{
    struct acc a = { -1, 0, 0, 0, 0 };
    int64_t from = q->from, to = q->to;
    size_t i, j = 0, skip = 0;
    bool hourly;
    int rc;

    *n = 0;
    if (q->from > q->to || q->step < 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_RANGE, 0,
                            "query from %" PRId64 " to %" PRId64 " step %"
                            PRId64 " is not a range and a step >= 0",
                            q->from, q->to, q->step);
    if (q->digits < 0 || q->digits > TSDB_DIGITS_MAX)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                            "%d digits is out of range 0..%d", q->digits,
                            TSDB_DIGITS_MAX);
    /* Times are never negative nor past TSDB_TIME_MAX, so the range can be
     * clamped to those without changing the answer, and ceil_hour then
     * cannot overflow. */
    from = from < 0 ? 0 : from > TSDB_TIME_MAX ? TSDB_TIME_MAX + 1 : from;
    to = to < 0 ? 0 : to > TSDB_TIME_MAX ? TSDB_TIME_MAX + 1 : to;
    if (q->step == 0) {
        struct tsdb_query r = *q;

        r.from = from;
        r.to = to;
        return raw_points(&r, out, max, n, err);
    }
    hourly = q->step % TSDB_HOUR_MS == 0;
    if (hourly) {
        from = ceil_hour(from);
        to = ceil_hour(to);
        j = first_bucket(q->rollups, q->nrollups, from);
        skip = j;
    }
    i = first_sample(q->raw, q->nraw, from);
    for (;;) {
        bool have_raw = i < q->nraw && q->raw[i].t < to;
        bool have_roll = hourly && j < q->nrollups
                         && q->rollups[j].start < to;

        if (!have_raw && !have_roll)
            break;
        if (have_roll && (!have_raw || q->rollups[j].start <= q->raw[i].t)) {
            const struct tsdb_rollup *r = &q->rollups[j++];
            int64_t lo, hi, sum;

            if (!tsdb_quantize(r->min, q->digits, &lo)
                || !tsdb_quantize(r->max, q->digits, &hi)
                || !tsdb_quantize(r->sum, q->digits, &sum))
                return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                                    "bucket at %" PRId64 " ms is not at %d "
                                    "digits", r->start, q->digits);
            rc = add(&a, q->step, r->start, r->count, lo, hi, sum, q->digits,
                     out, max, n, err);
        } else {
            const struct tsdb_sample *s = &q->raw[i++];
            int64_t v;

            if (hourly) {
                int64_t hour = s->t - s->t % TSDB_HOUR_MS;

                while (skip < q->nrollups && q->rollups[skip].start < hour)
                    skip++;
                if (skip < q->nrollups && q->rollups[skip].start == hour)
                    continue;
            }
            if (!tsdb_quantize(s->v, q->digits, &v))
                return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                                    "sample at %" PRId64 " ms is not at %d "
                                    "digits", s->t, q->digits);
            rc = add(&a, q->step, s->t, 1, v, v, v, q->digits, out, max, n,
                     err);
        }
        if (rc != HRID_OK)
            return rc;
    }
    return emit(&a, q->digits, out, max, n, err);
}
