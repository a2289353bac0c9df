/*
 * server/route_health.c - GET /healthz: liveness for load balancers and
 * orchestrators.  It touches nothing but the process itself, so it
 * answers as long as the HTTP threads do.
 */
#include "server/routes.h"

int route_health_get(struct hreq *r, const struct route_call *call)
{
    (void)call;
    return http_json(r, 200, json_pack("{s:s, s:s}", "status", "ok",
                                       "version", HRID_VERSION));
}
