/*
 * chunk.c - raw chunks: the encoder, the decoder and the iterator (see
 * telemetry/tsdb.h; docs/telemetry.md has the byte format).
 *
 * The encoder keeps an open chunk's samples as integers, times and
 * quantised values, and chooses the encoding only when it serialises: the
 * series coder then sees the whole chunk and picks each series' step,
 * predictor, offset and Rice parameter for it, which a streaming encoder
 * would have to fix before seeing the samples.  That costs an open chunk
 * 16 bytes a sample in memory.
 *
 * The decoder checks the CRC before it reads anything else, then every
 * field against its bounds, then what the samples must satisfy (times
 * valid, increasing and within one window, values within 2^53), so that
 * no bytes can make it read out of bounds or return samples an encoder
 * would have refused.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "telemetry/tsdb_int.h"

/* The smallest chunk: format, metric, digits, count, one series header
 * of one byte each, and the CRC. */
#define CHUNK_MIN_BYTES (4 + 2 + 4)

int64_t tsdb_chunk_window(int64_t t)
{
    return t - t % TSDB_CHUNK_WINDOW_MS;
}

bool tsdb_raw_expired(int64_t first, int64_t now, int64_t retention_ms)
{
    int64_t end;

    if (first < 0 || first > TSDB_TIME_MAX)
        return false;
    if (retention_ms < 0)
        retention_ms = 0;
    end = tsdb_chunk_window(first) + TSDB_CHUNK_WINDOW_MS;
    /* now - retention_ms cannot overflow: both are >= 0 here or now is
     * negative, in which case nothing has expired yet. */
    return now >= 0 && end <= now - retention_ms;
}

void tsdb_chunk_seal(struct tsdb_bytew *w)
{
    uint32_t crc = tsdb_crc32c(w->p, w->len);

    for (int i = 0; i < 4; i++)
        tsdb_bytew_put(w, (uint8_t)(crc >> (8 * i)));
}

int tsdb_chunk_open(const void *bytes, size_t len, uint8_t fmt, size_t maxn,
                    struct tsdb_chunk_info *info, struct tsdb_byter *r,
                    struct hrid_err *err)
{
    const uint8_t *p = bytes;
    uint32_t crc;
    uint64_t n;
    uint8_t b;

    memset(info, 0, sizeof *info);
    if (bytes == NULL || len < CHUNK_MIN_BYTES)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_TRUNCATED, 0,
                            "chunk of %zu bytes is shorter than the %d of "
                            "the smallest", bytes == NULL ? 0 : len,
                            CHUNK_MIN_BYTES);
    crc = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8
          | (uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
    if (crc != tsdb_crc32c(p, len - 4))
        return tsdb_corrupt(err, "checksum mismatch (altered or truncated)");
    r->p = p;
    r->end = p + len - 4;
    tsdb_byter_get(r, &b);
    if (b != fmt)
        return tsdb_corrupt(err, b == TSDB_FMT_RAW || b == TSDB_FMT_ROLLUP
                                     ? "raw and rollup chunks mixed up"
                                     : "unknown format byte");
    tsdb_byter_get(r, &b);
    info->metric = b;
    if (tsdb_metric_info(b) == NULL)
        return tsdb_corrupt(err, "unknown metric id");
    tsdb_byter_get(r, &b);
    info->digits = b;
    if (b > TSDB_DIGITS_MAX)
        return tsdb_corrupt(err, "more digits than a double holds");
    if (!tsdb_byter_varint(r, &n) || n < 1 || n > maxn)
        return tsdb_corrupt(err, "count out of range");
    info->n = (size_t)n;
    return HRID_OK;
}

int tsdb_encoder_init(struct tsdb_encoder *e, unsigned metric,
                      struct hrid_err *err)
{
    const struct tsdb_metric_info *m = tsdb_metric_info(metric);

    e->metric = 0;
    e->digits = 0;
    e->n = 0;
    if (m == NULL)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "unknown metric id %u", metric);
    e->metric = metric;
    e->digits = m->digits;
    return HRID_OK;
}

/* Decodes a raw chunk's times and quantised values into t and q (room for
 * TSDB_CHUNK_SAMPLES each), checking everything. */
static int decode_raw(const void *bytes, size_t len, int64_t *t, int64_t *q,
                      struct tsdb_chunk_info *info, struct hrid_err *err)
{
    struct tsdb_series st, sv;
    struct tsdb_byter r;
    struct tsdb_bitr b;
    int64_t window;
    int rc;

    rc = tsdb_chunk_open(bytes, len, TSDB_FMT_RAW, TSDB_CHUNK_SAMPLES, info,
                         &r, err);
    if (rc != HRID_OK)
        return rc;
    if (!tsdb_series_get_header(&st, info->n, &r)
        || !tsdb_series_get_header(&sv, info->n, &r))
        return tsdb_corrupt(err, "series header cut short");
    tsdb_bitr_init(&b, r.p, r.end);
    if (!tsdb_series_get_residuals(&st, &b, t)
        || !tsdb_series_get_residuals(&sv, &b, q))
        return tsdb_corrupt(err, "residuals cut short");
    if (!tsdb_bitr_at_end(&b))
        return tsdb_corrupt(err, "bytes after the last residual");
    if (t[0] < 0 || t[0] > TSDB_TIME_MAX)
        return tsdb_corrupt(err, "time outside 1970 to 9999");
    window = tsdb_chunk_window(t[0]);
    for (size_t i = 0; i < info->n; i++) {
        if (i > 0 && t[i] <= t[i - 1])
            return tsdb_corrupt(err, "times not increasing");
        if (t[i] - window >= TSDB_CHUNK_WINDOW_MS || t[i] > TSDB_TIME_MAX)
            return tsdb_corrupt(err, "time outside the chunk's window");
        if (q[i] > (INT64_C(1) << 53) || q[i] < -(INT64_C(1) << 53))
            return tsdb_corrupt(err, "value beyond 2^53");
    }
    info->first = t[0];
    info->last = t[info->n - 1];
    return HRID_OK;
}

int tsdb_encoder_init_from(struct tsdb_encoder *e, const void *bytes,
                           size_t len, struct hrid_err *err)
{
    struct tsdb_chunk_info info;
    int rc;

    rc = decode_raw(bytes, len, e->t, e->q, &info, err);
    if (rc == HRID_OK && info.digits != tsdb_metric_info(info.metric)->digits)
        rc = hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                          "chunk keeps %d digits, its metric now %d: it "
                          "cannot take more samples", info.digits,
                          tsdb_metric_info(info.metric)->digits);
    if (rc != HRID_OK) {
        e->metric = 0;
        e->digits = 0;
        e->n = 0;
        return rc;
    }
    e->metric = info.metric;
    e->digits = info.digits;
    e->n = info.n;
    return HRID_OK;
}

int tsdb_encoder_append(struct tsdb_encoder *e, int64_t t, double v,
                        struct hrid_err *err)
{
    int64_t q;
    int rc;

    if (t < 0 || t > TSDB_TIME_MAX)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_TIME, 0,
                            "time %" PRId64 " ms is outside 1970 to 9999", t);
    if (e->n > 0) {
        int64_t last = e->t[e->n - 1];

        if (t == last)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_DUPLICATE, 0,
                                "time %" PRId64 " ms is already in the "
                                "chunk", t);
        if (t < last)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_ORDER, 0,
                                "time %" PRId64 " ms is before the chunk's "
                                "last, %" PRId64, t, last);
        if (tsdb_chunk_window(t) != tsdb_chunk_window(e->t[0]))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_WINDOW, 0,
                                "time %" PRId64 " ms is past the chunk's "
                                "window, which ends at %" PRId64, t,
                                tsdb_chunk_window(e->t[0])
                                    + TSDB_CHUNK_WINDOW_MS);
    }
    if (e->n >= TSDB_CHUNK_SAMPLES)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "chunk is full (%d samples)", TSDB_CHUNK_SAMPLES);
    rc = tsdb_value_check(e->metric, v, &q, err);
    if (rc != HRID_OK)
        return rc;
    e->t[e->n] = t;
    e->q[e->n] = q;
    e->n++;
    return HRID_OK;
}

int tsdb_encoder_finish(const struct tsdb_encoder *e, void *out, size_t cap,
                        size_t *len, struct hrid_err *err)
{
    struct tsdb_bytew w = { out, cap, 0, true };
    struct tsdb_bitw b = { &w, 0, 0 };
    struct tsdb_series st, sv;

    *len = 0;
    if (e->n == 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "chunk has no sample");
    tsdb_series_plan(e->t, e->n, &st);
    tsdb_series_plan(e->q, e->n, &sv);
    tsdb_bytew_put(&w, TSDB_FMT_RAW);
    tsdb_bytew_put(&w, (uint8_t)e->metric);
    tsdb_bytew_put(&w, (uint8_t)e->digits);
    tsdb_bytew_varint(&w, e->n);
    tsdb_series_put_header(&st, &w);
    tsdb_series_put_header(&sv, &w);
    tsdb_series_put_residuals(&st, e->t, &b);
    tsdb_series_put_residuals(&sv, e->q, &b);
    tsdb_bitw_flush(&b);
    tsdb_chunk_seal(&w);
    if (!w.ok)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "chunk needs more than %zu bytes", cap);
    *len = w.len;
    return HRID_OK;
}

int tsdb_chunk_decode(const void *bytes, size_t len, struct tsdb_sample *out,
                      size_t max, size_t *n, struct tsdb_chunk_info *info,
                      struct hrid_err *err)
{
    struct tsdb_chunk_info inf;
    int64_t t[TSDB_CHUNK_SAMPLES], q[TSDB_CHUNK_SAMPLES];
    double p;
    int rc;

    *n = 0;
    rc = decode_raw(bytes, len, t, q, &inf, err);
    if (info != NULL)
        *info = inf;
    if (rc != HRID_OK)
        return rc;
    if (inf.n > max)
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "chunk holds %zu samples, room for %zu", inf.n,
                            max);
    p = tsdb_pow10(inf.digits);
    for (size_t i = 0; i < inf.n; i++) {
        out[i].t = t[i];
        out[i].v = (double)q[i] / p;
    }
    *n = inf.n;
    return HRID_OK;
}

int tsdb_decoder_init(struct tsdb_decoder *d, const void *bytes, size_t len,
                      struct hrid_err *err)
{
    size_t n;
    int rc;

    d->pos = 0;
    rc = tsdb_chunk_decode(bytes, len, d->s, TSDB_CHUNK_SAMPLES, &n, &d->info,
                           err);
    d->info.n = n;
    return rc;
}

bool tsdb_decoder_next(struct tsdb_decoder *d, struct tsdb_sample *s)
{
    if (d->pos >= d->info.n)
        return false;
    *s = d->s[d->pos++];
    return true;
}
