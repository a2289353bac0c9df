/*
 * cli/output.h - how hrid's online commands print replies.
 *
 * Two forms, as the global --json chooses: the reply exactly as the server
 * sent it, indented (for scripts: no number or string is re-encoded), or
 * a readable form for people ("name: value" lines for one object, a table
 * for a list).  Results go to stdout; diagnostics stay on stderr.
 */
#ifndef HRID_CLI_OUTPUT_H
#define HRID_CLI_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/cmdline.h"

/* Prints len bytes of JSON text (already known to be valid JSON) to f,
 * indented two spaces a level, every line after the first starting with
 * indent extra spaces.  Strings and numbers are copied byte for byte. */
void output_pretty(FILE *f, const char *text, size_t len, int indent);

/* Prints obj as JSON indented two spaces, members in order, and releases
 * it; NULL is taken as a failed allocation.  The text is wiped before it
 * is freed, since it may hold a secret key ("hrid device keygen").
 * Returns cli_flush_stdout's status, or CLI_FAIL after a message. */
int output_json(json_t *obj);

/* Prints the members of obj as "name: value" lines: nested names joined
 * with '.', '_' shown as ' ', null as '-', arrays of scalars joined with
 * ", ".  A non-object is printed as one value. */
void output_fields(const json_t *obj);

/* A column of a human-readable list: its header, the member shown (a
 * dotted path, "model.id"), and its width (the last column is not
 * padded).  A table ends with a NULL header. */
struct output_column {
    const char *header;
    const char *path;
    int width;
};

/*
 * Lists: GETs path (which may hold a query already) with the API's
 * limit and cursor, and prints the items: with g->json the reply as sent
 * (with all set, every page's items merged into one
 * {"items":[...],"next_cursor":null}); otherwise a table of cols.
 * Without all, a further page is announced on stderr.  limit and cursor
 * may be NULL.  Returns a cli status (errors reported).
 */
int output_list(struct client *c, const struct cli_global *g,
                const char *path, int all, const char *limit,
                const char *cursor, const struct output_column *cols);

/* The whole of a list subcommand once its command line (with --all,
 * --limit and --cursor) is parsed: opens a client for cl->g and runs
 * output_list on path with those options.  Returns a cli status. */
int output_list_call(const struct cmdline *cl, const char *path,
                     const struct output_column *cols);

/*
 * The whole of a simple subcommand once its command line is parsed: opens
 * a client for cl->g, sends method path with body (may be NULL), and
 * prints the reply: raw with --json, otherwise through show (or
 * output_fields when show is NULL).  Returns a cli status.
 */
int output_call(const struct cmdline *cl, const char *method,
                const char *path, const json_t *body,
                void (*show)(const json_t *reply));

/* Writes a JSON value for a person into buf (size bytes): strings bare,
 * null as '-', numbers as written, objects and arrays as compact JSON
 * (cut with "..." when longer than buf).  Returns buf. */
const char *output_value(const json_t *v, char *buf, size_t size);

/* The member at a dotted path ("model.id") of obj, or NULL. */
const json_t *output_get(const json_t *obj, const char *path);

#endif
