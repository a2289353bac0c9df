/*
 * cli/cli.h - what the files of the hrid command-line tool share.
 *
 * The tool is laid out like git's and curl's: hrid.c holds main, the
 * global options and a data table of commands; each cmd_*.c file holds one
 * command and its subcommands, written against libhrid's public headers
 * (and, for the online commands, the HTTP API).  This header is private to
 * src/cli/.
 *
 * Conventions every command follows:
 *   - results go to stdout, diagnostics to stderr, git-style:
 *     "error: ..." and "usage: ...";
 *   - exit status CLI_OK (0) when everything was valid, CLI_FAIL (1) when
 *     some input was invalid or an operation failed (the server refused a
 *     request), CLI_USAGE (2) when the command line itself was wrong,
 *     CLI_CONN (3) when the server could not be reached or did not answer
 *     in the API's terms;
 *   - "--help" on any command prints its usage to stdout and exits 0.
 */
#ifndef HRID_CLI_H
#define HRID_CLI_H

#include <stdio.h>

/* Exit statuses (see above). */
enum cli_status {
    CLI_OK = 0,
    CLI_FAIL = 1,
    CLI_USAGE = 2,
    CLI_CONN = 3
};

/* The global options, parsed in hrid.c before the command name and passed
 * to every command.  server and key are borrowed from argv. */
struct cli_global {
    int json;            /* --json: machine-readable output */
    const char *server;  /* --server URL for the online commands, or NULL:
                            $HRID_SERVER, else CLI_DEFAULT_SERVER */
    const char *key;     /* --key KEY, or NULL: $HRID_KEY, else public */
};

/* Where the online commands go without --server or $HRID_SERVER: the
 * address "make run" starts hridd on. */
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

/* A command: one row of a command table.  run gets argv starting at the
 * command's own name (argv[0]) and returns an enum cli_status. */
struct cli_command {
    const char *name;
    int (*run)(const struct cli_global *g, int argc, char **argv);
    const char *help;    /* one line, for the usage listing */
};

/*
 * Option parsing.  A small reentrant parser instead of getopt_long, so that
 * the global options and each command's options are parsed by independent
 * cursors (getopt's global state needs non-portable resets between them)
 * and so that errors read the git way.  Long options take "--name value"
 * or "--name=value"; short options are single letters ("-h"); "--" ends
 * the options; "-" alone is an operand (standard input, by convention).
 */
enum cli_arg {
    CLI_ARG_END = -1,      /* no arguments left */
    CLI_ARG_ERROR = -2,    /* bad option; the message is already printed */
    CLI_ARG_OPERAND = -3   /* not an option: *value is the operand */
};

struct cli_option {
    const char *name;      /* long name without the dashes, or NULL */
    char short_name;       /* single letter, or 0 */
    int has_value;         /* 1 when the option takes a value */
    int id;                /* returned by cli_args_next; must be >= 0 */
};

struct cli_args {
    int argc;
    char **argv;
    int next;              /* index of the next argument to look at */
    int options_done;      /* "--" seen: the rest are operands */
    const struct cli_option *options;  /* ends with a zeroed row */
};

/* Starts parsing argv[first..argc-1] against options (borrowed; ends with
 * a row whose name and short_name are both empty). */
void cli_args_init(struct cli_args *a, int argc, char **argv, int first,
                   const struct cli_option *options);

/* Returns the next option's id (with *value set to its value, or NULL when
 * it takes none), CLI_ARG_OPERAND with *value the operand, CLI_ARG_END, or
 * CLI_ARG_ERROR after printing "error: ..." to stderr.  Values point into
 * argv. */
int cli_args_next(struct cli_args *a, const char **value);

/* Prints "error: <message>" to stderr and returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "error: <message>" (when fmt is not NULL) and then usage to
 * stderr, and returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Flushes stdout and reports a failed write ("error: write error: ...").
 * Returns CLI_OK, or CLI_FAIL when anything written to stdout was lost. */
int cli_flush_stdout(void);

/* Runs the subcommand of a command (argv[1]) from table, git-style:
 * "--help" or no subcommand prints the listing (to stdout, exit 0, or to
 * stderr, exit 2); an unknown name is a usage error.  name is the
 * command's name ("units").  Returns the subcommand's status. */
int cli_subcommand(const struct cli_global *g, int argc, char **argv,
                   const char *name, const struct cli_command *table,
                   size_t n);

/* The commands, one file each. */
int cmd_code(const struct cli_global *g, int argc, char **argv);
int cmd_enterprises(const struct cli_global *g, int argc, char **argv);
int cmd_parties(const struct cli_global *g, int argc, char **argv);
int cmd_keys(const struct cli_global *g, int argc, char **argv);
int cmd_models(const struct cli_global *g, int argc, char **argv);
int cmd_units(const struct cli_global *g, int argc, char **argv);
int cmd_events(const struct cli_global *g, int argc, char **argv);
int cmd_grants(const struct cli_global *g, int argc, char **argv);
int cmd_audit(const struct cli_global *g, int argc, char **argv);
int cmd_log(const struct cli_global *g, int argc, char **argv);
int cmd_label(const struct cli_global *g, int argc, char **argv);
int cmd_device(const struct cli_global *g, int argc, char **argv);

/*
 * Ed25519 keys as the tool is given them (cmd_device.c), for "label" and
 * "device": the bare base64 of a 32-byte public or 64-byte libsodium
 * secret key, the JSON of "hrid device keygen" or of GET
 * /v1/platform/key, a verifier key <name>+<key id>+<base64>, or hridd's
 * PRIVATE+KEY file.  cli_key_parse reads text (what names it in
 * messages, "--key"); cli_key_read a file, white space around the key
 * ignored.  With want_secret, a public key alone is refused.  Both return
 * CLI_OK, or CLI_FAIL after printing why with k wiped.  The caller wipes
 * k with cli_key_wipe once done with it.
 */
struct cli_key {
    unsigned char pk[32];
    unsigned char sk[64];   /* libsodium's layout: seed, then pk */
    int has_sk;
};

int cli_key_parse(const char *text, int want_secret, struct cli_key *k,
                  const char *what);
int cli_key_read(const char *path, int want_secret, struct cli_key *k);

/* The key of a pair of options such as --key TEXT | --key-file FILE:
 * initialises libsodium, then reads path when it is not NULL, else parses
 * text (what names it in messages).  Returns as cli_key_parse does. */
int cli_key_load(const char *text, const char *path, int want_secret,
                 struct cli_key *k, const char *what);
void cli_key_wipe(struct cli_key *k);

#endif
