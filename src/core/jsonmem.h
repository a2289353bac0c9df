/*
 * core/jsonmem.h - parsing JSON into an arena.
 *
 * Layer: src/core, reusable.  jansson allocates every value, member and
 * string on its own and frees them one by one: for a bulk registration of
 * 10,000 units that is some three million calls to malloc and free, about
 * an eighth of the whole request's instructions.  jsonmem_loadb puts the
 * values it parses in an arena instead, where allocating is a bump of a
 * pointer and the whole tree goes in one arena_release.
 *
 * jansson's allocation functions are global, so jsonmem_init installs a
 * pair for the whole process.  Each allocation carries a small header
 * that says where it came from: one from an arena is freed with its
 * arena, any other goes back to malloc.  A tree from jsonmem_loadb may
 * be changed, decref'd and freed as any other; what it gains later comes
 * from malloc.  It must not be referenced once its arena is released.
 */
#ifndef CORE_JSONMEM_H
#define CORE_JSONMEM_H

#include <stddef.h>

#include <jansson.h>

#include "core/arena.h"

/* Installs the allocation functions.  Call once, before any jansson value
 * exists: a value allocated before would be freed the wrong way.  Without
 * it, jsonmem_loadb is json_loadb. */
void jsonmem_init(void);

/* json_loadb, with the values in a (used by this thread alone meanwhile). */
json_t *jsonmem_loadb(struct arena *a, const char *buf, size_t len,
                      size_t flags, json_error_t *error);

#endif
