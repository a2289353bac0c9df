/*
 * cache.c - a small read-through cache of the records every reply names:
 * parties, model summaries and API keys.
 *
 * A public GET of a unit names its model and its maker, and every keyed
 * request resolves its key and party; without a cache that is three or
 * four store lookups around the one that matters.  The cache holds copies
 * in fixed-size slots (direct-mapped by id, so it never grows), each valid
 * for CORE_CACHE_TTL_MS.  A write on this node forgets the slot it
 * changes; another node sharing the database sees the change within the
 * TTL.  Only replies and authentication read the cache: the rules inside
 * a write transaction always read the store, so a stale slot can show an
 * old name or status for a moment but can never let a write through.
 */
#include <pthread.h>
#include <string.h>

#include "core/core_int.h"

/* Copies s into a slot's buffer; a value longer than the buffer (which
 * the schemas do not accept) is not cached. */
static bool put(char *dst, size_t n, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    if (len >= n)
        return false;
    if (s)
        memcpy(dst, s, len + 1);
    else
        dst[0] = '\0';
    return true;
}

static const char *get(struct arena *a, const char *s, bool null_if_empty)
{
    if (null_if_empty && s[0] == '\0')
        return NULL;
    return arena_strdup(a, s);
}

int core_cache_init(struct core_cache *cc)
{
    memset(cc, 0, sizeof *cc);
    if (pthread_mutex_init(&cc->lock, NULL) != 0)
        return -1;
    return 0;
}

void core_cache_release(struct core_cache *cc)
{
    pthread_mutex_destroy(&cc->lock);
}

int core_cache_party(struct core *c, struct store_conn *sc, int64_t id,
                     struct arena *a, struct store_party *out,
                     struct hrid_err *he)
{
    struct core_cache *cc = &c->cache;
    struct cached_party *s = &cc->parties[(uint64_t)id % CORE_CACHE_SLOTS];
    int64_t now = core_now_ms();
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&cc->lock);
    if (s->id == id && s->expires > now) {
        out->id = id;
        out->kind = get(a, s->kind, false);
        out->name = get(a, s->name, true);
        out->public_name = get(a, s->public_name, true);
        out->country = get(a, s->country, false);
        out->ent_code = get(a, s->ent_code, true);
        out->created_at = s->created_at;
        pthread_mutex_unlock(&cc->lock);
        return STORE_OK;
    }
    pthread_mutex_unlock(&cc->lock);
    rc = store_party_get(sc, id, a, out, he);
    if (rc != STORE_OK)
        return rc;
    pthread_mutex_lock(&cc->lock);
    s->id = 0;
    if (put(s->kind, sizeof s->kind, out->kind) &&
        put(s->name, sizeof s->name, out->name) &&
        put(s->public_name, sizeof s->public_name, out->public_name) &&
        put(s->country, sizeof s->country, out->country) &&
        put(s->ent_code, sizeof s->ent_code, out->ent_code)) {
        s->id = id;
        s->created_at = out->created_at;
        s->expires = now + CORE_CACHE_TTL_MS;
    }
    pthread_mutex_unlock(&cc->lock);
    /* The cached copy has no private info; callers that need it read
     * the store.  Keep the two answers identical. */
    out->info = NULL;
    return STORE_OK;
}

int core_cache_model(struct core *c, struct store_conn *sc, int64_t row,
                     struct arena *a, struct store_model *out,
                     struct hrid_err *he)
{
    struct core_cache *cc = &c->cache;
    struct cached_model *s = &cc->models[(uint64_t)row % CORE_CACHE_SLOTS];
    int64_t now = core_now_ms();
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&cc->lock);
    if (s->row == row && s->expires > now) {
        out->id = row;
        memcpy(out->model_id, s->model_id, sizeof out->model_id);
        out->enterprise_id = s->enterprise_id;
        out->level = s->level;
        out->filing_year = s->filing_year;
        out->name = get(a, s->name, true);
        out->status = get(a, s->status, false);
        pthread_mutex_unlock(&cc->lock);
        return STORE_OK;
    }
    pthread_mutex_unlock(&cc->lock);
    rc = store_model_get_row(sc, row, a, out, he);
    if (rc != STORE_OK)
        return rc;
    pthread_mutex_lock(&cc->lock);
    s->row = 0;
    if (put(s->name, sizeof s->name, out->name) &&
        put(s->status, sizeof s->status, out->status)) {
        s->row = row;
        memcpy(s->model_id, out->model_id, sizeof s->model_id);
        s->enterprise_id = out->enterprise_id;
        s->level = out->level;
        s->filing_year = out->filing_year;
        s->expires = now + CORE_CACHE_TTL_MS;
    }
    pthread_mutex_unlock(&cc->lock);
    /* A summary: the parameters and the filing record are not cached. */
    out->params = NULL;
    out->filing = NULL;
    return STORE_OK;
}

/* Keys are looked up by key_id; the slot is chosen from its first hex
 * digits, which are already uniformly distributed (a SHA-256 prefix). */
static struct cached_key *key_slot(struct core_cache *cc, const char *key_id)
{
    uint64_t h = 0;

    for (int i = 0; i < 8 && key_id[i]; i++)
        h = h * 16 + (uint64_t)(key_id[i] <= '9' ? key_id[i] - '0'
                                                 : key_id[i] - 'a' + 10);
    return &cc->keys[h % CORE_CACHE_SLOTS];
}

int core_cache_key(struct core *c, struct store_conn *sc, const char *key_id,
                   struct arena *a, struct store_key *out,
                   struct hrid_err *he)
{
    struct core_cache *cc = &c->cache;
    struct cached_key *s = key_slot(cc, key_id);
    int64_t now = core_now_ms();
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&cc->lock);
    if (s->row != 0 && s->expires > now && strcmp(s->key_id, key_id) == 0) {
        out->id = s->row;
        out->key_id = get(a, s->key_id, false);
        memcpy(out->hash, s->hash, 32);
        out->party_id = s->party_id;
        out->role = get(a, s->role, false);
        out->revoked_at = s->revoked_at;
        pthread_mutex_unlock(&cc->lock);
        return STORE_OK;
    }
    pthread_mutex_unlock(&cc->lock);
    rc = store_key_get(sc, key_id, a, out, he);
    if (rc != STORE_OK)
        return rc;
    pthread_mutex_lock(&cc->lock);
    s->row = 0;
    if (put(s->key_id, sizeof s->key_id, out->key_id) &&
        put(s->role, sizeof s->role, out->role)) {
        s->row = out->id;
        memcpy(s->hash, out->hash, 32);
        s->party_id = out->party_id;
        s->revoked_at = out->revoked_at;
        s->expires = now + CORE_CACHE_TTL_MS;
    }
    pthread_mutex_unlock(&cc->lock);
    return STORE_OK;
}

void core_cache_forget_model(struct core *c, int64_t row)
{
    struct cached_model *s =
        &c->cache.models[(uint64_t)row % CORE_CACHE_SLOTS];

    pthread_mutex_lock(&c->cache.lock);
    if (s->row == row)
        s->row = 0;
    pthread_mutex_unlock(&c->cache.lock);
}

void core_cache_forget_key(struct core *c, const char *key_id)
{
    struct cached_key *s = key_slot(&c->cache, key_id);

    pthread_mutex_lock(&c->cache.lock);
    if (strcmp(s->key_id, key_id) == 0)
        s->row = 0;
    pthread_mutex_unlock(&c->cache.lock);
}
