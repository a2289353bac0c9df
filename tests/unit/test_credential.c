/*
 * test_credential.c - unit tests of lib/credential.c: unit credentials,
 * QR label signatures and device challenges
 * (include/hrid/credential.h).
 *
 * Known answers are built here independently of the library: the signed
 * messages are written out as literal bytes and signed with
 * crypto_sign_detached, key ids are SHA-256 over the concatenated bytes,
 * labels are assembled with sodium_bin2base64; the library must produce
 * the same bytes.  Keys come from fixed seeds, so every output is
 * deterministic.  Every single-byte change of a signed field, of a label
 * or of a nonce must make verification fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hrid/credential.h"

static const char CODE1[] = "CNA7K23260012605220000001234U";
static const char CODE2[] = "CN00010260010000000000000001N";
static const char BASE[] = "https://hrid.example.gov.cn";

struct key {
    unsigned char pk[32];
    unsigned char sk[64];
};

static struct key platform, other, device;
static char device_b64[HRID_PUBLIC_KEY_B64_LEN + 1];

static void seeded_key(struct key *k, unsigned char fill)
{
    unsigned char seed[32];

    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(fill + i);
    assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    seeded_key(&platform, 0x10);
    seeded_key(&other, 0x20);
    seeded_key(&device, 0x30);
    sodium_bin2base64(device_b64, sizeof device_b64, device.pk, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

static void credential1(struct hrid_credential *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->code, CODE1);
    strcpy(c->enterprise, "CNA7K2");
    strcpy(c->model, "CNA7K2326001");
    strcpy(c->production_date, "2026-05-22");
    strcpy(c->device_key, device_b64);
    strcpy(c->issued_at, "2026-05-22T08:30:00.000Z");
}

/* ---- credentials ------------------------------------------------------- */

static void test_credential_message(void **state)
{
    struct hrid_credential c;
    struct hrid_err err;
    char msg[HRID_CREDENTIAL_MSG_MAX], want[HRID_CREDENTIAL_MSG_MAX];
    size_t len = 0;

    (void)state;
    credential1(&c);
    snprintf(want, sizeof want,
             "hrid-credential/v1\n"
             "CNA7K23260012605220000001234U\n"
             "CNA7K2\n"
             "CNA7K2326001\n"
             "2026-05-22\n"
             "%s\n"
             "2026-05-22T08:30:00.000Z\n", device_b64);
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_OK);
    assert_string_equal(msg, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(len, 150);     /* the longest message there is */

    /* Without a device key, "-" stands in its line. */
    c.device_key[0] = '\0';
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_OK);
    assert_string_equal(msg, "hrid-credential/v1\n"
                             "CNA7K23260012605220000001234U\n"
                             "CNA7K2\n"
                             "CNA7K2326001\n"
                             "2026-05-22\n"
                             "-\n"
                             "2026-05-22T08:30:00.000Z\n");
    /* The buffer: exactly enough, then one byte short. */
    assert_int_equal(hrid_credential_message(&c, msg, len + 1, &len, &err),
                     HRID_OK);
    assert_int_equal(hrid_credential_message(&c, msg, len, &len, &err),
                     HRID_ERANGE);
    assert_string_equal(msg, "");
    assert_int_equal(len, 0);
}

static void test_credential_known_answer(void **state)
{
    struct hrid_credential c;
    struct hrid_err err;
    char msg[HRID_CREDENTIAL_MSG_MAX];
    unsigned char sig[64], want[64];
    int n;

    (void)state;
    credential1(&c);
    n = snprintf(msg, sizeof msg,
                 "hrid-credential/v1\nCNA7K23260012605220000001234U\nCNA7K2\n"
                 "CNA7K2326001\n2026-05-22\n%s\n2026-05-22T08:30:00.000Z\n",
                 device_b64);
    assert_int_equal(crypto_sign_detached(want, NULL,
                                          (const unsigned char *)msg,
                                          (unsigned long long)n,
                                          platform.sk), 0);
    assert_int_equal(hrid_credential_sign(&c, platform.sk, sig, &err),
                     HRID_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(hrid_credential_verify(&c, sig, platform.pk, &err),
                     HRID_OK);
    assert_int_equal(hrid_credential_verify(&c, sig, other.pk, &err),
                     HRID_EVERIFY);
    assert_string_equal(err.msg, "credential of "
                                 "'CNA7K23260012605220000001234U' is not "
                                 "signed by this key");
    sig[10] ^= 1;
    assert_int_equal(hrid_credential_verify(&c, sig, platform.pk, &err),
                     HRID_EVERIFY);
}

/* Every single-byte change of any field makes the credential fail to
 * verify: either the field no longer passes its checks, or the message
 * differs from the one signed. */
static void test_credential_every_field_byte(void **state)
{
    static const char repl[] = "0129AZaz-:.T+/= \x7F\xC3";
    struct hrid_credential c, bad;
    struct hrid_err err;
    unsigned char sig[64];
    struct {
        char *f;
        size_t size;
    } fields[6];
    size_t changes = 0;

    (void)state;
    credential1(&c);
    assert_int_equal(hrid_credential_sign(&c, platform.sk, sig, &err),
                     HRID_OK);
    for (int k = 0; k < 6; k++) {
        bad = c;
        fields[0].f = bad.code;
        fields[0].size = sizeof bad.code;
        fields[1].f = bad.enterprise;
        fields[1].size = sizeof bad.enterprise;
        fields[2].f = bad.model;
        fields[2].size = sizeof bad.model;
        fields[3].f = bad.production_date;
        fields[3].size = sizeof bad.production_date;
        fields[4].f = bad.device_key;
        fields[4].size = sizeof bad.device_key;
        fields[5].f = bad.issued_at;
        fields[5].size = sizeof bad.issued_at;
        for (size_t i = 0; i < strlen(fields[k].f); i++) {
            for (size_t r = 0; r < sizeof repl - 1; r++) {
                char saved = fields[k].f[i];
                int st;

                if (repl[r] == saved)
                    continue;
                fields[k].f[i] = repl[r];
                st = hrid_credential_verify(&bad, sig, platform.pk, &err);
                if (st == HRID_OK)
                    fail_msg("field %d byte %zu changed to '%c' verifies", k,
                             i, repl[r]);
                assert_true(st == HRID_EINVAL || st == HRID_EVERIFY);
                fields[k].f[i] = saved;
                changes++;
            }
        }
        /* Cut short by one character. */
        fields[k].f[strlen(fields[k].f) - 1] = '\0';
        assert_int_not_equal(hrid_credential_verify(&bad, sig, platform.pk,
                                                    &err), HRID_OK);
    }
    assert_true(changes > 1500);
    /* Dropping the device key changes the message too. */
    bad = c;
    bad.device_key[0] = '\0';
    assert_int_equal(hrid_credential_verify(&bad, sig, platform.pk, &err),
                     HRID_EVERIFY);
}

static void test_credential_field_errors(void **state)
{
    struct hrid_credential c;
    struct hrid_err err;
    unsigned char sig[64], zero[64] = {0};
    char msg[HRID_CREDENTIAL_MSG_MAX];
    size_t len = 7;

    (void)state;
    credential1(&c);
    strcpy(c.code, "CNA7K23260012605220000001234K");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "credential code "
                                 "'CNA7K23260012605220000001234K': check "
                                 "character is 'K', expected 'U'");
    assert_int_equal(len, 0);
    assert_string_equal(msg, "");
    strcpy(c.code, "cna7k23260012605220000001234u");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    strcpy(c.code, "CNA7K2");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg,
                        "credential code 'CNA7K2' is not 29 characters");

    credential1(&c);
    strcpy(c.enterprise, "C1A7K2");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "credential enterprise 'C1A7K2' is not a "
                                 "country and four characters 0-9A-Z");
    strcpy(c.enterprise, "CNA7K");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    /* A field without its NUL is refused, not read past. */
    memset(c.enterprise, 'A', sizeof c.enterprise);
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);

    credential1(&c);
    strcpy(c.model, "CNA7K232600");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "credential model 'CNA7K232600' is not a "
                                 "12-character model id");
    strcpy(c.model, "CNA7K232600a");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);

    credential1(&c);
    strcpy(c.production_date, "2026-02-30");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "credential production date '2026-02-30' "
                                 "is not a calendar date YYYY-MM-DD");
    strcpy(c.production_date, "2024-02-29");       /* a leap year */
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_OK);
    strcpy(c.production_date, "2100-02-29");       /* not one */
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    strcpy(c.production_date, "2000-02-29");       /* one again */
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_OK);
    strcpy(c.production_date, "2026-5-22");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    strcpy(c.production_date, "2026-13-01");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);

    credential1(&c);
    c.device_key[43] = 'A';     /* the padding '=' replaced */
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_true(strstr(err.msg, "credential device key '") == err.msg);
    strcpy(c.device_key, "-");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);

    credential1(&c);
    strcpy(c.issued_at, "2026-05-22T08:30:00Z");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "credential time of issue "
                                 "'2026-05-22T08:30:00Z' is not "
                                 "YYYY-MM-DDTHH:MM:SS.mmmZ");
    strcpy(c.issued_at, "2026-05-22T24:00:00.000Z");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    strcpy(c.issued_at, "2026-05-22T08:30:00.000+");
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_EINVAL);
    strcpy(c.issued_at, "2026-12-31T23:59:60.999Z");   /* a leap second */
    assert_int_equal(hrid_credential_message(&c, msg, sizeof msg, &len, &err),
                     HRID_OK);

    /* Signing refuses what verifying would, and leaves no signature. */
    strcpy(c.issued_at, "yesterday");
    memset(sig, 0xAA, sizeof sig);
    assert_int_equal(hrid_credential_sign(&c, platform.sk, sig, &err),
                     HRID_EINVAL);
    assert_memory_equal(sig, zero, 64);
}

/* ---- labels ------------------------------------------------------------ */

static void test_platform_key_id(void **state)
{
    static const char tag[] = "hrid-platform-key/v1\n";
    unsigned char buf[sizeof tag - 1 + 32], h[32], id[4];

    (void)state;
    memcpy(buf, tag, sizeof tag - 1);
    memcpy(buf + sizeof tag - 1, platform.pk, 32);
    crypto_hash_sha256(h, buf, sizeof buf);
    hrid_platform_key_id(platform.pk, id);
    assert_memory_equal(id, h, 4);
    hrid_platform_key_id(other.pk, id);
    assert_memory_not_equal(id, h, 4);
}

/* The label of code under key k, assembled by hand. */
static void ref_label(const char *base, const char *code, const struct key *k,
                      char *out, size_t size)
{
    static const char tag[] = "hrid-platform-key/v1\n";
    unsigned char kbuf[sizeof tag - 1 + 32], h[32], blob[68];
    char msg[64], s[128];
    int n;

    memcpy(kbuf, tag, sizeof tag - 1);
    memcpy(kbuf + sizeof tag - 1, k->pk, 32);
    crypto_hash_sha256(h, kbuf, sizeof kbuf);
    memcpy(blob, h, 4);
    n = snprintf(msg, sizeof msg, "hrid-label/v1\n%s\n", code);
    assert_int_equal(crypto_sign_detached(blob + 4, NULL,
                                          (const unsigned char *)msg,
                                          (unsigned long long)n, k->sk), 0);
    sodium_bin2base64(s, sizeof s, blob, sizeof blob,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(strlen(s), 91);
    snprintf(out, size, "%s/v/%s?s=%s", base, code, s);
}

static void test_label_known_answer(void **state)
{
    char label[HRID_LABEL_MAX + 1], want[HRID_LABEL_MAX + 1];
    char code[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    ref_label(BASE, CODE1, &platform, want, sizeof want);
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     sizeof label, &err), HRID_OK);
    assert_string_equal(label, want);
    assert_int_equal(strlen(label), strlen(BASE) + 126);
    /* Forgiving input, canonical label. */
    assert_int_equal(hrid_label_make(BASE, "cn-a7k2-326001-2605220000001234-u",
                                     platform.sk, label, sizeof label, &err),
                     HRID_OK);
    assert_string_equal(label, want);

    memset(code, 'x', sizeof code);
    assert_int_equal(hrid_label_verify(label, strlen(label), platform.pk,
                                       code, &err), HRID_OK);
    assert_string_equal(code, CODE1);
    assert_int_equal(hrid_label_verify(label, strlen(label), platform.pk,
                                       code, NULL), HRID_OK);

    ref_label("http://127.0.0.1:8080", CODE2, &platform, want, sizeof want);
    assert_int_equal(hrid_label_make("http://127.0.0.1:8080", CODE2,
                                     platform.sk, label, sizeof label, &err),
                     HRID_OK);
    assert_string_equal(label, want);
    assert_int_equal(hrid_label_verify(label, strlen(label), platform.pk,
                                       code, &err), HRID_OK);
    assert_string_equal(code, CODE2);

    /* The text need not be NUL-terminated: a longer buffer, len given. */
    strcat(label, "garbage");
    assert_int_equal(hrid_label_verify(label, strlen(label) - 7, platform.pk,
                                       code, &err), HRID_OK);
}

static void test_label_forgiving_code(void **state)
{
    char label[HRID_LABEL_MAX + 1], typed[HRID_LABEL_MAX + 1];
    char code[HRID_CODE_LEN + 1], *v;
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     sizeof label, &err), HRID_OK);
    v = strstr(label, "/v/") + 3;
    /* The display form and lower case, as a person might type them. */
    snprintf(typed, sizeof typed, "%.*scn-a7k2-326001-2605220000001234-u%s",
             (int)(v - label), label, v + HRID_CODE_LEN);
    assert_int_equal(hrid_label_verify(typed, strlen(typed), platform.pk,
                                       code, &err), HRID_OK);
    assert_string_equal(code, CODE1);
    /* The base URL is not signed: the same label served elsewhere is
     * still genuine, and a "/v/" inside the base does not confuse. */
    snprintf(typed, sizeof typed, "https://mirror.example/v/x%s", v - 3);
    assert_int_equal(hrid_label_verify(typed, strlen(typed), platform.pk,
                                       code, &err), HRID_OK);
    assert_string_equal(code, CODE1);
}

static void expect_refused(const char *label, size_t len, int status,
                           int reason, const char *msg)
{
    char code[HRID_CODE_LEN + 1];
    struct hrid_err err;

    memset(code, 'x', sizeof code);
    assert_int_equal(hrid_label_verify(label, len, platform.pk, code, &err),
                     status);
    assert_int_equal(err.reason, reason);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
    if (reason == HRID_LABEL_MALFORMED || reason == HRID_LABEL_BAD_CODE)
        assert_string_equal(code, "");
    else
        assert_string_equal(code, CODE1);
}

static void test_label_malformed(void **state)
{
    char label[HRID_LABEL_MAX + 1], bad[2 * HRID_LABEL_MAX];
    char *q, *v;
    size_t len;

    (void)state;
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     sizeof label, NULL), HRID_OK);
    len = strlen(label);
    q = strchr(label, '?');
    v = strstr(label, "/v/");

    /* No query, no s=, another parameter. */
    expect_refused(label, (size_t)(q - label), HRID_EINVAL,
                   HRID_LABEL_MALFORMED, "label has no signature (no '?s=')");
    snprintf(bad, sizeof bad, "%.*s?t=%s", (int)(q - label), label, q + 3);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label has no signature (no '?s=')");
    snprintf(bad, sizeof bad, "%.*s?", (int)(q - label), label);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label has no signature (no '?s=')");
    /* Signatures of the wrong length. */
    expect_refused(label, len - 1, HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label signature is 90 characters, expected 91");
    snprintf(bad, sizeof bad, "%sA", label);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label signature is 92 characters, expected 91");
    snprintf(bad, sizeof bad, "%s&x=1", label);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label signature is 95 characters, expected 91");
    /* Standard base64 characters are not base64url. */
    memcpy(bad, label, len + 1);
    bad[q - label + 10] = '+';
    expect_refused(bad, len, HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label signature is not base64url");
    bad[q - label + 10] = '/';
    expect_refused(bad, len, HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label signature is not base64url");
    /* No "/v/", no base, a space in the base. */
    snprintf(bad, sizeof bad, "%.*s/w/%s", (int)(v - label), label, v + 3);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label has no '/v/' before its code");
    expect_refused(v, strlen(v), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label has no base url");
    snprintf(bad, sizeof bad, "https://hrid example%s", v);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label byte 13 is not printable ascii without space or "
                   "'#'");
    /* Too long. */
    memset(bad, 'a', sizeof bad);
    memcpy(bad + HRID_LABEL_MAX + 1 - len, label, len);
    expect_refused(bad, HRID_LABEL_MAX + 1, HRID_EINVAL, HRID_LABEL_MALFORMED,
                   "label is 513 bytes, longer than 512");
    expect_refused("", 0, HRID_EINVAL, HRID_LABEL_MALFORMED, NULL);
    /* At the limit it is fine. */
    memcpy(bad, "https://", 8);
    memcpy(bad + HRID_LABEL_MAX - len, label, len);
    {
        char code[HRID_CODE_LEN + 1];

        assert_int_equal(hrid_label_verify(bad, HRID_LABEL_MAX, platform.pk,
                                           code, NULL), HRID_OK);
    }
}

static void test_label_code_key_signature(void **state)
{
    char label[HRID_LABEL_MAX + 1], l2[HRID_LABEL_MAX + 1];
    char bad[HRID_LABEL_MAX + 1], code[HRID_CODE_LEN + 1];
    struct hrid_err err, code_err;
    char canon[HRID_CODE_LEN + 1];
    char *v;
    unsigned char id[4];
    char want[128];

    (void)state;
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     sizeof label, NULL), HRID_OK);
    v = strstr(label, "/v/") + 3;

    /* A bad check character: the code's own message and position. */
    memcpy(bad, label, strlen(label) + 1);
    bad[v - label + 28] = 'K';
    assert_int_equal(hrid_code_parse(bad + (v - label), 29, canon, &code_err),
                     HRID_EINVAL);
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_BAD_CODE,
                   code_err.msg);
    assert_string_equal(code_err.msg,
                        "check character is 'K', expected 'U'");
    hrid_label_verify(bad, strlen(bad), platform.pk, code, &err);
    assert_int_equal(err.pos, 29);
    bad[v - label + 28] = 'U';
    bad[v - label + 16] = '*';
    expect_refused(bad, strlen(bad), HRID_EINVAL, HRID_LABEL_BAD_CODE,
                   "position 17: '*' is not in 0-9A-Z");

    /* Signed by another key: unknown key, naming both ids. */
    assert_int_equal(hrid_label_make(BASE, CODE1, other.sk, l2, sizeof l2,
                                     NULL), HRID_OK);
    hrid_platform_key_id(other.pk, id);
    {
        unsigned char pid[4];

        hrid_platform_key_id(platform.pk, pid);
        snprintf(want, sizeof want,
                 "label is signed by key %02x%02x%02x%02x, not by the "
                 "platform key %02x%02x%02x%02x", id[0], id[1], id[2], id[3],
                 pid[0], pid[1], pid[2], pid[3]);
    }
    expect_refused(l2, strlen(l2), HRID_EVERIFY, HRID_LABEL_UNKNOWN_KEY,
                   want);
    assert_int_equal(hrid_label_verify(l2, strlen(l2), other.pk, code, &err),
                     HRID_OK);

    /* Another code's signature under the right key: the code is written,
     * the signature fails. */
    assert_int_equal(hrid_label_make(BASE, CODE2, platform.sk, l2,
                                     sizeof l2, NULL), HRID_OK);
    snprintf(bad, sizeof bad, "%.*s%s", (int)(strchr(label, '?') - label),
             label, strchr(l2, '?'));
    expect_refused(bad, strlen(bad), HRID_EVERIFY, HRID_LABEL_BAD_SIGNATURE,
                   "label signature does not verify");
}

/* Every change of one byte of a label, from its "/v/" on, to any other
 * byte value makes it fail; the only exceptions are the changes that
 * leave the same code (a letter's case in the code part). */
static void test_label_every_byte(void **state)
{
    char label[HRID_LABEL_MAX + 1], bad[HRID_LABEL_MAX + 1];
    char code[HRID_CODE_LEN + 1];
    struct hrid_err err;
    size_t len, from, code_at, q_at, tried = 0;

    (void)state;
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     sizeof label, NULL), HRID_OK);
    len = strlen(label);
    from = (size_t)(strstr(label, "/v/") - label);
    code_at = from + 3;
    q_at = (size_t)(strchr(label, '?') - label);
    for (size_t i = from; i < len; i++) {
        for (int b = 0; b < 256; b++) {
            int st;

            if (b == (unsigned char)label[i])
                continue;
            if (i >= code_at && i < q_at && b == (label[i] | 0x20) &&
                label[i] >= 'A' && label[i] <= 'Z')
                continue;
            memcpy(bad, label, len + 1);
            bad[i] = (char)b;
            st = hrid_label_verify(bad, len, platform.pk, code, &err);
            if (st == HRID_OK)
                fail_msg("byte %zu changed to 0x%02x verifies", i, b);
            assert_int_equal(err.status, st);
            if (i < code_at || i >= q_at || b == '?') {
                /* Outside the code: the structure or the signature; a
                 * '?' inside it cuts the label short. */
                assert_true(err.reason == HRID_LABEL_MALFORMED ||
                            err.reason == HRID_LABEL_UNKNOWN_KEY ||
                            err.reason == HRID_LABEL_BAD_SIGNATURE);
            } else {
                assert_int_equal(err.reason, HRID_LABEL_BAD_CODE);
            }
            tried++;
        }
    }
    assert_true(tried > 120 * 250);
    /* In the base, bytes that cannot be in a URL are refused. */
    for (size_t i = 0; i < from; i++) {
        memcpy(bad, label, len + 1);
        bad[i] = ' ';
        assert_int_equal(hrid_label_verify(bad, len, platform.pk, code, &err),
                         HRID_EINVAL);
        assert_int_equal(err.reason, HRID_LABEL_MALFORMED);
    }
}

static void test_label_make_errors(void **state)
{
    char label[HRID_LABEL_MAX + 1], base[HRID_LABEL_MAX];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_label_make("", CODE1, platform.sk, label,
                                     sizeof label, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "base url is empty");
    assert_string_equal(label, "");
    assert_int_equal(hrid_label_make("https://hrid.example/", CODE1,
                                     platform.sk, label, sizeof label, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "base url 'https://hrid.example/' ends in "
                                 "'/'");
    assert_int_equal(hrid_label_make("https://hrid.example?x", CODE1,
                                     platform.sk, label, sizeof label, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "base url byte 21 is not printable ascii "
                                 "without space, '?' or '#'");
    assert_int_equal(hrid_label_make("https://hrid example", CODE1,
                                     platform.sk, label, sizeof label, &err),
                     HRID_EINVAL);
    assert_int_equal(hrid_label_make("https://hrid.example", "CNA7K2",
                                     platform.sk, label, sizeof label, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_LENGTH);
    assert_string_equal(label, "");

    /* The longest base URL, then one byte more; the buffer. */
    memset(base, 'b', sizeof base);
    base[HRID_LABEL_MAX - 126] = '\0';
    assert_int_equal(hrid_label_make(base, CODE1, platform.sk, label,
                                     sizeof label, &err), HRID_OK);
    assert_int_equal(strlen(label), HRID_LABEL_MAX);
    base[HRID_LABEL_MAX - 126] = 'b';
    base[HRID_LABEL_MAX - 125] = '\0';
    assert_int_equal(hrid_label_make(base, CODE1, platform.sk, label,
                                     sizeof label, &err), HRID_ERANGE);
    assert_string_equal(err.msg, "label would be 513 bytes, longer than 512");
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     strlen(BASE) + 127, &err), HRID_OK);
    assert_int_equal(hrid_label_make(BASE, CODE1, platform.sk, label,
                                     strlen(BASE) + 126, &err), HRID_ERANGE);
    assert_string_equal(label, "");
}

/* ---- device challenges ------------------------------------------------- */

static const char NONCE[] = "n-2026-05-22.3f9c1ab0e47d5a6b8c9d0e1f2a3b4c5d";

static void test_challenge_known_answer(void **state)
{
    unsigned char sig[64], want[64];
    char msg[512];
    struct hrid_err err;
    int n;

    (void)state;
    n = snprintf(msg, sizeof msg, "hrid-challenge/v1\n%s\n%s\n", CODE1,
                 NONCE);
    assert_int_equal(crypto_sign_detached(want, NULL,
                                          (const unsigned char *)msg,
                                          (unsigned long long)n, device.sk),
                     0);
    assert_int_equal(hrid_challenge_sign(CODE1, NONCE, device.sk, sig, &err),
                     HRID_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(hrid_challenge_verify(CODE1, NONCE, device.pk, sig,
                                           &err), HRID_OK);
    /* The code in any form the parser accepts is the same code. */
    assert_int_equal(hrid_challenge_sign("cn-a7k2-326001-2605220000001234-u",
                                         NONCE, device.sk, sig, &err),
                     HRID_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(hrid_challenge_verify("CN A7K2 326001 2605220000001234 U",
                                           NONCE, device.pk, sig, &err),
                     HRID_OK);

    /* Another code, another key, a changed signature. */
    assert_int_equal(hrid_challenge_verify(CODE2, NONCE, device.pk, sig,
                                           &err), HRID_EVERIFY);
    assert_string_equal(err.msg, "challenge answer for "
                                 "'CN00010260010000000000000001N' does not "
                                 "verify");
    assert_int_equal(hrid_challenge_verify(CODE1, NONCE, other.pk, sig, &err),
                     HRID_EVERIFY);
    sig[63] ^= 0x01;
    assert_int_equal(hrid_challenge_verify(CODE1, NONCE, device.pk, sig,
                                           &err), HRID_EVERIFY);
    /* A label signature is never a challenge answer: the tags differ. */
    n = snprintf(msg, sizeof msg, "hrid-label/v1\n%s\n", CODE1);
    assert_int_equal(crypto_sign_detached(sig, NULL,
                                          (const unsigned char *)msg,
                                          (unsigned long long)n, device.sk),
                     0);
    assert_int_equal(hrid_challenge_verify(CODE1, "x", device.pk, sig, &err),
                     HRID_EVERIFY);
}

static void test_challenge_every_nonce_byte(void **state)
{
    unsigned char sig[64];
    char bad[sizeof NONCE];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_challenge_sign(CODE1, NONCE, device.sk, sig, &err),
                     HRID_OK);
    for (size_t i = 0; i < strlen(NONCE); i++)
        for (int b = 1; b < 256; b++) {
            int st;

            if (b == (unsigned char)NONCE[i])
                continue;
            memcpy(bad, NONCE, sizeof NONCE);
            bad[i] = (char)b;
            st = hrid_challenge_verify(CODE1, bad, device.pk, sig, &err);
            if (b >= 0x20 && b <= 0x7E)
                assert_int_equal(st, HRID_EVERIFY);
            else
                assert_int_equal(st, HRID_EINVAL);
        }
    /* A prefix and an extension of the nonce. */
    memcpy(bad, NONCE, sizeof NONCE);
    bad[strlen(NONCE) - 1] = '\0';
    assert_int_equal(hrid_challenge_verify(CODE1, bad, device.pk, sig, &err),
                     HRID_EVERIFY);
}

static void test_challenge_nonce_errors(void **state)
{
    unsigned char sig[64], zero[64] = {0};
    char nonce[HRID_NONCE_MAX + 2];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_challenge_sign(CODE1, "", device.sk, sig, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "nonce is empty");
    assert_memory_equal(sig, zero, 64);
    assert_int_equal(hrid_challenge_sign(CODE1, "a\nb", device.sk, sig, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "nonce byte 2 is not printable ascii");
    assert_int_equal(hrid_challenge_sign(CODE1, "caf\xC3\xA9", device.sk, sig,
                                         &err), HRID_EINVAL);
    assert_string_equal(err.msg, "nonce byte 4 is not printable ascii");
    assert_int_equal(hrid_challenge_sign("CNA7K2", "n", device.sk, sig, &err),
                     HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_LENGTH);
    assert_int_equal(hrid_challenge_verify(CODE1, "", device.pk, sig, &err),
                     HRID_EINVAL);

    /* 1 and HRID_NONCE_MAX bytes, spaces included, are fine; one more is
     * not. */
    assert_int_equal(hrid_challenge_sign(CODE1, " ", device.sk, sig, &err),
                     HRID_OK);
    memset(nonce, '~', sizeof nonce);
    nonce[HRID_NONCE_MAX] = '\0';
    nonce[7] = ' ';
    assert_int_equal(hrid_challenge_sign(CODE1, nonce, device.sk, sig, &err),
                     HRID_OK);
    assert_int_equal(hrid_challenge_verify(CODE1, nonce, device.pk, sig,
                                           &err), HRID_OK);
    nonce[HRID_NONCE_MAX] = '~';
    nonce[HRID_NONCE_MAX + 1] = '\0';
    assert_int_equal(hrid_challenge_sign(CODE1, nonce, device.sk, sig, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "nonce is longer than 256 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credential_message),
        cmocka_unit_test(test_credential_known_answer),
        cmocka_unit_test(test_credential_every_field_byte),
        cmocka_unit_test(test_credential_field_errors),
        cmocka_unit_test(test_platform_key_id),
        cmocka_unit_test(test_label_known_answer),
        cmocka_unit_test(test_label_forgiving_code),
        cmocka_unit_test(test_label_malformed),
        cmocka_unit_test(test_label_code_key_signature),
        cmocka_unit_test(test_label_every_byte),
        cmocka_unit_test(test_label_make_errors),
        cmocka_unit_test(test_challenge_known_answer),
        cmocka_unit_test(test_challenge_every_nonce_byte),
        cmocka_unit_test(test_challenge_nonce_errors),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
