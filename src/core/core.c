/*
 * core.c - the registry handle, callers and keys, time, errors.
 *
 * A key is "hrid_" followed by 40 random base32 characters (200 bits).
 * The store keeps only its SHA-256; key_id, the first 16 hex digits of
 * that hash, finds the row, and the whole hash is compared in constant
 * time.  Because the lookup works from the hash, an operator may also
 * install an admin key of their own choosing (HRID_ADMIN_KEY), as long as
 * it is long enough to resist guessing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "core/core_int.h"

int core_fail(struct core_err *err, int status, const char *code,
              const char *field, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    err->code = code;
    err->pos = 0;
    err->reason = 0;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

int core_store_fail(struct core_err *err, int rc, const struct hrid_err *he)
{
    if (rc == STORE_NOTFOUND)
        return core_fail(err, CORE_ENOTFOUND, "not_found", NULL, "%s",
                         he->msg);
    if (rc == STORE_CONFLICT)
        return core_fail(err, CORE_ECONFLICT, "conflict", NULL, "%s",
                         he->msg);
    return core_fail(err, CORE_EINTERNAL, "internal", NULL, "store: %s",
                     he->msg);
}

/* ---- roles ----------------------------------------------------------- */

static const struct {
    unsigned role;
    const char *name;
    const char *party_kind;   /* the kind of party that may hold it */
} roles[] = {
    {ROLE_PUBLIC, "public", NULL},
    {ROLE_ADMIN, "admin", "platform"},
    {ROLE_REGULATOR, "regulator", "regulator"},
    {ROLE_MANUFACTURER, "manufacturer", "manufacturer"},
    {ROLE_SELLER, "seller", "seller"},
    {ROLE_OWNER, "owner", "owner"},
    {ROLE_SERVICE, "service", "service"},
    {ROLE_RECYCLER, "recycler", "recycler"},
    {ROLE_CERTIFIER, "certifier", "certifier"},
};

const char *core_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == role)
            return roles[i].name;
    return NULL;
}

unsigned core_role_parse(const char *s)
{
    for (size_t i = 0; s != NULL && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, s) == 0)
            return roles[i].role;
    return 0;
}

const char *core_role_party_kind(unsigned role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == role)
            return roles[i].party_kind;
    return NULL;
}

/* ---- time ------------------------------------------------------------ */

int64_t core_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int core_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
    struct tm tm;
    const char *p;
    time_t t;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};

    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
        digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    p = s + 19;
    if (*p == '.') {
        int n = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec;   /* a leap second is the second before */
    t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac - (int64_t)sign * (oh * 3600 + om * 60) * 1000;
    return 0;
}

/* The calendar date of day z since 1970-01-01 (proleptic Gregorian),
 * counting in 400-year eras of 146,097 days that start on March 1st, so
 * that the leap day ends a year. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;                       /* days from 0000-03-01 */
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);                        /* 0..146096 */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* 0..365 */
    mp = (5 * doy + 2) / 153;                                  /* 0..11 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* Written by hand rather than with gmtime_r and snprintf: every event's
 * log leaf formats two times, and this was a third of the audit's time. */
void core_time_format(int64_t ms, char out[32])
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    unsigned rem = (unsigned)(ms - days * 86400000), m, d;
    int64_t y;
    char *p = out;

    civil_from_days(days, &y, &m, &d);
    p = put_digits(p, (unsigned)(((y % 10000) + 10000) % 10000), 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600000, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60000 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem / 1000 % 60, 2);
    *p++ = '.';
    p = put_digits(p, rem % 1000, 3);
    *p++ = 'Z';
    *p = '\0';
}

json_t *core_time_json(int64_t ms)
{
    char buf[32];

    if (ms == 0)
        return json_null();
    core_time_format(ms, buf);
    return json_string(buf);
}

/* ---- keys ------------------------------------------------------------ */

void core_key_hash(const char *key, unsigned char hash[32],
                   char key_id[CORE_KEY_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    crypto_hash_sha256(hash, (const unsigned char *)key, strlen(key));
    for (int i = 0; i < CORE_KEY_ID_LEN / 2; i++) {
        key_id[2 * i] = hex[hash[i] >> 4];
        key_id[2 * i + 1] = hex[hash[i] & 15];
    }
    key_id[CORE_KEY_ID_LEN] = '\0';
}

void core_key_generate(char out[CORE_KEY_LEN + 1])
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[CORE_KEY_LEN - 5];

    randombytes_buf(rnd, sizeof rnd);
    memcpy(out, "hrid_", 5);
    for (size_t i = 0; i < sizeof rnd; i++)
        out[5 + i] = b32[rnd[i] & 31];
    out[CORE_KEY_LEN] = '\0';
}

int core_authenticate(struct core *c, const char *key, struct arena *a,
                      struct core_principal *out, struct core_err *err)
{
    struct store_conn *sc;
    struct store_key k;
    struct store_party p;
    struct hrid_err he;
    unsigned char hash[32];
    char key_id[CORE_KEY_ID_LEN + 1];
    int rc;

    memset(out, 0, sizeof *out);
    out->role = ROLE_PUBLIC;
    if (key == NULL || key[0] == '\0')
        return CORE_OK;
    if (strlen(key) > CORE_KEY_INPUT_MAX)
        return core_fail(err, CORE_EUNAUTH, "unauthorized", NULL,
                         "the API key is not valid");
    core_key_hash(key, hash, key_id);
    sc = store_conn(c->store, &he);
    if (sc == NULL)
        return core_store_fail(err, STORE_EIO, &he);
    rc = core_cache_key(c, sc, key_id, a, &k, &he);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK &&
                                 (sodium_memcmp(hash, k.hash, 32) != 0 ||
                                  k.revoked_at != 0)))
        return core_fail(err, CORE_EUNAUTH, "unauthorized", NULL,
                         rc == STORE_OK && k.revoked_at != 0
                             ? "the API key was revoked"
                             : "the API key is not valid");
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    rc = core_cache_party(c, sc, k.party_id, a, &p, &he);
    if (rc != STORE_OK)
        return core_store_fail(err, rc, &he);
    out->role = core_role_parse(k.role);
    out->party_id = k.party_id;
    out->key_row = k.id;
    out->party_name = p.name;
    if (out->role == 0 || out->role == ROLE_PUBLIC)
        return core_fail(err, CORE_EUNAUTH, "unauthorized", NULL,
                         "the API key has an unknown role");
    return CORE_OK;
}

/* ---- the handle ------------------------------------------------------ */

struct bootstrap {
    const char *key;          /* HRID_ADMIN_KEY, or NULL */
    char gen[CORE_KEY_LEN + 1];  /* the key to install when none is given */
    int64_t now;
    bool generated;           /* gen was installed */
};

int core_first_party(void *ctx, const struct store_party *p)
{
    *(struct store_party *)ctx = *p;
    return 1;
}

/*
 * Installs the platform party and an admin key when the store has none,
 * and installs HRID_ADMIN_KEY when given and not yet known.  Runs inside a
 * write transaction, so two nodes starting at once cannot both install a
 * generated key.
 */
static int bootstrap_job(struct store_conn *sc, void *arg, struct hrid_err *he)
{
    struct bootstrap *b = arg;
    struct store_party p;
    struct store_key k;
    struct arena a;
    unsigned char hash[32];
    char key_id[CORE_KEY_ID_LEN + 1];
    const char *key = b->key;
    int rc;

    arena_init(&a);
    memset(&p, 0, sizeof p);
    rc = store_party_list(sc, "platform", 0, 1, &a, core_first_party, &p, he);
    if (rc != STORE_OK && rc != 1)
        goto out;
    if (p.id == 0) {
        p.kind = "platform";
        p.name = "HRID platform operator";
        p.public_name = "HRID platform";
        p.country = "";
        p.info = "{}";
        p.created_at = b->now;
        rc = store_party_insert(sc, &p, he);
        if (rc != STORE_OK)
            goto out;
        if (key == NULL) {
            key = b->gen;
            b->generated = true;
        }
    }
    rc = STORE_OK;
    if (key == NULL)
        goto out;
    core_key_hash(key, hash, key_id);
    rc = store_key_get(sc, key_id, &a, &k, he);
    if (rc != STORE_NOTFOUND)
        goto out;
    memset(&k, 0, sizeof k);
    memcpy(k.hash, hash, 32);
    k.key_id = key_id;
    k.party_id = p.id;
    k.role = "admin";
    k.label = "admin (bootstrap)";
    k.created_at = b->now;
    rc = store_key_insert(sc, &k, he);
out:
    arena_release(&a);
    if (rc != STORE_OK)
        b->generated = false;
    return rc;
}

static int write_key_file(const char *path, const char *key,
                          struct core_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen(key);
    int ok;

    if (fd < 0)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "cannot write the admin key to '%s': %s", path,
                         strerror(errno));
    ok = write(fd, key, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
         fsync(fd) == 0;
    close(fd);
    if (!ok)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "cannot write the admin key to '%s'", path);
    return CORE_OK;
}

int core_new(const struct core_config *cfg, struct core **out,
             bool *generated, struct core_err *err)
{
    struct core *c = NULL;
    struct bootstrap b;
    struct hrid_err he;
    int rc;

    *out = NULL;
    if (generated != NULL)
        *generated = false;
    if (sodium_init() < 0)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "libsodium failed to initialise");
    if (cfg->admin_key != NULL && strlen(cfg->admin_key) < CORE_KEY_MIN)
        return core_fail(err, CORE_EBADREQ, "bad_request", NULL,
                         "HRID_ADMIN_KEY must be at least %d characters",
                         CORE_KEY_MIN);
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "out of memory");
    if (core_cache_init(&c->cache) != 0) {
        free(c);
        return core_fail(err, CORE_EINTERNAL, "internal", NULL,
                         "cannot set up the read cache");
    }
    c->store = cfg->store;
    snprintf(c->country, sizeof c->country, "%s",
             cfg->country ? cfg->country : "CN");
    if (cfg->platform_key != NULL) {
        c->platform = *cfg->platform_key;
        c->have_platform_key = true;
        crypto_generichash(c->challenge_key, sizeof c->challenge_key,
                           (const unsigned char *)"hrid-challenge-key/v1",
                           21, c->platform.sk, 32);
    }
    if (cfg->log_key != NULL) {
        c->log = *cfg->log_key;
        c->have_log_key = true;
    }
    core_set_public_url(c, cfg->public_url);
    /* Before the first write, which then also brings into the log any
     * events a database from before the log holds. */
    core_log_attach(c);

    memset(&b, 0, sizeof b);
    b.now = core_now_ms();
    b.key = cfg->admin_key;
    core_key_generate(b.gen);
    rc = store_write(c->store, bootstrap_job, &b, &he);
    if (rc != STORE_OK) {
        rc = core_store_fail(err, rc, &he);
        goto fail;
    }
    if (b.generated) {
        if (cfg->admin_key_file == NULL) {
            rc = core_fail(err, CORE_EINTERNAL, "internal", NULL,
                           "no file to write the generated admin key to");
            goto fail;
        }
        rc = write_key_file(cfg->admin_key_file, b.gen, err);
        if (rc != CORE_OK)
            goto fail;
        if (generated != NULL)
            *generated = true;
    }
    sodium_memzero(b.gen, sizeof b.gen);
    *out = c;
    return CORE_OK;

fail:
    sodium_memzero(b.gen, sizeof b.gen);
    core_log_detach(c);
    core_cache_release(&c->cache);
    sodium_memzero(c, sizeof *c);
    free(c);
    return rc;
}
void core_free(struct core *c)
{
    if (c == NULL)
        return;
    core_log_detach(c);
    core_cache_release(&c->cache);
    sodium_memzero(c, sizeof *c);
    free(c);
}

void core_set_public_url(struct core *c, const char *url)
{
    size_t n;

    snprintf(c->public_url, sizeof c->public_url, "%s",
             url != NULL && url[0] != '\0' ? url : "http://localhost");
    n = strlen(c->public_url);
    while (n > 1 && c->public_url[n - 1] == '/')
        c->public_url[--n] = '\0';
}

struct store *core_store(struct core *c)
{
    return c->store;
}
