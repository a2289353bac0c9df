/*
 * server/errors.c - the one table from core statuses to HTTP statuses,
 * and the error bodies of DESIGN §7 (routes.h).
 *
 * Core says why it refused (enum core_status, plus a finer code such as
 * "unit_scrapped" and the field concerned); this file alone decides what
 * that means in HTTP.  A new status is one row here.
 *
 * Internal errors are the exception to "say what failed": their message
 * comes from the store (file names, SQL errors) and goes to the operator's
 * log, while the client gets a generic message.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hrid/code.h"
#include "server/routes.h"

static const struct {
    int core_status;
    int http_status;
} status_table[] = {
    { CORE_EBADREQ,    400 },
    { CORE_EUNAUTH,    401 },
    { CORE_EFORBIDDEN, 403 },
    { CORE_ENOTFOUND,  404 },
    { CORE_ECONFLICT,  409 },
    { CORE_ETOOLARGE,  413 },
    { CORE_EINVALID,   422 },
    { CORE_EINTERNAL,  500 },
};

int route_http_status(int core_status)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
        if (status_table[i].core_status == core_status)
            return status_table[i].http_status;
    return 500;
}

/* One line on stderr, written with one write(2) so that lines of several
 * threads never interleave, in the logfmt shape of the request log. */
static void log_internal(struct hreq *r, const char *msg)
{
    char buf[1024];
    struct timespec now;
    struct tm tm;
    size_t n;
    int k;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(buf, sizeof(buf), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(buf + n, sizeof(buf) - n,
                 ".%03ldZ level=error method=%s path=\"%.300s\" msg=\"",
                 now.tv_nsec / 1000000, http_method(r), http_path(r));
    if (k < 0)
        return;
    n += (size_t)k < sizeof(buf) - n ? (size_t)k : sizeof(buf) - n - 1;
    /* The message is core's, but may quote client input: keep the line a
     * line. */
    for (const char *p = msg; *p != '\0' && n + 3 < sizeof(buf); p++)
        buf[n++] = (*p == '"' || *p == '\n' || *p == '\r') ? '\'' : *p;
    buf[n++] = '"';
    buf[n++] = '\n';
    if (write(STDERR_FILENO, buf, n) < 0) {
        /* Nowhere left to report it. */
    }
}

int route_core_error(struct hreq *r, const struct core_err *err)
{
    int status = route_http_status(err->status);
    const char *code = err->code != NULL ? err->code : "internal";
    const char *field = err->field[0] != '\0' ? err->field : NULL;
    json_t *extra = NULL;

    if (status == 500) {
        log_internal(r, err->status == CORE_OK ? "error reported as ok"
                                               : err->msg);
        return http_error(r, 500, "internal", NULL, "internal error");
    }
    if (status == 401 &&
        http_header_add(r, "WWW-Authenticate", "Bearer realm=\"hrid\"") != 0)
        return -1;
    if (strcmp(code, "invalid_code") == 0) {
        const char *reason = hrid_code_reason_name(err->reason);

        extra = json_object();
        if (extra == NULL ||
            (err->pos > 0 &&
             json_object_set_new(extra, "position",
                                 json_integer(err->pos)) != 0) ||
            (reason != NULL &&
             json_object_set_new(extra, "reason", json_string(reason)) != 0)) {
            json_decref(extra);
            return -1;
        }
    }
    return http_error_extra(r, status, code, field, extra, "%s", err->msg);
}

int route_reply(struct hreq *r, int rc, struct core_reply *reply,
                const struct core_err *err)
{
    json_t *body = reply->body;

    reply->body = NULL;
    if (rc != CORE_OK) {
        json_decref(body);
        return route_core_error(r, err);
    }
    if (reply->replayed &&
        http_header_add(r, "Idempotent-Replay", "true") != 0) {
        json_decref(body);
        return -1;
    }
    if (body == NULL && reply->text != NULL)
        return http_raw(r, reply->http_status != 0 ? reply->http_status : 200,
                        "application/json", reply->text, reply->text_len);
    return http_json(r, reply->http_status != 0 ? reply->http_status : 200,
                     body);
}

int route_read(struct hreq *r, int rc, json_t *body,
               const struct core_err *err)
{
    if (rc != CORE_OK) {
        json_decref(body);
        return route_core_error(r, err);
    }
    return http_json(r, 200, body);
}

int route_read_text(struct hreq *r, int rc, const char *text, size_t len,
                    const struct core_err *err)
{
    if (rc != CORE_OK)
        return route_core_error(r, err);
    return http_raw(r, 200, "application/json", text, len);
}

int route_create(struct hreq *r, const struct route_call *call,
                 route_create_fn create)
{
    struct core_idem idem;
    struct core_reply reply;
    struct core_err err = {0};
    json_t *body;
    int rc;

    if (route_idem(r, &idem) != 0)
        return 0;
    body = http_body_json(r);
    if (body == NULL)
        return 0;
    rc = create(call->core, &call->who, body, &idem, http_arena(r), &reply,
                &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}

int route_create_on_unit(struct hreq *r, const struct route_call *call,
                         route_unit_fn create)
{
    struct core_idem idem;
    struct core_reply reply;
    struct core_err err = {0};
    json_t *body;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc;

    if (route_idem(r, &idem) != 0)
        return 0;
    if ((body = http_body_json(r)) == NULL)
        return 0;
    rc = create(call->core, &call->who, code, len, body, &idem, http_arena(r),
                &reply, &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}
