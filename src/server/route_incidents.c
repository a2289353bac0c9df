/*
 * server/route_incidents.c - incident reports (docs/API.md, "Incidents"):
 *
 *   POST /v1/units/{code}/incidents   with a key: an incident event by a
 *                                     custodian, operator or regulator;
 *                                     without: a public, unverified report,
 *                                     at most PUBLIC_REPORTS_PER_HOUR from
 *                                     one address (429 beyond)
 *   GET  /v1/incidents?unit=&model=&enterprise=&verified=
 *                                     regulators (all), makers (their own)
 *
 * The limit is kept per node in a small table of addresses (a collision
 * only makes two addresses share a budget); behind a load balancer each
 * node applies it to the addresses it sees.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/routes.h"

#define PUBLIC_REPORTS_PER_HOUR 10
#define LIMIT_SLOTS 4096

struct slot {
    unsigned char who[16];      /* a hash of the address */
    time_t window;              /* the hour it counts */
    int n;
};

static struct slot slots[LIMIT_SLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

/* Counts one report from ip; false when the hour's budget is spent. */
static bool allow(const char *ip)
{
    unsigned char h[16];
    time_t hour = time(NULL) / 3600;
    struct slot *s;
    bool ok;

    crypto_generichash(h, sizeof h, (const unsigned char *)ip, strlen(ip),
                       NULL, 0);
    pthread_mutex_lock(&slots_mu);
    s = &slots[(h[0] | (unsigned)h[1] << 8) % LIMIT_SLOTS];
    if (memcmp(s->who, h, sizeof h) != 0 || s->window != hour) {
        memcpy(s->who, h, sizeof h);
        s->window = hour;
        s->n = 0;
    }
    ok = s->n < PUBLIC_REPORTS_PER_HOUR;
    if (ok)
        s->n++;
    pthread_mutex_unlock(&slots_mu);
    return ok;
}

int route_incidents_post(struct hreq *r, const struct route_call *call)
{
    struct core_reply reply;
    struct core_idem idem;
    struct core_err err = {0};
    size_t len;
    const char *code = http_param(r, "code", &len);
    json_t *body;
    int rc;

    if (route_idem(r, &idem) != 0)
        return 0;
    if ((body = http_body_json(r)) == NULL)
        return 0;
    if (call->who.role != ROLE_PUBLIC) {
        /* The incident event itself, with the same rules and history. */
        if (json_is_object(body))
            json_object_set_new(body, "type", json_string("incident"));
        rc = core_event_add(call->core, &call->who, code, len, body, &idem,
                            http_arena(r), &reply, &err);
    } else if (!allow(http_remote_ip(r))) {
        json_decref(body);
        return http_error(r, 429, "too_many_reports", NULL,
                          "at most %d public reports an hour from one "
                          "address: try later", PUBLIC_REPORTS_PER_HOUR);
    } else {
        rc = core_incident_public(call->core, &call->who, code, len, body,
                                  http_arena(r), &reply, &err);
    }
    json_decref(body);
    return route_reply(r, rc, &reply, &err);
}

int route_incidents_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_incident_list(call->core, &call->who,
                            http_query(r, "unit", NULL),
                            http_query(r, "model", NULL),
                            http_query(r, "enterprise", NULL),
                            http_query(r, "verified", NULL), &page,
                            http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
