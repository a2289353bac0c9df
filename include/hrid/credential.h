/*
 * hrid/credential.h - what the platform signs about a unit, and how a
 * phone or the robot itself proves it (DESIGN §5, "genuine labels").
 *
 * Three signed statements, each an exact byte string under Ed25519:
 *
 *   credential  the platform's statement of a unit's identity: code,
 *               enterprise, model, production date, device public key
 *               and time of issue, one a line:
 *                 hrid-credential/v1\n<code>\n<enterprise>\n<model>\n
 *                 <YYYY-MM-DD>\n<device key base64, or ->\n
 *                 <issued at, YYYY-MM-DDTHH:MM:SS.mmmZ>\n
 *   label       the text inside a unit's QR code, a URL that a phone
 *               opens online and can check offline against the published
 *               platform key:
 *                 <base URL>/v/<code>?s=<base64url(key id || signature)>
 *               where the signature covers "hrid-label/v1\n<code>\n";
 *   challenge   the robot's answer to a nonce from the registry, signed
 *               with the device key registered for its code, which shows
 *               that the robot holds the key and is not a copied label:
 *                 hrid-challenge/v1\n<code>\n<nonce>\n
 *
 * Codes inside the signed bytes are always canonical (hrid/code.h).  The
 * first line of each message names its kind and version, so a signature
 * over one can never be taken for another.
 *
 * The platform key's id, printed in labels so that a verifier knows
 * which key to check against when keys rotate, is the first four bytes of
 * SHA-256("hrid-platform-key/v1\n" || public key).  Public keys as text
 * are standard base64 with padding, 44 characters.
 *
 * Keys are libsodium's Ed25519 keys: a 32-byte public key and a 64-byte
 * secret key whose second half is the public key.  Callers initialise
 * libsodium (sodium_init) as for any use of it.  Every function here is
 * reentrant: no global state, no allocation.
 */
#ifndef HRID_CREDENTIAL_H
#define HRID_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "hrid/code.h"
#include "hrid/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The length of an Ed25519 public key in standard base64: 32 bytes. */
#define HRID_PUBLIC_KEY_B64_LEN 44

/* A unit's credential.  Plain data; every member NUL-terminated. */
struct hrid_credential {
    char code[HRID_CODE_LEN + 1];   /* canonical identity code */
    char enterprise[7];             /* country + enterprise, CN0001 */
    char model[13];                 /* model id, 12 characters */
    char production_date[11];       /* YYYY-MM-DD */
    char device_key[HRID_PUBLIC_KEY_B64_LEN + 1];  /* base64, "" if none */
    char issued_at[25];             /* 2026-05-22T08:30:00.000Z */
};

/* The longest credential message: 150 bytes when every field is full;
 * 256 keeps a margin for the caller's buffers. */
#define HRID_CREDENTIAL_MSG_MAX 256

/*
 * Writes the credential's signed message (the exact bytes above) and a
 * NUL to out (size bytes; HRID_CREDENTIAL_MSG_MAX always suffices) and
 * its length without the NUL to *len.  Checks every field first: the code
 * with hrid_code_validate; the enterprise as two letters A-Z and four
 * characters 0-9A-Z; the model as twelve characters, letters A-Z then
 * 0-9A-Z; the production date as a real calendar date YYYY-MM-DD; the
 * device key as empty or the base64 of 32 bytes; the time of issue as
 * RFC 3339 UTC with milliseconds, YYYY-MM-DDTHH:MM:SS.mmmZ.  Returns
 * HRID_OK, HRID_EINVAL naming the field ("credential production date
 * '2026-02-30' is not a calendar date") or HRID_ERANGE when out is too
 * small; on failure out is an empty string when size > 0 and *len is 0.
 */
int hrid_credential_message(const struct hrid_credential *c, char *out,
                            size_t size, size_t *len, struct hrid_err *err);

/* Signs the credential's message with the platform's secret key sk and
 * writes the 64-byte signature to sig.  Returns HRID_OK or the
 * hrid_credential_message error; on failure sig is zeroed. */
int hrid_credential_sign(const struct hrid_credential *c,
                         const unsigned char sk[64], unsigned char sig[64],
                         struct hrid_err *err);

/* Verifies sig over the credential's message with the platform's public
 * key pk.  Returns HRID_OK, the hrid_credential_message error for a
 * malformed credential, or HRID_EVERIFY "credential of 'CODE' is not
 * signed by this key".  Allocates nothing. */
int hrid_credential_verify(const struct hrid_credential *c,
                           const unsigned char sig[64],
                           const unsigned char pk[32], struct hrid_err *err);

/* The longest label hrid_label_make writes or hrid_label_verify accepts:
 * "/v/", a code, "?s=" and 91 characters of signature take 126 bytes,
 * which leaves 386 for the base URL; a QR code of version 10 at error
 * correction level M holds 213 bytes, so real labels stay far below. */
#define HRID_LABEL_MAX 512

/* The signature parameter of a label: base64url without padding of the
 * 4-byte key id and the 64-byte signature. */
#define HRID_LABEL_SIG_LEN 91

/* Writes the key id of the platform key pk to id. */
void hrid_platform_key_id(const unsigned char pk[32], unsigned char id[4]);

/*
 * Makes the label of a unit: <base_url>/v/<code>?s=<signature> and a NUL
 * in out (size bytes; HRID_LABEL_MAX + 1 always suffices), signed with
 * the platform's secret key sk, whose public half (sk + 32) gives the key
 * id.  code is canonicalised first (forgiving input, as hrid_code_parse).
 * base_url is the platform's address without a trailing slash: non-empty
 * printable ASCII without spaces, '?' or '#', such as
 * "https://hrid.example.gov.cn".  Returns HRID_OK, HRID_EINVAL for a bad
 * base URL or the hrid_code_parse error for a bad code, or HRID_ERANGE
 * when the label would be longer than HRID_LABEL_MAX or does not fit
 * out; on failure out is an empty string when size > 0.
 */
int hrid_label_make(const char *base_url, const char *code,
                    const unsigned char sk[64], char *out, size_t size,
                    struct hrid_err *err);

/* Why hrid_label_verify refused a label; stored in hrid_err.reason. */
enum hrid_label_reason {
    HRID_LABEL_MALFORMED = 1,  /* not <base>/v/<code>?s=<signature> */
    HRID_LABEL_BAD_CODE,       /* the code part is not a valid code */
    HRID_LABEL_UNKNOWN_KEY,    /* signed by another key than the one given */
    HRID_LABEL_BAD_SIGNATURE   /* the signature does not verify */
};

/*
 * Checks a scanned label offline (len bytes at text; need not be
 * NUL-terminated) against the platform public key pk.  The code part, the
 * text between the last "/v/" and the '?', may be in any form that
 * hrid_code_parse accepts; the base URL before it is checked for its
 * characters only, as the signature does not cover it: a label is
 * genuine wherever it points, and where it points is for the reader to
 * judge.  Writes the canonical code to code whenever the code part
 * parsed, even when the signature then fails, and an empty string
 * otherwise.  Returns HRID_OK when the label is genuine; otherwise
 * err->reason is an enum hrid_label_reason and the status is
 *   HRID_EINVAL   MALFORMED, with what is wrong, or BAD_CODE, with the
 *                 message (and position) of hrid_code_parse;
 *   HRID_EVERIFY  UNKNOWN_KEY, the label names another key id, or
 *                 BAD_SIGNATURE.
 * Malformations are reported before a bad code, a bad code before a key
 * or signature failure.  Allocates nothing.
 */
int hrid_label_verify(const char *text, size_t len, const unsigned char pk[32],
                      char code[HRID_CODE_LEN + 1], struct hrid_err *err);

/* The longest nonce of a device challenge: the registry's nonces are 32
 * random bytes in some text encoding (64 hex digits, 43 base64url
 * characters); 256 admits any reasonable encoding and prefix. */
#define HRID_NONCE_MAX 256

/*
 * Signs the device challenge for code (forgiving input, canonicalised as
 * hrid_code_parse) and nonce (NUL-terminated, 1 to HRID_NONCE_MAX bytes
 * of printable ASCII, space included, exactly as the registry sent it)
 * with the device's secret key device_sk, and writes the signature to
 * sig.  Returns HRID_OK, or HRID_EINVAL for a bad code or nonce; on
 * failure sig is zeroed.
 */
int hrid_challenge_sign(const char *code, const char *nonce,
                        const unsigned char device_sk[64],
                        unsigned char sig[64], struct hrid_err *err);

/* Verifies a device's answer sig to the challenge (code, nonce) with the
 * device public key registered for the code.  Returns HRID_OK, HRID_EINVAL
 * for a bad code or nonce, or HRID_EVERIFY "challenge answer for 'CODE'
 * does not verify".  Allocates nothing. */
int hrid_challenge_verify(const char *code, const char *nonce,
                          const unsigned char device_pk[32],
                          const unsigned char sig[64], struct hrid_err *err);

#ifdef __cplusplus
}
#endif
#endif
