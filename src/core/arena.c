/*
 * core/arena.c - the per-request bump allocator (core/arena.h).
 *
 * Blocks form a singly linked list, newest first; only the newest is
 * filled.  When an allocation does not fit, a new block becomes the head
 * and whatever was left in the old one is abandoned: the waste is bounded
 * by the block sizes doubling, and the allocator stays a pointer bump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

struct arena_block {
    struct arena_block *next;
    size_t size;                /* usable bytes in data[] */
    size_t used;                /* bytes handed out, always aligned */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* Allocations above this many bytes fail outright: no request needs
 * more, and it keeps the size arithmetic far from SIZE_MAX. */
#define ARENA_ALLOC_MAX ((size_t)1 << 40)

static size_t align_up(size_t n)
{
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->next_size = ARENA_BLOCK_MIN;
    a->total = 0;
}

void arena_release(struct arena *a)
{
    struct arena_block *b = a->head;

    while (b != NULL) {
        struct arena_block *next = b->next;

        free(b);
        b = next;
    }
    arena_init(a);
}

void arena_reset(struct arena *a)
{
    struct arena_block *keep = a->head, *b, *next;

    if (keep == NULL)
        return;
    for (b = keep->next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    keep->next = NULL;
    keep->used = 0;
    a->total = sizeof(*keep) + keep->size;
}

/* Makes a new head block with room for at least n aligned bytes. */
static struct arena_block *arena_grow(struct arena *a, size_t n)
{
    size_t size = a->next_size;
    struct arena_block *b;

    if (n > size)
        size = n;
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->used = 0;
    /* A block made for one oversized allocation is put behind the head,
     * so the space left in the current head is not abandoned for it. */
    if (n > a->next_size && a->head != NULL) {
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
        if (a->next_size < ARENA_BLOCK_MAX)
            a->next_size *= 2;
    }
    a->total += sizeof(*b) + size;
    return b;
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct arena_block *b = a->head;
    void *p;

    if (n > ARENA_ALLOC_MAX)
        return NULL;
    n = align_up(n == 0 ? 1 : n);
    if (b == NULL || b->size - b->used < n) {
        b = arena_grow(a, n);
        if (b == NULL)
            return NULL;
    }
    p = b->data + b->used;
    b->used += n;
    return p;
}

void *arena_calloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);

    if (p != NULL)
        memset(p, 0, n);
    return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n);

    if (q != NULL && n > 0)
        memcpy(q, p, n);
    return q;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *q = arena_alloc(a, len + 1);

    if (q == NULL)
        return NULL;
    memcpy(q, s, len);
    q[len] = '\0';
    return q;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, SIZE_MAX);
}

char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
{
    struct arena_block *b = a->head;
    va_list ap2;
    size_t room = b != NULL ? b->size - b->used : 0;
    char *dst = b != NULL ? (char *)b->data + b->used : NULL;
    char *q;
    int n;

    /* First try to format straight into the free end of the head block,
     * which saves the second pass in the common case of a short string. */
    va_copy(ap2, ap);
    n = vsnprintf(dst, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    if ((size_t)n < room) {
        /* room is a multiple of ARENA_ALIGN, so the padding fits too. */
        b->used += align_up((size_t)n + 1);
        return dst;
    }
    q = arena_alloc(a, (size_t)n + 1);
    if (q == NULL)
        return NULL;
    va_copy(ap2, ap);
    vsnprintf(q, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return q;
}

char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    char *q;

    va_start(ap, fmt);
    q = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return q;
}
