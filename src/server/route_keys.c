/*
 * server/route_keys.c - API keys (docs/API.md, "Parties and keys"), all
 * admin only:
 *
 *   POST   /v1/keys            issues a key; the secret is in this reply
 *                              only, so there is no idempotent replay
 *   GET    /v1/keys?party=     lists keys without their secrets
 *   DELETE /v1/keys/{key_id}   revokes a key
 */
#include "server/routes.h"

int route_keys_post(struct hreq *r, const struct route_call *call)
{
    struct core_idem idem;
    struct core_reply reply;
    struct core_err err = {0};
    json_t *body;
    int rc;

    /* The header is checked like on every creating POST, but core keeps
     * no reply to replay: it would hold the secret (see core_key_create). */
    if (route_idem(r, &idem) != 0)
        return 0;
    if ((body = http_body_json(r)) == NULL)
        return 0;
    rc = core_key_create(call->core, &call->who, body, http_arena(r), &reply,
                         &err);
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}

int route_keys_list(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *party = http_query(r, "party", &len);
    int64_t id = 0;
    int rc;

    /* Without ?party= the admin lists every key. */
    if (party != NULL && (id = route_id(party, len)) == 0)
        return http_error(r, 422, "invalid_field", "party",
                          "party: expected a party id");
    rc = core_key_list(call->core, &call->who, id, http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}

int route_keys_delete(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_err err = {0};
    int rc;

    rc = core_key_revoke(call->core, &call->who, http_param(r, "key_id", NULL),
                         http_arena(r), &reply, &err);
    return route_reply(r, rc, &reply, &err);
}
