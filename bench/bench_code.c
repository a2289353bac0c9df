/*
 * bench_code.c - how many identity codes one core checks per second
 * (lib/code.c, DESIGN §2).
 *
 * Pre-generates a million distinct valid codes (random assigned country,
 * enterprise, level, year, sequence; platform-allocated serials), then
 * cycles over them for about a second per run, five runs, and prints the
 * median rate of:
 *   - hrid_code_validate on canonical codes (the bulk/stored-code path),
 *   - hrid_code_parse on canonical codes,
 *   - hrid_code_parse on display-form input (what people type or scan).
 * A million codes (32 MB and 40 MB of input) do not fit in cache, so the
 * figure includes streaming the codes from memory, as a bulk check would.
 * Every result is folded into a volatile sink so nothing is optimised away.
 *
 *   bench_code                 run the benchmarks
 *   bench_code --gen N         print N distinct valid canonical codes
 *   bench_code --gen-display N the same in display form
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hrid/code.h"

#define NCODES   1000000    /* distinct codes, more than any cache holds */
#define RUNS     5          /* median of five, as docs/PERFORMANCE.md says */
#define RUN_SECS 1.0        /* each run lasts at least this long */
#define STRIDE_C 32         /* canonical: 29 + NUL, padded */
#define STRIDE_D 40         /* display: 33 + NUL, padded */

static volatile unsigned long sink;

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The i-th code: random segments, and a serial allocated with sequence i
 * so that every code is distinct. */
static void make_code(uint64_t i, char out[HRID_CODE_LEN + 1])
{
    char ent[5], model[7], serial[HRID_SERIAL_BODY_LEN + 1];
    const char *cc = hrid_country_at(rng() % hrid_country_count(), NULL);
    struct hrid_err err;

    hrid_alloc_segment(rng() % (34u * 34 * 34 * 34), 4, ent, NULL);
    model[0] = (char)('0' + rng() % 6);
    model[1] = (char)('0' + rng() % 10);
    model[2] = (char)('0' + rng() % 10);
    hrid_alloc_segment(rng() % (34u * 34 * 34), 3, model + 3, NULL);
    hrid_serial_allocate(2020 + (int)(rng() % 10), 1 + (int)(rng() % 12),
                         1 + (int)(rng() % 28), i, serial, NULL);
    if (hrid_code_make(cc, ent, model, serial, out, &err) != HRID_OK) {
        fprintf(stderr, "bench_code: make: %s\n", err.msg);
        exit(1);
    }
}

static int gen(const char *arg, int display)
{
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    char code[HRID_CODE_LEN + 1], disp[HRID_CODE_DISPLAY_LEN + 1];

    if (*arg == '\0' || *end != '\0') {
        fprintf(stderr, "bench_code: '%s' is not a count\n", arg);
        return 2;
    }
    for (unsigned long long i = 0; i < n; i++) {
        make_code(i, code);
        if (display) {
            hrid_code_display(code, disp);
            puts(disp);
        } else {
            puts(code);
        }
    }
    return 0;
}

enum kind { VALIDATE, VALIDATE_MANY, PARSE_CANON, PARSE_DISPLAY };

/* Codes per hrid_code_validate_many call: a screenful of a label batch. */
#define MANY 256

/* One pass over all codes; returns a value that depends on every result. */
static unsigned long pass(enum kind k, const char *canon, const char *disp)
{
    unsigned long acc = 0;
    char out[HRID_CODE_LEN + 1];

    switch (k) {
    case VALIDATE:
        for (size_t i = 0; i < NCODES; i++)
            acc += (unsigned long)hrid_code_validate(canon + i * STRIDE_C,
                                                     NULL);
        break;
    case VALIDATE_MANY: {
        const char *ptrs[MANY];
        unsigned char ok[MANY];

        for (size_t i = 0; i < NCODES; i += MANY) {
            size_t n = NCODES - i < MANY ? NCODES - i : MANY;

            for (size_t j = 0; j < n; j++)
                ptrs[j] = canon + (i + j) * STRIDE_C;
            acc += hrid_code_validate_many(ptrs, n, ok);
        }
        break;
    }
    case PARSE_CANON:
        for (size_t i = 0; i < NCODES; i++)
            acc += (unsigned long)hrid_code_parse(canon + i * STRIDE_C,
                                                  HRID_CODE_LEN, out, NULL) +
                   (unsigned char)out[28];
        break;
    case PARSE_DISPLAY:
        for (size_t i = 0; i < NCODES; i++)
            acc += (unsigned long)hrid_code_parse(disp + i * STRIDE_D,
                                                  HRID_CODE_DISPLAY_LEN, out,
                                                  NULL) +
                   (unsigned char)out[28];
        break;
    }
    return acc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void measure(const char *name, enum kind k, const char *canon,
                    const char *disp)
{
    double rate[RUNS];

    pass(k, canon, disp);       /* warm up: page in, train predictors */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now(), t;
        unsigned long n = 0;

        do {
            sink += pass(k, canon, disp);
            n += NCODES;
            t = now() - t0;
        } while (t < RUN_SECS);
        rate[r] = (double)n / t;
    }
    qsort(rate, RUNS, sizeof rate[0], cmp_double);
    printf("%-28s %7.2f M codes/s  (median of %d runs; min %.2f, max %.2f)\n",
           name, rate[RUNS / 2] / 1e6, RUNS, rate[0] / 1e6,
           rate[RUNS - 1] / 1e6);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char *canon, *disp;

    if (argc == 3 && strcmp(argv[1], "--gen") == 0)
        return gen(argv[2], 0);
    if (argc == 3 && strcmp(argv[1], "--gen-display") == 0)
        return gen(argv[2], 1);
    if (argc != 1) {
        fprintf(stderr, "usage: bench_code [--gen N | --gen-display N]\n");
        return 2;
    }

    canon = calloc(NCODES, STRIDE_C);
    disp = calloc(NCODES, STRIDE_D);
    if (canon == NULL || disp == NULL) {
        fprintf(stderr, "bench_code: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < NCODES; i++) {
        make_code(i, canon + i * STRIDE_C);
        hrid_code_display(canon + i * STRIDE_C, disp + i * STRIDE_D);
    }
    /* Every code must pass, or the benchmark measures the error path. */
    if (pass(VALIDATE, canon, disp) != 0 ||
        pass(PARSE_DISPLAY, canon, disp) == 0) {
        fprintf(stderr, "bench_code: generated codes do not validate\n");
        return 1;
    }

    printf("identity code, one core, %d distinct codes cycled, ~%.0f s per "
           "run\n", NCODES, RUN_SECS);
    measure("validate (canonical)", VALIDATE, canon, disp);
    measure("validate_many (canonical, 256)", VALIDATE_MANY, canon, disp);
    measure("parse (canonical)", PARSE_CANON, canon, disp);
    measure("parse (display form)", PARSE_DISPLAY, canon, disp);

    free(canon);
    free(disp);
    return 0;
}
