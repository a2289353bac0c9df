/*
 * credential.c - what the platform signs about a unit (DESIGN §5): its
 * credential, the label a phone checks offline, and the challenge that
 * tells the robot itself from a copied label.
 *
 * Nothing here is stored.  A credential is issued at registration: its
 * time of issue is the unit's registration time, so it is the same bytes,
 * and with Ed25519 the same signature, whenever it is asked for, on any
 * node holding the platform key.  Challenges are stateless too: the
 * challenge id carries a random nonce, its expiry and a MAC over both and
 * the unit's code under a key derived from the platform key, so answering
 * one needs no write and no shared memory between nodes, and a public
 * caller creating challenges cannot fill the database.  A challenge can be
 * answered until it expires; an answer proves possession of the device
 * key within that window, which is what a verifier standing by the robot
 * needs.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/core_int.h"
#include "hrid/credential.h"

/* Challenges live five minutes: time to put the question to the robot and
 * bring its answer back, short enough that a recorded answer is soon
 * worthless. */
#define CHALLENGE_TTL_MS (5 * 60 * 1000)

/* nonce (16) + expiry (8, big-endian ms) + MAC (16), in base64url after
 * "ch_", so that an id never starts with '-' (a command line would take
 * it for an option). */
#define CHALLENGE_PREFIX "ch_"
#define CHALLENGE_RAW 40
#define CHALLENGE_ID_LEN \
    (sodium_base64_ENCODED_LEN(CHALLENGE_RAW, \
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)

static json_t *b64_json(const unsigned char *p, size_t n, int variant)
{
    char buf[256];

    sodium_bin2base64(buf, sizeof buf, p, n, variant);
    return json_string(buf);
}

void core_platform_pk(const struct core *c, char out[48])
{
    sodium_bin2base64(out, 48, c->platform.pk, 32,
                      sodium_base64_VARIANT_ORIGINAL);
}

/* The unit behind a code argument, 404 when not registered. */
static int load_unit(struct core *c, const char *code, size_t code_len,
                     struct arena *a, struct store_unit *u,
                     struct core_err *err)
{
    char canon[HRID_CODE_LEN + 1];
    struct store_conn *sc;
    int rc = core_code_arg(code, code_len, canon, err);

    if (rc != CORE_OK)
        return rc;
    if ((sc = core_conn(c, err)) == NULL)
        return err->status;
    return core_unit_load(sc, canon, a, u, err);
}

static int need_keys(const struct core *c, struct core_err *err)
{
    if (c->have_platform_key)
        return CORE_OK;
    return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                     "this node has no platform key");
}

int core_unit_credential(struct core *c, const char *code, size_t code_len,
                         struct arena *a, json_t **out, struct core_err *err)
{
    struct hrid_credential cr;
    struct store_model m;
    struct store_unit u;
    struct hrid_err he;
    unsigned char sig[64], id[4];
    char label[HRID_LABEL_MAX + 1], msg[HRID_CREDENTIAL_MSG_MAX];
    char kid[9], t[32];
    size_t len;
    int rc;

    *out = NULL;
    if ((rc = need_keys(c, err)) != CORE_OK ||
        (rc = load_unit(c, code, code_len, a, &u, err)) != CORE_OK)
        return rc;
    hrid_err_clear(&he);
    rc = core_cache_model(c, core_conn(c, err), u.model_row, a, &m, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    memset(&cr, 0, sizeof cr);
    memcpy(cr.code, u.code, sizeof cr.code);
    memcpy(cr.enterprise, m.model_id, 6);
    memcpy(cr.model, m.model_id, 12);
    snprintf(cr.production_date, sizeof cr.production_date, "%s",
             u.production_date ? u.production_date : "");
    snprintf(cr.device_key, sizeof cr.device_key, "%s",
             u.device_key ? u.device_key : "");
    core_time_format(u.registered_at, t);
    memcpy(cr.issued_at, t, sizeof cr.issued_at - 1);
    if (hrid_credential_message(&cr, msg, sizeof msg, &len, &he) != HRID_OK ||
        hrid_credential_sign(&cr, c->platform.sk, sig, &he) != HRID_OK ||
        hrid_label_make(c->public_url, u.code, c->platform.sk, label,
                        sizeof label, &he) != HRID_OK)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "cannot issue the credential of %s: %s", u.code,
                         he.msg);
    hrid_platform_key_id(c->platform.pk, id);
    snprintf(kid, sizeof kid, "%02x%02x%02x%02x", id[0], id[1], id[2],
             id[3]);
    *out = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:o, s:s}, s:s, s:o, "
                     "s:o, s:s, s:s}",
                     "format", "hrid-credential/v1",
                     "credential", "code", cr.code, "enterprise",
                     cr.enterprise, "model", cr.model, "production_date",
                     cr.production_date, "device_key",
                     cr.device_key[0] ? json_string(cr.device_key)
                                      : json_null(),
                     "issued_at", cr.issued_at,
                     "message", msg,
                     "signature", b64_json(sig, 64,
                                           sodium_base64_VARIANT_ORIGINAL),
                     "platform_key", b64_json(c->platform.pk, 32,
                                              sodium_base64_VARIANT_ORIGINAL),
                     "key_id", kid, "label", label);
    return *out != NULL ? CORE_OK
                        : core_fail(err, CORE_EINTERNAL, "internal", NULL,
                                    "out of memory");
}

int core_unit_label(struct core *c, const char *code, size_t code_len,
                    struct arena *a, char *label, size_t size,
                    char display[HRID_CODE_DISPLAY_LEN + 1],
                    struct core_err *err)
{
    struct store_unit u;
    struct hrid_err he;
    int rc;

    if ((rc = need_keys(c, err)) != CORE_OK ||
        (rc = load_unit(c, code, code_len, a, &u, err)) != CORE_OK)
        return rc;
    hrid_err_clear(&he);
    if (hrid_label_make(c->public_url, u.code, c->platform.sk, label, size,
                        &he) != HRID_OK)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "cannot make the label of %s: %s", u.code, he.msg);
    hrid_code_display(u.code, display);
    return CORE_OK;
}

/* ---- device challenges ------------------------------------------------- */

static void challenge_mac(const struct core *c, const char *code,
                          const unsigned char raw[CHALLENGE_RAW],
                          unsigned char mac[16])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, c->challenge_key, sizeof c->challenge_key,
                            16);
    crypto_generichash_update(&st, (const unsigned char *)code,
                              HRID_CODE_LEN);
    crypto_generichash_update(&st, raw, 24);
    crypto_generichash_final(&st, mac, 16);
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int core_challenge_create(struct core *c, const char *code, size_t code_len,
                          struct arena *a, json_t **out, struct core_err *err)
{
    unsigned char raw[CHALLENGE_RAW];
    char id[3 + CHALLENGE_ID_LEN + 1], t[32];
    struct store_unit u;
    int64_t expires = core_now_ms() + CHALLENGE_TTL_MS;
    int rc;

    *out = NULL;
    if ((rc = need_keys(c, err)) != CORE_OK ||
        (rc = load_unit(c, code, code_len, a, &u, err)) != CORE_OK)
        return rc;
    if (u.device_key == NULL || u.device_key[0] == '\0')
        return core_fail(err, CORE_ECONFLICT, "no_device_key", NULL,
                         "unit %s has no registered device key: only its "
                         "label can be checked", u.code);
    randombytes_buf(raw, 16);
    put_be64(raw + 16, (uint64_t)expires);
    challenge_mac(c, u.code, raw, raw + 24);
    memcpy(id, CHALLENGE_PREFIX, 3);
    sodium_bin2base64(id + 3, sizeof id - 3, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    core_time_format(expires, t);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "code", u.code,
                     "nonce", id, "expires_at", t, "sign",
                     "hrid-challenge/v1\\n<code>\\n<nonce>\\n with the "
                     "device key (Ed25519)");
    return CORE_OK;
}

/* {"signature": "<base64>"} and nothing else. */
static int answer_body(json_t *body, struct core_err *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(body))
        return core_fail(err, CORE_EINVALID, "invalid_field", NULL,
                         "body must be {\"signature\": base64 of the 64-byte "
                         "Ed25519 signature}");
    json_object_foreach(body, k, v) {
        if (strcmp(k, "signature") != 0)
            return core_fail(err, CORE_EINVALID, "unknown_field", k,
                             "%.64s: unknown field (allowed: signature)", k);
    }
    v = json_object_get(body, "signature");
    if (v == NULL)
        return core_fail(err, CORE_EINVALID, "missing_field", "signature",
                         "signature: required");
    if (!json_is_string(v))
        return core_fail(err, CORE_EINVALID, "invalid_field", "signature",
                         "signature: must be a base64 string");
    return CORE_OK;
}

int core_challenge_answer(struct core *c, const char *code, size_t code_len,
                          const char *id, json_t *body, struct arena *a,
                          json_t **out, struct core_err *err)
{
    unsigned char raw[CHALLENGE_RAW + 1], mac[16], pk[32], sig[64 + 1];
    struct store_unit u;
    struct hrid_err he;
    const char *sig_b64, *end;
    size_t n = 0;
    bool ok;
    int rc;

    *out = NULL;
    if ((rc = need_keys(c, err)) != CORE_OK ||
        (rc = load_unit(c, code, code_len, a, &u, err)) != CORE_OK)
        return rc;
    if (strlen(id) != 3 + CHALLENGE_ID_LEN ||
        strncmp(id, CHALLENGE_PREFIX, 3) != 0 ||
        sodium_base642bin(raw, sizeof raw, id + 3, CHALLENGE_ID_LEN, NULL, &n,
                          &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) !=
            0 ||
        *end != '\0' || n != CHALLENGE_RAW)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "challenge",
                         "no challenge '%.64s' for %s", id, u.code);
    challenge_mac(c, u.code, raw, mac);
    if (sodium_memcmp(mac, raw + 24, 16) != 0)
        return core_fail(err, CORE_ENOTFOUND, "not_found", "challenge",
                         "no challenge '%.64s' for %s", id, u.code);
    if ((int64_t)get_be64(raw + 16) < core_now_ms())
        return core_fail(err, CORE_ECONFLICT, "challenge_expired",
                         "challenge", "challenge expired: ask for a new one "
                         "(they last %d minutes)", CHALLENGE_TTL_MS / 60000);
    if ((rc = answer_body(body, err)) != CORE_OK)
        return rc;
    sig_b64 = json_string_value(json_object_get(body, "signature"));
    if (sodium_base642bin(sig, sizeof sig, sig_b64, strlen(sig_b64), NULL,
                          &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || n != 64)
        return core_fail(err, CORE_EINVALID, "invalid_field", "signature",
                         "signature: not the base64 of 64 bytes");
    if (u.device_key == NULL ||
        sodium_base642bin(pk, sizeof pk, u.device_key, strlen(u.device_key),
                          NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 || n != 32)
        return core_fail(err, CORE_ECONFLICT, "no_device_key", NULL,
                         "unit %s has no registered device key", u.code);
    hrid_err_clear(&he);
    ok = hrid_challenge_verify(u.code, id, pk, sig, &he) == HRID_OK;
    *out = json_pack("{s:s, s:b}", "code", u.code, "verified", ok);
    if (!ok)
        json_object_set_new(*out, "reason",
                            json_string("the answer is not signed by the "
                                        "device key registered for this "
                                        "unit"));
    return CORE_OK;
}
