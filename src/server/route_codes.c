/*
 * server/route_codes.c - GET /v1/codes/{code}: decodes an identity code
 * (DESIGN §2) without looking anything up.  It tells a client whether a
 * code is well formed and what its segments say; whether the unit is
 * registered is GET /v1/units/{code}.
 *
 * The code is taken as typed (forgiving input: lower case, hyphens,
 * spaces as %20), so a client can pass a scanned or hand-typed code
 * straight through.
 */
#include <stdio.h>

#include "core/codejson.h"
#include "hrid/code.h"
#include "server/routes.h"

int route_codes_get(struct hreq *r, const struct route_call *call)
{
    struct hrid_code_parts parts;
    struct hrid_err herr;
    struct core_err err = {0};
    size_t len;
    const char *in = http_param(r, "code", &len);

    (void)call;
    hrid_err_clear(&herr);
    if (hrid_code_decode(in, len, &parts, &herr) == HRID_OK)
        return http_json(r, 200, core_code_json(&parts));
    /* The message is the library's, quoted as is; the error table adds
     * position and reason, so that a client can highlight the character
     * without parsing the message. */
    core_fail(&err, CORE_EINVALID, "invalid_code", "code", "%s", herr.msg);
    err.pos = herr.pos;
    err.reason = herr.reason;
    return route_core_error(r, &err);
}
