/*
 * schema.c - validation of request bodies against field tables.
 *
 * Errors carry the field path and say what is allowed, e.g.
 *   units[3].serial: must be a string of 16 characters 0-9A-Z
 *   unknown field 'colour' (allowed: model, serial, batch, ...)
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/schema.h"

/* Formats a field path; a path longer than CORE_FIELD_MAX is cut, which
 * still names where the problem is. */
static void path_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* Joins path and name with a dot into out (cut at n - 1 bytes).  It runs
 * for every field of every body, so it copies rather than formats. */
static void join_path(char *out, size_t n, const char *path, const char *name)
{
    size_t at = 0;

    for (const char *p = path; p != NULL && *p && at + 1 < n; p++)
        out[at++] = *p;
    if (at > 0 && at + 1 < n)
        out[at++] = '.';
    for (const char *p = name; *p && at + 1 < n; p++)
        out[at++] = *p;
    out[at] = '\0';
}

static const char *type_desc(const struct schema_field *f, char *buf,
                             size_t n)
{
    switch (f->type) {
    case S_STR:
        snprintf(buf, n, "a string of 1 to %zu bytes", f->max);
        break;
    case S_INT:
        snprintf(buf, n, "an integer from %.0f to %.0f", f->lo, f->hi);
        break;
    case S_NUM:
        snprintf(buf, n, "a number from %g to %g", f->lo, f->hi);
        break;
    case S_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case S_TIME:
        snprintf(buf, n, "an RFC 3339 time such as 2026-05-22T08:30:00Z");
        break;
    case S_DATE:
        snprintf(buf, n, "a date YYYY-MM-DD");
        break;
    case S_ENUM: {
        size_t at = (size_t)snprintf(buf, n, "one of ");

        for (int i = 0; f->values[i] != NULL && at < n; i++)
            at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "",
                                   f->values[i]);
        break;
    }
    case S_OBJ:
        snprintf(buf, n, "an object");
        break;
    case S_ARR:
        snprintf(buf, n, "an array of at most %zu objects", f->max);
        break;
    case S_STRARR:
        snprintf(buf, n, "an array of at most %zu strings", f->max);
        break;
    case S_JSON:
        snprintf(buf, n, "an object of at most %zu bytes", f->max);
        break;
    case S_MAP:
        snprintf(buf, n, "an object of at most 64 string values of 1 to %zu "
                 "bytes", f->max);
        break;
    case S_HEX:
        snprintf(buf, n, "%zu hexadecimal characters", f->max);
        break;
    case S_B64:
        snprintf(buf, n, "base64 of %zu bytes", f->max);
        break;
    }
    return buf;
}

/* The refusal of a value of field f: "FIELD: must be WHAT".  The
 * description is formatted only here, on the error path. */
static int bad_value(struct core_err *err, const char *field,
                     const struct schema_field *f, const char *extra)
{
    char what[200];

    type_desc(f, what, sizeof what);
    return core_fail(err, CORE_EINVALID, "invalid_field", field,
                     "%s: must be %s%s", field, what, extra);
}

static bool valid_date(const char *s)
{
    int y, m, d;
    char tail;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    if (y < 1970 || y > 2999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return true;
}

static int check_value(json_t *v, const struct schema_field *f,
                       const char *field, struct core_err *err)
{
    switch (f->type) {
    case S_STR: {
        size_t n;

        if (!json_is_string(v))
            return bad_value(err, field, f, "");
        n = json_string_length(v);
        if (n == 0 || n > f->max || strlen(json_string_value(v)) != n)
            return bad_value(err, field, f, " (no NUL)");
        return CORE_OK;
    }
    case S_INT: {
        double d;

        if (!json_is_integer(v))
            return bad_value(err, field, f, "");
        d = (double)json_integer_value(v);
        if (d < f->lo || d > f->hi)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    case S_NUM: {
        double d;

        if (!json_is_number(v))
            return bad_value(err, field, f, "");
        d = json_number_value(v);
        if (!isfinite(d) || d < f->lo || d > f->hi)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    case S_BOOL:
        if (!json_is_boolean(v))
            return bad_value(err, field, f, "");
        return CORE_OK;
    case S_TIME: {
        int64_t ms;

        if (!json_is_string(v) ||
            core_time_parse(json_string_value(v), &ms) != 0)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    case S_DATE:
        if (!json_is_string(v) || !valid_date(json_string_value(v)))
            return bad_value(err, field, f, "");
        return CORE_OK;
    case S_ENUM:
        if (json_is_string(v))
            for (int i = 0; f->values[i] != NULL; i++)
                if (strcmp(json_string_value(v), f->values[i]) == 0)
                    return CORE_OK;
        return bad_value(err, field, f, "");
    case S_OBJ:
        if (!json_is_object(v))
            return bad_value(err, field, f, "");
        return schema_check(v, f->sub, field, err);
    case S_ARR: {
        size_t i;
        json_t *item;

        if (!json_is_array(v) || json_array_size(v) > f->max)
            return bad_value(err, field, f, "");
        json_array_foreach(v, i, item) {
            char sub[CORE_FIELD_MAX];
            int rc;

            path_fmt(sub, sizeof sub, "%s[%zu]", field, i);
            if (!json_is_object(item))
                return core_fail(err, CORE_EINVALID, "invalid_field", sub,
                                 "%s: must be an object", sub);
            rc = schema_check(item, f->sub, sub, err);
            if (rc != CORE_OK)
                return rc;
        }
        return CORE_OK;
    }
    case S_STRARR: {
        size_t i;
        json_t *item;

        if (!json_is_array(v) || json_array_size(v) > f->max)
            return bad_value(err, field, f, "");
        json_array_foreach(v, i, item) {
            if (!json_is_string(item) || json_string_length(item) == 0 ||
                json_string_length(item) > SCHEMA_ID_MAX * 4)
                return bad_value(err, field, f, " of 1 to 256 bytes");
        }
        return CORE_OK;
    }
    case S_JSON: {
        size_t n;

        if (!json_is_object(v))
            return bad_value(err, field, f, "");
        n = json_dumpb(v, NULL, 0, JSON_COMPACT);
        if (n == 0 || n > f->max)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    case S_MAP: {
        const char *k;
        json_t *item;

        if (!json_is_object(v) || json_object_size(v) > 64)
            return bad_value(err, field, f, "");
        json_object_foreach(v, k, item) {
            if (k[0] == '\0' || strlen(k) > SCHEMA_ID_MAX ||
                !json_is_string(item) || json_string_length(item) == 0 ||
                json_string_length(item) > f->max)
                return bad_value(err, field, f, ", keys of 1 to 64 bytes");
        }
        return CORE_OK;
    }
    case S_HEX: {
        const char *s;

        if (!json_is_string(v) || json_string_length(v) != f->max)
            return bad_value(err, field, f, "");
        s = json_string_value(v);
        if (strspn(s, "0123456789abcdefABCDEF") != f->max)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    case S_B64: {
        unsigned char buf[64];
        size_t n = 0;
        const char *s;

        if (!json_is_string(v) || f->max > sizeof buf)
            return bad_value(err, field, f, "");
        s = json_string_value(v);
        if (sodium_base642bin(buf, sizeof buf, s, json_string_length(v), NULL,
                              &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            n != f->max)
            return bad_value(err, field, f, "");
        return CORE_OK;
    }
    }
    return bad_value(err, field, f, "");
}

int schema_check(json_t *obj, const struct schema_field *fields,
                 const char *path, struct core_err *err)
{
    const char *key;
    json_t *v;
    char field[CORE_FIELD_MAX];

    if (!json_is_object(obj))
        return core_fail(err, CORE_EBADREQ, "bad_request",
                         path && path[0] ? path : NULL,
                         "%s must be a JSON object",
                         path && path[0] ? path : "the body");
    /* Unknown fields first: a typo in a field name would otherwise show
     * up as a confusing "missing field" for the intended one. */
    json_object_foreach(obj, key, v) {
        const struct schema_field *f = fields;

        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        if (f->name == NULL) {
            char allowed[CORE_MSG_MAX / 2];
            size_t at = 0;

            allowed[0] = '\0';
            for (f = fields; f->name != NULL && at < sizeof allowed; f++)
                at += (size_t)snprintf(allowed + at, sizeof allowed - at,
                                       "%s%s", f == fields ? "" : ", ",
                                       f->name);
            join_path(field, sizeof field, path, key);
            return core_fail(err, CORE_EINVALID, "unknown_field", field,
                             "unknown field '%.64s' (allowed: %s)", field,
                             allowed);
        }
    }
    for (const struct schema_field *f = fields; f->name != NULL; f++) {
        int rc;

        join_path(field, sizeof field, path, f->name);
        v = json_object_get(obj, f->name);
        if (v == NULL || (json_is_null(v) && (f->flags & SF_NULL))) {
            if (f->flags & SF_REQUIRED)
                return core_fail(err, CORE_EINVALID, "missing_field", field,
                                 "missing field '%s'", field);
            continue;
        }
        rc = check_value(v, f, field, err);
        if (rc != CORE_OK)
            return rc;
    }
    return CORE_OK;
}

const char *schema_str(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t schema_int(json_t *obj, const char *name, int64_t dflt)
{
    json_t *v = json_object_get(obj, name);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

double schema_num(json_t *obj, const char *name, double dflt)
{
    json_t *v = json_object_get(obj, name);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

int64_t schema_time(json_t *obj, const char *name, int64_t dflt)
{
    json_t *v = json_object_get(obj, name);
    int64_t ms;

    if (!json_is_string(v) || core_time_parse(json_string_value(v), &ms) != 0)
        return dflt;
    return ms;
}
