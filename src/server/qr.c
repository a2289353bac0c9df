/*
 * server/qr.c - QR labels as SVG and PNG (server/qr.h).
 *
 * Both renderers share the same steps: check the input, have libqrencode
 * build the symbol, work out the layout, then write the picture.  The
 * symbol is libqrencode's width x width grid of bytes whose lowest bit is
 * 1 for a dark module.
 *
 * The SVG is written into a growing buffer sized from the number of dark
 * runs, so a label normally costs one malloc.  The PNG is written one
 * pixel row at a time straight from the symbol and the font, so memory
 * stays at one row plus the compressed output even for the largest image
 * (some 6,400 x 3,300 pixels).
 *
 * libpng reports errors by longjmp.  Everything that must be freed after
 * a failure is allocated by qr_png before png_encode calls setjmp, and
 * png_encode changes none of its own locals after that call, so nothing
 * needs to be volatile: after a longjmp, png_encode destroys the libpng
 * structures it created and qr_png frees the rest, as on success.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "server/qr.h"

/* ---- input and symbol ------------------------------------------------ */

/* The glyph index of a caption character, or -1 outside the set. */
static int glyph_index(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return 10 + (c - 'A');
    if (c == '-')
        return 36;
    if (c == ' ')
        return 37;
    return -1;
}

/* Checks text and caption; stores the caption's length (0 for NULL) in
 * *ncap.  Returns 0, or -1 with errno EINVAL. */
static int check_input(const char *text, const char *caption, size_t *ncap)
{
    size_t n;

    if (text == NULL || text[0] == '\0' ||
        strnlen(text, QR_TEXT_MAX + 1) > QR_TEXT_MAX) {
        errno = EINVAL;
        return -1;
    }
    n = caption == NULL ? 0 : strnlen(caption, QR_CAPTION_MAX + 1);
    if (n > QR_CAPTION_MAX) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (glyph_index(caption[i]) < 0) {
            errno = EINVAL;
            return -1;
        }
    *ncap = n;
    return 0;
}

/*
 * Builds the symbol for text.  Returns it (freed with QRcode_free), or
 * NULL with errno ENOMEM or EINVAL.  libqrencode's other error, ERANGE
 * (too much data), cannot happen for QR_TEXT_MAX bytes, as version 40 at
 * level M holds 2,331; it is reported as EINVAL all the same.
 */
static QRcode *encode(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

    if (qr == NULL && errno != ENOMEM)
        errno = EINVAL;
    return qr;
}

static int is_dark(const QRcode *qr, int x, int y)
{
    return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

/* ---- SVG ------------------------------------------------------------- */

/* A growing string; oom is set, and nothing more is written, once an
 * allocation has failed. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    assert(n >= 0);     /* the formats are ours and hold only numbers */
    if ((size_t)n >= b->cap - b->len) {
        size_t cap = b->cap * 2 > b->len + (size_t)n + 1
                         ? b->cap * 2 : b->len + (size_t)n + 1;
        char *p = realloc(b->p, cap);

        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Appends s with the five XML special characters as entities.  The
 * caption's character set has none of them today; escaping anyway keeps
 * the document well formed if that set ever grows. */
static void sbuf_xml(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': sbuf_printf(b, "&amp;"); break;
        case '<': sbuf_printf(b, "&lt;"); break;
        case '>': sbuf_printf(b, "&gt;"); break;
        case '"': sbuf_printf(b, "&quot;"); break;
        case '\'': sbuf_printf(b, "&apos;"); break;
        default: sbuf_printf(b, "%c", s[i]); break;
        }
    }
}

/* The number of horizontal runs of dark modules in the symbol. */
static size_t count_runs(const QRcode *qr)
{
    size_t runs = 0;

    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++)
            if (is_dark(qr, x, y) && (x == 0 || !is_dark(qr, x - 1, y)))
                runs++;
    return runs;
}

/* The longest subpath, "M189 184h177v1h-177z", is 21 bytes. */
#define SVG_RUN_MAX 21
/* The XML declaration, <svg>, background, path and text elements without
 * their data: under 512 bytes. */
#define SVG_FRAME_MAX 512

int qr_svg(const char *text, const char *caption, char **out, size_t *len)
{
    struct sbuf b = {0};
    QRcode *qr = NULL;
    size_t ncap;
    unsigned qrw, w, h, x0, capw;
    int rc = -1;

    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (out == NULL || len == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (check_input(text, caption, &ncap) < 0)
        return -1;
    qr = encode(text);
    if (qr == NULL)
        goto out;

    /* Widths in modules (server/qr.h).  The picture is widened by an even
     * number of modules so that the code stays on whole coordinates. */
    qrw = (unsigned)qr->width + 2 * QR_QUIET;
    capw = 3 * (unsigned)ncap;
    w = qrw;
    if (ncap > 0 && capw + 2 * QR_QUIET > w)
        w = capw + 2 * QR_QUIET + (capw + 2 * QR_QUIET - qrw) % 2;
    h = qrw + (ncap > 0 ? 6 : 0);
    x0 = (w - qrw) / 2 + QR_QUIET;

    b.cap = SVG_FRAME_MAX + count_runs(qr) * SVG_RUN_MAX + 6 * ncap;
    b.p = malloc(b.cap);
    if (b.p == NULL) {
        errno = ENOMEM;
        goto out;
    }
    b.p[0] = '\0';
    sbuf_printf(&b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                "viewBox=\"0 0 %u %u\">\n"
                "<rect width=\"%u\" height=\"%u\" fill=\"#fff\"/>\n"
                "<path fill=\"#000\" shape-rendering=\"crispEdges\" d=\"",
                w, h, w, h);
    /* Each run is a closed 1 x n rectangle; "crispEdges" keeps renderers
     * from anti-aliasing seams between neighbouring rows. */
    for (int y = 0; y < qr->width; y++) {
        int x = 0;

        while (x < qr->width) {
            int start;

            if (!is_dark(qr, x, y)) {
                x++;
                continue;
            }
            start = x;
            while (x < qr->width && is_dark(qr, x, y))
                x++;
            sbuf_printf(&b, "M%u %uh%dv1h-%dz", x0 + (unsigned)start,
                        (unsigned)(QR_QUIET + y), x - start, x - start);
        }
    }
    sbuf_printf(&b, "\"/>\n");
    if (ncap > 0) {
        /* textLength pins the caption's width to the 3 units a character
         * the layout assumes, whatever monospace font the viewer picks. */
        sbuf_printf(&b,
                    "<text x=\"%u%s\" y=\"%u\" font-family=\"monospace\" "
                    "font-size=\"5\" text-anchor=\"middle\" "
                    "textLength=\"%u\" lengthAdjust=\"spacingAndGlyphs\" "
                    "fill=\"#000\">",
                    w / 2, w % 2 ? ".5" : "", qrw + 4, capw);
        sbuf_xml(&b, caption, ncap);
        sbuf_printf(&b, "</text>\n");
    }
    sbuf_printf(&b, "</svg>\n");
    if (b.oom) {
        errno = ENOMEM;
        goto out;
    }
    *out = b.p;
    *len = b.len;
    b.p = NULL;
    rc = 0;
out:
    free(b.p);
    if (qr != NULL)
        QRcode_free(qr);
    return rc;
}

/* ---- PNG ------------------------------------------------------------- */

/*
 * The caption font: 5 x 7 glyphs, one byte per row from the top, bit 4 the
 * leftmost pixel.  The zero is slashed so that it does not read as O, and
 * the one has a foot so that it does not read as I.
 */
static const unsigned char font5x7[38][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, /* 9 */
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
};

#define GLYPH_W 5
#define GLYPH_H 7
#define GLYPH_ADVANCE (GLYPH_W + 1)

/* Where everything goes in the image, in pixels (server/qr.h). */
struct png_layout {
    const QRcode *qr;
    const char *caption;
    size_t ncap;
    unsigned scale;     /* pixels per module */
    unsigned g;         /* pixels per glyph pixel */
    unsigned w, h;      /* the image */
    unsigned code_x;    /* left edge of the code's quiet zone */
    unsigned code_px;   /* the code with its quiet zones, across and down */
    unsigned cap_x;     /* left edge of the caption */
    size_t rowbytes;
};

static void layout_png(struct png_layout *l, const QRcode *qr,
                       const char *caption, size_t ncap, int scale)
{
    unsigned capw;

    l->qr = qr;
    l->caption = caption;
    l->ncap = ncap;
    l->scale = (unsigned)scale;
    l->g = l->scale / 2 > 0 ? l->scale / 2 : 1;
    l->code_px = ((unsigned)qr->width + 2 * QR_QUIET) * l->scale;
    capw = ncap > 0 ? (GLYPH_ADVANCE * (unsigned)ncap - 1) * l->g : 0;
    l->w = l->code_px;
    if (ncap > 0 && capw + 2 * QR_QUIET * l->scale > l->w)
        l->w = capw + 2 * QR_QUIET * l->scale;
    l->h = l->code_px + (ncap > 0 ? GLYPH_H * l->g + 2 * l->scale : 0);
    l->code_x = (l->w - l->code_px) / 2;
    l->cap_x = (l->w - capw) / 2;
    l->rowbytes = (l->w + 7) / 8;
}

/* Makes n pixels from x dark in a 1-bit row, where 1 is white. */
static void row_dark(unsigned char *row, unsigned x, unsigned n)
{
    for (unsigned i = x; i < x + n; i++)
        row[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
}

/* Fills row with pixel row y of the image. */
static void render_row(const struct png_layout *l, unsigned y,
                       unsigned char *row)
{
    const unsigned quiet_px = QR_QUIET * l->scale;

    memset(row, 0xff, l->rowbytes);
    if (y >= quiet_px && y < l->code_px - quiet_px) {
        int my = (int)((y - quiet_px) / l->scale);

        for (int mx = 0; mx < l->qr->width; mx++)
            if (is_dark(l->qr, mx, my))
                row_dark(row, l->code_x + quiet_px + (unsigned)mx * l->scale,
                         l->scale);
    } else if (l->ncap > 0 && y >= l->code_px &&
               y < l->code_px + GLYPH_H * l->g) {
        unsigned gy = (y - l->code_px) / l->g;

        for (size_t i = 0; i < l->ncap; i++) {
            unsigned bits = font5x7[glyph_index(l->caption[i])][gy];
            unsigned cx = l->cap_x + (unsigned)i * GLYPH_ADVANCE * l->g;

            for (unsigned gx = 0; gx < GLYPH_W; gx++)
                if (bits & (0x10u >> gx))
                    row_dark(row, cx + gx * l->g, l->g);
        }
    }
}

/* The PNG file being written, owned by qr_png. */
struct membuf {
    unsigned char *p;
    size_t len, cap;
};

static void mem_write(png_structp png, png_bytep data, size_t n)
{
    struct membuf *m = png_get_io_ptr(png);

    if (n > m->cap - m->len) {
        /* 4 KiB holds a typical label (about 1 KB at scale 4) at once. */
        size_t cap = m->cap > 0 ? m->cap * 2 : 4096;
        unsigned char *p;

        if (cap < m->len + n)
            cap = m->len + n;
        p = realloc(m->p, cap);

        if (p == NULL)
            png_error(png, "out of memory");
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

/* libpng flushes only when asked to (png_set_flush); there is nothing to
 * flush in memory, but a NULL flush function would make libpng fflush the
 * io pointer as a FILE *. */
static void mem_flush(png_structp png)
{
    (void)png;
}

/* libpng's default handlers print to stderr; the caller gets errno. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes every row; runs below png_encode's setjmp, so its locals may be
 * lost to a longjmp without harm. */
static void write_rows(png_structp png, const struct png_layout *l,
                       unsigned char *row)
{
    for (unsigned y = 0; y < l->h; y++) {
        render_row(l, y, row);
        png_write_row(png, row);
    }
}

/*
 * Encodes the image of l into m, using row (l->rowbytes bytes) as scratch.
 * Returns 0, or -1 when libpng failed; m and row are the caller's to free
 * either way.
 */
static int png_encode(const struct png_layout *l, unsigned char *row,
                      struct membuf *m)
{
    png_structp png;
    png_infop info;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error,
                                  png_on_warning);
    if (png == NULL)
        return -1;
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    /* png and info are not assigned again before the destroy below. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, m, mem_write, mem_flush);
    png_set_IHDR(png, info, l->w, l->h, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    write_rows(png, l, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int qr_png(const char *text, const char *caption, int scale,
           unsigned char **out, size_t *len)
{
    struct membuf m = {0};
    struct png_layout l;
    unsigned char *row = NULL;
    QRcode *qr = NULL;
    size_t ncap;
    int rc = -1;

    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (out == NULL || len == NULL || scale < QR_SCALE_MIN ||
        scale > QR_SCALE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (check_input(text, caption, &ncap) < 0)
        return -1;
    qr = encode(text);
    if (qr == NULL)
        goto out;
    layout_png(&l, qr, caption, ncap, scale);
    row = malloc(l.rowbytes);
    if (row == NULL) {
        errno = ENOMEM;
        goto out;
    }
    if (png_encode(&l, row, &m) < 0) {
        errno = ENOMEM;
        goto out;
    }
    *out = m.p;
    *len = m.len;
    m.p = NULL;
    rc = 0;
out:
    free(m.p);
    free(row);
    if (qr != NULL)
        QRcode_free(qr);
    return rc;
}
