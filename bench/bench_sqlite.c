/*
 * bench_sqlite.c - SQLite's own rates on this machine, measured as
 * MEASURED.md's SQLite rows were, without any of HRID's code, so that the
 * registry's figures (bench_store, bench_api.py) can be read against the
 * machine they ran on: a virtual machine's speed varies from day to day,
 * and the registry's targets were set against MEASURED.md's figures.
 *
 * One table of 29-character keys, as a unit's code, and a small row:
 *
 *   CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
 *                   v INTEGER)
 *
 * in WAL mode with synchronous NORMAL (but where said) and SQLite's default
 * page cache, measured:
 *   - ROWS rows of random keys, ROWS_PER_TX to a transaction (MEASURED.md:
 *     43k rows/s), and the same with keys in increasing order (327k);
 *   - single-row commits with synchronous OFF, NORMAL and FULL (122k, 62k
 *     and 6.4k a second);
 *   - lookups of random rows by primary key on the ROWS-row table, from
 *     one thread (177-188k a second).
 * Every figure is the median of RUNS runs, on a fresh file per run.
 *
 *   bench_sqlite [SCRATCH_DIR]     the file goes in SCRATCH_DIR (default
 *                                  /tmp) and is removed after
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"

#define RUNS            3
#define ROWS            1000000
#define ROWS_PER_TX     1000
#define COMMITS         20000   /* single-row commits a run */
#define LOOKUPS         1000000

static char path[600];

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_sqlite: %s: %s\n", what,
            db != NULL ? sqlite3_errmsg(db) : "out of memory");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static void file_remove(void)
{
    char p[620];

    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* A fresh file with the table, in WAL mode with synchronous sync. */
static sqlite3 *file_create(const char *sync)
{
    sqlite3 *db;
    char sql[64];

    file_remove();
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(db, "open");
    exec(db, "PRAGMA journal_mode = WAL");
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", sync);
    exec(db, sql);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY,"
             " code TEXT NOT NULL UNIQUE, v INTEGER)");
    return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die(db, sql);
    return st;
}

/* xorshift64: the same sequence for the same seed. */
static uint64_t next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* The i-th key: 29 characters 0-9A-Z, in increasing order of i when
 * ordered, else a random-looking key that i alone determines. */
static void key(uint64_t i, int ordered, char out[30])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint64_t x = ordered ? i : (i + 1) * 0x9E3779B97F4A7C15ull;

    memcpy(out, "CN0001226001", 12);
    for (int k = 28; k >= 12; k--) {
        out[k] = digits[x % 36];
        x /= 36;
    }
    out[29] = '\0';
}

/* Rows a second: n rows, ROWS_PER_TX to a transaction.  Leaves the table
 * in the file when db_out is given. */
static double insert_run(int ordered, uint64_t n, sqlite3 **db_out)
{
    sqlite3 *db = file_create("NORMAL");
    sqlite3_stmt *st = prepare(db, "INSERT INTO t (code, v) VALUES (?, ?)");
    char k[30];
    double t0 = bench_now(), t;

    for (uint64_t i = 0; i < n; i++) {
        if (i % ROWS_PER_TX == 0)
            exec(db, "BEGIN");
        key(i, ordered, k);
        sqlite3_bind_text(st, 1, k, 29, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        if (sqlite3_step(st) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(st);
        if (i % ROWS_PER_TX == ROWS_PER_TX - 1 || i == n - 1)
            exec(db, "COMMIT");
    }
    t = bench_now() - t0;
    sqlite3_finalize(st);
    if (db_out != NULL)
        *db_out = db;
    else
        sqlite3_close(db);
    return (double)n / t;
}

/* Commits a second, one row each, with synchronous sync. */
static double commit_run(const char *sync)
{
    sqlite3 *db = file_create(sync);
    sqlite3_stmt *st = prepare(db, "INSERT INTO t (code, v) VALUES (?, ?)");
    char k[30];
    double t0 = bench_now(), t;

    for (uint64_t i = 0; i < COMMITS; i++) {
        key(i, 0, k);
        sqlite3_bind_text(st, 1, k, 29, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        if (sqlite3_step(st) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(st);
    }
    t = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return COMMITS / t;
}

/* Lookups a second of random rows by primary key, on db's n rows. */
static double lookup_run(sqlite3 *db, uint64_t n, uint64_t seed)
{
    sqlite3_stmt *st = prepare(db, "SELECT code, v FROM t WHERE id = ?");
    uint64_t x = seed, found = 0;
    double t0 = bench_now(), t;

    for (long i = 0; i < LOOKUPS; i++) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(1 + next(&x) % n));
        if (sqlite3_step(st) == SQLITE_ROW)
            found += sqlite3_column_bytes(st, 0) == 29;
        sqlite3_reset(st);
    }
    t = bench_now() - t0;
    sqlite3_finalize(st);
    if (found != LOOKUPS)
        die(db, "a lookup found no row");
    return LOOKUPS / t;
}

static void report(const char *label, const char *unit, double *v,
                   const char *measured)
{
    qsort(v, RUNS, sizeof v[0], bench_cmp_double);
    printf("%-46s %8.0f %-7s (median of %d; min %.0f, max %.0f; "
           "MEASURED.md: %s)\n", label, v[RUNS / 2], unit, RUNS, v[0],
           v[RUNS - 1], measured);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    static const char *const syncs[] = {"OFF", "NORMAL", "FULL"};
    static const char *const measured[] = {"122k", "62k", "6.4k"};
    double rate[RUNS];
    sqlite3 *db = NULL;

    if (argc > 2) {
        fprintf(stderr, "usage: bench_sqlite [SCRATCH_DIR]\n");
        return 2;
    }
    snprintf(path, sizeof path, "%.500s/hrid-bench-sqlite-%ld.db", base,
             (long)getpid());
    printf("SQLite %s, WAL, default cache, %s\n", sqlite3_libversion(),
           path);

    for (int r = 0; r < RUNS; r++)
        rate[r] = insert_run(1, ROWS, NULL);
    report("1M increasing 29-char keys, 1000 a transaction", "rows/s", rate,
           "327k");
    for (int r = 0; r < RUNS; r++) {
        if (db != NULL)
            sqlite3_close(db);
        rate[r] = insert_run(0, ROWS, &db);
    }
    report("1M random 29-char keys, 1000 a transaction", "rows/s", rate,
           "43k");

    lookup_run(db, ROWS, 1);                /* warm the kernel's cache */
    for (int r = 0; r < RUNS; r++)
        rate[r] = lookup_run(db, ROWS, 100 + (uint64_t)r);
    report("primary-key lookups, 1 thread, 1M rows", "/s", rate,
           "177-188k");
    sqlite3_close(db);

    for (int s = 0; s < 3; s++) {
        char label[64];

        for (int r = 0; r < RUNS; r++)
            rate[r] = commit_run(syncs[s]);
        snprintf(label, sizeof label, "single-row commits, synchronous %s",
                 syncs[s]);
        report(label, "/s", rate, measured[s]);
    }
    file_remove();
    return 0;
}
