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

/*
 * For a body that holds a long array, whose tree in memory is some ten
 * times the size of its text: walks text of the form
 *
 *     {"key": [{...}, {...}, ...]}
 *
 * (whitespace anywhere between tokens), parsing one element at a time
 * into scratch, which is emptied after each, and calls each(ctx, i, v)
 * with the element i.  each keeps what it needs of v elsewhere, and
 * returns nonzero to stop.  key must be the object's one member, written
 * without escapes, and every element an object.
 *
 * Returns JSONMEM_EACH_DONE once every element was handed over (*n of
 * them), JSONMEM_EACH_STOPPED when each stopped, and JSONMEM_EACH_SHAPE
 * when text is not of that form or not valid JSON: the caller then parses
 * it whole, as any other body, which says what is wrong with it.  The
 * elements handed over before that are not taken back.
 */
enum jsonmem_each_result {
    JSONMEM_EACH_DONE,
    JSONMEM_EACH_STOPPED,
    JSONMEM_EACH_SHAPE
};

typedef int (*jsonmem_each_fn)(void *ctx, size_t i, json_t *v);

enum jsonmem_each_result jsonmem_each(const char *text, size_t len,
                                      const char *key, struct arena *scratch,
                                      jsonmem_each_fn each, void *ctx,
                                      size_t *n);

#endif
