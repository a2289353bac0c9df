/*
 * server/route_units.c - units (docs/API.md, "Units"):
 *
 *   POST /v1/units                  a manufacturer registers one unit, or
 *                                   up to CORE_BULK_MAX ({"units":[...]},
 *                                   all-or-nothing)
 *   GET  /v1/units?state=&model=    the units the caller may list, in its
 *                                   view, paginated
 *   GET  /v1/units/{code}           one unit, in the caller's view
 *
 * Codes in paths are passed to core as typed (forgiving input); core
 * canonicalises them and refuses bad ones with invalid_code.
 */
#include "server/routes.h"

/* The body goes to core as text: a bulk is read one unit at a time. */
int route_units_post(struct hreq *r, const struct route_call *call)
{
    struct core_idem idem;
    struct core_reply reply;
    struct core_err err = {0};
    const void *body;
    size_t len;
    int rc;

    if (route_idem(r, &idem) != 0)
        return 0;
    body = http_body(r, &len);
    rc = core_units_register_text(call->core, &call->who, body, len, &idem,
                                  http_arena(r), &reply, &err);
    return route_reply(r, rc, &reply, &err);
}

int route_units_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    const char *out;
    size_t out_len;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_unit_list(call->core, &call->who, http_query(r, "state", NULL),
                        http_query(r, "model", NULL), &page, http_arena(r),
                        &out, &out_len, &err);
    return route_read_text(r, rc, out, out_len, &err);
}

int route_units_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    const char *out;
    size_t len, out_len;
    const char *code = http_param(r, "code", &len);
    int rc;

    rc = core_unit_get_text(call->core, &call->who, code, len, http_arena(r),
                            &out, &out_len, &err);
    return route_read_text(r, rc, out, out_len, &err);
}
