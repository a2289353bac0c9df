/*
 * test_canon.c - the canonical JSON of stored records (core_json_dump in
 * src/core/write.c) is byte for byte what jansson writes with sorted keys,
 * compact separators and 15-digit reals, on fixed cases and on random
 * documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
