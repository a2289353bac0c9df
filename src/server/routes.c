/*
 * server/routes.c - the endpoint table and the dispatcher (routes.h).
 *
 * The table is scanned in order for every request.  With the ~40 rows
 * DESIGN §7 plans, a scan costs well under a microsecond, less than one
 * JSON serialisation; a trie can replace it behind routes_dispatch if the
 * table ever grows by an order of magnitude.
 *
 * The roles column is coarse: who may call the endpoint at all.  Reads a
 * public caller may make are ROUTE_ANYONE even where core then shows less
 * (a unit's public view); writes name the roles that can ever succeed,
 * and core decides the rest (own enterprise, custodian, live grant).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/routes.h"

/* Events are recorded by the parties of a unit's life, never by the
 * platform operator (DESIGN §1: the admin "must never edit history"). */
#define ROUTE_EVENT_ROLES (ROLE_ANY_KEY & ~ROLE_ADMIN)
/* Grants are made by a custodian, which may be a party of any kind that
 * can receive a unit; the operator and regulators hold none. */
#define ROUTE_GRANT_ROLES (ROLE_ANY_KEY & ~(ROLE_ADMIN | ROLE_REGULATOR))

const struct route routes[] = {
    /* method    pattern                          handler                 roles */
    { "GET",     "/",                             route_root_get,         ROUTE_ANYONE },
    { "GET",     "/healthz",                      route_health_get,       ROUTE_ANYONE },
    { "GET",     "/v1/codes/{code}",              route_codes_get,        ROUTE_ANYONE },

    { "POST",    "/v1/parties",                   route_parties_post,     ROLE_ADMIN },
    { "GET",     "/v1/parties",                   route_parties_list,     ROLE_ADMIN | ROLE_REGULATOR },
    { "GET",     "/v1/parties/{id}",              route_parties_get,      ROLE_ANY_KEY },

    { "POST",    "/v1/keys",                      route_keys_post,        ROLE_ADMIN },
    { "GET",     "/v1/keys",                      route_keys_list,        ROLE_ADMIN },
    { "DELETE",  "/v1/keys/{key_id}",             route_keys_delete,      ROLE_ADMIN },

    { "POST",    "/v1/enterprises",               route_enterprises_post, ROLE_ADMIN },
    { "GET",     "/v1/enterprises/{ent}",         route_enterprises_get,  ROUTE_ANYONE },
    { "POST",    "/v1/enterprises/{ent}/models",  route_models_post,      ROLE_ADMIN | ROLE_MANUFACTURER },
    { "GET",     "/v1/enterprises/{ent}/models",  route_models_list,      ROUTE_ANYONE },
    { "GET",     "/v1/models/{model}",            route_models_get,       ROUTE_ANYONE },
    { "POST",    "/v1/models/{model}/status",     route_models_status,    ROLE_REGULATOR | ROLE_MANUFACTURER },
    { "GET",     "/v1/models/{model}/health",     route_health_model,     ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },

    { "POST",    "/v1/units",                     route_units_post,       ROLE_MANUFACTURER },
    { "GET",     "/v1/units",                     route_units_list,       ROLE_ANY_KEY },
    { "GET",     "/v1/units/{code}",              route_units_get,        ROUTE_ANYONE },
    { "POST",    "/v1/units/{code}/events",       route_events_post,      ROUTE_EVENT_ROLES },
    { "GET",     "/v1/units/{code}/events",       route_events_list,      ROUTE_ANYONE },
    { "POST",    "/v1/units/{code}/grants",       route_grants_post,      ROUTE_GRANT_ROLES },
    { "GET",     "/v1/units/{code}/grants",       route_grants_list,      ROLE_ANY_KEY },
    { "GET",     "/v1/units/{code}/credential",   route_credential_get,   ROUTE_ANYONE },
    { "GET",     "/v1/units/{code}/label.svg",    route_label_svg,        ROUTE_ANYONE },
    { "GET",     "/v1/units/{code}/label.png",    route_label_png,        ROUTE_ANYONE },
    { "POST",    "/v1/units/{code}/challenge",    route_challenge_post,   ROUTE_ANYONE },
    { "POST",    "/v1/units/{code}/challenge/{id}", route_challenge_answer, ROUTE_ANYONE },
    { "GET",     "/v1/units/{code}/certifications", route_unit_certs,     ROUTE_ANYONE },
    { "GET",     "/v1/units/{code}/as-of",        route_unit_asof,        ROLE_ANY_KEY },
    { "GET",     "/v1/units/{code}/telemetry",    route_telemetry_get,    ROLE_ANY_KEY },
    { "GET",     "/v1/units/{code}/health",       route_health_unit,      ROLE_ANY_KEY },
    { "POST",    "/v1/telemetry",                 route_telemetry_post,   ROLE_ANY_KEY },
    { "POST",    "/v1/alert-rules",               route_alert_rules_post, ROLE_MANUFACTURER | ROLE_REGULATOR },
    { "GET",     "/v1/alerts",                    route_alerts_list,      ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },
    { "POST",    "/v1/units/{code}/incidents",    route_incidents_post,   ROUTE_ANYONE },
    { "GET",     "/v1/incidents",                 route_incidents_list,   ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },
    { "GET",     "/v1/platform/key",              route_platform_key,     ROUTE_ANYONE },

    { "POST",    "/v1/certifications",            route_certs_post,       ROLE_CERTIFIER | ROLE_REGULATOR },
    { "GET",     "/v1/certifications",            route_certs_list,       ROUTE_ANYONE },
    { "POST",    "/v1/certifications/{id}/revoke", route_certs_revoke,    ROLE_CERTIFIER | ROLE_REGULATOR },
    { "POST",    "/v1/recalls",                   route_recalls_post,     ROLE_MANUFACTURER | ROLE_REGULATOR },
    { "GET",     "/v1/recalls/{id}",              route_recalls_get,      ROUTE_ANYONE },
    { "GET",     "/v1/recalls/{id}/units",        route_recalls_units,    ROLE_ANY_KEY },
    { "POST",    "/v1/recalls/{id}/suspend",      route_recalls_suspend,  ROLE_REGULATOR },
    { "POST",    "/v1/recalls/{id}/close",        route_recalls_close,    ROLE_MANUFACTURER | ROLE_REGULATOR },
    { "GET",     "/v1/market-access/{code}",      route_market_access,    ROUTE_ANYONE },
    { "POST",    "/v1/zones",                     route_zones_post,       ROLE_REGULATOR | ROLE_OWNER },
    { "POST",    "/v1/units/{code}/fence",        route_fence_post,       ROLE_ANY_KEY & ~ROLE_ADMIN },
    { "GET",     "/v1/fence-violations",          route_violations_list,  ROLE_REGULATOR | ROLE_ADMIN },
    { "GET",     "/v1/stats/units",               route_stats_units,      ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },
    { "GET",     "/v1/stats/registrations",       route_stats_registrations, ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },
    { "GET",     "/v1/stats/incidents",           route_stats_incidents,  ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },
    { "GET",     "/v1/stats/recalls",             route_stats_recalls,    ROLE_REGULATOR | ROLE_ADMIN | ROLE_MANUFACTURER },

    { "GET",     "/v1/log/key",                   route_log_key,          ROUTE_ANYONE },
    { "GET",     "/v1/log/checkpoint",            route_log_checkpoint,   ROUTE_ANYONE },
    { "GET",     "/v1/log/proof/inclusion",       route_log_inclusion,    ROUTE_ANYONE },
    { "GET",     "/v1/log/proof/consistency",     route_log_consistency,  ROUTE_ANYONE },

    /* the portal (route_web.c) */
    { "GET",     "/v/{code}",                     route_web_verify,       ROUTE_ANYONE },
    { "POST",    "/v/{code}/report",              route_web_report,       ROUTE_ANYONE },
    { "GET",     "/portal",                       route_web_portal,       ROUTE_ANYONE },
    { "GET",     "/portal/",                      route_web_file,         ROUTE_ANYONE },
    { "GET",     "/portal/{file}",                route_web_file,         ROUTE_ANYONE },
    { "GET",     "/portal/{dir}/{file}",          route_web_file,         ROUTE_ANYONE },
};
const size_t routes_count = sizeof(routes) / sizeof(routes[0]);

struct capture {
    const char *name, *value;
    size_t name_len, value_len;
};

/* Matches a raw path against a pattern; on success stores the captures
 * (at most HTTP_PARAMS_MAX, which routes_check guarantees). */
static bool route_match(const char *pat, const char *path,
                        struct capture *caps, unsigned *ncaps)
{
    *ncaps = 0;
    while (*pat != '\0' && *path != '\0') {
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            size_t seg = strcspn(path, "/");

            if (seg == 0)
                return false;
            caps[*ncaps].name = pat + 1;
            caps[*ncaps].name_len = (size_t)(close - pat - 1);
            caps[*ncaps].value = path;
            caps[*ncaps].value_len = seg;
            ++*ncaps;
            pat = close + 1;
            path += seg;
        } else if (*pat == *path) {
            pat++;
            path++;
        } else {
            return false;
        }
    }
    return *pat == '\0' && *path == '\0';
}

static bool method_matches(const char *row, const char *req)
{
    return strcmp(row, req) == 0 ||
           (strcmp(req, "HEAD") == 0 && strcmp(row, "GET") == 0);
}

/* Answers 405 with the methods the path does accept. */
static int method_not_allowed(struct hreq *r)
{
    struct capture caps[HTTP_PARAMS_MAX];
    unsigned ncaps;
    char allow[256];
    size_t len = 0;

    allow[0] = '\0';
    for (size_t i = 0; i < routes_count; i++) {
        const char *m = routes[i].method;
        int n;

        if (!route_match(routes[i].pattern, http_path(r), caps, &ncaps))
            continue;
        n = snprintf(allow + len, sizeof(allow) - len, "%s%s%s",
                     len > 0 ? ", " : "", m,
                     strcmp(m, "GET") == 0 ? ", HEAD" : "");
        if (n < 0 || (size_t)n >= sizeof(allow) - len)
            break;
        len += (size_t)n;
    }
    if (http_header_add(r, "Allow", allow) != 0)
        return -1;
    return http_error(r, 405, "method_not_allowed", NULL,
                      "method '%s' is not allowed on '%s': use %s",
                      http_method(r), http_path(r), allow);
}

/*
 * The bearer key of the request, in the request's arena: *key is NULL
 * for a request without an Authorization header (a public caller).
 * Returns 0, -1 for a header that is not "Bearer <token>" (RFC 6750
 * §2.1: the scheme is case-insensitive, the token is token68
 * characters), -2 when out of memory.  A broken header was meant to
 * authenticate someone, so it is refused rather than served as public.
 */
static int bearer_key(struct hreq *r, const char **key)
{
    static const char token68[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        "-._~+/=";
    const char *h = http_header(r, "Authorization");
    const char *tok, *end;
    size_t n;

    *key = NULL;
    if (h == NULL)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    tok = h + 7 + strspn(h + 7, " ");
    n = strspn(tok, token68);
    end = tok + n + strspn(tok + n, " ");
    if (n == 0 || *end != '\0' || tok[0] == '=')
        return -1;
    *key = arena_strndup(http_arena(r), tok, n);
    return *key == NULL ? -2 : 0;
}

/* Authenticates the caller and applies the row's roles; 0 to go on to
 * the handler, otherwise the request is answered (or out of memory). */
static int authorize(struct hreq *r, const struct route *rt,
                     struct route_call *call)
{
    const char *key;
    struct core_err err;
    int rc;

    memset(&err, 0, sizeof(err));
    call->core = http_app(r);
    call->who.role = ROLE_PUBLIC;
    rc = bearer_key(r, &key);
    if (rc == -2)
        return -1;
    if (rc != 0) {
        core_fail(&err, CORE_EUNAUTH, "unauthorized", NULL,
                  "the Authorization header must be 'Bearer <key>'");
        return route_core_error(r, &err) == 0 ? 1 : -1;
    }
    if (key != NULL) {
        if (call->core == NULL) {
            core_fail(&err, CORE_EINTERNAL, "internal", NULL,
                      "a key was given but hridd runs without a registry");
            return route_core_error(r, &err) == 0 ? 1 : -1;
        }
        rc = core_authenticate(call->core, key, http_arena(r), &call->who,
                               &err);
        if (rc != CORE_OK)
            return route_core_error(r, &err) == 0 ? 1 : -1;
    }
    if (call->who.role & rt->roles)
        return 0;
    if (call->who.role == ROLE_PUBLIC)
        core_fail(&err, CORE_EUNAUTH, "unauthorized", NULL,
                  "%s %s needs an API key", rt->method, rt->pattern);
    else
        core_fail(&err, CORE_EFORBIDDEN, "forbidden", NULL,
                  "the %s role may not call %s %s",
                  core_role_name(call->who.role), rt->method, rt->pattern);
    return route_core_error(r, &err) == 0 ? 1 : -1;
}

/*
 * Handlers that never make a server thread wait: they read, then hand
 * their write to the store's writer with http_defer.  They run on
 * libmicrohttpd's threads as reads do, which saves each request the hops
 * to a worker and back, and no thread sleeps while the write commits.
 * Only for bodies up to ROUTE_DEFER_BODY_MAX: parsing a larger one would
 * hold up every other connection of the thread.
 */
static const route_fn deferring[] = {route_events_post};

bool routes_defers(struct hreq *r)
{
    struct capture caps[HTTP_PARAMS_MAX];
    unsigned ncaps;
    size_t len;

    http_body(r, &len);
    if (len > ROUTE_DEFER_BODY_MAX)
        return false;
    for (size_t i = 0; i < routes_count; i++) {
        const struct route *rt = &routes[i];

        if (!method_matches(rt->method, http_method(r)) ||
            !route_match(rt->pattern, http_path(r), caps, &ncaps))
            continue;
        for (size_t k = 0; k < sizeof deferring / sizeof deferring[0]; k++)
            if (rt->handler == deferring[k])
                return true;
        return false;
    }
    return false;
}

int routes_dispatch(struct hreq *r)
{
    struct capture caps[HTTP_PARAMS_MAX];
    unsigned ncaps;
    bool path_known = false;

    for (size_t i = 0; i < routes_count; i++) {
        const struct route *rt = &routes[i];
        struct route_call call;
        int rc;

        if (!route_match(rt->pattern, http_path(r), caps, &ncaps))
            continue;
        if (!method_matches(rt->method, http_method(r))) {
            path_known = true;
            continue;
        }
        for (unsigned k = 0; k < ncaps; k++)
            if (http_param_set(r, caps[k].name, caps[k].name_len,
                               caps[k].value, caps[k].value_len) != 0)
                return -1;
        memset(&call, 0, sizeof(call));
        rc = authorize(r, rt, &call);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        return rt->handler(r, &call);
    }
    if (path_known)
        return method_not_allowed(r);
    return http_error(r, 404, "not_found", NULL, "no endpoint at '%s'",
                      http_path(r));
}

/* Checks one pattern; returns NULL or what is wrong with it. */
static const char *pattern_problem(const char *pat)
{
    unsigned ncaps = 0;

    if (pat[0] != '/')
        return "does not start with '/'";
    for (const char *p = pat; *p != '\0'; p++) {
        const char *close;

        if (*p == '}')
            return "has a '}' without '{'";
        if (*p != '{')
            continue;
        close = strchr(p, '}');
        if (p[-1] != '/')
            return "has a capture that does not start a segment";
        if (close == NULL)
            return "has a '{' without '}'";
        if (close == p + 1)
            return "has a capture without a name";
        if (memchr(p + 1, '/', (size_t)(close - p - 1)) != NULL ||
            memchr(p + 1, '{', (size_t)(close - p - 1)) != NULL)
            return "has a malformed capture";
        if (close[1] != '\0' && close[1] != '/')
            return "has a capture that does not end its segment";
        if (++ncaps > HTTP_PARAMS_MAX)
            return "has more captures than HTTP_PARAMS_MAX";
        p = close;
    }
    return NULL;
}

int routes_check(char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < routes_count; i++) {
        const char *why = pattern_problem(routes[i].pattern);

        if (why == NULL && routes[i].handler == NULL)
            why = "has no handler";
        if (why == NULL && routes[i].roles == 0)
            why = "allows no role";
        for (size_t j = 0; why == NULL && j < i; j++)
            if (strcmp(routes[i].method, routes[j].method) == 0 &&
                strcmp(routes[i].pattern, routes[j].pattern) == 0)
                why = "is listed twice";
        if (why != NULL) {
            snprintf(errbuf, errlen, "route %s '%s' %s", routes[i].method,
                     routes[i].pattern, why);
            return -1;
        }
    }
    return 0;
}
