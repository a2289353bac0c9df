/*
 * server/route_enterprises.c - manufacturers (docs/API.md, "Enterprises
 * and models"):
 *
 *   POST /v1/enterprises         admin enrols one; the platform assigns
 *                                its 4-character code
 *   GET  /v1/enterprises/{ent}   public; private info for admin,
 *                                regulators and the enterprise itself
 */
#include "server/routes.h"

int route_enterprises_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_enterprise_enrol);
}

int route_enterprises_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    rc = core_enterprise_get(call->core, &call->who, http_param(r, "ent", NULL),
                             http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
