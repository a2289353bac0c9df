/*
 * bench_json.c - the JSON parse ceiling for telemetry ingest
 * (docs/PERFORMANCE.md, "Telemetry").
 *
 * POST /v1/telemetry parses its whole body with jansson's json_loadb (as
 * src/server/http.c does, flags 0) before anything else happens, so the
 * rate at which jansson builds the tree of a batch is a ceiling on what
 * HTTP ingest can reach on one core.  This measures, on one core:
 *
 *   - one health report of the shape bench/bench_telemetry_api.py sends
 *     (about 1.8 KB: 40 joints with wear and temperature, battery state of
 *     health, cycles and temperature, precision and hours: 85 values),
 *     parsed and freed REPORT_N times;
 *   - a batch of BATCH such reports as one JSON array (about 1.8 MB, as
 *     one POST body), parsed and freed BATCH_N times;
 *   - a 321-byte object, parsed and freed SMALL_N times, to compare with
 *     /work/shared/MEASURED.md's 241k parses/s for jansson;
 *   - the same batch read by tel_scan (src/core/tel_scan.c), which ingest
 *     uses instead of jansson for a well-formed batch: the reports parsed,
 *     checked against the schema and tsdb_report_check, no tree.
 *
 * The text is written exactly as Python's json.dumps writes it (", " and
 * ": " separators), so sizes match the HTTP benchmark's.  Every figure is
 * the median of RUNS runs, with the min and max: reports/s, values/s, MB/s.
 *
 *   bench_json
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench.h"
#include "core/core_int.h"

#define RUNS     5
#define JOINTS   40
#define VALUES   (JOINTS * 2 + 5) /* wear and temp per joint, 3 battery, 2 */
#define BATCH    1000             /* reports a POST in bench_telemetry_api */
#define REPORT_N 20000            /* about 0.2 s a run at ~100k parses/s */
#define BATCH_N  20               /* 20,000 reports a run, as above */
#define SMALL_N  200000           /* about 0.8 s a run at ~250k parses/s */

/* A 321-byte object, a unit record's first members: the size MEASURED.md
 * gives its jansson and cJSON figures for. */
static const char small_json[] =
    "{\"code\": \"CN0001A1B2C326000000000000017K\", \"model\": \"CN0001326001\", "
    "\"state\": \"in_service\", \"production_date\": \"2026-03-14\", "
    "\"batch\": \"L000123\", \"factory\": \"Plant 2\", "
    "\"firmware\": {\"main\": \"1.4.3\"}, \"custodian\": 421, "
    "\"registered_at\": \"2026-03-20T08:30:00.123Z\", "
    "\"level\": 3, \"region\": \"440305\", \"open_alerts\": 0, \"ok\": true}";

struct buf {
    char *p;
    size_t len, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_json: %s\n", what);
    exit(1);
}

static void put(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends printf-formatted text to b, growing it as needed. */
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("vsnprintf failed");
        if ((size_t)n < b->cap - b->len)
            break;
        b->cap = b->cap * 2 + (size_t)n + 1;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    b->len += (size_t)n;
}

static uint64_t rng = 7;

/* xorshift64*: a uniform double in [0, 1), the same stream every run. */
static double rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Appends the report of minute `minute`, as bench_telemetry_api.report()
 * builds it and json.dumps writes it. */
static void put_report(struct buf *b, int minute)
{
    int h = (8 + minute / 60) % 24, m = minute % 60;

    put(b, "{\"unit\": \"CN00013260012611220000000001S\", "
           "\"t\": \"2026-11-02T%02d:%02d:00.000Z\", \"joints\": [", h, m);
    for (int j = 0; j < JOINTS; j++)
        put(b, "%s{\"id\": %d, \"wear\": %.4g, \"temp\": %.1f}", j ? ", " : "",
            j, 0.1 + j * 0.001 + minute * 1e-5, 35 + rnd() * 10);
    put(b, "], \"battery\": {\"soh\": %.4g, \"cycles\": %d, \"temp\": %.1f}, "
           "\"precision_mm\": %.3f, \"hours\": %.2f}",
        0.98 - minute * 1e-6, 100 + minute / 120, 30 + rnd() * 3,
        0.2 + rnd() * 0.05, 1000 + minute / 60.0);
}

/* Parses text n times per run, RUNS runs; fills rates (parses/s), sorted. */
static void time_parse(const char *text, size_t len, int n, double *rates)
{
    json_error_t je;

    for (int r = 0; r < RUNS; r++) {
        double t0 = bench_now();

        for (int i = 0; i < n; i++) {
            json_t *j = json_loadb(text, len, 0, &je);

            if (!j)
                die(je.text);
            json_decref(j);
        }
        rates[r] = n / (bench_now() - t0);
    }
    qsort(rates, RUNS, sizeof *rates, bench_cmp_double);
}

/* As time_parse, with the telemetry scanner. */
static void time_scan(const char *text, size_t len, int n, double *rates)
{
    for (int r = 0; r < RUNS; r++) {
        double t0 = bench_now();

        for (int i = 0; i < n; i++) {
            struct tel_parsed *out;

            if (tel_scan(text, len, false, &out) == 0)
                die("tel_scan declined the batch");
            free(out);
        }
        rates[r] = n / (bench_now() - t0);
    }
    qsort(rates, RUNS, sizeof *rates, bench_cmp_double);
}

/* Prints one line: parses/s (median, min-max), then reports/s, values/s
 * and MB/s for `reports` reports of `len` bytes a parse. */
static void print(const char *label, const double *rates, int reports,
                  size_t len)
{
    double med = rates[RUNS / 2];

    printf("%-34s %9.0f parses/s (%.0f-%.0f)", label, med, rates[0],
           rates[RUNS - 1]);
    if (reports > 0)
        printf(" = %.0f reports/s = %.2f M values/s", med * reports,
               med * reports * VALUES / 1e6);
    printf(", %.0f MB/s (%zu bytes)\n", med * (double)len / 1e6, len);
}

int main(void)
{
    struct buf one = {0}, batch = {0};
    double rates[RUNS];

    put_report(&one, 0);
    put(&batch, "[");
    for (int i = 0; i < BATCH; i++) {
        if (i)
            put(&batch, ", ");
        put_report(&batch, i);
    }
    put(&batch, "]");
    if (sizeof small_json - 1 != 321)
        die("the small object is not 321 bytes");

    printf("jansson %s, json_loadb + json_decref, one core, median of %d "
           "runs (min-max); %d values a report\n",
           jansson_version_str(), RUNS, VALUES);
    time_parse(one.p, one.len, REPORT_N, rates);
    print("one report", rates, 1, one.len);
    time_parse(batch.p, batch.len, BATCH_N, rates);
    print("batch of 1000 reports (one array)", rates, BATCH, batch.len);
    time_parse(small_json, sizeof small_json - 1, SMALL_N, rates);
    print("321-byte object", rates, 0, sizeof small_json - 1);
    time_scan(batch.p, batch.len, BATCH_N, rates);
    print("batch of 1000, tel_scan", rates, BATCH, batch.len);
    free(one.p);
    free(batch.p);
    return 0;
}
