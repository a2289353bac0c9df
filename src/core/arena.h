/*
 * core/arena.h - a bump allocator that frees everything at once.
 *
 * Layer: src/core, reusable, knows nothing of HTTP or storage.  The server
 * gives every request an arena (as h2o embeds a memory pool in each
 * request): handlers allocate strings, buffers and the serialised response
 * from it and never free them one by one; the whole arena is released when
 * the request completes.
 *
 * Memory comes in blocks from malloc.  The first block is 4 KiB and each
 * further block doubles the previous one up to ARENA_BLOCK_MAX, so a
 * request that builds a large reply does not call malloc for every few
 * kilobytes; an allocation larger than a block gets a block of its own.
 * Every pointer returned is aligned to 16 bytes and stays valid until
 * arena_release.  An arena is used by one thread at a time.
 */
#ifndef CORE_ARENA_H
#define CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

/* The first block: 4 KiB holds a typical request's path, parameters,
 * headers and a JSON reply of a few hundred bytes (the decoded code is
 * about 400), so most requests make exactly one malloc. */
#define ARENA_BLOCK_MIN  4096u
/* Doubling stops at 1 MiB so that a request which allocates a lot in small
 * pieces wastes at most one mostly empty megabyte. */
#define ARENA_BLOCK_MAX  (1024u * 1024u)
/* Alignment of every allocation: enough for any scalar type and for
 * SSE/NEON loads (max_align_t is 16 on x86-64 and AArch64). */
#define ARENA_ALIGN      16u

struct arena_block;

struct arena {
    struct arena_block *head;   /* the block being filled; NULL when empty */
    size_t next_size;           /* size of the next block to allocate */
    size_t total;               /* bytes obtained from malloc, for stats */
};

/* Sets up an empty arena in a struct the caller owns.  Allocates nothing. */
void arena_init(struct arena *a);

/* Frees every block.  Every pointer the arena returned becomes invalid.
 * The arena is left empty and may be used again.  Safe on an arena that
 * never allocated. */
void arena_release(struct arena *a);

/* As arena_release, but keeps the newest block for what comes next: for
 * an arena emptied again and again (one item of a batch at a time), which
 * then reuses the same memory instead of asking malloc each time. */
void arena_reset(struct arena *a);

/* Returns n bytes (uninitialised, aligned to ARENA_ALIGN) owned by the
 * arena, or NULL when malloc fails or n is absurdly large.  n == 0 returns
 * a valid unique pointer to zero bytes. */
void *arena_alloc(struct arena *a, size_t n);

/* As arena_alloc, and zero-filled. */
void *arena_calloc(struct arena *a, size_t n);

/* Copies at most n bytes of s (stopping at a NUL) into the arena and adds
 * a NUL.  Returns the copy, or NULL when allocation fails. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Copies the NUL-terminated string s into the arena.  NULL on failure. */
char *arena_strdup(struct arena *a, const char *s);

/* Copies n bytes of p into the arena (no NUL added).  NULL on failure. */
void *arena_memdup(struct arena *a, const void *p, size_t n);

/* Formats as vsnprintf into a string the arena owns.  Returns the string,
 * or NULL when allocation fails or the format is invalid. */
char *arena_sprintf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
