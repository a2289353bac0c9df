/*
 * test_jsonmem.c - JSON parsed into an arena (src/core/jsonmem.c): the
 * tree is the one json_loadb builds, it can be changed and freed as any
 * other (what it gains comes from malloc), and values from malloc and
 * from an arena mix in one process.  Run under AddressSanitizer, a value
 * freed the wrong way or left unfreed fails the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/jsonmem.h"

static const char doc[] =
    "{\"units\":[{\"model\":\"CN0001226001\",\"serial\":\"S-1\","
    "\"components\":[{\"slot\":\"arm\",\"part_no\":\"P-7\"}]},"
    "{\"model\":\"CN0001226001\",\"batch\":\"L\\u00e9-2\",\"n\":12.5}],"
    "\"big\":\"" "0123456789abcdef0123456789abcdef0123456789abcdef" "\"}";

static int setup(void **state)
{
    (void)state;
    jsonmem_init();
    return 0;
}

static void test_same_tree(void **state)
{
    struct arena a;
    json_error_t e;
    json_t *mine, *theirs;

    (void)state;
    arena_init(&a);
    mine = jsonmem_loadb(&a, doc, sizeof doc - 1, 0, &e);
    theirs = json_loadb(doc, sizeof doc - 1, 0, &e);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_true(json_equal(mine, theirs));
    json_decref(mine);
    json_decref(theirs);
    arena_release(&a);
}

static void test_changed_after_parse(void **state)
{
    struct arena a;
    json_error_t e;
    json_t *v, *units, *kept;

    (void)state;
    arena_init(&a);
    v = jsonmem_loadb(&a, doc, sizeof doc - 1, 0, &e);
    assert_non_null(v);
    /* Growing an object and an array past their sizes reallocates their
     * tables from malloc; removing a member frees an arena value. */
    for (int i = 0; i < 40; i++) {
        char k[16];

        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(json_object_set_new(v, k, json_integer(i)), 0);
    }
    units = json_object_get(v, "units");
    for (int i = 0; i < 40; i++)
        assert_int_equal(json_array_append_new(units, json_string("u")), 0);
    assert_int_equal(json_object_del(v, "big"), 0);
    assert_int_equal(json_array_size(units), 42);
    assert_int_equal(json_integer_value(json_object_get(v, "k39")), 39);
    /* A malloc'd value holding an arena one, and freed before the arena. */
    kept = json_pack("{s:O}", "first", json_array_get(units, 0));
    assert_non_null(kept);
    json_decref(v);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(kept, "first"), "serial")),
                        "S-1");
    json_decref(kept);
    arena_release(&a);
}

static void test_errors(void **state)
{
    struct arena a;
    json_error_t e;

    (void)state;
    arena_init(&a);
    assert_null(jsonmem_loadb(&a, "{\"a\":[1,2", 9, 0, &e));
    assert_int_equal(e.line, 1);
    assert_null(jsonmem_loadb(&a, "{\"a\":\"\\u00\"}", 12, 0, &e));
    arena_release(&a);
}

static void test_outside_an_arena(void **state)
{
    json_t *v;

    (void)state;
    /* Values made outside jsonmem_loadb come from malloc: the leak check
     * sees them all freed. */
    v = json_pack("{s:s, s:[i,i], s:f}", "a", "b", "c", 1, 2, "d", 0.5);
    assert_non_null(v);
    assert_int_equal(json_array_size(json_object_get(v, "c")), 2);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_tree),
        cmocka_unit_test(test_changed_after_parse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_outside_an_arena),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
