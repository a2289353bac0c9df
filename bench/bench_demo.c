/*
 * bench_demo.c - how long seeding the launch-scale demo fleet takes
 * (src/core/demo.c): 100 enterprises, 200 models, 28,000 units and their
 * histories, written through the core API into a fresh SQLite database.
 *
 * Prints the wall time of core_demo_seed, the units and events written
 * and their rate, and the fleet by state (counted back through
 * core_unit_list as a regulator).  One run: seeding is minutes of fsyncs
 * on a slow disk, and the figure is the time a `hridd --demo` start takes.
 *
 *   bench_demo [--units N] [--enterprises N] [--models N] [--threads N]
 *              [--seed N] [--sync full|normal] [--db PATH]
 *
 * Without --db the database is a new file in a temporary directory,
 * removed afterwards.  --sync full is what hridd uses by default.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/demo.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long count_state(struct core *c, const char *state)
{
    struct core_principal reg = {ROLE_REGULATOR, 0, 0, NULL};
    struct core_page page = {CORE_PAGE_MAX, NULL};
    char cursor[64] = "";
    long n = 0;

    for (;;) {
        struct arena a;
        struct core_err err;
        json_t *out, *next;
        const char *text;
        size_t len;
        bool more;
        int rc;

        arena_init(&a);
        page.cursor = cursor[0] ? cursor : NULL;
        rc = core_unit_list(c, &reg, state, NULL, &page, &a, &text, &len,
                            &err);
        if (rc == CORE_OK && (out = json_loadb(text, len, 0, NULL)) == NULL)
            rc = core_fail(&err, CORE_EINTERNAL, "internal", NULL,
                           "the listing is not JSON");
        if (rc != CORE_OK) {
            fprintf(stderr, "bench_demo: listing %s units: %s\n", state,
                    err.msg);
            arena_release(&a);
            return -1;
        }
        n += (long)json_array_size(json_object_get(out, "items"));
        next = json_object_get(out, "next_cursor");
        more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(out);
        arena_release(&a);
        if (!more)
            break;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_demo [--units N] [--enterprises N] "
                    "[--models N] [--threads N] [--seed N] "
                    "[--sync full|normal] [--db PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const char *const states[] = {
        "registered", "released", "in_service", "maintenance",
        "suspended",  "scrapped", "recycled",   "voided",
    };
    struct core_demo_opts o;
    struct core_demo_result res;
    struct core_config cfg;
    struct core_err err;
    struct hrid_err he;
    struct store *st = NULL;
    struct core *c = NULL;
    const char *sync = "full", *db = NULL;
    char dir[128] = "", path[256], uri[300];
    double t0, t1;
    int rc;

    core_demo_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            usage();
        if (strcmp(argv[i], "--units") == 0)
            o.units = atoi(v);
        else if (strcmp(argv[i], "--enterprises") == 0)
            o.enterprises = atoi(v);
        else if (strcmp(argv[i], "--models") == 0)
            o.models = atoi(v);
        else if (strcmp(argv[i], "--threads") == 0)
            o.threads = atoi(v);
        else if (strcmp(argv[i], "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else if (strcmp(argv[i], "--sync") == 0)
            sync = v;
        else if (strcmp(argv[i], "--db") == 0)
            db = v;
        else
            usage();
        i++;
    }
    if (db == NULL) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof dir, "%.100s/hrid-bench-demo-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("bench_demo: mkdtemp");
            return 1;
        }
        snprintf(path, sizeof path, "%s/demo.db", dir);
    } else {
        snprintf(path, sizeof path, "%s", db);
    }
    snprintf(uri, sizeof uri, "%s?sync=%s", path, sync);
    if (store_open(uri, &st, &he) != STORE_OK) {
        fprintf(stderr, "bench_demo: store_open '%s': %s\n", uri, he.msg);
        return 1;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.store = st;
    cfg.admin_key = "bench-demo-admin-key-0123456789";
    cfg.country = "CN";
    if (core_new(&cfg, &c, NULL, &err) != CORE_OK) {
        fprintf(stderr, "bench_demo: core_new: %s\n", err.msg);
        return 1;
    }

    t0 = now_s();
    rc = core_demo_seed(c, &o, &res, &err);
    t1 = now_s();
    if (rc != CORE_OK) {
        fprintf(stderr, "bench_demo: seeding failed (%s): %s [field %s]\n",
                err.code ? err.code : "?", err.msg, err.field);
        return 1;
    }
    printf("demo seed: %d enterprises, %d models, %lld units, %lld events, "
           "%d threads, sync=%s\n", o.enterprises, o.models,
           (long long)res.units, (long long)res.events, o.threads, sync);
    printf("%-40s %7.1f s  (%.0f events/s)\n", "seeding time", t1 - t0,
           (double)res.events / (t1 - t0));
    printf("sample unit %s\n", res.sample_code);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        printf("  %-12s %6ld\n", states[i], count_state(c, states[i]));

    core_free(c);
    store_close(st);
    if (dir[0] != '\0') {
        static const char *const sfx[] = {"", "-wal", "-shm"};

        for (int i = 0; i < 3; i++) {
            snprintf(uri, sizeof uri, "%s%s", path, sfx[i]);
            unlink(uri);
        }
        rmdir(dir);
    }
    return 0;
}
