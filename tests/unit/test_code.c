/*
 * test_code.c - unit tests of lib/code.c, the HRID identity code v1
 * (DESIGN §2, include/hrid/code.h).
 *
 * The check character is verified against an independent implementation
 * of ISO 7064 MOD 37,36 written here from the standard's definition, not
 * from lib/code.c, so a shared misreading of the standard cannot hide.
 * Random inputs come from a fixed-seed generator: a failure reproduces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hrid/code.h"
#include "hrid/error.h"

static const char ALNUM[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* The three reference vectors: 28-character bodies and their check
 * characters, computed by hand from ISO 7064 and by the reference below. */
static const struct {
    const char *body;
    char check;
} VECTORS[] = {
    {"CNA7K23260012605220000001234", 'U'},
    {"CN00010260010000000000000001", 'N'},
    {"DEZZZZ531ABC25123199999999ZZ", 'J'},
};
#define NVECTORS (sizeof VECTORS / sizeof VECTORS[0])

static const char CODE1[] = "CNA7K23260012605220000001234U";
static const char DISPLAY1[] = "CN-A7K2-326001-2605220000001234-U";

/* ---- helpers ----------------------------------------------------------- */

/* xorshift64*: small, fixed seed, good enough to pick test inputs. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static char rng_pick(const char *alphabet, size_t n)
{
    return alphabet[rng() % n];
}

static int value_of(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return -1;
}

/*
 * ISO 7064 MOD 37,36 (hybrid system, M = 36): start with P = M; for each
 * character value v, S = (P + v) mod M with 0 replaced by M, then
 * P = (2 S) mod (M + 1).  The check value c makes (P + c) mod M == 1.
 */
static char ref_check(const char *body, size_t n)
{
    int p = 36;

    for (size_t i = 0; i < n; i++) {
        int s = (p + value_of(body[i])) % 36;
        if (s == 0)
            s = 36;
        p = (2 * s) % 37;
    }
    for (int c = 0; c < 36; c++)
        if ((p + c) % 36 == 1)
            return ALNUM[c];
    return 0;
}

/* Verifying a whole code the standard's way: running the recurrence over
 * all 29 characters leaves P with (P + ...) such that S == 1. */
static int ref_check_ok(const char *code29)
{
    return ref_check(code29, 28) == code29[28];
}

/* Builds code from a 28-character body and the reference check. */
static void with_check(const char *body, char code[HRID_CODE_LEN + 1])
{
    char tmp[28];

    memcpy(tmp, body, 28);      /* body may be code itself */
    memcpy(code, tmp, 28);
    code[28] = ref_check(tmp, 28);
    code[29] = '\0';
}

/* A random code that must be valid: assigned country, allocated enterprise
 * and sequence, level 0-5, any year, any serial body (a manufacturer's own
 * serial may hold I and O). */
static void random_valid(char code[HRID_CODE_LEN + 1])
{
    char body[29];
    size_t nc = hrid_country_count();
    const char *cc = hrid_country_at(rng() % nc, NULL);

    body[0] = cc[0];
    body[1] = cc[1];
    for (int i = 2; i < 6; i++)
        body[i] = rng_pick(HRID_ALLOC_ALPHABET, HRID_ALLOC_RADIX);
    body[6] = (char)('0' + rng() % 6);
    body[7] = (char)('0' + rng() % 10);
    body[8] = (char)('0' + rng() % 10);
    for (int i = 9; i < 12; i++)
        body[i] = rng_pick(HRID_ALLOC_ALPHABET, HRID_ALLOC_RADIX);
    for (int i = 12; i < 28; i++)
        body[i] = rng_pick(ALNUM, 36);
    body[28] = '\0';
    with_check(body, code);
}

static int parse_str(const char *s, char out[HRID_CODE_LEN + 1],
                     struct hrid_err *err)
{
    memset(out, 'x', HRID_CODE_LEN + 1);
    hrid_err_clear(err);
    return hrid_code_parse(s, strlen(s), out, err);
}

/* Asserts that s is refused with reason and position, and that out is
 * left empty. */
static void expect_refused(const char *s, int reason, int pos)
{
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;
    int rc = parse_str(s, out, &err);

    if (rc != HRID_EINVAL || err.reason != reason || err.pos != pos)
        print_error("input '%s': rc %d reason %s pos %d msg '%s'; "
                    "expected reason %s pos %d\n", s, rc,
                    hrid_code_reason_name(err.reason), err.pos, err.msg,
                    hrid_code_reason_name(reason), pos);
    assert_int_equal(rc, HRID_EINVAL);
    assert_int_equal(err.status, HRID_EINVAL);
    assert_int_equal(err.reason, reason);
    assert_int_equal(err.pos, pos);
    assert_string_equal(out, "");
    assert_true(err.msg[0] != '\0');
}

static void expect_msg_has(const char *s, const char *needle)
{
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    assert_int_equal(parse_str(s, out, &err), HRID_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        print_error("input '%s': message '%s' lacks '%s'\n", s, err.msg,
                    needle);
    assert_non_null(strstr(err.msg, needle));
}

/* A valid code with character pos (1-based) replaced by c and the check
 * character recomputed, so only the substituted rule can fail. */
static void variant(const char *code, int pos, char c,
                    char out[HRID_CODE_LEN + 1])
{
    char body[29];

    memcpy(body, code, 28);
    body[28] = '\0';
    body[pos - 1] = c;
    with_check(body, out);
}

/* ---- check character --------------------------------------------------- */

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVECTORS; i++) {
        char code[HRID_CODE_LEN + 1], out[HRID_CODE_LEN + 1];
        struct hrid_err err;

        assert_int_equal(ref_check(VECTORS[i].body, 28), VECTORS[i].check);
        assert_int_equal(hrid_code_check_char(VECTORS[i].body),
                         VECTORS[i].check);
        memcpy(code, VECTORS[i].body, 28);
        code[28] = VECTORS[i].check;
        code[29] = '\0';
        assert_int_equal(parse_str(code, out, &err), HRID_OK);
        assert_string_equal(out, code);
        assert_int_equal(hrid_code_validate(code, &err), HRID_OK);
        assert_int_equal(hrid_code_validate(code, NULL), HRID_OK);
    }
}

static void test_check_char_reference(void **state)
{
    char body[29];

    (void)state;
    body[28] = '\0';
    for (int n = 0; n < 100000; n++) {
        for (int i = 0; i < 28; i++)
            body[i] = rng_pick(ALNUM, 36);
        char want = ref_check(body, 28);
        char got = hrid_code_check_char(body);
        if (want != got)
            print_error("body %s: check_char '%c', reference '%c'\n", body,
                        got ? got : '0', want);
        assert_int_equal(got, want);
    }
}

static void test_check_char_bad_input(void **state)
{
    (void)state;
    assert_int_equal(hrid_code_check_char("cNA7K23260012605220000001234"),
                     0);
    assert_int_equal(hrid_code_check_char("CNA7K2326001260522000000123*"),
                     0);
    assert_int_equal(hrid_code_check_char("CNA7K23260012605220000001-34"),
                     0);
    assert_int_equal(hrid_code_check_char("CNA7K2326001260522000000 234"),
                     0);
}

/* ---- error detection --------------------------------------------------- */

static void substitutions_of(const char *code)
{
    char s[HRID_CODE_LEN + 1], out[HRID_CODE_LEN + 1];
    struct hrid_err err, verr;

    for (int i = 0; i < HRID_CODE_LEN; i++) {
        for (int k = 0; k < 36; k++) {
            if (ALNUM[k] == code[i])
                continue;
            memcpy(s, code, sizeof s);
            s[i] = ALNUM[k];
            int rc = parse_str(s, out, &err);
            if (rc != HRID_EINVAL)
                print_error("substitution %s of %s accepted\n", s, code);
            assert_int_equal(rc, HRID_EINVAL);
            assert_string_equal(out, "");
            /* The error names the changed position, the check position,
             * or position 1 for the country as a whole. */
            if (!(err.pos == i + 1 || err.pos == 29 ||
                  (err.reason == HRID_CODE_COUNTRY && err.pos == 1)))
                print_error("substitution %s: pos %d (%s), changed %d\n", s,
                            err.pos, err.msg, i + 1);
            assert_true(err.pos == i + 1 || err.pos == 29 ||
                        (err.reason == HRID_CODE_COUNTRY && err.pos == 1));
            /* The strict path agrees with the forgiving one. */
            hrid_err_clear(&verr);
            assert_int_equal(hrid_code_validate(s, &verr), HRID_EINVAL);
            assert_int_equal(hrid_code_validate(s, NULL), HRID_EINVAL);
            assert_int_equal(verr.reason, err.reason);
            assert_int_equal(verr.pos, err.pos);
        }
    }
}

static void test_every_substitution(void **state)
{
    char code[HRID_CODE_LEN + 1];

    (void)state;
    for (size_t i = 0; i < NVECTORS; i++) {
        with_check(VECTORS[i].body, code);
        substitutions_of(code);
    }
    for (int n = 0; n < 50; n++) {
        random_valid(code);
        substitutions_of(code);
    }
}

static void test_adjacent_transpositions(void **state)
{
    char code[HRID_CODE_LEN + 1], s[HRID_CODE_LEN + 1];
    char out[HRID_CODE_LEN + 1];
    long total = 0, caught = 0;

    (void)state;
    /* The reference vectors: every transposition is caught. */
    for (size_t v = 0; v < NVECTORS; v++) {
        with_check(VECTORS[v].body, code);
        for (int i = 0; i + 1 < HRID_CODE_LEN; i++) {
            if (code[i] == code[i + 1])
                continue;
            memcpy(s, code, sizeof s);
            s[i] = code[i + 1];
            s[i + 1] = code[i];
            assert_int_equal(hrid_code_parse(s, 29, out, NULL), HRID_EINVAL);
        }
    }
    /* Random codes: measure the fraction caught.  MOD 37,36 misses a
     * transposition only when the two characters' contributions collide
     * (about 0.16% measured with the reference over random bodies); every
     * miss must be one the reference also misses. */
    for (int n = 0; n < 20000; n++) {
        random_valid(code);
        for (int i = 0; i + 1 < HRID_CODE_LEN; i++) {
            if (code[i] == code[i + 1])
                continue;
            memcpy(s, code, sizeof s);
            s[i] = code[i + 1];
            s[i + 1] = code[i];
            total++;
            if (hrid_code_parse(s, 29, out, NULL) != HRID_OK)
                caught++;
            else
                assert_true(ref_check_ok(s));
        }
    }
    double frac = (double)caught / (double)total;
    print_message("adjacent transpositions caught: %ld of %ld (%.4f%%)\n",
                  caught, total, 100.0 * frac);
    assert_true(frac >= 0.995);
}

/* ---- error classes ----------------------------------------------------- */

static void test_empty(void **state)
{
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    expect_refused("", HRID_CODE_EMPTY, 0);
    expect_refused("   ", HRID_CODE_EMPTY, 0);
    expect_refused(" -\t- ", HRID_CODE_EMPTY, 0);
    /* len 0 reads nothing, whatever follows. */
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_parse(CODE1, 0, out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_EMPTY);
}

static void test_length(void **state)
{
    char s[64];

    (void)state;
    /* 28 characters: the check character missing. */
    snprintf(s, sizeof s, "%.28s", CODE1);
    expect_refused(s, HRID_CODE_LENGTH, 0);
    expect_msg_has(s, "28");
    /* 30 characters. */
    snprintf(s, sizeof s, "%sU", CODE1);
    expect_refused(s, HRID_CODE_LENGTH, 0);
    expect_msg_has(s, "30");
    /* Separators are not counted. */
    expect_refused("CN-A7K2-326001-260522000000123-U", HRID_CODE_LENGTH, 0);
    expect_msg_has("CN-A7K2-326001-260522000000123-U", "28");
    expect_refused("A", HRID_CODE_LENGTH, 0);
    expect_msg_has("A", "1");
}

static void test_char(void **state)
{
    char s[64], out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    /* '*' at position 5. */
    memcpy(s, CODE1, sizeof CODE1);
    s[4] = '*';
    expect_refused(s, HRID_CODE_CHAR, 5);
    expect_msg_has(s, "position 5");
    expect_msg_has(s, "'*'");

    /* A two-byte UTF-8 letter at position 17, the message exact. */
    snprintf(s, sizeof s, "%.16s\xc3\x96%s", CODE1, CODE1 + 17);
    expect_refused(s, HRID_CODE_CHAR, 17);
    assert_int_equal(parse_str(s, out, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "position 17: '\xc3\x96' is not in 0-9A-Z");

    /* The same in display form: positions count significant characters. */
    expect_refused("CN-A7K2-326001-2605\xc3\x96" "20000001234-U", HRID_CODE_CHAR,
                   17);
    assert_int_equal(parse_str("CN-A7K2-326001-2605\xc3\x96" "20000001234-U",
                               out, &err), HRID_EINVAL);
    assert_string_equal(err.msg, "position 17: '\xc3\x96' is not in 0-9A-Z");

    /* A character error is reported before a length error. */
    expect_refused("CN*", HRID_CODE_CHAR, 3);
    /* Other separators than space, tab and hyphen are characters. */
    memcpy(s, CODE1, sizeof CODE1);
    s[2] = '.';
    expect_refused(s, HRID_CODE_CHAR, 3);
    /* A stray high byte and a NUL byte are refused, not read past. */
    snprintf(s, sizeof s, "%.10s\xff%s", CODE1, CODE1 + 11);
    expect_refused(s, HRID_CODE_CHAR, 11);
    memcpy(s, CODE1, sizeof CODE1);
    s[3] = '\0';
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_parse(s, 29, out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_CHAR);
    assert_int_equal(err.pos, 4);
}

static void test_country(void **state)
{
    char s[HRID_CODE_LEN + 1];
    static const char *const bad[] = {"XX", "UK", "EU", "XK", "ZZ", "AA"};

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[29];

        memcpy(body, CODE1, 28);
        body[28] = '\0';
        body[0] = bad[i][0];
        body[1] = bad[i][1];
        with_check(body, s);
        expect_refused(s, HRID_CODE_COUNTRY, 1);
        expect_msg_has(s, bad[i]);
    }
    /* Digits in the country are valid characters but no country. */
    variant(CODE1, 1, '1', s);
    expect_refused(s, HRID_CODE_COUNTRY, 1);
}

static void test_reserved(void **state)
{
    char s[HRID_CODE_LEN + 1], out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    for (int pos = 3; pos <= 6; pos++) {
        variant(CODE1, pos, 'I', s);
        expect_refused(s, HRID_CODE_RESERVED, pos);
        variant(CODE1, pos, 'O', s);
        expect_refused(s, HRID_CODE_RESERVED, pos);
    }
    for (int pos = 10; pos <= 12; pos++) {
        variant(CODE1, pos, 'I', s);
        expect_refused(s, HRID_CODE_RESERVED, pos);
        variant(CODE1, pos, 'O', s);
        expect_refused(s, HRID_CODE_RESERVED, pos);
    }
    /* The first reserved letter is the one named. */
    variant(CODE1, 4, 'O', s);
    s[10] = 'I';
    with_check(s, s);
    expect_refused(s, HRID_CODE_RESERVED, 4);
    /* The serial body is the manufacturer's: I and O are allowed there. */
    for (int pos = 13; pos <= 28; pos++) {
        variant(CODE1, pos, 'I', s);
        assert_int_equal(parse_str(s, out, &err), HRID_OK);
        variant(CODE1, pos, 'O', s);
        assert_int_equal(parse_str(s, out, &err), HRID_OK);
    }
    /* So is a country containing O (Oman) or I (Italy). */
    variant(CODE1, 1, 'O', s);
    variant(s, 2, 'M', s);
    assert_int_equal(parse_str(s, out, &err), HRID_OK);
    variant(CODE1, 1, 'I', s);
    variant(s, 2, 'T', s);
    assert_int_equal(parse_str(s, out, &err), HRID_OK);
}

static void test_level(void **state)
{
    char s[HRID_CODE_LEN + 1], out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    for (char c = '0'; c <= '5'; c++) {
        variant(CODE1, 7, c, s);
        assert_int_equal(parse_str(s, out, &err), HRID_OK);
    }
    for (char c = '6'; c <= '9'; c++) {
        variant(CODE1, 7, c, s);
        expect_refused(s, HRID_CODE_LEVEL, 7);
    }
    for (const char *p = "ABIOZ"; *p; p++) {
        variant(CODE1, 7, *p, s);
        expect_refused(s, HRID_CODE_LEVEL, 7);
    }
}

static void test_year(void **state)
{
    char s[HRID_CODE_LEN + 1];

    (void)state;
    variant(CODE1, 8, 'A', s);
    expect_refused(s, HRID_CODE_YEAR, 8);
    variant(CODE1, 9, 'Z', s);
    expect_refused(s, HRID_CODE_YEAR, 9);
    variant(CODE1, 8, 'O', s);
    expect_refused(s, HRID_CODE_YEAR, 8);
}

static void test_check(void **state)
{
    char s[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    memcpy(s, CODE1, sizeof CODE1);
    s[28] = 'K';
    expect_refused(s, HRID_CODE_CHECK, 29);
    expect_msg_has(s, "'K'");
    expect_msg_has(s, "expected 'U'");
    /* Lower case input: the message quotes the normalised characters. */
    expect_msg_has("cna7k23260012605220000001234k", "expected 'U'");
    /* A code whose body changed: the check position is named. */
    memcpy(s, CODE1, sizeof CODE1);
    s[20] = 'Z';
    expect_refused(s, HRID_CODE_CHECK, 29);
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_validate(s, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_CHECK);
}

static void test_order_of_rules(void **state)
{
    char s[HRID_CODE_LEN + 1];

    (void)state;
    /* Country before reserved before level before year before check:
     * all wrong at once, the earliest rule is reported. */
    memcpy(s, "XXIIII9AA", 9);
    memcpy(s + 9, CODE1 + 9, 20);
    s[28] = s[28] == '0' ? '1' : '0';
    s[29] = '\0';
    expect_refused(s, HRID_CODE_COUNTRY, 1);
    s[0] = 'C';
    s[1] = 'N';
    expect_refused(s, HRID_CODE_RESERVED, 3);
    memcpy(s + 2, "A7K2", 4);
    expect_refused(s, HRID_CODE_LEVEL, 7);
    s[6] = '3';
    expect_refused(s, HRID_CODE_YEAR, 8);
    s[7] = '2';
    s[8] = '6';
    expect_refused(s, HRID_CODE_CHECK, 29);
}

/* ---- normalisation and forms ------------------------------------------- */

static void test_normalise(void **state)
{
    static const char *const forms[] = {
        "CNA7K23260012605220000001234U",
        "cna7k23260012605220000001234u",
        "cNa7K23260012605220000001234U",
        "CN-A7K2-326001-2605220000001234-U",
        "cn-a7k2-326001-2605220000001234-u",
        "CN A7K2 326001 2605220000001234 U",
        "  CN A7K2\t326001\t2605 2200 0000 1234 U \t",
        "C-N-A-7-K-2-3-2-6-0-0-1-2-6-0-5-2-2-0-0-0-0-0-0-1-2-3-4-U",
        "--CN--A7K2--326001--2605220000001234--U--",
        "\tCNA7K23260012605220000001234U",
    };
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int rc = parse_str(forms[i], out, &err);
        if (rc != HRID_OK)
            print_error("form '%s': %s\n", forms[i], err.msg);
        assert_int_equal(rc, HRID_OK);
        assert_string_equal(out, CODE1);
    }
    /* len bounds the input; what follows is not read. */
    assert_int_equal(hrid_code_parse("CNA7K23260012605220000001234UXYZ", 29,
                                     out, &err), HRID_OK);
    assert_string_equal(out, CODE1);
    /* The strict path takes no forgiveness. */
    assert_int_equal(hrid_code_validate("cna7k23260012605220000001234u",
                                        NULL), HRID_EINVAL);
}

static void test_display(void **state)
{
    char disp[HRID_CODE_DISPLAY_LEN + 1], out[HRID_CODE_LEN + 1];
    char code[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    memset(disp, 'x', sizeof disp);
    hrid_code_display(CODE1, disp);
    assert_string_equal(disp, DISPLAY1);
    assert_int_equal(strlen(disp), HRID_CODE_DISPLAY_LEN);
    with_check(VECTORS[2].body, code);
    hrid_code_display(code, disp);
    assert_string_equal(disp, "DE-ZZZZ-531ABC-25123199999999ZZ-J");
    for (int n = 0; n < 1000; n++) {
        random_valid(code);
        hrid_code_display(code, disp);
        assert_int_equal(parse_str(disp, out, &err), HRID_OK);
        assert_string_equal(out, code);
    }
}

static void test_decode(void **state)
{
    struct hrid_code_parts p;
    struct hrid_err err;

    (void)state;
    memset(&p, 0x55, sizeof p);
    assert_int_equal(hrid_code_decode(DISPLAY1, strlen(DISPLAY1), &p, &err),
                     HRID_OK);
    assert_string_equal(p.code, CODE1);
    assert_string_equal(p.country, "CN");
    assert_non_null(p.country_name);
    assert_string_equal(p.country_name, "China");
    assert_string_equal(p.enterprise, "A7K2");
    assert_string_equal(p.model, "326001");
    assert_string_equal(p.model_id, "CNA7K2326001");
    assert_int_equal(p.level, 3);
    assert_int_equal(p.filing_year, 2026);
    assert_string_equal(p.model_seq, "001");
    assert_string_equal(p.serial, "2605220000001234");
    assert_int_equal(p.check, 'U');

    assert_int_equal(hrid_code_decode("dezzzz531abc25123199999999zzj", 29, &p,
                                      NULL), HRID_OK);
    assert_string_equal(p.country_name, "Germany");
    assert_int_equal(p.level, 5);
    assert_int_equal(p.filing_year, 2031);
    assert_string_equal(p.model_seq, "ABC");

    hrid_err_clear(&err);
    assert_int_equal(hrid_code_decode("CNA7K23260012605220000001234K", 29, &p,
                                      &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_CHECK);
    assert_int_equal(hrid_code_decode("", 0, &p, NULL), HRID_EINVAL);
}

/* ---- building codes ---------------------------------------------------- */

static void test_make(void **state)
{
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_code_make("CN", "A7K2", "326001", "2605220000001234",
                                    out, &err), HRID_OK);
    assert_string_equal(out, CODE1);
    assert_int_equal(hrid_code_make("cn", "a7k2", "326001", "2605220000001234",
                                    out, NULL), HRID_OK);
    assert_string_equal(out, CODE1);
    assert_int_equal(hrid_code_make("de", "zzzz", "531abc", "25123199999999zz",
                                    out, NULL), HRID_OK);
    assert_string_equal(out, "DEZZZZ531ABC25123199999999ZZJ");

    /* Wrong lengths, segment by segment. */
    static const char *const segs[4][3] = {
        {"C", "CHN", ""},
        {"A7K", "A7K22", ""},
        {"32600", "3260011", ""},
        {"260522000000123", "26052200000012345", ""},
    };
    const char *ok[4] = {"CN", "A7K2", "326001", "2605220000001234"};
    for (int s = 0; s < 4; s++) {
        for (int k = 0; k < 3; k++) {
            const char *a[4] = {ok[0], ok[1], ok[2], ok[3]};
            a[s] = segs[s][k];
            hrid_err_clear(&err);
            assert_int_equal(hrid_code_make(a[0], a[1], a[2], a[3], out, &err),
                             HRID_EINVAL);
            assert_int_equal(err.status, HRID_EINVAL);
            assert_int_equal(err.reason, HRID_CODE_SEGMENT);
            assert_true(err.msg[0] != '\0');
            assert_int_equal(hrid_code_make(a[0], a[1], a[2], a[3], out, NULL),
                             HRID_EINVAL);
        }
    }
    /* Right lengths, wrong content: the parse reason. */
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_make("XX", "A7K2", "326001", "2605220000001234",
                                    out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_COUNTRY);
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_make("CN", "A7I2", "326001", "2605220000001234",
                                    out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_RESERVED);
    assert_int_equal(err.pos, 5);
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_make("CN", "A7K2", "726001", "2605220000001234",
                                    out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_LEVEL);
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_make("CN", "A7K2", "3X6001", "2605220000001234",
                                    out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_YEAR);
    hrid_err_clear(&err);
    assert_int_equal(hrid_code_make("CN", "A7K2", "326001", "26052200000*1234",
                                    out, &err), HRID_EINVAL);
    assert_int_equal(err.reason, HRID_CODE_CHAR);
    assert_int_equal(err.pos, 24);
}

static void test_round_trips(void **state)
{
    char out[HRID_CODE_LEN + 1], disp[HRID_CODE_DISPLAY_LEN + 1];
    char cc[3], ent[5], model[7], serial[17];
    struct hrid_code_parts p;
    struct hrid_err err;
    size_t nc = hrid_country_count();

    (void)state;
    for (int n = 0; n < 20000; n++) {
        const char *c = hrid_country_at(rng() % nc, NULL);
        int level = (int)(rng() % 6), yy = (int)(rng() % 100);

        memcpy(cc, c, 3);
        assert_int_equal(hrid_alloc_segment(rng() % (34u * 34 * 34 * 34), 4,
                                            ent, NULL), HRID_OK);
        model[0] = (char)('0' + level);
        model[1] = (char)('0' + yy / 10);
        model[2] = (char)('0' + yy % 10);
        assert_int_equal(hrid_alloc_segment(rng() % (34u * 34 * 34), 3,
                                            model + 3, NULL), HRID_OK);
        for (int i = 0; i < 16; i++)
            serial[i] = rng_pick(ALNUM, 36);
        serial[16] = '\0';
        if (n % 3 == 1) {           /* make accepts lower case */
            for (int i = 0; i < 16; i++)
                if (serial[i] >= 'A' && serial[i] <= 'Z')
                    serial[i] = (char)(serial[i] - 'A' + 'a');
        }
        hrid_err_clear(&err);
        int rc = hrid_code_make(cc, ent, model, serial, out, &err);
        if (rc != HRID_OK)
            print_error("make %s %s %s %s: %s\n", cc, ent, model, serial,
                        err.msg);
        assert_int_equal(rc, HRID_OK);
        assert_int_equal(strlen(out), HRID_CODE_LEN);
        assert_int_equal(out[28], ref_check(out, 28));
        assert_int_equal(hrid_code_validate(out, &err), HRID_OK);

        hrid_code_display(out, disp);
        assert_int_equal(hrid_code_decode(disp, strlen(disp), &p, &err),
                         HRID_OK);
        assert_string_equal(p.code, out);
        assert_string_equal(p.country, cc);
        assert_string_equal(p.country_name, hrid_country_name(cc));
        assert_string_equal(p.enterprise, ent);
        assert_memory_equal(p.model, model, 6);
        assert_memory_equal(p.model_id, out, 12);
        assert_int_equal(strlen(p.model_id), 12);
        assert_int_equal(p.level, level);
        assert_int_equal(p.filing_year, 2000 + yy);
        assert_string_equal(p.model_seq, model + 3);
        assert_memory_equal(p.serial, out + 12, 16);
        assert_int_equal(strlen(p.serial), 16);
        assert_int_equal(p.check, out[28]);
    }
}

/* ---- allocation -------------------------------------------------------- */

static void test_alloc_segment(void **state)
{
    char out[16], prev[16];
    struct hrid_err err;

    (void)state;
    assert_int_equal(hrid_alloc_segment(0, 4, out, &err), HRID_OK);
    assert_string_equal(out, "0000");
    assert_int_equal(hrid_alloc_segment(33, 4, out, &err), HRID_OK);
    assert_string_equal(out, "000Z");
    assert_int_equal(hrid_alloc_segment(34, 4, out, &err), HRID_OK);
    assert_string_equal(out, "0010");
    assert_int_equal(hrid_alloc_segment(18, 4, out, &err), HRID_OK);
    assert_string_equal(out, "000J");   /* 18 skips I */
    assert_int_equal(hrid_alloc_segment(23, 4, out, &err), HRID_OK);
    assert_string_equal(out, "000P");   /* 23 skips O */
    assert_int_equal(hrid_alloc_segment(34u * 34 * 34 * 34 - 1, 4, out, &err),
                     HRID_OK);
    assert_string_equal(out, "ZZZZ");
    hrid_err_clear(&err);
    assert_int_equal(hrid_alloc_segment(34u * 34 * 34 * 34, 4, out, &err),
                     HRID_ERANGE);
    assert_int_equal(err.status, HRID_ERANGE);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(hrid_alloc_segment(UINT64_MAX, 4, out, NULL),
                     HRID_ERANGE);
    assert_int_equal(hrid_alloc_segment(34u * 34 * 34 - 1, 3, out, NULL),
                     HRID_OK);
    assert_string_equal(out, "ZZZ");
    assert_int_equal(hrid_alloc_segment(34u * 34 * 34, 3, out, NULL),
                     HRID_ERANGE);
    assert_int_equal(hrid_alloc_segment(0, 10, out, NULL), HRID_OK);
    assert_string_equal(out, "0000000000");

    /* The whole enterprise range: never I or O, strictly increasing, so
     * allocation order is sort order. */
    prev[0] = '\0';
    for (uint64_t n = 0; n < 34u * 34 * 34 * 34; n++) {
        assert_int_equal(hrid_alloc_segment(n, 4, out, NULL), HRID_OK);
        assert_int_equal(strlen(out), 4);
        if (strpbrk(out, "IO") != NULL || strspn(out, ALNUM) != 4)
            print_error("alloc %llu gave '%s'\n", (unsigned long long)n, out);
        assert_null(strpbrk(out, "IO"));
        assert_int_equal(strspn(out, ALNUM), 4);
        assert_true(strcmp(prev, out) < 0);
        memcpy(prev, out, 5);
    }
}

static void test_serial_allocate(void **state)
{
    char out[HRID_SERIAL_BODY_LEN + 1];
    struct hrid_err err;
    uint64_t max = 1;

    (void)state;
    for (int i = 0; i < 10; i++)
        max *= 34;
    assert_int_equal(hrid_serial_allocate(2026, 5, 22, 1234, out, &err),
                     HRID_OK);
    assert_string_equal(out, "260522000000012A");   /* 1234 = 36*34 + 10 */
    assert_int_equal(hrid_serial_allocate(2026, 5, 22, 0, out, NULL), HRID_OK);
    assert_string_equal(out, "2605220000000000");
    assert_int_equal(hrid_serial_allocate(2000, 1, 1, 34, out, NULL), HRID_OK);
    assert_string_equal(out, "0001010000000010");
    assert_int_equal(hrid_serial_allocate(2099, 12, 31, max - 1, out, NULL),
                     HRID_OK);
    assert_string_equal(out, "991231ZZZZZZZZZZ");
    assert_int_equal(hrid_serial_allocate(2028, 2, 29, 7, out, NULL), HRID_OK);
    assert_string_equal(out, "2802290000000007");
    assert_int_equal(hrid_serial_allocate(2000, 2, 29, 7, out, NULL), HRID_OK);

    hrid_err_clear(&err);
    assert_int_equal(hrid_serial_allocate(2026, 5, 22, max, out, &err),
                     HRID_ERANGE);
    assert_int_equal(err.status, HRID_ERANGE);
    assert_int_equal(hrid_serial_allocate(2026, 5, 22, UINT64_MAX, out, NULL),
                     HRID_ERANGE);

    static const int bad[][3] = {
        {2026, 13, 1}, {2026, 0, 1}, {2026, 1, 0}, {2026, 1, 32},
        {2026, 2, 30}, {2027, 2, 29}, {2026, 4, 31}, {2026, 6, 31},
        {1999, 12, 31}, {2100, 1, 1}, {0, 1, 1}, {-1, 1, 1}, {2026, -1, 1},
        {2100, 2, 29},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hrid_err_clear(&err);
        int rc = hrid_serial_allocate(bad[i][0], bad[i][1], bad[i][2], 1, out,
                                      &err);
        if (rc != HRID_EINVAL)
            print_error("date %d-%d-%d: rc %d\n", bad[i][0], bad[i][1],
                        bad[i][2], rc);
        assert_int_equal(rc, HRID_EINVAL);
        assert_int_equal(err.status, HRID_EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(hrid_serial_allocate(bad[i][0], bad[i][1], bad[i][2],
                                              1, out, NULL), HRID_EINVAL);
    }

    /* Every allocated serial makes a valid code. */
    for (int n = 0; n < 2000; n++) {
        char code[HRID_CODE_LEN + 1];
        uint64_t seq = rng() % max;

        assert_int_equal(hrid_serial_allocate(2000 + (int)(rng() % 100),
                                              1 + (int)(rng() % 12),
                                              1 + (int)(rng() % 28), seq, out,
                                              NULL), HRID_OK);
        assert_int_equal(strlen(out), 16);
        assert_null(strpbrk(out + 6, "IO"));
        assert_int_equal(hrid_code_make("CN", "A7K2", "326001", out, code,
                                        NULL), HRID_OK);
    }
}

/* ---- names ------------------------------------------------------------- */

static void test_names(void **state)
{
    static const char *const names[] = {
        "ok", "empty", "length", "character", "country", "reserved", "level",
        "year", "check", "segment",
    };

    (void)state;
    for (int r = HRID_CODE_OK; r <= HRID_CODE_SEGMENT; r++)
        assert_string_equal(hrid_code_reason_name(r), names[r]);
    (void)hrid_code_reason_name(-1);    /* must not crash */
    (void)hrid_code_reason_name(1000);

    for (int l = 0; l <= HRID_LEVEL_MAX; l++) {
        assert_non_null(hrid_level_meaning(l));
        assert_true(hrid_level_meaning(l)[0] != '\0');
    }
    assert_non_null(strstr(hrid_level_meaning(2), "supervised autonomy"));
    assert_null(hrid_level_meaning(6));
    assert_null(hrid_level_meaning(-1));
}

/* hrid_code_validate_many agrees with hrid_code_validate code by code,
 * on batches of every length around its groups of four, with valid codes,
 * single substitutions and bytes outside the alphabet mixed in. */
static void test_validate_many(void **state)
{
    enum { N = 2003 };
    static char codes[N][HRID_CODE_LEN + 1];
    const char *ptrs[N];
    unsigned char ok[N];

    (void)state;
    for (int i = 0; i < N; i++) {
        random_valid(codes[i]);
        if (i % 3 == 1)
            codes[i][rng() % HRID_CODE_LEN] = rng_pick(ALNUM, 36);
        if (i % 17 == 5)
            codes[i][rng() % HRID_CODE_LEN] = (char)(rng() % 256 | 1);
        ptrs[i] = codes[i];
    }
    for (size_t n = 0; n <= 9; n++) {
        size_t want = 0, got = hrid_code_validate_many(ptrs, n, ok);

        for (size_t i = 0; i < n; i++) {
            int v = hrid_code_validate(codes[i], NULL) == HRID_OK;

            assert_int_equal(ok[i], v);
            want += (size_t)v;
        }
        assert_int_equal(got, want);
    }
    {
        size_t want = 0, got = hrid_code_validate_many(ptrs, N, ok);

        for (size_t i = 0; i < N; i++) {
            int v = hrid_code_validate(codes[i], NULL) == HRID_OK;

            assert_int_equal(ok[i], v);
            want += (size_t)v;
        }
        assert_int_equal(got, want);
        /* The mix really holds both kinds. */
        assert_true(want > N / 3 && want < N);
    }
}

static void test_err_null_everywhere(void **state)
{
    char out[HRID_CODE_LEN + 1], seg[8];
    struct hrid_code_parts p;

    (void)state;
    assert_int_equal(hrid_code_parse("", 0, out, NULL), HRID_EINVAL);
    assert_int_equal(hrid_code_parse("CN", 2, out, NULL), HRID_EINVAL);
    assert_int_equal(hrid_code_parse("CN*", 3, out, NULL), HRID_EINVAL);
    assert_int_equal(hrid_code_parse("CNA7K23260012605220000001234K", 29, out,
                                     NULL), HRID_EINVAL);
    assert_int_equal(hrid_code_parse(CODE1, 29, out, NULL), HRID_OK);
    assert_int_equal(hrid_code_validate("XXA7K23260012605220000001234U", NULL),
                     HRID_EINVAL);
    assert_int_equal(hrid_code_decode("C", 1, &p, NULL), HRID_EINVAL);
    assert_int_equal(hrid_code_make("C", "A7K2", "326001", "2605220000001234",
                                    out, NULL), HRID_EINVAL);
    assert_int_equal(hrid_alloc_segment(1u << 30, 3, seg, NULL), HRID_ERANGE);
    assert_int_equal(hrid_serial_allocate(2026, 2, 30, 1, out, NULL),
                     HRID_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_check_char_reference),
        cmocka_unit_test(test_check_char_bad_input),
        cmocka_unit_test(test_every_substitution),
        cmocka_unit_test(test_adjacent_transpositions),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_char),
        cmocka_unit_test(test_country),
        cmocka_unit_test(test_reserved),
        cmocka_unit_test(test_level),
        cmocka_unit_test(test_year),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_order_of_rules),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_display),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_alloc_segment),
        cmocka_unit_test(test_serial_allocate),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_validate_many),
        cmocka_unit_test(test_err_null_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
