/*
 * core/schema.h - field-by-field validation of request bodies.
 *
 * Layer: src/core.  Every body core accepts is described by a table of
 * struct schema_field, as routes are a table in the server: adding a field
 * is one row.  schema_check refuses unknown fields, missing required ones,
 * wrong types, over-long strings, out-of-range numbers and values outside
 * an enumeration, and names the offending field as a path
 * ("units[3].components[0].serial") so the client knows exactly what to
 * fix.  A body that passes can be read with the schema_get_* helpers
 * without further checks.
 */
#ifndef CORE_SCHEMA_H
#define CORE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

enum schema_type {
    S_STR,      /* a UTF-8 string of 1..max bytes */
    S_INT,      /* an integer in [lo, hi] */
    S_NUM,      /* a number (integer or real) in [lo, hi] */
    S_BOOL,
    S_TIME,     /* an RFC 3339 time */
    S_DATE,     /* YYYY-MM-DD, a real calendar date */
    S_ENUM,     /* a string from values[] */
    S_OBJ,      /* an object with the fields sub[] */
    S_ARR,      /* an array of at most max objects with the fields sub[] */
    S_STRARR,   /* an array of at most max strings of 1..64 bytes */
    S_JSON,     /* any object, at most max bytes once serialised */
    S_MAP,      /* an object of at most 64 string values of 1..max bytes */
    S_HEX,      /* exactly max hexadecimal characters */
    S_B64       /* base64 decoding to exactly max bytes */
};

#define SF_REQUIRED 1u
#define SF_NULL     2u   /* null is accepted and means absent */

struct schema_field {
    const char *name;
    enum schema_type type;
    unsigned flags;
    size_t max;                       /* bytes, items or decoded bytes */
    double lo, hi;                    /* S_INT and S_NUM */
    const char *const *values;        /* S_ENUM, NULL-terminated */
    const struct schema_field *sub;   /* S_OBJ and S_ARR */
};

/* Common string caps (bytes): identifiers such as lot numbers, serials and
 * work orders are short codes; names are a company's or a site's legal
 * name; free text is a description a person types in a form. */
#define SCHEMA_ID_MAX    64
#define SCHEMA_NAME_MAX  200
#define SCHEMA_TEXT_MAX  2000
/* Free-form objects (a party's contact details, a model's extra
 * parameters) stay small: 16 KiB is a page of text. */
#define SCHEMA_JSON_MAX  16384

/*
 * Checks that obj is an object matching fields (terminated by a row with
 * name NULL).  path prefixes field names in errors ("" at the top,
 * "units[3]" inside a bulk).  Returns CORE_OK, or CORE_EINVALID /
 * CORE_EBADREQ with err naming the field.
 */
int schema_check(json_t *obj, const struct schema_field *fields,
                 const char *path, struct core_err *err);

/* Readers for a checked body: the value of name, or the default when the
 * field is absent or null. */
const char *schema_str(json_t *obj, const char *name);
int64_t schema_int(json_t *obj, const char *name, int64_t dflt);
double schema_num(json_t *obj, const char *name, double dflt);
/* An S_TIME field in ms since the epoch; dflt when absent. */
int64_t schema_time(json_t *obj, const char *name, int64_t dflt);

#endif
