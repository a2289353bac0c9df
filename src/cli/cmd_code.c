/*
 * cmd_code.c - "hrid code": validate, decode and make identity codes,
 * offline, with libhrid's public API only (DESIGN §2).
 *
 * The subcommands are a data table like the tool's commands.  Results go
 * to stdout and are never mixed with diagnostics; the exit status is 0
 * when every code was valid, 1 when one was not, 2 on a usage error.
 *
 * "validate -" is the bulk path (a maker checks every printed label of a
 * production run at once), so it reads standard input with read(2) into
 * one fixed buffer and checks lines in place, with no copy and no
 * allocation per line; results go out through stdio, fully buffered when
 * stdout is not a terminal.  Output is flushed before every read that may
 * block, so a slow producer (a scanner in a pipe) still sees each result
 * as soon as its line is checked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/codejson.h"
#include "hrid/code.h"

/* The longest line "validate -" checks.  A code is 29 significant
 * characters; even generously spaced and hyphenated it is under a hundred
 * bytes, so 64 KiB only ever cuts garbage (a binary file, a missing
 * newline), and it bounds the memory a hostile input can claim.  Longer
 * lines are reported invalid and skipped to their newline. */
#define CODE_LINE_MAX (64 * 1024)

/* The read buffer: four times the longest line, so that every read(2)
 * asks for at least 192 KiB however much of a line is held over. */
#define READ_BUF_SIZE (4 * CODE_LINE_MAX)

/* How much of an overlong line is echoed before "...". */
#define OVERLONG_ECHO 40

/* The stdout buffer when it is not a terminal.  64 KiB is a pipe's
 * capacity on Linux, so one write fills the pipe. */
static char stdout_buf[64 * 1024];

static int code_validate(const struct cli_global *g, int argc, char **argv);
static int code_decode(const struct cli_global *g, int argc, char **argv);
static int code_make(const struct cli_global *g, int argc, char **argv);

static const struct cli_command code_commands[] = {
    {"validate", code_validate,
     "check codes given as arguments, or one a line from stdin ('-')"},
    {"decode", code_decode, "show the segments of a code"},
    {"make", code_make, "build a code from its segments"},
};
#define N_CODE_COMMANDS (sizeof code_commands / sizeof code_commands[0])

static const char code_usage[] =
    "usage: hrid code <subcommand> [<args>]\n";

static const char validate_usage[] =
    "usage: hrid code validate [--quiet] CODE...\n"
    "   or: hrid code validate [--quiet] -   (one code a line from stdin)\n"
    "\n"
    "   -q, --quiet   print only the invalid codes\n"
    "\n"
    "Prints 'CODE: ok' or 'CODE: invalid: REASON' for each code, and with\n"
    "'-' a summary on stderr.  Exits 0 when all are valid, 1 otherwise.\n";

static const char decode_usage[] =
    "usage: hrid code decode [--json] CODE\n"
    "\n"
    "   --json   print the decoded code as JSON, as the HTTP API does\n";

static const char make_usage[] =
    "usage: hrid code make --country CC --enterprise EEEE --model MMMMMM\n"
    "                      (--serial S16 | --allocate YYYY-MM-DD:SEQ)\n"
    "                      [--display] [--json]\n"
    "\n"
    "   --serial     the 16-character serial body\n"
    "   --allocate   a platform-allocated serial body: the production date\n"
    "                and the unit's decimal number within that day\n"
    "   --display    print the display form CC-EEEE-MMMMMM-S16-C\n"
    "   --json       print the code decoded, as JSON\n";

static void print_code_usage(FILE *f)
{
    size_t i;

    fputs(code_usage, f);
    fputs("\nsubcommands:\n", f);
    for (i = 0; i < N_CODE_COMMANDS; i++)
        fprintf(f, "   %-9s %s\n", code_commands[i].name,
                code_commands[i].help);
    fputs("\n'hrid code <subcommand> --help' shows its usage.\n", f);
}

int cmd_code(const struct cli_global *g, int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        print_code_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_code_usage(stdout);
        return cli_flush_stdout();
    }
    for (i = 0; i < N_CODE_COMMANDS; i++)
        if (strcmp(code_commands[i].name, argv[1]) == 0)
            return code_commands[i].run(g, argc - 1, argv + 1);
    if (argv[1][0] == '-')
        return cli_usage_error(code_usage, "unknown option '%s'", argv[1]);
    fprintf(stderr, "hrid: unknown subcommand 'code %s'\n"
            "See 'hrid code --help'.\n", argv[1]);
    return CLI_USAGE;
}

/* Prints s (which need not be NUL-terminated) to stdout. */
static void put(const char *s, size_t len)
{
    fwrite(s, 1, len, stdout);
}

/* Prints a decoded code as JSON, in the API's shape. */
static int print_json(const struct hrid_code_parts *p)
{
    return output_json(core_code_json(p));
}

/* ---- validate ---------------------------------------------------------- */

struct tally {
    unsigned long long valid;
    unsigned long long invalid;
    int quiet;
    int tty;          /* stdout is a terminal: flush after every result */
};

/* Checks one code (len bytes at s, as given) and prints its result. */
static void check_code(struct tally *t, const char *s, size_t len)
{
    char canonical[HRID_CODE_LEN + 1];
    struct hrid_err err;

    /* Nearly every line of a bulk check is a canonical code: take the
     * strict path first and build a message only when it fails. */
    if ((len == HRID_CODE_LEN && hrid_code_validate(s, NULL) == HRID_OK) ||
        hrid_code_parse(s, len, canonical, &err) == HRID_OK) {
        t->valid++;
        if (t->quiet)
            return;
        put(s, len);
        put(": ok\n", 5);
    } else {
        t->invalid++;
        put(s, len);
        put(": invalid: ", 11);
        fputs(err.msg, stdout);
        put("\n", 1);
    }
    if (t->tty)
        fflush(stdout);
}

/* Checks one line of standard input (without its '\n'). */
static void check_line(struct tally *t, const char *s, size_t len)
{
    size_t i;

    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (len > CODE_LINE_MAX) {
        t->invalid++;
        put(s, OVERLONG_ECHO);
        fprintf(stdout, "...: invalid: line is longer than %d bytes\n",
                CODE_LINE_MAX);
        if (t->tty)
            fflush(stdout);
        return;
    }
    for (i = 0; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
        ;
    if (i == len)
        return;                       /* blank lines are skipped */
    check_code(t, s, len);
}

/* Checks every line of fd.  Returns CLI_OK, or CLI_FAIL when reading or
 * writing failed (after saying so). */
static int check_stream(struct tally *t, int fd)
{
    char *buf, *nl;
    size_t start = 0, end = 0, len;
    int skipping = 0;     /* inside an overlong line already reported */
    ssize_t n;

    buf = malloc(READ_BUF_SIZE);
    if (buf == NULL)
        return cli_error("out of memory");
    for (;;) {
        /* Every complete line in buf[start, end). */
        while ((nl = memchr(buf + start, '\n', end - start)) != NULL) {
            len = (size_t)(nl - (buf + start));
            if (skipping)
                skipping = 0;         /* the tail of an overlong line */
            else
                check_line(t, buf + start, len);
            start += len + 1;
        }
        /* What is left is the start of a line whose newline has not been
         * read yet.  Keep it, unless it is already too long to be a code
         * (a line must fit CODE_LINE_MAX plus "\r"). */
        if (!skipping && end - start > CODE_LINE_MAX + 1) {
            check_line(t, buf + start, end - start);
            skipping = 1;
        }
        if (skipping)
            start = end;
        memmove(buf, buf + start, end - start);
        end -= start;
        start = 0;

        /* Results out before a read that may block (see the top). */
        if (fflush(stdout) != 0)
            break;
        n = read(fd, buf + end, READ_BUF_SIZE - end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return cli_error("cannot read standard input: %s",
                             strerror(errno));
        }
        if (n == 0)
            break;
        end += (size_t)n;
    }
    if (end > 0 && !skipping)
        check_line(t, buf, end);      /* a last line without '\n' */
    free(buf);
    return cli_flush_stdout();
}

enum { OPT_QUIET, OPT_HELP, OPT_JSON, OPT_DISPLAY, OPT_COUNTRY,
       OPT_ENTERPRISE, OPT_MODEL, OPT_SERIAL, OPT_ALLOCATE };

static int code_validate(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"quiet", 'q', 0, OPT_QUIET},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    struct tally t = {0, 0, 0, 0};
    struct cli_args a;
    const char *v;
    int id, n_codes = 0, use_stdin = 0, rc = CLI_OK;

    if (g->json)
        return cli_usage_error(validate_usage,
                               "'code validate' has no JSON output");
    /* A first pass for the options, so that "--quiet" may follow the
     * codes and "--help" wins wherever it is. */
    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_QUIET:
            t.quiet = 1;
            break;
        case OPT_HELP:
            fputs(validate_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(validate_usage, NULL);
        case CLI_ARG_OPERAND:
            if (strcmp(v, "-") == 0) {
                if (use_stdin)
                    return cli_usage_error(validate_usage,
                                           "'-' given twice");
                use_stdin = 1;
            }
            n_codes++;
            break;
        }
    }
    if (n_codes == 0)
        return cli_usage_error(validate_usage, "no code given");

    t.tty = isatty(STDOUT_FILENO);
    if (!t.tty)
        setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        if (id != CLI_ARG_OPERAND)
            continue;
        if (strcmp(v, "-") == 0)
            rc = check_stream(&t, STDIN_FILENO);
        else
            check_code(&t, v, strlen(v));
        if (rc != CLI_OK)
            return rc;
    }
    rc = cli_flush_stdout();
    if (use_stdin)
        fprintf(stderr, "%llu codes: %llu valid, %llu invalid\n",
                t.valid + t.invalid, t.valid, t.invalid);
    if (rc != CLI_OK)
        return rc;
    return t.invalid > 0 ? CLI_FAIL : CLI_OK;
}

/* ---- decode ------------------------------------------------------------ */

static int print_parts(const struct hrid_code_parts *p)
{
    char display[HRID_CODE_DISPLAY_LEN + 1];
    const char *meaning = hrid_level_meaning(p->level);

    hrid_code_display(p->code, display);
    printf("code: %s\n"
           "display: %s\n"
           "country: %s (%s)\n"
           "enterprise: %s\n"
           "model: %s\n"
           "model id: %s\n"
           "intelligence level: %d (%s)\n"
           "filing year: %d\n"
           "model sequence: %s\n"
           "serial body: %s\n"
           "check: %c\n",
           p->code, display, p->country,
           p->country_name != NULL ? p->country_name : "?",
           p->enterprise, p->model, p->model_id, p->level,
           meaning != NULL ? meaning : "?", p->filing_year, p->model_seq,
           p->serial, p->check);
    return cli_flush_stdout();
}

static int code_decode(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    struct hrid_code_parts parts;
    struct hrid_err err;
    struct cli_args a;
    const char *v, *code = NULL;
    int id, json = g->json;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            fputs(decode_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(decode_usage, NULL);
        case CLI_ARG_OPERAND:
            if (code != NULL)
                return cli_usage_error(decode_usage,
                                       "one code at a time; quote a code "
                                       "that contains spaces");
            code = v;
            break;
        }
    }
    if (code == NULL)
        return cli_usage_error(decode_usage, "no code given");

    if (hrid_code_decode(code, strlen(code), &parts, &err) != HRID_OK)
        return cli_error("invalid code '%s': %s", code, err.msg);
    return json ? print_json(&parts) : print_parts(&parts);
}

/* ---- make -------------------------------------------------------------- */

/* Reads exactly n decimal digits at s into *out.  Returns 0, or -1. */
static int parse_digits(const char *s, int n, int *out)
{
    int i, x = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return 0;
}

/* Parses "YYYY-MM-DD:SEQ" (SEQ a decimal number that fits 64 bits).  Only
 * the syntax is checked here; hrid_serial_allocate judges the date and
 * the range of SEQ.  Returns 0, or -1. */
static int parse_allocate(const char *s, int *year, int *month, int *day,
                          uint64_t *seq)
{
    uint64_t x = 0;
    const char *p;

    if (strlen(s) < 12 || parse_digits(s, 4, year) != 0 || s[4] != '-' ||
        parse_digits(s + 5, 2, month) != 0 || s[7] != '-' ||
        parse_digits(s + 8, 2, day) != 0 || s[10] != ':')
        return -1;
    for (p = s + 11; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *seq = x;
    return 0;
}

static int code_make(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"country", 0, 1, OPT_COUNTRY},
        {"enterprise", 0, 1, OPT_ENTERPRISE},
        {"model", 0, 1, OPT_MODEL},
        {"serial", 0, 1, OPT_SERIAL},
        {"allocate", 0, 1, OPT_ALLOCATE},
        {"display", 0, 0, OPT_DISPLAY},
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    const char *country = NULL, *enterprise = NULL, *model = NULL;
    const char *serial = NULL, *allocate = NULL, *v;
    char allocated[HRID_SERIAL_BODY_LEN + 1];
    char code[HRID_CODE_LEN + 1];
    char display[HRID_CODE_DISPLAY_LEN + 1];
    struct hrid_code_parts parts;
    struct hrid_err err;
    struct cli_args a;
    int id, show_display = 0, json = g->json;
    int year, month, day;
    uint64_t seq;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_COUNTRY:    country = v; break;
        case OPT_ENTERPRISE: enterprise = v; break;
        case OPT_MODEL:      model = v; break;
        case OPT_SERIAL:     serial = v; break;
        case OPT_ALLOCATE:   allocate = v; break;
        case OPT_DISPLAY:    show_display = 1; break;
        case OPT_JSON:       json = 1; break;
        case OPT_HELP:
            fputs(make_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(make_usage, NULL);
        case CLI_ARG_OPERAND:
            return cli_usage_error(make_usage, "unexpected argument '%s'", v);
        }
    }
    if (country == NULL)
        return cli_usage_error(make_usage, "missing --country");
    if (enterprise == NULL)
        return cli_usage_error(make_usage, "missing --enterprise");
    if (model == NULL)
        return cli_usage_error(make_usage, "missing --model");
    if (serial != NULL && allocate != NULL)
        return cli_usage_error(make_usage,
                               "--serial and --allocate exclude each other");
    if (serial == NULL && allocate == NULL)
        return cli_usage_error(make_usage, "missing --serial or --allocate");
    if (show_display && json)
        return cli_usage_error(make_usage,
                               "--display and --json exclude each other");

    if (allocate != NULL) {
        if (parse_allocate(allocate, &year, &month, &day, &seq) != 0)
            return cli_usage_error(make_usage,
                                   "--allocate '%s' is not YYYY-MM-DD:SEQ",
                                   allocate);
        if (hrid_serial_allocate(year, month, day, seq, allocated, &err) !=
            HRID_OK)
            return cli_error("cannot allocate a serial for '%s': %s",
                             allocate, err.msg);
        serial = allocated;
    }
    if (hrid_code_make(country, enterprise, model, serial, code, &err) !=
        HRID_OK)
        return cli_error("cannot make a code: %s", err.msg);

    if (json) {
        if (hrid_code_decode(code, HRID_CODE_LEN, &parts, &err) != HRID_OK)
            return cli_error("cannot decode '%s': %s", code, err.msg);
        return print_json(&parts);
    }
    if (show_display) {
        hrid_code_display(code, display);
        puts(display);
    } else {
        puts(code);
    }
    return cli_flush_stdout();
}
