/*
 * output.c - printing replies for people and for scripts (output.h).
 *
 * "--json" prints the server's own bytes, re-indented by a small scanner
 * rather than parsed and dumped again: jansson would print a latitude of
 * 22.543 as 22.542999999999999, and a script comparing what it sent with
 * what it reads back must see the same text.  The scanner relies on the
 * text being valid JSON, which the caller has checked by parsing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/output.h"

/* The page size of "--all" walks: the API's largest (docs/API.md,
 * Pagination), so a walk takes the fewest round trips. */
#define ALL_PAGE_LIMIT "1000"

/* The longest field path output_fields builds ("components[12].lot"); a
 * deeper name is cut, never overrun. */
#define FIELD_PATH_MAX 256

/* The widest value in a table cell or a field line before "...". */
#define VALUE_MAX 1024

static void newline(FILE *f, int indent)
{
    fputc('\n', f);
    while (indent-- > 0)
        fputc(' ', f);
}

void output_pretty(FILE *f, const char *s, size_t len, int indent)
{
    int depth = indent;
    size_t i, j;

    for (i = 0; i < len; i++) {
        char ch = s[i];

        switch (ch) {
        case ' ': case '\t': case '\r': case '\n':
            break;
        case '"':
            /* A string is copied as it is, escapes included. */
            j = i + 1;
            while (j < len && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            fwrite(s + i, 1, (j < len ? j + 1 : len) - i, f);
            i = j;
            break;
        case '{': case '[':
            fputc(ch, f);
            for (j = i + 1; j < len && strchr(" \t\r\n", s[j]) != NULL; j++)
                ;
            if (j < len && (s[j] == '}' || s[j] == ']')) {
                fputc(s[j], f);   /* {} and [] stay on one line */
                i = j;
            } else {
                depth += 2;
                newline(f, depth);
            }
            break;
        case '}': case ']':
            depth -= 2;
            newline(f, depth);
            fputc(ch, f);
            break;
        case ',':
            fputc(',', f);
            newline(f, depth);
            break;
        case ':':
            fputs(": ", f);
            break;
        default:
            fputc(ch, f);
        }
    }
}

/* ---- scanning raw JSON ----------------------------------------------- */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && strchr(" \t\r\n", s[i]) != NULL && s[i] != '\0')
        i++;
    return i;
}

/* The index just past the value that starts at s[i]. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    int depth = 0;

    do {
        if (i >= len)
            return len;
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i += s[i] == '\\' ? 2 : 1)
                ;
            i++;
        } else if (s[i] == '{' || s[i] == '[') {
            depth++;
            i++;
        } else if (s[i] == '}' || s[i] == ']') {
            depth--;
            i++;
        } else if (depth > 0) {
            i++;
        } else {
            while (i < len && strchr(",]} \t\r\n", s[i]) == NULL)
                i++;
        }
    } while (depth > 0);
    return i;
}

/* Finds the value of the top-level member "items" of a JSON object:
 * [*start, *end).  Returns 0, or -1 when there is none. */
static int find_items(const char *s, size_t len, size_t *start, size_t *end)
{
    size_t i = skip_ws(s, len, 0), k;
    int match;

    if (i >= len || s[i] != '{')
        return -1;
    for (i++;;) {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != '"')
            return -1;
        k = i;
        i = skip_value(s, len, i);
        match = i - k == 7 && memcmp(s + k, "\"items\"", 7) == 0;
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != ':')
            return -1;
        i = skip_ws(s, len, i + 1);
        if (match) {
            *start = i;
            *end = skip_value(s, len, i);
            return 0;
        }
        i = skip_ws(s, len, skip_value(s, len, i));
        if (i >= len || s[i] != ',')
            return -1;
        i++;
    }
}

/* ---- people's form --------------------------------------------------- */

const char *output_value(const json_t *v, char *buf, size_t size)
{
    char *text;
    size_t n;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(buf, size, "%s", json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, size, "%.15g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, size, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, size, "false");
        break;
    case JSON_NULL:
        snprintf(buf, size, "-");
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
        text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (text == NULL)
            break;
        n = strlen(text);
        if (n < size)
            memcpy(buf, text, n + 1);
        else if (size > 4)
            snprintf(buf, size, "%.*s...", (int)(size - 4), text);
        free(text);
        break;
    }
    return buf;
}

const json_t *output_get(const json_t *obj, const char *path)
{
    char name[FIELD_PATH_MAX];
    const char *dot;
    size_t n;

    while (obj != NULL && (dot = strchr(path, '.')) != NULL) {
        n = (size_t)(dot - path);
        if (n >= sizeof name)
            return NULL;
        memcpy(name, path, n);
        name[n] = '\0';
        obj = json_object_get(obj, name);
        path = dot + 1;
    }
    return obj != NULL ? json_object_get(obj, path) : NULL;
}

static int is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

static void print_field(const char *name, const char *value)
{
    const char *p;

    for (p = name; *p != '\0'; p++)
        fputc(*p == '_' ? ' ' : *p, stdout);
    printf(": %s\n", value);
}

static void fields(const json_t *v, char *path, size_t plen)
{
    char value[VALUE_MAX];
    const char *key;
    const json_t *m;
    size_t i, n;

    if (json_is_object(v) && json_object_size(v) > 0) {
        json_object_foreach((json_t *)v, key, m) {
            n = (size_t)snprintf(path + plen, FIELD_PATH_MAX - plen, "%s%s",
                                 plen > 0 ? "." : "", key);
            fields(m, path, n >= FIELD_PATH_MAX - plen ? FIELD_PATH_MAX - 1
                                                       : plen + n);
            path[plen] = '\0';
        }
        return;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        int scalars = 1;
        size_t used = 0;

        json_array_foreach(v, i, m)
            scalars &= is_scalar(m);
        if (scalars) {
            value[0] = '\0';
            json_array_foreach(v, i, m) {
                char one[VALUE_MAX];

                output_value(m, one, sizeof one);
                n = (size_t)snprintf(value + used, sizeof value - used,
                                     "%s%s", i > 0 ? ", " : "", one);
                used = used + n >= sizeof value ? sizeof value - 1
                                                : used + n;
            }
            print_field(path, value);
            return;
        }
        json_array_foreach(v, i, m) {
            n = (size_t)snprintf(path + plen, FIELD_PATH_MAX - plen,
                                 "[%zu]", i);
            fields(m, path, n >= FIELD_PATH_MAX - plen ? FIELD_PATH_MAX - 1
                                                       : plen + n);
            path[plen] = '\0';
        }
        return;
    }
    if (json_is_object(v) || json_is_array(v))
        print_field(path, "-");
    else
        print_field(path, output_value(v, value, sizeof value));
}

void output_fields(const json_t *obj)
{
    char path[FIELD_PATH_MAX];

    path[0] = '\0';
    if (!json_is_object(obj)) {
        char value[VALUE_MAX];

        puts(output_value(obj, value, sizeof value));
        return;
    }
    fields(obj, path, 0);
}

static void print_row(const struct output_column *cols, const json_t *item)
{
    char value[VALUE_MAX];
    const struct output_column *col;

    for (col = cols; col->header != NULL; col++) {
        if (item != NULL)
            output_value(output_get(item, col->path), value, sizeof value);
        if (col[1].header == NULL)
            printf("%s\n", item != NULL ? value : col->header);
        else
            printf("%-*s  ", col->width, item != NULL ? value : col->header);
    }
}

int output_json(json_t *obj)
{
    char *text;

    if (obj == NULL)
        return cli_error("out of memory");
    text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL)
        return cli_error("out of memory");
    fputs(text, stdout);
    fputc('\n', stdout);
    sodium_memzero(text, strlen(text));
    free(text);
    return cli_flush_stdout();
}

/* ---- lists ----------------------------------------------------------- */

int output_list(struct client *c, const struct cli_global *g,
                const char *path, int all, const char *limit,
                const char *cursor, const struct output_column *cols)
{
    char url[CLIENT_PATH_MAX];
    char *next = NULL;
    unsigned long long n_items = 0;
    int rc = CLI_OK;

    if (all && limit == NULL)
        limit = ALL_PAGE_LIMIT;
    if (all && g->json)
        fputs("{\n  \"items\": [", stdout);
    for (;;) {
        json_t *page = NULL, *items;
        const json_t *item, *ncv;
        const char *nc;
        size_t i, start, end;

        if ((size_t)snprintf(url, sizeof url, "%s", path) >= sizeof url ||
            client_query_add(url, sizeof url, "limit", limit) != 0 ||
            client_query_add(url, sizeof url, "cursor",
                             next != NULL ? next : cursor) != 0) {
            rc = cli_error("the request path is too long");
            break;
        }
        rc = client_call(c, "GET", url, NULL, &page);
        if (rc != CLI_OK)
            break;
        items = json_object_get(page, "items");
        ncv = json_object_get(page, "next_cursor");
        nc = json_string_value(ncv);
        if (!json_is_array(items) ||
            (ncv != NULL && !json_is_null(ncv) && nc == NULL)) {
            json_decref(page);
            fprintf(stderr, "error: %s answered a list without "
                    "\"items\" and \"next_cursor\"\n", c->base);
            rc = CLI_CONN;
            break;
        }
        if (g->json && !all) {
            output_pretty(stdout, c->body, c->len, 0);
            fputc('\n', stdout);
        } else if (g->json) {
            /* The items of this page, each copied from the raw reply. */
            if (find_items(c->body, c->len, &start, &end) == 0) {
                for (i = skip_ws(c->body, end, start + 1);
                     i < end && c->body[i] != ']';) {
                    size_t e = skip_value(c->body, end, i);

                    fputs(n_items++ > 0 ? ",\n    " : "\n    ", stdout);
                    output_pretty(stdout, c->body + i, e - i, 4);
                    i = skip_ws(c->body, end, e);
                    if (i < end && c->body[i] == ',')
                        i = skip_ws(c->body, end, i + 1);
                }
            }
        } else {
            json_array_foreach(items, i, item) {
                if (n_items++ == 0)
                    print_row(cols, NULL);
                print_row(cols, item);
            }
        }
        free(next);
        next = nc != NULL ? strdup(nc) : NULL;
        json_decref(page);
        if (nc != NULL && next == NULL) {
            rc = cli_error("out of memory");
            break;
        }
        if (next == NULL || !all)
            break;
        if (ferror(stdout))
            break;      /* a closed pipe: cli_flush_stdout reports it */
    }
    if (all && g->json)
        fputs(n_items > 0 ? "\n  ],\n  \"next_cursor\": null\n}\n"
                          : "],\n  \"next_cursor\": null\n}\n", stdout);
    if (rc == CLI_OK && next != NULL && !g->json)
        fprintf(stderr, "(more: --all, or --cursor %s)\n", next);
    free(next);
    if (rc == CLI_OK)
        rc = cli_flush_stdout();
    else
        fflush(stdout);
    return rc;
}

int output_list_call(const struct cmdline *cl, const char *path,
                     const struct output_column *cols)
{
    struct client c;
    int rc;

    rc = client_open(&c, &cl->g);
    if (rc != CLI_OK)
        return rc;
    rc = output_list(&c, &cl->g, path, cmdline_flag(cl, "all"),
                     cmdline_str(cl, "limit"), cmdline_str(cl, "cursor"),
                     cols);
    client_close(&c);
    return rc;
}

int output_call(const struct cmdline *cl, const char *method,
                const char *path, const json_t *body,
                void (*show)(const json_t *reply))
{
    struct client c;
    json_t *reply = NULL;
    int rc;

    rc = client_open(&c, &cl->g);
    if (rc != CLI_OK)
        return rc;
    rc = client_call(&c, method, path, body, &reply);
    if (rc == CLI_OK) {
        if (cl->g.json) {
            output_pretty(stdout, c.body, c.len, 0);
            fputc('\n', stdout);
        } else if (show != NULL) {
            show(reply);
        } else {
            output_fields(reply);
        }
        rc = cli_flush_stdout();
    }
    json_decref(reply);
    client_close(&c);
    return rc;
}
