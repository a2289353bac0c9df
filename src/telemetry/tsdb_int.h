/*
 * telemetry/tsdb_int.h - private to src/telemetry: bit and byte I/O, the
 * CRC-32C and the integer series coder that raw and rollup chunks share.
 *
 * A series is n int64 values x[0..n) (timestamps, quantised values, bucket
 * counts).  Its header says x[0], a common step g of all x[i] - x[0], a
 * fixed predictor (order 0, 1 or 2, as Shorten and FLAC use them) with an
 * offset B, and a Rice parameter k; its n - 1 residuals are Rice codes in
 * a bit stream that the chunk shares between its series.
 * docs/telemetry.md defines every field; this header is the code's map.
 *
 * All arithmetic on series values is done on uint64_t, modulo 2^64: the
 * encoder and the decoder wrap the same way, so any int64 values round
 * trip, whatever the differences between them.
 */
#ifndef TELEMETRY_TSDB_INT_H
#define TELEMETRY_TSDB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry/tsdb.h"

/* Chunk kinds: the high nibble of a chunk's first byte, the format
 * version in the low one. */
#define TSDB_FMT_RAW    0x11
#define TSDB_FMT_ROLLUP 0x21

/* The longest series a chunk holds: a rollup chunk's buckets. */
#define TSDB_SERIES_MAX \
    (TSDB_ROLLUP_BUCKETS > TSDB_CHUNK_SAMPLES ? TSDB_ROLLUP_BUCKETS \
                                              : TSDB_CHUNK_SAMPLES)

/* A quotient of 20 or more is written as 20 one-bits, a 6-bit length and
 * the residual's bits: the encoder picks k so that this is rare (a
 * timestamp gap), and an escape then costs 26 bits plus the residual's
 * own instead of 64. */
#define TSDB_RICE_ESCAPE 20
/* k = 63 in the mode byte: every residual is 0 and none is written. */
#define TSDB_RICE_ZERO 63

/* A CRC-32C (Castagnoli, as iSCSI and ext4 use it) of len bytes. */
uint32_t tsdb_crc32c(const void *data, size_t len);

/* Byte output with a capacity; ok turns false on overflow and stays. */
struct tsdb_bytew {
    uint8_t *p;
    size_t cap, len;
    bool ok;
};

/* Unsigned LEB128: 7 bits a byte, low group first, at most 10 bytes. */
void tsdb_bytew_varint(struct tsdb_bytew *w, uint64_t v);

/* Byte input: a cursor over [p, end). */
struct tsdb_byter {
    const uint8_t *p, *end;
};

/* Reads one byte; false at the end. */
bool tsdb_byter_get(struct tsdb_byter *r, uint8_t *b);
/* Reads a varint; false when truncated, longer than 10 bytes, over 64
 * bits or not in its shortest form. */
bool tsdb_byter_varint(struct tsdb_byter *r, uint64_t *v);

/* Bit output, most significant bit first, appended after the bytes of a
 * tsdb_bytew (it writes through it). */
struct tsdb_bitw {
    struct tsdb_bytew *w;
    uint64_t acc;        /* pending bits, the last nacc of them */
    int nacc;            /* 0..7 between calls */
};

/* Pads the last byte with zero bits. */
void tsdb_bitw_flush(struct tsdb_bitw *b);

/* Bit input, most significant bit first, with a 64-bit cache: bits past
 * the end read as an overrun (overrun turns true), never as memory. */
struct tsdb_bitr {
    const uint8_t *p, *end;
    uint64_t cache;      /* the next avail bits, left aligned, zeros after */
    int avail;
    bool overrun;
};

void tsdb_bitr_init(struct tsdb_bitr *b, const uint8_t *p, const uint8_t *end);
/* True when every byte was read and the bits left are zero padding of
 * less than a byte. */
bool tsdb_bitr_at_end(const struct tsdb_bitr *b);

/*
 * The functions of the inner loops, inline: one call per bit field or
 * byte.  tsdb_bytew_put appends a byte; tsdb_bitw_put appends the nbits
 * (0..64) low bits of v; tsdb_bitr_get reads nbits (0..64), returning 0
 * and setting overrun when the bits run out.
 */
static inline void tsdb_bytew_put(struct tsdb_bytew *w, uint8_t b)
{
    if (w->len >= w->cap) {
        w->ok = false;
        return;
    }
    w->p[w->len++] = b;
}

/* Appends nbits (0..32) bits of v. */
static inline void tsdb_bitw_put32(struct tsdb_bitw *b, uint32_t v, int nbits)
{
    if (nbits == 0)
        return;
    /* acc holds at most 7 pending bits, so 39 after the shift. */
    b->acc = (b->acc << nbits) | (v & (uint32_t)(0xFFFFFFFFu >> (32 - nbits)));
    b->nacc += nbits;
    while (b->nacc >= 8) {
        b->nacc -= 8;
        tsdb_bytew_put(b->w, (uint8_t)(b->acc >> b->nacc));
    }
    b->acc &= (UINT64_C(1) << b->nacc) - 1;
}

static inline void tsdb_bitw_put(struct tsdb_bitw *b, uint64_t v,
                                 int nbits)
{
    if (nbits > 32) {
        tsdb_bitw_put32(b, (uint32_t)(v >> 32), nbits - 32);
        nbits = 32;
    }
    tsdb_bitw_put32(b, (uint32_t)v, nbits);
}

/* Tops the cache up to at least 57 bits while bytes remain. */
static inline void tsdb_bitr_refill(struct tsdb_bitr *b)
{
    while (b->avail <= 56 && b->p < b->end) {
        b->cache |= (uint64_t)*b->p++ << (56 - b->avail);
        b->avail += 8;
    }
}

/* Reads nbits (0..32). */
static inline uint64_t tsdb_bitr_get32(struct tsdb_bitr *b, int nbits)
{
    uint64_t v;

    if (nbits == 0)
        return 0;
    if (b->avail < nbits)
        tsdb_bitr_refill(b);
    if (b->avail < nbits) {
        b->overrun = true;
        return 0;
    }
    v = b->cache >> (64 - nbits);
    b->cache <<= nbits;
    b->avail -= nbits;
    return v;
}

static inline uint64_t tsdb_bitr_get(struct tsdb_bitr *b, int nbits)
{
    uint64_t hi = 0;

    if (nbits > 32) {
        hi = tsdb_bitr_get32(b, nbits - 32) << 32;
        nbits = 32;
    }
    return hi | tsdb_bitr_get32(b, nbits);
}

/* Reads a unary quotient: the one-bits before a zero, at most limit of
 * them.  Returns limit when limit one-bits were read (an escape; no zero
 * follows them) and sets overrun when the bits run out first. */
static inline unsigned tsdb_bitr_unary(struct tsdb_bitr *b, unsigned limit)
{
    unsigned ones;

    if (b->avail < (int)limit + 1)
        tsdb_bitr_refill(b);
    /* Bits past avail are zero in the cache, so ~cache has ones there
     * and the count of leading ones never passes avail. */
    ones = ~b->cache == 0 ? 64u : (unsigned)__builtin_clzll(~b->cache);
    if (ones >= limit) {
        if (b->avail < (int)limit) {
            b->overrun = true;
            return limit;
        }
        b->cache <<= limit;
        b->avail -= (int)limit;
        return limit;
    }
    if ((int)ones + 1 > b->avail) {
        b->overrun = true;
        return limit;
    }
    /* ones + 1 <= 20 here, well under 64. */
    b->cache <<= ones + 1;
    b->avail -= (int)ones + 1;
    return ones;
}

/*
 * The Rice code of u with parameter k (0..62): the quotient u >> k in
 * unary (that many one-bits and a zero), then the k low bits of u; or,
 * for a quotient of TSDB_RICE_ESCAPE or more, TSDB_RICE_ESCAPE one-bits,
 * the bit length L of u less one in 6 bits, and u's L bits.
 * tsdb_rice_bits is its length; tsdb_rice_get sets b->overrun when the
 * bits run out.
 */
static inline uint64_t tsdb_rice_bits(uint64_t u, int k)
{
    uint64_t q = u >> k;

    if (q < TSDB_RICE_ESCAPE)
        return q + 1 + (uint64_t)k;
    return TSDB_RICE_ESCAPE + 6 + (uint64_t)(64 - __builtin_clzll(u));
}

static inline void tsdb_rice_put(struct tsdb_bitw *b, uint64_t u, int k)
{
    uint64_t q = u >> k;

    if (q < TSDB_RICE_ESCAPE) {
        /* q one-bits then a zero: (2^q - 1) << 1 in q + 1 bits. */
        tsdb_bitw_put(b, ((UINT64_C(1) << q) - 1) << 1, (int)q + 1);
        tsdb_bitw_put(b, u, k);
    } else {
        int len = 64 - __builtin_clzll(u);

        tsdb_bitw_put(b, (UINT64_C(1) << TSDB_RICE_ESCAPE) - 1,
                      TSDB_RICE_ESCAPE);
        tsdb_bitw_put(b, (uint64_t)(len - 1), 6);
        tsdb_bitw_put(b, u, len);
    }
}

static inline uint64_t tsdb_rice_get(struct tsdb_bitr *b, int k)
{
    unsigned q = tsdb_bitr_unary(b, TSDB_RICE_ESCAPE);

    if (q < TSDB_RICE_ESCAPE)
        return ((uint64_t)q << k) | tsdb_bitr_get(b, k);
    return tsdb_bitr_get(b, (int)tsdb_bitr_get(b, 6) + 1);
}

/* The parameters of one coded series. */
struct tsdb_series {
    size_t n;            /* values, >= 1 */
    uint64_t x0;         /* x[0] */
    uint64_t g;          /* common step of x[i] - x[0], >= 1 */
    int order;           /* predictor: 0, 1 or 2 */
    int k;               /* Rice parameter 0..62, or TSDB_RICE_ZERO */
    uint64_t b;          /* predictor offset */
};

/*
 * Chooses the cheapest parameters for x[0..n) (1 <= n <=
 * TSDB_SERIES_MAX) and returns the number of residual bits they cost.
 */
uint64_t tsdb_series_plan(const int64_t *x, size_t n, struct tsdb_series *s);

/* Writes the series header: x0, and for n >= 2 g, the mode byte and b. */
void tsdb_series_put_header(const struct tsdb_series *s, struct tsdb_bytew *w);

/* Writes the n - 1 residuals of x under s. */
void tsdb_series_put_residuals(const struct tsdb_series *s, const int64_t *x,
                               struct tsdb_bitw *b);

/* Reads a series header for n values (1..TSDB_SERIES_MAX); false when it
 * is truncated or malformed. */
bool tsdb_series_get_header(struct tsdb_series *s, size_t n,
                            struct tsdb_byter *r);

/* Reads the residuals and rebuilds x[0..n); false when the bits run out. */
bool tsdb_series_get_residuals(const struct tsdb_series *s,
                               struct tsdb_bitr *b, int64_t *x);

/* Appends the CRC-32C of the bytes written so far, little-endian. */
void tsdb_chunk_seal(struct tsdb_bytew *w);

/*
 * Checks the frame of a chunk of len bytes: its length, CRC, format byte
 * fmt, metric id, digits and count (1..maxn), fills *info with them and
 * leaves r on the first series header, its end before the CRC.  Returns
 * HRID_OK or HRID_EINVAL (TSDB_R_TRUNCATED, TSDB_R_CORRUPT).
 */
int tsdb_chunk_open(const void *bytes, size_t len, uint8_t fmt, size_t maxn,
                    struct tsdb_chunk_info *info, struct tsdb_byter *r,
                    struct hrid_err *err);

/* Signed view of a uint64_t, modulo 2^64 (as GCC and Clang convert). */
static inline int64_t tsdb_signed(uint64_t u)
{
    return (int64_t)u;
}

/* The precision of a chunk's values: 10^digits, exact for digits <= 22. */
double tsdb_pow10(int digits);

/* Reports a malformed chunk: HRID_EINVAL with TSDB_R_CORRUPT. */
int tsdb_corrupt(struct hrid_err *err, const char *what);

#endif
