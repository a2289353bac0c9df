/*
 * bench_store.c - durable write and lookup rates of the store
 * (src/store/store_sqlite.c), with synchronous=FULL as hridd runs it.
 *
 * What one registration writes: a unit row, its "register" event and
 * three components, all through store_write.  Measured:
 *   - bulk registration: BULK_UNITS units in jobs of UNITS_PER_JOB from one
 *     thread (the bulk API path), a fresh database per run;
 *   - group commit: GC_THREADS threads, each registering single units
 *     (one unit per store_write, as concurrent API clients do), a fresh
 *     database per run; and the same from one thread, for comparison;
 *   - store_unit_get by code, random codes, on the database the bulk runs
 *     built, grown to BIG_UNITS units when that takes under BUILD_BUDGET_S
 *     seconds at the measured rate (else left at BULK_UNITS), from one
 *     thread and from two (each with its own read connection);
 *   - lifecycle events on random units of that database, the store's part
 *     of what hridd's writer does for an inspection: the unit read by code
 *     with its history's counts, and the event appended, EVENT_BATCH to a
 *     store_write as its group commit takes them under load.  The rules,
 *     the log's leaves and HTTP are not in it: the store's ceiling for
 *     events on this machine, from its one writer thread.
 * Every figure is the median of RUNS runs.  Codes are in serial order
 * within an enterprise, as a manufacturer registers a production batch.
 *
 *   bench_store [SCRATCH_DIR]     databases go in a new directory under
 *                                 SCRATCH_DIR (default /tmp), removed after
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/arena.h"
#include "hrid/code.h"
#include "store/store.h"

#define RUNS            3
#define UNITS_PER_JOB   10000   /* the bulk registration batch size */
#define BULK_UNITS      200000  /* per timed bulk run: 20 transactions */
#define BIG_UNITS       1000000 /* the lookup database, if cheap to build */
#define BUILD_BUDGET_S  60.0    /* ... i.e. if it builds within a minute */
#define GC_THREADS      8
#define GC_JOBS         1000    /* single-unit jobs per thread per run */
#define SOLO_JOBS       1000    /* single-unit jobs, one thread */
#define LOOKUPS         1000000 /* unit_get calls per lookup run */
#define LOOKUP_THREADS  2       /* the machine has 2 vCPUs (MEASURED.md) */
#define EVENTS          100000  /* events per timed run */
#define EVENT_BATCH     64      /* events per store_write */

static char scratch[512];

/* Prints "label  median unit (median of n; min, max)"; sorts v. */
static double report(const char *label, const char *unit, double *v, int n,
                     const char *extra)
{
    double m;

    qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
    m = v[n / 2];
    printf("%-44s %8.0f %-9s (median of %d%s; min %.0f, max %.0f)\n", label,
           m, unit, n, extra, v[0], v[n - 1]);
    fflush(stdout);
    return m;
}

static void die(const char *what, const struct hrid_err *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* The n-th code of an enterprise's model: platform-style serial
 * "260522" + 10 digits, and the check character. */
static void make_code(const char *model_id, uint64_t n, char out[30])
{
    snprintf(out, 29, "%.12s260522%010llu", model_id,
             (unsigned long long)(n % 10000000000ull));
    out[28] = hrid_code_check_char(out);
    out[29] = '\0';
}

/* ---- writing ------------------------------------------------------------ */

struct maker {
    int64_t ent, model;
    char model_id[13];
};

struct reg_job {
    const struct maker *m;
    uint64_t first;         /* serial number of the first unit */
    unsigned n;
};

static int w_party(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_party_insert(c, arg, err);
}

static int w_model(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_model_insert(c, arg, err);
}

/* Registers job->n units: unit row, register event, three components. */
static int w_register(struct store_conn *c, void *arg, struct hrid_err *err)
{
    static const char *const slots[3] = {"battery", "main_board",
                                         "left_actuator"};
    const struct reg_job *j = arg;
    char code[30], serial[17], body[512];
    struct store_unit u;
    struct store_event e;
    struct store_component k;
    int r;

    for (unsigned i = 0; i < j->n; i++) {
        make_code(j->m->model_id, j->first + i, code);
        memcpy(serial, code + 12, 16);
        serial[16] = '\0';
        memset(&u, 0, sizeof u);
        memcpy(u.code, code, sizeof u.code);
        u.model_row = j->m->model;
        u.enterprise_id = j->m->ent;
        u.state = "registered";
        u.custodian_id = j->m->ent;
        u.serial = serial;
        u.batch = "B-2026-05-22-01";
        u.production_date = "2026-05-22";
        u.factory = "Shenzhen plant 2";
        u.firmware = "{\"main\":\"1.4.2\",\"motion\":\"2.0.1\"}";
        u.jurisdiction = "CN";
        u.extra = "{\"colour\":\"white\"}";
        u.registered_at = 1779400000000;
        u.updated_at = u.registered_at;
        r = store_unit_insert(c, &u, err);
        if (r != STORE_OK)
            return r;

        snprintf(body, sizeof body,
                 "{\"batch\":\"B-2026-05-22-01\",\"code\":\"%s\","
                 "\"components\":[{\"part_no\":\"BAT-48V-20\",\"slot\":"
                 "\"battery\"},{\"part_no\":\"MB-7\",\"slot\":\"main_board\"},"
                 "{\"part_no\":\"ACT-L-3\",\"slot\":\"left_actuator\"}],"
                 "\"factory\":\"Shenzhen plant 2\",\"firmware\":{\"main\":"
                 "\"1.4.2\",\"motion\":\"2.0.1\"},\"production_date\":"
                 "\"2026-05-22\",\"serial\":\"%s\"}", code, serial);
        memset(&e, 0, sizeof e);
        e.unit_id = u.id;
        memcpy(e.code, code, sizeof e.code);
        e.type = "register";
        e.at = u.registered_at;
        e.recorded_at = u.registered_at;
        e.actor_id = j->m->ent;
        e.actor_role = "manufacturer";
        e.body = body;
        r = store_event_append(c, &e, err);
        if (r != STORE_OK)
            return r;

        for (int s = 0; s < 3; s++) {
            memset(&k, 0, sizeof k);
            k.unit_id = u.id;
            k.slot = slots[s];
            k.part_no = "PART-0001";
            k.supplier = "Supplier Co";
            k.lot = "LOT-2605";
            k.serial = serial;
            k.installed_at = u.registered_at;
            k.installed_seq = e.seq;
            r = store_component_insert(c, &k, 1, err);
            if (r != STORE_OK)
                return r;
        }
    }
    return STORE_OK;
}

/* Enrols manufacturer number i (enterprise code from i) and one model. */
static void maker_init(struct store *s, unsigned i, struct maker *m)
{
    char ent[5];
    struct store_party p = {0, "manufacturer", "Bench Robotics", "Bench",
                            "CN", ent, "{}", 1};
    struct store_model md = {0};
    struct hrid_err err;

    hrid_alloc_segment(1000 + i, 4, ent, NULL);
    ent[4] = '\0';
    if (store_write(s, w_party, &p, &err) != STORE_OK)
        die("enrol", &err);
    snprintf(m->model_id, sizeof m->model_id, "CN%s326001", ent);
    memcpy(md.model_id, m->model_id, sizeof md.model_id);
    md.enterprise_id = p.id;
    md.level = 3;
    md.filing_year = 2026;
    md.name = "Walker";
    md.status = "approved";
    if (store_write(s, w_model, &md, &err) != STORE_OK)
        die("file model", &err);
    m->ent = p.id;
    m->model = md.id;
}

static void db_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", scratch, name);
}

static void db_remove(const char *name)
{
    char p[600], q[620];

    db_path(p, sizeof p, name);
    unlink(p);
    snprintf(q, sizeof q, "%s-wal", p);
    unlink(q);
    snprintf(q, sizeof q, "%s-shm", p);
    unlink(q);
}

static struct store *db_open(const char *name)
{
    char p[600];
    struct store *s;
    struct hrid_err err;

    db_path(p, sizeof p, name);
    if (store_open(p, &s, &err) != STORE_OK)
        die("open", &err);
    return s;
}

/* Registers units [first, first + n) in jobs of UNITS_PER_JOB. */
static void register_bulk(struct store *s, const struct maker *m,
                          uint64_t first, uint64_t n)
{
    struct hrid_err err;

    for (uint64_t done = 0; done < n; done += UNITS_PER_JOB) {
        struct reg_job j = {m, first + done,
                            (unsigned)(n - done < UNITS_PER_JOB
                                       ? n - done : UNITS_PER_JOB)};

        if (store_write(s, w_register, &j, &err) != STORE_OK)
            die("bulk register", &err);
    }
}

struct gc_thread {
    struct store *s;
    struct maker m;
    int jobs;
};

static void *gc_main(void *arg)
{
    struct gc_thread *t = arg;
    struct hrid_err err;

    for (int i = 0; i < t->jobs; i++) {
        struct reg_job j = {&t->m, (uint64_t)i, 1};

        if (store_write(t->s, w_register, &j, &err) != STORE_OK)
            die("register", &err);
    }
    return NULL;
}

/* Units per second from nthreads threads, each registering jobs single
 * units, on a fresh database. */
static double single_unit_run(int nthreads, int jobs)
{
    pthread_t th[GC_THREADS];
    struct gc_thread t[GC_THREADS];
    struct store *s;
    double t0, t1;

    db_remove("gc.db");
    s = db_open("gc.db");
    for (int i = 0; i < nthreads; i++) {
        t[i].s = s;
        t[i].jobs = jobs;
        maker_init(s, (unsigned)i, &t[i].m);
    }
    t0 = bench_now();
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, gc_main, &t[i]) != 0)
            die("pthread_create", NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    t1 = bench_now();
    store_close(s);
    db_remove("gc.db");
    return (double)nthreads * jobs / (t1 - t0);
}

/* ---- lookups ------------------------------------------------------------ */

struct lookup_thread {
    struct store *s;
    const char *codes;      /* n codes, 32 bytes apart */
    uint64_t n;
    uint64_t seed;
    long found;
};

static void *lookup_main(void *arg)
{
    struct lookup_thread *t = arg;
    struct hrid_err err;
    struct store_conn *c = store_conn(t->s, &err);
    struct store_unit u;
    struct arena a;
    uint64_t x = t->seed;

    if (c == NULL)
        die("store_conn", &err);
    arena_init(&a);
    for (long i = 0; i < LOOKUPS; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        if (store_unit_get(c, t->codes + (x * 0x2545F4914F6CDD1Dull % t->n) *
                                             32, &a, &u, &err) != STORE_OK)
            die("unit_get", &err);
        t->found += u.id > 0;
        /* A request releases its arena when it ends; 256 lookups share
         * one here so that the figure is the store's, not malloc's. */
        if (i % 256 == 255)
            arena_release(&a);
    }
    arena_release(&a);
    return NULL;
}

/* Lookups per second, all threads together. */
static double lookup_run(struct store *s, const char *codes, uint64_t n,
                         int nthreads, uint64_t seed)
{
    pthread_t th[LOOKUP_THREADS];
    struct lookup_thread t[LOOKUP_THREADS];
    double t0, t1;

    for (int i = 0; i < nthreads; i++) {
        t[i] = (struct lookup_thread){s, codes, n, seed + (uint64_t)i * 7919,
                                      0};
        if (pthread_create(&th[i], NULL, lookup_main, &t[i]) != 0)
            die("pthread_create", NULL);
    }
    t0 = bench_now();
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        if (t[i].found != LOOKUPS)
            die("lookup found too few units", NULL);
    }
    t1 = bench_now();
    return (double)nthreads * LOOKUPS / (t1 - t0);
}

/* ---- lifecycle events ------------------------------------------------- */

struct event_job {
    const char *codes;      /* n codes, 32 bytes apart */
    uint64_t n;
    uint64_t *x;            /* the random walk's state */
    int64_t at;
};

/* EVENT_BATCH inspections of random units: each unit read by code with
 * its history's counts, as hridd's writer reads it, then its event. */
static int w_events(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct event_job *j = arg;
    struct store_unit u;
    struct store_event e;
    struct arena a;
    int r = STORE_OK;

    arena_init(&a);
    for (int i = 0; i < EVENT_BATCH && r == STORE_OK; i++) {
        uint64_t x = *j->x;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *j->x = x;
        r = store_unit_get(c, j->codes + (x * 0x2545F4914F6CDD1Dull % j->n) *
                                             32, &a, &u, err);
        if (r != STORE_OK)
            break;
        memset(&e, 0, sizeof e);
        e.unit_id = u.id;
        memcpy(e.code, u.code, sizeof e.code);
        e.type = "inspection";
        e.at = ++j->at;
        e.recorded_at = e.at;
        e.actor_id = u.custodian_id;
        e.actor_role = "operator";
        e.body = "{\"result\":\"pass\",\"site\":\"Warehouse 7\"}";
        e.unit_count = u.event_count + 1;
        e.unit_last_at = e.at > u.last_event_at ? e.at : u.last_event_at;
        r = store_event_append(c, &e, err);
    }
    arena_release(&a);
    return r;
}

/* Events per second from one thread, EVENT_BATCH to a transaction. */
static double events_run(struct store *s, const char *codes, uint64_t n,
                         uint64_t seed)
{
    struct event_job j = {codes, n, &seed, 1779500000000};
    struct hrid_err err;
    double t0 = bench_now();

    for (int done = 0; done < EVENTS; done += EVENT_BATCH)
        if (store_write(s, w_events, &j, &err) != STORE_OK)
            die("events", &err);
    return EVENTS / (bench_now() - t0);
}

static double file_mib(const char *name)
{
    char p[600];
    struct stat st;

    db_path(p, sizeof p, name);
    return stat(p, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    double rate[RUNS], build, m;
    char extra[64];
    struct store *s = NULL;
    struct maker mk;
    uint64_t units;
    char *codes;

    if (argc > 2) {
        fprintf(stderr, "usage: bench_store [SCRATCH_DIR]\n");
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%.400s/hrid-bench-store-XXXXXX", base);
    if (mkdtemp(scratch) == NULL) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    printf("store (sqlite, synchronous=FULL), scratch %s; one unit = unit "
           "row + event + 3 components\n", scratch);
    fflush(stdout);

    /* Bulk registration; the last run's database is kept for lookups. */
    for (int r = 0; r < RUNS; r++) {
        double t0;

        db_remove("bulk.db");
        s = db_open("bulk.db");
        maker_init(s, 0, &mk);
        t0 = bench_now();
        register_bulk(s, &mk, 0, BULK_UNITS);
        rate[r] = BULK_UNITS / (bench_now() - t0);
        if (r < RUNS - 1)
            store_close(s);
    }
    snprintf(extra, sizeof extra, ", %d units", BULK_UNITS);
    m = report("bulk register, 10000 units per store_write", "units/s",
               rate, RUNS, extra);

    for (int r = 0; r < RUNS; r++)
        rate[r] = single_unit_run(GC_THREADS, GC_JOBS);
    snprintf(extra, sizeof extra, ", %d units", GC_THREADS * GC_JOBS);
    report("register, 1 unit per store_write, 8 threads", "units/s", rate,
           RUNS, extra);
    for (int r = 0; r < RUNS; r++)
        rate[r] = single_unit_run(1, SOLO_JOBS);
    snprintf(extra, sizeof extra, ", %d units", SOLO_JOBS);
    report("register, 1 unit per store_write, 1 thread", "units/s", rate,
           RUNS, extra);

    /* Grow the lookup database to BIG_UNITS if that is affordable. */
    units = BULK_UNITS;
    if ((double)BIG_UNITS / m < BUILD_BUDGET_S) {
        build = bench_now();
        register_bulk(s, &mk, BULK_UNITS, BIG_UNITS - BULK_UNITS);
        units = BIG_UNITS;
        printf("(grew the lookup database to %d units in %.1f s)\n",
               BIG_UNITS, bench_now() - build);
    }
    codes = malloc(units * 32);
    if (codes == NULL)
        die("out of memory", NULL);
    for (uint64_t i = 0; i < units; i++)
        make_code(mk.model_id, i, codes + i * 32);
    printf("lookup database: %llu units, %.0f MiB\n",
           (unsigned long long)units, file_mib("bulk.db"));

    lookup_run(s, codes, units, 1, 1);     /* warm up the page cache */
    for (int t = 1; t <= LOOKUP_THREADS; t++) {
        char label[64];

        for (int r = 0; r < RUNS; r++)
            rate[r] = lookup_run(s, codes, units, t, 1000 + (uint64_t)r);
        snprintf(label, sizeof label, "unit_get by code, random, %d thread%s",
                 t, t > 1 ? "s" : "");
        report(label, "lookups/s", rate, RUNS, "");
    }

    events_run(s, codes, units, 7);          /* warm up the writer's cache */
    for (int r = 0; r < RUNS; r++)
        rate[r] = events_run(s, codes, units, 2000 + (uint64_t)r);
    snprintf(extra, sizeof extra, ", %d events of %d a store_write", EVENTS,
             EVENT_BATCH);
    report("events on random units, 1 writer", "events/s", rate, RUNS, extra);

    free(codes);
    store_close(s);
    db_remove("bulk.db");
    rmdir(scratch);
    return 0;
}
