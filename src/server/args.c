/*
 * server/args.c - what several handlers read from a request besides its
 * body: pagination arguments, record ids and the Idempotency-Key
 * (routes.h).
 *
 * These are HTTP-level syntax checks only (is limit a number, is the key
 * printable); what a cursor means and whether a key was used before are
 * core's business.
 */
#include <string.h>

#include <sodium.h>

#include "server/routes.h"

int route_page(struct hreq *r, struct core_page *page)
{
    size_t len;
    const char *limit = http_query(r, "limit", &len);

    page->limit = 0;
    page->cursor = http_query(r, "cursor", NULL);
    if (limit == NULL)
        return 0;
    /* Digits only, no sign, no spaces: "limit=+5" or "limit=5x" is a
     * client bug worth reporting, not a number to guess at.  Four digits
     * hold CORE_PAGE_MAX; more are out of range whatever they say. */
    if (len == 0 || len > 4 || strspn(limit, "0123456789") != len)
        goto bad;
    page->limit = 0;
    for (size_t i = 0; i < len; i++)
        page->limit = page->limit * 10 + (limit[i] - '0');
    if (page->limit >= 1 && page->limit <= CORE_PAGE_MAX)
        return 0;
bad:
    page->limit = 0;
    http_error(r, 422, "invalid_field", "limit",
               "limit: expected an integer from 1 to %d", CORE_PAGE_MAX);
    return -1;
}

int64_t route_id(const char *s, size_t len)
{
    int64_t v = 0;

    /* Party ids are below 9e15 (core's schemas cap them there, inside
     * the 2^53 that JSON numbers hold exactly): 16 digits at most. */
    if (s == NULL || len == 0 || len > 16 || s[0] == '0' ||
        strspn(s, "0123456789") != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int route_idem(struct hreq *r, struct core_idem *idem)
{
    const char *key = http_header(r, "Idempotency-Key");
    crypto_hash_sha256_state st;
    const void *body;
    size_t n, body_len;

    memset(idem, 0, sizeof(*idem));
    if (key == NULL)
        return 0;
    n = strlen(key);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7E)
            n = 0;              /* refused below */
    if (n == 0 || n > CORE_IDEM_KEY_MAX) {
        http_error(r, 422, "invalid_field", "Idempotency-Key",
                   "Idempotency-Key: expected 1 to %d printable ASCII "
                   "characters", CORE_IDEM_KEY_MAX);
        return -1;
    }
    /* The request as the client sent it: the same key with another
     * method, path or body is another request (core refuses it). */
    body = http_body(r, &body_len);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)http_method(r),
                              strlen(http_method(r)));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)http_path(r),
                              strlen(http_path(r)));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    if (body_len > 0)
        crypto_hash_sha256_update(&st, body, body_len);
    crypto_hash_sha256_final(&st, idem->req_hash);
    idem->key = key;
    return 0;
}
