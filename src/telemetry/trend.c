/*
 * trend.c - least-squares trends, threshold crossings, percentiles and
 * robust outliers (see telemetry/tsdb.h).
 *
 * The fit works on times relative to the first point and centred on
 * their mean, in two passes (means, then centred sums of squares and
 * products): the textbook one-pass formula subtracts two sums of squares
 * near 10^25 when times are epoch milliseconds and keeps no digit of the
 * slope.  Wear rates are around 10^-3 per day, so the slope is reported
 * per day rather than per millisecond.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "telemetry/tsdb_int.h"

int tsdb_fit_line(const struct tsdb_sample *p, size_t n, struct tsdb_fit *fit,
                  struct hrid_err *err)
{
    double md = 0, mv = 0, sxx = 0, sxy = 0, syy = 0, slope_ms;
    int64_t t0;

    *fit = (struct tsdb_fit){ 0 };
    if (n < 2)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "a line needs two points, not %zu", n);
    t0 = p[0].t;
    for (size_t i = 0; i < n; i++) {
        if (p[i].t < 0 || p[i].t > TSDB_TIME_MAX)
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_TIME, 0,
                                "point %zu: time outside 1970 to 9999", i);
        if (!isfinite(p[i].v))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_NOT_FINITE, 0,
                                "point %zu: value is not finite", i);
        /* Differences of valid times are below 2^48: exact doubles. */
        md += (double)(p[i].t - t0);
        mv += p[i].v;
    }
    md /= (double)n;
    mv /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)(p[i].t - t0) - md, dy = p[i].v - mv;

        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if (sxx == 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "all %zu points have the same time", n);
    slope_ms = sxy / sxx;
    fit->n = n;
    fit->t_ref = t0 + llround(md);
    /* The line passes through (t0 + md, mv); t_ref is md rounded to a
     * whole ms, so move along the line by that rounding. */
    fit->value_at_ref = mv + slope_ms * ((double)(fit->t_ref - t0) - md);
    fit->slope = slope_ms * (double)TSDB_DAY_MS;
    fit->r2 = syy == 0 ? 1.0 : sxy * sxy / (sxx * syy);
    if (fit->r2 > 1)
        fit->r2 = 1;
    fit->resid_sd = n > 2 ? sqrt(fmax(0, syy - slope_ms * sxy)
                                 / (double)(n - 2))
                          : 0;
    return HRID_OK;
}

double tsdb_fit_value(const struct tsdb_fit *fit, int64_t t)
{
    return fit->value_at_ref
           + fit->slope * ((double)(t - fit->t_ref) / (double)TSDB_DAY_MS);
}

int tsdb_fit_crossing(const struct tsdb_fit *fit, double threshold,
                      bool rising, int64_t *when, struct hrid_err *err)
{
    double days, t;

    *when = -1;
    if (!isfinite(threshold))
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_NOT_FINITE, 0,
                            "threshold is not a finite number");
    if (fit->slope == 0 || (rising && fit->slope < 0)
        || (!rising && fit->slope > 0))
        return TSDB_NEVER;
    days = (threshold - fit->value_at_ref) / fit->slope;
    t = (double)fit->t_ref + days * (double)TSDB_DAY_MS;
    if (!(t >= 0 && t <= (double)TSDB_TIME_MAX))
        return TSDB_NEVER;
    *when = llround(t);
    return HRID_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int tsdb_percentiles(double *v, size_t n, const double *p, size_t np,
                     double *out, struct hrid_err *err)
{
    if (n == 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "percentiles of no value");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_NOT_FINITE, 0,
                                "value %zu is not finite", i);
    for (size_t i = 0; i < np; i++)
        if (!(p[i] >= 0 && p[i] <= 100))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_RANGE, 0,
                                "percentile %g is out of range 0..100", p[i]);
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t i = 0; i < np; i++) {
        double h = (double)(n - 1) * p[i] / 100.0;
        size_t lo = (size_t)h;

        out[i] = lo + 1 < n ? v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo])
                            : v[n - 1];
    }
    return HRID_OK;
}

/* The median of sorted s[0..n), n >= 1. */
static double median_sorted(const double *s, size_t n)
{
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int tsdb_outliers(const double *v, size_t n, double cut, double *scratch,
                  double *z, bool *outlier, size_t *count,
                  struct hrid_err *err)
{
    double med, mad, scale = 0, mean_ad = 0;
    size_t flagged = 0;

    if (count != NULL)
        *count = 0;
    if (n == 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_DEGENERATE, 0,
                            "outliers of no value");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_NOT_FINITE, 0,
                                "value %zu is not finite", i);
        scratch[i] = v[i];
    }
    qsort(scratch, n, sizeof *scratch, cmp_double);
    med = median_sorted(scratch, n);
    for (size_t i = 0; i < n; i++) {
        scratch[i] = fabs(v[i] - med);
        mean_ad += scratch[i];
    }
    mean_ad /= (double)n;
    qsort(scratch, n, sizeof *scratch, cmp_double);
    mad = median_sorted(scratch, n);
    /* 0.6745 is the 75th percentile of the standard normal, so MAD /
     * 0.6745 estimates sigma; 1.2533 (sqrt(pi / 2)) does the same for the
     * mean absolute deviation. */
    if (mad > 0)
        scale = mad / 0.6745;
    else if (mean_ad > 0)
        scale = mean_ad * 1.253314;
    for (size_t i = 0; i < n; i++) {
        z[i] = scale > 0 ? (v[i] - med) / scale : 0;
        if (outlier != NULL)
            outlier[i] = fabs(z[i]) > cut;
        flagged += fabs(z[i]) > cut;
    }
    if (count != NULL)
        *count = flagged;
    return HRID_OK;
}
