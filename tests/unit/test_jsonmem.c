/*
 * test_jsonmem.c - JSON parsed into an arena (src/core/jsonmem.c): the
 * tree is the one json_loadb builds, it can be changed and freed as any
 * other (what it gains comes from malloc), and values from malloc and
 * from an arena mix in one process; jsonmem_each hands over the elements
 * of {"key": [...]} one at a time, in any layout, and leaves any other
 * body to be parsed whole.  Run under AddressSanitizer, a value freed the
 * wrong way or left unfreed fails the run.
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

/* What jsonmem_each handed over: each element's text, as compact JSON,
 * joined by '|'. */
struct seen {
    char out[512];
    size_t len;
    size_t stop_at;         /* stop after this element; SIZE_MAX: never */
};

static int collect(void *ctx, size_t i, json_t *v)
{
    struct seen *s = ctx;
    char t[256];
    size_t n = json_dumpb(v, t, sizeof t - 1, JSON_COMPACT | JSON_SORT_KEYS);

    assert_true(n > 0 && n < sizeof t);
    t[n] = '\0';
    s->len += (size_t)snprintf(s->out + s->len, sizeof s->out - s->len,
                               "%s%s", s->len ? "|" : "", t);
    return i == s->stop_at;
}

static enum jsonmem_each_result each_of(const char *text, struct seen *s,
                                        size_t *n)
{
    struct arena scratch;
    enum jsonmem_each_result r;

    arena_init(&scratch);
    r = jsonmem_each(text, strlen(text), "units", &scratch, collect, s, n);
    arena_release(&scratch);
    return r;
}

static void test_each_layouts(void **state)
{
    static const char *const same[] = {
        "{\"units\":[{\"a\":1},{\"b\":\"x\"}]}",
        " \r\n{ \"units\" :\t[ {\"a\" : 1} ,\n {\"b\":\"x\"}\r\n] }\n",
    };
    struct seen s;
    size_t n;

    (void)state;
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        memset(&s, 0, sizeof s);
        s.stop_at = SIZE_MAX;
        assert_int_equal(each_of(same[k], &s, &n), JSONMEM_EACH_DONE);
        assert_int_equal(n, 2);
        assert_string_equal(s.out, "{\"a\":1}|{\"b\":\"x\"}");
    }
    /* Braces, brackets, commas and quotes inside strings, nested
     * objects and arrays: each element ends at its own closing brace. */
    memset(&s, 0, sizeof s);
    s.stop_at = SIZE_MAX;
    assert_int_equal(each_of("{\"units\":[{\"f\":\"}],\\\"{[\",\"c\":[{\"s\":"
                             "[1,{}]}]},{}]}", &s, &n),
                     JSONMEM_EACH_DONE);
    assert_int_equal(n, 2);
    assert_string_equal(s.out,
                        "{\"c\":[{\"s\":[1,{}]}],\"f\":\"}],\\\"{[\"}|{}");
    /* An empty list. */
    memset(&s, 0, sizeof s);
    assert_int_equal(each_of("{\"units\": [ ] }", &s, &n), JSONMEM_EACH_DONE);
    assert_int_equal(n, 0);
    /* Stopped by the callback. */
    memset(&s, 0, sizeof s);
    s.stop_at = 0;
    assert_int_equal(each_of("{\"units\":[{\"a\":1},{\"b\":2}]}", &s, &n),
                     JSONMEM_EACH_STOPPED);
    assert_int_equal(n, 1);
}

static void test_each_other_shapes(void **state)
{
    static const char *const other[] = {
        "",
        "[]",
        "{}",
        "{\"units\":{}}",
        "{\"units\":[1]}",
        "{\"units\":[{\"a\":1},2]}",
        "{\"units\":[{\"a\":1}],\"x\":1}",
        "{\"x\":1,\"units\":[{\"a\":1}]}",
        "{\"unit\\u0073\":[{\"a\":1}]}",
        "{\"units\":[{\"a\":1}]} x",
        "{\"units\":[{\"a\":1}]",
        "{\"units\":[{\"a\":1},]}",
        "{\"units\":[{\"a\":1}{\"b\":2}]}",
        "{\"units\":[{\"a\":}]}",
        "{\"units\":[{\"a\":1",
        "{\"unitsx\":[{\"a\":1}]}",
    };
    struct seen s;
    size_t n;

    (void)state;
    for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
        memset(&s, 0, sizeof s);
        s.stop_at = SIZE_MAX;
        if (each_of(other[k], &s, &n) != JSONMEM_EACH_SHAPE)
            fail_msg("not left to a whole parse: %s", other[k]);
    }
}

/* An arena emptied with arena_reset keeps one block and serves from it
 * again; what it held before is gone (AddressSanitizer sees the rest
 * freed). */
static void test_arena_reset(void **state)
{
    struct arena a;
    char *p, *q;

    (void)state;
    arena_init(&a);
    arena_reset(&a);                        /* empty: nothing to do */
    for (int i = 0; i < 100; i++)
        assert_non_null(arena_alloc(&a, 1000));
    p = arena_alloc(&a, 16);
    assert_non_null(p);
    arena_reset(&a);
    assert_true(a.total > 0 && a.total <= 2 * ARENA_BLOCK_MAX);
    q = arena_alloc(&a, 16);
    assert_non_null(q);
    memset(q, 1, 16);
    arena_release(&a);
    assert_int_equal(a.total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_tree),
        cmocka_unit_test(test_changed_after_parse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_outside_an_arena),
        cmocka_unit_test(test_each_layouts),
        cmocka_unit_test(test_each_other_shapes),
        cmocka_unit_test(test_arena_reset),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
