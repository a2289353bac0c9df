/*
 * test_tsdb.c - unit tests of src/telemetry, the telemetry storage engine.
 *
 * What went in must come out: every chunk the tests make is decoded and
 * compared bit for bit with its input, on the synthetic fleet's data and
 * on edge values.  Every refusal the header promises is provoked and its
 * reason checked.  Corrupted and truncated chunks must be refused (and,
 * with a CRC forged to match, must fail or decode to samples that obey
 * the format's rules: under ASan, any out-of-bounds read fails the test).
 * Rollups and queries are compared with naive computations written here;
 * trends with exact lines, noisy lines and the fleet's drawn wear rates.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "telemetry/tsdb.h"
#include "telemetry/tsdb_int.h"

/* 2026-01-01T00:00:00Z, the start of a chunk window and of a rollup
 * window (it is a Thursday). */
#define T0 INT64_C(1767225600000)

/* A small deterministic generator for the tests' own random choices. */
static uint64_t rng_state = 0x243F6A8885A308D3u;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Encodes n samples of metric into buf and returns the length; every
 * append must succeed. */
static size_t encode(unsigned metric, const struct tsdb_sample *s, size_t n,
                     unsigned char *buf, size_t cap)
{
    struct tsdb_encoder e;
    struct hrid_err err;
    size_t len;

    assert_int_equal(tsdb_encoder_init(&e, metric, &err), HRID_OK);
    for (size_t i = 0; i < n; i++) {
        int rc = tsdb_encoder_append(&e, s[i].t, s[i].v, &err);

        if (rc != HRID_OK)
            fail_msg("append %zu: %s", i, err.msg);
    }
    assert_int_equal(tsdb_encoder_finish(&e, buf, cap, &len, &err), HRID_OK);
    assert_true(len <= TSDB_CHUNK_BYTES_MAX);
    return len;
}

/* Decodes buf and checks that it holds exactly s[0..n), bit for bit
 * (-0.0 coming back as 0.0). */
static void assert_round_trip(unsigned metric, const struct tsdb_sample *s,
                              size_t n, const unsigned char *buf, size_t len)
{
    struct tsdb_sample out[TSDB_CHUNK_SAMPLES];
    struct tsdb_chunk_info info;
    struct hrid_err err;
    size_t got;
    int rc = tsdb_chunk_decode(buf, len, out, TSDB_CHUNK_SAMPLES, &got, &info,
                               &err);

    if (rc != HRID_OK)
        fail_msg("decode: %s", err.msg);
    assert_int_equal(got, n);
    assert_int_equal(info.metric, metric);
    assert_int_equal(info.n, n);
    assert_int_equal(info.first, s[0].t);
    assert_int_equal(info.last, s[n - 1].t);
    for (size_t i = 0; i < n; i++) {
        double want = s[i].v == 0 ? 0.0 : s[i].v;

        assert_int_equal(out[i].t, s[i].t);
        if (!same_double(out[i].v, want))
            fail_msg("sample %zu: %.17g came back as %.17g", i, s[i].v,
                     out[i].v);
    }
}

static void round_trip(unsigned metric, const struct tsdb_sample *s, size_t n)
{
    unsigned char buf[TSDB_CHUNK_BYTES_MAX];
    size_t len = encode(metric, s, n, buf, sizeof buf);

    assert_round_trip(metric, s, n, buf, len);
}

/* ------------------------------------------------------------------ */

static void test_crc32c(void **state)
{
    (void)state;
    /* The check value of CRC-32C (RFC 3720 §B.4 lists the same
     * parameters; "123456789" is the catalogue's check input). */
    assert_int_equal(tsdb_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(tsdb_crc32c("", 0), 0);
}

static void test_metric_names(void **state)
{
    char name[TSDB_METRIC_NAME_MAX], small[8];
    struct hrid_err err;
    unsigned id;
    static const char *const bad[] = {
        "", "joint", "joint.", "joint..wear", "joint.64.wear",
        "joint.07.wear", "joint.00.temp", "joint.1.Wear", "joint.1.wear ",
        " joint.1.wear", "joint.1", "joint.1.", "joint.-1.wear",
        "joint.999.wear", "joint.1.wear.x", "battery", "battery.SOH",
        "Hours", "latitude", "joint.+1.temp", "joint.1.temperature",
    };

    (void)state;
    for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
        assert_non_null(tsdb_metric_info(m));
        assert_int_equal(tsdb_metric_format(m, name, sizeof name, &err),
                         HRID_OK);
        assert_int_equal(tsdb_metric_parse(name, strlen(name), &id, &err),
                         HRID_OK);
        assert_int_equal(id, m);
    }
    assert_int_equal(tsdb_metric_parse("joint.0.wear", 12, &id, NULL),
                     HRID_OK);
    assert_int_equal(id, TSDB_METRIC_JOINT_WEAR(0));
    assert_int_equal(tsdb_metric_parse("joint.63.temp", 13, &id, NULL),
                     HRID_OK);
    assert_int_equal(id, TSDB_METRIC_JOINT_TEMP(63));
    assert_int_equal(tsdb_metric_joint(id), 63);
    assert_int_equal(tsdb_metric_parse("battery.soh", 11, &id, NULL),
                     HRID_OK);
    assert_int_equal(id, TSDB_METRIC_BATTERY_SOH);
    assert_int_equal(tsdb_metric_joint(id), -1);
    assert_int_equal(tsdb_metric_parse("lon", 3, &id, NULL), HRID_OK);
    assert_int_equal(id, TSDB_METRIC_LON);
    /* A length shorter than the text: only len bytes count. */
    assert_int_equal(tsdb_metric_parse("latitude", 3, &id, NULL), HRID_OK);
    assert_int_equal(id, TSDB_METRIC_LAT);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = tsdb_metric_parse(bad[i], strlen(bad[i]), &id, &err);

        if (rc == HRID_OK)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(rc, HRID_EINVAL);
        assert_int_equal(err.reason, TSDB_R_METRIC);
        assert_int_equal(id, TSDB_METRIC_COUNT);
    }
    assert_int_equal(tsdb_metric_parse("joint.64.wear", 13, &id, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "metric 'joint.64.wear': joint id 64 is out "
                                 "of range 0..63");
    /* Control bytes never reach a message. */
    assert_int_equal(tsdb_metric_parse("x\n\033y", 4, &id, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "unknown metric 'x??y'");

    assert_null(tsdb_metric_info(TSDB_METRIC_COUNT));
    assert_int_equal(tsdb_metric_format(TSDB_METRIC_COUNT, name, sizeof name,
                                        &err), HRID_EINVAL);
    assert_int_equal(tsdb_metric_format(TSDB_METRIC_JOINT_WEAR(63), small,
                                        sizeof small, &err), HRID_ERANGE);
    assert_string_equal(small, "");
    assert_int_equal(tsdb_metric_format(TSDB_METRIC_JOINT_WEAR(63), name,
                                        14, &err), HRID_OK);
    assert_string_equal(name, "joint.63.wear");
}

static void test_value_checks(void **state)
{
    struct hrid_err err;
    int64_t q;
    unsigned wear = TSDB_METRIC_JOINT_WEAR(3), temp = TSDB_METRIC_JOINT_TEMP(3);

    (void)state;
    assert_int_equal(tsdb_value_check(wear, 0.4523, &q, &err), HRID_OK);
    assert_int_equal(q, 4523);
    assert_int_equal(tsdb_value_check(wear, 0.0, &q, &err), HRID_OK);
    assert_int_equal(tsdb_value_check(wear, 1.0, &q, &err), HRID_OK);
    assert_int_equal(q, 10000);
    assert_int_equal(tsdb_value_check(temp, -12.3, &q, &err), HRID_OK);
    assert_int_equal(q, -123);
    assert_int_equal(tsdb_value_check(temp, -0.0, &q, &err), HRID_OK);
    assert_int_equal(q, 0);
    assert_int_equal(tsdb_value_check(TSDB_METRIC_LON, -179.999999, &q, &err),
                     HRID_OK);
    assert_int_equal(q, -179999999);

    assert_int_equal(tsdb_value_check(wear, NAN, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
    assert_int_equal(tsdb_value_check(temp, INFINITY, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
    assert_int_equal(tsdb_value_check(temp, -INFINITY, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
    assert_int_equal(tsdb_value_check(wear, 1.0001, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_RANGE);
    assert_int_equal(tsdb_value_check(wear, -0.0001, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_RANGE);
    assert_int_equal(tsdb_value_check(wear, 0.12345, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_PRECISION);
    assert_string_equal(err.msg, "joint.3.wear: value 0.12345 has more than 4 "
                                 "decimal digits");
    /* 0.1 + 0.2 is not the double of "0.3". */
    assert_int_equal(tsdb_value_check(wear, 0.1 + 0.2, &q, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_PRECISION);
    assert_int_equal(q, 0);
    assert_int_equal(tsdb_value_check(TSDB_METRIC_BATTERY_CYCLES, 12.5, &q,
                                      &err), HRID_EINVAL);
    assert_int_equal(tsdb_value_check(TSDB_METRIC_COUNT, 1, &q, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_METRIC);

    /* Every decimal of 4 digits in [0, 1], as strtod reads its text,
     * passes and quantises to its digits. */
    for (int i = 0; i <= 10000; i++) {
        char text[16];

        snprintf(text, sizeof text, "%d.%04d", i / 10000, i % 10000);
        assert_int_equal(tsdb_value_check(wear, strtod(text, NULL), &q, NULL),
                         HRID_OK);
        assert_int_equal(q, i);
        assert_true(same_double(tsdb_dequantize(q, 4), strtod(text, NULL)));
    }
    assert_true(tsdb_value_round(wear, 0.12345) == 0.1235
                || tsdb_value_round(wear, 0.12345) == 0.1234);
    assert_true(tsdb_value_round(temp, 41.26) == 41.3);
    assert_false(tsdb_quantize(1e300, 4, &q));
    assert_false(tsdb_quantize(1, 16, &q));
}

static void test_report_check(void **state)
{
    struct tsdb_fleet f;
    struct tsdb_report r, bad;
    struct hrid_err err;
    uint32_t minute = 0;

    (void)state;
    tsdb_fleet_init(&f);
    for (uint32_t robot = 0; robot < 6; robot++)
        for (minute = 0; minute < 300; minute += 37)
            if (tsdb_fleet_report(&f, robot, minute, &r)
                && tsdb_report_check(&r, &err) != HRID_OK)
                fail_msg("robot %u minute %u: %s", robot, minute, err.msg);
    assert_true(tsdb_fleet_report(&f, 0, 1, &r));
    assert_int_equal(r.n, 2 * TSDB_FLEET_JOINTS + 7);

    bad = r;
    bad.values[6] = bad.values[4];
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_REPORT);
    bad = r;
    bad.n--;                                     /* drops lon */
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "a location has both lat and lon, this one "
                                 "only lat");
    bad = r;
    snprintf(bad.firmware, sizeof bad.firmware, "1.0 beta");
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    bad = r;
    memset(bad.firmware, 'a', sizeof bad.firmware);
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    bad = r;
    bad.n = 0;
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    bad = r;
    bad.t = -1;
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_TIME);
    bad = r;
    bad.values[0].v = NAN;
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
    bad = r;
    bad.values[1].metric = 200;
    assert_int_equal(tsdb_report_check(&bad, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_METRIC);
}

/* Every metric of a day of six robots, in chunks as a store would cut
 * them, comes back bit for bit; and the chunks are small. */
static void test_round_trip_fleet(void **state)
{
    static struct tsdb_sample s[TSDB_METRIC_COUNT][TSDB_CHUNK_SAMPLES];
    static size_t n[TSDB_METRIC_COUNT];
    unsigned char buf[TSDB_CHUNK_BYTES_MAX];
    struct tsdb_fleet f;
    size_t bytes = 0, values = 0;

    (void)state;
    tsdb_fleet_init(&f);
    for (uint32_t robot = 0; robot < 6; robot++) {
        memset(n, 0, sizeof n);
        for (uint32_t minute = 0; minute <= 1440; minute++) {
            struct tsdb_report r;
            bool last = minute == 1440;

            if (!last && !tsdb_fleet_report(&f, robot, minute, &r))
                continue;
            for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
                if (n[m] == 0 || (!last && tsdb_chunk_window(r.t)
                                               == tsdb_chunk_window(s[m][0].t)))
                    continue;
                bytes += encode(m, s[m], n[m], buf, sizeof buf);
                values += n[m];
                assert_round_trip(m, s[m], n[m], buf,
                                  encode(m, s[m], n[m], buf, sizeof buf));
                n[m] = 0;
            }
            for (size_t i = 0; !last && i < r.n; i++) {
                unsigned m = r.values[i].metric;

                s[m][n[m]].t = r.t;
                s[m][n[m]].v = r.values[i].v;
                n[m]++;
            }
        }
    }
    /* Six robots, 2 x 40 joints + 5 metrics (+ location for robots 0 and
     * 3), 1440 minutes less the lost reports. */
    assert_true(values > 6 * 85 * 1400);
    print_message("fleet: %zu values in %zu bytes, %.3f bytes a value\n",
                  values, bytes, (double)bytes / (double)values);
    assert_true((double)bytes / (double)values <= 2.0);
}

static void test_round_trip_edges(void **state)
{
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
    unsigned wear = TSDB_METRIC_JOINT_WEAR(0), lon = TSDB_METRIC_LON;
    unsigned temp = TSDB_METRIC_JOINT_TEMP(0);
    int64_t wend = T0 + TSDB_CHUNK_WINDOW_MS;

    (void)state;
    /* One sample, at each end of the range of times and values. */
    s[0] = (struct tsdb_sample){ T0, 0.0 };
    round_trip(wear, s, 1);
    s[0] = (struct tsdb_sample){ 0, 1.0 };
    round_trip(wear, s, 1);
    s[0] = (struct tsdb_sample){ TSDB_TIME_MAX, -180.0 };
    round_trip(lon, s, 1);
    s[0] = (struct tsdb_sample){ T0, -0.0 };
    round_trip(temp, s, 1);

    /* The largest gap a chunk can hold: its window's first and last ms. */
    s[0] = (struct tsdb_sample){ T0, -50.0 };
    s[1] = (struct tsdb_sample){ wend - 1, 200.0 };
    round_trip(temp, s, 2);
    s[0] = (struct tsdb_sample){ TSDB_TIME_MAX - TSDB_CHUNK_WINDOW_MS + 1,
                                 180.0 };
    s[1] = (struct tsdb_sample){ TSDB_TIME_MAX, -180.0 };
    round_trip(lon, s, 2);

    /* The maximum chunk, values swinging between the ends of the range
     * and times at random gaps: escapes in both series. */
    for (int i = 0; i < TSDB_CHUNK_SAMPLES; i++) {
        s[i].t = T0 + i * (TSDB_CHUNK_WINDOW_MS / TSDB_CHUNK_SAMPLES)
                 + (int64_t)(rnd() % 1000);
        s[i].v = i % 3 == 0 ? -180.0 : i % 3 == 1 ? 180.0
               : tsdb_dequantize((int64_t)(rnd() % 360000001) - 180000000, 6);
    }
    round_trip(lon, s, TSDB_CHUNK_SAMPLES);
    /* Constant values and a perfect cadence: nothing but headers. */
    for (int i = 0; i < TSDB_CHUNK_SAMPLES; i++)
        s[i] = (struct tsdb_sample){ T0 + i * TSDB_MINUTE_MS, 0.5 };
    round_trip(wear, s, TSDB_CHUNK_SAMPLES);
    {
        unsigned char buf[TSDB_CHUNK_BYTES_MAX];
        size_t len = encode(wear, s, TSDB_CHUNK_SAMPLES, buf, sizeof buf);

        /* 4 bytes of chunk header, 11 and 5 of series headers, 4 of CRC. */
        assert_true(len <= 24);
    }
    /* Negative values and one-ms steps. */
    for (int i = 0; i < TSDB_CHUNK_SAMPLES; i++)
        s[i] = (struct tsdb_sample){ T0 + i,
                                     tsdb_dequantize(-500 + i * 7 % 31, 1) };
    round_trip(temp, s, TSDB_CHUNK_SAMPLES);
    /* Every metric at its range's ends and zero. */
    for (unsigned m = 0; m < TSDB_METRIC_COUNT; m++) {
        const struct tsdb_metric_info *mi = tsdb_metric_info(m);

        s[0] = (struct tsdb_sample){ T0, mi->min };
        s[1] = (struct tsdb_sample){ T0 + 1, mi->max };
        s[2] = (struct tsdb_sample){ T0 + 2, mi->min };
        s[3] = (struct tsdb_sample){ T0 + 3, 0.0 };
        round_trip(m, s, 4);
    }
}

/* The series coder alone, on what chunks never hold: any int64 values,
 * with differences that overflow int64. */
static void series_round_trip(const int64_t *x, size_t n)
{
    unsigned char buf[8192];
    struct tsdb_bytew w = { buf, sizeof buf, 0, true };
    struct tsdb_bitw b = { &w, 0, 0 };
    struct tsdb_series s, s2;
    struct tsdb_byter r;
    struct tsdb_bitr br;
    int64_t y[TSDB_SERIES_MAX];
    size_t hdr;

    tsdb_series_plan(x, n, &s);
    tsdb_series_put_header(&s, &w);
    hdr = w.len;
    tsdb_series_put_residuals(&s, x, &b);
    tsdb_bitw_flush(&b);
    assert_true(w.ok);
    r.p = buf;
    r.end = buf + hdr;
    assert_true(tsdb_series_get_header(&s2, n, &r));
    assert_ptr_equal(r.p, buf + hdr);
    tsdb_bitr_init(&br, buf + hdr, buf + w.len);
    assert_true(tsdb_series_get_residuals(&s2, &br, y));
    assert_true(tsdb_bitr_at_end(&br));
    assert_memory_equal(x, y, n * sizeof *x);
}

static void test_series_extremes(void **state)
{
    int64_t x[TSDB_SERIES_MAX];

    (void)state;
    x[0] = INT64_MIN;
    x[1] = INT64_MAX;
    series_round_trip(x, 2);
    x[0] = INT64_MAX;
    x[1] = INT64_MIN;
    x[2] = 0;
    x[3] = -1;
    x[4] = INT64_MAX;
    series_round_trip(x, 5);
    for (int i = 0; i < TSDB_SERIES_MAX; i++)
        x[i] = i % 2 ? INT64_MIN : INT64_MAX;
    series_round_trip(x, TSDB_SERIES_MAX);
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rnd() % TSDB_SERIES_MAX;
        int shift = (int)(rnd() % 64);

        for (size_t i = 0; i < n; i++)
            x[i] = round % 3 == 0 ? (int64_t)rnd()
                 : round % 3 == 1 ? (int64_t)((rnd() >> shift) * 1000)
                                  : (int64_t)i * 60000 + (int64_t)(rnd() % 3);
        series_round_trip(x, n);
    }
    /* A common step: every x[i] - x[0] a multiple of 2^62. */
    for (int i = 0; i < 8; i++)
        x[i] = (int64_t)((uint64_t)i << 62);
    series_round_trip(x, 8);
}

static void test_order_and_limits(void **state)
{
    struct tsdb_encoder e, copy;
    struct hrid_err err;
    unsigned char buf[TSDB_CHUNK_BYTES_MAX];
    size_t len;
    unsigned temp = TSDB_METRIC_JOINT_TEMP(5);

    (void)state;
    assert_int_equal(tsdb_encoder_init(&e, TSDB_METRIC_COUNT, &err),
                     HRID_EINVAL);
    assert_int_equal(tsdb_encoder_init(&e, temp, &err), HRID_OK);
    assert_int_equal(tsdb_encoder_finish(&e, buf, sizeof buf, &len, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_DEGENERATE);
    assert_int_equal(tsdb_encoder_append(&e, -1, 20.0, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_TIME);
    assert_int_equal(tsdb_encoder_append(&e, TSDB_TIME_MAX + 1, 20.0, &err),
                     HRID_EINVAL);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 1000, 20.0, &err), HRID_OK);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 2000, 21.0, &err), HRID_OK);
    copy = e;

    assert_int_equal(tsdb_encoder_append(&e, T0 + 2000, 22.0, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_DUPLICATE);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 1500, 22.0, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_ORDER);
    assert_int_equal(tsdb_encoder_append(&e, T0 + TSDB_CHUNK_WINDOW_MS, 22.0,
                                         &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_WINDOW);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 3000, NAN, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 3000, 20.05, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_PRECISION);
    /* Refusals leave the encoder as it was. */
    assert_memory_equal(&e, &copy, sizeof e);

    for (int i = 2; i < TSDB_CHUNK_SAMPLES; i++)
        assert_int_equal(tsdb_encoder_append(&e, T0 + 1000 * (i + 1), 20.0,
                                             &err), HRID_OK);
    assert_int_equal(tsdb_encoder_append(&e, T0 + 1000 * 500, 20.0, &err),
                     HRID_ERANGE);
    assert_int_equal(err.reason, TSDB_R_FULL);

    /* Too small an output buffer: refused, nothing claimed written. */
    assert_int_equal(tsdb_encoder_finish(&e, buf, sizeof buf, &len, &err),
                     HRID_OK);
    for (size_t cap = 0; cap < len; cap++) {
        size_t l2 = 99;

        assert_int_equal(tsdb_encoder_finish(&e, buf, cap, &l2, &err),
                         HRID_ERANGE);
        assert_int_equal(l2, 0);
    }
}

static void test_decoder_and_resume(void **state)
{
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES], got;
    struct tsdb_decoder d;
    struct tsdb_encoder e;
    struct hrid_err err;
    unsigned char buf[TSDB_CHUNK_BYTES_MAX], buf2[TSDB_CHUNK_BYTES_MAX];
    size_t len, len2, i = 0;
    unsigned soh = TSDB_METRIC_BATTERY_SOH;

    (void)state;
    for (int k = 0; k < 90; k++)
        s[k] = (struct tsdb_sample){ T0 + k * TSDB_MINUTE_MS + k % 7,
                                     tsdb_dequantize(9500 - k / 10, 4) };
    len = encode(soh, s, 60, buf, sizeof buf);
    assert_int_equal(tsdb_decoder_init(&d, buf, len, &err), HRID_OK);
    assert_int_equal(d.info.metric, soh);
    while (tsdb_decoder_next(&d, &got)) {
        assert_int_equal(got.t, s[i].t);
        assert_true(same_double(got.v, s[i].v));
        i++;
    }
    assert_int_equal(i, 60);
    assert_false(tsdb_decoder_next(&d, &got));

    /* An open chunk saved as bytes takes more samples. */
    assert_int_equal(tsdb_encoder_init_from(&e, buf, len, &err), HRID_OK);
    assert_int_equal(e.n, 60);
    assert_int_equal(tsdb_encoder_append(&e, s[59].t, s[59].v, &err),
                     HRID_EINVAL);
    for (int k = 60; k < 90; k++)
        assert_int_equal(tsdb_encoder_append(&e, s[k].t, s[k].v, &err),
                         HRID_OK);
    assert_int_equal(tsdb_encoder_finish(&e, buf2, sizeof buf2, &len2, &err),
                     HRID_OK);
    assert_round_trip(soh, s, 90, buf2, len2);

    buf[3] ^= 1;
    assert_int_equal(tsdb_decoder_init(&d, buf, len, &err), HRID_EINVAL);
    assert_false(tsdb_decoder_next(&d, &got));
    assert_int_equal(tsdb_encoder_init_from(&e, buf, len, &err), HRID_EINVAL);
    assert_int_equal(e.n, 0);
    /* Too small an output array. */
    buf[3] ^= 1;
    assert_int_equal(tsdb_chunk_decode(buf, len, s, 59, &i, NULL, &err),
                     HRID_ERANGE);
    assert_int_equal(i, 0);
}

/* Decodes bytes that may be anything: must fail or give samples that obey
 * the format (increasing valid times in one window). */
static void decode_anything(const unsigned char *p, size_t len)
{
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
    struct tsdb_rollup b[TSDB_ROLLUP_BUCKETS];
    struct hrid_err err;
    size_t n;

    if (tsdb_chunk_decode(p, len, s, TSDB_CHUNK_SAMPLES, &n, NULL, &err)
        == HRID_OK) {
        assert_true(n >= 1 && n <= TSDB_CHUNK_SAMPLES);
        for (size_t i = 0; i < n; i++) {
            assert_true(s[i].t >= 0 && s[i].t <= TSDB_TIME_MAX);
            assert_true(i == 0 || s[i].t > s[i - 1].t);
            assert_true(tsdb_chunk_window(s[i].t) == tsdb_chunk_window(s[0].t));
            assert_true(isfinite(s[i].v));
        }
    } else {
        assert_int_equal(n, 0);
        assert_true(err.msg[0] != '\0');
    }
    if (tsdb_rollup_decode(p, len, b, TSDB_ROLLUP_BUCKETS, &n, NULL, &err)
        == HRID_OK) {
        for (size_t i = 0; i < n; i++) {
            assert_true(b[i].count >= 1 && b[i].min <= b[i].max);
            assert_true(i == 0 || b[i].start > b[i - 1].start);
        }
    }
}

/* Rewrites the CRC of a chunk so that a corruption reaches the parser. */
static void forge_crc(unsigned char *p, size_t len)
{
    uint32_t crc;

    if (len < 4)
        return;
    crc = tsdb_crc32c(p, len - 4);
    for (int i = 0; i < 4; i++)
        p[len - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void corrupt_chunk(const unsigned char *chunk, size_t len)
{
    unsigned char *p = malloc(len);
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
    struct tsdb_rollup rb[TSDB_ROLLUP_BUCKETS];
    struct hrid_err err;
    size_t n;

    assert_non_null(p);
    /* Every single-bit flip is caught by the CRC. */
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(p, chunk, len);
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_not_equal(tsdb_chunk_decode(p, len, s, TSDB_CHUNK_SAMPLES,
                                               &n, NULL, &err), HRID_OK);
        assert_int_not_equal(tsdb_rollup_decode(p, len, rb,
                                                TSDB_ROLLUP_BUCKETS, &n, NULL,
                                                &err), HRID_OK);
        assert_int_equal(err.reason, TSDB_R_CORRUPT);
        /* With the CRC forged, the parser itself sees the flip. */
        forge_crc(p, len);
        decode_anything(p, len);
    }
    /* Every truncation fails, with and without a forged CRC; each is a
     * fresh allocation of exactly that size, so ASan sees any overread. */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *t = malloc(cut ? cut : 1);

        assert_non_null(t);
        memcpy(t, chunk, cut);
        assert_int_equal(tsdb_chunk_decode(cut ? t : NULL, cut, s,
                                           TSDB_CHUNK_SAMPLES, &n, NULL,
                                           &err), HRID_EINVAL);
        assert_int_equal(tsdb_rollup_decode(t, cut, rb, TSDB_ROLLUP_BUCKETS,
                                            &n, NULL, &err), HRID_EINVAL);
        forge_crc(t, cut);
        decode_anything(t, cut);
        free(t);
    }
    /* Random bytes over random spans, CRC forged. */
    for (int round = 0; round < 300; round++) {
        size_t at = rnd() % len, span = 1 + rnd() % 8;

        memcpy(p, chunk, len);
        for (size_t i = at; i < at + span && i < len; i++)
            p[i] = (unsigned char)rnd();
        forge_crc(p, len);
        decode_anything(p, len);
    }
    free(p);
}

static void test_corruption(void **state)
{
    struct tsdb_sample s[TSDB_CHUNK_SAMPLES];
    struct tsdb_rollup b[TSDB_ROLLUP_BUCKETS];
    unsigned char buf[TSDB_ROLLUP_BYTES_MAX];
    struct tsdb_fleet f;
    struct hrid_err err;
    size_t len, n = 0, nb = 0;

    (void)state;
    tsdb_fleet_init(&f);
    for (uint32_t minute = 0; n < TSDB_CHUNK_SAMPLES; minute++) {
        struct tsdb_report r;

        if (!tsdb_fleet_report(&f, 7, minute, &r))
            continue;
        s[n].t = r.t;
        s[n].v = r.values[TSDB_FLEET_JOINTS + 1].v;     /* joint 0 temp */
        if (tsdb_chunk_window(s[n].t) != tsdb_chunk_window(s[0].t))
            break;
        n++;
    }
    len = encode(TSDB_METRIC_JOINT_TEMP(0), s, n, buf, sizeof buf);
    corrupt_chunk(buf, len);
    s[0] = (struct tsdb_sample){ T0, 0.25 };
    len = encode(TSDB_METRIC_JOINT_WEAR(0), s, 1, buf, sizeof buf);
    corrupt_chunk(buf, len);

    for (int h = 0; h < 40; h++) {
        b[nb++] = (struct tsdb_rollup){ T0 + h * TSDB_HOUR_MS, 60,
                                        tsdb_dequantize(300 + h, 1),
                                        tsdb_dequantize(400 + h, 1),
                                        tsdb_dequantize(60 * (350 + h), 1) };
    }
    assert_int_equal(tsdb_rollup_encode(TSDB_METRIC_JOINT_TEMP(0), b, nb, buf,
                                        sizeof buf, &len, &err), HRID_OK);
    corrupt_chunk(buf, len);
}

/* ------------------------------------------------------------------ */

/* A day of one metric of one robot from the fleet. */
static size_t fleet_series(uint32_t robot, unsigned metric, uint32_t minutes,
                           struct tsdb_sample *s)
{
    struct tsdb_fleet f;
    size_t n = 0;

    tsdb_fleet_init(&f);
    for (uint32_t minute = 0; minute < minutes; minute++) {
        struct tsdb_report r;

        if (!tsdb_fleet_report(&f, robot, minute, &r))
            continue;
        for (size_t i = 0; i < r.n; i++)
            if (r.values[i].metric == metric) {
                s[n].t = r.t;
                s[n].v = r.values[i].v;
                n++;
            }
    }
    return n;
}

/* Naive hourly buckets, with the sum taken from each value's printed
 * decimal, independent of the library's quantisation. */
struct naive {
    int64_t start;
    uint32_t count;
    double min, max;
    long long qsum;
};

static size_t naive_rollup(const struct tsdb_sample *s, size_t n, int digits,
                           struct naive *out)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        int64_t h = s[i].t / TSDB_HOUR_MS * TSDB_HOUR_MS;
        char text[64], *dot;
        long long q;

        snprintf(text, sizeof text, "%.*f", digits, s[i].v);
        dot = strchr(text, '.');
        if (dot != NULL)
            memmove(dot, dot + 1, strlen(dot));
        q = strtoll(text, NULL, 10);
        if (k == 0 || out[k - 1].start != h)
            out[k++] = (struct naive){ h, 0, s[i].v, s[i].v, 0 };
        out[k - 1].count++;
        out[k - 1].min = fmin(out[k - 1].min, s[i].v);
        out[k - 1].max = fmax(out[k - 1].max, s[i].v);
        out[k - 1].qsum += q;
    }
    return k;
}

static void assert_buckets(const struct tsdb_rollup *b, size_t nb,
                           const struct naive *want, size_t nw, int digits)
{
    assert_int_equal(nb, nw);
    for (size_t i = 0; i < nb; i++) {
        assert_int_equal(b[i].start, want[i].start);
        assert_int_equal(b[i].count, want[i].count);
        assert_true(same_double(b[i].min, want[i].min));
        assert_true(same_double(b[i].max, want[i].max));
        assert_true(same_double(b[i].sum,
                                tsdb_dequantize(want[i].qsum, digits)));
    }
}

/* Field by field: the structs have padding that copies may not keep. */
static void assert_rollups_equal(const struct tsdb_rollup *a,
                                 const struct tsdb_rollup *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].start, b[i].start);
        assert_int_equal(a[i].count, b[i].count);
        assert_true(same_double(a[i].min, b[i].min));
        assert_true(same_double(a[i].max, b[i].max));
        assert_true(same_double(a[i].sum, b[i].sum));
    }
}

static void test_rollups(void **state)
{
    static struct tsdb_sample s[3 * 1440];
    static struct naive want[80];
    struct tsdb_rollup b[80], b2[80], merged[80], dec[TSDB_ROLLUP_BUCKETS];
    struct tsdb_chunk_info info;
    unsigned char buf[TSDB_ROLLUP_BYTES_MAX];
    struct hrid_err err;
    size_t n, nb = 0, nb2 = 0, nw, nm, len, nd;
    unsigned metric = TSDB_METRIC_JOINT_TEMP(2);
    int digits = tsdb_metric_info(metric)->digits;

    (void)state;
    n = fleet_series(3, metric, 3 * 1440, s);
    nw = naive_rollup(s, n, digits, want);
    assert_int_equal(nw, 72);

    /* All at once, and chunk by chunk as raw chunks close. */
    assert_int_equal(tsdb_rollup_add(b, 80, &nb, s, n, digits, &err), HRID_OK);
    assert_buckets(b, nb, want, nw, digits);
    for (size_t i = 0; i < n; i += 37)
        assert_int_equal(tsdb_rollup_add(b2, 80, &nb2, s + i,
                                         n - i < 37 ? n - i : 37, digits,
                                         &err), HRID_OK);
    assert_buckets(b2, nb2, want, nw, digits);
    /* Late chunks fold into earlier buckets: the second half first. */
    nb2 = 0;
    assert_int_equal(tsdb_rollup_add(b2, 80, &nb2, s + n / 2, n - n / 2,
                                     digits, &err), HRID_OK);
    assert_int_equal(tsdb_rollup_add(b2, 80, &nb2, s, n / 2, digits, &err),
                     HRID_OK);
    assert_buckets(b2, nb2, want, nw, digits);

    /* Merging the buckets of two halves gives the buckets of the whole. */
    nb = nb2 = 0;
    assert_int_equal(tsdb_rollup_add(b, 80, &nb, s, n / 3, digits, &err),
                     HRID_OK);
    assert_int_equal(tsdb_rollup_add(b2, 80, &nb2, s + n / 3, n - n / 3,
                                     digits, &err), HRID_OK);
    assert_int_equal(tsdb_rollup_merge_lists(b, nb, b2, nb2, merged, 80, &nm,
                                             digits, &err), HRID_OK);
    assert_buckets(merged, nm, want, nw, digits);
    assert_int_equal(tsdb_rollup_merge_lists(b, nb, b2, nb2, merged, nm - 1,
                                             &nm, digits, &err), HRID_ERANGE);
    assert_int_equal(tsdb_rollup_merge(&b[0], &b[1], digits, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_WINDOW);

    /* Refusals. */
    nb = 0;
    assert_int_equal(tsdb_rollup_add(b, 2, &nb, s, n, digits, &err),
                     HRID_ERANGE);
    assert_int_equal(err.reason, TSDB_R_FULL);
    {
        struct tsdb_sample bad[2] = { { T0 + 5, 1.0 }, { T0 + 5, 2.0 } };

        nb = 0;
        assert_int_equal(tsdb_rollup_add(b, 80, &nb, bad, 2, 1, &err),
                         HRID_EINVAL);
        assert_int_equal(err.reason, TSDB_R_ORDER);
        bad[1] = (struct tsdb_sample){ T0 + 6, 2.05 };
        nb = 0;
        assert_int_equal(tsdb_rollup_add(b, 80, &nb, bad, 2, 1, &err),
                         HRID_EINVAL);
        assert_int_equal(err.reason, TSDB_R_PRECISION);
    }

    /* Rollup chunks: each seven-day window's buckets round trip. */
    nb = 0;
    assert_int_equal(tsdb_rollup_add(b, 80, &nb, s, n, digits, &err), HRID_OK);
    assert_int_equal(tsdb_rollup_encode(metric, b, nb, buf, sizeof buf, &len,
                                        &err), HRID_OK);
    assert_true(len <= TSDB_ROLLUP_BYTES_MAX);
    print_message("rollups: %zu buckets in %zu bytes\n", nb, len);
    assert_int_equal(tsdb_rollup_decode(buf, len, dec, TSDB_ROLLUP_BUCKETS,
                                        &nd, &info, &err), HRID_OK);
    assert_int_equal(nd, nb);
    assert_int_equal(info.metric, metric);
    assert_int_equal(info.first, b[0].start);
    assert_int_equal(info.last, b[nb - 1].start);
    assert_rollups_equal(dec, b, nb);
    assert_int_equal(tsdb_rollup_decode(buf, len, dec, nb - 1, &nd, NULL,
                                        &err), HRID_ERANGE);
    /* A raw decoder refuses a rollup chunk and the other way round. */
    assert_int_equal(tsdb_chunk_decode(buf, len, s, TSDB_CHUNK_SAMPLES, &nd,
                                       NULL, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_CORRUPT);
}

static void test_rollup_encode_refusals(void **state)
{
    struct tsdb_rollup b[TSDB_ROLLUP_BUCKETS + 1], bad[2];
    struct tsdb_rollup dec[TSDB_ROLLUP_BUCKETS];
    unsigned char buf[TSDB_ROLLUP_BYTES_MAX];
    struct hrid_err err;
    size_t len, nd;
    unsigned m = TSDB_METRIC_BATTERY_CYCLES;

    (void)state;
    /* A full window with extreme buckets round trips and fits the bound. */
    for (int h = 0; h < TSDB_ROLLUP_BUCKETS; h++) {
        uint32_t count = h % 2 ? UINT32_MAX / 4096 : 1;
        double lo = h % 3 ? 0 : 1e6, hi = 1e6;

        b[h] = (struct tsdb_rollup){ T0 + h * TSDB_HOUR_MS, count, lo, hi,
                                     hi * count };
    }
    assert_int_equal(tsdb_rollup_encode(m, b, TSDB_ROLLUP_BUCKETS, buf,
                                        sizeof buf, &len, &err), HRID_OK);
    assert_true(len <= TSDB_ROLLUP_BYTES_MAX);
    assert_int_equal(tsdb_rollup_decode(buf, len, dec, TSDB_ROLLUP_BUCKETS,
                                        &nd, NULL, &err), HRID_OK);
    assert_rollups_equal(dec, b, TSDB_ROLLUP_BUCKETS);

    b[TSDB_ROLLUP_BUCKETS] = b[TSDB_ROLLUP_BUCKETS - 1];
    b[TSDB_ROLLUP_BUCKETS].start += TSDB_HOUR_MS;
    assert_int_equal(tsdb_rollup_encode(m, b, TSDB_ROLLUP_BUCKETS + 1, buf,
                                        sizeof buf, &len, &err), HRID_EINVAL);
    assert_int_equal(tsdb_rollup_encode(m, b, 0, buf, sizeof buf, &len, &err),
                     HRID_EINVAL);
    assert_int_equal(tsdb_rollup_encode(TSDB_METRIC_COUNT, b, 1, buf,
                                        sizeof buf, &len, &err), HRID_EINVAL);
    assert_int_equal(tsdb_rollup_encode(m, b, 2, buf, 10, &len, &err),
                     HRID_ERANGE);
    assert_int_equal(len, 0);

    bad[0] = (struct tsdb_rollup){ T0, 2, 1, 3, 4 };
    bad[1] = (struct tsdb_rollup){ T0 + TSDB_HOUR_MS, 2, 1, 3, 4 };
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_OK);
    bad[1].start = T0 + TSDB_ROLLUP_WINDOW_MS;
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_WINDOW);
    bad[1].start = T0;
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_ORDER);
    bad[1].start = T0 + 1000;
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_TIME);
    bad[1] = (struct tsdb_rollup){ T0 + TSDB_HOUR_MS, 0, 1, 3, 0 };
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    bad[1] = (struct tsdb_rollup){ T0 + TSDB_HOUR_MS, 2, 3, 1, 4 };
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    bad[1] = (struct tsdb_rollup){ T0 + TSDB_HOUR_MS, 2, 1, 3, 7 };
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    bad[1] = (struct tsdb_rollup){ T0 + TSDB_HOUR_MS, 2, 1, 3, 4.5 };
    assert_int_equal(tsdb_rollup_encode(m, bad, 2, buf, sizeof buf, &len,
                                        &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_PRECISION);
}

/* ------------------------------------------------------------------ */

/* The naive downsampling: every bucket by a linear scan of all samples,
 * sums from the printed decimals. */
static size_t naive_query(const struct tsdb_sample *s, size_t n, int64_t from,
                          int64_t to, int64_t step, int digits,
                          struct tsdb_point *out)
{
    size_t k = 0;

    for (int64_t key = from - from % step; key < to; key += step) {
        struct naive acc = { key, 0, 0, 0, 0 };

        for (size_t i = 0; i < n; i++) {
            if (s[i].t < from || s[i].t >= to || s[i].t < key
                || s[i].t >= key + step)
                continue;
            struct naive one;

            naive_rollup(&s[i], 1, digits, &one);
            if (acc.count == 0 || s[i].v < acc.min)
                acc.min = s[i].v;
            if (acc.count == 0 || s[i].v > acc.max)
                acc.max = s[i].v;
            acc.count++;
            acc.qsum += one.qsum;
        }
        if (acc.count == 0)
            continue;
        out[k].t = key;
        out[k].count = acc.count;
        out[k].min = acc.min;
        out[k].max = acc.max;
        out[k].avg = tsdb_dequantize(acc.qsum, digits) / acc.count;
        k++;
    }
    return k;
}

static void assert_points(const struct tsdb_point *a, size_t na,
                          const struct tsdb_point *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].t, b[i].t);
        assert_int_equal(a[i].count, b[i].count);
        assert_true(same_double(a[i].min, b[i].min));
        assert_true(same_double(a[i].max, b[i].max));
        if (!same_double(a[i].avg, b[i].avg))
            fail_msg("point %zu: avg %.17g, want %.17g", i, a[i].avg,
                     b[i].avg);
    }
}

static void test_query(void **state)
{
    static struct tsdb_sample s[2 * 1440];
    static struct tsdb_point got[3000], want[3000], other[3000];
    struct tsdb_rollup b[60];
    struct tsdb_query q = { 0 };
    struct hrid_err err;
    size_t n, nb = 0, ng, nw, no;
    unsigned metric = TSDB_METRIC_JOINT_WEAR(9);
    int digits = tsdb_metric_info(metric)->digits;
    int64_t first, last;

    (void)state;
    n = fleet_series(4, metric, 2 * 1440, s);
    first = s[0].t;
    last = s[n - 1].t;
    assert_int_equal(tsdb_rollup_add(b, 60, &nb, s, n, digits, &err), HRID_OK);
    q.digits = digits;
    q.raw = s;
    q.nraw = n;

    /* Raw, over a range that cuts samples off at both ends. */
    q.from = first + 100 * TSDB_MINUTE_MS + 5;
    q.to = last - 77 * TSDB_MINUTE_MS;
    assert_int_equal(tsdb_query_run(&q, got, 3000, &ng, &err), HRID_OK);
    for (size_t i = 0, k = 0; i < n; i++)
        if (s[i].t >= q.from && s[i].t < q.to) {
            assert_int_equal(got[k].t, s[i].t);
            assert_true(same_double(got[k].avg, s[i].v));
            assert_int_equal(got[k].count, 1);
            k++;
            if (k == ng)
                break;
        }
    assert_true(ng > 2500);

    /* Downsampling by steps that are not whole hours: raw only, rollups
     * ignored. */
    q.rollups = b;
    q.nrollups = nb;
    for (int64_t step = 7 * TSDB_MINUTE_MS; step <= 50 * TSDB_MINUTE_MS;
         step += 43 * TSDB_MINUTE_MS / 2) {
        q.step = step;
        assert_int_equal(tsdb_query_run(&q, got, 3000, &ng, &err), HRID_OK);
        nw = naive_query(s, n, q.from, q.to, step, digits, want);
        assert_points(got, ng, want, nw);
    }

    /* Whole hours: from raw only, from rollups only and from both, the
     * same points, bit for bit, and those of the naive scan over the
     * hours that begin in [from, to). */
    for (int64_t step = TSDB_HOUR_MS; step <= 6 * TSDB_HOUR_MS;
         step += 5 * TSDB_HOUR_MS) {
        int64_t hfrom = (q.from / TSDB_HOUR_MS + 1) * TSDB_HOUR_MS;
        int64_t hto = (q.to / TSDB_HOUR_MS + 1) * TSDB_HOUR_MS;

        q.step = step;
        q.rollups = NULL;
        q.nrollups = 0;
        assert_int_equal(tsdb_query_run(&q, got, 3000, &ng, &err), HRID_OK);
        nw = naive_query(s, n, hfrom, hto, step, digits, want);
        assert_points(got, ng, want, nw);
        q.rollups = b;
        q.nrollups = nb;
        q.nraw = 0;
        assert_int_equal(tsdb_query_run(&q, other, 3000, &no, &err), HRID_OK);
        assert_points(other, no, want, nw);
        /* Raw expired for the first day: rollups there, raw after. */
        q.nraw = n;
        q.nrollups = 24;
        assert_int_equal(tsdb_query_run(&q, other, 3000, &no, &err), HRID_OK);
        assert_points(other, no, want, nw);
        q.nrollups = nb;
        assert_int_equal(tsdb_query_run(&q, other, 3000, &no, &err), HRID_OK);
        assert_points(other, no, want, nw);
    }

    /* Room for fewer points than the answer has. */
    q.step = TSDB_HOUR_MS;
    assert_int_equal(tsdb_query_run(&q, got, 5, &ng, &err), HRID_ERANGE);
    assert_int_equal(err.reason, TSDB_R_FULL);
    assert_int_equal(ng, 5);
    /* An empty range, a reversed one, a negative step. */
    q.from = q.to = first;
    assert_int_equal(tsdb_query_run(&q, got, 5, &ng, &err), HRID_OK);
    assert_int_equal(ng, 0);
    q.to = first - 1;
    assert_int_equal(tsdb_query_run(&q, got, 5, &ng, &err), HRID_EINVAL);
    q.to = INT64_MAX;
    q.from = INT64_MIN;
    q.step = -1;
    assert_int_equal(tsdb_query_run(&q, got, 5, &ng, &err), HRID_EINVAL);
    /* The whole of time in one bucket. */
    q.step = INT64_C(1) << 62;
    assert_int_equal(tsdb_query_run(&q, got, 5, &ng, &err), HRID_OK);
    assert_int_equal(ng, 1);
    assert_int_equal(got[0].count, n);
}

/* ------------------------------------------------------------------ */

static void test_fit_exact(void **state)
{
    struct tsdb_sample p[100];
    struct tsdb_fit fit;
    struct hrid_err err;
    int64_t when;

    (void)state;
    /* v = 0.2 + 0.001 per day, one point an hour for 100 hours. */
    for (int i = 0; i < 100; i++) {
        p[i].t = T0 + i * TSDB_HOUR_MS;
        p[i].v = 0.2 + 0.001 * (double)i / 24.0;
    }
    assert_int_equal(tsdb_fit_line(p, 100, &fit, &err), HRID_OK);
    assert_int_equal(fit.n, 100);
    assert_true(fabs(fit.slope - 0.001) < 1e-15);
    assert_true(fabs(tsdb_fit_value(&fit, T0) - 0.2) < 1e-15);
    assert_true(fit.r2 > 1 - 1e-12);
    assert_true(fit.resid_sd < 1e-15);
    /* 0.8 is reached 600 days after T0. */
    assert_int_equal(tsdb_fit_crossing(&fit, 0.8, true, &when, &err), HRID_OK);
    assert_true(llabs(when - (T0 + 600 * TSDB_DAY_MS)) <= 1);
    /* 0.1 was crossed going up 100 days before T0; going down, never. */
    assert_int_equal(tsdb_fit_crossing(&fit, 0.1, true, &when, &err), HRID_OK);
    assert_true(llabs(when - (T0 - 100 * TSDB_DAY_MS)) <= 1);
    assert_int_equal(tsdb_fit_crossing(&fit, 0.1, false, &when, &err),
                     TSDB_NEVER);
    assert_int_equal(when, -1);
    assert_int_equal(tsdb_fit_crossing(&fit, 1e9, true, &when, &err),
                     TSDB_NEVER);
    assert_int_equal(tsdb_fit_crossing(&fit, NAN, true, &when, &err),
                     HRID_EINVAL);

    /* A falling line (battery fade): slope -0.0005 a day. */
    for (int i = 0; i < 100; i++)
        p[i].v = 0.95 - 0.0005 * (double)i;
    for (int i = 0; i < 100; i++)
        p[i].t = T0 + i * TSDB_DAY_MS;
    assert_int_equal(tsdb_fit_line(p, 100, &fit, &err), HRID_OK);
    assert_true(fabs(fit.slope + 0.0005) < 1e-15);
    assert_int_equal(tsdb_fit_crossing(&fit, 0.8, false, &when, &err),
                     HRID_OK);
    assert_true(llabs(when - (T0 + 300 * TSDB_DAY_MS)) <= 1);

    /* A flat line never crosses; fits of too little are refused. */
    for (int i = 0; i < 10; i++)
        p[i].v = 0.5;
    assert_int_equal(tsdb_fit_line(p, 10, &fit, &err), HRID_OK);
    assert_true(fit.slope == 0 && fit.r2 == 1);
    assert_int_equal(tsdb_fit_crossing(&fit, 0.8, true, &when, &err),
                     TSDB_NEVER);
    assert_int_equal(tsdb_fit_line(p, 1, &fit, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_DEGENERATE);
    p[1].t = p[0].t;
    assert_int_equal(tsdb_fit_line(p, 2, &fit, &err), HRID_EINVAL);
    p[1].t = p[0].t + 1;
    p[1].v = INFINITY;
    assert_int_equal(tsdb_fit_line(p, 2, &fit, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_NOT_FINITE);
}

/* On the fleet's noisy wear, 30 days a minute apart, the fitted rate is
 * the drawn one within 1 %, and the projected date of wear 0.8 agrees
 * with the drawn line's within 1 %. */
static void test_fit_noisy(void **state)
{
    static struct tsdb_sample s[30 * 1440];
    struct tsdb_fit fit;
    struct tsdb_fleet f;
    struct hrid_err err;
    int64_t when;
    size_t n;

    (void)state;
    tsdb_fleet_init(&f);
    n = fleet_series(11, TSDB_METRIC_JOINT_WEAR(5), 30 * 1440, s);
    assert_int_equal(tsdb_fit_line(s, n, &fit, &err), HRID_OK);
    {
        double rate = tsdb_fleet_wear_rate(&f, 11, 5);
        double w0 = tsdb_fit_value(&fit, f.start);
        double days = (0.8 - w0) / rate;

        assert_true(fabs(fit.slope - rate) < 0.01 * rate);
        assert_true(fit.resid_sd > 0.5e-4 && fit.resid_sd < 2e-4);
        assert_int_equal(tsdb_fit_crossing(&fit, 0.8, true, &when, &err),
                         HRID_OK);
        assert_true(fabs((double)(when - f.start) / TSDB_DAY_MS - days)
                    < 0.01 * days);
    }
}

static void test_percentiles(void **state)
{
    double v[100], p[5] = { 0, 50, 90, 99, 100 }, out[5], one = 7;
    struct hrid_err err;

    (void)state;
    /* 1..100 shuffled. */
    for (int i = 0; i < 100; i++)
        v[i] = (double)((i * 37) % 100 + 1);
    assert_int_equal(tsdb_percentiles(v, 100, p, 5, out, &err), HRID_OK);
    assert_true(out[0] == 1 && out[4] == 100);
    assert_true(fabs(out[1] - 50.5) < 1e-12);
    assert_true(fabs(out[2] - 90.1) < 1e-12);
    assert_true(fabs(out[3] - 99.01) < 1e-12);
    assert_int_equal(tsdb_percentiles(&one, 1, p, 5, out, &err), HRID_OK);
    assert_true(out[0] == 7 && out[2] == 7 && out[4] == 7);
    /* { 10, 20, 30, 40 }: p50 = 25, p90 = 37. */
    v[0] = 40;
    v[1] = 10;
    v[2] = 30;
    v[3] = 20;
    assert_int_equal(tsdb_percentiles(v, 4, p + 1, 2, out, &err), HRID_OK);
    assert_true(fabs(out[0] - 25) < 1e-12 && fabs(out[1] - 37) < 1e-12);
    assert_int_equal(tsdb_percentiles(v, 0, p, 1, out, &err), HRID_EINVAL);
    p[0] = 100.5;
    assert_int_equal(tsdb_percentiles(v, 4, p, 1, out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, TSDB_R_RANGE);
    v[2] = NAN;
    p[0] = 50;
    assert_int_equal(tsdb_percentiles(v, 4, p, 1, out, &err), HRID_EINVAL);
}

static void test_outliers(void **state)
{
    double v[41], scratch[41], z[41];
    bool flag[41];
    size_t count;
    struct hrid_err err;
    struct tsdb_fleet f;

    (void)state;
    /* Forty joints' wear rates from the fleet's model (0.5 to 1.5 times
     * 2e-4 a day) and one at eight times: only that one is named. */
    tsdb_fleet_init(&f);
    for (int i = 0; i < 40; i++)
        v[i] = 2e-4 * (0.5 + (double)((i * 13) % 40) / 40.0);
    v[40] = 1.6e-3;
    assert_int_equal(tsdb_outliers(v, 41, TSDB_OUTLIER_Z, scratch, z, flag,
                                   &count, &err), HRID_OK);
    assert_int_equal(count, 1);
    assert_true(flag[40]);
    assert_true(z[40] > 10);
    for (int i = 0; i < 40; i++)
        assert_false(flag[i]);
    /* Median 3, MAD 1: z of 10 is 0.6745 * 7. */
    {
        double w[5] = { 1, 2, 3, 4, 10 };

        assert_int_equal(tsdb_outliers(w, 5, TSDB_OUTLIER_Z, scratch, z, flag,
                                       &count, &err), HRID_OK);
        assert_true(fabs(z[4] - 0.6745 * 7) < 1e-12);
        assert_true(fabs(z[0] + 0.6745 * 2) < 1e-12);
        assert_int_equal(count, 1);
    }
    /* More than half equal: MAD 0, the mean absolute deviation stands
     * in; all equal: nobody is an outlier. */
    {
        double w[7] = { 1, 1, 1, 1, 1, 1, 2 };

        assert_int_equal(tsdb_outliers(w, 7, TSDB_OUTLIER_Z, scratch, z, NULL,
                                       &count, &err), HRID_OK);
        assert_true(fabs(z[6] - 1 / (1.253314 / 7)) < 1e-9);
        assert_int_equal(count, 1);
        w[6] = 1;
        assert_int_equal(tsdb_outliers(w, 7, TSDB_OUTLIER_Z, scratch, z, NULL,
                                       &count, &err), HRID_OK);
        assert_int_equal(count, 0);
        assert_true(z[6] == 0);
        w[3] = NAN;
        assert_int_equal(tsdb_outliers(w, 7, TSDB_OUTLIER_Z, scratch, z, NULL,
                                       &count, &err), HRID_EINVAL);
    }
    assert_int_equal(tsdb_outliers(v, 0, 3.5, scratch, z, flag, &count, &err),
                     HRID_EINVAL);
}

static void test_retention(void **state)
{
    int64_t end = T0 + TSDB_CHUNK_WINDOW_MS;

    (void)state;
    /* A chunk goes when its whole window is older than the retention. */
    assert_false(tsdb_raw_expired(T0 + 5, end + TSDB_RAW_RETENTION_MS - 1,
                                  TSDB_RAW_RETENTION_MS));
    assert_true(tsdb_raw_expired(T0 + 5, end + TSDB_RAW_RETENTION_MS,
                                 TSDB_RAW_RETENTION_MS));
    assert_true(tsdb_raw_expired(end - 1, end + TSDB_RAW_RETENTION_MS,
                                 TSDB_RAW_RETENTION_MS));
    assert_false(tsdb_raw_expired(end, end + TSDB_RAW_RETENTION_MS,
                                  TSDB_RAW_RETENTION_MS));
    /* Configured: a week, or nothing kept past the window. */
    assert_true(tsdb_raw_expired(T0, end + 7 * TSDB_DAY_MS, 7 * TSDB_DAY_MS));
    assert_true(tsdb_raw_expired(T0, end, -5));
    assert_false(tsdb_raw_expired(T0, end - 1, 0));
    assert_false(tsdb_raw_expired(T0, INT64_MIN, 0));
    assert_false(tsdb_raw_expired(-1, INT64_MAX, 0));
    assert_true(tsdb_raw_expired(TSDB_TIME_MAX, INT64_MAX, INT64_MAX / 2));
}

/* The fleet is a pure function of its arguments. */
static void test_fleet_deterministic(void **state)
{
    struct tsdb_fleet f, g;
    struct tsdb_report a, b;
    int lost = 0;

    (void)state;
    tsdb_fleet_init(&f);
    g = f;
    for (uint32_t minute = 0; minute < 2000; minute++) {
        bool ha = tsdb_fleet_report(&f, 42, minute, &a);
        bool hb = tsdb_fleet_report(&g, 42, minute, &b);

        assert_int_equal(ha, hb);
        lost += !ha;
        if (ha) {
            assert_int_equal(a.t, b.t);
            assert_int_equal(a.n, b.n);
            for (size_t i = 0; i < a.n; i++) {
                assert_int_equal(a.values[i].metric, b.values[i].metric);
                assert_true(same_double(a.values[i].v, b.values[i].v));
            }
        }
    }
    /* One in two hundred lost. */
    assert_true(lost > 2 && lost < 25);
    g.seed = 2;
    assert_true(tsdb_fleet_report(&f, 1, 5, &a) && tsdb_fleet_report(&g, 1, 5,
                                                                      &b));
    assert_true(a.values[0].v != b.values[0].v || a.t != b.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_value_checks),
        cmocka_unit_test(test_report_check),
        cmocka_unit_test(test_round_trip_fleet),
        cmocka_unit_test(test_round_trip_edges),
        cmocka_unit_test(test_series_extremes),
        cmocka_unit_test(test_order_and_limits),
        cmocka_unit_test(test_decoder_and_resume),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_rollups),
        cmocka_unit_test(test_rollup_encode_refusals),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_fit_exact),
        cmocka_unit_test(test_fit_noisy),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_fleet_deterministic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
