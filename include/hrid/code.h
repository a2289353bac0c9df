/*
 * hrid/code.h - the HRID identity code v1 (DESIGN §2).
 *
 * A code is 29 characters from 0-9A-Z in four segments:
 *
 *   pos  1-2   country of origin, an assigned ISO 3166-1 alpha-2 code
 *   pos  3-6   enterprise, allocated by the platform (never I or O)
 *   pos  7-12  product model: 7 = intelligence level 0-5, 8-9 = filing
 *              year YY, 10-12 = sequence (allocated, never I or O)
 *   pos 13-29  serial: 13-28 unit serial body, 29 the check character
 *
 * The check character is ISO 7064 MOD 37,36 (the hybrid system with
 * M = 36, M+1 = 37) over positions 1-28, with 0-9 worth 0-9 and A-Z worth
 * 10-35.  It catches every single-character error and nearly every
 * adjacent transposition.
 *
 * Input is forgiving and output strict: lower case letters, spaces, tabs
 * and hyphens are accepted and normalised away; the canonical form (stored,
 * signed, used in URLs) has no separators, and the display form is
 * CC-EEEE-MMMMMM-SSSSSSSSSSSSSSSS-C.  Positions in error messages count
 * the significant characters, so they match the segment table above
 * whatever separators the input carried.
 *
 * Every function here is reentrant: no global state, no allocation.
 */
#ifndef HRID_CODE_H
#define HRID_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "hrid/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HRID_CODE_LEN          29   /* canonical form, without the NUL */
#define HRID_CODE_DISPLAY_LEN  33   /* 29 characters and four hyphens */
#define HRID_COUNTRY_LEN        2
#define HRID_ENTERPRISE_LEN     4
#define HRID_MODEL_LEN          6
#define HRID_SERIAL_BODY_LEN   16
#define HRID_MODEL_ID_LEN      12   /* country + enterprise + model */
#define HRID_ALLOC_SEQ_LEN     10   /* the sequence after YYMMDD in an
                                       allocated serial body */

/* The highest intelligence level (DESIGN §2: 0 teleoperated .. 5 physical
 * assistance of people). */
#define HRID_LEVEL_MAX 5

/* Why a code was refused; stored in hrid_err.reason. */
enum hrid_code_reason {
    HRID_CODE_OK = 0,
    HRID_CODE_EMPTY,       /* no significant character at all */
    HRID_CODE_LENGTH,      /* not 29 significant characters */
    HRID_CODE_CHAR,        /* a character outside 0-9A-Z */
    HRID_CODE_COUNTRY,     /* not an assigned ISO 3166-1 alpha-2 code */
    HRID_CODE_RESERVED,    /* I or O in a platform-allocated segment */
    HRID_CODE_LEVEL,       /* intelligence level not 0-5 */
    HRID_CODE_YEAR,        /* filing year not two digits */
    HRID_CODE_CHECK,       /* check character does not match */
    HRID_CODE_SEGMENT      /* a segment given to hrid_code_make is malformed */
};

/* A decoded code.  Plain data: every string is NUL-terminated inside the
 * struct except country_name, which points to static storage. */
struct hrid_code_parts {
    char code[HRID_CODE_LEN + 1];             /* canonical form */
    char country[HRID_COUNTRY_LEN + 1];
    const char *country_name;                 /* English short name */
    char enterprise[HRID_ENTERPRISE_LEN + 1];
    char model[HRID_MODEL_LEN + 1];
    char model_id[HRID_MODEL_ID_LEN + 1];     /* CC + EEEE + MMMMMM */
    int level;                                /* 0..5 */
    int filing_year;                          /* 2000 + YY */
    char model_seq[4];                        /* pos 10-12 */
    char serial[HRID_SERIAL_BODY_LEN + 1];    /* pos 13-28 */
    char check;                               /* pos 29 */
};

/*
 * Normalises forgiving input (len bytes at in; need not be NUL-terminated)
 * and validates it completely: characters, length, country, reserved
 * letters, intelligence level, filing year and check character, in that
 * order.  On success writes the canonical code and a NUL to out and
 * returns HRID_OK.  On failure returns HRID_EINVAL with err->reason an
 * enum hrid_code_reason, err->pos the 1-based position concerned (0 when
 * the whole code is concerned) and a message such as
 * "position 17: 'Ö' is not in 0-9A-Z" or
 * "check character is 'K', expected '4'"; out is then an empty string.
 */
int hrid_code_parse(const char *in, size_t len, char out[HRID_CODE_LEN + 1],
                    struct hrid_err *err);

/* Validates a strict canonical code (exactly 29 bytes at code, upper case,
 * no separators).  The fast path for stored codes and bulk checks: returns
 * HRID_OK or HRID_EINVAL without touching err when err is NULL. */
int hrid_code_validate(const char *code, struct hrid_err *err);

/* Validates n strict canonical codes (29 bytes each at codes[i]) and sets
 * ok[i] to 1 or 0; returns how many are valid.  The same rules as
 * hrid_code_validate, several codes at once: the form for checking a
 * printed batch of labels or a bulk of stored codes.  Explains nothing;
 * run hrid_code_validate on a refused code for its message. */
size_t hrid_code_validate_many(const char *const *codes, size_t n,
                               unsigned char *ok);

/* Computes the check character of 28 characters from 0-9A-Z (upper case).
 * Returns the character, or 0 if body holds a character outside 0-9A-Z. */
char hrid_code_check_char(const char *body28);

/* Decodes a code (forgiving input, as hrid_code_parse) into its segments.
 * Returns HRID_OK, or the hrid_code_parse error. */
int hrid_code_decode(const char *in, size_t len, struct hrid_code_parts *parts,
                     struct hrid_err *err);

/* Writes the display form CC-EEEE-MMMMMM-SSSSSSSSSSSSSSSS-C of a canonical
 * code to out (34 bytes with the NUL). */
void hrid_code_display(const char *code, char out[HRID_CODE_DISPLAY_LEN + 1]);

/*
 * Builds a code from its segments: country (2), enterprise (4), model (6)
 * and serial body (16), each case-insensitive.  Checks each segment as
 * hrid_code_parse would, appends the check character, and writes the
 * canonical code to out.  Returns HRID_OK or HRID_EINVAL with
 * err->reason HRID_CODE_SEGMENT (wrong length) or the reason the finished
 * code was refused.
 */
int hrid_code_make(const char *country, const char *enterprise,
                   const char *model, const char *serial,
                   char out[HRID_CODE_LEN + 1], struct hrid_err *err);

/*
 * The alphabet of platform-allocated segments: 0-9A-Z without I and O,
 * 34 symbols, so a printed label never confuses 1/I or 0/O.
 */
#define HRID_ALLOC_ALPHABET "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#define HRID_ALLOC_RADIX    34

/* Writes n as width characters of HRID_ALLOC_ALPHABET (most significant
 * first, zero-padded) and a NUL.  Enterprise codes use width 4 and model
 * sequences width 3.  Returns HRID_OK, or HRID_ERANGE when n needs more
 * than width characters. */
int hrid_alloc_segment(uint64_t n, int width, char *out, struct hrid_err *err);

/* Allocates a serial body: YYMMDD of the production date followed by the
 * 10-character encoding of seq (the unit's number within that day, up to
 * 34^10 - 1, about 2e15).  year is the full year, 2000-2099.  Writes 16
 * characters and a NUL.  Returns HRID_OK, HRID_EINVAL for an impossible
 * date, or HRID_ERANGE when seq does not fit. */
int hrid_serial_allocate(int year, int month, int day, uint64_t seq,
                         char out[HRID_SERIAL_BODY_LEN + 1],
                         struct hrid_err *err);

/* The short name of a refusal reason, for machine-readable errors:
 * "empty", "length", "character", "country", "reserved", "level", "year",
 * "check", "segment"; "ok" for HRID_CODE_OK. */
const char *hrid_code_reason_name(int reason);

/* What an intelligence level obliges, in plain words (DESIGN §2), e.g.
 * "supervised autonomy in fenced or structured sites"; NULL outside 0-5. */
const char *hrid_level_meaning(int level);

/* Looks up an assigned ISO 3166-1 alpha-2 code (exactly two upper case
 * letters at cc).  Returns the English short name, in static storage, or
 * NULL when the code is not assigned. */
const char *hrid_country_name(const char *cc);

/* The number of assigned country codes, and the i-th (0-based, in
 * alphabetical order of code) with its name; for listings.  Returns NULL
 * past the end. */
size_t hrid_country_count(void);
const char *hrid_country_at(size_t i, const char **name);

#ifdef __cplusplus
}
#endif
#endif
