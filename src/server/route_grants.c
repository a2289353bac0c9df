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
    return route_create_on_unit(r, call, core_grant_create);
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
