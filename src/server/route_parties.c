/*
 * server/route_parties.c - parties other than manufacturers (docs/API.md,
 * "Parties and keys"): regulators, sellers, owners, service providers,
 * recyclers and certifiers.
 *
 *   POST /v1/parties          admin
 *   GET  /v1/parties?kind=    admin, regulator (paginated)
 *   GET  /v1/parties/{id}     admin, regulator, or the party itself
 */
#include "server/routes.h"

int route_parties_post(struct hreq *r, const struct route_call *call)
{
    return route_create(r, call, core_party_create);
}

int route_parties_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_party_list(call->core, &call->who, http_query(r, "kind", NULL),
                         &page, http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}

int route_parties_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *id = http_param(r, "id", &len);
    int64_t v = route_id(id, len);
    int rc;

    if (v == 0)
        return http_error(r, 404, "not_found", NULL, "no party '%.32s'", id);
    rc = core_party_get(call->core, &call->who, v, http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
