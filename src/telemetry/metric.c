/*
 * metric.c - metric ids and names, value checks and quantisation, and the
 * rules of a health report (see telemetry/tsdb.h, docs/telemetry.md).
 *
 * The table of metrics is constant data.  A value is checked in the order
 * a reader of the error would want: is it a number, is it in range, is it
 * at the declared precision.  Quantisation relies on IEEE 754 division
 * being correctly rounded: q / 10^d, with q and 10^d exact doubles, is the
 * double nearest to the decimal q * 10^-d, which is what strtod returns
 * for its text; so a value a unit sent as "0.4523" is stored as 4523 and
 * comes back as the same double.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "telemetry/tsdb_int.h"

/* Precisions and ranges, and where they come from:
 *   wear, SoH    4 digits (0.01 %): finer than a BMS or a wear model
 *                reports, so no unit has to round;
 *   temperatures 0.1 degC, what motor and cell sensors resolve; joints
 *                from -50 (cold storage) to 200 degC (past any winding's
 *                insulation class), cells from -50 to 150;
 *   cycles       whole cycles, up to a million;
 *   precision    1 um, the repeatability figures of industrial arms are
 *                quoted to 0.01 mm, up to a metre;
 *   hours        0.01 h (36 s), up to a million hours (114 years);
 *   lat, lon     6 digits, 0.11 m at the equator: a site, not a person's
 *                path, is what the fences of DESIGN §4 need. */
static const struct tsdb_metric_info joint_wear =
    { "joint.wear", "ratio", 4, 0.0, 1.0 };
static const struct tsdb_metric_info joint_temp =
    { "joint.temp", "degC", 1, -50.0, 200.0 };
static const struct tsdb_metric_info unit_metrics[] = {
    { "battery.soh", "ratio", 4, 0.0, 1.0 },
    { "battery.cycles", "count", 0, 0.0, 1e6 },
    { "battery.temp", "degC", 1, -50.0, 150.0 },
    { "precision_mm", "mm", 3, 0.0, 1000.0 },
    { "hours", "h", 2, 0.0, 1e6 },
    { "lat", "deg", 6, -90.0, 90.0 },
    { "lon", "deg", 6, -180.0, 180.0 },
};

/* 10^0 .. 10^22, every one exact as a double. */
static const double pow10_table[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Quantised values stay within 2^53 so that each is an exact double. */
#define QMAX 9007199254740992.0

double tsdb_pow10(int digits)
{
    if (digits < 0 || digits > 22)
        return NAN;
    return pow10_table[digits];
}

int tsdb_corrupt(struct hrid_err *err, const char *what)
{
    return hrid_err_set(err, HRID_EINVAL, TSDB_R_CORRUPT, 0,
                        "corrupt chunk: %s", what);
}

const struct tsdb_metric_info *tsdb_metric_info(unsigned id)
{
    if (id < TSDB_JOINTS)
        return &joint_wear;
    if (id < 2 * TSDB_JOINTS)
        return &joint_temp;
    if (id < TSDB_METRIC_COUNT)
        return &unit_metrics[id - 2 * TSDB_JOINTS];
    return NULL;
}

int tsdb_metric_joint(unsigned id)
{
    return id < 2 * TSDB_JOINTS ? (int)(id % TSDB_JOINTS) : -1;
}

/* Copies at most 40 bytes of untrusted text into buf (64 bytes) for a
 * message, with '?' for bytes that are not printable ASCII and "..." when
 * cut, so that a message never carries control bytes or broken UTF-8. */
static const char *quoted(const char *s, size_t len, char buf[64])
{
    size_t n = len > 40 ? 40 : len, i;

    for (i = 0; i < n; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    if (n < len)
        memcpy(buf + i, "...", 4);
    else
        buf[i] = '\0';
    return buf;
}

int tsdb_metric_parse(const char *name, size_t len, unsigned *id,
                      struct hrid_err *err)
{
    char q[64];
    const char *p, *end = name + len;
    unsigned j = 0;
    size_t nd = 0;

    *id = TSDB_METRIC_COUNT;
    if (name == NULL)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0, "no metric");
    for (size_t i = 0; i < sizeof unit_metrics / sizeof unit_metrics[0]; i++)
        if (strlen(unit_metrics[i].kind) == len
            && memcmp(unit_metrics[i].kind, name, len) == 0) {
            *id = 2 * TSDB_JOINTS + (unsigned)i;
            return HRID_OK;
        }
    if (len < 6 || memcmp(name, "joint.", 6) != 0)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "unknown metric '%s'", quoted(name, len, q));
    for (p = name + 6; p < end && *p >= '0' && *p <= '9' && nd < 3; p++) {
        j = j * 10 + (unsigned)(*p - '0');
        nd++;
    }
    if (nd == 0 || (p < end && *p >= '0' && *p <= '9'))
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "metric '%s': joint id is not a number of 1 or "
                            "2 digits", quoted(name, len, q));
    if (nd > 1 && name[6] == '0')
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "metric '%s': joint id has a leading zero",
                            quoted(name, len, q));
    if (j >= TSDB_JOINTS)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "metric '%s': joint id %u is out of range 0..%d",
                            quoted(name, len, q), j, TSDB_JOINTS - 1);
    if ((size_t)(end - p) == 5 && memcmp(p, ".wear", 5) == 0)
        *id = TSDB_METRIC_JOINT_WEAR(j);
    else if ((size_t)(end - p) == 5 && memcmp(p, ".temp", 5) == 0)
        *id = TSDB_METRIC_JOINT_TEMP(j);
    else
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "metric '%s': a joint metric ends in '.wear' or "
                            "'.temp'", quoted(name, len, q));
    return HRID_OK;
}

int tsdb_metric_format(unsigned id, char *buf, size_t cap,
                       struct hrid_err *err)
{
    int len;

    if (cap > 0)
        buf[0] = '\0';
    if (id >= TSDB_METRIC_COUNT)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "unknown metric id %u", id);
    if (id < 2 * TSDB_JOINTS)
        len = snprintf(buf, cap, "joint.%u.%s", id % TSDB_JOINTS,
                       id < TSDB_JOINTS ? "wear" : "temp");
    else
        len = snprintf(buf, cap, "%s", tsdb_metric_info(id)->kind);
    if (len < 0 || (size_t)len >= cap) {
        if (cap > 0)
            buf[0] = '\0';
        return hrid_err_set(err, HRID_ERANGE, TSDB_R_FULL, 0,
                            "metric name needs %d bytes, room for %zu",
                            len + 1, cap);
    }
    return HRID_OK;
}

double tsdb_dequantize(int64_t q, int digits)
{
    return (double)q / tsdb_pow10(digits);
}

bool tsdb_quantize(double v, int digits, int64_t *q)
{
    double x, p = tsdb_pow10(digits);
    int64_t c;

    *q = 0;
    if (!isfinite(v) || digits < 0 || digits > TSDB_DIGITS_MAX)
        return false;
    x = v * p;
    if (!(fabs(x) <= QMAX))
        return false;
    /* The product is within an ulp or so of the integer when there is
     * one; the neighbours cover the rounding of the multiplication (and
     * of this rounding, which llround would do no better, slower). */
    c = (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
    for (int64_t d = 0; d <= 2; d++) {
        int64_t cand = d == 0 ? c : d == 1 ? c - 1 : c + 1;

        if (fabs((double)cand) <= QMAX && (double)cand / p == v) {
            *q = cand;
            return true;
        }
    }
    return false;
}

int tsdb_value_check(unsigned id, double v, int64_t *q, struct hrid_err *err)
{
    const struct tsdb_metric_info *m = tsdb_metric_info(id);
    char name[TSDB_METRIC_NAME_MAX];

    *q = 0;
    if (m == NULL)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_METRIC, 0,
                            "unknown metric id %u", id);
    if (isfinite(v) && v >= m->min && v <= m->max
        && tsdb_quantize(v, m->digits, q))
        return HRID_OK;
    /* The name is only for the message: formatting it for every value
     * would cost more than the check. */
    tsdb_metric_format(id, name, sizeof name, NULL);
    if (!isfinite(v))
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_NOT_FINITE, 0,
                            "%s: value %g is not a finite number", name, v);
    if (v < m->min || v > m->max)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_RANGE, 0,
                            "%s: value %.17g is out of range %g..%g %s",
                            name, v, m->min, m->max, m->unit);
    return hrid_err_set(err, HRID_EINVAL, TSDB_R_PRECISION, 0,
                        "%s: value %.17g has more than %d decimal digits",
                        name, v, m->digits);
}

double tsdb_value_round(unsigned id, double v)
{
    const struct tsdb_metric_info *m = tsdb_metric_info(id);
    double p;

    if (m == NULL || !isfinite(v))
        return v;
    p = tsdb_pow10(m->digits);
    return round(v * p) / p;
}

static bool firmware_ok(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);

    if (nul == NULL)
        return false;
    for (; s < nul; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z')
              || (*s >= 'a' && *s <= 'z') || *s == '.' || *s == '_'
              || *s == '+' || *s == '-'))
            return false;
    return true;
}

int tsdb_report_check(const struct tsdb_report *r, struct hrid_err *err)
{
    uint64_t seen[(TSDB_METRIC_COUNT + 63) / 64] = { 0 };
    bool lat = false, lon = false;

    if (r->t < 0 || r->t > TSDB_TIME_MAX)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_TIME, 0,
                            "report time %" PRId64 " ms is outside 1970 to "
                            "9999", r->t);
    if (!firmware_ok(r->firmware, sizeof r->firmware))
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_REPORT, 0,
                            "firmware version has a character outside "
                            "0-9A-Za-z._+- or more than %d", TSDB_FIRMWARE_MAX);
    if (r->n == 0 || r->n > TSDB_REPORT_VALUES)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_REPORT, 0,
                            "a report holds 1 to %d values, not %zu",
                            TSDB_REPORT_VALUES, r->n);
    for (size_t i = 0; i < r->n; i++) {
        unsigned id = r->values[i].metric;
        int64_t q;
        int rc = tsdb_value_check(id, r->values[i].v, &q, err);

        if (rc != HRID_OK)
            return rc;
        if (seen[id / 64] & (UINT64_C(1) << (id % 64))) {
            char name[TSDB_METRIC_NAME_MAX];

            tsdb_metric_format(id, name, sizeof name, NULL);
            return hrid_err_set(err, HRID_EINVAL, TSDB_R_REPORT, 0,
                                "%s is reported twice", name);
        }
        seen[id / 64] |= UINT64_C(1) << (id % 64);
        lat |= id == TSDB_METRIC_LAT;
        lon |= id == TSDB_METRIC_LON;
    }
    if (lat != lon)
        return hrid_err_set(err, HRID_EINVAL, TSDB_R_REPORT, 0,
                            "a location has both lat and lon, this one "
                            "only %s", lat ? "lat" : "lon");
    return HRID_OK;
}
