/*
 * cli.c - helpers shared by the commands of the hrid tool: the option
 * parser and the git-style diagnostics (see cli.h).
 *
 * Kept apart from hrid.c, which holds main, so that unit tests can link
 * these helpers and the command files without a second main.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

void cli_args_init(struct cli_args *a, int argc, char **argv, int first,
                   const struct cli_option *options)
{
    a->argc = argc;
    a->argv = argv;
    a->next = first;
    a->options_done = 0;
    a->options = options;
}

static const struct cli_option *find_long(const struct cli_option *o,
                                          const char *name, size_t len)
{
    for (; o->name != NULL || o->short_name != 0; o++)
        if (o->name != NULL && strlen(o->name) == len &&
            memcmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const struct cli_option *find_short(const struct cli_option *o, char c)
{
    for (; o->name != NULL || o->short_name != 0; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

int cli_args_next(struct cli_args *a, const char **value)
{
    const struct cli_option *o;
    const char *arg, *eq;

    *value = NULL;
    if (a->next >= a->argc)
        return CLI_ARG_END;
    arg = a->argv[a->next++];

    if (a->options_done || arg[0] != '-' || arg[1] == '\0') {
        *value = arg;
        return CLI_ARG_OPERAND;
    }
    if (strcmp(arg, "--") == 0) {
        a->options_done = 1;
        return cli_args_next(a, value);
    }

    if (arg[1] == '-') {
        /* "--name" or "--name=value" */
        eq = strchr(arg + 2, '=');
        o = find_long(a->options, arg + 2,
                      eq != NULL ? (size_t)(eq - (arg + 2)) : strlen(arg + 2));
        if (o == NULL) {
            fprintf(stderr, "error: unknown option '%.*s'\n",
                    eq != NULL ? (int)(eq - arg) : (int)strlen(arg), arg);
            return CLI_ARG_ERROR;
        }
        if (!o->has_value) {
            if (eq != NULL) {
                fprintf(stderr, "error: option '--%s' takes no value\n",
                        o->name);
                return CLI_ARG_ERROR;
            }
            return o->id;
        }
        if (eq != NULL) {
            *value = eq + 1;
            return o->id;
        }
    } else {
        /* "-x": single letters only, no bundling; nothing needs it. */
        o = arg[2] == '\0' ? find_short(a->options, arg[1]) : NULL;
        if (o == NULL) {
            fprintf(stderr, "error: unknown option '%s'\n", arg);
            return CLI_ARG_ERROR;
        }
        if (!o->has_value)
            return o->id;
    }

    if (a->next >= a->argc) {
        fprintf(stderr, "error: option '%s' requires a value\n", arg);
        return CLI_ARG_ERROR;
    }
    *value = a->argv[a->next++];
    return o->id;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    if (fmt != NULL) {
        fputs("error: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    fputs(usage, stderr);
    return CLI_USAGE;
}

int cli_flush_stdout(void)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        /* errno is that of the failed write when fflush failed; a write
         * that failed earlier left only the error flag. */
        cli_error("write error: %s", errno != 0 ? strerror(errno)
                                                : "output lost");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_subcommand(const struct cli_global *g, int argc, char **argv,
                   const char *name, const struct cli_command *table,
                   size_t n)
{
    FILE *f = stdout;
    size_t i;

    if (argc >= 2 && strcmp(argv[1], "--help") != 0 &&
        strcmp(argv[1], "-h") != 0) {
        for (i = 0; i < n; i++)
            if (strcmp(table[i].name, argv[1]) == 0)
                return table[i].run(g, argc - 1, argv + 1);
        if (argv[1][0] == '-') {
            fprintf(stderr, "error: unknown option '%s'\n", argv[1]);
            f = stderr;
        } else {
            fprintf(stderr, "hrid: unknown subcommand '%s %s'\n"
                    "See 'hrid %s --help'.\n", name, argv[1], name);
            return CLI_USAGE;
        }
    } else if (argc < 2) {
        f = stderr;
    }
    fprintf(f, "usage: hrid %s <subcommand> [<args>]\n\nsubcommands:\n",
            name);
    for (i = 0; i < n; i++)
        fprintf(f, "   %-9s %s\n", table[i].name, table[i].help);
    fprintf(f, "\n'hrid %s <subcommand> --help' shows its usage.\n", name);
    if (f == stderr)
        return CLI_USAGE;
    return cli_flush_stdout();
}
