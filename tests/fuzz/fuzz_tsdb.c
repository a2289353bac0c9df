/*
 * fuzz_tsdb.c - libFuzzer driver for the telemetry chunk decoders
 * (src/telemetry/chunk.c, rollup.c) and metric names (metric.c), on
 * arbitrary bytes.
 *
 * The fuzz build links libhrid's sources only, so the telemetry files
 * this driver needs are compiled into it here.  The first input byte
 * picks the target; the rest is the input:
 *
 *   0  a raw chunk, as given;
 *   1  a raw chunk whose CRC the driver appends, so that mutations reach
 *      the parser behind the checksum;
 *   2  a rollup chunk, as given;    3  the same with the CRC appended;
 *   4  a metric name.
 *
 * Beyond "no crash, no sanitizer report" it checks what the header
 * promises: a refusal leaves a message and no samples; accepted samples
 * have valid, increasing times in one window and finite values; an
 * accepted chunk re-encodes to one that decodes to the same samples; an
 * accepted metric name formats back to itself.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/bits.c"
#include "telemetry/chunk.c"
#include "telemetry/metric.c"
#include "telemetry/rollup.c"
#include "telemetry/series.c"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void refused(const struct hrid_err *err, size_t n)
{
    CHECK(err->status != HRID_OK);
    CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL);
    CHECK(err->msg[0] != '\0');
    CHECK(n == 0);
}

static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void fuzz_raw(const uint8_t *p, size_t len)
{
    static struct tsdb_sample s[TSDB_CHUNK_SAMPLES], s2[TSDB_CHUNK_SAMPLES];
    static struct tsdb_encoder e;
    static uint8_t again[TSDB_CHUNK_BYTES_MAX];
    struct tsdb_chunk_info info;
    struct hrid_err err;
    size_t n = 99, n2, len2;

    if (tsdb_chunk_decode(p, len, s, TSDB_CHUNK_SAMPLES, &n, &info, &err)
        != HRID_OK) {
        refused(&err, n);
        return;
    }
    CHECK(n >= 1 && n <= TSDB_CHUNK_SAMPLES && info.n == n);
    CHECK(tsdb_metric_info(info.metric) != NULL);
    CHECK(info.first == s[0].t && info.last == s[n - 1].t);
    for (size_t i = 0; i < n; i++) {
        CHECK(s[i].t >= 0 && s[i].t <= TSDB_TIME_MAX);
        CHECK(i == 0 || s[i].t > s[i - 1].t);
        CHECK(tsdb_chunk_window(s[i].t) == tsdb_chunk_window(s[0].t));
        CHECK(isfinite(s[i].v));
    }
    if (tsdb_encoder_init_from(&e, p, len, &err) != HRID_OK) {
        /* Only a chunk of other digits than its metric's may not resume. */
        CHECK(err.reason == TSDB_R_PRECISION);
        return;
    }
    CHECK(tsdb_encoder_finish(&e, again, sizeof again, &len2, &err)
          == HRID_OK);
    CHECK(tsdb_chunk_decode(again, len2, s2, TSDB_CHUNK_SAMPLES, &n2, NULL,
                            &err) == HRID_OK);
    CHECK(n2 == n);
    for (size_t i = 0; i < n; i++)
        CHECK(s2[i].t == s[i].t && same(s2[i].v, s[i].v));
}

static void fuzz_rollup(const uint8_t *p, size_t len)
{
    static struct tsdb_rollup b[TSDB_ROLLUP_BUCKETS], b2[TSDB_ROLLUP_BUCKETS];
    static uint8_t again[TSDB_ROLLUP_BYTES_MAX];
    struct tsdb_chunk_info info;
    struct hrid_err err;
    size_t n = 99, n2, len2;

    if (tsdb_rollup_decode(p, len, b, TSDB_ROLLUP_BUCKETS, &n, &info, &err)
        != HRID_OK) {
        refused(&err, n);
        return;
    }
    CHECK(n >= 1 && n <= TSDB_ROLLUP_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        CHECK(b[i].count >= 1 && b[i].min <= b[i].max);
        CHECK(b[i].start % TSDB_HOUR_MS == 0);
        CHECK(i == 0 || b[i].start > b[i - 1].start);
        CHECK(tsdb_rollup_window(b[i].start) == tsdb_rollup_window(b[0].start));
    }
    if (info.digits != tsdb_metric_info(info.metric)->digits)
        return;
    CHECK(tsdb_rollup_encode(info.metric, b, n, again, sizeof again, &len2,
                             &err) == HRID_OK);
    CHECK(tsdb_rollup_decode(again, len2, b2, TSDB_ROLLUP_BUCKETS, &n2, NULL,
                             &err) == HRID_OK);
    CHECK(n2 == n);
    for (size_t i = 0; i < n; i++)
        CHECK(b2[i].start == b[i].start && b2[i].count == b[i].count
              && same(b2[i].min, b[i].min) && same(b2[i].max, b[i].max)
              && same(b2[i].sum, b[i].sum));
}

static void fuzz_name(const uint8_t *p, size_t len)
{
    char name[TSDB_METRIC_NAME_MAX];
    struct hrid_err err;
    unsigned id;

    if (tsdb_metric_parse((const char *)p, len, &id, &err) != HRID_OK) {
        refused(&err, 0);
        CHECK(id == TSDB_METRIC_COUNT);
        return;
    }
    CHECK(tsdb_metric_format(id, name, sizeof name, &err) == HRID_OK);
    CHECK(strlen(name) == len && memcmp(name, p, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    uint32_t crc;
    size_t n;
    int target;

    if (size < 1)
        return 0;
    target = data[0] % 5;
    data++;
    size--;
    /* An exact-size copy, so that ASan sees a read one byte past the
     * input; with the CRC appended for targets 1 and 3. */
    n = size + (target == 1 || target == 3 ? 4 : 0);
    copy = malloc(n ? n : 1);
    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    if (n > size) {
        crc = tsdb_crc32c(copy, size);
        for (int i = 0; i < 4; i++)
            copy[size + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    switch (target) {
    case 0:
    case 1:
        fuzz_raw(copy, n);
        break;
    case 2:
    case 3:
        fuzz_rollup(copy, n);
        break;
    default:
        fuzz_name(copy, n);
        break;
    }
    free(copy);
    return 0;
}
