/*
 * cmd_audit.c - "hrid audit": checks a registry database's tamper-evident
 * log offline (DESIGN §5, docs/ledger.md "Audit").
 *
 * The database is opened read-only ("?mode=ro": no migration, no writer),
 * so the audit can run on a copy, on a backup, or next to a running hridd.
 * core_audit recomputes every leaf from the stored events, compares each
 * with the stored tiles and the running root with the last signed
 * checkpoint; this file only finds the log's verifier key, runs it and
 * reports.
 *
 * The verifier key: --log-key (a vkey text), --log-key-file (a file with a
 * vkey text, or hridd's own PRIVATE+KEY file), else <db>.log-key when it
 * exists.  Without any key the audit still checks every leaf and root but
 * says that the checkpoint's signature was not checked.  An auditor who
 * does not trust the machine the database came from pins the vkey it
 * learnt elsewhere (GET /v1/log/key, the operator's publication) with
 * --log-key: a key file next to a database is only as trustworthy as the
 * database.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/core.h"
#include "hrid/note.h"
#include "ledger/checkpoint.h"
#include "store/store.h"

/* A vkey is a key name (at most HRID_CHECKPOINT_ORIGIN_MAX bytes) and 55
 * more characters; ledger_key_vkey wants at least 320 bytes. */
#define VKEY_MAX 320

/* The most of a key file read: a PRIVATE+KEY line is under 320 bytes, so
 * anything longer is not a key file. */
#define KEY_FILE_READ_MAX 1024

static const char audit_usage[] =
    "usage: hrid audit --db FILE|URI [--log-key VKEY | --log-key-file FILE]\n"
    "                  [--json] [--verbose]\n"
    "\n"
    "   --db            the registry's database file, or its postgresql://\n"
    "                   uri (opened read-only)\n"
    "   --log-key       the log's verifier key, <name>+<key id>+<base64>\n"
    "                   (GET /v1/log/key); pin it when the database comes\n"
    "                   from a machine you do not control\n"
    "   --log-key-file  a file holding the verifier key, or hridd's\n"
    "                   PRIVATE+KEY file (default FILE.log-key, if any)\n"
    "   --json          print the report as JSON\n"
    "   --verbose       print the time taken and leaves per second on\n"
    "                   stderr\n"
    "\n"
    "Recomputes every leaf of the log from the stored events and checks\n"
    "them against the stored log and its last signed checkpoint.  Exits 0\n"
    "when all is intact, 1 naming the first bad leaf and its unit when\n"
    "anything was edited, deleted, inserted or reordered.\n";

enum { OPT_DB, OPT_LOG_KEY, OPT_LOG_KEY_FILE, OPT_JSON, OPT_VERBOSE,
       OPT_HELP };

/* Cuts s at its first line end and drops trailing blanks. */
static void first_line(char *s)
{
    size_t n;

    s[strcspn(s, "\r\n")] = '\0';
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* Checks that text is a valid verifier key.  Returns CLI_OK, or prints
 * "error: <what>: why" and returns CLI_FAIL. */
static int vkey_check(const char *text, const char *what)
{
    char name[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char pk[32];
    struct hrid_err he;

    hrid_err_clear(&he);
    if (hrid_vkey_parse(text, name, sizeof name, pk, &he) != HRID_OK)
        return cli_error("%s: %s", what, he.msg);
    return CLI_OK;
}

/*
 * The verifier key of a key file: the file's first line when it is a
 * vkey, the public half of the key when it is a PRIVATE+KEY file.  When
 * the file does not exist, *found is 0 and CLI_OK is returned if
 * required is 0 (the default file), else an error.  Returns CLI_OK or
 * CLI_FAIL after a message.
 */
static int vkey_from_file(const char *path, int required, char *vkey,
                          size_t size, int *found)
{
    char text[KEY_FILE_READ_MAX + 1];
    struct ledger_key k;
    struct hrid_err he;
    bool created = false;
    size_t n;
    FILE *f;
    int rc;

    *found = 0;
    vkey[0] = '\0';
    f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT && !required)
            return CLI_OK;
        return cli_error("cannot read key file '%s': %s", path,
                         strerror(errno));
    }
    n = fread(text, 1, sizeof text - 1, f);
    rc = ferror(f);
    fclose(f);
    text[n] = '\0';
    if (rc != 0 || n == sizeof text - 1) {
        sodium_memzero(text, sizeof text);
        return cli_error("key file '%s' is not a key file (%s)", path,
                         rc != 0 ? "read error" : "too long");
    }
    first_line(text);
    *found = 1;
    if (strncmp(text, "PRIVATE+KEY+", 12) != 0) {
        rc = vkey_check(text, path);
        if (rc == CLI_OK)
            snprintf(vkey, size, "%s", text);
        return rc;
    }
    sodium_memzero(text, sizeof text);
    /* ledger_key_load creates a key when the file is missing; it was
     * there a moment ago, and if it went meanwhile the key just made is
     * removed again: an audit writes nothing. */
    hrid_err_clear(&he);
    if (ledger_key_load(path, NULL, "hrid-audit", &k, &created, &he) != 0)
        return cli_error("%s", he.msg);
    if (created) {
        ledger_key_wipe(&k);
        unlink(path);
        return cli_error("key file '%s' disappeared while being read", path);
    }
    ledger_key_vkey(&k, vkey, size);
    ledger_key_wipe(&k);
    if (vkey[0] == '\0')
        return cli_error("key file '%s': the key's name cannot make a "
                         "verifier key", path);
    return CLI_OK;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int print_json(const struct core_audit_report *rep, const char *vkey,
                      double secs)
{
    json_t *o;
    char *text;

    o = json_pack("{s:b, s:I, s:I, s:I, s:b, s:o, s:o, s:s, s:o, s:f}",
                  "ok", rep->ok,
                  "leaves", (json_int_t)rep->leaves,
                  "log_size", (json_int_t)rep->log_size,
                  "checkpoint_size", (json_int_t)rep->checkpoint_size,
                  "checkpoint_verified", rep->checkpoint_verified,
                  "bad_leaf", rep->bad_leaf >= 0
                      ? json_integer(rep->bad_leaf) : json_null(),
                  "bad_code", rep->bad_code[0] != '\0'
                      ? json_string(rep->bad_code) : json_null(),
                  "message", rep->msg,
                  "log_key", vkey != NULL ? json_string(vkey) : json_null(),
                  "seconds", secs);
    if (o == NULL)
        return cli_error("out of memory");
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                             JSON_REAL_PRECISION(6));
    json_decref(o);
    if (text == NULL)
        return cli_error("out of memory");
    puts(text);
    free(text);
    return CLI_OK;
}

static void print_text(const struct core_audit_report *rep)
{
    if (!rep->ok) {
        fputs("audit FAILED: ", stdout);
        if (rep->bad_leaf >= 0) {
            printf("first bad leaf %lld", (long long)rep->bad_leaf);
            if (rep->bad_code[0] != '\0')
                printf(" (unit %s)", rep->bad_code);
            fputs(": ", stdout);
        }
        puts(rep->msg[0] != '\0' ? rep->msg : "the log does not verify");
        return;
    }
    printf("audit ok: %llu leaves, ", (unsigned long long)rep->leaves);
    if (rep->checkpoint_verified)
        printf("checkpoint of %llu leaves verified\n",
               (unsigned long long)rep->checkpoint_size);
    else if (rep->checkpoint_size == 0)
        puts("no checkpoint signed yet");
    else
        printf("checkpoint of %llu leaves matches, its signature not "
               "checked (no log key: give --log-key)\n",
               (unsigned long long)rep->checkpoint_size);
}

int cmd_audit(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"db", 0, 1, OPT_DB},
        {"log-key", 0, 1, OPT_LOG_KEY},
        {"log-key-file", 0, 1, OPT_LOG_KEY_FILE},
        {"json", 0, 0, OPT_JSON},
        {"verbose", 'v', 0, OPT_VERBOSE},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    const char *db = NULL, *key = NULL, *key_file = NULL, *value;
    char vkey[VKEY_MAX], *uri = NULL, *default_file = NULL;
    struct core_audit_report rep;
    struct store *s = NULL;
    struct core_err cerr;
    struct hrid_err he;
    struct timespec t0;
    struct cli_args a;
    int json = g->json, verbose = 0, found = 0, id, rc;
    bool server;
    double secs;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &value)) != CLI_ARG_END) {
        switch (id) {
        case OPT_DB:           db = value; break;
        case OPT_LOG_KEY:      key = value; break;
        case OPT_LOG_KEY_FILE: key_file = value; break;
        case OPT_JSON:         json = 1; break;
        case OPT_VERBOSE:      verbose = 1; break;
        case OPT_HELP:
            fputs(audit_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_OPERAND:
            return cli_usage_error(audit_usage, "unexpected argument '%s'",
                                   value);
        default:
            return cli_usage_error(audit_usage, NULL);
        }
    }
    if (db == NULL)
        return cli_usage_error(audit_usage, "missing --db");
    if (key != NULL && key_file != NULL)
        return cli_usage_error(audit_usage, "give --log-key or "
                               "--log-key-file, not both");
    /* The store takes options after '?'; a file name with one would be
     * taken apart.  A postgresql:// uri keeps its own query. */
    server = store_is_server_uri(db);
    if (*db == '\0' || (!server && strchr(db, '?') != NULL))
        return cli_usage_error(audit_usage, "--db: '%s' is not a database "
                               "file name", db);
    if (sodium_init() < 0)
        return cli_error("cannot initialise libsodium");

    if (key != NULL) {
        rc = vkey_check(key, "--log-key");
        if (rc != CLI_OK)
            return CLI_USAGE;
        snprintf(vkey, sizeof vkey, "%s", key);
        found = 1;
    } else if (key_file != NULL) {
        rc = vkey_from_file(key_file, 1, vkey, sizeof vkey, &found);
        if (rc != CLI_OK)
            return rc;
    } else if (!server) {
        if (asprintf(&default_file, "%s.log-key", db) < 0)
            return cli_error("out of memory");
        rc = vkey_from_file(default_file, 0, vkey, sizeof vkey, &found);
        free(default_file);
        if (rc != CLI_OK)
            return rc;
    }

    if (!server && access(db, F_OK) != 0)
        return cli_error("cannot open database '%s': %s", db,
                         strerror(errno));
    if (asprintf(&uri, "%s%smode=ro", db,
                 server && strchr(db, '?') != NULL ? "&" : "?") < 0)
        return cli_error("out of memory");
    hrid_err_clear(&he);
    rc = store_open(uri, &s, &he);
    free(uri);
    if (rc != STORE_OK)
        /* A server uri is not quoted: it may hold a password. */
        return cli_error("cannot open database '%s': %s",
                         server ? "postgresql://..." : db, he.msg);

    memset(&cerr, 0, sizeof cerr);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = core_audit(s, found ? vkey : NULL, &rep, &cerr);
    secs = seconds_since(&t0);
    store_close(s);
    if (rc != CORE_OK)
        return cli_error("cannot audit '%s': %s", db, cerr.msg);

    if (verbose)
        fprintf(stderr, "audited %llu leaves in %.3f s (%.0f leaves/s)\n",
                (unsigned long long)rep.leaves, secs,
                secs > 0 ? (double)rep.leaves / secs : 0.0);
    if (json) {
        rc = print_json(&rep, found ? vkey : NULL, secs);
        if (rc != CLI_OK)
            return rc;
    } else {
        print_text(&rep);
    }
    rc = cli_flush_stdout();
    if (rc != CLI_OK)
        return rc;
    return rep.ok ? CLI_OK : CLI_FAIL;
}
