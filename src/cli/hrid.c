/*
 * hrid.c - main of the hrid command-line tool: global options and the
 * command table.
 *
 * As in git and curl's tool, main only parses the options that come before
 * the command name, looks the name up in commands[] and hands the rest of
 * argv to the command's handler (cli.h states the conventions handlers
 * follow).  Adding a command is one row here and one cmd_*.c file.  The
 * online commands (units, enterprises, models, events, audit, label ...)
 * will add --server and --key to global_options; struct cli_global already
 * carries them.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef HRID_VERSION
#define HRID_VERSION "unknown"
#endif

static int cmd_help(const struct cli_global *g, int argc, char **argv);

static const struct cli_command commands[] = {
    {"code", cmd_code, "validate, decode and make identity codes (offline)"},
    {"units", cmd_units, "register, import, show and list units"},
    {"events", cmd_events, "record and list a unit's lifecycle events"},
    {"grants", cmd_grants, "grant service providers access to a unit"},
    {"models", cmd_models, "file, approve, show and list product models"},
    {"enterprises", cmd_enterprises, "enrol and show manufacturers"},
    {"parties", cmd_parties, "create and show parties (admin)"},
    {"keys", cmd_keys, "issue, list and revoke API keys (admin)"},
    {"audit", cmd_audit, "check a database's log against its events (offline)"},
    {"log", cmd_log, "verify the signed log and prove a unit's events in it"},
    {"label", cmd_label, "verify a unit's QR label offline, or make one"},
    {"device", cmd_device, "make a device key, answer a device challenge"},
    {"help", cmd_help, "show this help, or a command's ('hrid help code')"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

enum { OPT_HELP, OPT_VERSION, OPT_JSON, OPT_SERVER, OPT_KEY };

static const struct cli_option global_options[] = {
    {"help", 'h', 0, OPT_HELP},
    {"version", 0, 0, OPT_VERSION},
    {"json", 0, 0, OPT_JSON},
    {"server", 0, 1, OPT_SERVER},
    {"key", 0, 1, OPT_KEY},
    {NULL, 0, 0, 0},
};

static const char usage_line[] =
    "usage: hrid [--help] [--version] [--json] [--server URL] [--key KEY]\n"
    "            <command> [<args>]\n";

static void print_usage(FILE *f)
{
    size_t i;

    fputs(usage_line, f);
    fputs("\ncommands:\n", f);
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(f, "   %-12s %s\n", commands[i].name, commands[i].help);
    fputs("\nglobal options:\n"
          "   -h, --help     show this help\n"
          "   --version      print the version\n"
          "   --json         print JSON (the server's reply, indented)\n"
          "   --server URL   the registry (default $HRID_SERVER, else\n"
          "                  " CLI_DEFAULT_SERVER ")\n"
          "   --key KEY      the API key (default $HRID_KEY; none: public)\n"
          "\nThe online commands also take these after their name.\n"
          "'hrid <command> --help' shows a command's usage.\n", f);
}

static const struct cli_command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* "hrid help" prints the usage; "hrid help CMD" runs "hrid CMD --help". */
static int cmd_help(const struct cli_global *g, int argc, char **argv)
{
    const struct cli_command *c;
    char help_opt[] = "--help";
    char *sub[3];

    if (argc < 2) {
        print_usage(stdout);
        return cli_flush_stdout();
    }
    if (argc > 2)
        return cli_usage_error("usage: hrid help [<command>]\n",
                               "too many arguments");
    c = find_command(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "hrid: unknown command '%s'\n"
                "See 'hrid --help'.\n", argv[1]);
        return CLI_USAGE;
    }
    if (c->run == cmd_help) {
        print_usage(stdout);
        return cli_flush_stdout();
    }
    sub[0] = argv[1];
    sub[1] = help_opt;
    sub[2] = NULL;
    return c->run(g, 2, sub);
}

int main(int argc, char **argv)
{
    struct cli_global g = {0, NULL, NULL};
    const struct cli_command *c;
    struct cli_args a;
    const char *value;
    int id;

    cli_args_init(&a, argc, argv, 1, global_options);
    while ((id = cli_args_next(&a, &value)) != CLI_ARG_END) {
        switch (id) {
        case OPT_HELP:
            print_usage(stdout);
            return cli_flush_stdout();
        case OPT_VERSION:
            fputs("hrid " HRID_VERSION "\n", stdout);
            return cli_flush_stdout();
        case OPT_JSON:
            g.json = 1;
            break;
        case OPT_SERVER:
            g.server = value;
            break;
        case OPT_KEY:
            g.key = value;
            break;
        case CLI_ARG_ERROR:
            return cli_usage_error(usage_line, NULL);
        case CLI_ARG_OPERAND:
            c = find_command(value);
            if (c == NULL) {
                fprintf(stderr, "hrid: unknown command '%s'\n"
                        "See 'hrid --help'.\n", value);
                return CLI_USAGE;
            }
            /* The command sees argv from its own name on. */
            return c->run(&g, argc - (a.next - 1), argv + (a.next - 1));
        }
    }
    print_usage(stderr);
    return CLI_USAGE;
}
