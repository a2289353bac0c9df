/*
 * core/jsonw.h - JSON written straight into an arena or a fixed buffer.
 *
 * One writer serves two needs.  Stored records and log leaves take the
 * canonical form (JSONW_SORTED): compact, object keys in byte order,
 * strings as given (UTF-8) with '"', '\\' and control characters escaped,
 * integers in decimal, reals with 15 significant digits and a ".0" when
 * they would read as integers.  That is byte for byte what jansson writes
 * with JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15) (a unit
 * test holds it to that).  Replies keep the order the members were set
 * in, as jansson's compact dump does.
 *
 * jansson's own dump goes through a callback for every token and, sorted,
 * allocates and frees for every object: it was a fifth of the writer's
 * time in a bulk registration and an eighth of hridd's time answering
 * GET /v1/units/{code}.
 */
#ifndef CORE_JSONW_H
#define CORE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"

/* Where the bytes go: with a, an arena buffer that grows (p, cap start
 * at NULL, 0); without, the caller's p of cap bytes, and failed is set
 * once it is full.  failed is also set when the arena runs out.  Zero
 * the rest: it is the writer's place in the document. */
struct jsonw {
    struct arena *a;
    char *p;
    size_t len, cap;
    bool failed;
    unsigned depth;             /* objects and arrays open */
    uint64_t more;              /* bit d: level d has a member already */
    bool after_key;             /* the next value is a member's */
};

#define JSONW_SORTED 1u         /* object keys in byte order (canonical) */
#define JSONW_DEPTH_MAX 63u     /* deeper opens fail the writer */

/* Bytes as they are: the caller writes any separators. */
void jsonw_put(struct jsonw *w, const char *s, size_t n);

/*
 * A document written member by member: jsonw_open and jsonw_close an
 * object ('{', '}') or array ('[', ']'), jsonw_key names a member, and
 * each value below writes the comma before an element or member that
 * is not its level's first.  At the top level they write just the value.
 */
void jsonw_open(struct jsonw *w, char bracket);
void jsonw_close(struct jsonw *w, char bracket);
void jsonw_key(struct jsonw *w, const char *key);    /* plain ASCII */
/* s (n bytes of UTF-8) as a JSON string, quoted and escaped. */
void jsonw_string(struct jsonw *w, const char *s, size_t n);
/* s as a JSON string, or null when s is NULL. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_null(struct jsonw *w);
void jsonw_value(struct jsonw *w, const json_t *v, unsigned flags);
/* A member: jsonw_key, then the value as above. */
void jsonw_member_str(struct jsonw *w, const char *key, const char *s);
void jsonw_member_int(struct jsonw *w, const char *key, int64_t v);

/* Ends what w wrote with a NUL and returns it (len, when not NULL,
 * excludes the NUL); NULL when out of memory. */
char *jsonw_finish(struct jsonw *w, size_t *len);

/* v written into a, as jsonw_finish returns it. */
char *jsonw_dump(struct arena *a, const json_t *v, unsigned flags,
                 size_t *len);

#endif
