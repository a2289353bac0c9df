/*
 * server/http.c - hridd's HTTP layer over libmicrohttpd 0.9.75
 * (server/http.h).
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in, once per chunk of body, and once more when the
 * body is complete.  The handler sets up a struct hreq on the first call,
 * accumulates the body, and dispatches and queues the response only on
 * the last call.  Queueing on the first call, even for a GET, makes
 * libmicrohttpd answer "Connection: close" (it cannot know the body is
 * empty yet), which cut throughput from 228k to 51k req/s here
 * (MEASURED.md).  The one deliberate exception is a body announced larger
 * than HTTP_BODY_MAX: answering 413 at once and closing is what we want.
 *
 * The path is left percent-encoded (a no-op unescape callback), so that
 * an encoded '/' inside a parameter cannot change which route matches;
 * captures and query values are decoded one by one into the arena.
 *
 * Every request owns one arena, and struct hreq itself is its first
 * allocation, so a simple request costs one malloc.  The body has its own
 * malloc'd buffer, sized from Content-Length, because it may be megabytes.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/jsonmem.h"
#include "core/jsonw.h"
#include "server/http.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    char *host;                 /* cfg.host points here */
    unsigned port;
    char url[128];

    /* Requests that write run on these workers, off libmicrohttpd's
     * threads (see run_elsewhere): a queue and its threads. */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    struct hreq *q_head, *q_tail;
    bool q_stop;                /* no more queueing; workers drain and end */
    unsigned deferred;          /* requests waiting in http_defer */
    pthread_cond_t idle_cv;     /* deferred fell to 0 */
    pthread_t *workers;
    unsigned nworkers;
};

struct hparam {
    const char *name;           /* in the route pattern, not NUL-ended */
    size_t name_len;
    const char *value;          /* decoded, NUL-ended, in the arena */
    size_t value_len;
};

struct hheader {
    const char *name;
    const char *value;
    struct hheader *next;
};

struct hreq {
    struct arena arena;         /* owns this struct: see request_free */
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method;         /* borrowed from libmicrohttpd */
    const char *path;

    struct hparam params[HTTP_PARAMS_MAX];
    unsigned nparams;

    char *body;                 /* malloc'd, body_len bytes used */
    size_t body_len;
    size_t body_cap;
    bool body_too_large;        /* the rest of the body is discarded */
    bool refuse_now;            /* answer 413 before reading the body */
    size_t body_seen;           /* bytes received, kept or not */

    bool responded;             /* a response is set */
    int status;
    const char *ctype;
    const void *resp;
    size_t resp_len;
    struct hheader *headers;

    struct timespec t0;         /* CLOCK_MONOTONIC at the first call */
    char ip[INET6_ADDRSTRLEN];

    bool handed_off;            /* suspended: answer on resume */
    bool may_defer;             /* dispatched on libmicrohttpd's thread */
    http_finish_fn finish;      /* http_defer's, run on resume */
    void *finish_arg;
    struct hreq *q_next;
};

/* The reply when a handler failed or memory ran out while building the
 * real one: static, so sending it cannot fail for lack of memory. */
static const char internal_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}";

static const char json_ctype[] = "application/json";

/* ---- small helpers ---------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_pct_decode(struct arena *a, const char *s, size_t n,
                      bool plus_is_space, size_t *outlen)
{
    char *out = arena_alloc(a, n + 1);
    size_t j = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] == '+' && plus_is_space) {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n &&
                   (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    if (outlen != NULL)
        *outlen = j;
    return out;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0.
 * Rejects overlong forms, surrogates and code points above U+10FFFF, as
 * jansson does. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

json_t *http_json_string(struct hreq *r, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, j = 0;
    char *out;

    while (i < len) {
        size_t k = utf8_seq(u + i, len - i);

        if (k == 0 || u[i] == 0)
            break;
        i += k;
    }
    if (i == len)
        return json_stringn(s, len);
    /* Slow path: at worst every byte becomes the four of "\xNN". */
    out = arena_alloc(&r->arena, len * 4 + 1);
    if (out == NULL)
        return NULL;
    for (i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);

        if (k == 0 || u[i] == 0) {
            static const char hex[] = "0123456789ABCDEF";

            out[j++] = '\\';
            out[j++] = 'x';
            out[j++] = hex[u[i] >> 4];
            out[j++] = hex[u[i] & 15];
            i++;
        } else {
            memcpy(out + j, u + i, k);
            j += k;
            i += k;
        }
    }
    return json_stringn(out, j);
}

/* ---- request accessors ------------------------------------------------ */

struct arena *http_arena(struct hreq *r) { return &r->arena; }
void *http_app(const struct hreq *r) { return r->srv->cfg.app; }
const char *http_method(const struct hreq *r) { return r->method; }
const char *http_path(const struct hreq *r) { return r->path; }

const char *http_remote_ip(struct hreq *r)
{
    const union MHD_ConnectionInfo *ci;

    if (r->ip[0] != '\0')
        return r->ip;
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        memcpy(r->ip, "-", 2);
    } else if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)ci->client_addr;

        inet_ntop(AF_INET, &sin->sin_addr, r->ip, sizeof(r->ip));
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)ci->client_addr;

        inet_ntop(AF_INET6, &sin6->sin6_addr, r->ip, sizeof(r->ip));
    } else {
        memcpy(r->ip, "-", 2);
    }
    return r->ip;
}

const char *http_header(const struct hreq *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct hreq *r, const char *name, size_t *len)
{
    const char *raw = NULL;
    size_t raw_len = 0;

    if (len != NULL)
        *len = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), &raw, &raw_len) != MHD_YES)
        return NULL;
    if (raw == NULL)
        return "";
    /* libmicrohttpd has already turned '+' into ' '; our unescape callback
     * left the %XX escapes for this. */
    return http_pct_decode(&r->arena, raw, raw_len, false, len);
}

int http_param_set(struct hreq *r, const char *name, size_t name_len,
                   const char *value, size_t value_len)
{
    struct hparam *p;

    if (r->nparams >= HTTP_PARAMS_MAX)
        return -1;
    p = &r->params[r->nparams];
    p->value = http_pct_decode(&r->arena, value, value_len, false,
                               &p->value_len);
    if (p->value == NULL)
        return -1;
    p->name = name;
    p->name_len = name_len;
    r->nparams++;
    return 0;
}

const char *http_param(const struct hreq *r, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (unsigned i = 0; i < r->nparams; i++) {
        const struct hparam *p = &r->params[i];

        if (p->name_len == n && memcmp(p->name, name, n) == 0) {
            if (len != NULL)
                *len = p->value_len;
            return p->value;
        }
    }
    if (len != NULL)
        *len = 0;
    return NULL;
}

const void *http_body(const struct hreq *r, size_t *len)
{
    *len = r->body_len;
    return r->body_len > 0 ? r->body : NULL;
}

static json_t *body_json(struct hreq *r, bool local)
{
    json_error_t jerr;
    json_t *j;

    if (r->body_len == 0) {
        http_error(r, 400, "bad_json", NULL, "request body is empty: "
                   "a JSON document was expected");
        return NULL;
    }
    j = local ? jsonmem_loadb(&r->arena, r->body, r->body_len, 0, &jerr)
              : json_loadb(r->body, r->body_len, 0, &jerr);
    if (j == NULL)
        http_error(r, 400, "bad_json", NULL,
                   "request body is not valid JSON: line %d, column %d: %s",
                   jerr.line, jerr.column, jerr.text);
    return j;
}

json_t *http_body_json(struct hreq *r) { return body_json(r, false); }
json_t *http_body_json_local(struct hreq *r) { return body_json(r, true); }

/* ---- responses --------------------------------------------------------- */

int http_raw(struct hreq *r, int status, const char *content_type,
             const void *data, size_t len)
{
    r->responded = true;
    r->status = status;
    r->ctype = content_type;
    r->resp = data;
    r->resp_len = len;
    return 0;
}

int http_json(struct hreq *r, int status, json_t *body)
{
    /* 1 KiB covers the decoded code (~400 bytes) and most single-object
     * replies in one piece; growing abandons the old copy in the arena. */
    struct jsonw w = {.a = &r->arena};

    if (body == NULL)
        return -1;
    w.p = arena_alloc(&r->arena, 1024);
    w.cap = w.p != NULL ? 1024 : 0;
    jsonw_value(&w, body, 0);
    json_decref(body);
    if (w.failed || w.p == NULL)
        return -1;
    return http_raw(r, status, json_ctype, w.p, w.len);
}

static int http_error_v(struct hreq *r, int status, const char *code,
                        const char *field, json_t *extra, const char *fmt,
                        va_list ap)
{
    json_t *err = NULL, *top = NULL;
    char *msg = arena_vsprintf(&r->arena, fmt, ap);
    int rc = -1;

    if (msg == NULL)
        goto out;
    err = json_object();
    top = json_object();
    if (err == NULL || top == NULL ||
        json_object_set_new(err, "code", json_string(code)) != 0 ||
        json_object_set_new(err, "message",
                            http_json_string(r, msg, strlen(msg))) != 0)
        goto out;
    if (field != NULL && json_object_set_new(err, "field",
                                             json_string(field)) != 0)
        goto out;
    if (extra != NULL && json_object_update(err, extra) != 0)
        goto out;
    if (json_object_set_new(top, "error", err) != 0) {
        err = NULL;             /* set_new consumed it even on failure */
        goto out;
    }
    err = NULL;
    rc = http_json(r, status, top);
    top = NULL;
out:
    json_decref(extra);
    json_decref(err);
    json_decref(top);
    return rc;
}

int http_error(struct hreq *r, int status, const char *code,
               const char *field, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = http_error_v(r, status, code, field, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int http_error_extra(struct hreq *r, int status, const char *code,
                     const char *field, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = http_error_v(r, status, code, field, extra, fmt, ap);
    va_end(ap);
    return rc;
}

int http_header_add(struct hreq *r, const char *name, const char *value)
{
    struct hheader *h = arena_alloc(&r->arena, sizeof(*h));

    if (h == NULL)
        return -1;
    h->name = arena_strdup(&r->arena, name);
    h->value = arena_strdup(&r->arena, value);
    if (h->name == NULL || h->value == NULL)
        return -1;
    h->next = r->headers;
    r->headers = h;
    return 0;
}

/* ---- logging ------------------------------------------------------------ */

/* Appends s to buf as a logfmt value: bare when it is made of safe
 * characters, otherwise quoted with \" \\ and \xNN escapes.  Truncates
 * quietly at the end of buf. */
static size_t logfmt_value(char *buf, size_t cap, size_t pos, const char *s,
                           size_t maxlen)
{
    bool bare = *s != '\0';
    size_t n = strnlen(s, maxlen);

    for (size_t i = 0; i < n && bare; i++) {
        unsigned char c = (unsigned char)s[i];

        bare = c > ' ' && c < 0x7F && c != '"' && c != '=' && c != '\\';
    }
    if (bare) {
        for (size_t i = 0; i < n && pos + 1 < cap; i++)
            buf[pos++] = s[i];
        return pos;
    }
    if (pos + 1 < cap)
        buf[pos++] = '"';
    for (size_t i = 0; i < n && pos + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < ' ' || c >= 0x7F) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\x%02X", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    if (pos + 1 < cap)
        buf[pos++] = '"';
    return pos;
}

/* "ts=2026-11-22T06:30:00.123Z " at buf; returns the length. */
static size_t log_ts(char *buf, size_t cap)
{
    struct timespec now;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(buf, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ ",
                          now.tv_nsec / 1000000);
    return n < cap ? n : cap - 1;
}

/* Writes one line with one write(2), so that lines from several threads
 * never interleave (stderr is unbuffered; pipes keep writes of up to
 * PIPE_BUF bytes whole). */
static void log_line(char *buf, size_t cap, size_t pos)
{
    if (pos >= cap)
        pos = cap - 1;
    buf[pos++] = '\n';
    if (write(STDERR_FILENO, buf, pos) < 0) {
        /* Nowhere left to report it. */
    }
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:     return NULL;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:       return "failed";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:  return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:  return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:       return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:     return "client_abort";
    }
    return "unknown";
}

static void log_request(struct hreq *r, enum MHD_RequestTerminationCode toe)
{
    /* PIPE_BUF (4096 on Linux) is the most one write keeps whole. */
    char buf[4096];
    size_t cap = sizeof(buf) - 1, pos;
    struct timespec t1;
    long long us;
    const char *why = termination_name(toe);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (t1.tv_sec - r->t0.tv_sec) * 1000000LL +
         (t1.tv_nsec - r->t0.tv_nsec) / 1000;
    pos = log_ts(buf, cap);
    pos += (size_t)snprintf(buf + pos, cap - pos, "method=");
    pos = logfmt_value(buf, cap, pos, r->method, 32);
    if (pos < cap)
        pos += (size_t)snprintf(buf + pos, cap - pos, " path=");
    /* Paths are capped so that the line stays one atomic write. */
    pos = logfmt_value(buf, cap, pos, r->path, 512);
    if (pos < cap)
        pos += (size_t)snprintf(buf + pos, cap - pos,
                                " status=%d bytes=%zu us=%lld ip=%s",
                                r->responded ? r->status : 0, r->resp_len, us,
                                http_remote_ip(r));
    if (why != NULL && pos < cap)
        pos += (size_t)snprintf(buf + pos, cap - pos, " error=%s", why);
    log_line(buf, cap, pos);
}

/* libmicrohttpd's own diagnostics, as logfmt lines. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512], buf[1024];
    size_t cap = sizeof(buf) - 1, pos, n;
    int k;

    (void)cls;
    k = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (k < 0)
        return;
    n = strnlen(msg, sizeof(msg));
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pos = log_ts(buf, cap);
    pos += (size_t)snprintf(buf + pos, cap - pos, "level=error msg=");
    pos = logfmt_value(buf, cap, pos, msg, sizeof(msg));
    log_line(buf, cap, pos);
}

/* ---- the libmicrohttpd callbacks --------------------------------------- */

static void request_free(struct hreq *r)
{
    struct arena a = r->arena;  /* r lives in the arena it names */

    /* A deferred request whose connection ended before its answer was
     * made (the client left, or the server stopped): its finish still
     * runs, since it releases what the work holds.  The wake has come:
     * libmicrohttpd ends a connection only once it is resumed. */
    if (r->finish != NULL)
        r->finish(r, r->finish_arg);
    free(r->body);
    arena_release(&a);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct hreq *r = *con_cls;

    bool big;

    (void)conn;
    if (r == NULL)
        return;
    if (!srv->cfg.quiet)
        log_request(r, toe);
    big = r->body_seen >= HTTP_TRIM_AFTER;
    request_free(r);
    *con_cls = NULL;
    /* A bulk body parses into tens of megabytes of small JSON nodes; once
     * they are freed, glibc keeps the memory in its heaps unless asked to
     * give it back, and the server's resident size would stay at its
     * largest request's. */
    if (big)
        malloc_trim(0);
}

/* Leaves the path and query values percent-encoded: see the file
 * comment.  Returns the (unchanged) length, as libmicrohttpd expects. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Hands the response set on r to libmicrohttpd. */
static enum MHD_Result queue(struct hreq *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!r->responded)
        http_raw(r, 500, json_ctype, internal_body, sizeof(internal_body) - 1);
    /* The bytes live in the arena or in static storage, both of which
     * outlast the response: the arena goes in on_completed, after the
     * response has been sent or abandoned. */
    resp = MHD_create_response_from_buffer(r->resp_len, (void *)r->resp,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (r->ctype != NULL &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->ctype) != MHD_YES)
        goto fail;
    for (const struct hheader *h = r->headers; h != NULL; h = h->next)
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
            goto fail;
    ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
fail:
    MHD_destroy_response(resp);
    return MHD_NO;
}

static void set_internal_error(struct hreq *r)
{
    r->headers = NULL;
    http_raw(r, 500, json_ctype, internal_body, sizeof(internal_body) - 1);
}

static void refuse_too_large(struct hreq *r)
{
    r->headers = NULL;
    if (http_error(r, 413, "body_too_large", NULL,
                   "request body is larger than %u bytes",
                   HTTP_BODY_MAX) != 0)
        set_internal_error(r);
}

/* First call: set up the request; refuse an announced oversize body. */
static struct hreq *request_new(struct http_server *srv,
                                struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    struct arena a;
    struct hreq *r;
    const char *cl;

    arena_init(&a);
    r = arena_calloc(&a, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->arena = a;
    r->srv = srv;
    r->conn = conn;
    r->method = method;
    r->path = url;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);

    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);

        if (n > HTTP_BODY_MAX) {
            const char *expect = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

            r->body_too_large = true;
            r->refuse_now = n > HTTP_BODY_DRAIN_MAX ||
                            (expect != NULL &&
                             strcasecmp(expect, "100-continue") == 0);
        } else if (n > 0 && end != cl) {
            r->body_cap = (size_t)n;    /* exact size, read into one buffer */
        }
    }
    return r;
}

/* Appends a chunk of body, or drops it once the limit is passed.
 * Returns -1 when the connection must be dropped: out of memory, or more
 * oversize body than HTTP_BODY_DRAIN_MAX. */
static int body_append(struct hreq *r, const char *data, size_t n)
{
    r->body_seen += n < SIZE_MAX - r->body_seen ? n : SIZE_MAX - r->body_seen;
    if (r->body_too_large)
        return r->body_seen > HTTP_BODY_DRAIN_MAX ? -1 : 0;
    if (n > HTTP_BODY_MAX - r->body_len) {
        r->body_too_large = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return 0;
    }
    if (r->body == NULL || r->body_cap - r->body_len < n) {
        size_t cap = r->body_cap > 0 ? r->body_cap : 16384;
        char *p;

        while (cap - r->body_len < n)
            cap *= 2;
        if (cap > HTTP_BODY_MAX)
            cap = HTTP_BODY_MAX;
        p = realloc(r->body, cap);
        if (p == NULL)
            return -1;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return 0;
}

/*
 * A handler that writes waits until its transaction is durable, and the
 * store commits together the writes that wait at the same time.  Run on
 * libmicrohttpd's threads, such handlers would block every other
 * connection of their thread and let a commit carry at most one write per
 * thread.  So a request with another method than GET or HEAD is suspended
 * and handed to a pool of workers; the worker runs the handler, and
 * resuming the connection brings it back to on_access, which sends the
 * response.  A request whose handler defers its wait instead
 * (http_config.defers) stays on this thread, marked so that http_defer
 * accepts it.  Returns true when r was handed off.
 */
static bool run_elsewhere(struct http_server *srv, struct hreq *r)
{
    bool queued = false;

    if (srv->nworkers == 0 || strcmp(r->method, "GET") == 0 ||
        strcmp(r->method, "HEAD") == 0)
        return false;
    if (srv->cfg.defers != NULL && srv->cfg.defers(r)) {
        r->may_defer = true;
        return false;
    }
    pthread_mutex_lock(&srv->q_mu);
    if (!srv->q_stop) {
        r->handed_off = true;
        MHD_suspend_connection(r->conn);
        r->q_next = NULL;
        if (srv->q_tail != NULL)
            srv->q_tail->q_next = r;
        else
            srv->q_head = r;
        srv->q_tail = r;
        queued = true;
    }
    pthread_mutex_unlock(&srv->q_mu);
    /* After unlocking, so that the worker does not wake to a held mutex. */
    if (queued)
        pthread_cond_signal(&srv->q_cv);
    return queued;
}

/*
 * Suspending the connection inside the access handler, before the work
 * is queued, is what makes the wake safe however soon it comes: resuming
 * only asks libmicrohttpd's thread to go back to the connection once the
 * handler has returned.  The count lets http_server_stop wait for every
 * deferred request, since libmicrohttpd must not stop with a connection
 * suspended.
 */
bool http_defer(struct hreq *r, http_finish_fn finish, void *arg)
{
    struct http_server *srv = r->srv;
    bool ok;

    if (!r->may_defer)
        return false;
    pthread_mutex_lock(&srv->q_mu);
    ok = !srv->q_stop;
    if (ok)
        srv->deferred++;
    pthread_mutex_unlock(&srv->q_mu);
    if (!ok)
        return false;
    r->finish = finish;
    r->finish_arg = arg;
    r->handed_off = true;
    MHD_suspend_connection(r->conn);
    return true;
}

void http_wake(struct hreq *r)
{
    struct http_server *srv = r->srv;

    /* r may be gone as soon as the connection resumes. */
    MHD_resume_connection(r->conn);
    pthread_mutex_lock(&srv->q_mu);
    if (--srv->deferred == 0 && srv->q_stop)
        pthread_cond_broadcast(&srv->idle_cv);
    pthread_mutex_unlock(&srv->q_mu);
}

static void *worker_main(void *arg)
{
    struct http_server *srv = arg;
    struct hreq *r;

    for (;;) {
        pthread_mutex_lock(&srv->q_mu);
        while (srv->q_head == NULL && !srv->q_stop)
            pthread_cond_wait(&srv->q_cv, &srv->q_mu);
        r = srv->q_head;
        if (r == NULL) {            /* stopping, and nothing left */
            pthread_mutex_unlock(&srv->q_mu);
            return NULL;
        }
        srv->q_head = r->q_next;
        if (srv->q_head == NULL)
            srv->q_tail = NULL;
        pthread_mutex_unlock(&srv->q_mu);
        if (srv->cfg.dispatch(r) != 0)
            set_internal_error(r);
        MHD_resume_connection(r->conn);
    }
}

/* Stops queueing and deferring, and waits for the workers to finish what
 * is queued and for every deferred request to be woken, so that no
 * connection is left suspended when the daemon stops. */
static void workers_stop(struct http_server *s)
{
    pthread_mutex_lock(&s->q_mu);
    s->q_stop = true;
    pthread_cond_broadcast(&s->q_cv);
    while (s->deferred > 0)
        pthread_cond_wait(&s->idle_cv, &s->q_mu);
    pthread_mutex_unlock(&s->q_mu);
    for (unsigned i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct hreq *r = *con_cls;

    (void)version;
    if (r == NULL) {
        r = request_new(srv, conn, url, method);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        if (r->refuse_now) {
            /* The one response queued on the first call: libmicrohttpd
             * then answers without reading the body and closes. */
            refuse_too_large(r);
            return queue(r);
        }
        return MHD_YES;
    }
    if (r->handed_off) {        /* resumed: the response is set, or */
        http_finish_fn finish = r->finish;

        r->finish = NULL;               /* ... finish sets it now */
        if (finish != NULL && finish(r, r->finish_arg) != 0)
            set_internal_error(r);
        return queue(r);
    }
    if (r->responded) {         /* the early 413; ignore any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (body_append(r, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The request is complete.  An oversize body not refused at once was
     * drained to here, since libmicrohttpd 0.9.75 cannot queue a response
     * in the middle of a body (see HTTP_BODY_DRAIN_MAX). */
    if (r->body_too_large)
        refuse_too_large(r);
    else if (run_elsewhere(srv, r))
        return MHD_YES;
    else if (srv->cfg.dispatch(r) != 0)
        set_internal_error(r);
    else if (r->handed_off)     /* http_defer: answered on resume */
        return MHD_YES;
    return queue(r);
}

/* ---- the server ----------------------------------------------------------- */

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

int http_server_start(struct http_server **out, const struct http_config *cfg,
                      char *errbuf, size_t errlen)
{
    struct http_server *s = NULL;
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct MHD_OptionItem pool[2];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    unsigned threads = cfg->threads;
    int rc;

    *out = NULL;
    if (cfg->port > 65535) {
        seterr(errbuf, errlen, "port %u is out of range", cfg->port);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(cfg->host, NULL, &hints, &ai);
    if (rc != 0) {
        seterr(errbuf, errlen, "cannot resolve '%s': %s", cfg->host,
               gai_strerror(rc));
        return -1;
    }
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    }
    freeaddrinfo(ai);

    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->host = strdup(cfg->host)) == NULL) {
        seterr(errbuf, errlen, "out of memory");
        goto fail;
    }
    s->cfg = *cfg;
    s->cfg.host = s->host;
    pthread_mutex_init(&s->q_mu, NULL);
    pthread_cond_init(&s->q_cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    {
        unsigned want = cfg->workers ? cfg->workers : HTTP_WORKERS;

        s->workers = calloc(want, sizeof(*s->workers));
        if (s->workers == NULL) {
            seterr(errbuf, errlen, "out of memory");
            goto fail;
        }
        for (; s->nworkers < want; s->nworkers++)
            if (pthread_create(&s->workers[s->nworkers], NULL, worker_main,
                               s) != 0) {
                seterr(errbuf, errlen, "cannot start worker threads");
                goto fail;
            }
    }
    if (s->cfg.idle_timeout_s == 0)
        s->cfg.idle_timeout_s = HTTP_IDLE_TIMEOUT_S;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        threads = (n > 0 ? (unsigned)n : 1) * HTTP_THREADS_PER_CPU;
    }
    s->cfg.threads = threads;

    /* One thread is libmicrohttpd's internal thread without a pool: it
     * warns about a pool size below 2, so the option is passed only for
     * a real pool. */
    pool[0].option = threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END;
    pool[0].value = (intptr_t)threads;
    pool[0].ptr_value = NULL;
    pool[1].option = MHD_OPTION_END;
    pool[1].value = 0;
    pool[1].ptr_value = NULL;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s,
        /* First, or libmicrohttpd logs the earlier options' errors its
         * own way. */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        seterr(errbuf, errlen, "cannot listen on %s:%u", cfg->host, cfg->port);
        goto fail;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : cfg->port;
    if (ss.ss_family == AF_INET6)
        snprintf(s->url, sizeof(s->url), "http://[%s]:%u", s->host, s->port);
    else
        snprintf(s->url, sizeof(s->url), "http://%s:%u", s->host, s->port);
    *out = s;
    return 0;
fail:
    if (s != NULL) {
        if (s->workers != NULL)
            workers_stop(s);
        free(s->host);
    }
    free(s);
    return -1;
}

unsigned http_server_port(const struct http_server *s) { return s->port; }
const char *http_server_url(const struct http_server *s) { return s->url; }

void http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    workers_stop(s);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->q_cv);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->q_mu);
    free(s->host);
    free(s);
}
