/*
 * cmdline.c - typed command lines for hrid's online commands (cmdline.h).
 *
 * The syntax is the one cli_args_next parses for the offline commands
 * ("--name value", "--name=value", "--" ends the options, "-" alone is an
 * operand) and the errors read the same; this parser adds what the online
 * commands need on top: values typed into JSON, required options, and
 * free-form fields for "events add".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdline.h"

enum { COMMON_NONE, COMMON_JSON, COMMON_SERVER, COMMON_KEY };

/* The longest option name taken as a free-form field: the API's field
 * names are short identifiers, and 64 is its cap on identifiers. */
#define FIELD_NAME_MAX 64

static int common_option(const char *name, size_t len)
{
    if (len == 4 && memcmp(name, "json", 4) == 0)
        return COMMON_JSON;
    if (len == 6 && memcmp(name, "server", 6) == 0)
        return COMMON_SERVER;
    if (len == 3 && memcmp(name, "key", 3) == 0)
        return COMMON_KEY;
    return COMMON_NONE;
}

static const struct cmdline_opt *find_opt(const struct cmdline_opt *o,
                                          const char *name, size_t len)
{
    for (; o != NULL && o->name != NULL; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* A free-form field name: lower-case letters, digits, '_' and '-'. */
static int field_name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > FIELD_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
              name[i] == '-'))
            return 0;
    return 1;
}

/* Turns the text of an option into its JSON value, or prints why not. */
static json_t *typed(const char *opt, enum cmdline_type type,
                     const char *text)
{
    json_error_t jerr;
    json_t *v;
    long long n;
    char *end;

    switch (type) {
    case CMDLINE_STR:
        v = json_string(text);
        if (v == NULL)
            fprintf(stderr, "error: option '--%s': not valid UTF-8\n", opt);
        return v;
    case CMDLINE_INT:
    case CMDLINE_NATURAL:
        errno = 0;
        n = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno != 0 ||
            (type == CMDLINE_NATURAL && n < 1)) {
            fprintf(stderr, "error: option '--%s' expects %s, got '%s'\n",
                    opt, type == CMDLINE_INT ? "an integer"
                                             : "a positive integer", text);
            return NULL;
        }
        return json_integer(n);
    case CMDLINE_JSON:
        v = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (v == NULL)
            fprintf(stderr, "error: option '--%s': not JSON: %s\n", opt,
                    jerr.text);
        return v;
    case CMDLINE_VALUE:
        /* Text that is JSON is taken as JSON, so '--to 12' sends a
         * number and '--site {...}' an object; a quoted JSON string
         * ('"123"') is how to send a string that reads as a number.
         * Anything else is taken as text. */
        v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (v != NULL)
            return v;
        v = json_string(text);
        if (v == NULL)
            fprintf(stderr, "error: option '--%s': not valid UTF-8\n", opt);
        return v;
    case CMDLINE_FLAG:
        break;
    }
    return json_true();
}

int cmdline_parse(struct cmdline *c, const struct cli_global *g, int argc,
                  char **argv, const struct cmdline_opt *opts, int min_ops,
                  int max_ops, int any_field, const char *usage)
{
    int options_done = 0;
    int i;

    memset(c, 0, sizeof *c);
    c->g = *g;
    c->opts = json_object();
    if (c->opts == NULL)
        return cli_error("out of memory");
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *value = NULL;
        const struct cmdline_opt *o;
        struct cmdline_opt extra;
        char field[FIELD_NAME_MAX + 1];
        size_t len, k;
        int common;
        json_t *v;

        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (c->n_operands >= max_ops)
                return cli_usage_error(usage, "unexpected argument '%s'",
                                       arg);
            c->operands[c->n_operands++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            c->help = 1;
            return cli_flush_stdout();
        }
        if (arg[1] != '-') {
            fprintf(stderr, "error: unknown option '%s'\n", arg);
            return cli_usage_error(usage, NULL);
        }
        name = arg + 2;
        eq = strchr(name, '=');
        len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        common = common_option(name, len);
        o = find_opt(opts, name, len);
        if (common == COMMON_NONE && o == NULL) {
            if (!any_field || !field_name_ok(name, len)) {
                fprintf(stderr, "error: unknown option '--%.*s'\n", (int)len,
                        name);
                return cli_usage_error(usage, NULL);
            }
            memcpy(field, name, len);
            field[len] = '\0';
            extra.name = field;
            extra.type = CMDLINE_VALUE;
            extra.required = 0;
            o = &extra;
        }
        if (common == COMMON_JSON || (o != NULL && o->type == CMDLINE_FLAG)) {
            if (eq != NULL)
                return cli_usage_error(usage, "option '--%.*s' takes no "
                                       "value", (int)len, name);
        } else if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return cli_usage_error(usage, "option '%s' requires a value",
                                   arg);
        }
        switch (common) {
        case COMMON_JSON:
            c->g.json = 1;
            continue;
        case COMMON_SERVER:
            c->g.server = value;
            continue;
        case COMMON_KEY:
            c->g.key = value;
            continue;
        }
        v = typed(o->name, o->type, value);
        if (v == NULL)
            return cli_usage_error(usage, NULL);
        /* The field is the option's name with '-' as '_'
         * (--public-name sets "public_name"). */
        len = strlen(o->name);
        if (len > FIELD_NAME_MAX)
            len = FIELD_NAME_MAX;
        for (k = 0; k < len; k++)
            field[k] = o->name[k] == '-' ? '_' : o->name[k];
        field[len] = '\0';
        if (json_object_set_new(c->opts, field, v) != 0)
            return cli_error("out of memory");
    }
    for (; opts != NULL && opts->name != NULL; opts++) {
        char field[FIELD_NAME_MAX + 1];
        size_t k, len = strlen(opts->name);

        if (!opts->required)
            continue;
        if (len > FIELD_NAME_MAX)
            len = FIELD_NAME_MAX;
        for (k = 0; k < len; k++)
            field[k] = opts->name[k] == '-' ? '_' : opts->name[k];
        field[len] = '\0';
        if (json_object_get(c->opts, field) == NULL)
            return cli_usage_error(usage, "missing --%s", opts->name);
    }
    if (c->n_operands < min_ops)
        return cli_usage_error(usage, c->n_operands == 0
                               ? "missing argument" : "too few arguments");
    return CLI_OK;
}

void cmdline_release(struct cmdline *c)
{
    json_decref(c->opts);
    c->opts = NULL;
}

const char *cmdline_str(const struct cmdline *c, const char *field)
{
    return json_string_value(json_object_get(c->opts, field));
}

int cmdline_flag(const struct cmdline *c, const char *field)
{
    return json_is_true(json_object_get(c->opts, field));
}

json_t *cmdline_take(struct cmdline *c, const char *field)
{
    json_t *v = json_object_get(c->opts, field);

    if (v == NULL)
        return NULL;
    json_incref(v);
    json_object_del(c->opts, field);
    return v;
}

int cmdline_code(const char *in, char out[HRID_CODE_LEN + 1])
{
    struct hrid_err err;

    if (hrid_code_parse(in, strlen(in), out, &err) != HRID_OK) {
        fprintf(stderr, "error: invalid code '%s': %s\n", in, err.msg);
        return CLI_FAIL;
    }
    return CLI_OK;
}
