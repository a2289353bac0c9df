/*
 * server/route_accountability.c - certifications, recalls and the
 * market-access gate (docs/API.md, "Certifications", "Recalls",
 * "Market access"):
 *
 *   POST /v1/certifications                 a certifier or regulator
 *   GET  /v1/certifications?model=          a model's (public)
 *   POST /v1/certifications/{id}/revoke     its issuer or a regulator
 *   GET  /v1/units/{code}/certifications    a unit's and its model's
 *   POST /v1/recalls                        a maker, or a regulator for one
 *   GET  /v1/recalls/{id}                   the campaign (public)
 *   GET  /v1/recalls/{id}/units?state=      its units (maker, regulators)
 *   POST /v1/recalls/{id}/suspend           a regulator suspends them all
 *   POST /v1/recalls/{id}/close             its maker or a regulator
 *   GET  /v1/units/{code}/as-of?t=          the unit as it stood at t
 *   GET  /v1/market-access/{code}           allowed or denied, and why
 *   POST /v1/zones                          a zone (GeoJSON polygon)
 *   POST /v1/units/{code}/fence             a unit's permission profile
 *   GET  /v1/fence-violations?state=        the violations (regulators)
 */
#include "server/routes.h"

/* The {id} of the path, or 0 after a 404 was set. */
static int64_t path_id(struct hreq *r, const char *what)
{
    size_t len;
    const char *s = http_param(r, "id", &len);
    int64_t id = route_id(s, len);

    if (id == 0)
        http_error(r, 404, "not_found", NULL, "no %s '%.32s'", what, s);
    return id;
}

int route_certs_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_cert_create);
}

int route_certs_list(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    const char *model = http_query(r, "model", NULL);
    int rc;

    if (model == NULL)
        return http_error(r, 422, "missing_field", "model",
                          "query argument 'model' is required (a 12-character "
                          "model id)");
    rc = core_cert_list(call->core, model, NULL, 0, http_arena(r), &out,
                        &err);
    return route_read(r, rc, out, &err);
}

int route_certs_revoke(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    int64_t id = path_id(r, "certification");

    if (id == 0)
        return 0;
    return route_reply(r, core_cert_revoke(call->core, &call->who, id,
                                           http_arena(r), &reply, &err),
                       &reply, &err);
}

int route_unit_certs(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_cert_list(call->core, NULL, code, len, http_arena(r), &out,
                            &err);

    return route_read(r, rc, out, &err);
}

int route_recalls_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_recall_create);
}

int route_recalls_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int64_t id = path_id(r, "recall");
    int rc;

    if (id == 0)
        return 0;
    rc = core_recall_get(call->core, &call->who, id, http_arena(r), &out,
                         &err);
    return route_read(r, rc, out, &err);
}

int route_recalls_units(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int64_t id = path_id(r, "recall");
    int rc;

    if (id == 0 || route_page(r, &page) != 0)
        return 0;
    /* out is read only after the call (argument order is unspecified). */
    rc = core_recall_units(call->core, &call->who, id,
                           http_query(r, "state", NULL), &page, http_arena(r),
                           &out, &err);
    return route_read(r, rc, out, &err);
}

int route_recalls_suspend(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    int64_t id = path_id(r, "recall");

    if (id == 0)
        return 0;
    return route_reply(r, core_recall_suspend(call->core, &call->who, id,
                                              http_arena(r), &reply, &err),
                       &reply, &err);
}

int route_recalls_close(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    int64_t id = path_id(r, "recall");

    if (id == 0)
        return 0;
    return route_reply(r, core_recall_close(call->core, &call->who, id,
                                            http_arena(r), &reply, &err),
                       &reply, &err);
}

int route_unit_asof(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_unit_asof(call->core, &call->who, code, len,
                            http_query(r, "t", NULL), http_arena(r), &out,
                            &err);

    return route_read(r, rc, out, &err);
}

int route_market_access(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);

    int rc = core_market_access(call->core, code, len, http_arena(r), &out,
                                &err);

    return route_read(r, rc, out, &err);
}

int route_zones_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_zone_create);
}

int route_fence_post(struct hreq *r, const struct route_call *call)
{
    return route_create_on_unit(r, call, core_fence_set);
}

int route_violations_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_violation_list(call->core, &call->who,
                             http_query(r, "state", NULL), &page,
                             http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
