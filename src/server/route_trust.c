/*
 * server/route_trust.c - what the platform signs about a unit (DESIGN §5,
 * docs/API.md "Credentials, labels and device challenges"):
 *
 *   GET  /v1/platform/key                      the platform's public key
 *   GET  /v1/units/{code}/credential           the signed credential
 *   GET  /v1/units/{code}/label.svg            the QR label, as SVG
 *   GET  /v1/units/{code}/label.png            the QR label, as PNG
 *                                              (?scale=1..32, default 8)
 *   POST /v1/units/{code}/challenge            a challenge for the robot
 *   POST /v1/units/{code}/challenge/{id}       its answer, checked
 *
 * All public: a label is printed on the robot, and anyone standing next
 * to one may ask it to prove itself.
 */
#include <stdlib.h>
#include <string.h>

#include "hrid/credential.h"
#include "server/qr.h"
#include "server/routes.h"

#define LABEL_SCALE_DEFAULT 8

int route_platform_key(struct hreq *r, const struct route_call *call)
{
    char pk[48];

    core_platform_pk(call->core, pk);
    return http_json(r, 200, json_pack("{s:s, s:s}", "public_key", pk,
                                       "algorithm", "ed25519"));
}

int route_credential_get(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_unit_credential(call->core, code, len, http_arena(r), &out,
                                  &err);

    return route_read(r, rc, out, &err);
}

/* Renders the label of the path's unit as SVG or PNG. */
static int label(struct hreq *r, const struct route_call *call, bool png)
{
    struct core_err err = {0};
    char text[HRID_LABEL_MAX + 1], display[34];
    size_t len, n = 0;
    const char *code = http_param(r, "code", &len);
    const char *scale_arg = http_query(r, "scale", NULL);
    int scale = LABEL_SCALE_DEFAULT;
    void *img = NULL, *copy;
    int rc;

    if (png && scale_arg != NULL) {
        char *end;
        long v = strtol(scale_arg, &end, 10);

        if (*end != '\0' || v < QR_SCALE_MIN || v > QR_SCALE_MAX)
            return http_error(r, 422, "invalid_field", "scale",
                              "scale: must be an integer from %d to %d",
                              QR_SCALE_MIN, QR_SCALE_MAX);
        scale = (int)v;
    }
    rc = core_unit_label(call->core, code, len, http_arena(r), text,
                         sizeof text, display, &err);
    if (rc != CORE_OK)
        return route_core_error(r, &err);
    rc = png ? qr_png(text, display, scale, (unsigned char **)&img, &n)
             : qr_svg(text, display, (char **)&img, &n);
    if (rc != 0) {
        core_fail(&err, CORE_EINTERNAL, "internal", NULL,
                  "cannot render the label of %s", code);
        return route_core_error(r, &err);
    }
    /* The response must outlive this call: into the request's arena. */
    copy = arena_memdup(http_arena(r), img, n);
    free(img);
    if (copy == NULL)
        return -1;
    if (http_header_add(r, "X-HRID-Label", text) != 0)
        return -1;
    return http_raw(r, 200, png ? "image/png" : "image/svg+xml", copy, n);
}

int route_label_svg(struct hreq *r, const struct route_call *call)
{
    return label(r, call, false);
}

int route_label_png(struct hreq *r, const struct route_call *call)
{
    return label(r, call, true);
}

int route_challenge_post(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL;
    size_t len;
    const char *code = http_param(r, "code", &len);
    int rc = core_challenge_create(call->core, code, len, http_arena(r), &out,
                                   &err);

    if (rc != CORE_OK)
        return route_core_error(r, &err);
    return http_json(r, 201, out);
}

int route_challenge_answer(struct hreq *r, const struct route_call *call)
{
    struct core_err err = {0};
    json_t *out = NULL, *body;
    size_t len;
    const char *code = http_param(r, "code", &len);
    const char *id = http_param(r, "id", NULL);
    int rc;

    if ((body = http_body_json(r)) == NULL)
        return 0;
    rc = core_challenge_answer(call->core, code, len, id, body,
                               http_arena(r), &out, &err);
    json_decref(body);
    return route_read(r, rc, out, &err);
}
