/*
 * core/jsonmem.c - parsing JSON into an arena (core/jsonmem.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

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
