/*
 * server/qr.h - printable labels for robots: a QR code of a verification
 * URL with the identity code's display form printed under it, as SVG or
 * as PNG.
 *
 * Layer: src/server.  The symbol comes from libqrencode (error correction
 * level M, byte mode), the PNG from libpng; neither library shows through
 * this header.  Both functions are pure: they keep no state between calls
 * and may run on any number of threads at once.  Their output is malloc'd
 * (not arena memory) because a label is built once and then copied into
 * the response or a file; the caller frees it with free().
 *
 * Layout, in modules (one module is one square of the code):
 *
 *   - the code, with a quiet zone of QR_QUIET white modules on every side,
 *     as ISO/IEC 18004 requires for a reader to find the symbol;
 *   - under the bottom quiet zone, the caption, one line centred;
 *   - a margin of 2 modules under the caption.
 *
 * In the SVG one user unit is one module.  The caption is set in a
 * monospace font of size 5, whose advance (0.6 em in common monospace
 * fonts) is 3 modules per character; its baseline is 4 units under the
 * bottom quiet zone, so the caption band is 6 units high.  When the
 * caption plus a quiet zone each side is wider than the code, the picture
 * is widened and the code centred.
 *
 * In the PNG (1-bit grayscale) a module is scale x scale pixels.  The
 * caption uses a built-in 5x7 bitmap font for 0-9, A-Z, '-' and space,
 * each glyph pixel g = max(1, scale / 2) pixels square and one blank
 * glyph column between characters, so a caption of n characters is
 * (6n - 1) g pixels wide and 7g high.  The image is
 *     width  = max((w + 8) scale, (6n - 1) g + 8 scale)
 *     height = (w + 8) scale + 7g + 2 scale
 * for a symbol of w modules, and (w + 8) scale square without a caption.
 */
#ifndef SERVER_QR_H
#define SERVER_QR_H

#include <stddef.h>

/* The longest text encoded: a verification URL is about 160 bytes (host,
 * "/v/", the 29-character code, "?s=" and a 91-character signature);
 * 512 leaves room for a longer host or extra parameters and still needs
 * at most a version 18 symbol (89 modules, 560 bytes at level M), which
 * prints readably on a 5 cm label. */
#define QR_TEXT_MAX 512

/* The longest caption: a code's display form is 36 characters
 * ("CN-0001-A1B2C3-24-0000000000000017-K"); 64 allows a short prefix
 * such as a model name. */
#define QR_CAPTION_MAX 64

/* The quiet zone around the code, in modules: the 4 of ISO/IEC 18004. */
#define QR_QUIET 4

/* Pixels per module in a PNG: 1 is the smallest image that still
 * decodes; 32 makes a version 18 label about 3,100 pixels across, enough
 * for a 26 cm print at 300 dpi. */
#define QR_SCALE_MIN 1
#define QR_SCALE_MAX 32

/*
 * Renders text (1..QR_TEXT_MAX bytes, NUL-terminated) as a QR code with
 * caption under it, as an SVG document: UTF-8, NUL-terminated, with a
 * viewBox and no fixed size so that it prints at any size.  The dark
 * modules are one <path> with one subpath per horizontal run of dark
 * modules, on a white background; the caption is a <text> in a monospace
 * font, XML-escaped.  caption is at most QR_CAPTION_MAX characters of
 * 0-9, A-Z, '-' and space; NULL or "" leaves the caption out.
 *
 * On success stores the document in *out (malloc'd; the caller frees it
 * with free()) and its length without the NUL in *len, and returns 0.
 * On failure returns -1 with errno set, *out NULL and *len 0:
 *   EINVAL  text NULL, empty or longer than QR_TEXT_MAX; caption too
 *           long or with a character outside the set; out or len NULL
 *   ENOMEM  out of memory
 */
int qr_svg(const char *text, const char *caption, char **out, size_t *len);

/*
 * Renders the same label as a PNG (1-bit grayscale, dimensions in the
 * file comment above) with each module scale x scale pixels, scale in
 * QR_SCALE_MIN..QR_SCALE_MAX.  text and caption as for qr_svg.
 *
 * On success stores the PNG file's bytes in *out (malloc'd; the caller
 * frees it with free()) and their number in *len, and returns 0.  On
 * failure returns -1 with errno set, *out NULL and *len 0:
 *   EINVAL  as for qr_svg, or scale out of range
 *   ENOMEM  out of memory (including any failure inside libpng, which
 *           for an image whose parameters were checked can only be one)
 */
int qr_png(const char *text, const char *caption, int scale,
           unsigned char **out, size_t *len);

#endif
