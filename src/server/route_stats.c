/*
 * server/route_stats.c - market statistics (docs/API.md, "Statistics"),
 * for regulators and the admin (everything) and makers (their own, and
 * the market's anonymous totals):
 *
 *   GET /v1/stats/units?by=enterprise|model|state|region|level[,second]
 *   GET /v1/stats/registrations      registrations and releases a month
 *   GET /v1/stats/incidents          incidents per 1,000 units per model
 *   GET /v1/stats/recalls            recall completion
 */
#include "server/routes.h"

int route_stats_units(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_stats_units(call->core, &call->who,
                              http_query(r, "by", NULL), http_arena(r), &out,
                              &err);

    return route_read(r, rc, out, &err);
}

int route_stats_registrations(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_stats_months(call->core, &call->who, http_arena(r), &out,
                               &err);

    return route_read(r, rc, out, &err);
}

int route_stats_incidents(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_stats_incidents(call->core, &call->who, http_arena(r), &out,
                                  &err);

    return route_read(r, rc, out, &err);
}

int route_stats_recalls(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_stats_recalls(call->core, &call->who, http_arena(r), &out,
                                &err);

    return route_read(r, rc, out, &err);
}
