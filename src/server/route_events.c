/*
 * server/route_events.c - a unit's lifecycle history (docs/API.md,
 * "Lifecycle events"):
 *
 *   POST /v1/units/{code}/events    records one event; core runs the
 *                                   state machine and the custody rules
 *   GET  /v1/units/{code}/events    pages the history, oldest first, with
 *                                   bodies as the caller's view allows
 */
#include "server/routes.h"

int route_events_post(struct hreq *r, const struct route_call *call)
{
    return route_create_on_unit(r, call, core_event_add);
}

int route_events_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_event_list(call->core, &call->who, code, len, &page,
                         http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
