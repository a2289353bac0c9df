/*
 * fuzz_code.c - libFuzzer driver for the identity code parser (lib/code.c,
 * DESIGN §2): the forgiving hrid_code_parse and hrid_code_decode, and the
 * strict hrid_code_validate, on arbitrary bytes.
 *
 * Beyond "no crash, no sanitizer report", it checks the invariants the
 * header promises: an accepted input yields 29 characters of 0-9A-Z that
 * validate, carry the right check character, re-parse to themselves from
 * the display form, and decode into segments that agree with the code;
 * a refused input leaves an empty output and a terminated, non-empty
 * message, and decode refuses it for the same reason at the same place.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hrid/code.h"
#include "hrid/error.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static int canonical(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static void check_accepted(const char *out)
{
    char disp[HRID_CODE_DISPLAY_LEN + 1], again[HRID_CODE_LEN + 1];
    struct hrid_code_parts p;
    struct hrid_err err;

    CHECK(strlen(out) == HRID_CODE_LEN);
    CHECK(canonical(out, HRID_CODE_LEN));
    CHECK(hrid_code_validate(out, &err) == HRID_OK);
    CHECK(hrid_code_validate(out, NULL) == HRID_OK);
    CHECK(hrid_code_check_char(out) == out[28]);
    CHECK(hrid_country_name(out) != NULL);

    /* Canonical output is a fixed point of the parser. */
    CHECK(hrid_code_parse(out, HRID_CODE_LEN, again, &err) == HRID_OK);
    CHECK(memcmp(again, out, HRID_CODE_LEN + 1) == 0);

    hrid_code_display(out, disp);
    CHECK(strlen(disp) == HRID_CODE_DISPLAY_LEN);
    CHECK(hrid_code_parse(disp, HRID_CODE_DISPLAY_LEN, again, &err) ==
          HRID_OK);
    CHECK(memcmp(again, out, HRID_CODE_LEN + 1) == 0);

    CHECK(hrid_code_decode(disp, HRID_CODE_DISPLAY_LEN, &p, &err) == HRID_OK);
    CHECK(strcmp(p.code, out) == 0);
    CHECK(memcmp(p.country, out, 2) == 0 && p.country[2] == '\0');
    CHECK(p.country_name == hrid_country_name(out));
    CHECK(memcmp(p.enterprise, out + 2, 4) == 0 && p.enterprise[4] == '\0');
    CHECK(memcmp(p.model, out + 6, 6) == 0 && p.model[6] == '\0');
    CHECK(memcmp(p.model_id, out, 12) == 0 && p.model_id[12] == '\0');
    CHECK(p.level >= 0 && p.level <= HRID_LEVEL_MAX && p.level == out[6] - '0');
    CHECK(p.filing_year >= 2000 && p.filing_year <= 2099);
    CHECK(p.filing_year == 2000 + (out[7] - '0') * 10 + (out[8] - '0'));
    CHECK(memcmp(p.model_seq, out + 9, 3) == 0 && p.model_seq[3] == '\0');
    CHECK(memcmp(p.serial, out + 12, 16) == 0 && p.serial[16] == '\0');
    CHECK(p.check == out[28]);
    CHECK(hrid_level_meaning(p.level) != NULL);
    /* The allocated segments never hold I or O. */
    for (int i = 2; i < 12; i++)
        if (i < 6 || i >= 9)
            CHECK(out[i] != 'I' && out[i] != 'O');
}

static void check_refused(const char *out, const struct hrid_err *err,
                          const char *in, size_t len)
{
    struct hrid_code_parts p;
    struct hrid_err derr;

    CHECK(out[0] == '\0');
    CHECK(err->status == HRID_EINVAL);
    CHECK(err->reason >= HRID_CODE_EMPTY && err->reason <= HRID_CODE_CHECK);
    CHECK(err->pos >= 0);
    CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL);
    CHECK(err->msg[0] != '\0');
    CHECK(strcmp(hrid_code_reason_name(err->reason), "unknown") != 0);

    CHECK(hrid_code_decode(in, len, &p, &derr) == HRID_EINVAL);
    CHECK(derr.reason == err->reason && derr.pos == err->pos);
    CHECK(strcmp(derr.msg, err->msg) == 0);
    CHECK(hrid_code_decode(in, len, &p, NULL) == HRID_EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, exactly size bytes long, so that ASan catches any
     * read past len (the parser must not need a NUL). */
    char *in = malloc(size ? size : 1);
    char out[HRID_CODE_LEN + 1];
    struct hrid_err err;
    int rc;

    if (in == NULL)
        return 0;
    if (size)
        memcpy(in, data, size);

    memset(out, 'x', sizeof out);
    hrid_err_clear(&err);
    rc = hrid_code_parse(in, size, out, &err);
    CHECK(rc == HRID_OK || rc == HRID_EINVAL);
    CHECK(hrid_code_parse(in, size, out + 0, NULL) == rc);
    if (rc == HRID_OK) {
        char out2[HRID_CODE_LEN + 1];

        CHECK(hrid_code_parse(in, size, out2, &err) == HRID_OK);
        check_accepted(out2);
    } else {
        check_refused(out, &err, in, size);
    }

    /* The strict path on the first 29 bytes agrees with the forgiving one
     * whenever those bytes are already canonical. */
    if (size >= HRID_CODE_LEN) {
        struct hrid_err verr, perr;
        char c[HRID_CODE_LEN + 1];
        int vrc;

        memcpy(c, in, HRID_CODE_LEN);
        c[HRID_CODE_LEN] = '\0';
        hrid_err_clear(&verr);
        vrc = hrid_code_validate(c, &verr);
        CHECK(vrc == hrid_code_validate(c, NULL));
        if (canonical(c, HRID_CODE_LEN)) {
            int prc = hrid_code_parse(c, HRID_CODE_LEN, out, &perr);

            CHECK(vrc == prc);
            if (prc != HRID_OK)
                CHECK(verr.reason == perr.reason && verr.pos == perr.pos);
        } else if (memchr(c, '\0', HRID_CODE_LEN) == NULL) {
            CHECK(vrc == HRID_EINVAL);
            CHECK(verr.reason == HRID_CODE_CHAR);
        } else {
            /* A NUL ends a C string early: explained as a short code. */
            CHECK(vrc == HRID_EINVAL);
            CHECK(verr.reason == HRID_CODE_CHAR ||
                  verr.reason == HRID_CODE_LENGTH ||
                  verr.reason == HRID_CODE_EMPTY);
        }
    }
    free(in);
    return 0;
}
