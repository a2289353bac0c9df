/*
 * core/jsonw.c - JSON written straight into an arena (core/jsonw.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonw.h"

void jsonw_put(struct jsonw *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap && w->a == NULL) {
        /* A caller's fixed buffer is full. */
        w->failed = true;
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        char *p;

        while (w->len + n + 1 > cap)
            cap *= 2;
        if ((p = arena_alloc(w->a, cap)) == NULL) {
            w->failed = true;
            return;
        }
        if (w->len > 0)
            memcpy(p, w->p, w->len);
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void put_string(struct jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0;

    jsonw_put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jsonw_put(w, s + start, i - start);
        start = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        jsonw_put(w, esc, elen);
    }
    jsonw_put(w, s + start, n - start);
    jsonw_put(w, "\"", 1);
}

static void put_int(struct jsonw *w, int64_t v)
{
    char num[24], *p = num + sizeof num;
    /* The magnitude as unsigned, so that INT64_MIN has one. */
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do
        *--p = (char)('0' + m % 10);
    while ((m /= 10) != 0);
    if (v < 0)
        *--p = '-';
    jsonw_put(w, p, (size_t)(num + sizeof num - p));
}

static void put_real(struct jsonw *w, double d)
{
    char num[64], *e;
    int n = snprintf(num, sizeof num, "%.15g", d);

    if (strspn(num, "-0123456789") == (size_t)n) {
        jsonw_put(w, num, (size_t)n);
        jsonw_put(w, ".0", 2);
        return;
    }
    /* As jansson: "1e+20" is "1e20" and "1e-05" is "1e-5". */
    if ((e = strchr(num, 'e')) != NULL) {
        char *dst = e + 1, *src = e + 1;

        if (*src == '+')
            src++;
        else if (*src == '-')
            dst++, src++;
        while (*src == '0' && src[1] != '\0')
            src++;
        memmove(dst, src, strlen(src) + 1);
        n = (int)strlen(num);
    }
    jsonw_put(w, num, (size_t)n);
}

static int key_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void put_value(struct jsonw *w, const json_t *v, unsigned flags);

static void put_object(struct jsonw *w, const json_t *v, unsigned flags)
{
    size_t count = json_object_size(v), i = 0;
    const char **keys;
    const char *k;
    json_t *item;

    jsonw_put(w, "{", 1);
    if (!(flags & JSONW_SORTED)) {
        json_object_foreach((json_t *)v, k, item) {
            if (i++ > 0)
                jsonw_put(w, ",", 1);
            put_string(w, k, strlen(k));
            jsonw_put(w, ":", 1);
            put_value(w, item, flags);
        }
        jsonw_put(w, "}", 1);
        return;
    }
    if (count == 0) {
        jsonw_put(w, "}", 1);
        return;
    }
    if (w->a == NULL ||
        (keys = arena_alloc(w->a, count * sizeof(*keys))) == NULL) {
        w->failed = true;
        return;
    }
    json_object_foreach((json_t *)v, k, item) keys[i++] = k;
    qsort(keys, count, sizeof(*keys), key_cmp);
    for (i = 0; i < count; i++) {
        if (i > 0)
            jsonw_put(w, ",", 1);
        put_string(w, keys[i], strlen(keys[i]));
        jsonw_put(w, ":", 1);
        put_value(w, json_object_get(v, keys[i]), flags);
    }
    jsonw_put(w, "}", 1);
}

static void put_value(struct jsonw *w, const json_t *v, unsigned flags)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put_object(w, v, flags);
        return;
    case JSON_ARRAY:
        jsonw_put(w, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                jsonw_put(w, ",", 1);
            put_value(w, json_array_get(v, i), flags);
        }
        jsonw_put(w, "]", 1);
        return;
    case JSON_STRING:
        put_string(w, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        put_int(w, json_integer_value(v));
        return;
    case JSON_REAL:
        put_real(w, json_real_value(v));
        return;
    case JSON_TRUE:
        jsonw_put(w, "true", 4);
        return;
    case JSON_FALSE:
        jsonw_put(w, "false", 5);
        return;
    case JSON_NULL:
        jsonw_put(w, "null", 4);
        return;
    }
}

/* Before a value: the comma that separates it from the one before, unless
 * it is a member's value (its key wrote that). */
static void sep(struct jsonw *w)
{
    uint64_t bit;

    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    bit = (uint64_t)1 << w->depth;
    if (w->more & bit)
        jsonw_put(w, ",", 1);
    w->more |= bit;
}

void jsonw_open(struct jsonw *w, char bracket)
{
    sep(w);
    jsonw_put(w, &bracket, 1);
    if (w->depth >= JSONW_DEPTH_MAX) {
        w->failed = true;
        return;
    }
    w->depth++;
    w->more &= ~((uint64_t)1 << w->depth);
}

void jsonw_close(struct jsonw *w, char bracket)
{
    jsonw_put(w, &bracket, 1);
    if (w->depth > 0)
        w->depth--;
}

void jsonw_key(struct jsonw *w, const char *key)
{
    uint64_t bit = (uint64_t)1 << w->depth;

    if (w->more & bit)
        jsonw_put(w, ",", 1);
    w->more |= bit;
    jsonw_put(w, "\"", 1);
    jsonw_put(w, key, strlen(key));
    jsonw_put(w, "\":", 2);
    w->after_key = true;
}

void jsonw_string(struct jsonw *w, const char *s, size_t n)
{
    sep(w);
    put_string(w, s, n);
}

void jsonw_str(struct jsonw *w, const char *s)
{
    if (s == NULL)
        jsonw_null(w);
    else
        jsonw_string(w, s, strlen(s));
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    sep(w);
    put_int(w, v);
}

void jsonw_null(struct jsonw *w)
{
    sep(w);
    jsonw_put(w, "null", 4);
}

void jsonw_value(struct jsonw *w, const json_t *v, unsigned flags)
{
    sep(w);
    put_value(w, v, flags);
}

void jsonw_member_str(struct jsonw *w, const char *key, const char *s)
{
    jsonw_key(w, key);
    jsonw_str(w, s);
}

void jsonw_member_int(struct jsonw *w, const char *key, int64_t v)
{
    jsonw_key(w, key);
    jsonw_int(w, v);
}

char *jsonw_finish(struct jsonw *w, size_t *len)
{
    jsonw_put(w, "", 0);        /* room for the NUL */
    if (w->failed || w->p == NULL)
        return NULL;
    w->p[w->len] = '\0';
    if (len != NULL)
        *len = w->len;
    return w->p;
}

char *jsonw_dump(struct arena *a, const json_t *v, unsigned flags,
                 size_t *len)
{
    struct jsonw w = {.a = a};

    jsonw_value(&w, v, flags);
    return jsonw_finish(&w, len);
}
