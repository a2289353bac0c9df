/*
 * test_qr.c - QR labels (src/server/qr.c): PNG labels decode with a real
 * reader (zbarimg, from zbar-tools) to exactly the text encoded, at the
 * dimensions server/qr.h documents and with the caption drawn; the SVG's
 * path describes exactly libqrencode's dark modules, one subpath per run;
 * bad input is refused with EINVAL and allocates nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>
#include <qrencode.h>

#include "server/qr.h"

#define URL_BASE "https://hrid.example.gov.cn/v/CN0001A1B2C3240000000000000017K"
#define CAPTION  "CN-0001-A1B2C3-24-0000000000000017-K"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A verification URL of exactly n bytes (n >= sizeof URL_BASE + 3):
 * URL_BASE, "?s=" and base64url characters from a fixed sequence. */
static char *make_url(size_t n)
{
    char *s = malloc(n + 1);
    uint32_t x = 2463534242u;
    size_t i = strlen(URL_BASE "?s=");

    assert_non_null(s);
    assert_true(n >= i);
    memcpy(s, URL_BASE "?s=", i);
    for (; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s[i] = b64url[x % 64];
    }
    s[n] = '\0';
    return s;
}

/* The texts every label test renders: the bare code URL, a typical
 * signed URL (91-character signature), 300+ bytes and the maximum. */
static const size_t text_lens[] = {0, 155, 333, QR_TEXT_MAX};

static char *text_for(size_t i)
{
    if (text_lens[i] == 0) {
        char *s = strdup(URL_BASE);

        assert_non_null(s);
        return s;
    }
    return make_url(text_lens[i]);
}

/* libqrencode's symbol for text, as qr.c builds it. */
static QRcode *symbol(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

    assert_non_null(qr);
    return qr;
}

static int dark(const QRcode *qr, int x, int y)
{
    return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

/* ---- zbarimg --------------------------------------------------------- */

/* Fails the test, rather than skipping it, when zbarimg cannot run. */
static void need_zbarimg(void)
{
    int st = system("zbarimg --version >/dev/null 2>&1");

    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("zbarimg not found: install zbar-tools "
                 "(scripts/install-deps.sh test installs it)");
}

/* Decodes the PNG in data with zbarimg and checks that the one QR code it
 * finds holds exactly text. */
static void expect_zbar(const unsigned char *data, size_t len,
                        const char *text)
{
    char path[] = "/tmp/hrid-test-qr-XXXXXX.png";
    char cmd[128], got[2048];
    size_t n;
    int fd, st;
    FILE *p;

    need_zbarimg();
    fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    /* Only QR codes are looked for, so that the caption can never be
     * taken for a linear barcode. */
    snprintf(cmd, sizeof cmd,
             "zbarimg --raw -q -Sdisable -Sqrcode.enable %s 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(got, 1, sizeof got - 1, p);
    st = pclose(p);
    unlink(path);
    got[n] = '\0';
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("zbarimg found no QR code (status %d) for a %zu-byte text",
                 st, strlen(text));
    /* --raw prints the data and one newline. */
    assert_true(n > 0 && got[n - 1] == '\n');
    got[n - 1] = '\0';
    assert_string_equal(got, text);
}

/* ---- reading a PNG back ---------------------------------------------- */

struct gray {
    unsigned w, h;
    unsigned char *px;  /* w * h bytes, 0 black, 255 white */
};

static void read_png(const unsigned char *data, size_t len, struct gray *g)
{
    png_image img;

    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&img, data, len));
    img.format = PNG_FORMAT_GRAY;
    g->w = img.width;
    g->h = img.height;
    g->px = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(g->px);
    assert_true(png_image_finish_read(&img, NULL, g->px, 0, NULL));
}

static int px_dark(const struct gray *g, unsigned x, unsigned y)
{
    return g->px[(size_t)y * g->w + x] < 128;
}

/*
 * Checks a PNG label against the layout of server/qr.h: its dimensions,
 * every module of the code (sampled at its centre), white quiet zones,
 * and dark pixels in the caption band, centred.
 */
static void check_png(const unsigned char *data, size_t len, const char *text,
                      const char *caption, unsigned scale)
{
    QRcode *qr = symbol(text);
    size_t ncap = caption == NULL ? 0 : strlen(caption);
    unsigned g = scale / 2 > 0 ? scale / 2 : 1;
    unsigned code_px = ((unsigned)qr->width + 2 * QR_QUIET) * scale;
    unsigned capw = ncap > 0 ? (6 * (unsigned)ncap - 1) * g : 0;
    unsigned w = code_px, h = code_px, ox;
    unsigned left = UINT32_MAX, right = 0, caption_dark = 0;
    struct gray img;

    if (ncap > 0) {
        if (capw + 2 * QR_QUIET * scale > w)
            w = capw + 2 * QR_QUIET * scale;
        h += 7 * g + 2 * scale;
    }
    read_png(data, len, &img);
    assert_int_equal(img.w, w);
    assert_int_equal(img.h, h);
    ox = (w - code_px) / 2 + QR_QUIET * scale;

    for (int my = 0; my < qr->width; my++)
        for (int mx = 0; mx < qr->width; mx++)
            assert_int_equal(
                px_dark(&img, ox + (unsigned)mx * scale + scale / 2,
                        QR_QUIET * scale + (unsigned)my * scale + scale / 2),
                dark(qr, mx, my));
    /* The quiet zone above and below the code, and either side of it. */
    for (unsigned y = 0; y < h; y++) {
        int in_code = y >= QR_QUIET * scale && y < code_px - QR_QUIET * scale;

        for (unsigned x = 0; x < w; x++) {
            if (y >= code_px) {
                if (px_dark(&img, x, y)) {
                    caption_dark++;
                    left = x < left ? x : left;
                    right = x > right ? x : right;
                    assert_true(y < code_px + 7 * g);
                }
            } else if (!in_code || x < ox ||
                       x >= ox + (unsigned)qr->width * scale) {
                assert_false(px_dark(&img, x, y));
            }
        }
    }
    if (ncap > 0) {
        /* The test captions start and end with a letter whose first or
         * last column is lit (C ... K), so the ink spans the caption. */
        assert_true(caption_dark > 0);
        assert_int_equal(right - left + 1, capw);
        assert_true(left == w - 1 - right || left + 1 == w - 1 - right);
    } else {
        assert_int_equal(caption_dark, 0);
    }
    free(img.px);
    QRcode_free(qr);
}

/* ---- PNG tests ------------------------------------------------------- */

static void test_png_decodes(void **state)
{
    static const int scales[] = {2, 4};

    (void)state;
    need_zbarimg();
    for (size_t i = 0; i < sizeof text_lens / sizeof text_lens[0]; i++) {
        char *text = text_for(i);

        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            unsigned char *png = NULL;
            size_t len = 0;

            assert_int_equal(qr_png(text, CAPTION, scales[s], &png, &len), 0);
            assert_non_null(png);
            assert_true(len > 8);
            assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
            check_png(png, len, text, CAPTION, (unsigned)scales[s]);
            expect_zbar(png, len, text);
            free(png);
        }
        free(text);
    }
}

/* The extreme scales, and a caption wider than the code (which widens
 * the image) and narrower (which does not). */
static void test_png_layout(void **state)
{
    static const struct {
        size_t text_len;
        const char *caption;
        int scale;
    } cases[] = {
        {0, CAPTION, 1},
        {QR_TEXT_MAX, CAPTION, 1},
        {QR_TEXT_MAX, CAPTION, 32},
        {155, "CK", 3},
        {155, "C0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ - K", 5},
        {0, "C" "-------------------------------------------------------------"
            "-K", 2},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = cases[i].text_len == 0 ? strdup(URL_BASE)
                                            : make_url(cases[i].text_len);
        unsigned char *png = NULL;
        size_t len = 0;

        assert_non_null(text);
        assert_int_equal(qr_png(text, cases[i].caption, cases[i].scale, &png,
                                &len), 0);
        check_png(png, len, text, cases[i].caption, (unsigned)cases[i].scale);
        free(png);
        free(text);
    }
}

static void test_png_no_caption(void **state)
{
    const char *caps[] = {NULL, ""};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        unsigned char *png = NULL;
        size_t len = 0;

        assert_int_equal(qr_png(URL_BASE, caps[i], 3, &png, &len), 0);
        check_png(png, len, URL_BASE, NULL, 3);
        expect_zbar(png, len, URL_BASE);
        free(png);
    }
}

/* ---- SVG ------------------------------------------------------------- */

/* Reads an unsigned decimal at *p and moves past it. */
static long number(const char **p)
{
    char *end;
    long v = strtol(*p, &end, 10);

    assert_true(end > *p);
    assert_true(v >= 0);
    *p = end;
    return v;
}

static void expect_char(const char **p, char c)
{
    if (**p != c)
        fail_msg("path data: expected '%c' at \"%.20s\"", c, *p);
    (*p)++;
}

/*
 * Checks an SVG label: the XML declaration and <svg> with the viewBox of
 * server/qr.h, the caption, and a path whose subpaths, each
 * "Mx yhNv1h-Nz", are exactly the maximal runs of dark modules of
 * libqrencode's symbol for text.
 */
static void check_svg(const char *svg, size_t len, const char *text,
                      const char *caption)
{
    QRcode *qr = symbol(text);
    size_t ncap = caption == NULL ? 0 : strlen(caption);
    unsigned qrw = (unsigned)qr->width + 2 * QR_QUIET, w = qrw, h = qrw;
    unsigned x0, vw, vh, runs = 0, want_runs = 0;
    unsigned char *grid;
    const char *p;
    char want[160];

    assert_int_equal(strlen(svg), len);
    assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ",
                        44) == 0);
    assert_true(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
    if (ncap > 0) {
        if (3 * ncap + 2 * QR_QUIET > w)
            w = 3 * (unsigned)ncap + 2 * QR_QUIET;
        w += (w - qrw) % 2;
        h += 6;
    }
    p = strstr(svg, "viewBox=\"");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "viewBox=\"0 0 %u %u\"", &vw, &vh), 2);
    assert_int_equal(vw, w);
    assert_int_equal(vh, h);
    if (ncap > 0) {
        snprintf(want, sizeof want, ">%s</text>", caption);
        assert_non_null(strstr(svg, want));
        assert_non_null(strstr(svg, "font-family=\"monospace\""));
        assert_non_null(strstr(svg, "text-anchor=\"middle\""));
    } else {
        assert_null(strstr(svg, "<text"));
    }

    /* One path, parsed back into a grid of the symbol's size. */
    p = strstr(svg, "<path ");
    assert_non_null(p);
    assert_null(strstr(p + 1, "<path"));
    p = strstr(p, " d=\"");
    assert_non_null(p);
    p += 4;
    x0 = (w - qrw) / 2 + QR_QUIET;
    grid = calloc((size_t)qr->width * (size_t)qr->width, 1);
    assert_non_null(grid);
    while (*p != '"') {
        long x, y, n, back;

        expect_char(&p, 'M');
        x = number(&p);
        expect_char(&p, ' ');
        y = number(&p);
        expect_char(&p, 'h');
        n = number(&p);
        expect_char(&p, 'v');
        expect_char(&p, '1');
        expect_char(&p, 'h');
        expect_char(&p, '-');
        back = number(&p);
        expect_char(&p, 'z');
        assert_int_equal(back, n);
        assert_true(n >= 1);
        assert_true(x >= (long)x0 && x + n <= (long)x0 + qr->width);
        assert_true(y >= QR_QUIET && y < QR_QUIET + qr->width);
        x -= x0;
        y -= QR_QUIET;
        for (long i = 0; i < n; i++) {
            /* Each module is covered once, and a run never touches the
             * next one on its row: runs are maximal. */
            assert_int_equal(grid[y * qr->width + x + i], 0);
            grid[y * qr->width + x + i] = 1;
        }
        assert_true(x + n == qr->width || grid[y * qr->width + x + n] == 0);
        assert_true(x == 0 || grid[y * qr->width + x - 1] == 0);
        runs++;
    }
    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++) {
            assert_int_equal(grid[y * qr->width + x], dark(qr, x, y));
            if (dark(qr, x, y) && (x == 0 || !dark(qr, x - 1, y)))
                want_runs++;
        }
    assert_int_equal(runs, want_runs);
    free(grid);
    QRcode_free(qr);
}

static void test_svg(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof text_lens / sizeof text_lens[0]; i++) {
        char *text = text_for(i);
        char *svg = NULL;
        size_t len = 0;

        assert_int_equal(qr_svg(text, CAPTION, &svg, &len), 0);
        check_svg(svg, len, text, CAPTION);
        free(svg);
        free(text);
    }
}

static void test_svg_captions(void **state)
{
    static const char *const caps[] = {
        NULL, "", "K", "CN 0001",
        "0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789-ABCDEFGHIJKLMNO",
    };

    (void)state;
    assert_int_equal(strlen(caps[4]), QR_CAPTION_MAX);
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        char *svg = NULL;
        size_t len = 0;

        assert_int_equal(qr_svg("A", caps[i], &svg, &len), 0);
        check_svg(svg, len, "A", caps[i]);
        free(svg);
    }
}

/* ---- bad input ------------------------------------------------------- */

/* Calls both renderers and expects -1, EINVAL and cleared outputs. */
static void expect_einval(const char *text, const char *caption, int scale)
{
    char *svg = (char *)&svg;
    unsigned char *png = (unsigned char *)&png;
    size_t len = 99;

    if (scale >= QR_SCALE_MIN && scale <= QR_SCALE_MAX) {
        errno = 0;
        assert_int_equal(qr_svg(text, caption, &svg, &len), -1);
        assert_int_equal(errno, EINVAL);
        assert_null(svg);
        assert_int_equal(len, 0);
        len = 99;
    }
    errno = 0;
    assert_int_equal(qr_png(text, caption, scale, &png, &len), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(png);
    assert_int_equal(len, 0);
}

static void test_bad_input(void **state)
{
    char *long_text = make_url(QR_TEXT_MAX + 1);
    char long_cap[QR_CAPTION_MAX + 2];
    char *max_text = make_url(QR_TEXT_MAX);
    char *svg;
    unsigned char *png;
    size_t len;

    (void)state;
    memset(long_cap, 'A', sizeof long_cap - 1);
    long_cap[sizeof long_cap - 1] = '\0';
    expect_einval("", CAPTION, 2);
    expect_einval(NULL, CAPTION, 2);
    expect_einval(long_text, CAPTION, 2);
    expect_einval(URL_BASE, "CN-0001-a1b2c3", 2);
    expect_einval(URL_BASE, "CN<0001", 2);
    expect_einval(URL_BASE, "CN&0001", 2);
    expect_einval(URL_BASE, "CN_0001", 2);
    expect_einval(URL_BASE, "CN\t0001", 2);
    expect_einval(URL_BASE, "CN\xc3\x89", 2);
    expect_einval(URL_BASE, long_cap, 2);
    expect_einval(URL_BASE, CAPTION, 0);
    expect_einval(URL_BASE, CAPTION, 33);
    expect_einval(URL_BASE, CAPTION, -1);
    errno = 0;
    assert_int_equal(qr_svg(URL_BASE, CAPTION, NULL, &len), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(qr_svg(URL_BASE, CAPTION, &svg, NULL), -1);
    assert_null(svg);
    assert_int_equal(qr_png(URL_BASE, CAPTION, 2, NULL, &len), -1);
    assert_int_equal(qr_png(URL_BASE, CAPTION, 2, &png, NULL), -1);
    assert_null(png);

    /* Each limit itself is accepted. */
    long_cap[QR_CAPTION_MAX] = '\0';
    assert_int_equal(qr_svg(max_text, long_cap, &svg, &len), 0);
    free(svg);
    assert_int_equal(qr_png(max_text, long_cap, 1, &png, &len), 0);
    free(png);
    free(max_text);
    free(long_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_decodes),
        cmocka_unit_test(test_png_layout),
        cmocka_unit_test(test_png_no_caption),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_svg_captions),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
