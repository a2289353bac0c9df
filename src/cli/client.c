/*
 * client.c - the HTTP client of hrid's online commands (client.h), over
 * libcurl's easy interface.
 *
 * The easy handle is created once and reused: libcurl keeps the
 * connection open between requests on the same handle, which is what
 * makes an import of 28,000 units or a walk over 100 pages cost one TCP
 * handshake.  Options that differ between requests (method, body,
 * headers) are set on every request; the rest once.
 *
 * The reply body is collected into one growing buffer capped at
 * CLIENT_REPLY_MAX; the buffer is kept across requests, so a long import
 * allocates it once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/client.h"

#ifndef HRID_VERSION
#define HRID_VERSION "unknown"
#endif

/* How long to wait for a TCP (and TLS) connection.  Ten seconds is long
 * for a registry on the same network and short enough that a wrong
 * --server fails before the user gives up. */
#define CONNECT_TIMEOUT_S 10L

/* A request is abandoned when no byte moves for this long.  A bulk of
 * 10,000 units is one write transaction on the server and may keep the
 * connection silent for a while; five minutes is far beyond what the
 * largest bulk takes on one small machine, and still ends a hung server. */
#define STALL_TIMEOUT_S 300L

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = size * n;
    size_t cap;
    char *p;

    if (len > CLIENT_REPLY_MAX - c->len) {
        c->too_large = 1;
        return 0;           /* makes libcurl fail with a write error */
    }
    if (c->len + len + 1 > c->cap) {
        cap = c->cap != 0 ? c->cap : 16384;
        while (cap < c->len + len + 1)
            cap *= 2;
        p = realloc(c->body, cap);
        if (p == NULL)
            return 0;
        c->body = p;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, len);
    c->len += len;
    c->body[c->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = size * n;
    static const char name[] = "idempotent-replay:";
    size_t i = sizeof name - 1;

    if (len > i && strncasecmp(data, name, i) == 0) {
        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        if (len - i >= 4 && strncasecmp(data + i, "true", 4) == 0)
            c->replayed = 1;
    }
    return len;
}

int client_open(struct client *c, const struct cli_global *g)
{
    const char *server = g->server, *key = g->key;
    size_t n;

    memset(c, 0, sizeof *c);
    if (server == NULL)
        server = getenv("HRID_SERVER");
    if (server == NULL || *server == '\0')
        server = CLI_DEFAULT_SERVER;
    if (key == NULL)
        key = getenv("HRID_KEY");
    if (strncmp(server, "http://", 7) != 0 &&
        strncmp(server, "https://", 8) != 0) {
        fprintf(stderr, "error: server '%s' is not an http:// or https:// "
                "URL\n", server);
        return CLI_USAGE;
    }
    if (key != NULL && *key != '\0' &&
        strpbrk(key, " \t\r\n") != NULL) {
        fprintf(stderr, "error: the API key contains white space\n");
        return CLI_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_error("cannot initialise libcurl");
    c->base = strdup(server);
    if (c->base == NULL)
        goto oom;
    n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    if (key != NULL && *key != '\0') {
        n = strlen(key) + sizeof "Authorization: Bearer ";
        c->auth = malloc(n);
        if (c->auth == NULL)
            goto oom;
        snprintf(c->auth, n, "Authorization: Bearer %s", key);
    }
    c->curl = curl_easy_init();
    if (c->curl == NULL)
        goto oom;
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "hrid/" HRID_VERSION);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
    /* Only the server's own scheme: a redirect is never followed, so a
     * key is never sent anywhere but --server. */
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    return CLI_OK;
oom:
    client_close(c);
    return cli_error("out of memory");
}

void client_close(struct client *c)
{
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    if (c->auth != NULL) {
        /* The key is a secret: leave no copy of it in freed memory. */
        memset(c->auth, 0, strlen(c->auth));
        free(c->auth);
    }
    free(c->base);
    free(c->body);
    memset(c, 0, sizeof *c);
}

int client_send(struct client *c, const char *method, const char *path,
                const char *body, size_t len, const char *idem_key)
{
    struct curl_slist *h = NULL, *t;
    char url[CLIENT_PATH_MAX + 512];
    char idem[160];
    CURLcode rc;
    int out = CLI_CONN;

    c->status = 0;
    c->len = 0;
    c->replayed = 0;
    c->too_large = 0;
    c->errbuf[0] = '\0';
    if (c->body == NULL) {
        /* Allocated once: every reply, even an empty one, leaves a
         * NUL-terminated body. */
        c->body = malloc(16384);
        if (c->body == NULL)
            goto oom;
        c->cap = 16384;
    }
    c->body[0] = '\0';
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->base, path) >=
        sizeof url) {
        snprintf(c->errbuf, sizeof c->errbuf, "the request URL is too long");
        return CLI_CONN;
    }

#define ADD(s) do {                      \
        t = curl_slist_append(h, (s));    \
        if (t == NULL)                    \
            goto oom;                     \
        h = t;                            \
    } while (0)
    ADD("Accept: application/json");
    /* No "Expect: 100-continue" round trip before large bodies: the
     * server answers a refused request anyway, at the same cost. */
    ADD("Expect:");
    if (c->auth != NULL)
        ADD(c->auth);
    if (body != NULL)
        ADD("Content-Type: application/json");
    if (idem_key != NULL) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", idem_key);
        ADD(idem);
    }
#undef ADD

    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body != NULL ? len : 0));
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "POST") == 0 ? NULL : method);
    }
    rc = curl_easy_perform(c->curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
        out = CLI_OK;
    } else if (c->too_large) {
        snprintf(c->errbuf, sizeof c->errbuf,
                 "the reply is larger than %u MiB", CLIENT_REPLY_MAX >> 20);
    } else if (c->errbuf[0] == '\0') {
        snprintf(c->errbuf, sizeof c->errbuf, "%s", curl_easy_strerror(rc));
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return out;
oom:
    curl_slist_free_all(h);
    snprintf(c->errbuf, sizeof c->errbuf, "out of memory");
    return CLI_CONN;
}

json_t *client_reply_json(const struct client *c)
{
    if (c->body == NULL || c->len == 0)
        return NULL;
    return json_loadb(c->body, c->len, JSON_DECODE_ANY, NULL);
}

int client_error_parts(const json_t *reply, const char **code,
                       const char **message, const char **field)
{
    const json_t *e = json_object_get(reply, "error");

    *code = *message = *field = NULL;
    if (!json_is_object(e))
        return -1;
    *code = json_string_value(json_object_get(e, "code"));
    *message = json_string_value(json_object_get(e, "message"));
    *field = json_string_value(json_object_get(e, "field"));
    return *code != NULL || *message != NULL ? 0 : -1;
}

int client_report(const struct client *c)
{
    const char *code, *message, *field;
    json_t *reply;

    if (c->status == 0) {
        fprintf(stderr, "error: cannot reach %s: %s\n", c->base, c->errbuf);
        return CLI_CONN;
    }
    reply = client_reply_json(c);
    if (reply == NULL || client_error_parts(reply, &code, &message,
                                            &field) != 0) {
        fprintf(stderr, "error: %s answered HTTP %ld, not an API reply",
                c->base, c->status);
        if (c->len > 0 && reply == NULL)
            fprintf(stderr, ": %.*s%s", c->len > 120 ? 120 : (int)c->len,
                    c->body, c->len > 120 ? "..." : "");
        fputc('\n', stderr);
        json_decref(reply);
        return CLI_CONN;
    }
    if (message == NULL)
        message = code;
    /* The server's messages usually name the field already ("units[3].
     * serial: must be ..."); repeating it would only add noise. */
    if (field != NULL && *field != '\0' && strstr(message, field) == NULL)
        fprintf(stderr, "error: %s (field: %s)\n", message, field);
    else
        fprintf(stderr, "error: %s\n", message);
    if (c->status == 401 && c->auth == NULL)
        fputs("hint: give an API key with --key or $HRID_KEY\n", stderr);
    json_decref(reply);
    return CLI_FAIL;
}

int client_call(struct client *c, const char *method, const char *path,
                const json_t *body, json_t **reply)
{
    char *text = NULL;
    int rc;

    *reply = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL)
            return cli_error("out of memory");
    }
    rc = client_send(c, method, path, text, text != NULL ? strlen(text) : 0,
                     NULL);
    free(text);
    if (rc != CLI_OK || c->status < 200 || c->status > 299)
        return client_report(c);
    *reply = c->len == 0 ? json_null() : client_reply_json(c);
    if (*reply == NULL) {
        fprintf(stderr, "error: %s answered HTTP %ld with a body that is "
                "not JSON\n", c->base, c->status);
        return CLI_CONN;
    }
    return CLI_OK;
}

/* Appends s to out, percent-encoding every byte outside RFC 3986's
 * unreserved set when escape is set. */
static int append(char *out, size_t size, size_t *n, const char *s,
                  int escape)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = !escape || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '.' || ch == '_' || ch == '~';

        if (*n + (plain ? 1 : 3) >= size)
            return -1;
        if (plain) {
            out[(*n)++] = (char)ch;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        }
    }
    out[*n] = '\0';
    return 0;
}

int client_pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    size_t n = 0;
    char one[2] = {0, 0};
    int rc = 0;

    if (size == 0)
        return -1;
    out[0] = '\0';
    va_start(ap, fmt);
    for (; *fmt != '\0' && rc == 0; fmt++) {
        if (fmt[0] == '%' && (fmt[1] == 's' || fmt[1] == 'S')) {
            rc = append(out, size, &n, va_arg(ap, const char *),
                        fmt[1] == 's');
            fmt++;
            continue;
        }
        if (fmt[0] == '%' && fmt[1] == '%')
            fmt++;
        one[0] = *fmt;
        rc = append(out, size, &n, one, 0);
    }
    va_end(ap);
    return rc;
}

int client_query_add(char *out, size_t size, const char *name,
                     const char *value)
{
    size_t n = strlen(out);

    if (value == NULL)
        return 0;
    if (append(out, size, &n, strchr(out, '?') != NULL ? "&" : "?", 0) != 0 ||
        append(out, size, &n, name, 0) != 0 ||
        append(out, size, &n, "=", 0) != 0 ||
        append(out, size, &n, value, 1) != 0)
        return -1;
    return 0;
}
