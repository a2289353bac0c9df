/*
 * server/http.h - the HTTP layer of hridd, over libmicrohttpd.
 *
 * Layer: src/server.  This file knows HTTP and JSON error bodies but no
 * route and no registry rule: the server hands every complete request to
 * one dispatch function (routes.c) and sends whatever response that
 * function set.  Handlers see a request only through struct hreq and the
 * accessors below, so libmicrohttpd stays an implementation detail of
 * http.c.
 *
 * Life of a request: the body is read completely (up to HTTP_BODY_MAX)
 * before dispatch; the handler reads the request, sets exactly one
 * response with http_json, http_raw or http_error, and returns their
 * result.  Everything a request allocates lives in its arena and is freed
 * in one go once the response has been sent (or the client went away).
 * A handler runs on one of the server's threads and must not keep any
 * pointer into the request after it returns.
 */
#ifndef SERVER_HTTP_H
#define SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/arena.h"

/*
 * The largest request body accepted.  The biggest legitimate body is a
 * bulk registration (DESIGN §7, POST /v1/units with {"units":[...]}):
 * 10,000 units at about 800 bytes of JSON each (codes, lot, factory,
 * firmware and a components[] list) is 8 MB, so 8 MiB.  A larger body is
 * a 413 and is never buffered.
 */
#define HTTP_BODY_MAX (8u * 1024u * 1024u)

/*
 * How much of an oversize body is read and thrown away so that the client
 * can read the 413.  Closing a socket with unread data makes the kernel
 * send a reset, and a client still writing its body (one that did not ask
 * "Expect: 100-continue") then loses the reply.  A body up to twice the
 * limit, a bulk a little too big, is drained and answered cleanly; a
 * larger one, or one whose client asked for 100-continue, is refused as
 * soon as its headers are in, and the connection closed.
 */
#define HTTP_BODY_DRAIN_MAX (2u * HTTP_BODY_MAX)

/* After a request with a body of at least this size, freed memory is
 * returned to the system (malloc_trim): 1 MiB is about 1,300 units of a
 * bulk registration, whose parsed JSON is some ten times its size. */
#define HTTP_TRIM_AFTER (1024u * 1024u)

/* How long an idle connection (keep-alive or a stalled client) is kept:
 * long enough for a client that batches requests a few seconds apart,
 * short enough that idle clients do not pin file descriptors. */
#define HTTP_IDLE_TIMEOUT_S 30u

/*
 * libmicrohttpd threads per CPU by default: they read requests, run the
 * handlers of GET and HEAD, and send every response.  Two per CPU keep a
 * core busy while a thread waits for a page from the kernel.
 */
#define HTTP_THREADS_PER_CPU 2

/*
 * Threads that run the handlers of requests that write (any method but GET
 * and HEAD, except those http_config.defers lets run on libmicrohttpd's
 * threads).  Such a handler waits for its transaction to commit, and the
 * store commits together the writes that wait at the same time (group
 * commit), so the number of writes in flight bounds a commit's size: with
 * the handlers on libmicrohttpd's threads a commit carried 2-8 events and
 * events ran at 1,300-2,200/s (docs/PERFORMANCE.md).  64 lets a commit
 * carry a whole load generator's worth of connections; a waiting thread
 * costs only its stack's address space.
 */
#define HTTP_WORKERS 64

/*
 * Memory libmicrohttpd gives each connection for the request's headers,
 * its read and write buffers and the response headers.  It clears the
 * whole of it before every request, which at its default of 32 KiB was a
 * tenth of the CPU an answer to GET /healthz cost here; 16 KiB still
 * takes 8 KiB of request headers, what common servers accept by default.
 * Larger headers get 431.
 */
#define HTTP_CONN_MEMORY (16u * 1024u)

/* The most {name} captures one route pattern may hold.  The deepest
 * planned path, /v1/units/{code}/events/{id}, has two. */
#define HTTP_PARAMS_MAX 4

struct hreq;
struct http_server;

/* A request handler, and the dispatch function has the same shape:
 * returns 0 once a response is set, non-zero on an internal failure
 * (the client then gets 500 "internal"). */
typedef int (*http_handler_fn)(struct hreq *r);

/* Whether a request's handler defers its wait (http_defer), so that it
 * may run on libmicrohttpd's thread like a read. */
typedef bool (*http_defers_fn)(struct hreq *r);

struct http_config {
    const char *host;           /* numeric address or name to bind */
    unsigned port;              /* 0 picks a free port */
    unsigned threads;           /* libmicrohttpd threads; 0 =
                                   HTTP_THREADS_PER_CPU per CPU */
    unsigned workers;           /* threads for requests that write; 0 =
                                   HTTP_WORKERS */
    unsigned idle_timeout_s;    /* 0 = HTTP_IDLE_TIMEOUT_S */
    bool quiet;                 /* no per-request log lines */
    http_handler_fn dispatch;   /* called for every complete request */
    http_defers_fn defers;      /* may be NULL: every write then runs on
                                   a worker */
    void *app;                  /* handed to handlers by http_app() */
};

/* ---- the server ------------------------------------------------------ */

/*
 * Binds cfg->host:cfg->port and starts the worker threads.  On success
 * stores a server the caller frees with http_server_stop and returns 0.
 * On failure returns -1 with a message in errbuf (errlen bytes).  Call it
 * with SIGTERM, SIGINT and SIGPIPE blocked or ignored: the threads inherit
 * the caller's signal mask.  cfg->host is copied.
 */
int http_server_start(struct http_server **out, const struct http_config *cfg,
                      char *errbuf, size_t errlen);

/* The port actually bound (useful when cfg->port was 0). */
unsigned http_server_port(const struct http_server *s);

/* The base URL clients use, e.g. "http://127.0.0.1:8080" (borrowed until
 * http_server_stop). */
const char *http_server_url(const struct http_server *s);

/* Stops accepting, waits for the threads to finish, frees s.  Safe on
 * NULL. */
void http_server_stop(struct http_server *s);

/* ---- reading the request (all strings borrowed until the request ends) */

struct arena *http_arena(struct hreq *r);    /* the request's arena */

/* Percent-decodes n bytes of s into a NUL-ended string in a (a malformed
 * escape is copied as it is; with plus_is_space, as in a form body, '+'
 * is a space); *outlen, when not NULL, gets its length, which counts any
 * %00.  NULL when memory ran out. */
char *http_pct_decode(struct arena *a, const char *s, size_t n,
                      bool plus_is_space, size_t *outlen);
void *http_app(const struct hreq *r);        /* http_config.app */
const char *http_method(const struct hreq *r);
const char *http_path(const struct hreq *r); /* raw, without the query */
const char *http_remote_ip(struct hreq *r);  /* "127.0.0.1", "::1" */

/* A request header by name (case-insensitive), or NULL. */
const char *http_header(const struct hreq *r, const char *name);

/* A query argument, percent-decoded ('+' is a space, malformed escapes
 * are kept as they are); NULL when absent, "" when given without a
 * value.  *len (if len is not NULL) receives the
 * decoded length, which counts any NUL the client encoded as %00. */
const char *http_query(struct hreq *r, const char *name, size_t *len);

/* A path parameter captured by a {name} in the route pattern, percent-
 * decoded; NULL when the route has no such capture.  *len as for
 * http_query. */
const char *http_param(const struct hreq *r, const char *name, size_t *len);

/* The request body (not NUL-terminated) and its length; NULL and 0 when
 * there is none. */
const void *http_body(const struct hreq *r, size_t *len);

/* Parses the body as JSON.  Returns a new reference the caller must
 * json_decref, or NULL after having set a 400 "bad_json" response that
 * names the line and column of the error. */
json_t *http_body_json(struct hreq *r);
/* The same, with the values in the request's arena (core/jsonmem.h):
 * faster to build and to free, for a handler that keeps no reference to
 * any part of the body once the request ends. */
json_t *http_body_json_local(struct hreq *r);

/* Records a {name} capture of the route matched; the dispatcher calls
 * it.  name is name_len bytes of a route pattern (static storage); value
 * is value_len raw bytes of the path, percent-decoded here.  A malformed
 * escape ("%G1", a trailing "%") is kept as it is, so the handler's own
 * validation names the offending character.  Returns 0, or -1 when the
 * request already holds HTTP_PARAMS_MAX captures or memory ran out. */
int http_param_set(struct hreq *r, const char *name, size_t name_len,
                   const char *value, size_t value_len);

/*
 * A response that comes later, with no thread waiting for it.  A handler
 * that queues work elsewhere (a write for the store's writer) calls
 * http_defer first, then queues the work, and returns 0 without a
 * response; whoever finishes the work calls http_wake, from any thread,
 * exactly once.  finish(r, arg) then runs on one of the server's threads
 * and sets the response as a handler would.  Returns false, and changes
 * nothing, when the request cannot wait that way: its handler runs on a
 * worker (one that may block, see http_config.defers), or the server is
 * stopping; the handler then does its work in place.
 */
typedef int (*http_finish_fn)(struct hreq *r, void *arg);
bool http_defer(struct hreq *r, http_finish_fn finish, void *arg);
void http_wake(struct hreq *r);

/* ---- setting the response (each returns 0, or -1 when out of memory) */

/* Replies with body serialised as compact JSON, as application/json.
 * Steals the reference to body (also on failure); body NULL is a 500. */
int http_json(struct hreq *r, int status, json_t *body);

/* Replies with len bytes of data as content_type.  The bytes are not
 * copied: they must live until the request ends (static storage or the
 * request's arena). */
int http_raw(struct hreq *r, int status, const char *content_type,
             const void *data, size_t len);

/*
 * Replies with the error body of DESIGN §7,
 *   {"error":{"code":CODE,"message":MESSAGE,"field":FIELD}}
 * where MESSAGE is printf-formatted and "field" is left out when field is
 * NULL.  Bytes of the message that are not valid UTF-8 (a client's input
 * quoted back) are shown as \xNN.  http_error_extra also merges the
 * members of the object extra (stolen, may be NULL) into "error", e.g.
 * {"position":17,"reason":"character"}.
 */
int http_error(struct hreq *r, int status, const char *code,
               const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int http_error_extra(struct hreq *r, int status, const char *code,
                     const char *field, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Adds a response header (e.g. Location, Allow); name and value are
 * copied.  Call it before or after setting the body. */
int http_header_add(struct hreq *r, const char *name, const char *value);

/* A JSON string of s (len bytes) with invalid UTF-8 bytes shown as \xNN,
 * for quoting client input back; a new reference, NULL on no memory. */
json_t *http_json_string(struct hreq *r, const char *s, size_t len);

#endif
