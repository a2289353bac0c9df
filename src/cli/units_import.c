/*
 * units_import.c - "hrid units import": a maker registers a production
 * run (tens of thousands of units) from a CSV or JSON Lines file.
 *
 * The file is sent in batches as POST /v1/units {"units":[...]}.  The one
 * promise this file keeps is that no unit is ever registered twice,
 * however often the import is interrupted and re-run:
 *
 *   - Batches are fixed by the file: batch b holds data rows
 *     [b * batch_size, (b + 1) * batch_size).  Each request carries an
 *     Idempotency-Key derived from the file's SHA-256, b and the line
 *     numbers of the rows sent, so a request retried after any failure
 *     (a timeout, a killed process) is answered by the server's stored
 *     reply instead of registering the rows again.
 *   - A small state file (FILE.hrid-import) records, after every
 *     acknowledged batch, how many batches are done; a re-run with the
 *     same file skips them.  It also records every row the server refused
 *     in the batch under way, before the rest is resent without it, so a
 *     re-run rebuilds exactly the request that may already have succeeded
 *     and gets its reply replayed.  (A refused request is not stored by
 *     the server, so the key of a refused request proves nothing.)
 *   - The state file is replaced atomically (write, fsync, rename), and
 *     the codes file is cut back to the length the state file records, so
 *     neither holds a batch twice.
 *
 * The server refuses a whole batch for one bad unit and names it in the
 * error's field ("units[17].serial"); that row is reported with its line
 * number and dropped, and the rest is resent under a new key.  Rows that
 * do not even parse here are reported and never sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/units.h"

/* The API's bulk limit (docs/API.md, Units: at most 10,000 a request). */
#define BATCH_MAX 10000
/* 1,000 units of a typical register body are ~300 KB: small enough for
 * the server to check and commit in well under a second, large enough
 * that the round trip is a small part of the cost. */
#define BATCH_DEFAULT 1000

/* The longest record (CSV record or JSON line) read: a unit with the
 * API's 256 components of 64-byte fields is under 100 KB, so 1 MiB is
 * only ever exceeded by a file that is not unit data; it bounds the
 * memory a broken file can claim. */
#define RECORD_MAX (1024 * 1024)

/* Transient failures (no reply, 429, 5xx) are retried with the same
 * Idempotency-Key, waiting 1, 2, 4, 8 and 16 s: half a minute rides out
 * a server restart, then the import stops and can be re-run. */
#define RETRY_MAX 5

/* Plain progress lines (stderr not a terminal) at most this often, and a
 * terminal's progress bar redrawn at most this often. */
#define PLAIN_EVERY_S 5.0
#define BAR_EVERY_S 0.1
#define BAR_WIDTH 30

/* The columns a CSV file may have: the unit fields of POST /v1/units. */
enum column {
    COL_MODEL, COL_SERIAL, COL_BATCH, COL_PRODUCTION_DATE, COL_FACTORY,
    COL_FIRMWARE, COL_COMPONENTS, COL_DEVICE_KEY, COL_AT, N_COLUMNS
};
static const char *const column_names[N_COLUMNS] = {
    "model", "serial", "batch", "production_date", "factory", "firmware",
    "components", "device_key", "at",
};

static const char usage[] =
    "usage: hrid units import FILE [--format csv|jsonl] [--batch-size N]\n"
    "                         [--codes FILE] [--quiet] [--state FILE]\n"
    "                         [--restart]\n"
    "\n"
    "   --format       csv or jsonl; by default from FILE's extension\n"
    "                  (.csv, .jsonl, .ndjson)\n"
    "   --batch-size   units a request, 1 to 10000 (default 1000)\n"
    "   --codes        write the registered codes there, one a line, in\n"
    "                  the order of the file\n"
    "   --quiet        no progress on stderr\n"
    "   --state        where to keep the resume state (FILE.hrid-import)\n"
    "   --restart      ignore the state of an earlier run of this file\n"
    "\n"
    "CSV: a header row naming the columns model, serial, batch,\n"
    "production_date, factory, firmware (\"main=1.2.0;arm=2.0\" or JSON),\n"
    "components (JSON), device_key, at; empty cells are left out.  JSON\n"
    "Lines: one unit object a line.\n"
    "\n"
    "Safe to re-run after an interruption: finished batches are skipped\n"
    "and a batch in flight is answered by the server's idempotent replay,\n"
    "so no unit is registered twice.  Even without the state file, the\n"
    "same file sent again with the same --batch-size is answered by\n"
    "replays.  Rows the server refuses are reported with their line\n"
    "numbers and the rest still lands; put corrected rows in a new file\n"
    "rather than editing this one.  Exits 1 when any row was refused.\n";

static const struct cmdline_opt opts[] = {
    {"format", CMDLINE_STR, 0},
    {"batch-size", CMDLINE_NATURAL, 0},
    {"codes", CMDLINE_STR, 0},
    {"quiet", CMDLINE_FLAG, 0},
    {"state", CMDLINE_STR, 0},
    {"restart", CMDLINE_FLAG, 0},
    {NULL, 0, 0},
};

/* ---- firmware ---------------------------------------------------------- */

int units_firmware(const char *text, json_t **out, char *why, size_t whylen)
{
    json_error_t jerr;
    const char *p = text, *end, *eq;
    json_t *fw;

    *out = NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '{') {
        fw = json_loads(text, 0, &jerr);
        if (fw == NULL) {
            snprintf(why, whylen, "not JSON: %s", jerr.text);
            return -1;
        }
        *out = fw;
        return 0;
    }
    fw = json_object();
    if (fw == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    while (*p != '\0') {
        const char *a, *b, *c, *d;
        char name[256];
        json_t *v;

        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        a = p;
        d = end;
        while (a < d && (*a == ' ' || *a == '\t'))
            a++;
        while (d > a && (d[-1] == ' ' || d[-1] == '\t'))
            d--;
        if (a < d) {
            eq = memchr(a, '=', (size_t)(d - a));
            if (eq == NULL) {
                snprintf(why, whylen, "'%.*s' is not name=version",
                         (int)(d - a), a);
                json_decref(fw);
                return -1;
            }
            b = eq;
            c = eq + 1;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            while (c < d && (*c == ' ' || *c == '\t'))
                c++;
            if (b == a || (size_t)(b - a) >= sizeof name) {
                snprintf(why, whylen, "'%.*s' has no component name",
                         (int)(d - a), a);
                json_decref(fw);
                return -1;
            }
            memcpy(name, a, (size_t)(b - a));
            name[b - a] = '\0';
            v = json_stringn(c, (size_t)(d - c));
            if (v == NULL || json_object_set_new(fw, name, v) != 0) {
                snprintf(why, whylen, "'%.*s' is not valid UTF-8",
                         (int)(d - a), a);
                json_decref(fw);
                return -1;
            }
        }
        p = *end == ';' ? end + 1 : end;
    }
    *out = fw;
    return 0;
}

/* ---- reading the file ------------------------------------------------ */

struct reader {
    FILE *f;
    int csv;
    unsigned long long line;     /* lines read so far */
    unsigned long long rec_line; /* the line the current record starts on */
    char *rec;                   /* the current record, NUL-terminated */
    size_t len, cap;
    int overlong;                /* the record passed RECORD_MAX */
    int unterminated;            /* a CSV quote still open at the end */
    int col[N_COLUMNS + 1];      /* CSV: column i holds field col[i] */
    int ncols;
};

static int rec_put(struct reader *r, char ch)
{
    char *p;

    if (r->len + 2 > r->cap) {
        size_t cap = r->cap != 0 ? r->cap * 2 : 4096;

        p = realloc(r->rec, cap);
        if (p == NULL)
            return -1;
        r->rec = p;
        r->cap = cap;
    }
    r->rec[r->len++] = ch;
    r->rec[r->len] = '\0';
    return 0;
}

/*
 * Reads the next record: a line of JSON Lines, or a CSV record (which
 * continues over line ends inside quotes).  Lines that are empty or only
 * white space between records are skipped.  "\r\n" reads as "\n".
 * Returns 1 with a record, 0 at the end, -1 on a read error or when out
 * of memory (errno set).
 */
static int next_record(struct reader *r)
{
    int ch, inq = 0, any = 0;
    int cell_start = 1;     /* CSV: the next character starts a cell */
    int closed = 0;         /* CSV: the last character closed quotes */

    r->len = 0;
    r->overlong = 0;
    r->unterminated = 0;
    if (r->rec == NULL && rec_put(r, '\0') != 0)
        return -1;
    r->len = 0;
    r->rec[0] = '\0';
    for (;;) {
        ch = getc_unlocked(r->f);
        if (ch == EOF) {
            if (ferror(r->f))
                return -1;
            if (!any || (!inq && strspn(r->rec, " \t\r") == r->len))
                return 0;
            r->unterminated = inq;
            break;
        }
        if (!any) {
            r->line++;
            r->rec_line = r->line;
            any = 1;
        }
        if (ch == '\n') {
            if (r->len > 0 && r->rec[r->len - 1] == '\r')
                r->rec[--r->len] = '\0';
            if (!inq) {
                if (r->len == 0 || strspn(r->rec, " \t\r") == r->len) {
                    /* a blank line: not a record */
                    r->len = 0;
                    r->rec[0] = '\0';
                    r->overlong = 0;
                    any = 0;
                    continue;
                }
                break;
            }
            r->line++;
        }
        /* Quotes open a quoted cell only at the start of a cell, and a
         * quote right after the closing one is an escaped '"' ('""').  A
         * stray quote inside a plain cell is left for csv_split to
         * refuse, rather than swallowing the lines after it. */
        if (r->csv) {
            if (ch == '"' && (inq || cell_start || closed)) {
                inq = !inq;
                closed = !inq;
            } else {
                closed = 0;
            }
            cell_start = !inq && (ch == ',' || ch == '\n');
        }
        if (r->len >= RECORD_MAX) {
            r->overlong = 1;
            continue;
        }
        if (rec_put(r, (char)ch) != 0)
            return -1;
    }
    return 1;
}

/*
 * Splits the CSV record in r->rec into cells, in place (RFC 4180: cells
 * separated by ',', a quoted cell may hold ',', '"' as '""' and line
 * ends).  Stores up to max cell pointers; *n is the number of cells.
 * Returns 0, or -1 with the reason in why.
 */
static int csv_split(struct reader *r, char **cells, int max, int *n,
                     char *why, size_t whylen)
{
    char *in = r->rec, *out = r->rec;

    *n = 0;
    for (;;) {
        char *cell = out;

        if (*in == '"') {
            in++;
            for (;;) {
                if (*in == '\0') {
                    snprintf(why, whylen, "a quoted cell is not closed");
                    return -1;
                }
                if (*in == '"' && in[1] == '"') {
                    *out++ = '"';
                    in += 2;
                } else if (*in == '"') {
                    in++;
                    break;
                } else {
                    *out++ = *in++;
                }
            }
            if (*in != ',' && *in != '\0') {
                snprintf(why, whylen, "cell %d: text after the closing "
                         "quote", *n + 1);
                return -1;
            }
        } else {
            while (*in != ',' && *in != '\0') {
                if (*in == '"') {
                    snprintf(why, whylen, "cell %d: '\"' in an unquoted "
                             "cell", *n + 1);
                    return -1;
                }
                *out++ = *in++;
            }
        }
        if (*n < max)
            cells[*n] = cell;
        ++*n;
        if (*in == '\0') {
            *out = '\0';
            return 0;
        }
        in++;           /* the ',' */
        *out++ = '\0';
    }
}

/* Reads the CSV header: which field each column holds.  Returns 0, or -1
 * after printing why the file cannot be imported. */
static int csv_header(struct reader *r, const char *file)
{
    char *cells[N_COLUMNS + 1], why[128];
    int seen[N_COLUMNS] = {0};
    int i, k, n;

    if (next_record(r) <= 0) {
        fprintf(stderr, "error: %s: no header row\n", file);
        return -1;
    }
    if (r->overlong || csv_split(r, cells, N_COLUMNS + 1, &n, why,
                                 sizeof why) != 0) {
        fprintf(stderr, "error: %s: line %llu: header: %s\n", file,
                r->rec_line, r->overlong ? "too long" : why);
        return -1;
    }
    if (n > N_COLUMNS) {
        fprintf(stderr, "error: %s: line %llu: %d columns; a unit has at "
                "most %d\n", file, r->rec_line, n, N_COLUMNS);
        return -1;
    }
    for (i = 0; i < n; i++) {
        char *name = cells[i];
        size_t len;

        while (*name == ' ')
            name++;
        len = strlen(name);
        while (len > 0 && name[len - 1] == ' ')
            name[--len] = '\0';
        for (k = 0; k < N_COLUMNS; k++)
            if (strcasecmp(name, column_names[k]) == 0)
                break;
        if (k == N_COLUMNS) {
            fprintf(stderr, "error: %s: line %llu: unknown column '%s' "
                    "(columns: model, serial, batch, production_date, "
                    "factory, firmware, components, device_key, at)\n",
                    file, r->rec_line, name);
            return -1;
        }
        if (seen[k]++) {
            fprintf(stderr, "error: %s: line %llu: column '%s' appears "
                    "twice\n", file, r->rec_line, column_names[k]);
            return -1;
        }
        r->col[i] = k;
    }
    r->ncols = n;
    if (!seen[COL_MODEL] || !seen[COL_PRODUCTION_DATE]) {
        fprintf(stderr, "error: %s: line %llu: the header needs the "
                "columns model and production_date\n", file, r->rec_line);
        return -1;
    }
    return 0;
}

/* Turns the current record into a unit object.  Returns it (new
 * reference), or NULL with the reason in why. */
static json_t *record_unit(struct reader *r, char *why, size_t whylen)
{
    char *cells[N_COLUMNS + 1];
    json_error_t jerr;
    json_t *unit, *v;
    int i, n;

    if (r->overlong) {
        snprintf(why, whylen, "longer than %d bytes", RECORD_MAX);
        return NULL;
    }
    if (r->unterminated) {
        snprintf(why, whylen, "a quoted cell is not closed before the end "
                 "of the file");
        return NULL;
    }
    if (!r->csv) {
        unit = json_loadb(r->rec, r->len, 0, &jerr);
        if (unit == NULL) {
            snprintf(why, whylen, "not JSON: %s (column %d)", jerr.text,
                     jerr.column);
            return NULL;
        }
        if (!json_is_object(unit)) {
            json_decref(unit);
            snprintf(why, whylen, "not a JSON object");
            return NULL;
        }
        return unit;
    }
    if (csv_split(r, cells, N_COLUMNS + 1, &n, why, whylen) != 0)
        return NULL;
    if (n != r->ncols) {
        snprintf(why, whylen, "%d cells; the header has %d", n, r->ncols);
        return NULL;
    }
    unit = json_object();
    if (unit == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    for (i = 0; i < n; i++) {
        const char *name = column_names[r->col[i]];
        char sub[200];

        if (cells[i][0] == '\0')
            continue;           /* empty: the field is left out */
        switch (r->col[i]) {
        case COL_FIRMWARE:
            if (units_firmware(cells[i], &v, sub, sizeof sub) != 0) {
                snprintf(why, whylen, "firmware: %s", sub);
                json_decref(unit);
                return NULL;
            }
            break;
        case COL_COMPONENTS:
            v = json_loads(cells[i], 0, &jerr);
            if (v == NULL || !json_is_array(v)) {
                if (v == NULL)
                    snprintf(why, whylen, "components: not JSON: %s",
                             jerr.text);
                else
                    snprintf(why, whylen, "components: not a JSON array");
                json_decref(v);
                json_decref(unit);
                return NULL;
            }
            break;
        default:
            v = json_string(cells[i]);
            if (v == NULL) {
                snprintf(why, whylen, "%s: not valid UTF-8", name);
                json_decref(unit);
                return NULL;
            }
        }
        json_object_set_new(unit, name, v);
    }
    return unit;
}

/* ---- the state file -------------------------------------------------- */

struct state {
    char sha256[65];                 /* of the file, hex */
    char format[8];                  /* "csv" or "jsonl" */
    long batch_size;
    unsigned long long batches_done; /* batches 0 .. batches_done-1 */
    unsigned long long registered;   /* units registered by those */
    json_t *refused;                 /* lines refused in those, sorted */
    long long current;               /* the batch under way, or -1 */
    json_t *dropped;                 /* lines of it the server refused */
    char *codes;                     /* the codes file, or NULL */
    long long codes_bytes;           /* its length after batches_done */
    unsigned long long rows;         /* data rows in the file (complete) */
    int complete;
};

static void state_release(struct state *s)
{
    json_decref(s->refused);
    json_decref(s->dropped);
    free(s->codes);
    memset(s, 0, sizeof *s);
}

/* Loads path into s.  Returns 1 when loaded, 0 when there is none, -1
 * after printing why it cannot be read. */
static int state_load(struct state *s, const char *path)
{
    json_error_t jerr;
    json_t *j;
    const char *sha, *fmt;
    json_int_t bs, done, reg, cur, cb, rows;
    json_t *refused = NULL, *dropped = NULL, *codes = NULL;
    int version = 0, complete = 0;

    j = json_load_file(path, 0, &jerr);
    if (j == NULL) {
        if (access(path, F_OK) != 0 && errno == ENOENT)
            return 0;
        fprintf(stderr, "error: state file %s: %s\n", path, jerr.text);
        return -1;
    }
    cur = -1;
    cb = 0;
    rows = 0;
    if (json_unpack_ex(j, &jerr, 0,
                       "{s:i, s:s, s:s, s:I, s:I, s:I, s:o, s?I, s?o, "
                       "s?o, s?I, s?I, s?b}",
                       "hrid_import", &version, "sha256", &sha,
                       "format", &fmt, "batch_size", &bs,
                       "batches_done", &done, "registered", &reg,
                       "refused_lines", &refused, "current_batch", &cur,
                       "current_dropped", &dropped, "codes_file", &codes,
                       "codes_bytes", &cb, "rows", &rows,
                       "complete", &complete) != 0 ||
        version != 1 || strlen(sha) != 64 || !json_is_array(refused) ||
        (dropped != NULL && !json_is_array(dropped)) ||
        (codes != NULL && !json_is_string(codes) && !json_is_null(codes)) ||
        bs < 1 ||
        bs > BATCH_MAX || done < 0 || reg < 0 ||
        (strcmp(fmt, "csv") != 0 && strcmp(fmt, "jsonl") != 0)) {
        fprintf(stderr, "error: state file %s is not an hrid import state "
                "(remove it, or use --restart)\n", path);
        json_decref(j);
        return -1;
    }
    memcpy(s->sha256, sha, 65);
    snprintf(s->format, sizeof s->format, "%s", fmt);
    s->batch_size = (long)bs;
    s->batches_done = (unsigned long long)done;
    s->registered = (unsigned long long)reg;
    s->refused = json_incref(refused);
    s->current = cur;
    s->dropped = dropped != NULL ? json_incref(dropped) : json_array();
    s->codes = json_is_string(codes) ? strdup(json_string_value(codes))
                                     : NULL;
    s->codes_bytes = cb;
    s->rows = (unsigned long long)rows;
    s->complete = complete;
    json_decref(j);
    return 1;
}

/* Replaces the state file atomically: a crash leaves the old state or
 * the new one, never half of either.  Returns 0, or -1 after printing
 * why. */
static int state_save(const struct state *s, const char *path)
{
    char tmp[4096];
    json_t *j;
    FILE *f;
    int ok;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "error: state file name too long\n");
        return -1;
    }
    j = json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:O, s:I, s:O, s:s?, "
                  "s:I, s:I, s:b}",
                  "hrid_import", 1, "sha256", s->sha256, "format", s->format,
                  "batch_size", (json_int_t)s->batch_size,
                  "batches_done", (json_int_t)s->batches_done,
                  "registered", (json_int_t)s->registered,
                  "refused_lines", s->refused,
                  "current_batch", (json_int_t)s->current,
                  "current_dropped", s->dropped,
                  "codes_file", s->codes,
                  "codes_bytes", (json_int_t)s->codes_bytes,
                  "rows", (json_int_t)s->rows,
                  "complete", s->complete);
    if (j == NULL) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "error: cannot write state file %s: %s\n", tmp,
                strerror(errno));
        json_decref(j);
        return -1;
    }
    ok = json_dumpf(j, f, JSON_INDENT(1)) == 0 && fputc('\n', f) != EOF &&
         fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    json_decref(j);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "error: cannot write state file %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- progress -------------------------------------------------------- */

struct progress {
    int mode;                       /* 0 none, 1 plain lines, 2 bar */
    double t0, last;
    unsigned long long total;       /* data rows, estimated */
    unsigned long long start;       /* rows already done at the start */
    int drawn;                      /* a bar is on the terminal's line */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Clears the bar, so that a message can take its line. */
static void progress_clear(struct progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = 0;
    }
}

static void progress_show(struct progress *p, unsigned long long done,
                          unsigned long long registered, int final)
{
    double t = now_s(), el = t - p->t0, rate, eta;
    unsigned long long total = p->total > done ? p->total : done;
    unsigned long long here = done - p->start;
    int pct, fill, i;
    char etas[32];

    if (p->mode == 0)
        return;
    if (!final && t - p->last < (p->mode == 2 ? BAR_EVERY_S : PLAIN_EVERY_S))
        return;
    p->last = t;
    rate = el > 0 ? (double)here / el : 0;
    pct = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
    eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (final || rate <= 0)
        snprintf(etas, sizeof etas, "%s", final ? "done" : "ETA -");
    else
        snprintf(etas, sizeof etas, "ETA %d:%02d", (int)eta / 60,
                 (int)eta % 60);
    if (p->mode == 2) {
        fill = total > 0 ? (int)((double)BAR_WIDTH * (double)done /
                                 (double)total) : BAR_WIDTH;
        fputs("\r\033[K[", stderr);
        for (i = 0; i < BAR_WIDTH; i++)
            fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %llu/%llu rows %3d%%  %llu registered  "
                "%.0f units/s  %s", done, total, pct, registered, rate,
                etas);
        p->drawn = 1;
        if (final) {
            fputc('\n', stderr);
            p->drawn = 0;
        }
    } else {
        fprintf(stderr, "import: %llu/%llu rows (%d%%), %llu registered, "
                "%.0f units/s, %s\n", done, total, pct, registered, rate,
                etas);
    }
    fflush(stderr);
}

/* ---- the import ------------------------------------------------------ */

struct row {
    unsigned long long line;
    json_t *unit;                   /* NULL: refused */
};

struct import {
    struct cmdline *cl;
    const char *file, *state_path;
    struct client client;
    struct reader r;
    struct state st;
    struct progress prog;
    unsigned char sha[32];
    FILE *codes;
    unsigned long long rows;        /* data rows read */
    unsigned long long replayed;    /* batches answered by a replay */
    int quiet;
};

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void put_be64(unsigned char *out, unsigned long long v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* The Idempotency-Key of a request: SHA-256 over the file's hash, the
 * batch's index and the line numbers of the rows sent, so the same rows
 * of the same file always get the same key, and any other request
 * another. */
static void idem_key(const struct import *im, unsigned long long batch,
                     const struct row *rows, size_t n, char out[80])
{
    static const char tag[] = "hrid units import v1\n";
    crypto_hash_sha256_state h;
    unsigned char be[8], digest[32];
    size_t i;

    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)tag,
                              sizeof tag - 1);
    crypto_hash_sha256_update(&h, im->sha, sizeof im->sha);
    put_be64(be, batch);
    crypto_hash_sha256_update(&h, be, 8);
    for (i = 0; i < n; i++) {
        if (rows[i].unit == NULL)
            continue;
        put_be64(be, rows[i].line);
        crypto_hash_sha256_update(&h, be, 8);
    }
    crypto_hash_sha256_final(&h, digest);
    memcpy(out, "hrid-import-", 12);
    hex(digest, 32, out + 12);
}

/* Hashes the file and estimates its data rows (non-blank lines). */
static int hash_file(struct import *im, unsigned long long *lines)
{
    crypto_hash_sha256_state h;
    unsigned char buf[65536];
    size_t n, i;
    int blank = 1;
    FILE *f;

    f = fopen(im->file, "rb");
    if (f == NULL)
        return cli_error("cannot open %s: %s", im->file, strerror(errno));
    crypto_hash_sha256_init(&h);
    *lines = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&h, buf, n);
        for (i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                *lines += !blank;
                blank = 1;
            } else if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r') {
                blank = 0;
            }
        }
    }
    *lines += !blank;
    if (ferror(f)) {
        fclose(f);
        return cli_error("cannot read %s: %s", im->file, strerror(errno));
    }
    fclose(f);
    crypto_hash_sha256_final(&h, im->sha);
    return CLI_OK;
}

static void report_line(struct import *im, unsigned long long line,
                        const char *what, const char *message)
{
    progress_clear(&im->prog);
    if (what != NULL)
        fprintf(stderr, "line %llu: %s: %s\n", line, what, message);
    else
        fprintf(stderr, "line %llu: %s\n", line, message);
}

/* Adds a line number to a JSON array of them. */
static int add_line(json_t *a, unsigned long long line)
{
    return json_array_append_new(a, json_integer((json_int_t)line));
}

static int in_lines(const json_t *a, unsigned long long line)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
        if ((unsigned long long)json_integer_value(v) == line)
            return 1;
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    json_int_t x = json_integer_value(*(json_t *const *)a);
    json_int_t y = json_integer_value(*(json_t *const *)b);

    return x < y ? -1 : x > y;
}

/* If the error's field is "units[i]...", returns i; otherwise -1. */
static long unit_index(const char *field)
{
    char *end;
    long i;

    if (field == NULL || strncmp(field, "units[", 6) != 0 ||
        field[6] < '0' || field[6] > '9')
        return -1;
    errno = 0;
    i = strtol(field + 6, &end, 10);
    if (errno != 0 || *end != ']')
        return -1;
    return i;
}

/* Writes the codes of a 201 reply, in request order. */
static int write_codes(struct import *im, const json_t *units)
{
    size_t i;
    json_t *u;

    if (im->codes == NULL)
        return 0;
    json_array_foreach(units, i, u) {
        const char *code = json_string_value(json_object_get(u, "code"));

        if (code == NULL || fprintf(im->codes, "%s\n", code) < 0)
            return -1;
    }
    return 0;
}

/* Builds the request for the rows still in (unit not NULL): its body
 * text in *text (free it) and, in map[0..*live-1], the row index of each
 * unit sent.  Returns 0, or -1 when out of memory. */
static int build_request(const struct row *rows, size_t n, size_t *map,
                         size_t *live, char **text)
{
    json_t *body, *arr;
    size_t i;

    *live = 0;
    *text = NULL;
    body = json_object();
    arr = json_array();
    if (body == NULL || arr == NULL ||
        json_object_set_new(body, "units", arr) != 0) {
        json_decref(body);
        return -1;
    }
    for (i = 0; i < n; i++)
        if (rows[i].unit != NULL) {
            map[(*live)++] = i;
            if (json_array_append(arr, rows[i].unit) != 0) {
                json_decref(body);
                return -1;
            }
        }
    /* Compact and in the file's member order: the same rows always make
     * the same bytes, which an idempotent replay requires. */
    *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return *text != NULL ? 0 : -1;
}

/* POSTs a bulk request, retrying transient failures (no reply, 429, 5xx)
 * with the same key.  Returns CLI_OK with a final reply in im->client,
 * or the status to stop with after reporting why. */
static int post_retrying(struct import *im, const char *text,
                         const char *key)
{
    int attempt, rc;

    for (attempt = 0;; attempt++) {
        rc = client_send(&im->client, "POST", "/v1/units", text,
                         strlen(text), key);
        if (rc == CLI_OK && im->client.status != 429 &&
            im->client.status < 500)
            return CLI_OK;
        progress_clear(&im->prog);
        if (attempt == RETRY_MAX)
            return client_report(&im->client);
        if (rc != CLI_OK)
            fprintf(stderr, "warning: %s; retrying in %d s\n",
                    im->client.errbuf, 1 << attempt);
        else
            fprintf(stderr, "warning: HTTP %ld; retrying in %d s\n",
                    im->client.status, 1 << attempt);
        sleep(1u << attempt);
    }
}

/* Takes a 201 reply to a request of live units: writes their codes.
 * Returns CLI_OK, or the status to stop with after reporting why. */
static int on_registered(struct import *im, const json_t *reply,
                         size_t live)
{
    const json_t *units = json_object_get(reply, "units");

    if (!json_is_array(units) || json_array_size(units) != live) {
        progress_clear(&im->prog);
        fprintf(stderr, "error: %s answered a bulk registration of %zu "
                "units without their %zu codes\n", im->client.base, live,
                live);
        return CLI_CONN;
    }
    if (write_codes(im, units) != 0)
        return cli_error("cannot write the codes: %s", strerror(errno));
    im->replayed += im->client.replayed;
    return CLI_OK;
}

/*
 * Takes a refusal: when it names one unit ("units[17]..."), reports that
 * row with its line number, records it as dropped and sets *drop to its
 * row index.  Otherwise the whole import stops: reports the error and
 * returns the status to stop with.
 */
static int on_refused(struct import *im, unsigned long long b,
                      const struct row *rows, const size_t *map,
                      size_t live, const json_t *reply, size_t *drop)
{
    const char *code = NULL, *message = NULL, *field = NULL;
    long k = -1;
    size_t flen;
    int rc;

    if (reply != NULL &&
        client_error_parts(reply, &code, &message, &field) == 0)
        k = unit_index(field);
    if (k < 0 || (size_t)k >= live) {
        progress_clear(&im->prog);
        rc = client_report(&im->client);
        if (im->client.status == 413)
            fputs("hint: a smaller --batch-size makes smaller requests\n",
                  stderr);
        if (code != NULL && strcmp(code, "idempotency_key_reused") == 0)
            fputs("hint: these rows were sent before as another request "
                  "(by another version of hrid?);\n"
                  "hint: nothing was registered twice\n", stderr);
        return rc;
    }
    if (message == NULL)
        message = code;
    /* "units[3].serial: must be ..." is reported as "units[3].serial:
     * must be ...", not with the field twice. */
    flen = strlen(field);
    if (strncmp(message, field, flen) == 0 &&
        strncmp(message + flen, ": ", 2) == 0)
        message += flen + 2;
    *drop = map[k];
    report_line(im, rows[*drop].line, field, message);
    /* Recorded before the rest is sent: if that request lands and the
     * process dies before the batch is marked done, the re-run must
     * rebuild this same request to have its reply replayed. */
    if (add_line(im->st.dropped, rows[*drop].line) != 0)
        return cli_error("out of memory");
    im->st.current = (long long)b;
    return state_save(&im->st, im->state_path) == 0 ? CLI_OK : CLI_FAIL;
}

/*
 * Sends batch b: rows[0..n-1] (rows already refused have unit NULL) until
 * the server takes the rest, dropping each row it refuses.  On CLI_OK
 * every row is registered (counted in *registered) or refused (unit
 * NULL).  Otherwise returns the status to stop with, after reporting why.
 */
static int send_batch(struct import *im, unsigned long long b,
                      struct row *rows, size_t n,
                      unsigned long long *registered)
{
    char key[80];
    size_t *map, live, drop = 0;
    json_t *reply;
    char *text;
    int rc;

    *registered = 0;
    map = malloc(n * sizeof *map);
    if (map == NULL)
        return cli_error("out of memory");
    for (;;) {
        if (build_request(rows, n, map, &live, &text) != 0) {
            rc = cli_error("out of memory");
            break;
        }
        if (live == 0) {
            free(text);
            rc = CLI_OK;
            break;
        }
        idem_key(im, b, rows, n, key);
        rc = post_retrying(im, text, key);
        free(text);
        if (rc != CLI_OK)
            break;
        reply = client_reply_json(&im->client);
        if (im->client.status == 201) {
            rc = on_registered(im, reply, live);
            json_decref(reply);
            if (rc == CLI_OK)
                *registered = live;
            break;
        }
        rc = on_refused(im, b, rows, map, live, reply, &drop);
        json_decref(reply);
        if (rc != CLI_OK)
            break;
        json_decref(rows[drop].unit);
        rows[drop].unit = NULL;
    }
    free(map);
    return rc;
}

/* Marks batch b done in the state, with its refused lines. */
static int finish_batch(struct import *im, unsigned long long b,
                        const struct row *rows, size_t n,
                        unsigned long long registered)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (rows[i].unit == NULL && add_line(im->st.refused, rows[i].line))
            return cli_error("out of memory");
    im->st.batches_done = b + 1;
    im->st.registered += registered;
    im->st.current = -1;
    json_array_clear(im->st.dropped);
    if (im->codes != NULL) {
        if (fflush(im->codes) != 0 || fsync(fileno(im->codes)) != 0)
            return cli_error("cannot write the codes: %s", strerror(errno));
        im->st.codes_bytes = (long long)ftello(im->codes);
    }
    return state_save(&im->st, im->state_path) == 0 ? CLI_OK : CLI_FAIL;
}

/* Reads batch b (up to batch_size records) into rows; *n rows.  Returns
 * CLI_OK, or CLI_FAIL after a read error. */
static int read_batch(struct import *im, unsigned long long b, int send,
                      struct row *rows, size_t *n)
{
    char why[512];
    int got;

    *n = 0;
    while (*n < (size_t)im->st.batch_size) {
        got = next_record(&im->r);
        if (got < 0)
            return cli_error("cannot read %s: %s", im->file,
                             strerror(errno));
        if (got == 0)
            break;
        im->rows++;
        rows[*n].line = im->r.rec_line;
        rows[*n].unit = NULL;
        if (send) {
            rows[*n].unit = record_unit(&im->r, why, sizeof why);
            if (rows[*n].unit == NULL)
                report_line(im, im->r.rec_line, NULL, why);
            else if ((long long)b == im->st.current &&
                     in_lines(im->st.dropped, im->r.rec_line)) {
                /* refused by the server in the interrupted run */
                json_decref(rows[*n].unit);
                rows[*n].unit = NULL;
            }
        }
        ++*n;
    }
    return CLI_OK;
}

static void print_summary(struct import *im, unsigned long long rows)
{
    size_t refused = json_array_size(im->st.refused);

    progress_clear(&im->prog);
    if (im->replayed > 0)
        fprintf(stderr, "note: %llu batch%s had landed in an earlier run; "
                "the server replayed %s\n", im->replayed,
                im->replayed == 1 ? "" : "es",
                im->replayed == 1 ? "its reply" : "their replies");
    fprintf(stderr, "%llu rows: %llu registered, %zu refused\n", rows,
            im->st.registered, refused);
    if (im->cl->g.json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:O, s:s?}",
                              "file", im->file, "sha256", im->st.sha256,
                              "rows", (json_int_t)rows,
                              "registered", (json_int_t)im->st.registered,
                              "refused", (json_int_t)refused,
                              "refused_lines", im->st.refused,
                              "codes_file", im->st.codes);

        if (j != NULL) {
            json_dumpf(j, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(j);
        }
    }
}

/* Opens the codes file: appended to, cut back to the state's length,
 * when resuming into the same file; otherwise created anew. */
static int open_codes(struct import *im, const char *path, int resume)
{
    int fd;

    if (path == NULL) {
        if (resume && im->st.codes != NULL && im->st.batches_done > 0)
            fprintf(stderr, "note: the codes registered before were "
                    "written to %s\n", im->st.codes);
        free(im->st.codes);
        im->st.codes = NULL;
        return CLI_OK;
    }
    if (resume && im->st.codes != NULL && strcmp(im->st.codes, path) == 0) {
        fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)im->st.codes_bytes) != 0 ||
            lseek(fd, 0, SEEK_END) < 0) {
            if (fd >= 0)
                close(fd);
            return cli_error("cannot open %s: %s", path, strerror(errno));
        }
        im->codes = fdopen(fd, "a");
    } else {
        if (resume && im->st.batches_done > 0)
            fprintf(stderr, "note: %s gets the codes registered from now "
                    "on; those before went to %s\n", path,
                    im->st.codes != NULL ? im->st.codes : "no file");
        im->codes = fopen(path, "w");
        im->st.codes_bytes = 0;
    }
    if (im->codes == NULL)
        return cli_error("cannot open %s: %s", path, strerror(errno));
    free(im->st.codes);
    im->st.codes = strdup(path);
    if (im->st.codes == NULL)
        return cli_error("out of memory");
    return CLI_OK;
}

static const char *detect_format(const char *file, const char *given)
{
    const char *dot = strrchr(file, '.');

    if (given != NULL) {
        if (strcasecmp(given, "csv") == 0)
            return "csv";
        if (strcasecmp(given, "jsonl") == 0 ||
            strcasecmp(given, "ndjson") == 0)
            return "jsonl";
        return NULL;
    }
    if (dot == NULL)
        return NULL;
    if (strcasecmp(dot, ".csv") == 0)
        return "csv";
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
        return "jsonl";
    return NULL;
}

int units_import(const struct cli_global *g, int argc, char **argv)
{
    struct cmdline cl;
    struct import im;
    struct row *rows = NULL;
    char state_buf[4096], shahex[65];
    const char *format, *codes_path;
    unsigned long long lines, b, registered;
    long batch_size = BATCH_DEFAULT;
    int rc, loaded, resume = 0, client_open_ok = 0;
    size_t n, i;

    memset(&im, 0, sizeof im);
    im.st.current = -1;
    rc = cmdline_parse(&cl, g, argc, argv, opts, 1, 1, 0, usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    im.cl = &cl;
    im.file = cl.operands[0];
    im.quiet = cmdline_flag(&cl, "quiet");
    codes_path = cmdline_str(&cl, "codes");
    format = detect_format(im.file, cmdline_str(&cl, "format"));
    if (format == NULL) {
        rc = cli_usage_error(usage, cmdline_str(&cl, "format") != NULL
                             ? "--format must be csv or jsonl"
                             : "cannot tell the format of '%s' from its "
                               "name: use --format csv or --format jsonl",
                             im.file);
        goto out;
    }
    if (json_object_get(cl.opts, "batch_size") != NULL) {
        json_int_t v = json_integer_value(json_object_get(cl.opts,
                                                          "batch_size"));
        if (v > BATCH_MAX) {
            rc = cli_usage_error(usage, "--batch-size is at most %d",
                                 BATCH_MAX);
            goto out;
        }
        batch_size = (long)v;
    }
    if (strcmp(im.file, "-") == 0) {
        rc = cli_usage_error(usage, "an import reads a file (it is hashed "
                             "and may be read again), not standard input");
        goto out;
    }
    im.state_path = cmdline_str(&cl, "state");
    if (im.state_path == NULL) {
        if ((size_t)snprintf(state_buf, sizeof state_buf, "%s.hrid-import",
                             im.file) >= sizeof state_buf) {
            rc = cli_usage_error(usage, "file name too long");
            goto out;
        }
        im.state_path = state_buf;
    }
    if (sodium_init() < 0) {
        rc = cli_error("cannot initialise libsodium");
        goto out;
    }

    rc = hash_file(&im, &lines);
    if (rc != CLI_OK)
        goto out;
    hex(im.sha, 32, shahex);

    loaded = cmdline_flag(&cl, "restart") ? 0 : state_load(&im.st,
                                                           im.state_path);
    if (loaded < 0) {
        rc = CLI_FAIL;
        goto out;
    }
    if (loaded && strcmp(im.st.sha256, shahex) != 0) {
        fprintf(stderr, "error: %s holds the state of an import of another "
                "version of %s\n"
                "hint: re-importing rows that landed before registers "
                "them again; put new rows in a\n"
                "hint: new file, or use --restart if you are sure\n",
                im.state_path, im.file);
        rc = CLI_FAIL;
        goto out;
    }
    if (loaded) {
        resume = 1;
        if (json_object_get(cl.opts, "batch_size") != NULL &&
            batch_size != im.st.batch_size)
            fprintf(stderr, "note: resuming with the batch size of the "
                    "first run, %ld\n", im.st.batch_size);
        format = im.st.format;
    } else {
        state_release(&im.st);
        memcpy(im.st.sha256, shahex, 65);
        snprintf(im.st.format, sizeof im.st.format, "%s", format);
        im.st.batch_size = batch_size;
        im.st.current = -1;
        im.st.refused = json_array();
        im.st.dropped = json_array();
        if (im.st.refused == NULL || im.st.dropped == NULL) {
            rc = cli_error("out of memory");
            goto out;
        }
    }
    if (resume && im.st.complete) {
        fprintf(stderr, "%s was imported already (state in %s); "
                "--restart imports it again\n", im.file, im.state_path);
        print_summary(&im, im.st.rows);
        rc = json_array_size(im.st.refused) > 0 ? CLI_FAIL : CLI_OK;
        goto out;
    }

    im.r.csv = strcmp(format, "csv") == 0;
    im.r.f = fopen(im.file, "rb");
    if (im.r.f == NULL) {
        rc = cli_error("cannot open %s: %s", im.file, strerror(errno));
        goto out;
    }
    {
        /* A UTF-8 byte order mark (spreadsheets write one) is not data. */
        unsigned char bom[3];

        if (fread(bom, 1, 3, im.r.f) != 3 ||
            memcmp(bom, "\xEF\xBB\xBF", 3) != 0)
            rewind(im.r.f);
    }
    if (im.r.csv) {
        if (csv_header(&im.r, im.file) != 0) {
            rc = CLI_FAIL;
            goto out;
        }
        lines = lines > 0 ? lines - 1 : 0;
    }
    rc = open_codes(&im, codes_path, resume);
    if (rc != CLI_OK)
        goto out;
    rc = client_open(&im.client, &cl.g);
    if (rc != CLI_OK)
        goto out;
    client_open_ok = 1;
    if (!resume && state_save(&im.st, im.state_path) != 0) {
        rc = CLI_FAIL;
        goto out;
    }

    rows = calloc((size_t)im.st.batch_size, sizeof *rows);
    if (rows == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    im.prog.mode = im.quiet ? 0 : isatty(STDERR_FILENO) ? 2 : 1;
    im.prog.total = lines;
    im.prog.t0 = im.prog.last = now_s();
    if (resume && im.st.batches_done > 0 && !im.quiet)
        fprintf(stderr, "resuming %s: %llu batches done, %llu units "
                "registered\n", im.file, im.st.batches_done,
                im.st.registered);

    for (b = 0;; b++) {
        int send = b >= im.st.batches_done;

        rc = read_batch(&im, b, send, rows, &n);
        if (rc != CLI_OK)
            goto out;
        if (n == 0)
            break;
        if (!send) {
            im.prog.start = im.rows;
            continue;
        }
        rc = send_batch(&im, b, rows, n, &registered);
        if (rc == CLI_OK)
            rc = finish_batch(&im, b, rows, n, registered);
        for (i = 0; i < n; i++) {
            json_decref(rows[i].unit);
            rows[i].unit = NULL;
        }
        if (rc != CLI_OK) {
            progress_clear(&im.prog);
            fprintf(stderr, "stopped after %llu units; run the same "
                    "command again to resume\n", im.st.registered);
            goto out;
        }
        progress_show(&im.prog, im.rows, im.st.registered, 0);
        if (n < (size_t)im.st.batch_size)
            break;
    }
    /* The refused lines in file order, whatever order they came in. */
    {
        size_t k = json_array_size(im.st.refused);
        json_t **v = k > 0 ? malloc(k * sizeof *v) : NULL;

        if (v != NULL) {
            for (i = 0; i < k; i++)
                v[i] = json_incref(json_array_get(im.st.refused, i));
            qsort(v, k, sizeof *v, cmp_line);
            json_array_clear(im.st.refused);
            for (i = 0; i < k; i++)
                json_array_append_new(im.st.refused, v[i]);
            free(v);
        }
    }
    im.st.complete = 1;
    im.st.rows = im.rows;
    if (state_save(&im.st, im.state_path) != 0) {
        rc = CLI_FAIL;
        goto out;
    }
    progress_show(&im.prog, im.rows, im.st.registered, 1);
    print_summary(&im, im.rows);
    rc = json_array_size(im.st.refused) > 0 ? CLI_FAIL : CLI_OK;
    if (cli_flush_stdout() != CLI_OK)
        rc = CLI_FAIL;
out:
    if (rows != NULL) {
        for (i = 0; i < (size_t)im.st.batch_size; i++)
            json_decref(rows[i].unit);
        free(rows);
    }
    if (im.codes != NULL && fclose(im.codes) != 0 && rc == CLI_OK)
        rc = cli_error("cannot write the codes: %s", strerror(errno));
    if (im.r.f != NULL)
        fclose(im.r.f);
    free(im.r.rec);
    if (client_open_ok)
        client_close(&im.client);
    state_release(&im.st);
    cmdline_release(&cl);
    return rc;
}
