/*
 * server/route_models.c - product models (docs/API.md, "Enterprises and
 * models"):
 *
 *   POST /v1/enterprises/{ent}/models   the maker (or admin) files one
 *   GET  /v1/enterprises/{ent}/models   public, paginated
 *   GET  /v1/models/{model}             public; the filing record only
 *                                       for the maker and regulators
 *   POST /v1/models/{model}/status      approve (regulator) or withdraw
 *                                       (regulator or the maker)
 */
#include "server/routes.h"

int route_models_post(struct hreq *r, const struct route_call *call)
{
    struct core_idem idem;
    struct core_reply reply;
    struct core_err err = {0};
    json_t *body;
    int rc;

    if (route_idem(r, &idem) != 0)
        return 0;
    if ((body = http_body_json(r)) == NULL)
        return 0;
    rc = core_model_file(call->core, &call->who, http_param(r, "ent", NULL),
                         body, &idem, http_arena(r), &reply, &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}

int route_models_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_model_list(call->core, &call->who, http_param(r, "ent", NULL),
                         &page, http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}

int route_models_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    rc = core_model_get(call->core, &call->who, http_param(r, "model", NULL),
                        http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}

int route_models_status(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    json_t *body;
    int rc;

    /* A status change creates nothing and repeating it is refused
     * (already withdrawn), so it takes no Idempotency-Key. */
    if ((body = http_body_json(r)) == NULL)
        return 0;
    rc = core_model_set_status(call->core, &call->who,
                               http_param(r, "model", NULL), body,
                               http_arena(r), &reply, &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}
