/*
 * server/route_web.c - the portal (docs/portal.md):
 *
 *   GET  /v/{code}?s=SIG      the public verify page, target of every QR
 *                             label: genuine or not, and the unit's
 *                             public record in plain words, as HTML
 *   POST /v/{code}/report     the page's incident form (works without
 *                             JavaScript): an unverified public report,
 *                             answered with an HTML page
 *   GET  /portal              redirects to /portal/
 *   GET  /portal/...          the regulator dashboard's static files,
 *                             read from the web directory
 *
 * Layer: src/server, a thin handler like the others: the verify page
 * calls core as a public caller whatever key the request carries, so it
 * can only ever show what GET /v1/units/{code} shows the public (no
 * owner's private fields, no telemetry, no prices).  Every string that
 * reaches the HTML, from the registry or from the request, is escaped.
 *
 * The web directory is $HRID_WEB when set, else the first "web" holding
 * an index.html found next to the binary or up to three directories
 * above it (build/hridd and build/san/hridd both find the source tree's
 * web/), else ./web.  Only plain file names of a few known types are
 * served, at most one directory deep and only from "vendor", so no
 * request can name a file outside the directory, a dot-file or the build
 * manifest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hrid/code.h"
#include "hrid/credential.h"
#include "server/routes.h"

/* ---- building HTML in the request's arena ------------------------------- */

/* A page being written.  Growing abandons the old copy in the arena (at
 * most as much again is wasted); a failed allocation sets oom and every
 * later write is a no-op, so callers check once at the end. */
struct html {
    struct arena *a;
    char *p;
    size_t len, cap;
    bool oom;
};

static void html_init(struct html *h, struct arena *a)
{
    h->a = a;
    h->p = NULL;
    h->len = h->cap = 0;
    h->oom = false;
}

static void put_n(struct html *h, const char *s, size_t n)
{
    if (h->oom)
        return;
    if (h->len + n > h->cap) {
        size_t cap = h->cap == 0 ? 8192 : h->cap;
        char *p;

        while (cap < h->len + n)
            cap *= 2;
        if ((p = arena_alloc(h->a, cap)) == NULL) {
            h->oom = true;
            return;
        }
        if (h->len > 0)
            memcpy(p, h->p, h->len);
        h->p = p;
        h->cap = cap;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

/* Markup: only ever literal text of this file. */
static void put(struct html *h, const char *s)
{
    put_n(h, s, strlen(s));
}

/* Text or an attribute value from anywhere else, escaped. */
static void esc_n(struct html *h, const char *s, size_t n)
{
    size_t i, from = 0;

    for (i = 0; i < n; i++) {
        const char *e;

        switch (s[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        case '\0': e = "\xEF\xBF\xBD"; break;  /* U+FFFD for a %00 */
        default: continue;
        }
        put_n(h, s + from, i - from);
        put(h, e);
        from = i + 1;
    }
    put_n(h, s + from, n - from);
}

static void esc(struct html *h, const char *s)
{
    if (s != NULL)
        esc_n(h, s, strlen(s));
}

/* Formatted text, escaped (numbers, or strings quoted into a sentence). */
static void escf(struct html *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void escf(struct html *h, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    esc_n(h, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ---- small readers of core's JSON ---------------------------------------- */

/* The string at a dotted path ("model.name"), or NULL. */
static const char *jstr(json_t *o, const char *path)
{
    char key[64];

    while (o != NULL) {
        const char *dot = strchr(path, '.');
        size_t n = dot == NULL ? strlen(path) : (size_t)(dot - path);

        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        if (dot == NULL)
            return json_string_value(o);
        path = dot + 1;
    }
    return NULL;
}

/* A scalar as text: strings as they are, integers in decimal, reals as
 * the shortest of %g, booleans as yes/no.  NULL for anything else. */
static const char *jscalar(struct arena *a, json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return arena_sprintf(a, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return arena_sprintf(a, "%g", json_real_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    return NULL;
}

/* The date part of an RFC 3339 time, "2028-01-01". */
static void put_date(struct html *h, const char *t)
{
    if (t != NULL)
        esc_n(h, t, strnlen(t, 10));
}

/* ---- plain words ----------------------------------------------------------- */

struct words {
    const char *key, *text, *more;
};

/* The lifecycle states (docs/API.md, "Lifecycle events"): the badge and
 * what the state means for someone standing next to the robot. */
static const struct words states[] = {
    {"registered", "Registered",
     "produced and registered, not yet released to the market"},
    {"released", "Released", "released to the market, not yet deployed"},
    {"in_service", "In service", "deployed and in use"},
    {"maintenance", "In maintenance", "taken out of use for maintenance"},
    {"suspended", "Suspended",
     "suspended by the regulator or a recall: it must not be operated"},
    {"scrapped", "Scrapped",
     "scrapped: it must not be sold, deployed or operated"},
    {"recycled", "Recycled", "scrapped and recycled"},
    {"voided", "Voided",
     "this registration was voided: the code does not name a robot in use"},
    {NULL, NULL, NULL},
};

static const struct words scenarios[] = {
    {"factory", "factories", NULL},
    {"logistics", "warehouses and logistics", NULL},
    {"retail", "shops", NULL},
    {"public", "public spaces", NULL},
    {"care", "care", NULL},
    {"home", "homes", NULL},
    {"education", "education", NULL},
    {"research", "research", NULL},
    {NULL, NULL, NULL},
};

static const struct words supervision[] = {
    {"none", "no supervision required", NULL},
    {"remote", "supervised remotely", NULL},
    {"on_site", "trained staff on site", NULL},
    {NULL, NULL, NULL},
};

static const struct words *word(const struct words *t, const char *key)
{
    for (; key != NULL && t->key != NULL; t++)
        if (strcmp(t->key, key) == 0)
            return t;
    return NULL;
}

/* key in plain words, or key itself. */
static void put_word(struct html *h, const struct words *t, const char *key)
{
    const struct words *w = word(t, key);

    esc(h, w != NULL ? w->text : key);
}

/* ---- the page frame ------------------------------------------------------- */

/* The page's only style sheet, inline so that a phone makes one request.
 * Its SHA-256 is allowed by the Content-Security-Policy (page_csp). */
static const char page_css[] =
    ":root{--ok:#0a7d36;--bad:#b3261e;--warn:#8a5a00;--ink:#1b1f24;"
    "--mute:#5b6570;--line:#d9dee3;--bg:#f5f7f9}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,'Noto Sans',sans-serif;color:var(--ink);background:var(--bg)}"
    "main{max-width:40rem;margin:0 auto;padding:1rem}"
    "header p{margin:0;color:var(--mute);font-size:.9rem}"
    "h1{font-size:1.5rem;margin:.2rem 0}"
    "h2{font-size:1.1rem;margin:0 0 .4rem}"
    "section{background:#fff;border:1px solid var(--line);border-radius:.6rem;"
    "padding:.9rem 1rem;margin:.8rem 0}"
    ".code{font-family:ui-monospace,Menlo,Consolas,monospace;"
    "font-size:1rem;word-break:break-all;color:var(--ink)}"
    ".verdict{border-width:2px}"
    ".verdict.ok{border-color:var(--ok);background:#eefaf2}"
    ".verdict.bad{border-color:var(--bad);background:#fdf0ef}"
    ".verdict h2{font-size:1.3rem}"
    ".ok h2,.yes{color:var(--ok)}.bad h2,.no{color:var(--bad)}"
    ".badge{display:inline-block;padding:.2rem .7rem;border-radius:1rem;"
    "font-weight:700;color:#fff;background:var(--mute);margin:0 .3rem .3rem 0}"
    ".b-in_service,.b-released{background:var(--ok)}"
    ".b-registered,.b-maintenance{background:#2f6fb0}"
    ".b-suspended,.b-recalled{background:var(--warn)}"
    ".b-scrapped,.b-recycled,.b-voided{background:var(--bad)}"
    "dl{display:grid;grid-template-columns:minmax(7rem,auto) 1fr;"
    "gap:.3rem .8rem;margin:0}dt{color:var(--mute)}dd{margin:0}"
    "ul{margin:.3rem 0;padding-left:1.2rem}li,dd{overflow-wrap:anywhere}"
    ".recall{border-color:var(--warn);background:#fff8e8}"
    ".muted{color:var(--mute);font-size:.9rem}"
    "label{display:block;margin:.6rem 0 .2rem;font-weight:600}"
    "input,select,textarea{width:100%;font:inherit;padding:.45rem;"
    "border:1px solid #9aa4ad;border-radius:.4rem;background:#fff}"
    "textarea{min-height:6rem}"
    "button{margin-top:.8rem;font:inherit;font-weight:700;padding:.6rem 1.2rem;"
    "border:0;border-radius:.4rem;background:#2f6fb0;color:#fff}"
    ".error{color:var(--bad);font-weight:600}"
    "footer{color:var(--mute);font-size:.8rem;margin:1rem 0}"
    "a{color:#2f6fb0}";

/* Fills the report form's time zone from the phone's clock, so that the
 * time typed is read as local time; without scripts the form still works
 * and the time is taken as UTC (the form says so). */
static const char page_js[] =
    "var z=document.getElementById('tz');"
    "if(z)z.value=String(-new Date().getTimezoneOffset());";

/* The page's Content-Security-Policy, made once: nothing loads from
 * anywhere, the inline style and script run only as these exact bytes,
 * and forms post only back here. */
static char page_csp[512];
static pthread_once_t page_csp_once = PTHREAD_ONCE_INIT;

static void csp_hash(const char *s, char out[64])
{
    unsigned char d[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(d, (const unsigned char *)s, strlen(s));
    sodium_bin2base64(out, 64, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
}

static void page_csp_make(void)
{
    char css[64], js[64];

    csp_hash(page_css, css);
    csp_hash(page_js, js);
    snprintf(page_csp, sizeof page_csp,
             "default-src 'none'; style-src 'sha256-%s'; "
             "script-src 'sha256-%s'; img-src 'self' data:; "
             "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
             css, js);
}

static void page_open(struct html *h, const char *title)
{
    put(h, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,"
           "initial-scale=1\"><meta name=\"robots\" content=\"noindex\">"
           /* No favicon request: the page stays one request. */
           "<link rel=\"icon\" href=\"data:,\"><title>");
    esc(h, title);
    put(h, " - HRID</title><style>");
    put(h, page_css);
    put(h, "</style></head><body><main>");
}

static void page_close(struct html *h, bool script)
{
    put(h, "<footer>HRID, the national registry of humanoid robots: "
           "every robot has a permanent code and a public record. "
           "This page shows only what the registry publishes.</footer>"
           "</main>");
    if (script) {
        put(h, "<script>");
        put(h, page_js);
        put(h, "</script>");
    }
    put(h, "</body></html>\n");
}

/* Sends the page with its status and headers. */
static int page_send(struct hreq *r, struct html *h, int status)
{
    if (h->oom)
        return -1;
    pthread_once(&page_csp_once, page_csp_make);
    if (http_header_add(r, "Content-Security-Policy", page_csp) != 0 ||
        http_header_add(r, "X-Content-Type-Options", "nosniff") != 0 ||
        http_header_add(r, "Referrer-Policy", "no-referrer") != 0 ||
        http_header_add(r, "Cache-Control", "no-store") != 0)
        return -1;
    return http_raw(r, status, "text/html; charset=utf-8", h->p, h->len);
}

/* A page that only says why: a bad code, an unknown one, an error. */
static int page_message(struct hreq *r, int status, const char *title,
                        const char *code, const char *what,
                        const char *detail)
{
    struct html h;

    html_init(&h, http_arena(r));
    page_open(&h, title);
    put(&h, "<header><p>HRID verify</p><h1>");
    esc(&h, title);
    put(&h, "</h1>");
    if (code != NULL) {
        put(&h, "<p class=\"code\">");
        esc(&h, code);
        put(&h, "</p>");
    }
    put(&h, "</header><section class=\"verdict bad\" id=\"verdict\"><h2>");
    esc(&h, what);
    put(&h, "</h2>");
    if (detail != NULL) {
        put(&h, "<p>");
        esc(&h, detail);
        put(&h, "</p>");
    }
    put(&h, "<p class=\"muted\">Check the code printed under the QR label, "
            "or report the label to the regulator.</p></section>");
    page_close(&h, false);
    return page_send(r, &h, status);
}

/* ---- the label's signature ------------------------------------------------ */

enum label_verdict {
    LABEL_GENUINE,
    LABEL_MISSING,       /* no ?s=: typed in or shared without it */
    LABEL_MALFORMED,     /* not a signature at all */
    LABEL_OTHER_KEY,     /* signed by a key other than the platform's */
    LABEL_FORGED         /* the signature does not verify */
};

/*
 * Checks the s argument as the signature of the label for code (canonical)
 * against the platform key.  The label's base URL is not signed (a label
 * is genuine wherever it points), so the text checked is a stand-in base,
 * the code and the signature.  why receives libhrid's message.
 */
static enum label_verdict label_check(struct core *c, const char *code,
                                      const char *s, size_t slen,
                                      char why[HRID_ERR_MSG_MAX])
{
    static const char b64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char pk_b64[48], text[HRID_LABEL_MAX + 1], canon[HRID_CODE_LEN + 1];
    unsigned char pk[32];
    size_t pk_len = 0;
    struct hrid_err he;
    int n;

    why[0] = '\0';
    if (s == NULL || slen == 0)
        return LABEL_MISSING;
    if (slen > HRID_LABEL_SIG_LEN || strspn(s, b64url) != slen) {
        snprintf(why, HRID_ERR_MSG_MAX, "the label's signature is %zu "
                 "characters, or holds characters outside base64url", slen);
        return LABEL_MALFORMED;
    }
    core_platform_pk(c, pk_b64);
    if (sodium_base642bin(pk, sizeof pk, pk_b64, strlen(pk_b64), NULL,
                          &pk_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        pk_len != sizeof pk) {
        snprintf(why, HRID_ERR_MSG_MAX, "the platform key is unreadable");
        return LABEL_MALFORMED;
    }
    n = snprintf(text, sizeof text, "hrid/v/%s?s=%.*s", code, (int)slen, s);
    if (n < 0 || (size_t)n >= sizeof text)
        return LABEL_MALFORMED;
    hrid_err_clear(&he);
    if (hrid_label_verify(text, (size_t)n, pk, canon, &he) == HRID_OK)
        return LABEL_GENUINE;
    snprintf(why, HRID_ERR_MSG_MAX, "%s", he.msg);
    if (he.reason == HRID_LABEL_UNKNOWN_KEY)
        return LABEL_OTHER_KEY;
    if (he.reason == HRID_LABEL_BAD_SIGNATURE)
        return LABEL_FORGED;
    return LABEL_MALFORMED;
}

static void put_verdict(struct html *h, enum label_verdict v, const char *why)
{
    if (v == LABEL_GENUINE) {
        put(h, "<section class=\"verdict ok\" id=\"verdict\" "
               "data-genuine=\"yes\"><h2>&#10003; Genuine label</h2>"
               "<p>The registry signed this label for this code. Check that "
               "the code printed on the robot matches the one above.</p>"
               "</section>");
        return;
    }
    put(h, "<section class=\"verdict bad\" id=\"verdict\" "
           "data-genuine=\"no\"><h2>&#10007; Label not genuine</h2><p>");
    switch (v) {
    case LABEL_MISSING:
        put(h, "This address carries no label signature, so it cannot be "
               "confirmed that it comes from a label the registry issued. "
               "Scan the QR label on the robot itself.");
        break;
    case LABEL_OTHER_KEY:
        put(h, "The label was signed with a key that is not the "
               "registry's: it was not issued by this registry.");
        break;
    case LABEL_FORGED:
        put(h, "The label's signature does not match this code: the label "
               "may be forged, altered or copied from another robot.");
        break;
    default:
        put(h, "The label's signature is damaged or not a signature at "
               "all.");
        break;
    }
    put(h, "</p>");
    if (why != NULL && why[0] != '\0') {
        put(h, "<p class=\"muted\">Reason: ");
        esc(h, why);
        put(h, "</p>");
    }
    put(h, "<p><strong>Warning:</strong> the record below is the registry's "
           "record for this code; it may not describe the robot in front of "
           "you.</p></section>");
}

/* ---- the unit, in plain words -------------------------------------------- */

static void put_state(struct html *h, json_t *unit)
{
    const char *state = jstr(unit, "state");
    const struct words *w = word(states, state);
    json_t *recalls = json_object_get(unit, "open_recalls");

    put(h, "<section id=\"state\"><h2>State</h2><p><span class=\"badge b-");
    esc(h, state);
    put(h, "\" id=\"state-badge\">");
    esc(h, w != NULL ? w->text : state);
    put(h, "</span>");
    if (json_array_size(recalls) > 0)
        put(h, "<span class=\"badge b-recalled\" id=\"recalled-badge\">"
               "Recalled</span>");
    put(h, "</p>");
    if (w != NULL && w->more != NULL) {
        put(h, "<p>This robot is ");
        esc(h, w->more);
        put(h, ".</p>");
    }
    put(h, "</section>");
}

static void put_market(struct html *h, json_t *ma)
{
    json_t *reasons = json_object_get(ma, "reasons"), *x;
    bool allowed = json_is_true(json_object_get(ma, "allowed"));
    size_t i;

    put(h, "<section id=\"market\"><h2>Market access: ");
    put(h, allowed ? "<span class=\"yes\" id=\"market-verdict\">allowed"
                     "</span></h2><p>It may be sold and deployed.</p>"
                   : "<span class=\"no\" id=\"market-verdict\">denied"
                     "</span></h2><p>It may not be sold or deployed:</p>");
    if (json_array_size(reasons) > 0) {
        put(h, "<ul>");
        json_array_foreach(reasons, i, x) {
            put(h, "<li>");
            esc(h, jstr(x, "message"));
            put(h, "</li>");
        }
        put(h, "</ul>");
    }
    put(h, "</section>");
}

static void put_recalls(struct html *h, json_t *unit)
{
    json_t *recalls = json_object_get(unit, "open_recalls"), *x;
    size_t i;

    if (json_array_size(recalls) == 0)
        return;
    put(h, "<section class=\"recall\" id=\"recalls\"><h2>Open recall");
    if (json_array_size(recalls) > 1)
        put(h, "s");
    put(h, "</h2><p>The maker must remedy this robot; until then it may "
           "not be deployed anew.</p>");
    json_array_foreach(recalls, i, x) {
        put(h, "<dl class=\"recall-item\"><dt>Recall</dt><dd>");
        escf(h, "no. %lld", (long long)json_integer_value(
                 json_object_get(x, "id")));
        put(h, "</dd><dt>Defect</dt><dd>");
        esc(h, jstr(x, "defect"));
        put(h, "</dd>");
        if (jstr(x, "hazard") != NULL) {
            put(h, "<dt>Hazard</dt><dd>");
            esc(h, jstr(x, "hazard"));
            put(h, "</dd>");
        }
        put(h, "<dt>Remedy</dt><dd class=\"remedy\">");
        esc(h, jstr(x, "remedy"));
        put(h, "</dd></dl>");
    }
    put(h, "</section>");
}

static void put_facts(struct html *h, json_t *unit)
{
    json_t *level = json_object_get(json_object_get(unit, "model"), "level");
    const char *op = jstr(unit, "operator.name");

    put(h, "<section id=\"facts\"><h2>What it is</h2><dl>"
           "<dt>Manufacturer</dt><dd id=\"maker\">");
    esc(h, jstr(unit, "enterprise.name"));
    put(h, "</dd><dt>Model</dt><dd id=\"model\">");
    esc(h, jstr(unit, "model.name"));
    put(h, "</dd><dt>Made in</dt><dd>");
    esc(h, jstr(unit, "country.name"));
    put(h, "</dd><dt>Production date</dt><dd id=\"production-date\">");
    esc(h, jstr(unit, "production_date"));
    put(h, "</dd><dt>Intelligence level</dt><dd id=\"level\">");
    if (json_is_integer(level)) {
        escf(h, "%lld", (long long)json_integer_value(level));
        put(h, " of 5: ");
    }
    esc(h, jstr(unit, "model.level_meaning"));
    if (json_integer_value(level) >= 4)
        put(h, ". It may work only where a valid certification covers the "
               "setting");
    put(h, "</dd><dt>Operator</dt><dd id=\"operator\">");
    esc(h, op != NULL ? op : "none recorded");
    put(h, "</dd>");
    if (jstr(unit, "scenario") != NULL) {
        put(h, "<dt>Used in</dt><dd>");
        put_word(h, scenarios, jstr(unit, "scenario"));
        if (jstr(unit, "region") != NULL) {
            put(h, ", region ");
            esc(h, jstr(unit, "region"));
        }
        put(h, "</dd>");
    }
    put(h, "</dl></section>");
}

/* One certification's limits, in words. */
static void put_limits(struct html *h, struct arena *a, json_t *limits)
{
    const char *k;
    json_t *v;
    bool first = true;

    json_object_foreach(limits, k, v) {
        const char *s = jscalar(a, v);

        if (s == NULL)
            continue;
        put(h, first ? "" : "; ");
        first = false;
        if (strcmp(k, "max_speed_mps") == 0) {
            put(h, "top speed ");
            esc(h, s);
            put(h, " m/s");
        } else if (strcmp(k, "max_payload_kg") == 0) {
            put(h, "carries at most ");
            esc(h, s);
            put(h, " kg");
        } else if (strcmp(k, "supervision") == 0) {
            put_word(h, supervision, s);
        } else if (strcmp(k, "hours") == 0) {
            put(h, "hours ");
            esc(h, s);
        } else {
            esc(h, k);
            put(h, " ");
            esc(h, s);
        }
    }
    if (first)
        put(h, "none stated");
}

static void put_certs(struct html *h, struct arena *a, json_t *unit)
{
    json_t *certs = json_object_get(unit, "certifications"), *x, *sc;
    const char *to;
    size_t i, j;

    put(h, "<section id=\"certs\"><h2>Where it may work</h2>");
    if (json_array_size(certs) == 0) {
        put(h, "<p>No certification is valid now.");
        if (json_integer_value(json_object_get(
                json_object_get(unit, "model"), "level")) >= 4)
            put(h, " A robot of this level needs one for the setting it "
                   "works in.");
        put(h, "</p></section>");
        return;
    }
    json_array_foreach(certs, i, x) {
        put(h, "<dl class=\"cert\"><dt>Certified</dt><dd>");
        esc(h, jstr(x, "scheme"));
        if (jstr(x, "tier") != NULL) {
            put(h, ", tier ");
            esc(h, jstr(x, "tier"));
        }
        to = jstr(x, "applies_to");
        put(h, to != NULL && strcmp(to, "unit") == 0 ? " (this robot)"
                                                      : " (its model)");
        put(h, "</dd><dt>Settings</dt><dd class=\"scenarios\">");
        sc = json_object_get(x, "scenarios");
        for (j = 0; j < json_array_size(sc); j++) {
            if (j > 0)
                put(h, ", ");
            put_word(h, scenarios, json_string_value(json_array_get(sc, j)));
        }
        put(h, "</dd>");
        if (jstr(x, "conditions") != NULL) {
            put(h, "<dt>Conditions</dt><dd>");
            esc(h, jstr(x, "conditions"));
            put(h, "</dd>");
        }
        put(h, "<dt>Limits</dt><dd class=\"limits\">");
        put_limits(h, a, json_object_get(x, "limits"));
        put(h, "</dd><dt>Valid</dt><dd>");
        put_date(h, jstr(x, "valid_from"));
        put(h, " to ");
        put_date(h, jstr(x, "valid_until"));
        put(h, "</dd></dl>");
    }
    put(h, "</section>");
}

/* The values a report form shows: empty on the verify page, the
 * visitor's own after a refusal. */
struct report_form {
    const char *kind, *severity, *when, *tz, *place, *description, *contact;
    const char *s;              /* the label signature, to come back */
};

static void put_option(struct html *h, const char *value, const char *text,
                       const char *chosen)
{
    put(h, "<option value=\"");
    esc(h, value);
    put(h, chosen != NULL && strcmp(chosen, value) == 0 ? "\" selected>"
                                                        : "\">");
    esc(h, text);
    put(h, "</option>");
}

static void put_form(struct html *h, const char *code,
                     const struct report_form *f, const char *error)
{
    put(h, "<section id=\"report\"><h2>Report a problem with this robot"
           "</h2><p class=\"muted\">If someone is hurt or in danger, call "
           "the emergency services first. Reports go to the regulator as "
           "unverified reports.</p>");
    if (error != NULL) {
        put(h, "<p class=\"error\" id=\"report-error\">");
        esc(h, error);
        put(h, "</p>");
    }
    put(h, "<form method=\"post\" action=\"/v/");
    esc(h, code);
    put(h, "/report\"><label for=\"kind\">What kind of problem</label>"
           "<select id=\"kind\" name=\"kind\">");
    put_option(h, "collision", "It hit someone or something", f->kind);
    put_option(h, "fall", "It fell, or made someone fall", f->kind);
    put_option(h, "security", "It seems hacked or misused", f->kind);
    put_option(h, "data", "It recorded or shared personal data", f->kind);
    put_option(h, "other", "Something else", f->kind);
    put(h, "</select><label for=\"severity\">How serious</label>"
           "<select id=\"severity\" name=\"severity\">");
    put_option(h, "minor", "Minor: no one hurt", f->severity);
    put_option(h, "serious", "Serious: someone hurt or damage done",
               f->severity);
    put_option(h, "critical", "Critical: severe injury or danger",
               f->severity);
    put_option(h, "fatal", "Fatal", f->severity);
    put(h, "</select><label for=\"when\">When it happened (leave empty for "
           "just now; your local time, or UTC without scripts)</label>"
           "<input type=\"datetime-local\" id=\"when\" name=\"when\" value=\"");
    esc(h, f->when);
    put(h, "\"><input type=\"hidden\" id=\"tz\" name=\"tz\" value=\"");
    esc(h, f->tz);
    put(h, "\"><label for=\"place\">Where</label>"
           "<input id=\"place\" name=\"place\" maxlength=\"200\" value=\"");
    esc(h, f->place);
    put(h, "\"><label for=\"description\">What happened</label>"
           "<textarea id=\"description\" name=\"description\" required "
           "maxlength=\"2000\">");
    esc(h, f->description);
    put(h, "</textarea><label for=\"contact\">Your contact (optional, seen "
           "only by the regulator)</label><input id=\"contact\" "
           "name=\"contact\" maxlength=\"200\" value=\"");
    esc(h, f->contact);
    put(h, "\">");
    if (f->s != NULL && f->s[0] != '\0') {
        put(h, "<input type=\"hidden\" name=\"s\" value=\"");
        esc(h, f->s);
        put(h, "\">");
    }
    put(h, "<button type=\"submit\" id=\"report-submit\">Send report"
           "</button></form></section>");
}

/* ---- the verify page ------------------------------------------------------ */

static const struct core_principal web_public = {ROLE_PUBLIC, 0, 0, NULL};

/*
 * The canonical code of the path's {code}, or 0 after an HTML page that
 * says why it is not a valid code (libhrid's message, in plain words).
 */
static int path_code(struct hreq *r, char canon[HRID_CODE_LEN + 1])
{
    struct hrid_err he;
    size_t len;
    const char *raw = http_param(r, "code", &len);
    char detail[HRID_ERR_MSG_MAX + 64];

    hrid_err_clear(&he);
    if (hrid_code_parse(raw, len, canon, &he) == HRID_OK)
        return 1;
    snprintf(detail, sizeof detail, "The code %s: %s.",
             he.reason == HRID_CODE_CHECK ? "was mistyped or altered"
                                          : "is malformed", he.msg);
    page_message(r, 422, "Not a valid robot code",
                 arena_strndup(http_arena(r), raw, len > 80 ? 80 : len),
                 "This is not a valid HRID code", detail);
    return 0;
}

/* The unit's public record, or 0 after an HTML page (unknown code, or a
 * failure of the registry). */
static int public_unit(struct hreq *r, struct core *c, const char *canon,
                       json_t **unit)
{
    struct core_err err = {0};
    int rc = core_unit_get(c, &web_public, canon, HRID_CODE_LEN,
                           http_arena(r), unit, &err);

    if (rc == CORE_OK)
        return 1;
    if (rc == CORE_ENOTFOUND) {
        page_message(r, 404, "Unknown robot code", canon,
                     "No robot is registered under this code",
                     "The code is well formed, but the registry has no "
                     "robot with it. A robot sold or used with this code "
                     "is not registered: report it to the regulator.");
        return 0;
    }
    if (rc == CORE_EINTERNAL)
        fprintf(stderr, "hridd: verify page: %s\n", err.msg);
    page_message(r, route_http_status(rc), "The registry cannot answer",
                 canon, "The record could not be read",
                 "Please try again in a moment.");
    return 0;
}

/* The verify page of a unit, with the form's values and error (if any). */
static int verify_page(struct hreq *r, struct core *c, const char *canon,
                       json_t *unit, enum label_verdict v, const char *why,
                       const struct report_form *f, const char *error,
                       int status)
{
    struct core_err err = {0};
    json_t *ma = NULL;
    struct html h;
    const char *title = jstr(unit, "model.name");
    int rc;

    rc = core_market_access(c, canon, HRID_CODE_LEN, http_arena(r), &ma,
                            &err);
    if (rc != CORE_OK) {
        if (rc == CORE_EINTERNAL)
            fprintf(stderr, "hridd: verify page: %s\n", err.msg);
        return page_message(r, route_http_status(rc),
                            "The registry cannot answer", canon,
                            "Market access could not be read",
                            "Please try again in a moment.");
    }
    html_init(&h, http_arena(r));
    page_open(&h, title != NULL ? title : canon);
    put(&h, "<header><p>HRID verify &middot; national humanoid robot "
            "registry</p><h1>");
    esc(&h, title);
    put(&h, "</h1><p>by ");
    esc(&h, jstr(unit, "enterprise.name"));
    put(&h, "</p><p class=\"code\" id=\"code\">");
    esc(&h, jstr(unit, "display"));
    put(&h, "</p></header>");
    put_verdict(&h, v, why);
    put_state(&h, unit);
    put_recalls(&h, unit);
    put_market(&h, ma);
    put_facts(&h, unit);
    put_certs(&h, http_arena(r), unit);
    put_form(&h, canon, f, error);
    put(&h, "<p class=\"muted\">Checked ");
    esc(&h, jstr(ma, "checked_at"));
    put(&h, " (UTC). The registry's public data: <a href=\"/v1/units/");
    esc(&h, canon);
    put(&h, "\">record</a>, <a href=\"/v1/market-access/");
    esc(&h, canon);
    put(&h, "\">market access</a>, <a href=\"/v1/units/");
    esc(&h, canon);
    put(&h, "/credential\">signed credential</a>.</p>");
    page_close(&h, true);
    json_decref(ma);
    return page_send(r, &h, status);
}

int route_web_verify(struct hreq *r, const struct route_call *call)
{
    char canon[HRID_CODE_LEN + 1], why[HRID_ERR_MSG_MAX];
    struct report_form f;
    json_t *unit = NULL;
    size_t slen = 0;
    const char *s = http_query(r, "s", &slen);
    enum label_verdict v;
    int rc;

    if (!path_code(r, canon))
        return 0;
    v = label_check(call->core, canon, s, slen, why);
    if (!public_unit(r, call->core, canon, &unit))
        return 0;
    memset(&f, 0, sizeof f);
    f.s = v == LABEL_GENUINE ? s : NULL;
    rc = verify_page(r, call->core, canon, unit, v, why, &f, NULL, 200);
    json_decref(unit);
    return rc;
}

/* ---- the report form ------------------------------------------------------ */

/* Public reports through the form, per address and hour: the same budget
 * as POST /v1/units/{code}/incidents gives a public caller (10), kept in
 * a small table as route_incidents.c keeps its own (a collision only
 * makes two addresses share a budget). */
#define WEB_REPORTS_PER_HOUR 10
/* Slots for the addresses reporting in one hour: far more than the
 * phones that report at once around one node, in 32 KB. */
#define WEB_LIMIT_SLOTS 1024

struct web_slot {
    unsigned char who[16];
    time_t hour;
    int n;
};

static struct web_slot web_slots[WEB_LIMIT_SLOTS];
static pthread_mutex_t web_slots_mu = PTHREAD_MUTEX_INITIALIZER;

static bool web_report_allowed(const char *ip)
{
    unsigned char k[16];
    time_t hour = time(NULL) / 3600;
    struct web_slot *s;
    bool ok;

    crypto_generichash(k, sizeof k, (const unsigned char *)ip, strlen(ip),
                       NULL, 0);
    pthread_mutex_lock(&web_slots_mu);
    s = &web_slots[(k[0] | (unsigned)k[1] << 8) % WEB_LIMIT_SLOTS];
    if (memcmp(s->who, k, sizeof k) != 0 || s->hour != hour) {
        memcpy(s->who, k, sizeof k);
        s->hour = hour;
        s->n = 0;
    }
    ok = s->n < WEB_REPORTS_PER_HOUR;
    if (ok)
        s->n++;
    pthread_mutex_unlock(&web_slots_mu);
    return ok;
}

/* The form's fields, each NULL when absent; a field given twice keeps its
 * first value.  Names outside the form are ignored. */
static int form_parse(struct hreq *r, struct report_form *f)
{
    struct {
        const char *name;
        const char **dst;
    } fields[] = {
        {"kind", &f->kind}, {"severity", &f->severity}, {"when", &f->when},
        {"tz", &f->tz}, {"place", &f->place},
        {"description", &f->description}, {"contact", &f->contact},
        {"s", &f->s},
    };
    size_t n = 0;
    const char *body = http_body(r, &n), *p = body, *end = body + n;

    memset(f, 0, sizeof *f);
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t klen, vlen;
        char *k, *v;

        if (eq != NULL) {
            k = http_pct_decode(http_arena(r), p, (size_t)(eq - p), true,
                                &klen);
            v = http_pct_decode(http_arena(r), eq + 1,
                                (size_t)(stop - eq - 1), true, &vlen);
            if (k == NULL || v == NULL)
                return -1;
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                if (strcmp(k, fields[i].name) == 0 && *fields[i].dst == NULL)
                    *fields[i].dst = v;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return 0;
}

/* The plain name of a report field, for the form's error line. */
static const char *field_label(const char *field)
{
    static const struct words labels[] = {
        {"kind", "What kind of problem", NULL},
        {"severity", "How serious", NULL},
        {"at", "When it happened", NULL},
        {"place", "Where", NULL},
        {"description", "What happened", NULL},
        {"contact", "Your contact", NULL},
        {NULL, NULL, NULL},
    };
    const struct words *w = word(labels, field);

    return w != NULL ? w->text : NULL;
}

/*
 * The form's "when" (datetime-local: YYYY-MM-DDTHH:MM, optionally :SS)
 * and "tz" (minutes east of UTC, from the page's script) as RFC 3339
 * with an offset, in the arena; NULL with *bad set when malformed.
 */
static const char *form_time(struct arena *a, const char *when,
                             const char *tz, bool *bad)
{
    static const char shape[] = "dddd-dd-ddTdd:dd";
    long off = 0;
    size_t n = strlen(when);

    *bad = true;
    if (n != 16 && n != 19)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char want = i < 16 ? shape[i] : (i == 16 ? ':' : 'd');

        if (want == 'd' ? (when[i] < '0' || when[i] > '9') : when[i] != want)
            return NULL;
    }
    if (tz != NULL && tz[0] != '\0') {
        char *e;

        errno = 0;
        off = strtol(tz, &e, 10);
        /* Real offsets run from -12:00 to +14:00. */
        if (errno != 0 || *e != '\0' || off < -14 * 60 || off > 14 * 60)
            return NULL;
    }
    *bad = false;
    return arena_sprintf(a, "%s%s%c%02ld:%02ld", when, n == 16 ? ":00" : "",
                         off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* The report's JSON body for core, from the form's fields. */
static json_t *report_body(struct arena *a, const struct report_form *f,
                           bool *bad_time)
{
    json_t *b = json_object();
    const char *at;

    *bad_time = false;
    if (b == NULL)
        return NULL;
    /* Required ones are passed even when empty, so that core names them;
     * empty optional ones are left out. */
    json_object_set_new(b, "kind", json_string(f->kind ? f->kind : ""));
    json_object_set_new(b, "severity",
                        json_string(f->severity ? f->severity : ""));
    json_object_set_new(b, "description",
                        json_string(f->description ? f->description : ""));
    if (f->place != NULL && f->place[0] != '\0')
        json_object_set_new(b, "place", json_string(f->place));
    if (f->contact != NULL && f->contact[0] != '\0')
        json_object_set_new(b, "contact", json_string(f->contact));
    if (f->when != NULL && f->when[0] != '\0') {
        if ((at = form_time(a, f->when, f->tz, bad_time)) != NULL)
            json_object_set_new(b, "at", json_string(at));
    }
    return b;
}

static int thank_you(struct hreq *r, const char *canon, json_t *unit,
                     const struct report_form *f, json_t *reply)
{
    struct html h;

    html_init(&h, http_arena(r));
    page_open(&h, "Report received");
    put(&h, "<header><p>HRID verify</p><h1>Thank you</h1><p class=\"code\">");
    esc(&h, jstr(unit, "display"));
    put(&h, "</p></header><section class=\"verdict ok\" id=\"thanks\">"
            "<h2>Your report was received</h2><p>");
    esc(&h, jstr(reply, "message"));
    put(&h, ".</p><p>It is recorded against ");
    esc(&h, jstr(unit, "enterprise.name"));
    put(&h, " ");
    esc(&h, jstr(unit, "model.name"));
    put(&h, " as an unverified public report");
    if (f->when != NULL && f->when[0] != '\0' &&
        (f->tz == NULL || f->tz[0] == '\0'))
        put(&h, "; the time you gave was read as UTC");
    put(&h, ".</p></section><p><a href=\"/v/");
    esc(&h, canon);
    if (f->s != NULL && f->s[0] != '\0') {
        put(&h, "?s=");
        esc(&h, f->s);
    }
    put(&h, "\">Back to the robot's page</a></p>");
    page_close(&h, false);
    return page_send(r, &h, 201);
}

int route_web_report(struct hreq *r, const struct route_call *call)
{
    char canon[HRID_CODE_LEN + 1], why[HRID_ERR_MSG_MAX], msg[512];
    struct core_reply reply;
    struct core_err err = {0};
    struct report_form f;
    json_t *unit = NULL, *body = NULL;
    enum label_verdict v;
    bool bad_time;
    const char *label;
    int rc;

    if (!path_code(r, canon))
        return 0;
    if (form_parse(r, &f) != 0)
        return -1;
    v = label_check(call->core, canon, f.s,
                    f.s != NULL ? strlen(f.s) : 0, why);
    if (v != LABEL_GENUINE)
        f.s = NULL;
    if (!public_unit(r, call->core, canon, &unit))
        return 0;
    if (!web_report_allowed(http_remote_ip(r))) {
        snprintf(msg, sizeof msg, "Too many reports were sent from your "
                 "network this hour (at most %d): please try again later.",
                 WEB_REPORTS_PER_HOUR);
        rc = verify_page(r, call->core, canon, unit, v, why, &f, msg, 429);
        goto out;
    }
    if ((body = report_body(http_arena(r), &f, &bad_time)) == NULL) {
        rc = -1;
        goto out;
    }
    if (bad_time) {
        rc = verify_page(r, call->core, canon, unit, v, why, &f,
                         "When it happened: give a date and a time.", 422);
        goto out;
    }
    memset(&reply, 0, sizeof reply);
    rc = core_incident_public(call->core, &web_public, canon, HRID_CODE_LEN,
                              body, http_arena(r), &reply, &err);
    if (rc == CORE_OK) {
        rc = thank_you(r, canon, unit, &f, reply.body);
        json_decref(reply.body);
        goto out;
    }
    if (rc == CORE_EINTERNAL)
        fprintf(stderr, "hridd: report form: %s\n", err.msg);
    label = field_label(err.field);
    if (rc == CORE_EINTERNAL)
        snprintf(msg, sizeof msg, "The registry could not record the "
                 "report: please try again in a moment.");
    else if (label != NULL)
        snprintf(msg, sizeof msg, "%s: %s.", label, err.msg);
    else
        snprintf(msg, sizeof msg, "The report was refused: %s.", err.msg);
    rc = verify_page(r, call->core, canon, unit, v, why, &f, msg,
                     route_http_status(rc));
out:
    json_decref(body);
    json_decref(unit);
    return rc;
}

/* ---- the dashboard's static files ---------------------------------------- */

/* The largest file served: the charting library is about 200 KB; 8 MiB
 * is the request body cap, a bound nothing here comes near. */
#define WEB_FILE_MAX (8u * 1024u * 1024u)

/* The one directory below the web root that is served. */
#define WEB_SUBDIR "vendor"

static char web_root[PATH_MAX];
static pthread_once_t web_root_once = PTHREAD_ONCE_INIT;

static bool has_index(const char *dir)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/index.html", dir);

    return n > 0 && (size_t)n < sizeof p && access(p, R_OK) == 0;
}

/* Finds the web directory once (see the file comment); web_root stays
 * empty when there is none. */
static void web_root_find(void)
{
    const char *env = getenv("HRID_WEB");
    char exe[PATH_MAX], cand[PATH_MAX + 8];
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        if (realpath(env, web_root) == NULL)
            web_root[0] = '\0';
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 4; up++) {
            char *slash = strrchr(exe, '/');

            if (slash == NULL || slash == exe)
                break;
            *slash = '\0';
            snprintf(cand, sizeof cand, "%s/web", exe);
            if (has_index(cand) && realpath(cand, web_root) != NULL)
                return;
        }
    }
    if (!has_index("web") || realpath("web", web_root) == NULL)
        web_root[0] = '\0';
}

struct ctype {
    const char *ext, *type;
};

static const struct ctype ctypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {NULL, NULL},
};

/* The content type of a file name, or NULL when it is not served. */
static const char *file_type(const char *name)
{
    const char *dot = strrchr(name, '.');

    for (const struct ctype *t = ctypes; dot != NULL && t->ext != NULL; t++)
        if (strcmp(dot, t->ext) == 0)
            return t->type;
    return NULL;
}

/* A path segment that may name a file or the subdirectory: letters,
 * digits, '.', '_' and '-', not starting with '.' (no "..", no dot-file). */
static bool safe_segment(const char *s, size_t n)
{
    static const char ok[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

    return s != NULL && n > 0 && n <= 128 && s[0] != '.' &&
           strspn(s, ok) == n;
}

static int not_found(struct hreq *r, const char *what)
{
    return http_error(r, 404, "not_found", NULL, "no portal file '%s'", what);
}

int route_web_file(struct hreq *r, const struct route_call *call)
{
    char path[PATH_MAX], etag[64];
    size_t flen = 0, dlen = 0;
    const char *file = http_param(r, "file", &flen);
    const char *dir = http_param(r, "dir", &dlen);
    const char *type, *inm;
    struct stat st;
    char *data;
    ssize_t got;
    size_t off = 0;
    int fd, n;

    (void)call;
    pthread_once(&web_root_once, web_root_find);
    if (file == NULL) {
        file = "index.html";
        flen = strlen(file);
    }
    if (!safe_segment(file, flen) ||
        (dir != NULL && (dlen != strlen(WEB_SUBDIR) ||
                         strcmp(dir, WEB_SUBDIR) != 0)) ||
        (type = file_type(file)) == NULL)
        return not_found(r, http_path(r));
    if (web_root[0] == '\0')
        return http_error(r, 404, "not_found", NULL,
                          "the portal's files were not found: set HRID_WEB "
                          "to the web directory of the source tree");
    n = snprintf(path, sizeof path, "%s/%s%s%s", web_root,
                 dir != NULL ? WEB_SUBDIR : "", dir != NULL ? "/" : "", file);
    if (n < 0 || (size_t)n >= sizeof path)
        return not_found(r, http_path(r));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return not_found(r, http_path(r));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > WEB_FILE_MAX) {
        close(fd);
        return not_found(r, http_path(r));
    }
    /* Size and modification time name the version: a client that has it
     * gets 304 and no bytes. */
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL +
                 st.st_mtim.tv_nsec);
    inm = http_header(r, "If-None-Match");
    if (http_header_add(r, "ETag", etag) != 0 ||
        http_header_add(r, "Cache-Control", "no-cache") != 0 ||
        http_header_add(r, "X-Content-Type-Options", "nosniff") != 0) {
        close(fd);
        return -1;
    }
    if (inm != NULL && strcmp(inm, etag) == 0) {
        close(fd);
        return http_raw(r, 304, NULL, "", 0);
    }
    if ((data = arena_alloc(http_arena(r), (size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return -1;
    }
    while (off < (size_t)st.st_size) {
        got = read(fd, data + off, (size_t)st.st_size - off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        off += (size_t)got;
    }
    close(fd);
    if (off != (size_t)st.st_size)
        return not_found(r, http_path(r));
    if (strncmp(type, "text/html", 9) == 0 &&
        (http_header_add(r, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; "
                         "object-src 'none'; base-uri 'none'; "
                         "form-action 'self'; frame-ancestors 'none'") != 0 ||
         http_header_add(r, "Referrer-Policy", "same-origin") != 0))
        return -1;
    return http_raw(r, 200, type, data, off);
}

int route_web_portal(struct hreq *r, const struct route_call *call)
{
    (void)call;
    if (http_header_add(r, "Location", "/portal/") != 0)
        return -1;
    return http_raw(r, 301, "text/plain; charset=utf-8",
                    "moved to /portal/\n", 18);
}
