/*
 * server/route_events.c - a unit's lifecycle history (docs/API.md,
 * "Lifecycle events"):
 *
 *   POST /v1/units/{code}/events    records one event; core runs the
 *                                   state machine and the custody rules
 *   GET  /v1/units/{code}/events    pages the history, oldest first, with
 *                                   bodies as the caller's view allows
 */
#include "server/routes.h"

/* A recording handed to the writer: what the reply is made of once it
 * commits, in the request's arena. */
struct event_call {
    struct core_principal who;
    struct core_idem idem;
    json_t *body;
    struct core_async as;
    struct core_reply reply;
    struct core_err err;
    int rc;                     /* CORE_PENDING, or the refusal */
};

static void event_wake(void *arg)
{
    http_wake(arg);
}

static int event_finish(struct hreq *r, void *arg)
{
    struct event_call *ec = arg;
    int rc = ec->rc == CORE_PENDING ? core_async_finish(&ec->as) : ec->rc;

    json_decref(ec->body);
    return route_reply(r, rc, &ec->reply, &ec->err);
}

/* On libmicrohttpd's thread (routes_defers), the event is handed to the
 * writer and the thread goes on with other connections until it commits;
 * on a worker, it is recorded in place. */
int route_events_post(struct hreq *r, const struct route_call *call)
{
    struct event_call *ec = arena_calloc(http_arena(r), sizeof *ec);
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc;

    if (ec == NULL)
        return -1;
    if (route_idem(r, &ec->idem) != 0 ||
        (ec->body = http_body_json_local(r)) == NULL)
        return 0;
    if (!http_defer(r, event_finish, ec)) {
        rc = core_event_add(call->core, &call->who, code, len, ec->body,
                            &ec->idem, http_arena(r), &ec->reply, &ec->err);
        json_decref(ec->body);
        return route_reply(r, rc, &ec->reply, &ec->err);
    }
    /* From here the answer is event_finish's, once http_wake is called:
     * by the writer after the commit, or here after a refusal. */
    ec->who = call->who;
    ec->as.wake = event_wake;
    ec->as.wake_arg = r;
    ec->rc = core_event_submit(call->core, &ec->who, code, len, ec->body,
                               &ec->idem, http_arena(r), &ec->as,
                               &ec->reply, &ec->err);
    if (ec->rc != CORE_PENDING)
        http_wake(r);
    return 0;
}

int route_events_list(struct hreq *r, const struct route_call *call)
{
    struct core_page page;
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc;

    if (route_page(r, &page) != 0)
        return 0;
    rc = core_event_list(call->core, &call->who, code, len, &page,
                         http_arena(r), &out, &err);
    return route_read(r, rc, out, &err);
}
