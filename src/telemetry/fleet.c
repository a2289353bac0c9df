/*
 * fleet.c - a deterministic synthetic fleet of robots (see
 * telemetry/tsdb.h), the data the tests and benchmarks store.
 *
 * Every number is drawn from a hash of (seed, robot, stream, index), the
 * SplitMix64 finaliser, so a report depends on nothing but its arguments
 * and the generator has no state.  The model, per robot:
 *
 *   - duty cycle: it works D minutes of every P (P from 90 to 240, D 50 to
 *     80 % of it) at its own phase; operating hours count worked minutes;
 *   - temperatures follow the duty cycle through a first-order lag (time
 *     constant 15 min for joints, 40 for the battery): rising towards
 *     ambient + heat while working, falling towards ambient while idle, in
 *     the periodic steady state, which has a closed form;
 *   - joint wear: a start value (0 to 0.3) plus a rate per day (about
 *     2e-4, the rate of a joint that wears out in ten years or so, times
 *     0.5 to 1.5; one joint in 300 eight times faster), plus sensor noise
 *     of one unit of the reported precision;
 *   - battery: one cycle per 300 to 500 worked minutes; state of health
 *     loses 1e-4 to 2e-4 a cycle, plus noise of 1e-4;
 *   - motion precision: 0.1 to 0.4 mm, worse by half the mean wear, with
 *     20 um of noise, reported to 0.01 mm;
 *   - a third of the robots report a location: their site (in China's
 *     latitudes and longitudes) with 1 m of noise.
 *
 * Noise is the sum of four uniform draws, scaled to unit variance (an
 * Irwin-Hall approximation of a normal, bounded at +-3.5 sigma), which
 * costs one hash instead of a logarithm and a cosine.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "telemetry/tsdb_int.h"

/* Streams: what a hash is drawn for.  Per-robot and per-joint parameters
 * use index 0; per-report draws use the minute. */
enum stream {
    S_PHASE = 1, S_PERIOD, S_DUTY, S_DUTY_PHASE, S_LOST, S_JITTER,
    S_WEAR0, S_WEAR_RATE, S_WEAR_FAST, S_WEAR_NOISE, S_HEAT, S_TEMP_NOISE,
    S_CYCLE_LEN, S_CYCLES0, S_FADE, S_SOH_NOISE, S_BAT_NOISE, S_PREC0,
    S_PREC_NOISE, S_HOURS0, S_SITE_LAT, S_SITE_LON, S_LAT_NOISE,
    S_LON_NOISE
};

static uint64_t mix(uint64_t z)
{
    z += UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t draw(const struct tsdb_fleet *f, uint32_t robot, unsigned sub,
                     enum stream s, uint64_t index)
{
    return mix(mix(mix(f->seed ^ ((uint64_t)robot << 8 | sub)) ^ (uint64_t)s)
               ^ index);
}

/* Uniform in [lo, hi). */
static double uniform(const struct tsdb_fleet *f, uint32_t robot, unsigned sub,
                      enum stream s, uint64_t index, double lo, double hi)
{
    double u = (double)(draw(f, robot, sub, s, index) >> 11) * 0x1p-53;

    return lo + u * (hi - lo);
}

/* Approximately normal, mean 0 and standard deviation 1. */
static double noise(const struct tsdb_fleet *f, uint32_t robot, unsigned sub,
                    enum stream s, uint64_t index)
{
    uint64_t h = draw(f, robot, sub, s, index);
    double sum = 0;

    for (int i = 0; i < 4; i++)
        sum += (double)((h >> (16 * i)) & 0xFFFF) / 65536.0;
    /* Four uniforms: mean 2, variance 4/12. */
    return (sum - 2.0) * 1.7320508075688772;
}

/* v rounded to digits decimals: the double a unit's text would give. */
static double at_precision(double v, int digits)
{
    double p = tsdb_pow10(digits);

    return (double)llround(v * p) / p;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

struct duty {
    int64_t period, work, pos;     /* minutes; pos in 0..period-1 */
    bool working;
    double worked;                  /* minutes worked since minute 0 */
};

static void duty_at(const struct tsdb_fleet *f, uint32_t robot,
                    uint32_t minute, struct duty *d)
{
    int64_t phase, m, full;

    d->period = (int64_t)uniform(f, robot, 0, S_PERIOD, 0, 90, 241);
    d->work = (int64_t)((double)d->period
                        * uniform(f, robot, 0, S_DUTY, 0, 0.5, 0.8));
    phase = (int64_t)uniform(f, robot, 0, S_DUTY_PHASE, 0, 0,
                             (double)d->period);
    m = (int64_t)minute + phase;
    d->pos = m % d->period;
    d->working = d->pos < d->work;
    /* Worked minutes over [phase, m): whole periods, the partial one,
     * less what [0, phase) would have counted. */
    full = m / d->period;
    d->worked = (double)(full * d->work
                         + (d->pos < d->work ? d->pos : d->work));
    full = phase / d->period;
    d->worked -= (double)(full * d->work
                          + (phase % d->period < d->work ? phase % d->period
                                                         : d->work));
}

/* The lag's state, 0 (cold) to 1 (hot), in the periodic steady state of a
 * first-order system with time constant tau driven by the duty cycle. */
static double heat_level(const struct duty *d, double tau)
{
    double ew = exp(-(double)d->work / tau);
    double ei = exp(-(double)(d->period - d->work) / tau);
    double ep = exp(-(double)d->period / tau);
    double lo = (1 - ew) * ei / (1 - ep), hi = 1 - (1 - lo) * ew;

    if (d->working)
        return 1 - (1 - lo) * exp(-(double)d->pos / tau);
    return hi * exp(-(double)(d->pos - d->work) / tau);
}

void tsdb_fleet_init(struct tsdb_fleet *f)
{
    f->seed = 1;
    f->start = INT64_C(1767225600000);    /* 2026-01-01T00:00:00Z */
    f->jitter_ms = 10;
}

double tsdb_fleet_wear_rate(const struct tsdb_fleet *f, uint32_t robot,
                            unsigned joint)
{
    double r = 2e-4 * uniform(f, robot, joint, S_WEAR_RATE, 0, 0.5, 1.5);

    if (draw(f, robot, joint, S_WEAR_FAST, 0) % 300 == 0)
        r *= 8;
    return r;
}

static void put(struct tsdb_report *r, unsigned metric, double v)
{
    r->values[r->n].metric = metric;
    r->values[r->n].v = v;
    r->n++;
}

bool tsdb_fleet_report(const struct tsdb_fleet *f, uint32_t robot,
                       uint32_t minute, struct tsdb_report *r)
{
    const struct tsdb_metric_info *m;
    struct duty d;
    double days = (double)minute / 1440.0, jlevel, blevel, wsum = 0;
    double cycle_len, cycles, fade, prec;
    int64_t jitter;

    if (draw(f, robot, 0, S_LOST, minute) % 200 == 0)
        return false;
    jitter = f->jitter_ms > 0
                 ? (int64_t)(draw(f, robot, 0, S_JITTER, minute)
                             % (uint64_t)(2 * f->jitter_ms + 1))
                       - f->jitter_ms
                 : 0;
    r->t = f->start + (int64_t)minute * TSDB_MINUTE_MS
           + (int64_t)uniform(f, robot, 0, S_PHASE, 0, 0, 60000) + jitter;
    snprintf(r->firmware, sizeof r->firmware, "3.%u.%u", robot % 7,
             minute / 43200);
    r->n = 0;
    duty_at(f, robot, minute, &d);
    jlevel = heat_level(&d, 15.0);
    blevel = heat_level(&d, 40.0);

    for (unsigned j = 0; j < TSDB_FLEET_JOINTS; j++) {
        double w0 = uniform(f, robot, j, S_WEAR0, 0, 0, 0.3);
        double w = w0 + tsdb_fleet_wear_rate(f, robot, j) * days;
        double heat = uniform(f, robot, j, S_HEAT, 0, 8, 25);

        wsum += w;
        m = tsdb_metric_info(TSDB_METRIC_JOINT_WEAR(j));
        put(r, TSDB_METRIC_JOINT_WEAR(j),
            at_precision(clamp(w + 1e-4 * noise(f, robot, j, S_WEAR_NOISE,
                                                 minute), 0, 1), m->digits));
        m = tsdb_metric_info(TSDB_METRIC_JOINT_TEMP(j));
        put(r, TSDB_METRIC_JOINT_TEMP(j),
            at_precision(24 + heat * jlevel
                             + 0.15 * noise(f, robot, j, S_TEMP_NOISE, minute),
                         m->digits));
    }

    cycle_len = uniform(f, robot, 0, S_CYCLE_LEN, 0, 300, 500);
    cycles = floor(uniform(f, robot, 0, S_CYCLES0, 0, 0, 800))
             + floor(d.worked / cycle_len);
    fade = uniform(f, robot, 0, S_FADE, 0, 1e-4, 2e-4);
    put(r, TSDB_METRIC_BATTERY_SOH,
        at_precision(clamp(1 - fade * cycles
                               + 1e-4 * noise(f, robot, 0, S_SOH_NOISE,
                                              minute), 0, 1), 4));
    put(r, TSDB_METRIC_BATTERY_CYCLES, cycles);
    put(r, TSDB_METRIC_BATTERY_TEMP,
        at_precision(26 + 8 * blevel
                         + 0.2 * noise(f, robot, 0, S_BAT_NOISE, minute), 1));
    prec = uniform(f, robot, 0, S_PREC0, 0, 0.1, 0.4)
           + 0.5 * wsum / TSDB_FLEET_JOINTS
           + 0.02 * noise(f, robot, 0, S_PREC_NOISE, minute);
    put(r, TSDB_METRIC_PRECISION_MM, at_precision(clamp(prec, 0, 1000), 2));
    put(r, TSDB_METRIC_HOURS,
        at_precision(uniform(f, robot, 0, S_HOURS0, 0, 0, 20000)
                         + d.worked / 60.0, 2));
    if (robot % 3 == 0) {
        put(r, TSDB_METRIC_LAT,
            at_precision(uniform(f, robot, 0, S_SITE_LAT, 0, 20, 45)
                             + 1e-5 * noise(f, robot, 0, S_LAT_NOISE, minute),
                         6));
        put(r, TSDB_METRIC_LON,
            at_precision(uniform(f, robot, 0, S_SITE_LON, 0, 100, 125)
                             + 1e-5 * noise(f, robot, 0, S_LON_NOISE, minute),
                         6));
    }
    return true;
}
