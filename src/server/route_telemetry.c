/*
 * server/route_telemetry.c - health telemetry (docs/telemetry.md,
 * docs/API.md "Telemetry"):
 *
 *   POST /v1/telemetry                 a batch of reports: a JSON array, an
 *                                      object {"reports":[...]}, or JSON
 *                                      Lines (Content-Type
 *                                      application/x-ndjson), at most
 *                                      CORE_TELEMETRY_BATCH_MAX
 *   GET  /v1/units/{code}/telemetry?metric=&from=&to=&step=
 *   GET  /v1/units/{code}/health
 *   GET  /v1/models/{model}/health     the fleet's distributions and outliers
 *   POST /v1/alert-rules               a maker or regulator sets a rule
 *   GET  /v1/alerts?state=&model=&unit=
 */
#include <string.h>

#include "server/routes.h"

/* The reports of a JSON Lines body: one object a line, blank lines
 * skipped; a bad line is refused with its number. */
static json_t *json_lines(struct hreq *r, const char *p, size_t len)
{
    json_t *l = json_array();
    size_t line = 0;

    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - p) : len;
        json_error_t je;
        json_t *o;

        line++;
        if (n > 0 && strspn(p, " \t\r") < n) {
            o = json_loadb(p, n, 0, &je);
            if (o == NULL) {
                json_decref(l);
                http_error(r, 400, "bad_json", NULL,
                           "line %zu: %s (column %d)", line, je.text,
                           je.column);
                return NULL;
            }
            json_array_append_new(l, o);
        }
        if (nl == NULL)
            break;
        len -= n + 1;
        p = nl + 1;
    }
    return l;
}

int route_telemetry_post(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    const char *ct = http_header(r, "Content-Type");
    json_t *body, *reports;
    size_t len;
    const void *raw = http_body(r, &len);
    bool lines = ct != NULL &&
                 (strncmp(ct, "application/x-ndjson", 20) == 0 ||
                  strncmp(ct, "application/jsonl", 17) == 0);
    bool handled;
    int rc;

    /* A well-formed batch is read without a JSON tree; any other body is
     * parsed below, which names what is wrong with it. */
    rc = core_telemetry_ingest_text(call->core, &call->who, raw, len, lines,
                                    http_arena(r), &reply, &err, &handled);
    if (handled)
        return route_reply(r, rc, &reply, &err);
    if (lines) {
        if ((body = json_lines(r, raw ? raw : "", len)) == NULL)
            return 0;
    } else if ((body = http_body_json(r)) == NULL) {
        return 0;
    }
    if (json_is_object(body) && json_object_get(body, "reports") != NULL)
        reports = json_incref(json_object_get(body, "reports"));
    else if (json_is_object(body))
        reports = json_pack("[O]", body);
    else
        reports = json_incref(body);
    json_decref(body);
    rc = core_telemetry_ingest(call->core, &call->who, reports, http_arena(r),
                               &reply, &err);
    json_decref(reports);
    return route_reply(r, rc, &reply, &err);
}

int route_telemetry_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_telemetry_series(call->core, &call->who, code, len,
                                   http_query(r, "metric", NULL),
                                   http_query(r, "from", NULL),
                                   http_query(r, "to", NULL),
                                   http_query(r, "step", NULL),
                                   http_arena(r), &out, &err);

    return route_read(r, rc, out, &err);
}

int route_health_unit(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_unit_health(call->core, &call->who, code, len,
                              http_arena(r), &out, &err);

    return route_read(r, rc, out, &err);
}

int route_alert_rules_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_alert_rule_create);
}

int route_alerts_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_alert_list(call->core, &call->who, http_query(r, "state", NULL),
                         http_query(r, "model", NULL),
                         http_query(r, "unit", NULL), &page, http_arena(r),
                         &out, &err);
    return route_read(r, rc, out, &err);
}

int route_health_model(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_model_health(call->core, &call->who,
                               http_param(r, "model", NULL), http_arena(r),
                               &out, &err);

    return route_read(r, rc, out, &err);
}
