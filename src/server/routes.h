/*
 * server/routes.h - the table of hridd's endpoints, its dispatcher, and
 * what the handlers share.
 *
 * Layer: src/server.  Every endpoint is one row of the table in routes.c,
 * as Redis lists its commands: method, path pattern, handler, and the
 * roles allowed to call it.  Adding an endpoint is one row and one
 * handler, in the route_*.c file named after what it serves.
 *
 * A pattern is a path whose segments are either literal or a capture
 * "{name}" matching one non-empty segment, e.g. "/v1/units/{code}/events".
 * No regular expressions: matching walks the pattern and the raw path
 * byte by byte, and captures are percent-decoded afterwards, so an
 * encoded '/' in a code can never select another route.
 *
 * Authentication happens once per request, in the dispatcher, before any
 * handler runs: the bearer key becomes a struct core_principal that the
 * handler receives in struct route_call.  The roles column is a coarse
 * gate (a public caller on a keyed route is 401, a role outside the set
 * is 403); core repeats and refines every check (maker, custodian,
 * grantee), so core stays the authority and the table only refuses early
 * what core would refuse anyway.
 *
 * Handlers are thin: decode the path, query and body, call one core
 * function, and send its reply (route_reply) or its error
 * (route_core_error).
 */
#ifndef SERVER_ROUTES_H
#define SERVER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "server/http.h"

/* Role sets for the table, from core's enum core_role.  ROLE_PUBLIC is a
 * caller without a key; a route that anyone may call, keyed or not, says
 * ROUTE_ANYONE. */
#define ROUTE_ANYONE (ROLE_PUBLIC | ROLE_ANY_KEY)

/* What the dispatcher hands every handler: the registry and the caller.
 * Valid for the handler's call only; party_name lives in the request's
 * arena. */
struct route_call {
    struct core *core;          /* http_config.app; NULL only in tests
                                   that run without a registry */
    struct core_principal who;
};

typedef int (*route_fn)(struct hreq *r, const struct route_call *call);

struct route {
    const char *method;         /* "GET", "POST", ...; GET also serves HEAD */
    const char *pattern;        /* "/v1/codes/{code}" */
    route_fn handler;
    unsigned roles;             /* enum core_role bits allowed to call */
};

/* The table, and its number of rows. */
extern const struct route routes[];
extern const size_t routes_count;

/*
 * Checks the table once at start-up: every pattern starts with '/', every
 * capture is a whole, named, non-empty segment, no pattern has more than
 * HTTP_PARAMS_MAX captures, and no two rows share method and pattern.
 * Returns 0, or -1 with a message in errbuf.  A table that fails is a
 * programming error, caught before the first request.
 */
int routes_check(char *errbuf, size_t errlen);

/*
 * The http_config.dispatch function: finds the row for the request's
 * method and path, records its captures (http_param), authenticates the
 * caller, checks the row's roles and calls its handler.  A path no row
 * matches gets 404 "not_found"; a path matched only with other methods
 * gets 405 "method_not_allowed" with an Allow header; a malformed
 * Authorization header or an unknown or revoked key gets 401
 * "unauthorized"; a public caller on a keyed route 401, a role outside
 * the row's set 403 "forbidden".  Returns the handler's result.
 */
int routes_dispatch(struct hreq *r);

/* The http_config.defers function: whether the request's row is one
 * whose handler hands its write over (http_defer) instead of waiting for
 * it, with a body of at most ROUTE_DEFER_BODY_MAX bytes. */
#define ROUTE_DEFER_BODY_MAX (64u * 1024u)
bool routes_defers(struct hreq *r);

/* ---- helpers for handlers (errors.c, args.c) ------------------------- */

/* The HTTP status of a core status (the one table: errors.c); 500 for
 * anything unknown, including CORE_OK, which is no error to send. */
int route_http_status(int core_status);

/*
 * Sends err as the error body of DESIGN §7: code, message and field (left
 * out when empty); an "invalid_code" error also carries "position" (when
 * above 0) and "reason".  A 500 logs err's message on stderr and sends a
 * generic one, since store messages may name files and tables.  A 401
 * adds "WWW-Authenticate: Bearer" (RFC 6750).  Returns as http_error.
 */
int route_core_error(struct hreq *r, const struct core_err *err);

/*
 * Sends what a core call produced: on CORE_OK the reply's body with its
 * status (and "Idempotent-Replay: true" when it was a replay), else the
 * error.  Takes the reference in reply->body in every case.
 */
int route_reply(struct hreq *r, int rc, struct core_reply *reply,
                const struct core_err *err);

/* Sends the result of a core read: on CORE_OK body (stolen) with 200,
 * else the error. */
int route_read(struct hreq *r, int rc, json_t *body,
               const struct core_err *err);
/* The same for a core read that wrote its reply as JSON text (len bytes). */
int route_read_text(struct hreq *r, int rc, const char *text, size_t len,
                    const struct core_err *err);

/*
 * Reads the "limit" and "cursor" query arguments into page.  limit must
 * be an integer from 1 to CORE_PAGE_MAX (else 422 invalid_field "limit");
 * cursor is passed on as given (borrowed from the request).  Returns 0,
 * or -1 once the request is answered: the handler then returns 0 (if
 * even the refusal could not be built, no response is set and the HTTP
 * layer sends its 500).
 */
int route_page(struct hreq *r, struct core_page *page);

/* A record id from a path or query: a positive decimal integer without
 * sign or leading zero, as replies write ids; 0 for anything else. */
int64_t route_id(const char *s, size_t len);

/*
 * Reads the Idempotency-Key header into idem: 1 to CORE_IDEM_KEY_MAX
 * printable ASCII characters (else 422 invalid_field
 * "Idempotency-Key"); with a key, req_hash is the SHA-256 of method, "\n",
 * path, "\n" and body.  Without the header idem->key is NULL.  Returns 0,
 * or -1 once the request is answered, as route_page.  idem->key is
 * borrowed from the request.
 */
int route_idem(struct hreq *r, struct core_idem *idem);

/* A core call that creates a record from a body alone (a party, an
 * enterprise, units). */
typedef int (*route_create_fn)(struct core *c,
                               const struct core_principal *who,
                               json_t *body, const struct core_idem *idem,
                               struct arena *a, struct core_reply *out,
                               struct core_err *err);

/* The whole handler of such a POST: Idempotency-Key, JSON body, the core
 * call, the reply or the error.  Returns as a handler. */
int route_create(struct hreq *r, const struct route_call *call,
                 route_create_fn create);

/* A core call that records something on the unit named by the path's
 * {code} (an event, a grant). */
typedef int (*route_unit_fn)(struct core *c,
                             const struct core_principal *who,
                             const char *code, size_t code_len, json_t *body,
                             const struct core_idem *idem, struct arena *a,
                             struct core_reply *out, struct core_err *err);

/* The whole handler of such a POST, as route_create. */
int route_create_on_unit(struct hreq *r, const struct route_call *call,
                         route_unit_fn create);

/* Handlers, one file per resource. */
int route_root_get(struct hreq *r, const struct route_call *call);
int route_health_get(struct hreq *r, const struct route_call *call);
int route_codes_get(struct hreq *r, const struct route_call *call);

/* route_parties.c */
int route_parties_post(struct hreq *r, const struct route_call *call);
int route_parties_list(struct hreq *r, const struct route_call *call);
int route_parties_get(struct hreq *r, const struct route_call *call);

/* route_keys.c */
int route_keys_post(struct hreq *r, const struct route_call *call);
int route_keys_list(struct hreq *r, const struct route_call *call);
int route_keys_delete(struct hreq *r, const struct route_call *call);

/* route_enterprises.c */
int route_enterprises_post(struct hreq *r, const struct route_call *call);
int route_enterprises_get(struct hreq *r, const struct route_call *call);

/* route_models.c */
int route_models_post(struct hreq *r, const struct route_call *call);
int route_models_list(struct hreq *r, const struct route_call *call);
int route_models_get(struct hreq *r, const struct route_call *call);
int route_models_status(struct hreq *r, const struct route_call *call);

/* route_units.c */
int route_units_post(struct hreq *r, const struct route_call *call);
int route_units_list(struct hreq *r, const struct route_call *call);
int route_units_get(struct hreq *r, const struct route_call *call);

/* route_events.c */
int route_events_post(struct hreq *r, const struct route_call *call);
int route_events_list(struct hreq *r, const struct route_call *call);

/* route_grants.c */
int route_grants_post(struct hreq *r, const struct route_call *call);
int route_grants_list(struct hreq *r, const struct route_call *call);

/* route_accountability.c */
int route_certs_post(struct hreq *r, const struct route_call *call);
int route_certs_list(struct hreq *r, const struct route_call *call);
int route_certs_revoke(struct hreq *r, const struct route_call *call);
int route_unit_certs(struct hreq *r, const struct route_call *call);
int route_recalls_post(struct hreq *r, const struct route_call *call);
int route_recalls_get(struct hreq *r, const struct route_call *call);
int route_recalls_units(struct hreq *r, const struct route_call *call);
int route_recalls_suspend(struct hreq *r, const struct route_call *call);
int route_recalls_close(struct hreq *r, const struct route_call *call);
int route_market_access(struct hreq *r, const struct route_call *call);
int route_unit_asof(struct hreq *r, const struct route_call *call);
int route_zones_post(struct hreq *r, const struct route_call *call);
int route_fence_post(struct hreq *r, const struct route_call *call);
int route_violations_list(struct hreq *r, const struct route_call *call);

/* route_incidents.c */
int route_incidents_post(struct hreq *r, const struct route_call *call);
int route_incidents_list(struct hreq *r, const struct route_call *call);

/* route_telemetry.c */
int route_telemetry_post(struct hreq *r, const struct route_call *call);
int route_telemetry_get(struct hreq *r, const struct route_call *call);
int route_health_unit(struct hreq *r, const struct route_call *call);
int route_alert_rules_post(struct hreq *r, const struct route_call *call);
int route_alerts_list(struct hreq *r, const struct route_call *call);
int route_health_model(struct hreq *r, const struct route_call *call);

/* route_stats.c */
int route_stats_units(struct hreq *r, const struct route_call *call);
int route_stats_registrations(struct hreq *r, const struct route_call *call);
int route_stats_incidents(struct hreq *r, const struct route_call *call);
int route_stats_recalls(struct hreq *r, const struct route_call *call);

/* route_log.c */
int route_log_key(struct hreq *r, const struct route_call *call);
int route_log_checkpoint(struct hreq *r, const struct route_call *call);
int route_log_inclusion(struct hreq *r, const struct route_call *call);
int route_log_consistency(struct hreq *r, const struct route_call *call);

/* route_trust.c */
int route_platform_key(struct hreq *r, const struct route_call *call);
int route_credential_get(struct hreq *r, const struct route_call *call);
int route_label_svg(struct hreq *r, const struct route_call *call);
int route_label_png(struct hreq *r, const struct route_call *call);
int route_challenge_post(struct hreq *r, const struct route_call *call);
int route_challenge_answer(struct hreq *r, const struct route_call *call);

/* route_web.c: the portal's HTML pages and static files */
int route_web_verify(struct hreq *r, const struct route_call *call);
int route_web_report(struct hreq *r, const struct route_call *call);
int route_web_portal(struct hreq *r, const struct route_call *call);
int route_web_file(struct hreq *r, const struct route_call *call);

#endif
