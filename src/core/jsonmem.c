/*
 * core/jsonmem.c - parsing JSON into an arena (core/jsonmem.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonmem.h"

/* The header before each allocation.  8 bytes keep what follows aligned
 * for every member of jansson's values (pointers, size_t, json_int_t,
 * double), since malloc and arena_alloc both return 16-byte aligned
 * memory; a 10,000-unit body makes some 1.4 million allocations. */
#define HDR 8

enum { FROM_MALLOC, FROM_ARENA };

/* The arena jsonmem_loadb is parsing into on this thread, or NULL. */
static _Thread_local struct arena *parsing;
static bool installed;

static void *jm_malloc(size_t n)
{
    struct arena *a = parsing;
    unsigned char *p;

    if (n > SIZE_MAX - HDR)
        return NULL;
    p = a != NULL ? arena_alloc(a, n + HDR) : malloc(n + HDR);
    if (p == NULL)
        return NULL;
    p[0] = a != NULL ? FROM_ARENA : FROM_MALLOC;
    return p + HDR;
}

static void jm_free(void *q)
{
    unsigned char *p = q;

    if (p != NULL && *(p -= HDR) == FROM_MALLOC)
        free(p);
}

void jsonmem_init(void)
{
    json_set_alloc_funcs(jm_malloc, jm_free);
    installed = true;
}

json_t *jsonmem_loadb(struct arena *a, const char *buf, size_t len,
                      size_t flags, json_error_t *error)
{
    json_t *v;

    parsing = installed ? a : NULL;
    v = json_loadb(buf, len, flags, error);
    parsing = NULL;
    return v;
}

/* Past JSON's whitespace from p. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past c, after whitespace, or NULL when the next token is not c. */
static const char *expect(const char *p, const char *end, char c)
{
    p = skip_ws(p, end);
    return p < end && *p == c ? p + 1 : NULL;
}

enum jsonmem_each_result jsonmem_each(const char *text, size_t len,
                                      const char *key, struct arena *scratch,
                                      jsonmem_each_fn each, void *ctx,
                                      size_t *n)
{
    const char *p = text, *end = text + len;
    size_t klen = strlen(key), i = 0;

    *n = 0;
    if ((p = expect(p, end, '{')) == NULL || (p = expect(p, end, '"')) == NULL ||
        (size_t)(end - p) < klen + 1 || memcmp(p, key, klen) != 0 ||
        p[klen] != '"' || (p = expect(p + klen + 1, end, ':')) == NULL ||
        (p = expect(p, end, '[')) == NULL)
        return JSONMEM_EACH_SHAPE;
    p = skip_ws(p, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            json_error_t jerr;
            json_t *v;
            int stop;

            p = skip_ws(p, end);
            if (p == end || *p != '{')
                return JSONMEM_EACH_SHAPE;
            /* Parsing stops at the element's closing brace, and says in
             * position how far it read. */
            v = jsonmem_loadb(scratch, p, (size_t)(end - p),
                              JSON_DISABLE_EOF_CHECK, &jerr);
            if (v == NULL) {
                arena_reset(scratch);
                return JSONMEM_EACH_SHAPE;
            }
            p += jerr.position;
            stop = each(ctx, i++, v);
            json_decref(v);
            arena_reset(scratch);
            *n = i;
            if (stop)
                return JSONMEM_EACH_STOPPED;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == ']') {
                p++;
                break;
            }
            return JSONMEM_EACH_SHAPE;
        }
    }
    if ((p = expect(p, end, '}')) == NULL || skip_ws(p, end) != end)
        return JSONMEM_EACH_SHAPE;
    return JSONMEM_EACH_DONE;
}
