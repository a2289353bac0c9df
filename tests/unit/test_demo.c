/*
 * test_demo.c - the demo fleet seeder (src/core/demo.c).
 *
 * Each test seeds a small fleet (5 enterprises, 10 models, 300 units)
 * into a fresh database in a temporary directory and reads it back
 * through the core API: the units by state, the event counts, the keys
 * (real keys that authenticate), and that the same seed gives the same
 * codes whatever the thread count.  The store runs with sync=normal: the
 * tests check records, not durability.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/demo.h"
#include "store/store.h"

#define SMALL_ENTS   5
#define SMALL_MODELS 10
#define SMALL_UNITS  300

struct fx {
    char dir[128];
    char path[192];
    struct store *s;
    struct core *c;
};

static int fx_open(struct fx *f, const char *name)
{
    char uri[256];
    struct hrid_err he;
    struct core_config cfg;
    struct core_err err;

    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    snprintf(uri, sizeof uri, "%s?sync=normal", f->path);
    if (store_open(uri, &f->s, &he) != STORE_OK) {
        fprintf(stderr, "store_open: %s\n", he.msg);
        return -1;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.store = f->s;
    cfg.admin_key = "test-demo-admin-key-0123456789";
    cfg.country = "CN";
    if (core_new(&cfg, &f->c, NULL, &err) != CORE_OK) {
        fprintf(stderr, "core_new: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void fx_close(struct fx *f)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[256];

    core_free(f->c);
    store_close(f->s);
    f->c = NULL;
    f->s = NULL;
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%.100s/hrid-demo-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return fx_open(f, "a.db");
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->c != NULL)
        fx_close(f);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void small(struct core_demo_opts *o, uint64_t seed, int threads)
{
    core_demo_opts_init(o);
    o->enterprises = SMALL_ENTS;
    o->models = SMALL_MODELS;
    o->units = SMALL_UNITS;
    o->seed = seed;
    o->threads = threads;
}

static void seed_ok(struct core *c, const struct core_demo_opts *o,
                    struct core_demo_result *res)
{
    struct core_err err;
    int rc = core_demo_seed(c, o, res, &err);

    if (rc != CORE_OK)
        fprintf(stderr, "core_demo_seed: %s (%s, field '%s')\n", err.msg,
                err.code, err.field);
    assert_int_equal(rc, CORE_OK);
}

/* Walks every unit (as a regulator) in code order; each callback gets the
 * unit in the regulator's view. */
static int each_unit(struct core *c, const char *state,
                     void (*fn)(void *ctx, json_t *unit), void *ctx)
{
    struct core_principal reg = {ROLE_REGULATOR, 0, 0, NULL};
    struct core_page page = {CORE_PAGE_MAX, NULL};
    char cursor[64] = "";
    int n = 0;

    for (;;) {
        struct arena a;
        struct core_err err;
        json_t *out, *items, *u, *next;
        const char *text;
        size_t i, len;
        bool more;

        arena_init(&a);
        page.cursor = cursor[0] ? cursor : NULL;
        assert_int_equal(core_unit_list(c, &reg, state, NULL, &page, &a,
                                        &text, &len, &err), CORE_OK);
        out = json_loadb(text, len, 0, NULL);
        assert_non_null(out);
        items = json_object_get(out, "items");
        json_array_foreach(items, i, u) {
            if (fn != NULL)
                fn(ctx, u);
            n++;
        }
        next = json_object_get(out, "next_cursor");
        more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(out);
        arena_release(&a);
        if (!more)
            return n;
    }
}

static void sum_events(void *ctx, json_t *u)
{
    *(int64_t *)ctx += json_integer_value(json_object_get(u, "event_count"));
}

struct codes {
    char (*code)[30];
    int n;
};

static void add_code(void *ctx, json_t *u)
{
    struct codes *k = ctx;

    snprintf(k->code[k->n++], 30, "%s",
             json_string_value(json_object_get(u, "code")));
}

static void collect(struct core *c, struct codes *k)
{
    k->code = calloc(SMALL_UNITS, sizeof *k->code);
    k->n = 0;
    assert_non_null(k->code);
    assert_int_equal(each_unit(c, NULL, add_code, k), SMALL_UNITS);
}

/* Seeds a small fleet and counts it back. */
static void test_small_fleet(void **state)
{
    static const char *const states[] = {
        "registered", "released", "in_service", "maintenance",
        "suspended",  "scrapped", "recycled",   "voided",
    };
    struct fx *f = *state;
    struct core_demo_opts o;
    struct core_demo_result res;
    int by_state[8], total = 0;
    int64_t events = 0;

    small(&o, 7, 4);
    seed_ok(f->c, &o, &res);
    assert_int_equal(res.units, SMALL_UNITS);
    assert_true(res.events > 3 * res.units);
    for (int i = 0; i < 8; i++) {
        by_state[i] = each_unit(f->c, states[i], NULL, NULL);
        total += by_state[i];
    }
    assert_int_equal(total, SMALL_UNITS);
    /* Most units are out on the market, most of those at work. */
    assert_true(by_state[2] > SMALL_UNITS / 3);
    assert_true(by_state[1] + by_state[2] + by_state[3] >
                SMALL_UNITS * 2 / 3);
    /* Every event is counted on its unit: registrations, events, grants. */
    assert_int_equal(each_unit(f->c, NULL, sum_events, &events),
                     SMALL_UNITS);
    assert_int_equal(events, res.events);
}

/* The keys are real keys of the right roles, and the sample unit is in
 * service with the owner whose key was issued. */
static void test_keys_and_sample(void **state)
{
    struct fx *f = *state;
    struct core_demo_opts o;
    struct core_demo_result res;
    struct core_principal reg, maker, owner;
    struct core_err err;
    struct arena a;
    json_t *u;

    small(&o, 11, 3);
    seed_ok(f->c, &o, &res);
    arena_init(&a);
    assert_int_equal(core_authenticate(f->c, res.regulator_key, &a, &reg,
                                       &err), CORE_OK);
    assert_int_equal(reg.role, ROLE_REGULATOR);
    assert_int_equal(core_authenticate(f->c, res.maker_key, &a, &maker,
                                       &err), CORE_OK);
    assert_int_equal(maker.role, ROLE_MANUFACTURER);
    assert_int_equal(core_authenticate(f->c, res.owner_key, &a, &owner,
                                       &err), CORE_OK);
    assert_int_equal(owner.role, ROLE_OWNER);
    assert_int_equal(strlen(res.sample_code), 29);
    assert_int_equal(core_unit_get(f->c, &owner, res.sample_code, 29, &a, &u,
                                   &err), CORE_OK);
    assert_string_equal(json_string_value(json_object_get(u, "state")),
                        "in_service");
    assert_string_equal(json_string_value(json_object_get(u, "view")),
                        "custodian");
    json_decref(u);
    assert_int_equal(core_unit_get(f->c, &maker, res.sample_code, 29, &a, &u,
                                   &err), CORE_OK);
    assert_string_equal(json_string_value(json_object_get(u, "view")),
                        "manufacturer");
    json_decref(u);
    arena_release(&a);
}

/* A second seed into the same registry is refused, and writes nothing. */
static void test_refuses_non_empty(void **state)
{
    struct fx *f = *state;
    struct core_demo_opts o;
    struct core_demo_result res;
    struct core_err err;

    small(&o, 3, 2);
    o.units = 20;
    seed_ok(f->c, &o, &res);
    assert_int_equal(core_demo_seed(f->c, &o, &res, &err), CORE_ECONFLICT);
    assert_string_equal(err.code, "not_empty");
    assert_int_equal(res.units, 0);
    assert_int_equal(each_unit(f->c, NULL, NULL, NULL), 20);
}

static void test_bad_options(void **state)
{
    struct fx *f = *state;
    struct core_demo_opts o;
    struct core_demo_result res;
    struct core_err err;

    small(&o, 1, 0);
    assert_int_equal(core_demo_seed(f->c, &o, &res, &err), CORE_EINVALID);
    assert_string_equal(err.field, "threads");
    small(&o, 1, 2);
    o.models = 0;
    assert_int_equal(core_demo_seed(f->c, &o, &res, &err), CORE_EINVALID);
    assert_string_equal(err.field, "models");
    /* Nothing was written: a good seed still goes in. */
    small(&o, 1, 2);
    o.units = 10;
    seed_ok(f->c, &o, &res);
}

/* The same seed gives the same codes, with 4 threads or 1; another seed
 * gives other codes. */
static void test_deterministic(void **state)
{
    struct fx *f = *state;
    struct core_demo_opts o;
    struct core_demo_result r1, r2, r3;
    struct codes a, b, c;
    int same = 0;

    small(&o, 42, 4);
    seed_ok(f->c, &o, &r1);
    collect(f->c, &a);
    fx_close(f);
    assert_int_equal(fx_open(f, "b.db"), 0);
    small(&o, 42, 1);
    seed_ok(f->c, &o, &r2);
    collect(f->c, &b);
    fx_close(f);
    assert_int_equal(fx_open(f, "c.db"), 0);
    small(&o, 43, 4);
    seed_ok(f->c, &o, &r3);
    collect(f->c, &c);

    for (int i = 0; i < SMALL_UNITS; i++)
        assert_string_equal(a.code[i], b.code[i]);
    assert_string_equal(r1.sample_code, r2.sample_code);
    for (int i = 0; i < SMALL_UNITS; i++)
        same += strcmp(a.code[i], c.code[i]) == 0;
    assert_true(same < SMALL_UNITS);
    free(a.code);
    free(b.code);
    free(c.code);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_small_fleet),
        T(test_keys_and_sample),
        T(test_refuses_non_empty),
        T(test_bad_options),
        T(test_deterministic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
