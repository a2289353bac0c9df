/*
 * server/route_grants.c - service and recycling grants on a unit
 * (docs/API.md, "Lifecycle events"):
 *
 *   POST /v1/units/{code}/grants    the custodian grants a service
 *                                   provider or recycler, for a window
 *   GET  /v1/units/{code}/grants    custodian, regulator
 */
#include "server/routes.h"

int route_grants_post(struct hreq *r, const struct route_call *call)
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
    rc = core_grant_create(call->core, &call->who, code, len, body, &idem,
                           http_arena(r), &reply, &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}

int route_grants_list(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc;

    rc = core_grant_list(call->core, &call->who, code, len, http_arena(r),
                         &out, &err);
    return route_read(r, rc, out, &err);
}
