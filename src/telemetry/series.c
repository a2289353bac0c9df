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
 * 3, ...) and Rice-coded with the parameter k that costs least; the
 * encoder tries every predictor and keeps the cheapest.  For timestamps,
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

/* The residual of y[i] (i >= 1) under order and offset b. */
static uint64_t residual(int order, uint64_t b, const uint64_t *y, size_t i)
{
    switch (order) {
    case 0:
        return y[i] - b;
    case 1:
        return y[i] - y[i - 1] - b;
    default:
        if (i == 1)
            return y[1] - y[0] - b;
        return y[i] - 2 * y[i - 1] + y[i - 2];
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
    *k = 0;
    for (int c = k0 - 2; c <= k0 + 1; c++) {
        uint64_t bits = 0;

        if (c < 0 || c > 62)
            continue;
        for (size_t i = 0; i < m; i++)
            bits += tsdb_rice_bits(u[i], c);
        if (bits < best) {
            best = bits;
            *k = c;
        }
    }
    return best;
}

/* y[i] = (x[i] - x[0]) / g, dividing the signed view of the difference. */
static void scaled(const int64_t *x, size_t n, uint64_t g, uint64_t *y)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)x[i] - (uint64_t)x[0];
        uint64_t q = magnitude(d) / g;

        y[i] = (d >> 63) ? 0 - q : q;
    }
}

uint64_t tsdb_series_plan(const int64_t *x, size_t n, struct tsdb_series *s)
{
    uint64_t y[TSDB_SERIES_MAX], u[TSDB_SERIES_MAX];
    uint64_t best = UINT64_MAX, g = 0;

    s->n = n;
    s->x0 = (uint64_t)x[0];
    s->g = 1;
    s->order = 0;
    s->k = TSDB_RICE_ZERO;
    s->b = 0;
    if (n < 2)
        return 0;
    for (size_t i = 1; i < n; i++)
        g = gcd(g, magnitude((uint64_t)x[i] - (uint64_t)x[0]));
    if (g == 0)
        g = 1;
    s->g = g;
    scaled(x, n, g, y);
    for (int order = 0; order <= 2; order++) {
        uint64_t b = offset(order, y, n), bits;
        int k;

        for (size_t i = 1; i < n; i++)
            u[i - 1] = zigzag(residual(order, b, y, i));
        bits = best_k(u, n - 1, &k);
        if (bits < best) {
            best = bits;
            s->order = order;
            s->k = k;
            s->b = b;
        }
    }
    return best;
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
    uint64_t y[TSDB_SERIES_MAX];

    if (s->n < 2 || s->k == TSDB_RICE_ZERO)
        return;
    scaled(x, s->n, s->g, y);
    for (size_t i = 1; i < s->n; i++)
        tsdb_rice_put(b, zigzag(residual(s->order, s->b, y, i)), s->k);
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
