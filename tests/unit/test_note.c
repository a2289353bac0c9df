/*
 * test_note.c - unit tests of lib/note.c, C2SP signed notes and tlog
 * checkpoints (include/hrid/note.h).
 *
 * Known answers are built here independently of the library: key ids
 * with libsodium's SHA-256 over the concatenated bytes, signature lines
 * from crypto_sign_detached and sodium_bin2base64, so that a shared
 * misreading cannot hide; and the example of Go's sumdb/note package,
 * the format's reference implementation, must come out byte for byte.
 * Keys come from fixed seeds, so every output is deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hrid/note.h"

/* The example of golang.org/x/mod/sumdb/note: its signer key (the seed is
 * the base64 after "+c74f20a3+", less the algorithm byte), its verifier
 * key and the note its Sign example prints. */
static const char GO_SKEY_B64[] =
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char GO_VKEY[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char GO_TEXT[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char GO_NOTE[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"
    "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static const char NAME_A[] = "hrid.example.gov.cn/log";
static const char NAME_B[] = "witness.example.org";
static const char TEXT[] =
    "hrid.example.gov.cn/log\n"
    "28000\n"
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";

struct key {
    unsigned char pk[32];
    unsigned char sk[64];
};

static struct key key_a, key_b, key_c;

static void seeded_key(struct key *k, unsigned char fill)
{
    unsigned char seed[32];

    memset(seed, fill, sizeof seed);
    assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    seeded_key(&key_a, 0xA1);
    seeded_key(&key_b, 0xB2);
    seeded_key(&key_c, 0xC3);
    return 0;
}

/* The key id computed straight from its definition: SHA-256 of the
 * concatenated name, newline, algorithm byte and key. */
static void ref_key_id(const char *name, const unsigned char pk[32],
                       unsigned char id[4])
{
    unsigned char buf[512], h[32];
    size_t n = strlen(name);

    assert_true(n + 2 + 32 <= sizeof buf);
    memcpy(buf, name, n);
    buf[n] = 0x0A;
    buf[n + 1] = 0x01;
    memcpy(buf + n + 2, pk, 32);
    crypto_hash_sha256(h, buf, n + 34);
    memcpy(id, h, 4);
}

/* A signature line built by hand: em dash, name, base64 of key id and
 * signature over text. */
static void ref_sig_line(const char *name, const struct key *k,
                         const char *text, size_t len, char *out,
                         size_t size)
{
    unsigned char blob[68];
    char b64[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];

    ref_key_id(name, k->pk, blob);
    assert_int_equal(crypto_sign_detached(blob + 4, NULL,
                                          (const unsigned char *)text, len,
                                          k->sk), 0);
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob,
                      sodium_base64_VARIANT_ORIGINAL);
    assert_true((size_t)snprintf(out, size, "\xE2\x80\x94 %s %s\n", name,
                                 b64) < size);
}

/* Signs TEXT with key a under NAME_A into note; returns its length. */
static size_t sign_a(char note[HRID_NOTE_MAX + 1])
{
    struct hrid_err err;
    size_t len = 0;

    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), NAME_A, key_a.sk,
                                    note, HRID_NOTE_MAX + 1, &len, &err),
                     HRID_OK);
    return len;
}

/* ---- key ids and vkeys ------------------------------------------------- */

static void test_key_id(void **state)
{
    unsigned char id[4], want[4];

    (void)state;
    hrid_note_key_id(NAME_A, key_a.pk, id);
    ref_key_id(NAME_A, key_a.pk, want);
    assert_memory_equal(id, want, 4);
    hrid_note_key_id(NAME_B, key_a.pk, id);
    ref_key_id(NAME_B, key_a.pk, want);
    assert_memory_equal(id, want, 4);
    hrid_note_key_id(NAME_A, key_b.pk, id);
    ref_key_id(NAME_A, key_b.pk, want);
    assert_memory_equal(id, want, 4);
}

static void go_key(struct key *k)
{
    unsigned char raw[33];
    size_t n = 0;

    assert_int_equal(sodium_base642bin(raw, sizeof raw, GO_SKEY_B64,
                                       strlen(GO_SKEY_B64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(n, 33);
    assert_int_equal(raw[0], 0x01);
    assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, raw + 1), 0);
}

static void test_go_example(void **state)
{
    char out[HRID_NOTE_MAX + 1], name[64];
    unsigned char pk[32], id[4];
    struct hrid_err err;
    struct hrid_checkpoint cp;
    struct key k;
    size_t len = 0, text_len = 0;

    (void)state;
    go_key(&k);
    hrid_note_key_id("PeterNeumann", k.pk, id);
    assert_memory_equal(id, "\xc7\x4f\x20\xa3", 4);
    assert_int_equal(hrid_vkey_format("PeterNeumann", k.pk, out, sizeof out,
                                      &err), HRID_OK);
    assert_string_equal(out, GO_VKEY);
    assert_int_equal(hrid_vkey_parse(GO_VKEY, name, sizeof name, pk, &err),
                     HRID_OK);
    assert_string_equal(name, "PeterNeumann");
    assert_memory_equal(pk, k.pk, 32);

    assert_int_equal(hrid_note_sign(GO_TEXT, strlen(GO_TEXT), "PeterNeumann",
                                    k.sk, out, sizeof out, &len, &err),
                     HRID_OK);
    assert_string_equal(out, GO_NOTE);
    assert_int_equal(len, strlen(GO_NOTE));
    assert_int_equal(hrid_note_verify(GO_NOTE, strlen(GO_NOTE),
                                      "PeterNeumann", k.pk, &text_len, &err),
                     HRID_OK);
    assert_int_equal(text_len, strlen(GO_TEXT));
    /* Its text is no checkpoint: the third line is missing. */
    assert_int_equal(hrid_checkpoint_open(GO_NOTE, strlen(GO_NOTE), GO_VKEY,
                                          &cp, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "checkpoint has no root hash line");
}

static void test_vkey_round_trip(void **state)
{
    char vkey[128], name[64], want[128];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    unsigned char pk[32], raw[33], id[4];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_vkey_format(NAME_A, key_a.pk, vkey, sizeof vkey,
                                      &err), HRID_OK);
    ref_key_id(NAME_A, key_a.pk, id);
    raw[0] = 0x01;
    memcpy(raw + 1, key_a.pk, 32);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "%s+%02x%02x%02x%02x+%s", NAME_A, id[0],
             id[1], id[2], id[3], b64);
    assert_string_equal(vkey, want);
    assert_int_equal(strlen(vkey), strlen(NAME_A) + 54);
    assert_int_equal(hrid_vkey_parse(vkey, name, sizeof name, pk, &err),
                     HRID_OK);
    assert_string_equal(name, NAME_A);
    assert_memory_equal(pk, key_a.pk, 32);

    /* Exactly strlen + 55 bytes is enough, one less is not. */
    assert_int_equal(hrid_vkey_format(NAME_A, key_a.pk, vkey,
                                      strlen(NAME_A) + 55, &err), HRID_OK);
    assert_int_equal(hrid_vkey_format(NAME_A, key_a.pk, vkey,
                                      strlen(NAME_A) + 54, &err),
                     HRID_ERANGE);
    assert_string_equal(vkey, "");
    /* The name must fit the caller's buffer, NUL included. */
    assert_int_equal(hrid_vkey_parse(want, name, strlen(NAME_A) + 1, pk,
                                     &err), HRID_OK);
    assert_int_equal(hrid_vkey_parse(want, name, strlen(NAME_A), pk, &err),
                     HRID_ERANGE);
    assert_string_equal(name, "");
    /* Go parses the key id in either case. */
    for (char *p = strchr(want, '+') + 1; *p != '+'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(hrid_vkey_parse(want, name, sizeof name, pk, &err),
                     HRID_OK);
}

static void test_vkey_errors(void **state)
{
    char vkey[128], bad[128], name[64];
    unsigned char pk[32], zero[32] = {0};
    struct hrid_err err;
    size_t n;

    (void)state;
    assert_int_equal(hrid_vkey_format("", key_a.pk, vkey, sizeof vkey, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "key name is empty");
    assert_int_equal(hrid_vkey_format("a b", key_a.pk, vkey, sizeof vkey,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "key name 'a b' contains a space");
    assert_int_equal(hrid_vkey_format("a+b", key_a.pk, vkey, sizeof vkey,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "key name 'a+b' contains '+'");
    assert_int_equal(hrid_vkey_format("a\xC2\xA0" "b", key_a.pk, vkey,
                                      sizeof vkey, &err), HRID_EINVAL);
    assert_int_equal(hrid_vkey_format("a\xFF", key_a.pk, vkey, sizeof vkey,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "key name is not valid utf-8");
    /* A name in another script is fine. */
    assert_int_equal(hrid_vkey_format("\xE7\x99\xBB\xE8\xAE\xB0", key_a.pk,
                                      vkey, sizeof vkey, &err), HRID_OK);

    assert_int_equal(hrid_vkey_parse("PeterNeumann", name, sizeof name, pk,
                                     &err), HRID_EINVAL);
    assert_string_equal(err.msg, "vkey 'PeterNeumann' is not NAME+KEYID+KEY");
    assert_string_equal(name, "");
    assert_memory_equal(pk, zero, 32);
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a3", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwx"
                                     "bzhKqiBfsVkmqq/LDE4izWy10TW", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "vkey key id 'c74f20a' is not 8 hex digits");
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20ag+ARpc2QcUPDhMQegw"
                                     "xbzhKqiBfsVkmqq/LDE4izWy10TW", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_string_equal(err.msg,
                        "vkey key id 'c74f20ag' is not 8 hex digits");
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegw"
                                     "xbzhKqiBfsVkmqq/LDE4izWy10TW", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "vkey key id 'c74f20a4' does not match its "
                                 "name and key");
    /* Another name with the same key and id. */
    assert_int_equal(hrid_vkey_parse("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwx"
                                     "bzhKqiBfsVkmqq/LDE4izWy10TW", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    /* Algorithm 2 (the same key bytes behind another algorithm byte). */
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegw"
                                     "xbzhKqiBfsVkmqq/LDE4izWy10TW", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "vkey algorithm 2 is not ed25519 (1)");
    /* Base64 without its last character, and with one too many. */
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegw"
                                     "xbzhKqiBfsVkmqq/LDE4izWy10T", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_int_equal(hrid_vkey_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegw"
                                     "xbzhKqiBfsVkmqq/LDE4izWy10TWAAAA", name,
                                     sizeof name, pk, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "vkey key is not the base64 of an algorithm "
                                 "byte and a 32-byte key");

    /* A byte above 0x7F is not a base64 character, even where it would
     * read as one with its top bit cleared. */
    memcpy(bad, GO_VKEY, strlen(GO_VKEY) + 1);
    bad[strlen(bad) - 1] = (char)('W' | 0x80);
    assert_int_equal(hrid_vkey_parse(bad, name, sizeof name, pk, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "vkey key is not the base64 of an algorithm "
                                 "byte and a 32-byte key");

    /* As Go's tests do: no change of a single byte and no proper
     * substring of a vkey is a vkey. */
    n = strlen(GO_VKEY);
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, GO_VKEY, n + 1);
        bad[i] = (char)(bad[i] + 1);
        assert_int_not_equal(hrid_vkey_parse(bad, name, sizeof name, pk,
                                             &err), HRID_OK);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j <= n; j++) {
            if (i == 0 && j == n)
                continue;
            memcpy(bad, GO_VKEY + i, j - i);
            bad[j - i] = '\0';
            assert_int_not_equal(hrid_vkey_parse(bad, name, sizeof name, pk,
                                                 &err), HRID_OK);
        }
}

/* ---- signing ----------------------------------------------------------- */

static void test_sign_known_answer(void **state)
{
    char note[HRID_NOTE_MAX + 1], want[HRID_NOTE_MAX + 1], line[256];
    struct hrid_err err;
    size_t len;

    (void)state;
    len = sign_a(note);
    ref_sig_line(NAME_A, &key_a, TEXT, strlen(TEXT), line, sizeof line);
    snprintf(want, sizeof want, "%s\n%s", TEXT, line);
    assert_string_equal(note, want);
    assert_int_equal(len, strlen(want));
    /* The signature line is the em dash, the name and 92 characters. */
    assert_int_equal(strlen(line), 3 + 1 + strlen(NAME_A) + 1 + 92 + 1);

    /* The output buffer: exactly enough, then one byte short. */
    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), NAME_A, key_a.sk,
                                    note, strlen(want) + 1, &len, &err),
                     HRID_OK);
    assert_string_equal(note, want);
    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), NAME_A, key_a.sk,
                                    note, strlen(want), &len, &err),
                     HRID_ERANGE);
    assert_string_equal(note, "");
    assert_int_equal(len, 0);
}

static void test_sign_errors(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"", "note text is empty"},
        {"no newline", "note text does not end in a newline"},
        {"\n", "note text starts with an empty line"},
        {"\nx\n", "note text starts with an empty line"},
        {"a\n\nb\n", "note text has an empty line at byte 3"},
        {"a\tb\n", "note text byte 2 is a control character (0x09)"},
        {"a\rb\n", "note text byte 2 is a control character (0x0d)"},
        {"caf\xC3\n", "note text byte 4 is not valid utf-8"},
        {"\xC0\xAF\n", "note text byte 1 is not valid utf-8"},
        {"\xED\xA0\x80\n", "note text byte 1 is not valid utf-8"},
    };
    char note[HRID_NOTE_MAX + 1], big[HRID_NOTE_MAX + 2];
    struct hrid_err err;
    size_t len = 99;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hrid_note_sign(bad[i].text, strlen(bad[i].text),
                                         NAME_A, key_a.sk, note, sizeof note,
                                         &len, &err), HRID_EINVAL);
        assert_string_equal(err.msg, bad[i].msg);
        assert_string_equal(note, "");
        assert_int_equal(len, 0);
    }
    /* A NUL inside the text is a control character too. */
    assert_int_equal(hrid_note_sign("a\0b\n", 4, NAME_A, key_a.sk, note,
                                    sizeof note, &len, &err), HRID_EINVAL);
    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), "two words",
                                    key_a.sk, note, sizeof note, &len, &err),
                     HRID_EINVAL);
    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), "", key_a.sk, note,
                                    sizeof note, &len, &err), HRID_EINVAL);

    /* The longest note: text plus a signature line of 1 + 4 + 1 + 1 + 92
     * + 1 bytes for a one-letter name is exactly HRID_NOTE_MAX. */
    memset(big, 'x', sizeof big);
    for (size_t i = 63; i < sizeof big; i += 64)
        big[i] = '\n';
    {
        size_t tlen = HRID_NOTE_MAX - 100;

        big[tlen - 1] = '\n';
        assert_int_equal(hrid_note_sign(big, tlen, "k", key_a.sk, note,
                                        sizeof note, &len, &err), HRID_OK);
        assert_int_equal(len, HRID_NOTE_MAX);
        big[tlen - 1] = 'x';
        big[tlen] = '\n';
        assert_int_equal(hrid_note_sign(big, tlen + 1, "k", key_a.sk, note,
                                        sizeof note, &len, &err),
                         HRID_ERANGE);
        assert_int_equal(len, 0);
    }
}

/* ---- verification ------------------------------------------------------ */

static void test_verify_round_trip(void **state)
{
    char note[HRID_NOTE_MAX + 1];
    struct hrid_err err;
    size_t len, text_len = 0;

    (void)state;
    len = sign_a(note);
    assert_int_equal(hrid_note_verify(note, len, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_OK);
    assert_int_equal(text_len, strlen(TEXT));
    assert_memory_equal(note, TEXT, text_len);
    /* err may be NULL. */
    assert_int_equal(hrid_note_verify(note, len, NAME_A, key_a.pk, &text_len,
                                      NULL), HRID_OK);

    /* Another key, or the same key under another name. */
    assert_int_equal(hrid_note_verify(note, len, NAME_A, key_b.pk, &text_len,
                                      &err), HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "note is not signed by hrid.example.gov.cn/log");
    assert_int_equal(text_len, 0);
    assert_int_equal(hrid_note_verify(note, len, NAME_B, key_a.pk, &text_len,
                                      &err), HRID_EVERIFY);
    assert_string_equal(err.msg, "note is not signed by witness.example.org");
}

/* Every change of one byte anywhere in a signed note, to any other value,
 * makes verification fail: in the text, the blank line, the em dash, the
 * name, the base64 or the final newline. */
static void test_verify_every_byte(void **state)
{
    char note[HRID_NOTE_MAX + 1], bad[HRID_NOTE_MAX + 1];
    struct hrid_err err;
    size_t len, text_len;
    int st;

    (void)state;
    len = sign_a(note);
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 256; b++) {
            if (b == (unsigned char)note[i])
                continue;
            memcpy(bad, note, len);
            bad[i] = (char)b;
            text_len = 99;
            st = hrid_note_verify(bad, len, NAME_A, key_a.pk, &text_len,
                                  &err);
            if (st == HRID_OK)
                fail_msg("byte %zu changed to 0x%02x verifies", i, b);
            assert_true(st == HRID_EINVAL || st == HRID_EVERIFY);
            assert_int_equal(text_len, 0);
            assert_int_equal(err.status, st);
            assert_true(err.msg[0] != '\0');
        }
    }
    /* A byte more or less at the end. */
    memcpy(bad, note, len);
    bad[len] = '\n';
    assert_int_equal(hrid_note_verify(bad, len + 1, NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EINVAL);
    assert_int_equal(hrid_note_verify(note, len - 1, NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "note does not end in a newline");
}

/* Signs TEXT with key k under name and returns only its signature line. */
static void sig_line_of(const char *name, const struct key *k, char *line,
                        size_t size)
{
    char note[HRID_NOTE_MAX + 1];
    struct hrid_err err;
    size_t len;

    assert_int_equal(hrid_note_sign(TEXT, strlen(TEXT), name, k->sk, note,
                                    sizeof note, &len, &err), HRID_OK);
    assert_true(len - strlen(TEXT) - 1 < size);
    memcpy(line, note + strlen(TEXT) + 1, len - strlen(TEXT) - 1);
    line[len - strlen(TEXT) - 1] = '\0';
}

static void test_verify_cosigned(void **state)
{
    char la[256], lb[256], note[HRID_NOTE_MAX + 1];
    struct hrid_err err;
    size_t text_len;

    (void)state;
    sig_line_of(NAME_A, &key_a, la, sizeof la);
    sig_line_of(NAME_B, &key_b, lb, sizeof lb);
    snprintf(note, sizeof note, "%s\n%s%s", TEXT, la, lb);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_OK);
    assert_int_equal(text_len, strlen(TEXT));
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_B, key_b.pk,
                                      &text_len, &err), HRID_OK);
    assert_int_equal(hrid_note_verify(note, strlen(note), "other", key_c.pk,
                                      &text_len, &err), HRID_EVERIFY);
    assert_string_equal(err.msg, "note is not signed by other");
    snprintf(note, sizeof note, "%s\n%s%s", TEXT, lb, la);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_OK);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_B, key_b.pk,
                                      &text_len, &err), HRID_OK);
    /* A line by the same name under another key is another key's line:
     * ignored, not a failure. */
    sig_line_of(NAME_A, &key_c, lb, sizeof lb);
    snprintf(note, sizeof note, "%s\n%s%s", TEXT, lb, la);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_OK);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_c.pk,
                                      &text_len, &err), HRID_OK);
    /* Lines by unknown keys with signatures of other lengths (a witness
     * cosignature carries a timestamp too) are ignored. */
    snprintf(note, sizeof note, "%s\n%s\xE2\x80\x94 w AAAAAAAAAAAAAAAAAAAA\n",
             TEXT, la);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_OK);
}

/* The line la with one signature bit flipped, re-encoded: well-formed,
 * with this key's id, and a signature that does not verify. */
static void forge_line(const char *name, const struct key *k, char *out,
                       size_t size)
{
    unsigned char blob[68];
    char b64[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];

    ref_key_id(name, k->pk, blob);
    assert_int_equal(crypto_sign_detached(blob + 4, NULL,
                                          (const unsigned char *)TEXT,
                                          strlen(TEXT), k->sk), 0);
    blob[40] ^= 0x10;
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, size, "\xE2\x80\x94 %s %s\n", name, b64);
}

static void test_verify_bad_signature(void **state)
{
    char la[256], forged[256], note[HRID_NOTE_MAX + 1];
    unsigned char blob[5];
    char b64[16];
    struct hrid_err err;
    size_t text_len;

    (void)state;
    sig_line_of(NAME_A, &key_a, la, sizeof la);
    forge_line(NAME_A, &key_a, forged, sizeof forged);
    snprintf(note, sizeof note, "%s\n%s", TEXT, forged);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "signature by hrid.example.gov.cn/log does not "
                        "verify");
    /* A bad line by the key is not excused by a good one, in either
     * order. */
    snprintf(note, sizeof note, "%s\n%s%s", TEXT, la, forged);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EVERIFY);
    snprintf(note, sizeof note, "%s\n%s%s", TEXT, forged, la);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EVERIFY);
    assert_int_equal(text_len, 0);
    /* The key's id with a signature of the wrong length. */
    ref_key_id(NAME_A, key_a.pk, blob);
    blob[4] = 0;
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(note, sizeof note, "%s\n\xE2\x80\x94 %s %s\n", TEXT, NAME_A,
             b64);
    assert_int_equal(hrid_note_verify(note, strlen(note), NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "signature by hrid.example.gov.cn/log does not "
                        "verify");
}

static void test_verify_malformed(void **state)
{
    char la[256], note[HRID_NOTE_MAX + 64], *p;
    struct hrid_err err;
    size_t text_len, n;
    struct {
        const char *note;
        const char *msg;
    } cases[12];
    int nc = 0;
    char buf[12][1024];

    (void)state;
    sig_line_of(NAME_A, &key_a, la, sizeof la);
#define CASE(msg_, ...) do {                                             \
        snprintf(buf[nc], sizeof buf[nc], __VA_ARGS__);                  \
        cases[nc].note = buf[nc];                                        \
        cases[nc].msg = (msg_);                                          \
        nc++;                                                            \
    } while (0)
    CASE("note has no blank line before its signatures", "%s%s", TEXT, la);
    CASE("note has no signature lines", "%s\n", TEXT);
    CASE("note text starts with an empty line", "\n%s\n%s", TEXT, la);
    CASE("signature line 1 does not start with an em dash and a space",
         "%s\n-%s", TEXT, la + 3);
    CASE("signature line 1 does not start with an em dash and a space",
         "%s\n\xE2\x80\x94%s", TEXT, la + 4);
    CASE("signature line 2 does not start with an em dash and a space",
         "%s\n%s\n", TEXT, la);                  /* a blank line after */
    CASE("signature line 2 does not start with an em dash and a space",
         "%s\n%s\xE2\x80\x93 %s", TEXT, la, la + 4);      /* en dash */
    CASE("signature line 1 has no signature", "%s\n\xE2\x80\x94 %s\n", TEXT,
         NAME_A);
    CASE("signature line 1 has no signature", "%s\n\xE2\x80\x94 %s \n", TEXT,
         NAME_A);
    CASE("signature line 1: key name is empty",
         "%s\n\xE2\x80\x94  AAAAAAAA\n", TEXT);
    CASE("signature line 1: signature is not base64",
         "%s\n\xE2\x80\x94 k AAAAAAA*\n", TEXT);
    CASE("signature line 1: signature is 3 bytes, too short to hold a key id",
         "%s\n\xE2\x80\x94 k AAAA\n", TEXT);
#undef CASE
    for (int i = 0; i < nc; i++) {
        text_len = 7;
        assert_int_equal(hrid_note_verify(cases[i].note,
                                          strlen(cases[i].note), NAME_A,
                                          key_a.pk, &text_len, &err),
                         HRID_EINVAL);
        assert_string_equal(err.msg, cases[i].msg);
        assert_int_equal(text_len, 0);
    }

    /* Base64 without padding, and with padding bits set. */
    n = (size_t)snprintf(note, sizeof note, "%s\n%s", TEXT, la);
    p = strchr(note + strlen(TEXT) + 5, ' ') + 1;     /* the base64 */
    assert_int_equal(p[91], '=');
    p[91] = '\n';
    assert_int_equal(hrid_note_verify(note, n - 1, NAME_A, key_a.pk,
                                      &text_len, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "signature line 1: signature is not base64");

    /* Control characters and broken UTF-8 anywhere, the signature lines
     * included, and a NUL. */
    n = (size_t)snprintf(note, sizeof note, "%s\n%s", TEXT, la);
    note[n - 10] = '\x0F';
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_EINVAL);
    assert_true(strstr(err.msg, "is a control character") != NULL);
    n = (size_t)snprintf(note, sizeof note, "%s\n%s", TEXT, la);
    note[5] = '\0';
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "note byte 6 is a control character (0x00)");
    n = (size_t)snprintf(note, sizeof note, "%s\n%s", TEXT, la);
    note[1] = '\xE2';     /* a truncated em dash */
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "note byte 2 is not valid utf-8");

    /* Too long, and too many signature lines. */
    memset(note, 'x', sizeof note);
    assert_int_equal(hrid_note_verify(note, HRID_NOTE_MAX + 1, NAME_A,
                                      key_a.pk, &text_len, &err),
                     HRID_EINVAL);
    assert_string_equal(err.msg, "note is 4097 bytes, longer than 4096");
    n = (size_t)snprintf(note, sizeof note, "%s\n%s", TEXT, la);
    for (int i = 0; i < HRID_NOTE_SIGS_MAX; i++)
        n += (size_t)snprintf(note + n, sizeof note - n,
                              "\xE2\x80\x94 w%d AAAAAAA=\n", i % 10);
    assert_true(n <= HRID_NOTE_MAX);
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "note has more than 100 signature lines");
    n -= strlen("\xE2\x80\x94 w9 AAAAAAA=\n");
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_OK);

    /* A malformed line is reported even after a good one. */
    n = (size_t)snprintf(note, sizeof note, "%s\n%s\xE2\x80\x94 k *\n", TEXT,
                         la);
    assert_int_equal(hrid_note_verify(note, n, NAME_A, key_a.pk, &text_len,
                                      &err), HRID_EINVAL);
    assert_string_equal(err.msg, "signature line 2: signature is not base64");
}

/* ---- checkpoints ------------------------------------------------------- */

static void test_checkpoint_format(void **state)
{
    unsigned char root[32];
    char out[512], want[512];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    struct hrid_err err;
    struct hrid_checkpoint cp;

    (void)state;
    crypto_hash_sha256(root, (const unsigned char *)"", 0);
    assert_int_equal(hrid_checkpoint_format(NAME_A, 28000, root, out,
                                            sizeof out, &err), HRID_OK);
    assert_string_equal(out, TEXT);     /* the empty string's SHA-256 */
    assert_int_equal(hrid_checkpoint_parse(out, strlen(out), &cp, &err),
                     HRID_OK);
    assert_string_equal(cp.origin, NAME_A);
    assert_true(cp.size == 28000);
    assert_memory_equal(cp.root, root, 32);

    for (int i = 0; i < 32; i++)
        root[i] = (unsigned char)(i * 37 + 1);
    sodium_bin2base64(b64, sizeof b64, root, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "o\n18446744073709551615\n%s\n", b64);
    assert_int_equal(hrid_checkpoint_format("o", UINT64_MAX, root, out,
                                            sizeof out, &err), HRID_OK);
    assert_string_equal(out, want);
    assert_int_equal(hrid_checkpoint_parse(out, strlen(out), &cp, &err),
                     HRID_OK);
    assert_true(cp.size == UINT64_MAX);
    assert_memory_equal(cp.root, root, 32);
    assert_int_equal(hrid_checkpoint_format("o", 0, root, out, sizeof out,
                                            &err), HRID_OK);
    assert_true(strncmp(out, "o\n0\n", 4) == 0);

    /* strlen(origin) + 68 bytes always suffice; here 2 + 2 + 45 and the
     * NUL do. */
    assert_int_equal(hrid_checkpoint_format("o", 0, root, out, 50, &err),
                     HRID_OK);
    assert_int_equal(hrid_checkpoint_format("o", 0, root, out, 49, &err),
                     HRID_ERANGE);
    assert_string_equal(out, "");
    assert_int_equal(hrid_checkpoint_format("", 0, root, out, sizeof out,
                                            &err), HRID_EINVAL);
    assert_string_equal(err.msg, "checkpoint origin is empty");
    assert_int_equal(hrid_checkpoint_format("a\nb", 0, root, out, sizeof out,
                                            &err), HRID_EINVAL);
    assert_string_equal(out, "");
    {
        char origin[HRID_CHECKPOINT_ORIGIN_MAX + 2];

        memset(origin, 'o', sizeof origin);
        origin[HRID_CHECKPOINT_ORIGIN_MAX] = '\0';
        assert_int_equal(hrid_checkpoint_format(origin, 1, root, out,
                                                sizeof out, &err), HRID_OK);
        assert_int_equal(hrid_checkpoint_parse(out, strlen(out), &cp, &err),
                         HRID_OK);
        assert_string_equal(cp.origin, origin);
        origin[HRID_CHECKPOINT_ORIGIN_MAX] = 'o';
        origin[HRID_CHECKPOINT_ORIGIN_MAX + 1] = '\0';
        assert_int_equal(hrid_checkpoint_format(origin, 1, root, out,
                                                sizeof out, &err),
                         HRID_EINVAL);
        assert_string_equal(err.msg,
                            "checkpoint origin is 256 bytes, longer than 255");
    }
}

static void test_checkpoint_parse_errors(void **state)
{
    static const char R[] = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    static const struct {
        const char *fmt;
        const char *msg;
    } bad[] = {
        {"", "checkpoint is empty"},
        {"o\n1\n%s", "checkpoint does not end in a newline"},
        {"o\n", "checkpoint has no tree size line"},
        {"o\n1\n", "checkpoint has no root hash line"},
        {"\n1\n%s\n", "checkpoint origin is empty"},
        {"o\n\n%s\n", "checkpoint line 2: tree size is empty"},
        {"o\n012\n%s\n", "checkpoint line 2: tree size '012' has a leading "
                         "zero"},
        {"o\n00\n%s\n", "checkpoint line 2: tree size '00' has a leading "
                        "zero"},
        {"o\n-1\n%s\n", "checkpoint line 2: tree size '-1' is not a decimal "
                        "number"},
        {"o\n+1\n%s\n", "checkpoint line 2: tree size '+1' is not a decimal "
                        "number"},
        {"o\n1 \n%s\n", "checkpoint line 2: tree size '1 ' is not a decimal "
                        "number"},
        {"o\n18446744073709551616\n%s\n", "checkpoint line 2: tree size "
                                          "'18446744073709551616' does not "
                                          "fit 64 bits"},
        {"o\n1\n\n", "checkpoint line 3: root hash is not the base64 of 32 "
                     "bytes"},
        {"o\n1\nAAAA\n", "checkpoint line 3: root hash is not the base64 of "
                         "32 bytes"},
        {"o\n1\n%sAAAA\n", "checkpoint line 3: root hash is not the base64 "
                           "of 32 bytes"},
        {"o\n1\n%s\n\n", "checkpoint line 4 is empty"},
        {"o\n1\n%s\next\n\n", "checkpoint line 5 is empty"},
        {"o\t\n1\n%s\n", "checkpoint byte 2 is a control character (0x09)"},
    };
    struct hrid_checkpoint cp;
    struct hrid_err err;
    char text[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i].fmt, R);
        memset(&cp, 0x55, sizeof cp);
        assert_int_equal(hrid_checkpoint_parse(text, strlen(text), &cp, &err),
                         HRID_EINVAL);
        assert_string_equal(err.msg, bad[i].msg);
        assert_int_equal(cp.size, 0);
        assert_string_equal(cp.origin, "");
    }
    {
        static char big[HRID_NOTE_MAX + 2];

        memset(big, 'x', sizeof big);
        big[sizeof big - 1] = '\n';
        assert_int_equal(hrid_checkpoint_parse(big, sizeof big, &cp, &err),
                         HRID_EINVAL);
        assert_string_equal(err.msg,
                            "checkpoint is 4098 bytes, longer than 4096");
    }
    /* Extension lines are accepted and ignored. */
    snprintf(text, sizeof text, "o\n7\n%s\nTimestamp: 1700000000\nx\n", R);
    assert_int_equal(hrid_checkpoint_parse(text, strlen(text), &cp, &err),
                     HRID_OK);
    assert_string_equal(cp.origin, "o");
    assert_true(cp.size == 7);
}

static void test_checkpoint_open(void **state)
{
    unsigned char root[32];
    char body[512], note[HRID_NOTE_MAX + 1], vkey[128], vkey_b[128];
    char la[256], lb[256];
    struct hrid_checkpoint cp;
    struct hrid_err err;
    size_t len;

    (void)state;
    for (int i = 0; i < 32; i++)
        root[i] = (unsigned char)(255 - i);
    assert_int_equal(hrid_checkpoint_format(NAME_A, 42, root, body,
                                            sizeof body, &err), HRID_OK);
    /* An extension line rides along under the signature. */
    strcat(body, "note: kept\n");
    assert_int_equal(hrid_note_sign(body, strlen(body), NAME_A, key_a.sk,
                                    note, sizeof note, &len, &err), HRID_OK);
    assert_int_equal(hrid_vkey_format(NAME_A, key_a.pk, vkey, sizeof vkey,
                                      &err), HRID_OK);
    assert_int_equal(hrid_checkpoint_open(note, len, vkey, &cp, &err),
                     HRID_OK);
    assert_string_equal(cp.origin, NAME_A);
    assert_true(cp.size == 42);
    assert_memory_equal(cp.root, root, 32);

    /* A witness's cosignature on the same checkpoint: either key opens
     * it. */
    snprintf(la, sizeof la, "%s", note + strlen(body) + 1);
    assert_int_equal(hrid_note_sign(body, strlen(body), NAME_B, key_b.sk,
                                    note, sizeof note, &len, &err), HRID_OK);
    snprintf(lb, sizeof lb, "%s", note + strlen(body) + 1);
    snprintf(note, sizeof note, "%s\n%s%s", body, la, lb);
    assert_int_equal(hrid_vkey_format(NAME_B, key_b.pk, vkey_b, sizeof vkey_b,
                                      &err), HRID_OK);
    assert_int_equal(hrid_checkpoint_open(note, strlen(note), vkey, &cp,
                                          &err), HRID_OK);
    assert_int_equal(hrid_checkpoint_open(note, strlen(note), vkey_b, &cp,
                                          &err), HRID_OK);
    assert_true(cp.size == 42);

    /* Another key; a malformed vkey; a tampered size. */
    assert_int_equal(hrid_vkey_format("third", key_c.pk, vkey_b,
                                      sizeof vkey_b, &err), HRID_OK);
    assert_int_equal(hrid_checkpoint_open(note, strlen(note), vkey_b, &cp,
                                          &err), HRID_EVERIFY);
    assert_string_equal(err.msg, "note is not signed by third");
    assert_int_equal(cp.size, 0);
    assert_int_equal(hrid_checkpoint_open(note, strlen(note), "third", &cp,
                                          &err), HRID_EINVAL);
    note[strlen(NAME_A) + 1] = '5';
    assert_int_equal(hrid_checkpoint_open(note, strlen(note), vkey, &cp,
                                          &err), HRID_EVERIFY);
    assert_string_equal(err.msg,
                        "signature by hrid.example.gov.cn/log does not "
                        "verify");
    assert_string_equal(cp.origin, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_go_example),
        cmocka_unit_test(test_vkey_round_trip),
        cmocka_unit_test(test_vkey_errors),
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_verify_round_trip),
        cmocka_unit_test(test_verify_every_byte),
        cmocka_unit_test(test_verify_cosigned),
        cmocka_unit_test(test_verify_bad_signature),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_checkpoint_format),
        cmocka_unit_test(test_checkpoint_parse_errors),
        cmocka_unit_test(test_checkpoint_open),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
