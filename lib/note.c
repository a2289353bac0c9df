/*
 * note.c - C2SP signed notes and tlog checkpoints (see hrid/note.h).
 *
 * The parsers follow Go's golang.org/x/mod/sumdb/note, the reference
 * implementation of the format, so that a note one accepts the other
 * accepts too: the whole note is first checked to be UTF-8 without
 * control characters but the newline, the text ends at the first blank
 * line, and every signature line is parsed before any verdict on a
 * signature is given, so a malformed note is always reported as such.
 * Where Go is lenient and the format is not, this is strict: base64
 * must be canonical (libsodium refuses non-zero padding bits), and a
 * second line by the key being checked must verify as well as the first.
 *
 * Nothing here allocates: notes are at most HRID_NOTE_MAX bytes, so one
 * signature decodes into a fixed buffer on the stack, and every output
 * goes to the caller's memory.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "hrid/note.h"

/* The signature line prefix: U+2014 EM DASH and a space. */
static const char sig_prefix[] = "\xE2\x80\x94 ";
#define SIG_PREFIX_LEN 4

/* An Ed25519 signature line's blob: key id and signature. */
#define SIG_BLOB_LEN 68
#define SIG_B64_LEN  92   /* 4 * ceil(68 / 3) */

/* The algorithm byte of Ed25519 keys in key ids and vkeys. */
#define ALG_ED25519 0x01

/* How much of a quoted piece of input an error message shows. */
#define QUOTE_MAX 40

/*
 * Decodes the UTF-8 sequence at s (n > 0 bytes left); returns its length
 * and sets *cp, or returns 0 when the bytes are not valid UTF-8, which
 * includes overlong forms, surrogates and code points past U+10FFFF.
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/*
 * Checks that len bytes at s are UTF-8 without control characters (below
 * U+0020, as Go's note package defines them), newlines allowed when
 * newline is set.  what names the input in the message ("note",
 * "note text"); pos is the 1-based byte offset.
 */
static int check_utf8(const char *s, size_t len, bool newline,
                      const char *what, struct hrid_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n;
    uint32_t cp;

    while (i < len) {
        n = utf8_next(u + i, len - i, &cp);
        if (n == 0)
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "%s byte %zu is not valid utf-8", what,
                                i + 1);
        if (cp < 0x20 && !(newline && cp == '\n'))
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "%s byte %zu is a control character (0x%02x)",
                                what, i + 1, (unsigned)cp);
        i += n;
    }
    return HRID_OK;
}

/*
 * Decodes standard base64 with padding (len bytes at b64) into at most
 * max bytes at bin, and sets *bin_len.  Returns 0, or -1 when the text is
 * not canonical base64 of at most max bytes.  libsodium's decoder
 * (1.0.18) reads a byte above 0x7F as the ASCII character below it, so
 * such bytes are refused here first: otherwise two different texts would
 * carry the same signature or key.
 */
static int base64_decode(unsigned char *bin, size_t max, const char *b64,
                         size_t len, size_t *bin_len)
{
    *bin_len = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)b64[i] >= 0x80)
            return -1;
    return sodium_base642bin(bin, max, b64, len, NULL, bin_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL);
}

/* Unicode's White_Space characters, which Go's unicode.IsSpace tests and
 * key names must not contain. */
static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Checks a key name (len bytes at name): non-empty UTF-8 without spaces,
 * control characters or '+'. */
static int check_name(const char *name, size_t len, struct hrid_err *err)
{
    const unsigned char *u = (const unsigned char *)name;
    int q = len > QUOTE_MAX ? QUOTE_MAX : (int)len;
    size_t i = 0, n;
    uint32_t cp;

    if (len == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "key name is empty");
    while (i < len) {
        n = utf8_next(u + i, len - i, &cp);
        if (n == 0)
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "key name is not valid utf-8");
        if (is_space(cp))
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "key name '%.*s' contains a space", q, name);
        if (cp < 0x20)
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "key name contains a control character");
        if (cp == '+')
            return hrid_err_set(err, HRID_EINVAL, 0, (int)(i + 1),
                                "key name '%.*s' contains '+'", q, name);
        i += n;
    }
    return HRID_OK;
}

/* The key id of (name, pk) with the name given by its length. */
static void key_id(const char *name, size_t len, const unsigned char pk[32],
                   unsigned char id[4])
{
    static const unsigned char sep[2] = {'\n', ALG_ED25519};
    crypto_hash_sha256_state st;
    unsigned char h[32];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, len);
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

void hrid_note_key_id(const char *name, const unsigned char pk[32],
                      unsigned char id[4])
{
    key_id(name, strlen(name), pk, id);
}

int hrid_vkey_format(const char *name, const unsigned char pk[32], char *out,
                     size_t size, struct hrid_err *err)
{
    unsigned char id[4], key[33];
    char b64[HRID_NOTE_KEY_B64_LEN + 1];
    size_t len = strlen(name);
    int rc;

    if (size > 0)
        out[0] = '\0';
    rc = check_name(name, len, err);
    if (rc != HRID_OK)
        return rc;
    if (len > SIZE_MAX - 64 || len + 55 > size)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "vkey needs %zu bytes, room for %zu",
                            len > SIZE_MAX - 64 ? SIZE_MAX : len + 55, size);
    key_id(name, len, pk, id);
    key[0] = ALG_ED25519;
    memcpy(key + 1, pk, 32);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, size, "%s+%02x%02x%02x%02x+%s", name, id[0], id[1], id[2],
             id[3], b64);
    return HRID_OK;
}

/* The value of a hex digit, either case, or -1. */
static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parses a vkey without copying its name: *name and *name_len locate the
 * name inside vkey.  The split is Go's: the name ends at the first '+',
 * the key id at the second, and the base64 (which may hold '+') runs to
 * the end.
 */
static int vkey_split(const char *vkey, const char **name, size_t *name_len,
                      unsigned char pk[32], struct hrid_err *err)
{
    const char *p1, *p2, *b64;
    unsigned char key[33], id[4], want[4];
    size_t vlen = strlen(vkey), klen = 0;
    int q = vlen > QUOTE_MAX ? QUOTE_MAX : (int)vlen, rc;

    p1 = strchr(vkey, '+');
    p2 = p1 != NULL ? strchr(p1 + 1, '+') : NULL;
    if (p2 == NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey '%.*s%s' is not NAME+KEYID+KEY", q, vkey,
                            vlen > QUOTE_MAX ? "..." : "");
    rc = check_name(vkey, (size_t)(p1 - vkey), err);
    if (rc != HRID_OK)
        return rc;
    if (p2 - p1 - 1 != HRID_NOTE_KEY_ID_HEX_LEN)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey key id '%.*s' is not 8 hex digits",
                            (int)(p2 - p1 - 1 > QUOTE_MAX ? QUOTE_MAX
                                                          : p2 - p1 - 1),
                            p1 + 1);
    for (int i = 0; i < 4; i++) {
        int hi = hex_val(p1[1 + 2 * i]), lo = hex_val(p1[2 + 2 * i]);

        if (hi < 0 || lo < 0)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "vkey key id '%.8s' is not 8 hex digits",
                                p1 + 1);
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    b64 = p2 + 1;
    if (base64_decode(key, sizeof key, b64, strlen(b64), &klen) != 0 ||
        klen < 1)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey key is not the base64 of an algorithm "
                            "byte and a 32-byte key");
    if (key[0] != ALG_ED25519)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey algorithm %u is not ed25519 (1)",
                            (unsigned)key[0]);
    if (klen != sizeof key)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey key is not the base64 of an algorithm "
                            "byte and a 32-byte key");
    if (crypto_core_ed25519_is_valid_point(key + 1) != 1)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey key is not a usable ed25519 public key");
    key_id(vkey, (size_t)(p1 - vkey), key + 1, want);
    if (memcmp(id, want, 4) != 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "vkey key id '%.8s' does not match its name and "
                            "key", p1 + 1);
    *name = vkey;
    *name_len = (size_t)(p1 - vkey);
    memcpy(pk, key + 1, 32);
    return HRID_OK;
}

int hrid_vkey_parse(const char *vkey, char *name, size_t name_size,
                    unsigned char pk[32], struct hrid_err *err)
{
    const char *n = NULL;
    size_t len = 0;
    int rc;

    if (name_size > 0)
        name[0] = '\0';
    rc = vkey_split(vkey, &n, &len, pk, err);
    if (rc == HRID_OK && len >= name_size)
        rc = hrid_err_set(err, HRID_ERANGE, 0, 0,
                          "vkey name is %zu bytes, room for %zu", len,
                          name_size > 0 ? name_size - 1 : 0);
    if (rc != HRID_OK) {
        sodium_memzero(pk, 32);
        return rc;
    }
    memcpy(name, n, len);
    name[len] = '\0';
    return HRID_OK;
}

/* Checks a note's text (len bytes at text): non-empty, lines ending in
 * '\n', none empty, UTF-8 without other control characters. */
static int check_text(const char *text, size_t len, struct hrid_err *err)
{
    const char *nn;

    if (len == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "note text is empty");
    if (len > HRID_NOTE_MAX)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "note text is %zu bytes, longer than %d", len,
                            HRID_NOTE_MAX);
    if (text[len - 1] != '\n')
        return hrid_err_set(err, HRID_EINVAL, 0, (int)len,
                            "note text does not end in a newline");
    if (text[0] == '\n')
        return hrid_err_set(err, HRID_EINVAL, 0, 1,
                            "note text starts with an empty line");
    nn = memmem(text, len, "\n\n", 2);
    if (nn != NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, (int)(nn - text + 2),
                            "note text has an empty line at byte %zu",
                            (size_t)(nn - text) + 2);
    return check_utf8(text, len, true, "note text", err);
}

int hrid_note_sign(const char *text, size_t len, const char *name,
                   const unsigned char sk[64], char *out, size_t size,
                   size_t *out_len, struct hrid_err *err)
{
    unsigned char blob[SIG_BLOB_LEN];
    char b64[SIG_B64_LEN + 1];
    size_t nlen = strlen(name), need, o = 0;
    int rc;

    *out_len = 0;
    if (size > 0)
        out[0] = '\0';
    rc = check_text(text, len, err);
    if (rc != HRID_OK)
        return rc;
    rc = check_name(name, nlen, err);
    if (rc != HRID_OK)
        return rc;
    /* The text is at most HRID_NOTE_MAX bytes (check_text), so with the
     * name capped too the sum cannot overflow. */
    need = len + 1 + SIG_PREFIX_LEN + nlen + 1 + SIG_B64_LEN + 1;
    if (nlen > HRID_NOTE_MAX || need > HRID_NOTE_MAX)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "signed note would be longer than %d bytes",
                            HRID_NOTE_MAX);
    if (need >= size)
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "signed note needs %zu bytes, room for %zu",
                            need + 1, size);

    key_id(name, nlen, sk + 32, blob);
    crypto_sign_detached(blob + 4, NULL, (const unsigned char *)text, len,
                         sk);
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob,
                      sodium_base64_VARIANT_ORIGINAL);

    memcpy(out + o, text, len);
    o += len;
    out[o++] = '\n';
    memcpy(out + o, sig_prefix, SIG_PREFIX_LEN);
    o += SIG_PREFIX_LEN;
    memcpy(out + o, name, nlen);
    o += nlen;
    out[o++] = ' ';
    memcpy(out + o, b64, SIG_B64_LEN);
    o += SIG_B64_LEN;
    out[o++] = '\n';
    out[o] = '\0';
    *out_len = o;
    return HRID_OK;
}

/*
 * hrid_note_verify with the name given by its length, so that
 * hrid_checkpoint_open can pass the name inside a vkey without a copy.
 */
static int note_verify(const char *note, size_t len, const char *name,
                       size_t name_len, const unsigned char pk[32],
                       size_t *text_len, struct hrid_err *err)
{
    /* A signature's base64 is shorter than the note, and decodes to at
     * most three bytes for every four. */
    unsigned char blob[HRID_NOTE_MAX / 4 * 3];
    unsigned char id[4];
    const char *nn, *line, *end, *sp;
    size_t tlen, blen, n_lines = 0, n_ours = 0, n_bad = 0;
    struct hrid_err name_err;
    int rc;

    *text_len = 0;
    if (len > HRID_NOTE_MAX)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "note is %zu bytes, longer than %d", len,
                            HRID_NOTE_MAX);
    rc = check_utf8(note, len, true, "note", err);
    if (rc != HRID_OK)
        return rc;
    nn = memmem(note, len, "\n\n", 2);
    if (nn == NULL)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "note has no blank line before its signatures");
    if (note[0] == '\n')
        return hrid_err_set(err, HRID_EINVAL, 0, 1,
                            "note text starts with an empty line");
    tlen = (size_t)(nn - note) + 1;
    line = nn + 2;
    end = note + len;
    if (line == end)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "note has no signature lines");
    if (end[-1] != '\n')
        return hrid_err_set(err, HRID_EINVAL, 0, (int)len,
                            "note does not end in a newline");

    key_id(name, name_len, pk, id);
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t llen = (size_t)(eol - line);

        if (++n_lines > HRID_NOTE_SIGS_MAX)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "note has more than %d signature lines",
                                HRID_NOTE_SIGS_MAX);
        if (llen < SIG_PREFIX_LEN ||
            memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
            return hrid_err_set(err, HRID_EINVAL, 0,
                                (int)(line - note + 1),
                                "signature line %zu does not start with an "
                                "em dash and a space", n_lines);
        line += SIG_PREFIX_LEN;
        llen -= SIG_PREFIX_LEN;
        sp = memchr(line, ' ', llen);
        if (sp == NULL || sp == line + llen - 1)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "signature line %zu has no signature",
                                n_lines);
        if (check_name(line, (size_t)(sp - line), &name_err) != HRID_OK)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "signature line %zu: %s", n_lines,
                                name_err.msg);
        if (base64_decode(blob, sizeof blob, sp + 1, (size_t)(eol - sp - 1),
                          &blen) != 0)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "signature line %zu: signature is not "
                                "base64", n_lines);
        if (blen < 5)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "signature line %zu: signature is %zu bytes, "
                                "too short to hold a key id", n_lines, blen);
        /* A line by this key: the same name and key id. */
        if ((size_t)(sp - line) == name_len &&
            memcmp(line, name, name_len) == 0 && memcmp(blob, id, 4) == 0) {
            n_ours++;
            if (blen != SIG_BLOB_LEN ||
                crypto_sign_verify_detached(blob + 4,
                                            (const unsigned char *)note,
                                            tlen, pk) != 0)
                n_bad++;
        }
        line = eol + 1;
    }
    if (n_bad > 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "signature by %.*s does not verify",
                            (int)name_len, name);
    if (n_ours == 0)
        return hrid_err_set(err, HRID_EVERIFY, 0, 0,
                            "note is not signed by %.*s", (int)name_len,
                            name);
    *text_len = tlen;
    return HRID_OK;
}

int hrid_note_verify(const char *note, size_t len, const char *name,
                     const unsigned char pk[32], size_t *text_len,
                     struct hrid_err *err)
{
    return note_verify(note, len, name, strlen(name), pk, text_len, err);
}

/* Checks a checkpoint's origin (len bytes at s, without its newline). */
static int check_origin(const char *s, size_t len, struct hrid_err *err)
{
    if (len == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 1,
                            "checkpoint origin is empty");
    if (len > HRID_CHECKPOINT_ORIGIN_MAX)
        return hrid_err_set(err, HRID_EINVAL, 0, 1,
                            "checkpoint origin is %zu bytes, longer than %d",
                            len, HRID_CHECKPOINT_ORIGIN_MAX);
    return check_utf8(s, len, false, "checkpoint origin", err);
}

int hrid_checkpoint_format(const char *origin, uint64_t size,
                           const unsigned char root[32], char *out,
                           size_t out_size, struct hrid_err *err)
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    size_t olen = strlen(origin);
    int rc, n;

    if (out_size > 0)
        out[0] = '\0';
    rc = check_origin(origin, olen, err);
    if (rc != HRID_OK)
        return rc;
    sodium_bin2base64(b64, sizeof b64, root, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(out, out_size, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
    if (n < 0 || (size_t)n >= out_size) {
        if (out_size > 0)
            out[0] = '\0';
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "checkpoint needs %d bytes, room for %zu", n + 1,
                            out_size);
    }
    return HRID_OK;
}

/* Parses the tree size line (len bytes at s). */
static int parse_size(const char *s, size_t len, uint64_t *out,
                      struct hrid_err *err)
{
    int q = len > QUOTE_MAX ? QUOTE_MAX : (int)len;
    uint64_t x = 0;

    if (len == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "checkpoint line 2: tree size is empty");
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "checkpoint line 2: tree size '%.*s' is not "
                                "a decimal number", q, s);
        if (x > (UINT64_MAX - d) / 10)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "checkpoint line 2: tree size '%.*s' does "
                                "not fit 64 bits", q, s);
        x = x * 10 + d;
    }
    if (len > 1 && s[0] == '0')
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "checkpoint line 2: tree size '%.*s' has a "
                            "leading zero", q, s);
    *out = x;
    return HRID_OK;
}

int hrid_checkpoint_parse(const char *text, size_t len,
                          struct hrid_checkpoint *out, struct hrid_err *err)
{
    const char *p = text, *end = text + len, *eol[3];
    size_t rlen = 0;
    int rc, i;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return hrid_err_set(err, HRID_EINVAL, 0, 0, "checkpoint is empty");
    if (len > HRID_NOTE_MAX)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "checkpoint is %zu bytes, longer than %d", len,
                            HRID_NOTE_MAX);
    if (text[len - 1] != '\n')
        return hrid_err_set(err, HRID_EINVAL, 0, (int)len,
                            "checkpoint does not end in a newline");
    rc = check_utf8(text, len, true, "checkpoint", err);
    if (rc != HRID_OK)
        return rc;
    for (i = 0; i < 3; i++) {
        static const char *const what[3] = {"origin", "tree size",
                                            "root hash"};

        if (p == end)
            return hrid_err_set(err, HRID_EINVAL, 0, 0,
                                "checkpoint has no %s line", what[i]);
        eol[i] = memchr(p, '\n', (size_t)(end - p));
        p = eol[i] + 1;
    }

    rc = check_origin(text, (size_t)(eol[0] - text), err);
    if (rc == HRID_OK)
        rc = parse_size(eol[0] + 1, (size_t)(eol[1] - eol[0] - 1), &out->size,
                        err);
    if (rc == HRID_OK &&
        (base64_decode(out->root, sizeof out->root, eol[1] + 1,
                       (size_t)(eol[2] - eol[1] - 1), &rlen) != 0 ||
         rlen != 32))
        rc = hrid_err_set(err, HRID_EINVAL, 0, 0,
                          "checkpoint line 3: root hash is not the base64 "
                          "of 32 bytes");
    /* Extension lines: kept in the signed text, ignored, never empty. */
    for (i = 4; rc == HRID_OK && p < end; i++) {
        const char *e = memchr(p, '\n', (size_t)(end - p));

        if (e == p)
            rc = hrid_err_set(err, HRID_EINVAL, 0, 0,
                              "checkpoint line %d is empty", i);
        p = e + 1;
    }
    if (rc != HRID_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    memcpy(out->origin, text, (size_t)(eol[0] - text));
    out->origin[eol[0] - text] = '\0';
    return HRID_OK;
}

int hrid_checkpoint_open(const char *note, size_t len, const char *vkey,
                         struct hrid_checkpoint *out, struct hrid_err *err)
{
    unsigned char pk[32];
    const char *name = NULL;
    size_t name_len = 0, text_len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    rc = vkey_split(vkey, &name, &name_len, pk, err);
    if (rc == HRID_OK)
        rc = note_verify(note, len, name, name_len, pk, &text_len, err);
    if (rc == HRID_OK)
        rc = hrid_checkpoint_parse(note, text_len, out, err);
    return rc;
}
