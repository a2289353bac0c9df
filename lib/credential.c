/*
 * credential.c - unit credentials, QR label signatures and device
 * challenges (see hrid/credential.h).
 *
 * Each statement is built as its exact message in a buffer on the stack,
 * then signed or verified with libsodium's Ed25519 in one call; nothing
 * is allocated, and every message names its kind on its first line so
 * that a signature never carries over from one kind to another.  The
 * signers check their input as strictly as the verifiers, so the platform
 * cannot issue what its own verifier would refuse.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "hrid/credential.h"

static const char credential_tag[] = "hrid-credential/v1\n";
static const char label_tag[] = "hrid-label/v1\n";
static const char challenge_tag[] = "hrid-challenge/v1\n";
static const char platform_key_tag[] = "hrid-platform-key/v1\n";

/* The longest label message: the tag, a code and a newline. */
#define LABEL_MSG_LEN (sizeof label_tag - 1 + HRID_CODE_LEN + 1)

/* The longest challenge message: the tag, a code, a nonce, two newlines. */
#define CHALLENGE_MSG_MAX \
    (sizeof challenge_tag - 1 + HRID_CODE_LEN + 1 + HRID_NONCE_MAX + 1)

/* The decoded "s=" parameter of a label: key id and signature. */
#define LABEL_BLOB_LEN 68

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum36(char c)
{
    return is_upper(c) || is_digit(c);
}

/* Reads n digits at s into *out; false if one is not a digit. */
static bool digits(const char *s, int n, int *out)
{
    int x = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return true;
}

/* True when s begins with a real calendar date YYYY-MM-DD (Gregorian,
 * years 0001-9999). */
static bool calendar_date(const char *s)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int y, m, d, dim;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) ||
        s[7] != '-' || !digits(s + 8, 2, &d))
        return false;
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    dim = mdays[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        dim = 29;
    return d <= dim;
}

/* True when s is YYYY-MM-DDTHH:MM:SS.mmmZ, a valid UTC instant (a leap
 * second, :60, allowed as RFC 3339 allows it). */
static bool rfc3339_ms(const char *s)
{
    int h, mi, sec, ms;

    return strlen(s) == 24 && calendar_date(s) && s[10] == 'T' &&
           digits(s + 11, 2, &h) && h <= 23 && s[13] == ':' &&
           digits(s + 14, 2, &mi) && mi <= 59 && s[16] == ':' &&
           digits(s + 17, 2, &sec) && sec <= 60 && s[19] == '.' &&
           digits(s + 20, 3, &ms) && s[23] == 'Z';
}

/* True when s is n characters: two letters A-Z, then 0-9A-Z. */
static bool country_prefixed(const char *s, size_t n)
{
    if (strlen(s) != n || !is_upper(s[0]) || !is_upper(s[1]))
        return false;
    for (size_t i = 2; i < n; i++)
        if (!is_alnum36(s[i]))
            return false;
    return true;
}

/*
 * Decodes base64 of the given libsodium variant (len bytes at b64) into
 * at most max bytes at bin, and sets *bin_len.  Returns 0, or -1 when the
 * text is not canonical base64.  libsodium's decoder (1.0.18) reads a
 * byte above 0x7F as the ASCII character below it, so such bytes are
 * refused here first: otherwise two different labels would carry the
 * same signature.
 */
static int base64_decode(unsigned char *bin, size_t max, const char *b64,
                         size_t len, size_t *bin_len, int variant)
{
    *bin_len = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)b64[i] >= 0x80)
            return -1;
    return sodium_base642bin(bin, max, b64, len, NULL, bin_len, NULL,
                             variant);
}

/* True when s is the standard base64 of a 32-byte key. */
static bool key_b64(const char *s)
{
    unsigned char pk[32];
    size_t n = 0;

    return strlen(s) == HRID_PUBLIC_KEY_B64_LEN &&
           base64_decode(pk, sizeof pk, s, HRID_PUBLIC_KEY_B64_LEN, &n,
                         sodium_base64_VARIANT_ORIGINAL) == 0 &&
           n == sizeof pk;
}

/* Appends len bytes at s and a newline to out at *o (room known). */
static void put_line(char *out, size_t *o, const char *s, size_t len)
{
    memcpy(out + *o, s, len);
    *o += len;
    out[(*o)++] = '\n';
}

/* How much of a field an error message quotes; the fields are short, so
 * only a field that overran its array (no NUL) is cut. */
#define FIELD_QUOTE 40

int hrid_credential_message(const struct hrid_credential *c, char *out,
                            size_t size, size_t *len, struct hrid_err *err)
{
    struct hrid_err code_err;
    const char *dk;
    size_t need, o = 0;

    *len = 0;
    if (size > 0)
        out[0] = '\0';
    if (strnlen(c->code, sizeof c->code) != HRID_CODE_LEN)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential code '%.*s' is not %d characters",
                            (int)strnlen(c->code, FIELD_QUOTE), c->code,
                            HRID_CODE_LEN);
    if (hrid_code_validate(c->code, &code_err) != HRID_OK)
        return hrid_err_set(err, HRID_EINVAL, code_err.reason, code_err.pos,
                            "credential code '%s': %s", c->code,
                            code_err.msg);
    if (strnlen(c->enterprise, sizeof c->enterprise) == sizeof c->enterprise ||
        !country_prefixed(c->enterprise, 6))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential enterprise '%.*s' is not a country "
                            "and four characters 0-9A-Z",
                            (int)strnlen(c->enterprise, sizeof c->enterprise),
                            c->enterprise);
    if (strnlen(c->model, sizeof c->model) == sizeof c->model ||
        !country_prefixed(c->model, 12))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential model '%.*s' is not a 12-character "
                            "model id",
                            (int)strnlen(c->model, sizeof c->model), c->model);
    if (strnlen(c->production_date, sizeof c->production_date) != 10 ||
        !calendar_date(c->production_date))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential production date '%.*s' is not a "
                            "calendar date YYYY-MM-DD",
                            (int)strnlen(c->production_date,
                                         sizeof c->production_date),
                            c->production_date);
    if (strnlen(c->device_key, sizeof c->device_key) ==
            sizeof c->device_key ||
        (c->device_key[0] != '\0' && !key_b64(c->device_key)))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential device key '%.*s' is not the base64 "
                            "of a 32-byte public key",
                            (int)strnlen(c->device_key, FIELD_QUOTE),
                            c->device_key);
    if (strnlen(c->issued_at, sizeof c->issued_at) == sizeof c->issued_at ||
        !rfc3339_ms(c->issued_at))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "credential time of issue '%.*s' is not "
                            "YYYY-MM-DDTHH:MM:SS.mmmZ",
                            (int)strnlen(c->issued_at, sizeof c->issued_at),
                            c->issued_at);

    dk = c->device_key[0] != '\0' ? c->device_key : "-";
    need = sizeof credential_tag - 1 + HRID_CODE_LEN + 1 + 6 + 1 + 12 + 1 +
           10 + 1 + strlen(dk) + 1 + 24 + 1;
    if (need >= size)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "credential message needs %zu bytes, room for %zu",
                            need + 1, size);
    memcpy(out, credential_tag, sizeof credential_tag - 1);
    o = sizeof credential_tag - 1;
    put_line(out, &o, c->code, HRID_CODE_LEN);
    put_line(out, &o, c->enterprise, 6);
    put_line(out, &o, c->model, 12);
    put_line(out, &o, c->production_date, 10);
    put_line(out, &o, dk, strlen(dk));
    put_line(out, &o, c->issued_at, 24);
    out[o] = '\0';
    *len = o;
    return HRID_OK;
}

int hrid_credential_sign(const struct hrid_credential *c,
                         const unsigned char sk[64], unsigned char sig[64],
                         struct hrid_err *err)
{
    char msg[HRID_CREDENTIAL_MSG_MAX];
    size_t len;
    int rc;

    rc = hrid_credential_message(c, msg, sizeof msg, &len, err);
    if (rc != HRID_OK) {
        memset(sig, 0, 64);
        return rc;
    }
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, sk);
    return HRID_OK;
}

int hrid_credential_verify(const struct hrid_credential *c,
                           const unsigned char sig[64],
                           const unsigned char pk[32], struct hrid_err *err)
{
    char msg[HRID_CREDENTIAL_MSG_MAX];
    size_t len;
    int rc;

    rc = hrid_credential_message(c, msg, sizeof msg, &len, err);
    if (rc != HRID_OK)
        return rc;
    if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
                                    pk) != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "credential of '%s' is not signed by this key",
                            c->code);
    return HRID_OK;
}

/* ---- labels ------------------------------------------------------------ */

void hrid_platform_key_id(const unsigned char pk[32], unsigned char id[4])
{
    crypto_hash_sha256_state st;
    unsigned char h[32];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)platform_key_tag,
                              sizeof platform_key_tag - 1);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

/* Writes the message a label signs for a canonical code; returns its
 * length, LABEL_MSG_LEN. */
static size_t label_message(const char *code, char msg[LABEL_MSG_LEN])
{
    size_t o = sizeof label_tag - 1;

    memcpy(msg, label_tag, o);
    put_line(msg, &o, code, HRID_CODE_LEN);
    return o;
}

/* True when b may appear in a base URL: printable ASCII but space, and
 * neither '?' nor '#', which would end the URL's path. */
static bool url_byte(unsigned char b)
{
    return b > 0x20 && b < 0x7F && b != '?' && b != '#';
}

int hrid_label_make(const char *base_url, const char *code,
                    const unsigned char sk[64], char *out, size_t size,
                    struct hrid_err *err)
{
    char canonical[HRID_CODE_LEN + 1];
    char msg[LABEL_MSG_LEN];
    unsigned char blob[LABEL_BLOB_LEN];
    char s[HRID_LABEL_SIG_LEN + 1];
    size_t blen = strlen(base_url), need;
    int rc;

    if (size > 0)
        out[0] = '\0';
    if (blen == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "base url is empty");
    for (size_t i = 0; i < blen; i++)
        if (!url_byte((unsigned char)base_url[i]))
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "base url byte %zu is not printable ascii "
                                "without space, '?' or '#'", i + 1);
    if (base_url[blen - 1] == '/')
        return hrid_err_set(err, HRID_EINVAL, 0, (int)blen,
                            "base url '%s' ends in '/'", base_url);
    rc = hrid_code_parse(code, strlen(code), canonical, err);
    if (rc != HRID_OK)
        return rc;
    need = blen + 3 + HRID_CODE_LEN + 3 + HRID_LABEL_SIG_LEN;
    if (need > HRID_LABEL_MAX)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "label would be %zu bytes, longer than %d", need,
                            HRID_LABEL_MAX);
    if (need >= size)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "label needs %zu bytes, room for %zu", need + 1,
                            size);

    hrid_platform_key_id(sk + 32, blob);
    crypto_sign_detached(blob + 4, NULL, (const unsigned char *)msg,
                         label_message(canonical, msg), sk);
    sodium_bin2base64(s, sizeof s, blob, sizeof blob,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, size, "%s/v/%s?s=%s", base_url, canonical, s);
    return HRID_OK;
}

/* Fills err for a refused label and returns status. */
static int label_refused(struct hrid_err *err, int status, int reason,
                         const char *msg)
{
    return hrid_err_set(err, status, reason, 0, "%s", msg);
}

int hrid_label_verify(const char *text, size_t len, const unsigned char pk[32],
                      char code[HRID_CODE_LEN + 1], struct hrid_err *err)
{
    unsigned char blob[LABEL_BLOB_LEN], id[4];
    char msg[LABEL_MSG_LEN];
    const char *q, *v = NULL, *s;
    size_t blen = 0;
    int rc;

    code[0] = '\0';
    if (len > HRID_LABEL_MAX)
        return hrid_err_set(err, HRID_EINVAL, HRID_LABEL_MALFORMED, 0,
                            "label is %zu bytes, longer than %d", len,
                            HRID_LABEL_MAX);
    q = memchr(text, '?', len);
    if (q == NULL)
        return label_refused(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                             "label has no signature (no '?s=')");
    /* The code part follows the last "/v/" before the '?'. */
    for (const char *p = text; p + 3 <= q; p++)
        if (memcmp(p, "/v/", 3) == 0)
            v = p;
    if (v == NULL)
        return label_refused(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                             "label has no '/v/' before its code");
    if (v == text)
        return label_refused(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                             "label has no base url");
    for (const char *p = text; p < v; p++)
        if (!url_byte((unsigned char)*p))
            return hrid_err_set(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                                (int)(p - text + 1),
                                "label byte %zu is not printable ascii "
                                "without space or '#'",
                                (size_t)(p - text + 1));
    if ((size_t)(text + len - q) < 3 || memcmp(q, "?s=", 3) != 0)
        return label_refused(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                             "label has no signature (no '?s=')");
    s = q + 3;
    if ((size_t)(text + len - s) != HRID_LABEL_SIG_LEN)
        return hrid_err_set(err, HRID_EINVAL, HRID_LABEL_MALFORMED, 0,
                            "label signature is %zu characters, expected %d",
                            (size_t)(text + len - s), HRID_LABEL_SIG_LEN);
    if (base64_decode(blob, sizeof blob, s, HRID_LABEL_SIG_LEN, &blen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        blen != sizeof blob)
        return label_refused(err, HRID_EINVAL, HRID_LABEL_MALFORMED,
                             "label signature is not base64url");

    rc = hrid_code_parse(v + 3, (size_t)(q - v - 3), code, err);
    if (rc != HRID_OK) {
        if (err != NULL)
            err->reason = HRID_LABEL_BAD_CODE;
        return rc;
    }
    hrid_platform_key_id(pk, id);
    if (memcmp(blob, id, 4) != 0)
        return hrid_err_set(err, HRID_EVERIFY, HRID_LABEL_UNKNOWN_KEY, 0,
                            "label is signed by key %02x%02x%02x%02x, not by "
                            "the platform key %02x%02x%02x%02x",
                            blob[0], blob[1], blob[2], blob[3], id[0], id[1],
                            id[2], id[3]);
    if (crypto_sign_verify_detached(blob + 4, (const unsigned char *)msg,
                                    label_message(code, msg), pk) != 0)
        return label_refused(err, HRID_EVERIFY, HRID_LABEL_BAD_SIGNATURE,
                             "label signature does not verify");
    return HRID_OK;
}

/* ---- device challenges ------------------------------------------------- */

/* Builds the challenge message for code and nonce into msg; returns
 * HRID_OK with *len set, or HRID_EINVAL for a bad code or nonce. */
static int challenge_message(const char *code, const char *nonce,
                             char msg[CHALLENGE_MSG_MAX], size_t *len,
                             struct hrid_err *err)
{
    char canonical[HRID_CODE_LEN + 1];
    size_t nlen = strnlen(nonce, HRID_NONCE_MAX + 1), o;
    int rc;

    rc = hrid_code_parse(code, strlen(code), canonical, err);
    if (rc != HRID_OK)
        return rc;
    if (nlen == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "nonce is empty");
    if (nlen > HRID_NONCE_MAX)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "nonce is longer than %d bytes", HRID_NONCE_MAX);
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char)nonce[i] < 0x20 || (unsigned char)nonce[i] > 0x7E)
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "nonce byte %zu is not printable ascii",
                                i + 1);
    o = sizeof challenge_tag - 1;
    memcpy(msg, challenge_tag, o);
    put_line(msg, &o, canonical, HRID_CODE_LEN);
    put_line(msg, &o, nonce, nlen);
    *len = o;
    return HRID_OK;
}

int hrid_challenge_sign(const char *code, const char *nonce,
                        const unsigned char device_sk[64],
                        unsigned char sig[64], struct hrid_err *err)
{
    char msg[CHALLENGE_MSG_MAX];
    size_t len = 0;
    int rc;

    rc = challenge_message(code, nonce, msg, &len, err);
    if (rc != HRID_OK) {
        memset(sig, 0, 64);
        return rc;
    }
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len,
                         device_sk);
    return HRID_OK;
}

int hrid_challenge_verify(const char *code, const char *nonce,
                          const unsigned char device_pk[32],
                          const unsigned char sig[64], struct hrid_err *err)
{
    char msg[CHALLENGE_MSG_MAX];
    size_t len = 0;
    int rc;

    rc = challenge_message(code, nonce, msg, &len, err);
    if (rc != HRID_OK)
        return rc;
    if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, len,
                                    device_pk) != 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "challenge answer for '%.29s' does not verify",
                            msg + sizeof challenge_tag - 1);
    return HRID_OK;
}
