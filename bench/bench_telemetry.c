/*
 * bench_telemetry.c - the telemetry engine's figures (docs/telemetry.md),
 * on the synthetic fleet of src/telemetry/fleet.c.
 *
 *   - storage: bytes per stored value of ROBOTS robots over one day, each
 *     metric cut into two-hour chunks as the store will keep them, per
 *     metric kind and overall; the same with timestamps on an exact
 *     one-minute cadence; and, for comparison, what Gorilla's encoding
 *     (Pelkonen et al., VLDB 2015, §4.1: delta-of-delta timestamps, XOR
 *     of doubles) takes for the very same chunks; and the bytes per hourly
 *     bucket of full seven-day rollup chunks;
 *   - encode and decode rates on one core, in values per second, over a
 *     day of RATE_ROBOTS robots held in memory;
 *   - a 30-day query of one metric recorded every minute, step one hour,
 *     answered from the rollup chunks and from the raw chunks (decoding
 *     included): median and 99th percentile latency.
 * Every rate is the median of RUNS runs, with the min and max.
 *
 *   bench_telemetry [ROBOTS]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "telemetry/tsdb.h"

#define RUNS         5
#define ROBOTS       200       /* one day each: 25M values */
#define RATE_ROBOTS  20        /* held in memory: 2.5M values, 40 MB */
#define QUERY_DAYS   30
#define QUERIES_RAW  200
#define QUERIES_ROLL 2000
#define KINDS        9

static const char *const kinds[KINDS] = {
    "joint.wear", "joint.temp", "battery.soh", "battery.cycles",
    "battery.temp", "precision_mm", "hours", "lat", "lon",
};

static void die(const char *what, const struct hrid_err *err)
{
    fprintf(stderr, "bench_telemetry: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static int kind_of(unsigned metric)
{
    for (int k = 0; k < KINDS; k++)
        if (strcmp(tsdb_metric_info(metric)->kind, kinds[k]) == 0)
            return k;
    return 0;
}

/* ------------------------------------------------------------------
 * Gorilla, for comparison: written from the paper's description.
 * ---------------------------------------------------------------- */

struct gbits {
    uint8_t *p;
    size_t nbits, cap;
    size_t pos;                  /* read position */
};

static void gput(struct gbits *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (b->nbits / 8 >= b->cap)
            die("gorilla buffer", NULL);
        if ((v >> i) & 1)
            b->p[b->nbits / 8] |= (uint8_t)(0x80 >> (b->nbits % 8));
        b->nbits++;
    }
}

static uint64_t gget(struct gbits *b, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++, b->pos++)
        v = v << 1 | ((b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1);
    return v;
}

static int64_t sext(uint64_t v, int bits)
{
    uint64_t m = UINT64_C(1) << (bits - 1);

    return (int64_t)((v ^ m) - m);
}

/* The header holds the first time (64 bits) and the count (16); the first
 * delta takes 32 bits (the paper's 14 are for seconds within a two-hour
 * block; these are milliseconds).  Delta-of-deltas go in the paper's
 * buckets, each range moved down by one to be two's complement: 0 -> '0';
 * [-64, 63] -> '10' + 7 bits; [-256, 255] -> '110' + 9; [-2048, 2047] ->
 * '1110' + 12; else '1111' + 32.  Values: the first in
 * 64 bits, then the XOR with the previous: 0 -> '0'; else '1', then '0' +
 * the meaningful bits when they fit within the previous block of
 * meaningful bits, or '1' + 5 bits of leading zeros + 6 bits of length +
 * the bits. */
static size_t gorilla_encode(const struct tsdb_sample *s, size_t n,
                             uint8_t *buf, size_t cap)
{
    struct gbits b = { buf, 0, cap, 0 };
    int64_t prev_delta = 0;
    uint64_t prev = 0;
    int lead = -1, trail = 0;

    memset(buf, 0, cap);
    gput(&b, (uint64_t)s[0].t, 64);
    gput(&b, n, 16);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits, x;

        if (i == 1) {
            prev_delta = s[1].t - s[0].t;
            gput(&b, (uint64_t)prev_delta, 32);
        } else if (i > 1) {
            int64_t delta = s[i].t - s[i - 1].t, dod = delta - prev_delta;

            prev_delta = delta;
            if (dod == 0)
                gput(&b, 0, 1);
            else if (dod >= -64 && dod <= 63)
                gput(&b, 2, 2), gput(&b, (uint64_t)dod, 7);
            else if (dod >= -256 && dod <= 255)
                gput(&b, 6, 3), gput(&b, (uint64_t)dod, 9);
            else if (dod >= -2048 && dod <= 2047)
                gput(&b, 14, 4), gput(&b, (uint64_t)dod, 12);
            else
                gput(&b, 15, 4), gput(&b, (uint64_t)dod, 32);
        }
        memcpy(&bits, &s[i].v, sizeof bits);
        if (i == 0) {
            gput(&b, bits, 64);
            prev = bits;
            continue;
        }
        x = bits ^ prev;
        prev = bits;
        if (x == 0) {
            gput(&b, 0, 1);
            continue;
        }
        gput(&b, 1, 1);
        {
            int l = __builtin_clzll(x), t = __builtin_ctzll(x);

            if (l > 31)
                l = 31;
            if (lead >= 0 && l >= lead && t >= trail) {
                gput(&b, 0, 1);
                gput(&b, x >> trail, 64 - lead - trail);
            } else {
                lead = l;
                trail = t;
                gput(&b, 1, 1);
                gput(&b, (uint64_t)l, 5);
                gput(&b, (uint64_t)(64 - l - t) & 63, 6);
                gput(&b, x >> t, 64 - l - t);
            }
        }
    }
    /* Checked: it decodes to what went in. */
    {
        struct gbits r = { buf, b.nbits, cap, 0 };
        int64_t t = (int64_t)gget(&r, 64), delta = 0;
        size_t m = (size_t)gget(&r, 16);
        uint64_t v = 0;
        int ld = 0, tr = 0;

        for (size_t i = 0; i < m; i++) {
            uint64_t x;

            if (i == 1) {
                delta = (int64_t)gget(&r, 32);
                t += delta;
            } else if (i > 1) {
                int64_t dod;

                if (gget(&r, 1) == 0)
                    dod = 0;
                else if (gget(&r, 1) == 0)
                    dod = sext(gget(&r, 7), 7);
                else if (gget(&r, 1) == 0)
                    dod = sext(gget(&r, 9), 9);
                else if (gget(&r, 1) == 0)
                    dod = sext(gget(&r, 12), 12);
                else
                    dod = sext(gget(&r, 32), 32);
                delta += dod;
                t += delta;
            }
            if (i == 0) {
                v = gget(&r, 64);
            } else if (gget(&r, 1) == 1) {
                if (gget(&r, 1) == 1) {
                    int len;

                    ld = (int)gget(&r, 5);
                    len = (int)gget(&r, 6);
                    len = len == 0 ? 64 : len;
                    tr = 64 - ld - len;
                }
                x = gget(&r, 64 - ld - tr) << tr;
                v ^= x;
            }
            if (t != s[i].t || memcmp(&v, &s[i].v, sizeof v) != 0)
                die("gorilla round trip", NULL);
        }
    }
    return (b.nbits + 7) / 8;
}

/* ------------------------------------------------------------------
 * The fleet's data, one robot at a time
 * ---------------------------------------------------------------- */

/* One robot's day: the samples of each metric. */
struct day {
    size_t n[TSDB_METRIC_COUNT];
    struct tsdb_sample s[TSDB_METRIC_COUNT][1440];
};

static void robot_day(const struct tsdb_fleet *f, uint32_t robot,
                      uint32_t first_minute, struct day *d)
{
    memset(d->n, 0, sizeof d->n);
    for (uint32_t m = first_minute; m < first_minute + 1440; m++) {
        struct tsdb_report r;

        if (!tsdb_fleet_report(f, robot, m, &r))
            continue;
        for (size_t i = 0; i < r.n; i++) {
            unsigned id = r.values[i].metric;

            d->s[id][d->n[id]].t = r.t;
            d->s[id][d->n[id]].v = r.values[i].v;
            d->n[id]++;
        }
    }
}

/* Cuts s[0..n) into chunk windows: calls fn for each piece. */
static void for_each_window(const struct tsdb_sample *s, size_t n,
                            void (*fn)(const struct tsdb_sample *, size_t,
                                       void *), void *arg)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i + 1;

        while (j < n && j - i < TSDB_CHUNK_SAMPLES
               && tsdb_chunk_window(s[j].t) == tsdb_chunk_window(s[i].t))
            j++;
        fn(s + i, j - i, arg);
        i = j;
    }
}

struct sizes {
    unsigned metric;
    double bytes[KINDS], gorilla[KINDS], values[KINDS];
    uint8_t buf[TSDB_CHUNK_BYTES_MAX];
    uint8_t gbuf[4096];
};

static size_t encode_chunk(unsigned metric, const struct tsdb_sample *s,
                           size_t n, uint8_t *buf, size_t cap)
{
    struct tsdb_encoder e;
    struct hrid_err err;
    size_t len;

    if (tsdb_encoder_init(&e, metric, &err) != HRID_OK)
        die("encoder", &err);
    for (size_t i = 0; i < n; i++)
        if (tsdb_encoder_append(&e, s[i].t, s[i].v, &err) != HRID_OK)
            die("append", &err);
    if (tsdb_encoder_finish(&e, buf, cap, &len, &err) != HRID_OK)
        die("finish", &err);
    return len;
}

static void size_chunk(const struct tsdb_sample *s, size_t n, void *arg)
{
    struct sizes *z = arg;
    int k = kind_of(z->metric);

    z->bytes[k] += (double)encode_chunk(z->metric, s, n, z->buf,
                                        sizeof z->buf);
    z->gorilla[k] += (double)gorilla_encode(s, n, z->gbuf, sizeof z->gbuf);
    z->values[k] += (double)n;
}

static void storage(int robots)
{
    static struct day d;
    struct sizes exact, jitter;
    struct tsdb_fleet f;
    double tb = 0, tg = 0, tv = 0, eb = 0, ev = 0;

    memset(&exact, 0, sizeof exact);
    memset(&jitter, 0, sizeof jitter);
    tsdb_fleet_init(&f);
    for (int pass = 0; pass < 2; pass++) {
        struct sizes *z = pass == 0 ? &jitter : &exact;

        f.jitter_ms = pass == 0 ? 10 : 0;
        for (int r = 0; r < robots; r++) {
            robot_day(&f, (uint32_t)r, 0, &d);
            for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
                z->metric = m;
                for_each_window(d.s[m], d.n[m], size_chunk, z);
            }
        }
    }
    printf("storage: %d robots x 1 day, one report a minute, chunks of 2 h\n"
           "(timer jitter +-10 ms; Gorilla = the paper's encoding of the "
           "same chunks)\n", robots);
    printf("  %-16s %12s %10s %10s %14s\n", "metric", "values", "B/value",
           "Gorilla", "exact cadence");
    for (int k = 0; k < KINDS; k++) {
        printf("  %-16s %12.0f %10.3f %10.3f %14.3f\n", kinds[k],
               jitter.values[k], jitter.bytes[k] / jitter.values[k],
               jitter.gorilla[k] / jitter.values[k],
               exact.bytes[k] / exact.values[k]);
        tb += jitter.bytes[k];
        tg += jitter.gorilla[k];
        tv += jitter.values[k];
        eb += exact.bytes[k];
        ev += exact.values[k];
    }
    printf("  %-16s %12.0f %10.3f %10.3f %14.3f\n", "overall", tv, tb / tv,
           tg / tv, eb / ev);
    printf("  per robot and day: %.1f KB raw; 1M robots x 90 days: %.1f TB\n",
           tb / robots / 1e3, tb / robots * 1e6 * 90 / 1e12);
}

/* Full seven-day rollup chunks of a few robots. */
static void rollup_storage(int robots)
{
    static struct day d;
    static struct tsdb_rollup b[TSDB_METRIC_COUNT][TSDB_ROLLUP_BUCKETS];
    size_t nb[TSDB_METRIC_COUNT];
    uint8_t buf[TSDB_ROLLUP_BYTES_MAX];
    struct tsdb_fleet f;
    struct hrid_err err;
    double bytes = 0, buckets = 0;

    tsdb_fleet_init(&f);
    /* 2026-01-01 is the first day of a rollup window. */
    for (int r = 0; r < robots; r++) {
        memset(nb, 0, sizeof nb);
        for (uint32_t day = 0; day < 7; day++) {
            robot_day(&f, (uint32_t)r, day * 1440, &d);
            for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++)
                if (tsdb_rollup_add(b[m], TSDB_ROLLUP_BUCKETS, &nb[m], d.s[m],
                                    d.n[m], tsdb_metric_info(m)->digits, &err)
                    != HRID_OK)
                    die("rollup", &err);
        }
        for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
            size_t len;

            if (nb[m] == 0)
                continue;
            if (tsdb_rollup_encode(m, b[m], nb[m], buf, sizeof buf, &len,
                                   &err) != HRID_OK)
                die("rollup encode", &err);
            bytes += (double)len;
            buckets += (double)nb[m];
        }
    }
    printf("rollups: %d robots x 7 days: %.0f hourly buckets, %.2f B/bucket; "
           "per robot and year: %.2f MB\n", robots, buckets, bytes / buckets,
           bytes / robots / 7 * 365 / 1e6);
}

/* ------------------------------------------------------------------
 * Rates
 * ---------------------------------------------------------------- */

struct stored {
    size_t n;
    uint8_t *bytes;
    size_t *off, *len;
    size_t cap;
};

struct rate_arg {
    unsigned metric;
    struct stored *st;
    double values;
};

static void store_chunk(const struct tsdb_sample *s, size_t n, void *arg)
{
    struct rate_arg *a = arg;
    struct stored *st = a->st;
    size_t at = st->n ? st->off[st->n - 1] + st->len[st->n - 1] : 0;

    if (at + TSDB_CHUNK_BYTES_MAX > st->cap)
        die("chunk store full", NULL);
    st->off[st->n] = at;
    st->len[st->n] = encode_chunk(a->metric, s, n, st->bytes + at,
                                  TSDB_CHUNK_BYTES_MAX);
    st->n++;
    a->values += (double)n;
}

static void rates(void)
{
    static struct day days[RATE_ROBOTS];
    static struct tsdb_sample out[TSDB_CHUNK_SAMPLES];
    struct stored st;
    struct tsdb_fleet f;
    struct rate_arg a;
    struct hrid_err err;
    double enc[RUNS], dec[RUNS], values = 0, sink = 0;
    size_t maxchunks = (size_t)RATE_ROBOTS * TSDB_METRIC_COUNT * 13;

    tsdb_fleet_init(&f);
    for (int r = 0; r < RATE_ROBOTS; r++)
        robot_day(&f, (uint32_t)r, 0, &days[r]);
    st.cap = maxchunks * 400;
    st.bytes = malloc(st.cap);
    st.off = malloc(maxchunks * sizeof *st.off);
    st.len = malloc(maxchunks * sizeof *st.len);
    if (st.bytes == NULL || st.off == NULL || st.len == NULL)
        die("out of memory", NULL);

    for (int run = 0; run < RUNS; run++) {
        double t0;

        st.n = 0;
        a.st = &st;
        a.values = 0;
        t0 = bench_now();
        for (int r = 0; r < RATE_ROBOTS; r++)
            for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
                a.metric = m;
                for_each_window(days[r].s[m], days[r].n[m], store_chunk, &a);
            }
        enc[run] = a.values / (bench_now() - t0);
        values = a.values;

        t0 = bench_now();
        for (size_t c = 0; c < st.n; c++) {
            size_t n;

            if (tsdb_chunk_decode(st.bytes + st.off[c], st.len[c], out,
                                  TSDB_CHUNK_SAMPLES, &n, NULL, &err)
                != HRID_OK)
                die("decode", &err);
            sink += out[n - 1].v;
        }
        dec[run] = values / (bench_now() - t0);
    }
    printf("rates: one core, %d robots x 1 day in memory, %.0f values in "
           "%zu chunks\n", RATE_ROBOTS, values, st.n);
    {
        double emin, emax, dmin, dmax, em, dm;

        em = bench_median(enc, RUNS);
        emin = enc[0];
        emax = enc[RUNS - 1];
        dm = bench_median(dec, RUNS);
        dmin = dec[0];
        dmax = dec[RUNS - 1];
        printf("  encode (append + finish)  %7.2f M values/s  (median of %d "
               "runs; min %.2f, max %.2f)\n", em / 1e6, RUNS, emin / 1e6,
               emax / 1e6);
        printf("  decode (checked, to (t, v)) %5.2f M values/s  (median of %d "
               "runs; min %.2f, max %.2f)\n", dm / 1e6, RUNS, dmin / 1e6,
               dmax / 1e6);
    }
    if (sink == 12345.678)
        printf("%g\n", sink);
    free(st.bytes);
    free(st.off);
    free(st.len);
}

/* ------------------------------------------------------------------
 * The 30-day query
 * ---------------------------------------------------------------- */

static void query(void)
{
    static struct day d;
    static struct tsdb_sample all[QUERY_DAYS * 1440];
    static struct tsdb_sample raw[QUERY_DAYS * 1440];
    static struct tsdb_rollup b[QUERY_DAYS * 24 + TSDB_ROLLUP_BUCKETS];
    static struct tsdb_rollup rb[QUERY_DAYS * 24 + TSDB_ROLLUP_BUCKETS];
    static struct tsdb_point pts[QUERY_DAYS * 24];
    static double lat_roll[QUERIES_ROLL], lat_raw[QUERIES_RAW];
    static uint8_t rawbytes[QUERY_DAYS * 12 + 1][TSDB_CHUNK_BYTES_MAX];
    static size_t rawlen[QUERY_DAYS * 12 + 1];
    uint8_t rollbytes[6][TSDB_ROLLUP_BYTES_MAX];
    size_t rolllen[6], nall = 0, nb = 0, nraw = 0, nroll = 0, np = 0;
    unsigned metric = TSDB_METRIC_JOINT_WEAR(0);
    int digits = tsdb_metric_info(metric)->digits;
    struct tsdb_fleet f;
    struct hrid_err err;
    struct tsdb_query q;
    double rawkb = 0;

    tsdb_fleet_init(&f);
    for (uint32_t day = 0; day < QUERY_DAYS; day++) {
        robot_day(&f, 5, day * 1440, &d);
        memcpy(all + nall, d.s[metric], d.n[metric] * sizeof all[0]);
        nall += d.n[metric];
    }
    /* The raw chunks, and the rollup chunks of each seven-day window. */
    for (size_t i = 0; i < nall;) {
        size_t j = i + 1;

        while (j < nall && j - i < TSDB_CHUNK_SAMPLES
               && tsdb_chunk_window(all[j].t) == tsdb_chunk_window(all[i].t))
            j++;
        rawlen[nraw] = encode_chunk(metric, all + i, j - i, rawbytes[nraw],
                                    TSDB_CHUNK_BYTES_MAX);
        rawkb += (double)rawlen[nraw] / 1e3;
        nraw++;
        i = j;
    }
    if (tsdb_rollup_add(b, sizeof b / sizeof b[0], &nb, all, nall, digits,
                        &err) != HRID_OK)
        die("rollup", &err);
    for (size_t i = 0; i < nb;) {
        size_t j = i + 1;

        while (j < nb && tsdb_rollup_window(b[j].start)
                             == tsdb_rollup_window(b[i].start))
            j++;
        if (tsdb_rollup_encode(metric, b + i, j - i, rollbytes[nroll],
                               sizeof rollbytes[0], &rolllen[nroll], &err)
            != HRID_OK)
            die("rollup encode", &err);
        nroll++;
        i = j;
    }

    memset(&q, 0, sizeof q);
    q.from = f.start;
    q.to = f.start + QUERY_DAYS * TSDB_DAY_MS;
    q.step = TSDB_HOUR_MS;
    q.digits = digits;
    for (int k = 0; k < QUERIES_ROLL; k++) {
        double t0 = bench_now();
        size_t n = 0;

        for (size_t c = 0; c < nroll; c++) {
            size_t got;

            if (tsdb_rollup_decode(rollbytes[c], rolllen[c], rb + n,
                                   sizeof rb / sizeof rb[0] - n, &got, NULL,
                                   &err) != HRID_OK)
                die("rollup decode", &err);
            n += got;
        }
        q.raw = NULL;
        q.nraw = 0;
        q.rollups = rb;
        q.nrollups = n;
        if (tsdb_query_run(&q, pts, sizeof pts / sizeof pts[0], &np, &err)
            != HRID_OK)
            die("query", &err);
        lat_roll[k] = bench_now() - t0;
    }
    for (int k = 0; k < QUERIES_RAW; k++) {
        double t0 = bench_now();
        size_t n = 0;

        for (size_t c = 0; c < nraw; c++) {
            size_t got;

            if (tsdb_chunk_decode(rawbytes[c], rawlen[c], raw + n,
                                  sizeof raw / sizeof raw[0] - n, &got, NULL,
                                  &err) != HRID_OK)
                die("decode", &err);
            n += got;
        }
        q.raw = raw;
        q.nraw = n;
        q.rollups = NULL;
        q.nrollups = 0;
        if (tsdb_query_run(&q, pts, sizeof pts / sizeof pts[0], &np, &err)
            != HRID_OK)
            die("query", &err);
        lat_raw[k] = bench_now() - t0;
    }
    printf("query: %s of one robot, %d days a minute apart (%zu samples, "
           "%zu raw chunks of %.1f KB, %zu rollup chunks), step 1 h -> %zu "
           "points\n", "joint.0.wear", QUERY_DAYS, nall, nraw, rawkb, nroll,
           np);
    bench_median(lat_roll, QUERIES_ROLL);
    bench_median(lat_raw, QUERIES_RAW);
    printf("  from rollup chunks  median %7.3f ms  p99 %7.3f ms  (%d "
           "queries, decoding included)\n", lat_roll[QUERIES_ROLL / 2] * 1e3,
           lat_roll[QUERIES_ROLL * 99 / 100] * 1e3, QUERIES_ROLL);
    printf("  from raw chunks     median %7.3f ms  p99 %7.3f ms  (%d "
           "queries, decoding included)\n", lat_raw[QUERIES_RAW / 2] * 1e3,
           lat_raw[QUERIES_RAW * 99 / 100] * 1e3, QUERIES_RAW);
}

int main(int argc, char **argv)
{
    int robots = argc > 1 ? atoi(argv[1]) : ROBOTS;

    if (robots < 1) {
        fprintf(stderr, "usage: bench_telemetry [ROBOTS]\n");
        return 2;
    }
    storage(robots);
    rollup_storage(10);
    rates();
    query();
    return 0;
}
