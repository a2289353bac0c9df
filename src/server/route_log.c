/*
 * server/route_log.c - the public log (docs/ledger.md, docs/API.md "Log"):
 *
 *   GET /v1/log/key                            the log's verifier key
 *   GET /v1/log/checkpoint                     the last signed checkpoint
 *                                              (text/plain, C2SP signed note)
 *   GET /v1/log/proof/inclusion?leaf=N&size=S  leaf N is in the tree of S
 *   GET /v1/log/proof/consistency?from=A&to=B  the tree of A is a prefix
 *                                              of the tree of B
 *
 * All public: anyone may check the registry's history.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* A required query argument that is a decimal integer >= 0 (no sign, no
 * leading zero).  Returns 0, or -1 once the request is answered. */
static int query_u64(struct hreq *r, const char *name, uint64_t *out)
{
    const char *s = http_query(r, name, NULL);
    char *end;

    if (s == NULL) {
        http_error(r, 422, "missing_field", name,
                   "query argument '%s' is required", name);
        return -1;
    }
    errno = 0;
    *out = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
        (s[0] == '0' && s[1] != '\0')) {
        http_error(r, 422, "invalid_field", name,
                   "%s: '%.32s' is not a whole number from 0", name, s);
        return -1;
    }
    return 0;
}

int route_log_key(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    int rc = core_log_key(call->core, &out, &err);

    return route_read(r, rc, out, &err);
}

int route_log_checkpoint(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    const char *note = NULL;
    int rc = core_log_checkpoint(call->core, http_arena(r), &note, &err);

    if (rc != CORE_OK)
        return route_core_error(r, &err);
    /* A checkpoint is replaced within a second while the log grows. */
    if (http_header_add(r, "Cache-Control", "no-cache") != 0)
        return -1;
    return http_raw(r, 200, "text/plain; charset=utf-8", note, strlen(note));
}

int route_log_inclusion(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    uint64_t leaf, size;
    int rc;

    if (query_u64(r, "leaf", &leaf) != 0 || query_u64(r, "size", &size) != 0)
        return 0;
    rc = core_log_inclusion(call->core, leaf, size, &out, &err);
    return route_read(r, rc, out, &err);
}

int route_log_consistency(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    uint64_t from, to;
    int rc;

    if (query_u64(r, "from", &from) != 0 || query_u64(r, "to", &to) != 0)
        return 0;
    rc = core_log_consistency(call->core, from, to, &out, &err);
    return route_read(r, rc, out, &err);
}
