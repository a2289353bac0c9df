/*
 * cli/cmdline.h - the command lines of hrid's online commands.
 *
 * Most online subcommands are "a few options that become the members of a
 * JSON body (or a query), a fixed number of operands, then one request".
 * Each declares its options as a table of struct cmdline_opt; cmdline_parse
 * collects them, typed, into one JSON object keyed by field name, so a
 * command builds its request from that object instead of from argv.
 *
 * Every online subcommand also accepts the global --json, --server and
 * --key after its name ("hrid units get CODE --json"), and --help.
 */
#ifndef HRID_CLI_CMDLINE_H
#define HRID_CLI_CMDLINE_H

#include <jansson.h>

#include "cli/cli.h"
#include "hrid/code.h"

/* The most operands a subcommand takes (events add CODE ...). */
#define CMDLINE_OPERANDS_MAX 4

enum cmdline_type {
    CMDLINE_STR,     /* a JSON string */
    CMDLINE_INT,     /* a JSON integer (a party id, a level) */
    CMDLINE_JSON,    /* any JSON text (--params '{"dof":41}') */
    CMDLINE_FLAG,    /* no value; true when given */
    CMDLINE_VALUE,   /* JSON when the text is a number, object, array,
                        true, false or null; a string otherwise */
    CMDLINE_NATURAL  /* a decimal integer >= 1, kept as a JSON integer */
};

struct cmdline_opt {
    const char *name;        /* long option, without the dashes */
    enum cmdline_type type;
    int required;            /* 1: a usage error when missing */
};

struct cmdline {
    struct cli_global g;     /* the global options, with the command's own
                                --json, --server and --key applied */
    json_t *opts;            /* option values by field name: the option's
                                name with '-' turned into '_' */
    const char *operands[CMDLINE_OPERANDS_MAX];  /* borrowed from argv */
    int n_operands;
    int help;                /* --help was given: usage is printed, the
                                command returns CLI_OK */
};

/*
 * Parses argv[1..argc-1] against opts (a table ending with a NULL name).
 * Takes between min_ops and max_ops operands.  With any_field set, an
 * option not in the table is taken as a body field of CMDLINE_VALUE type
 * (events add --market-filing-no F1).  usage is printed for --help (to
 * stdout) and after a usage error (to stderr).
 *
 * Returns CLI_OK (check c->help), CLI_USAGE after printing why, or
 * CLI_FAIL when out of memory.  On every return c must be released with
 * cmdline_release.
 */
int cmdline_parse(struct cmdline *c, const struct cli_global *g, int argc,
                  char **argv, const struct cmdline_opt *opts, int min_ops,
                  int max_ops, int any_field, const char *usage);

/* Frees c->opts. */
void cmdline_release(struct cmdline *c);

/* The string value of a field, or NULL (borrowed from c->opts). */
const char *cmdline_str(const struct cmdline *c, const char *field);

/* 1 when a flag was given, else 0. */
int cmdline_flag(const struct cmdline *c, const char *field);

/* Removes a field from c->opts and returns its value (new reference), or
 * NULL when it was not given.  Lets a command send the rest as the body. */
json_t *cmdline_take(struct cmdline *c, const char *field);

/*
 * Canonicalises an identity code given on the command line with libhrid
 * (forgiving input, as the API accepts), so that a mistyped code fails at
 * once, offline, with the position and the reason.  out gets the 29
 * characters and a NUL.  Returns CLI_OK, or CLI_FAIL after printing
 * "error: invalid code 'X': reason".
 */
int cmdline_code(const char *in, char out[HRID_CODE_LEN + 1]);

#endif
