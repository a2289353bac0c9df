/*
 * test_canon.c - the canonical JSON of stored records (core_json_dump in
 * src/core/write.c) is byte for byte what jansson writes with sorted keys,
 * compact separators and 15-digit reals, on fixed cases and on random
 * documents; so is a reply (jsonw_dump in src/core/jsonw.c, keys in the
 * order they were set) against jansson's compact dump; and times are formatted as gmtime_r and strftime would, and
 * read back by core_time_parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "core/jsonw.h"
#include "hrid/merkle.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static void expect_same(const json_t *v)
{
    struct arena a;
    char *ours, *theirs;

    arena_init(&a);
    ours = core_json_dump(&a, v);
    theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | CORE_JSON_REAL |
                               JSON_ENCODE_ANY);
    assert_non_null(ours);
    assert_non_null(theirs);
    assert_string_equal(ours, theirs);
    free(theirs);

    /* A reply: the members in the order they were set. */
    ours = jsonw_dump(&a, v, 0, NULL);
    theirs = json_dumps(v, JSON_COMPACT | CORE_JSON_REAL | JSON_ENCODE_ANY);
    assert_non_null(ours);
    assert_non_null(theirs);
    assert_string_equal(ours, theirs);
    free(theirs);
    arena_release(&a);
}

static void test_fixed(void **state)
{
    static const char *const docs[] = {
        "{}", "[]", "{\"b\":1,\"a\":[true,false,null]}",
        "{\"lat\":22.543,\"lon\":114.0579,\"mass\":62.3,\"n\":-7}",
        "{\"x\":1e20,\"y\":1e-5,\"z\":-2.5e-300,\"w\":3.0,\"v\":-0.0}",
        "{\"s\":\"tab\\there \\\"q\\\" back\\\\ \\u0001 \\u001f é 中\"}",
        "{\"nested\":{\"z\":{\"y\":[{\"b\":2,\"a\":1}]},\"a\":\"\"}}",
        "[0,-1,9223372036854775807,-9223372036854775808,1000000007]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t e;
        json_t *v = json_loads(docs[i], 0, &e);

        assert_non_null(v);
        expect_same(v);
        json_decref(v);
    }
}

static json_t *random_value(int depth)
{
    char buf[24];
    size_t n;

    switch (rng() % (depth > 3 ? 5 : 7)) {
    case 0:
        return json_integer((json_int_t)(rng() % 2000001) - 1000000);
    case 1: {
        double d = (double)(int64_t)(rng() % 2000001 - 1000000) /
                   (double)(1 + rng() % 1000);

        return json_real(rng() % 7 == 0 ? d * 1e200 : d);
    }
    case 2:
        n = rng() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(1 + rng() % 127);
        return json_stringn(buf, n);
    case 3:
        return rng() % 2 ? json_true() : json_false();
    case 4:
        return json_null();
    case 5: {
        json_t *o = json_object();

        for (int i = (int)(rng() % 6); i > 0; i--) {
            snprintf(buf, sizeof buf, "k%u", (unsigned)(rng() % 50));
            json_object_set_new(o, buf, random_value(depth + 1));
        }
        return o;
    }
    default: {
        json_t *a = json_array();

        for (int i = (int)(rng() % 5); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    }
}

static void test_random(void **state)
{
    (void)state;
    for (int i = 0; i < 5000; i++) {
        json_t *v = random_value(0);

        expect_same(v);
        json_decref(v);
    }
}

/* core_time_format against the C library over 1970..9999, leap days and
 * the ends of months, years and centuries included. */
static void test_time_format(void **state)
{
    static const int64_t fixed[] = {
        0, 1, 999, 1000, 86399999, 86400000, 951782400000, /* 2000-02-29 */
        951868799999, 4107542400000, /* 2100-03-01 */ 253402300799999,
        /* 9999-12-31T23:59:59.999 */ 1779438600250,
    };
    char ours[32], theirs[32];
    int64_t back;

    (void)state;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] + 200000; i++) {
        int64_t ms = i < sizeof fixed / sizeof fixed[0]
                         ? fixed[i]
                         : (int64_t)(rng() % 253402300800000ull);
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(theirs, sizeof theirs, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(theirs + 19, sizeof theirs - 19, ".%03dZ", (int)(ms % 1000));
        core_time_format(ms, ours);
        assert_string_equal(ours, theirs);
        assert_int_equal(core_time_parse(ours, &back), 0);
        assert_int_equal(back, ms);
    }
}

/* The leaf hash taken over the parts in place equals the hash of the
 * encoded bytes, for ordinary events and for ones whose members overflow
 * the fixed buffers (the fallback path). */
static void test_leaf_hash(void **state)
{
    struct core_leaf_hasher h;
    static char big[3000];

    (void)state;
    memset(big, 'r', sizeof big - 1);
    core_leaf_hasher_init(&h);
    for (int i = 0; i < 2000; i++) {
        struct store_event e;
        struct arena a;
        unsigned char want[32], got[32];
        char body[64];
        size_t len;
        char *bytes;

        memset(&e, 0, sizeof e);
        memcpy(e.code, "CN0001326A1B2600000000000017F", 30);
        e.type = i % 7 == 0 ? big : "transfer";
        e.actor_role = i % 3 == 0 ? NULL : "manufacturer";
        e.actor_id = (int64_t)(rng() % 100000) - (i % 11 == 0 ? 50000 : 0);
        e.at = (int64_t)(rng() % 253402300800000ull);
        e.recorded_at = i % 5 == 0 ? 0 : (int64_t)(rng() % 2000000000000ull);
        snprintf(body, sizeof body, "{\"n\":%d,\"s\":\"a\\\"b\"}", i);
        e.body = body;
        arena_init(&a);
        bytes = core_leaf_encode(&a, &e, &len);
        assert_non_null(bytes);
        assert_int_equal(strlen(bytes), len);
        hrid_merkle_leaf_hash(bytes, len, want);
        assert_int_equal(core_leaf_hash_event(&h, &e, got), 0);
        assert_memory_equal(got, want, 32);
        if (i == 1) {
            char t[32];

            core_time_format(e.at, t);
            assert_non_null(strstr(bytes, t));
            assert_non_null(strstr(bytes, ",\"body\":{\"n\":1,"));
        }
        arena_release(&a);
    }
    core_leaf_hasher_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_leaf_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
