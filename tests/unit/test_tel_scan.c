/*
 * test_tel_scan.c - the telemetry scanner (src/core/tel_scan.c) against
 * the jansson and schema path it stands in for (tel_parse_json).
 *
 * Whatever the scanner accepts, the JSON path must accept and read to the
 * same reports, value for value and bit for bit; on well-formed batches
 * the scanner must accept (or it would be no faster).  Batches are
 * generated from a fixed seed: members in random order and subsets,
 * numbers written several ways, random whitespace; then mutated (values
 * out of range, nulls, unknown or repeated members, escapes, cuts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"

#define CODE "CN00013260012611220000000001S"
#define DISPLAY "CN-0001-326001-2611220000000001-S"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned below(unsigned n)
{
    return (unsigned)(next() % n);
}

/* A value of [lo, hi] at a metric's precision of d decimals, as a
 * device quantises it (docs/telemetry.md). */
static double at_precision(double lo, double hi, int d)
{
    double scale = 1;

    for (int i = 0; i < d; i++)
        scale *= 10;
    return (double)((long long)(lo * scale) +
                    (long long)below((unsigned)((hi - lo) * scale) + 1)) /
           scale;
}

struct buf {
    char *p;
    size_t n, cap;
};

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < b->cap - b->n)
            break;
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    b->n += (size_t)n;
}

/* JSON Lines: a report on one line, so whitespace without line ends. */
static bool one_line;

static void ws(struct buf *b)
{
    static const char *const spaces[] = {"", "", "", " ", "\t ", "\n",
                                         "\r\n"};

    put(b, "%s", spaces[below(one_line ? 5 : 7)]);
}

/* A number as a client might write it. */
static void num(struct buf *b, double v, bool integer)
{
    if (integer) {
        put(b, "%lld", (long long)v);
        return;
    }
    switch (below(5)) {
    case 0: put(b, "%.17g", v); break;
    case 1: put(b, "%.3f", v); break;
    case 2: put(b, "%g", v); break;
    case 3: put(b, "%.6e", v); break;
    default: put(b, "%.4E", v); break;
    }
}

static void member(struct buf *b, bool *comma, const char *key)
{
    if (*comma)
        put(b, ",");
    *comma = true;
    ws(b);
    put(b, "\"%s\"", key);
    ws(b);
    put(b, ":");
    ws(b);
}

/* Members in a random order (Fisher-Yates). */
static void shuffle(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below((unsigned)i + 1), t = v[i];

        v[i] = v[j];
        v[j] = t;
    }
}

static void joint(struct buf *b, int id)
{
    int order[3] = {0, 1, 2};
    bool comma = false;

    shuffle(order, 3);
    put(b, "{");
    for (int i = 0; i < 3; i++) {
        if (order[i] == 0) {
            member(b, &comma, "id");
            put(b, "%d", id);
        } else if (order[i] == 1 && below(5) != 0) {
            member(b, &comma, "wear");
            num(b, at_precision(0, 1, 4), false);
        } else if (order[i] == 2 && below(5) != 0) {
            bool integer = below(4) == 0;

            member(b, &comma, "temp");
            num(b, at_precision(20, 60, integer ? 0 : 1), integer);
        }
    }
    ws(b);
    put(b, "}");
}

/* One report; each member present or not, in a random order. */
static void report(struct buf *b)
{
    int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    bool comma = false;

    shuffle(order, 8);
    put(b, "{");
    for (int i = 0; i < 8; i++) {
        switch (order[i]) {
        case 0:
            member(b, &comma, "unit");
            put(b, "\"%s\"", below(2) ? CODE : DISPLAY);
            break;
        case 1:
            member(b, &comma, "t");
            put(b, "\"2026-11-%02uT%02u:%02u:%02u%sZ\"", 1 + below(20),
                below(24), below(60), below(60), below(2) ? ".250" : "");
            break;
        case 2:
            if (below(2)) {
                member(b, &comma, "firmware");
                put(b, "\"1.%u.%u\"", below(9), below(20));
            }
            break;
        case 3: {
            unsigned n = below(41);
            unsigned first = below(TSDB_JOINTS - n + 1);

            member(b, &comma, "joints");
            put(b, "[");
            for (unsigned k = 0; k < n; k++) {
                if (k > 0)
                    put(b, ",");
                ws(b);
                joint(b, (int)(first + k));
            }
            put(b, "]");
            break;
        }
        case 4:
            if (below(3)) {
                bool c2 = false;

                member(b, &comma, "battery");
                put(b, "{");
                if (below(2)) {
                    member(b, &c2, "soh");
                    num(b, at_precision(0.5, 1, 4), false);
                }
                if (below(2)) {
                    member(b, &c2, "cycles");
                    put(b, "%u", below(5000));
                }
                if (below(2)) {
                    member(b, &c2, "temp");
                    num(b, at_precision(10, 40, 1), false);
                }
                put(b, "}");
            }
            break;
        case 5:
            /* Always one value, so that every report is a valid one. */
            member(b, &comma, "precision_mm");
            if (below(3) == 0)
                num(b, at_precision(0, 2, 0), true);
            else
                num(b, at_precision(0, 2, 3), false);
            break;
        case 6:
            if (below(2)) {
                member(b, &comma, "hours");
                num(b, at_precision(0, 10000, 2), false);
            }
            break;
        case 7:
            if (below(3) == 0) {
                member(b, &comma, "location");
                put(b, "{\"lat\":");
                num(b, at_precision(22, 23, 6), false);
                put(b, ",\"lon\":");
                num(b, at_precision(113, 114, 6), false);
                put(b, "}");
            }
            break;
        }
    }
    ws(b);
    put(b, "}");
}

/* What the route hands the JSON path for body. */
static json_t *reports_of(const char *body, size_t len, bool lines)
{
    json_t *j, *r;

    if (lines) {
        json_t *l = json_array();
        const char *p = body, *end = body + len;

        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *q = p;

            while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q < le) {
                json_t *o = json_loadb(p, (size_t)(le - p), 0, NULL);

                if (o == NULL) {
                    json_decref(l);
                    return NULL;
                }
                json_array_append_new(l, o);
            }
            p = nl ? nl + 1 : end;
        }
        return l;
    }
    j = json_loadb(body, len, 0, NULL);
    if (j == NULL)
        return NULL;
    if (json_is_object(j) && json_object_get(j, "reports") != NULL)
        r = json_incref(json_object_get(j, "reports"));
    else if (json_is_object(j))
        r = json_pack("[O]", j);
    else
        r = json_incref(j);
    json_decref(j);
    return r;
}

/* Checks one body both ways; returns whether the scanner accepted it. */
static bool same(const char *body, size_t len, bool lines)
{
    struct tel_parsed *fast = NULL, *slow = NULL;
    struct core_err err;
    size_t n = tel_scan(body, len, lines, &fast);
    json_t *r = reports_of(body, len, lines);
    bool slow_ok;

    memset(&err, 0, sizeof err);
    slow_ok = r != NULL && json_is_array(r) && json_array_size(r) > 0 &&
              json_array_size(r) <= CORE_TELEMETRY_BATCH_MAX &&
              tel_parse_json(r, &slow, &err) == CORE_OK;
    if (n > 0) {
        if (!slow_ok)
            fail_msg("scanner accepted what the schema refuses (%s): %.*s",
                     err.msg, (int)(len > 300 ? 300 : len), body);
        assert_int_equal(n, json_array_size(r));
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(fast[i].code, slow[i].code);
            assert_int_equal(fast[i].r.t, slow[i].r.t);
            assert_string_equal(fast[i].r.firmware, slow[i].r.firmware);
            assert_int_equal(fast[i].r.n, slow[i].r.n);
            for (size_t k = 0; k < fast[i].r.n; k++) {
                assert_int_equal(fast[i].r.values[k].metric,
                                 slow[i].r.values[k].metric);
                assert_memory_equal(&fast[i].r.values[k].v,
                                    &slow[i].r.values[k].v, sizeof(double));
            }
        }
    }
    free(fast);
    free(slow);
    json_decref(r);
    return n > 0;
}

static void test_well_formed_batches_read_alike(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        struct buf b = {NULL, 0, 0};
        unsigned n = 1 + below(20), shape = below(4);

        one_line = shape == 2;
        put(&b, "%s", "");
        if (shape == 0 || shape == 1) {
            put(&b, shape == 0 ? "[" : "{\"reports\":[");
            for (unsigned i = 0; i < n; i++) {
                if (i > 0)
                    put(&b, ",");
                ws(&b);
                report(&b);
            }
            put(&b, shape == 0 ? "]" : "]}");
        } else if (shape == 2) {
            for (unsigned i = 0; i < n; i++) {
                report(&b);
                put(&b, below(4) ? "\n" : "\n \n");
            }
        } else {
            report(&b);
        }
        ws(&b);
        /* Every generated batch is well formed: the scanner takes it. */
        assert_true(same(b.p, b.n, shape == 2));
        free(b.p);
        one_line = false;
    }
}

/* Replaces the first occurrence of from (after a random point) by to. */
static char *mutate(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s + below((unsigned)strlen(s) / 2 + 1), from);
    size_t a, nf = strlen(from), nt = strlen(to);
    char *out;

    if (at == NULL)
        at = strstr(s, from);
    if (at == NULL)
        return NULL;
    a = (size_t)(at - s);
    out = malloc(strlen(s) - nf + nt + 1);
    assert_non_null(out);
    memcpy(out, s, a);
    memcpy(out + a, to, nt);
    strcpy(out + a + nt, at + nf);
    return out;
}

static void test_mutated_reports_are_never_misread(void **state)
{
    static const char *const swaps[][2] = {
        {"\"wear\":", "\"wear\":1.5,\"x\":"}, {"\"wear\":", "\"wear\":null,\"y\":"},
        {"\"soh\":", "\"soh\":-0.1,\"z\":"}, {"\"temp\":", "\"temp\":\"hot\",\"q\":"},
        {"\"id\":", "\"id\":1.0,\"w\":"}, {"\"id\":", "\"id\":99,\"w\":"},
        {"\"unit\":", "\"unit\":\"CN\\u0030\",\"v\":"},
        {"\"precision_mm\":", "\"precision_mm\":1,\"precision_mm\":"},
        {"\"precision_mm\":", "\"camera\":1,\"precision_mm\":"},
        {"\"t\":", "\"t\":\"yesterday\",\"u\":"}, {"\"lat\":", "\"lat\":91,\"k\":"},
        {"{\"lat\":", "{\"lon\":1}, \"o\":{\"lat\":"},
        {"\"cycles\":", "\"cycles\":1e3,\"c\":"}, {"\"hours\":", "\"hours\":-1,\"h\":"},
        {",", ",,"}, {"}", ""}, {":", "::"}, {"\"", "'"}, {"1", "01"},
        {"0.", "0.e"}, {"[", "[null,"}, {"{", "{\"\":0,"},
    };
    int accepted = 0;

    (void)state;
    for (int round = 0; round < 3000; round++) {
        struct buf b = {NULL, 0, 0};
        const char *const *sw = swaps[below(sizeof swaps / sizeof swaps[0])];
        char *m;

        put(&b, "[");
        report(&b);
        put(&b, "]");
        m = mutate(b.p, sw[0], sw[1]);
        if (m != NULL) {
            /* Mutations that leave a valid report may be taken; any
             * other must be declined. */
            accepted += same(m, strlen(m), false);
            if (below(4) == 0 && strlen(m) > 2)
                same(m, strlen(m) - 1 - below((unsigned)strlen(m) - 1),
                     false);
        }
        free(m);
        free(b.p);
    }
    /* Most mutations break the report; a few leave it valid. */
    assert_true(accepted < 3000);
}

static void test_shapes_it_leaves_to_jansson(void **state)
{
    static const char *const bodies[] = {
        "", "[]", "{}", "null", "[1]", "{\"reports\":[]}",
        "{\"reports\":[{\"unit\":\"" CODE "\",\"t\":\"2026-11-01T00:00:00Z\","
        "\"hours\":1}],\"x\":1}",
        "[{\"unit\":\"" CODE "\",\"t\":\"2026-11-01T00:00:00Z\",\"hours\":1}] x",
        "[{\"unit\":\"" CODE "\",\"t\":\"2026-11-01T00:00:00Z\"}]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct tel_parsed *out = NULL;

        assert_int_equal(tel_scan(bodies[i], strlen(bodies[i]), false, &out),
                         0);
        assert_null(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_batches_read_alike),
        cmocka_unit_test(test_mutated_reports_are_never_misread),
        cmocka_unit_test(test_shapes_it_leaves_to_jansson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
