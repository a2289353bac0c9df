/*
 * series.c - the integer series coder of telemetry chunks (see
 * telemetry/tsdb_int.h; docs/telemetry.md has the format).
 *
 * A series x[0..n) is coded as x[0], a step g (the greatest common
 * divisor of every x[i] - x[0]: 1000 when a unit stamps whole seconds, 10
 * when it reports a metric of 4 digits to 3), and the residuals of
 * y[i] = (x[i] - x[0]) / g against one of three fixed predictors, the
 * polynomial ones of Shorten (Robinson, 1994) and FLAC:
 *
 *   order 0: r[i] = y[i] - B                      a level (wear, SoH)
 *   order 1: r[i] = y[i] - y[i-1] - B             a drift (timestamps
 *                                                 around their interval
 *                                                 B, counters)
 *   order 2: r[1] = y[1] - y[0] - B,              a slope (temperatures
 *            r[i] = y[i] - 2 y[i-1] + y[i-2]      following a cycle):
 *                                                 delta-of-delta
 *
 * B is the median of what the predictor subtracts it from (the median
 * minimises the sum of absolute residuals) or, for order 2, the first
 * difference.  Residuals are zigzag-mapped (0, -1, 1, -2, ... to 0, 1, 2,
 * 3, ...) and Rice-coded with the parameter k that costs least.  For timestamps,
 * order 2 is Gorilla's delta-of-delta and order 1 around the median
 * interval is its variant with half the variance when a unit's timer
 * jitters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry/tsdb_int.h"

static uint64_t zigzag(uint64_t r)
{
    return (r << 1) ^ (0 - (r >> 63));
}

static uint64_t unzigzag(uint64_t u)
{
    return (u >> 1) ^ (0 - (u & 1));
}

/* |d| of the signed view of d, as an unsigned number (2^63 for INT64_MIN). */
static uint64_t magnitude(uint64_t d)
{
    return (d >> 63) ? 0 - d : d;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

/* Moves the k-th smallest (signed) of v[0..n) to v[k] and returns it:
 * Hoare's FIND, as Wirth writes it in "Algorithms + Data Structures =
 * Programs" (1976), with the k-th element as the pivot. */
static int64_t select_kth(int64_t *v, size_t n, size_t k)
{
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

    while (l < r) {
        int64_t pivot = v[kk];
        ptrdiff_t i = l, j = r;

        do {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                int64_t t = v[i];

                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            l = i;
        if (kk < i)
            r = j;
    }
    return v[kk];
}

/* The zigzagged residuals u[0..n-1) of y[1..n) under order and offset b,
 * one loop per order so that each is a straight pass. */
static void residuals(int order, uint64_t b, const uint64_t *y, size_t n,
                      uint64_t *u)
{
    switch (order) {
    case 0:
        for (size_t i = 1; i < n; i++)
            u[i - 1] = zigzag(y[i] - b);
        break;
    case 1:
        for (size_t i = 1; i < n; i++)
            u[i - 1] = zigzag(y[i] - y[i - 1] - b);
        break;
    default:
        u[0] = zigzag(y[1] - y[0] - b);
        for (size_t i = 2; i < n; i++)
            u[i - 1] = zigzag(y[i] - 2 * y[i - 1] + y[i - 2]);
        break;
    }
}

/* The predictor offset of order for y[0..n), n >= 2. */
static uint64_t offset(int order, const uint64_t *y, size_t n)
{
    int64_t tmp[TSDB_SERIES_MAX];
    size_t m = n - 1;

    if (order == 2)
        return y[1] - y[0];
    for (size_t i = 1; i < n; i++)
        tmp[i - 1] = tsdb_signed(order == 0 ? y[i] : y[i] - y[i - 1]);
    return (uint64_t)select_kth(tmp, m, m / 2);
}

/* The cheapest Rice parameter for u[0..m): stores it in *k and returns
 * the cost in bits.  All zero residuals cost nothing (TSDB_RICE_ZERO).
 * Otherwise the optimum lies near log2 of the mean (for geometric
 * residuals, Rice's k is log2(mean * ln 2) rounded), so the four
 * parameters around it are tried exactly. */
static uint64_t best_k(const uint64_t *u, size_t m, int *k)
{
    double sum = 0;
    uint64_t mean, best = UINT64_MAX;
    int k0;

    for (size_t i = 0; i < m; i++)
        sum += (double)u[i];
    if (sum == 0) {
        *k = TSDB_RICE_ZERO;
        return 0;
    }
    mean = sum / (double)m >= 18446744073709549568.0
               ? UINT64_MAX : (uint64_t)(sum / (double)m);
    k0 = mean == 0 ? 0 : 63 - __builtin_clzll(mean);
    /* The candidates k0 - 2 .. k0 + 1, clamped to 0..62, in one pass.  A
     * residual whose quotient under the smallest candidate is below the
     * escape is below it under all four, and costs (u >> k) + 1 + k
     * under each: those only need the sums of their shifted values. */
    {
        uint64_t shifted[4], other[4] = { 0, 0, 0, 0 };
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int c0 = k0 - 2 < 0 ? 0 : k0 + 1 > 62 ? 59 : k0 - 2;
        size_t plain = 0;

        for (size_t i = 0; i < m; i++) {
            uint64_t v = u[i] >> c0;

            if (v < TSDB_RICE_ESCAPE) {
                s0 += v;
                s1 += v >> 1;
                s2 += v >> 2;
                s3 += v >> 3;
                plain++;
            } else {
                for (int c = 0; c < 4; c++)
                    other[c] += tsdb_rice_bits(u[i], c0 + c);
            }
        }
        shifted[0] = s0;
        shifted[1] = s1;
        shifted[2] = s2;
        shifted[3] = s3;
        *k = c0;
        for (int c = 0; c < 4; c++) {
            uint64_t bits = shifted[c] + plain * (uint64_t)(1 + c0 + c)
                            + other[c];

            if (bits < best) {
                best = bits;
                *k = c0 + c;
            }
        }
    }
    return best;
}

/* y[i] = (x[i] - x[0]) / g, dividing the signed view of the difference. */
static void scaled(const int64_t *x, size_t n, uint64_t g, uint64_t *y)
{
    if (g == 1) {
        for (size_t i = 0; i < n; i++)
            y[i] = (uint64_t)x[i] - (uint64_t)x[0];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)x[i] - (uint64_t)x[0];
        uint64_t q = magnitude(d) / g;

        y[i] = (d >> 63) ? 0 - q : q;
    }
}

uint64_t tsdb_series_plan(const int64_t *x, size_t n, struct tsdb_series *s)
{
    uint64_t y[TSDB_SERIES_MAX], u[TSDB_SERIES_MAX];
    uint64_t g = 0, best = UINT64_MAX;

    s->n = n;
    s->x0 = (uint64_t)x[0];
    s->g = 1;
    s->order = 0;
    s->k = TSDB_RICE_ZERO;
    s->b = 0;
    if (n < 2)
        return 0;
    /* Most series have no common step: stop as soon as it is 1. */
    for (size_t i = 1; i < n && g != 1; i++)
        g = gcd(g, magnitude((uint64_t)x[i] - (uint64_t)x[0]));
    if (g == 0)
        g = 1;
    s->g = g;
    scaled(x, n, g, y);
    /* The predictor with the least sum of absolute residuals, as FLAC
     * picks its fixed predictor: a Rice code's length grows with that
     * sum, and comparing sums costs one pass where comparing exact
     * lengths would cost one per candidate parameter. */
    for (int order = 0; order <= 2; order++) {
        uint64_t b = offset(order, y, n), sum = 0;

        /* Each term is capped at 2^56, so that 168 of them cannot
         * overflow; a series with residuals that large costs the same
         * under any predictor. */
        residuals(order, b, y, n, u);
        for (size_t i = 0; i < n - 1; i++)
            sum += u[i] < (UINT64_C(1) << 56) ? u[i] : UINT64_C(1) << 56;
        if (sum < best) {
            best = sum;
            s->order = order;
            s->b = b;
        }
    }
    residuals(s->order, s->b, y, n, u);
    return best_k(u, n - 1, &s->k);
}

void tsdb_series_put_header(const struct tsdb_series *s, struct tsdb_bytew *w)
{
    tsdb_bytew_varint(w, zigzag(s->x0));
    if (s->n < 2)
        return;
    tsdb_bytew_varint(w, s->g);
    tsdb_bytew_put(w, (uint8_t)(s->order | (s->k << 2)));
    tsdb_bytew_varint(w, zigzag(s->b));
}

void tsdb_series_put_residuals(const struct tsdb_series *s, const int64_t *x,
                               struct tsdb_bitw *b)
{
    uint64_t y[TSDB_SERIES_MAX], u[TSDB_SERIES_MAX];

    if (s->n < 2 || s->k == TSDB_RICE_ZERO)
        return;
    scaled(x, s->n, s->g, y);
    residuals(s->order, s->b, y, s->n, u);
    for (size_t i = 0; i < s->n - 1; i++)
        tsdb_rice_put(b, u[i], s->k);
}

bool tsdb_series_get_header(struct tsdb_series *s, size_t n,
                            struct tsdb_byter *r)
{
    uint64_t v;
    uint8_t mode;

    s->n = n;
    s->g = 1;
    s->order = 0;
    s->k = TSDB_RICE_ZERO;
    s->b = 0;
    if (n < 1 || n > TSDB_SERIES_MAX || !tsdb_byter_varint(r, &v))
        return false;
    s->x0 = unzigzag(v);
    if (n < 2)
        return true;
    if (!tsdb_byter_varint(r, &s->g) || s->g == 0
        || !tsdb_byter_get(r, &mode) || (mode & 3) == 3
        || !tsdb_byter_varint(r, &v))
        return false;
    s->order = mode & 3;
    s->k = mode >> 2;
    s->b = unzigzag(v);
    return true;
}

bool tsdb_series_get_residuals(const struct tsdb_series *s,
                               struct tsdb_bitr *b, int64_t *x)
{
    uint64_t y[TSDB_SERIES_MAX];

    y[0] = 0;
    x[0] = tsdb_signed(s->x0);
    for (size_t i = 1; i < s->n; i++) {
        uint64_t r = 0;

        if (s->k != TSDB_RICE_ZERO) {
            r = unzigzag(tsdb_rice_get(b, s->k));
            if (b->overrun)
                return false;
        }
        switch (s->order) {
        case 0:
            y[i] = r + s->b;
            break;
        case 1:
            y[i] = y[i - 1] + s->b + r;
            break;
        default:
            y[i] = i == 1 ? y[0] + s->b + r : 2 * y[i - 1] - y[i - 2] + r;
            break;
        }
        x[i] = tsdb_signed(s->x0 + s->g * y[i]);
    }
    return true;
}
