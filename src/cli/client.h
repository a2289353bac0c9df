/*
 * cli/client.h - the HTTP client of hrid's online commands.
 *
 * One libcurl easy handle per client, reused for every request so that
 * consecutive requests (pages of a list, batches of an import) share one
 * keep-alive connection.  Bodies are JSON (docs/API.md); the client keeps
 * the last reply raw, so that "--json" can print exactly what the server
 * sent, and parses it only when a command needs its members.
 *
 * Errors follow the tool's conventions (cli.h): an API refusal is printed
 * as "error: <message> (field: x)" and is CLI_FAIL; no reply at all, or a
 * reply that is not the API's (a proxy's HTML page), is CLI_CONN.
 */
#ifndef HRID_CLI_CLIENT_H
#define HRID_CLI_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"

/* The largest reply kept: eight times the API's 8 MiB request cap, so a
 * page of 1,000 units holding whatever the largest requests wrote still
 * fits; anything larger is a broken or hostile server, not a reply. */
#define CLIENT_REPLY_MAX (64u * 1024u * 1024u)

/* The longest request path built (path and query), far above the longest
 * the API has (a 29-character code, an opaque cursor, two filters). */
#define CLIENT_PATH_MAX 2048

struct client {
    CURL *curl;
    char *base;              /* the server URL without a trailing '/' */
    char *auth;              /* "Authorization: Bearer KEY", or NULL */
    char errbuf[CURL_ERROR_SIZE];
    /* The last reply, valid until the next request. */
    long status;             /* HTTP status; 0 when no reply came */
    char *body;              /* raw body, NUL-terminated (never NULL after
                                a reply) */
    size_t len, cap;
    int replayed;            /* the reply had "Idempotent-Replay: true" */
    int too_large;           /* the body passed CLIENT_REPLY_MAX */
};

/* Sets up c for the server and key of g (falling back on $HRID_SERVER,
 * CLI_DEFAULT_SERVER, $HRID_KEY).  Returns CLI_OK, CLI_USAGE for a server
 * URL that is not http:// or https://, or CLI_FAIL (message printed). */
int client_open(struct client *c, const struct cli_global *g);

/* Frees what client_open and the requests allocated. */
void client_close(struct client *c);

/* Sends one request: path (already escaped; see client_pathf) is appended
 * to the server URL; body (len bytes of JSON) may be NULL; idem_key, when
 * not NULL, is sent as Idempotency-Key.  Returns CLI_OK when a reply of
 * any status came (c->status, c->body), CLI_CONN when none did (the
 * reason in c->errbuf).  Prints nothing. */
int client_send(struct client *c, const char *method, const char *path,
                const char *body, size_t len, const char *idem_key);

/* The last reply parsed, or NULL when it is not JSON.  New reference. */
json_t *client_reply_json(const struct client *c);

/* Takes the error object of a parsed reply apart: *code, *message and
 * *field (each possibly NULL) borrow from reply.  Returns 0, or -1 when
 * reply is not {"error":{...}}. */
int client_error_parts(const json_t *reply, const char **code,
                       const char **message, const char **field);

/* Reports the last request's failure on stderr: a transport error
 * ("error: cannot reach URL: why") is CLI_CONN, an API error body
 * ("error: message (field: x)") CLI_FAIL, anything else CLI_CONN. */
int client_report(const struct client *c);

/* Sends body (a JSON value, or NULL) and, on a 2xx reply, stores the parsed
 * reply in *reply (new reference; json null for an empty body) and returns
 * CLI_OK.  Otherwise reports (client_report) and returns its status. */
int client_call(struct client *c, const char *method, const char *path,
                const json_t *body, json_t **reply);

/* Formats a request path into out (size bytes): fmt's "%s" arguments are
 * percent-encoded as path segments (every byte outside RFC 3986's
 * unreserved set), "%S" arguments are copied as they are, "%%" is '%'.
 * Returns 0, or -1 when the result does not fit. */
int client_pathf(char *out, size_t size, const char *fmt, ...);

/* Appends "?name=value" or "&name=value" (value percent-encoded) to the
 * path in out; a NULL value appends nothing.  Returns 0, or -1 when it
 * does not fit. */
int client_query_add(char *out, size_t size, const char *name,
                     const char *value);

#endif
