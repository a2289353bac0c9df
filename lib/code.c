/*
 * code.c - parse, validate, decode, format and build HRID identity codes
 * (DESIGN §2, hrid/code.h).
 *
 * Two paths share one set of rules.  hrid_code_validate() is the hot path
 * for stored, canonical codes: one pass over 29 bytes that classifies each
 * character and advances the check computation through a constant table,
 * then three table lookups for the segments.  hrid_code_parse() is the
 * forgiving path for people's input: it drops separators, upper-cases, and
 * on any failure explains which position is wrong and why.  Neither
 * allocates; the only writable memory is the caller's.
 *
 * The check character is ISO 7064 MOD 37,36 (a "hybrid" system: M = 36,
 * M + 1 = 37).  Starting from P = M, each character of value v does
 *     S = (P + v) mod M, with 0 taken as M;   P = 2S mod (M + 1)
 * and the check character is the value c with (P + c) mod M = 1.  P is
 * always in 1..36 (37 is prime and S is never 0), so one step is a lookup
 * in a 37 x 256 table that the compiler builds from that rule, indexed by
 * P and the byte itself so that the same lookup also refuses bytes outside
 * the alphabet.
 */
#include <stdbool.h>
#include <string.h>

#include "hrid/code.h"

/* What a byte is to the scanner. */
enum { CL_NONE, CL_CANON, CL_LOWER, CL_SEP };

static int char_class(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
        return CL_CANON;
    if (c >= 'a' && c <= 'z')
        return CL_LOWER;
    if (c == ' ' || c == '-' || c == '\t' || c == '\r' || c == '\n')
        return CL_SEP;
    return CL_NONE;
}

static const char alphabet36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* One step of MOD 37,36 for P in 1..36 and v in 0..35, as a constant
 * expression so that the compiler can build the table below from it. */
#define MOD_S(p, v)     (((p) + (v)) % 36 ? ((p) + (v)) % 36 : 36)
#define MOD_STEP(p, v)  ((2 * MOD_S(p, v)) % 37)

/* The value of byte b in 0-9A-Z, or -1. */
#define BYTE_VAL(b)                                                        \
    ((b) >= '0' && (b) <= '9' ? (b) - '0'                                  \
     : (b) >= 'A' && (b) <= 'Z' ? (b) - 'A' + 10 : -1)

/*
 * step[256 P + byte] is 256 times the next P after a canonical character,
 * and 0 for any other byte.  P is never 0 in a valid computation and row 0
 * is all 0, so a bad byte anywhere leaves 0 to the end: the hot loop has no
 * branch and checks once.  Storing the next row's offset rather than P
 * keeps the loop's dependency chain to one add and one load per character.
 * 37 x 256 x 2 bytes stay in L1 cache.
 */
#define STEP_E(p, b) \
    ((p) == 0 || BYTE_VAL(b) < 0 ? 0 : 256 * MOD_STEP(p, BYTE_VAL(b)))
#define STEP_4(p, b) \
    STEP_E(p, b), STEP_E(p, b + 1), STEP_E(p, b + 2), STEP_E(p, b + 3)
#define STEP_16(p, b) \
    STEP_4(p, b), STEP_4(p, b + 4), STEP_4(p, b + 8), STEP_4(p, b + 12)
#define STEP_ROW(p)                                                       \
    STEP_16(p, 0),   STEP_16(p, 16),  STEP_16(p, 32),  STEP_16(p, 48),       \
    STEP_16(p, 64),  STEP_16(p, 80),  STEP_16(p, 96),  STEP_16(p, 112),      \
    STEP_16(p, 128), STEP_16(p, 144), STEP_16(p, 160), STEP_16(p, 176),      \
    STEP_16(p, 192), STEP_16(p, 208), STEP_16(p, 224), STEP_16(p, 240)
#define STEP_ROW4(p) STEP_ROW(p), STEP_ROW(p + 1), STEP_ROW(p + 2), \
    STEP_ROW(p + 3)

static const uint16_t step[37 * 256] = {
    STEP_ROW4(0),  STEP_ROW4(4),  STEP_ROW4(8),  STEP_ROW4(12),
    STEP_ROW4(16), STEP_ROW4(20), STEP_ROW4(24), STEP_ROW4(28),
    STEP_ROW4(32), STEP_ROW(36),
};

/* Runs the check computation over 28 bytes; returns P (1..36), or 0 if a
 * byte is outside 0-9A-Z. */
static inline unsigned mod3736_run(const unsigned char *s)
{
    unsigned off = 36 * 256;

    for (int i = 0; i < HRID_CODE_LEN - 1; i++)
        off = step[off + s[i]];
    return off >> 8;
}

/* The check value for P after the last character. */
static inline unsigned mod3736_check(unsigned p)
{
    return (37 - p) % 36;
}

char hrid_code_check_char(const char *body28)
{
    unsigned p = mod3736_run((const unsigned char *)body28);

    return p == 0 ? 0 : alphabet36[mod3736_check(p)];
}

/* Segments allocated by the platform, where I and O never occur. */
static bool allocated_pos(int pos)
{
    return (pos >= 3 && pos <= 6) || (pos >= 10 && pos <= 12);
}

/*
 * Checks the segments of 29 canonical characters: country, reserved
 * letters, level, year, check.  The characters themselves are known to be
 * in the alphabet.
 */
static int check_segments(const char *c, struct hrid_err *err)
{
    char want;

    if (hrid_country_name(c) == NULL)
        return hrid_err_set(err, HRID_EINVAL, HRID_CODE_COUNTRY, 1,
                            "position 1: '%.2s' is not an assigned ISO 3166-1 "
                            "country code", c);
    for (int pos = 3; pos <= 12; pos++) {
        char ch = c[pos - 1];

        if (allocated_pos(pos) && (ch == 'I' || ch == 'O'))
            return hrid_err_set(err, HRID_EINVAL, HRID_CODE_RESERVED, pos,
                                "position %d: '%c' is never used in the %s "
                                "segment (did you mean '%c'?)",
                                pos, ch, pos <= 6 ? "enterprise" : "model",
                                ch == 'I' ? '1' : '0');
    }
    if (c[6] < '0' || c[6] > '0' + HRID_LEVEL_MAX)
        return hrid_err_set(err, HRID_EINVAL, HRID_CODE_LEVEL, 7,
                            "position 7: intelligence level '%c' is not 0-5",
                            c[6]);
    for (int pos = 8; pos <= 9; pos++)
        if (c[pos - 1] < '0' || c[pos - 1] > '9')
            return hrid_err_set(err, HRID_EINVAL, HRID_CODE_YEAR, pos,
                                "position %d: filing year '%.2s' is not two "
                                "digits", pos, c + 7);
    want = hrid_code_check_char(c);
    if (c[HRID_CODE_LEN - 1] != want)
        return hrid_err_set(err, HRID_EINVAL, HRID_CODE_CHECK, HRID_CODE_LEN,
                            "check character is '%c', expected '%c'",
                            c[HRID_CODE_LEN - 1], want);
    return HRID_OK;
}

/*
 * Quotes the character at s (at most n bytes) for a message: a complete
 * UTF-8 sequence as itself, anything else (control bytes, broken UTF-8)
 * as \xNN.  Returns the number of input bytes the character spans.
 */
static size_t quote_char(const unsigned char *s, size_t n, char *out,
                         size_t outsz)
{
    size_t len = 0;

    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    if (len > 0 && len <= n) {
        size_t i;

        for (i = 1; i < len; i++)
            if ((s[i] & 0xc0) != 0x80)
                break;
        if (i == len && len < outsz) {
            memcpy(out, s, len);
            out[len] = '\0';
            return len;
        }
    }
    if (s[0] >= 0x20 && s[0] < 0x7f && outsz >= 2) {
        out[0] = (char)s[0];
        out[1] = '\0';
    } else {
        static const char hex[] = "0123456789abcdef";

        if (outsz >= 5) {
            out[0] = '\\';
            out[1] = 'x';
            out[2] = hex[s[0] >> 4];
            out[3] = hex[s[0] & 15];
            out[4] = '\0';
        }
    }
    return 1;
}

/*
 * The shared scanner.  strict refuses separators and lower case, as the
 * canonical form has neither; otherwise they are normalised away.
 */
static int scan(const char *in, size_t len, bool strict,
                char out[HRID_CODE_LEN + 1], struct hrid_err *err)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = 0;
    int rc;

    out[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        int cl = char_class(s[i]);

        if (cl == CL_SEP && !strict)
            continue;
        if (cl == CL_NONE || cl == CL_SEP || (cl == CL_LOWER && strict)) {
            char q[8];

            out[0] = '\0';
            quote_char(s + i, len - i, q, sizeof q);
            return hrid_err_set(err, HRID_EINVAL, HRID_CODE_CHAR,
                                (int)(n + 1),
                                "position %zu: '%s' is not in 0-9A-Z%s", n + 1,
                                q, cl == CL_LOWER ? " (canonical form is upper "
                                                    "case)"
                                                  : "");
        }
        if (n < HRID_CODE_LEN)
            out[n] = (char)(cl == CL_LOWER ? s[i] - 'a' + 'A' : s[i]);
        n++;
    }
    if (n == 0)
        return hrid_err_set(err, HRID_EINVAL, HRID_CODE_EMPTY, 0,
                            "code is empty");
    if (n != HRID_CODE_LEN) {
        out[0] = '\0';
        return hrid_err_set(err, HRID_EINVAL, HRID_CODE_LENGTH, 0,
                            "code has %zu characters, expected 29", n);
    }
    out[HRID_CODE_LEN] = '\0';
    rc = check_segments(out, err);
    if (rc != HRID_OK)
        out[0] = '\0';
    return rc;
}

int hrid_code_parse(const char *in, size_t len, char out[HRID_CODE_LEN + 1],
                    struct hrid_err *err)
{
    int rc = scan(in, len, false, out, err);

    if (rc == HRID_OK)
        hrid_err_clear(err);
    return rc;
}

/* The segment rules of a canonical code whose check computation gave P
 * (0 when a byte was outside the alphabet): true when all hold. */
static inline bool canonical_ok(const unsigned char *s, unsigned p)
{
    if (p == 0 || s[HRID_CODE_LEN - 1] != alphabet36[mod3736_check(p)] ||
        hrid_country_name((const char *)s) == NULL)
        return false;
    for (int i = 2; i < 12; i++)
        if ((s[i] == 'I' || s[i] == 'O') && allocated_pos(i + 1))
            return false;
    return s[6] >= '0' && s[6] <= '0' + HRID_LEVEL_MAX && s[7] >= '0' &&
           s[7] <= '9' && s[8] >= '0' && s[8] <= '9';
}

int hrid_code_validate(const char *code, struct hrid_err *err)
{
    const unsigned char *s = (const unsigned char *)code;
    char tmp[HRID_CODE_LEN + 1];

    /* The hot path: the check computation also refuses bytes outside the
     * alphabet.  Any failure is re-run through the scanner, which explains
     * it. */
    if (canonical_ok(s, mod3736_run(s))) {
        hrid_err_clear(err);
        return HRID_OK;
    }
    if (err == NULL)
        return HRID_EINVAL;
    /* A shorter NUL-terminated string stops the check computation at its
     * NUL; strnlen keeps the explanation inside it. */
    return scan(code, strnlen(code, HRID_CODE_LEN), true, tmp, err);
}

size_t hrid_code_validate_many(const char *const *codes, size_t n,
                               unsigned char *ok)
{
    size_t i = 0, valid = 0;

    /* Four codes at a time: each check computation is a chain of 28
     * dependent table loads, and four independent chains keep the
     * processor busy while one of them waits. */
    for (; i + 4 <= n; i += 4) {
        const unsigned char *a = (const unsigned char *)codes[i];
        const unsigned char *b = (const unsigned char *)codes[i + 1];
        const unsigned char *c = (const unsigned char *)codes[i + 2];
        const unsigned char *d = (const unsigned char *)codes[i + 3];
        unsigned oa = 36 * 256, ob = oa, oc = oa, od = oa;

        for (int k = 0; k < HRID_CODE_LEN - 1; k++) {
            oa = step[oa + a[k]];
            ob = step[ob + b[k]];
            oc = step[oc + c[k]];
            od = step[od + d[k]];
        }
        ok[i] = canonical_ok(a, oa >> 8);
        ok[i + 1] = canonical_ok(b, ob >> 8);
        ok[i + 2] = canonical_ok(c, oc >> 8);
        ok[i + 3] = canonical_ok(d, od >> 8);
        valid += (size_t)ok[i] + ok[i + 1] + ok[i + 2] + ok[i + 3];
    }
    for (; i < n; i++) {
        const unsigned char *a = (const unsigned char *)codes[i];

        ok[i] = canonical_ok(a, mod3736_run(a));
        valid += ok[i];
    }
    return valid;
}

int hrid_code_decode(const char *in, size_t len, struct hrid_code_parts *parts,
                     struct hrid_err *err)
{
    int rc;
    const char *c = parts->code;

    memset(parts, 0, sizeof *parts);
    rc = hrid_code_parse(in, len, parts->code, err);
    if (rc != HRID_OK)
        return rc;
    memcpy(parts->country, c, 2);
    parts->country_name = hrid_country_name(c);
    memcpy(parts->enterprise, c + 2, 4);
    memcpy(parts->model, c + 6, 6);
    memcpy(parts->model_id, c, 12);
    parts->level = c[6] - '0';
    parts->filing_year = 2000 + (c[7] - '0') * 10 + (c[8] - '0');
    memcpy(parts->model_seq, c + 9, 3);
    memcpy(parts->serial, c + 12, 16);
    parts->check = c[28];
    return HRID_OK;
}

void hrid_code_display(const char *code, char out[HRID_CODE_DISPLAY_LEN + 1])
{
    /* CC-EEEE-MMMMMM-SSSSSSSSSSSSSSSS-C */
    memcpy(out, code, 2);
    out[2] = '-';
    memcpy(out + 3, code + 2, 4);
    out[7] = '-';
    memcpy(out + 8, code + 6, 6);
    out[14] = '-';
    memcpy(out + 15, code + 12, 16);
    out[31] = '-';
    out[32] = code[28];
    out[33] = '\0';
}

int hrid_code_make(const char *country, const char *enterprise,
                   const char *model, const char *serial,
                   char out[HRID_CODE_LEN + 1], struct hrid_err *err)
{
    static const struct {
        const char *name;
        size_t len;
    } seg[4] = {
        {"country", HRID_COUNTRY_LEN},
        {"enterprise", HRID_ENTERPRISE_LEN},
        {"model", HRID_MODEL_LEN},
        {"serial", HRID_SERIAL_BODY_LEN},
    };
    const char *val[4] = {country, enterprise, model, serial};
    char buf[HRID_CODE_LEN + 1];
    size_t at = 0;
    char check;

    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        size_t n = val[i] ? strlen(val[i]) : 0;

        if (n != seg[i].len)
            return hrid_err_set(err, HRID_EINVAL, HRID_CODE_SEGMENT, 0,
                                "%s segment has %zu characters, expected %zu",
                                seg[i].name, n, seg[i].len);
        memcpy(buf + at, val[i], n);
        at += n;
    }
    /* Fold case and check the characters before computing the check, so
     * that a bad character is reported at its position in the code. */
    for (size_t i = 0; i < at; i++) {
        unsigned char ch = (unsigned char)buf[i];
        int cl = char_class(ch);

        if (cl == CL_LOWER)
            buf[i] = (char)(ch - 'a' + 'A');
        else if (cl != CL_CANON) {
            char q[8];

            quote_char((const unsigned char *)buf + i, at - i, q, sizeof q);
            return hrid_err_set(err, HRID_EINVAL, HRID_CODE_CHAR, (int)i + 1,
                                "position %zu: '%s' is not in 0-9A-Z", i + 1,
                                q);
        }
    }
    check = hrid_code_check_char(buf);
    buf[HRID_CODE_LEN - 1] = check;
    buf[HRID_CODE_LEN] = '\0';
    return hrid_code_parse(buf, HRID_CODE_LEN, out, err);
}

int hrid_alloc_segment(uint64_t n, int width, char *out, struct hrid_err *err)
{
    static const char alpha[] = HRID_ALLOC_ALPHABET;

    if (width <= 0 || width > 16)
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "segment width %d is not 1-16", width);
    for (int i = width - 1; i >= 0; i--) {
        out[i] = alpha[n % HRID_ALLOC_RADIX];
        n /= HRID_ALLOC_RADIX;
    }
    out[width] = '\0';
    if (n != 0) {
        out[0] = '\0';
        return hrid_err_set(err, HRID_ERANGE, 0, 0,
                            "%d characters of 0-9A-Z without I and O cannot "
                            "hold the number", width);
    }
    return HRID_OK;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

int hrid_serial_allocate(int year, int month, int day, uint64_t seq,
                         char out[HRID_SERIAL_BODY_LEN + 1],
                         struct hrid_err *err)
{
    int yy = year - 2000;

    out[0] = '\0';
    if (year < 2000 || year > 2099 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month))
        return hrid_err_set(err, HRID_EINVAL, 0, 0,
                            "production date %04d-%02d-%02d is not a date in "
                            "2000-2099", year, month, day);
    out[0] = (char)('0' + yy / 10);
    out[1] = (char)('0' + yy % 10);
    out[2] = (char)('0' + month / 10);
    out[3] = (char)('0' + month % 10);
    out[4] = (char)('0' + day / 10);
    out[5] = (char)('0' + day % 10);
    if (hrid_alloc_segment(seq, HRID_ALLOC_SEQ_LEN, out + 6, err) != HRID_OK) {
        out[0] = '\0';
        return HRID_ERANGE;
    }
    return HRID_OK;
}

const char *hrid_code_reason_name(int reason)
{
    static const char *const names[] = {
        [HRID_CODE_OK] = "ok",          [HRID_CODE_EMPTY] = "empty",
        [HRID_CODE_LENGTH] = "length",  [HRID_CODE_CHAR] = "character",
        [HRID_CODE_COUNTRY] = "country", [HRID_CODE_RESERVED] = "reserved",
        [HRID_CODE_LEVEL] = "level",    [HRID_CODE_YEAR] = "year",
        [HRID_CODE_CHECK] = "check",    [HRID_CODE_SEGMENT] = "segment",
    };

    if (reason < 0 || (size_t)reason >= sizeof names / sizeof names[0])
        return "unknown";
    return names[reason];
}

const char *hrid_level_meaning(int level)
{
    static const char *const meaning[HRID_LEVEL_MAX + 1] = {
        "teleoperated only",
        "scripted motion",
        "supervised autonomy in fenced or structured sites",
        "conditional autonomy among trained staff",
        "autonomy among the public",
        "physical assistance of people",
    };

    if (level < 0 || level > HRID_LEVEL_MAX)
        return NULL;
    return meaning[level];
}
