/*
 * server/route_health.c - the node itself:
 *
 *   GET /         what this server is and the endpoints it serves, read
 *                 from the route table (the URL `make run` prints)
 *   GET /healthz  liveness for load balancers and orchestrators; it
 *                 touches nothing but the process, so it answers as long
 *                 as the HTTP threads do
 */
#include <stdio.h>

#include "server/routes.h"

int route_health_get(struct hreq *r, const struct route_call *call)
{
    (void)call;
    return http_json(r, 200, json_pack("{s:s, s:s}", "status", "ok",
                                       "version", HRID_VERSION));
}

int route_root_get(struct hreq *r, const struct route_call *call)
{
    json_t *eps = json_array();

    (void)call;
    for (size_t i = 0; i < routes_count; i++) {
        char line[128];

        snprintf(line, sizeof line, "%s %s", routes[i].method,
                 routes[i].pattern);
        json_array_append_new(eps, json_string(line));
    }
    return http_json(r, 200,
                     json_pack("{s:s, s:s, s:s, s:o}", "name",
                               "HRID humanoid robot identity registry",
                               "version", HRID_VERSION, "api",
                               "docs/API.md in the source tree; keys in "
                               "'Authorization: Bearer <key>'",
                               "endpoints", eps));
}
