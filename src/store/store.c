/*
 * store/store.c - the store_* wrappers (store/store.h).
 *
 * Layer: src/store.  Every wrapper forwards to the operations table that
 * the handle's backend filled (struct store_int.h), as SQLite's VFS methods
 * are reached through sqlite3_file.pMethods: adding an operation touches
 * the table, this file and each backend, never a switch on the backend.
 * The only decision made here is which backend a uri names.
 */
#include <string.h>

#include "store/store_int.h"

/* A PostgreSQL connection uri (libpq accepts both spellings). */
bool store_is_server_uri(const char *uri)
{
    return strncmp(uri, "postgresql://", 13) == 0 ||
           strncmp(uri, "postgres://", 11) == 0;
}

int store_open(const char *uri, struct store **out, struct hrid_err *err)
{
    *out = NULL;
    if (uri == NULL || uri[0] == '\0')
        return hrid_err_set(err, STORE_EIO, 0, 0, "no store uri given");
    /* The uri itself is not quoted: a PostgreSQL uri may hold a password. */
    if (store_is_server_uri(uri))
        return store_pg_ops.open(uri, out, err);
    return store_sqlite_ops.open(uri, out, err);
}

void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
    return s->ops->name;
}

struct store_conn *store_conn(struct store *s, struct hrid_err *err)
{
    return s->ops->conn(s, err);
}

int store_write(struct store *s, store_write_fn fn, void *arg,
                struct hrid_err *err)
{
    return s->ops->write(s, fn, arg, err, NULL, NULL);
}

int store_write_async(struct store *s, store_write_fn fn, void *arg,
                      struct hrid_err *err, store_done_fn done,
                      void *done_arg)
{
    return s->ops->write(s, fn, arg, err, done, done_arg);
}

void store_set_precommit(struct store *s, store_precommit_fn fn, void *arg)
{
    s->ops->set_precommit(s, fn, arg);
}

int store_read_begin(struct store_conn *c, struct hrid_err *err)
{
    return c->store->ops->read_begin(c, err);
}

void store_read_end(struct store_conn *c)
{
    c->store->ops->read_end(c);
}

int store_counter_add(struct store_conn *c, const char *name, int64_t count,
                      int64_t *value, struct hrid_err *err)
{
    return c->store->ops->counter_add(c, name, count, value, err);
}

int store_counter_next(struct store_conn *c, const char *name, int64_t *value,
                       struct hrid_err *err)
{
    return store_counter_add(c, name, 1, value, err);
}

int store_party_insert(struct store_conn *c, struct store_party *p,
                       struct hrid_err *err)
{
    return c->store->ops->party_insert(c, p, err);
}

int store_party_get(struct store_conn *c, int64_t id, struct arena *a,
                    struct store_party *out, struct hrid_err *err)
{
    return c->store->ops->party_get(c, id, a, out, err);
}

int store_party_by_ent_code(struct store_conn *c, const char *country,
                            const char *ent_code, struct arena *a,
                            struct store_party *out, struct hrid_err *err)
{
    return c->store->ops->party_by_ent_code(c, country, ent_code, a, out,
                                            err);
}

int store_party_list(struct store_conn *c, const char *kind, int64_t after_id,
                     int limit, struct arena *a, store_each_party_fn each,
                     void *ctx, struct hrid_err *err)
{
    return c->store->ops->party_list(c, kind, after_id, limit, a, each, ctx,
                                     err);
}

int store_key_insert(struct store_conn *c, struct store_key *k,
                     struct hrid_err *err)
{
    return c->store->ops->key_insert(c, k, err);
}

int store_key_get(struct store_conn *c, const char *key_id, struct arena *a,
                  struct store_key *out, struct hrid_err *err)
{
    return c->store->ops->key_get(c, key_id, a, out, err);
}

int store_key_revoke(struct store_conn *c, int64_t id, int64_t at,
                     struct hrid_err *err)
{
    return c->store->ops->key_revoke(c, id, at, err);
}

int store_key_list(struct store_conn *c, int64_t party_id, struct arena *a,
                   store_each_key_fn each, void *ctx, struct hrid_err *err)
{
    return c->store->ops->key_list(c, party_id, a, each, ctx, err);
}

int store_model_insert(struct store_conn *c, struct store_model *m,
                       struct hrid_err *err)
{
    return c->store->ops->model_insert(c, m, err);
}

int store_model_get(struct store_conn *c, const char *model_id,
                    struct arena *a, struct store_model *out,
                    struct hrid_err *err)
{
    return c->store->ops->model_get(c, model_id, a, out, err);
}

int store_model_get_row(struct store_conn *c, int64_t id, struct arena *a,
                        struct store_model *out, struct hrid_err *err)
{
    return c->store->ops->model_get_row(c, id, a, out, err);
}

int store_model_update(struct store_conn *c, const struct store_model *m,
                       struct hrid_err *err)
{
    return c->store->ops->model_update(c, m, err);
}

int store_model_list(struct store_conn *c, int64_t enterprise_id,
                     int64_t after_id, int limit, struct arena *a,
                     store_each_model_fn each, void *ctx,
                     struct hrid_err *err)
{
    return c->store->ops->model_list(c, enterprise_id, after_id, limit, a,
                                     each, ctx, err);
}

int store_unit_insert(struct store_conn *c, struct store_unit *u,
                      struct hrid_err *err)
{
    return c->store->ops->unit_insert(c, u, err);
}

int store_unit_get(struct store_conn *c, const char *code, struct arena *a,
                   struct store_unit *out, struct hrid_err *err)
{
    return c->store->ops->unit_get(c, code, a, out, err);
}

int store_unit_view_get(struct store_conn *c, const char *code,
                        struct arena *a, struct store_unit *out,
                        struct store_unit_marks *marks,
                        struct hrid_err *err)
{
    return c->store->ops->unit_view_get(c, code, a, out, marks, err);
}

int store_unit_history(struct store_conn *c, struct store_unit *u,
                       struct hrid_err *err)
{
    return c->store->ops->unit_history(c, u, err);
}

int store_unit_update(struct store_conn *c, const struct store_unit *was,
                      const struct store_unit *u, struct hrid_err *err)
{
    return c->store->ops->unit_update(c, was, u, err);
}

int store_unit_list(struct store_conn *c, const struct store_unit_filter *f,
                    struct arena *a, store_each_unit_fn each, void *ctx,
                    struct hrid_err *err)
{
    return c->store->ops->unit_list(c, f, a, each, ctx, err);
}

int store_unit_count(struct store_conn *c, int64_t *n, struct hrid_err *err)
{
    return c->store->ops->unit_count(c, n, err);
}

int store_component_insert(struct store_conn *c, struct store_component *k,
                           size_t n, struct hrid_err *err)
{
    return n == 0 ? STORE_OK : c->store->ops->component_insert(c, k, n, err);
}

int store_component_remove(struct store_conn *c, int64_t id, int64_t at,
                           int64_t seq, struct hrid_err *err)
{
    return c->store->ops->component_remove(c, id, at, seq, err);
}

int store_component_list(struct store_conn *c, int64_t unit_id,
                         bool installed_only, struct arena *a,
                         store_each_component_fn each, void *ctx,
                         struct hrid_err *err)
{
    return c->store->ops->component_list(c, unit_id, installed_only, a, each,
                                         ctx, err);
}

int store_event_append(struct store_conn *c, struct store_event *e,
                       struct hrid_err *err)
{
    return c->store->ops->event_append(c, e, err);
}

int store_event_list(struct store_conn *c, int64_t unit_id, int64_t after_seq,
                     int limit, struct arena *a, store_each_event_fn each,
                     void *ctx, struct hrid_err *err)
{
    return c->store->ops->event_list(c, unit_id, after_seq, limit, a, each,
                                     ctx, err);
}

int store_event_scan(struct store_conn *c, int64_t after_seq, int limit,
                     bool with_unit, struct arena *a, store_each_event_fn each,
                     void *ctx, struct hrid_err *err)
{
    return c->store->ops->event_scan(c, after_seq, limit, with_unit, a, each,
                                     ctx, err);
}

int store_tile_get(struct store_conn *c, int level, int64_t index,
                   unsigned char *hashes, int *width, struct hrid_err *err)
{
    return c->store->ops->tile_get(c, level, index, hashes, width, err);
}

int store_tile_put(struct store_conn *c, int level, int64_t index,
                   const unsigned char *hashes, int width,
                   struct hrid_err *err)
{
    return c->store->ops->tile_put(c, level, index, hashes, width, err);
}

int store_tile_last(struct store_conn *c, int level, int64_t *index,
                    int *width, struct hrid_err *err)
{
    return c->store->ops->tile_last(c, level, index, width, err);
}

int store_checkpoint_get(struct store_conn *c, struct arena *a,
                         struct store_checkpoint *out, struct hrid_err *err)
{
    return c->store->ops->checkpoint_get(c, a, out, err);
}

int store_checkpoint_put(struct store_conn *c,
                         const struct store_checkpoint *cp,
                         struct hrid_err *err)
{
    return c->store->ops->checkpoint_put(c, cp, err);
}

int store_grant_insert(struct store_conn *c, struct store_grant *g,
                       struct hrid_err *err)
{
    return c->store->ops->grant_insert(c, g, err);
}

int store_grant_list(struct store_conn *c, int64_t unit_id, struct arena *a,
                     store_each_grant_fn each, void *ctx,
                     struct hrid_err *err)
{
    return c->store->ops->grant_list(c, unit_id, a, each, ctx, err);
}

int store_idem_get(struct store_conn *c, int64_t party_id, const char *key,
                   struct arena *a, struct store_idem *out,
                   struct hrid_err *err)
{
    return c->store->ops->idem_get(c, party_id, key, a, out, err);
}

int store_idem_put(struct store_conn *c, const struct store_idem *r,
                   struct hrid_err *err)
{
    return c->store->ops->idem_put(c, r, err);
}

int store_idem_expire(struct store_conn *c, int64_t before, int limit,
                      int64_t *deleted, struct hrid_err *err)
{
    return c->store->ops->idem_expire(c, before, limit, deleted, err);
}

int store_cert_insert(struct store_conn *c, struct store_cert *k,
                      struct hrid_err *err)
{
    return c->store->ops->cert_insert(c, k, err);
}

int store_cert_get(struct store_conn *c, int64_t id, struct arena *a,
                   struct store_cert *out, struct hrid_err *err)
{
    return c->store->ops->cert_get(c, id, a, out, err);
}

int store_cert_revoke(struct store_conn *c, int64_t id, int64_t at,
                      struct hrid_err *err)
{
    return c->store->ops->cert_revoke(c, id, at, err);
}

int store_cert_list(struct store_conn *c, int64_t model_row, int64_t unit_id,
                    struct arena *a, store_each_cert_fn each, void *ctx,
                    struct hrid_err *err)
{
    return c->store->ops->cert_list(c, model_row, unit_id, a, each, ctx, err);
}

int store_recall_insert(struct store_conn *c, struct store_recall *r,
                        struct hrid_err *err)
{
    return c->store->ops->recall_insert(c, r, err);
}

int store_recall_get(struct store_conn *c, int64_t id, struct arena *a,
                     struct store_recall *out, struct hrid_err *err)
{
    return c->store->ops->recall_get(c, id, a, out, err);
}

int store_recall_close(struct store_conn *c, int64_t id, int64_t at,
                       struct hrid_err *err)
{
    return c->store->ops->recall_close(c, id, at, err);
}

int store_recall_unit_remedied(struct store_conn *c, int64_t recall_id,
                               int64_t unit_id, int64_t seq, int64_t at,
                               struct hrid_err *err)
{
    return c->store->ops->recall_unit_remedied(c, recall_id, unit_id, seq, at,
                                               err);
}

int store_recall_unit_list(struct store_conn *c, int64_t recall_id,
                           int64_t unit_id, const char *state,
                           int64_t after_unit, int limit, struct arena *a,
                           store_each_recall_unit_fn each, void *ctx,
                           struct hrid_err *err)
{
    return c->store->ops->recall_unit_list(c, recall_id, unit_id, state,
                                           after_unit, limit, a, each, ctx,
                                           err);
}

int store_recall_counts(struct store_conn *c, int64_t recall_id,
                        int64_t *notified, int64_t *remedied, int64_t *owed,
                        struct hrid_err *err)
{
    return c->store->ops->recall_counts(c, recall_id, notified, remedied,
                                        owed, err);
}

int store_recall_set_notify(struct store_conn *c, int64_t id, int64_t after,
                            struct hrid_err *err)
{
    return c->store->ops->recall_set_notify(c, id, after, err);
}

int store_recall_notifying(struct store_conn *c, struct arena *a,
                           struct store_recall *out, struct hrid_err *err)
{
    return c->store->ops->recall_notifying(c, a, out, err);
}

int store_recall_unit_notified(struct store_conn *c, int64_t recall_id,
                               int64_t unit_id, int64_t seq,
                               struct hrid_err *err)
{
    return c->store->ops->recall_unit_notified(c, recall_id, unit_id, seq,
                                               err);
}

/* A lot range open at one end is closed here, below or above every lot
 * (lots compare bytewise, and U+10FFFF is the highest character), so that
 * a backend gets either no range or a whole one, which an index serves.
 * Each model named is reached by its own statement, which its index
 * serves. */
int store_recall_reach(struct store_conn *c, int64_t recall_id,
                       const struct store_recall_target *t, int64_t *count,
                       struct hrid_err *err)
{
    struct store_recall_target closed = *t;
    struct store_comp_match part;
    size_t i = 0;
    int64_t n;
    int rc;

    *count = 0;
    if (t->part != NULL && (t->part->lot_from || t->part->lot_to)) {
        part = *t->part;
        if (part.lot_from == NULL)
            part.lot_from = "";
        if (part.lot_to == NULL)
            part.lot_to = "\xf4\x8f\xbf\xbf";
        closed.part = &part;
    }
    do {
        rc = c->store->ops->recall_reach(c, recall_id, &closed,
                                         t->n_models ? t->models[i] : 0, &n,
                                         err);
        if (rc != STORE_OK)
            return rc;
        *count += n;
    } while (++i < t->n_models);
    return STORE_OK;
}

int store_recall_unit_drop(struct store_conn *c, int64_t recall_id,
                           int64_t unit_id, struct hrid_err *err)
{
    return c->store->ops->recall_unit_drop(c, recall_id, unit_id, err);
}

int store_snapshot_put(struct store_conn *c, int64_t unit_id, int64_t seq,
                       int64_t at, const char *state, struct hrid_err *err)
{
    return c->store->ops->snapshot_put(c, unit_id, seq, at, state, err);
}

int store_snapshot_before(struct store_conn *c, int64_t unit_id, int64_t t,
                          struct arena *a, int64_t *seq, int64_t *at,
                          const char **state, struct hrid_err *err)
{
    return c->store->ops->snapshot_before(c, unit_id, t, a, seq, at, state,
                                          err);
}

int store_incident_insert(struct store_conn *c, struct store_incident *i,
                          struct hrid_err *err)
{
    return c->store->ops->incident_insert(c, i, err);
}

int store_incident_list(struct store_conn *c,
                        const struct store_incident_filter *f,
                        struct arena *a, store_each_incident_fn each,
                        void *ctx, struct hrid_err *err)
{
    return c->store->ops->incident_list(c, f, a, each, ctx, err);
}

int store_stats(struct store_conn *c, int what, int64_t enterprise_id,
                struct arena *a, store_each_stat_fn each, void *ctx,
                struct hrid_err *err)
{
    return c->store->ops->stats(c, what, enterprise_id, a, each, ctx, err);
}

int store_tel_put(struct store_conn *c, int kind, const struct store_tel *t,
                  bool replace, bool *inserted, struct hrid_err *err)
{
    return c->store->ops->tel_put(c, kind, t, replace, inserted, err);
}

int store_tel_range(struct store_conn *c, int kind, int64_t unit_id,
                    int64_t a, int64_t b_from, int64_t b_to, struct arena *ar,
                    store_each_tel_fn each, void *ctx, struct hrid_err *err)
{
    return c->store->ops->tel_range(c, kind, unit_id, a, b_from, b_to, ar,
                                    each, ctx, err);
}

int store_tel_units(struct store_conn *c, int kind, int64_t b_before,
                    int64_t after_unit, int limit, store_each_tel_fn each,
                    void *ctx, struct hrid_err *err)
{
    return c->store->ops->tel_units(c, kind, b_before, after_unit, limit,
                                    each, ctx, err);
}

int store_tel_delete(struct store_conn *c, int kind, int64_t unit_id,
                     int64_t b_from, int64_t b_to, struct hrid_err *err)
{
    return c->store->ops->tel_delete(c, kind, unit_id, b_from, b_to, err);
}

int store_rule_insert(struct store_conn *c, struct store_alert_rule *r,
                      struct hrid_err *err)
{
    return c->store->ops->rule_insert(c, r, err);
}

int store_rule_list(struct store_conn *c, int64_t enterprise_id,
                    int64_t model_row, struct arena *a,
                    store_each_rule_fn each, void *ctx, struct hrid_err *err)
{
    return c->store->ops->rule_list(c, enterprise_id, model_row, a, each, ctx,
                                    err);
}

int store_alert_find(struct store_conn *c, int64_t rule_id, int64_t unit_id,
                     int metric, struct arena *a, struct store_alert *out,
                     struct hrid_err *err)
{
    return c->store->ops->alert_find(c, rule_id, unit_id, metric, a, out, err);
}

int store_alert_put(struct store_conn *c, struct store_alert *al,
                    struct hrid_err *err)
{
    return c->store->ops->alert_put(c, al, err);
}

int store_alert_list(struct store_conn *c, const struct store_alert_filter *f,
                     struct arena *a, store_each_alert_fn each, void *ctx,
                     struct hrid_err *err)
{
    return c->store->ops->alert_list(c, f, a, each, ctx, err);
}

int store_rule_list_metric(struct store_conn *c, const char *metric,
                           int64_t after_id, int limit, struct arena *a,
                           store_each_rule_fn each, void *ctx,
                           struct hrid_err *err)
{
    return c->store->ops->rule_list_metric(c, metric, after_id, limit, a,
                                           each, ctx, err);
}

int store_seen_put(struct store_conn *c, const struct store_seen *s,
                   struct hrid_err *err)
{
    return c->store->ops->seen_put(c, s, err);
}

int store_seen_silent(struct store_conn *c, int64_t enterprise_id,
                      int64_t model_row, const char *state, int64_t before,
                      int64_t rule_id, int metric, int64_t after_unit,
                      int limit, store_each_seen_fn each, void *ctx,
                      struct hrid_err *err)
{
    return c->store->ops->seen_silent(c, enterprise_id, model_row, state,
                                      before, rule_id, metric, after_unit,
                                      limit, each, ctx, err);
}

int store_zone_insert(struct store_conn *c, struct store_zone *z,
                      struct hrid_err *err)
{
    return c->store->ops->zone_insert(c, z, err);
}

int store_zone_get(struct store_conn *c, int64_t id, struct arena *a,
                   struct store_zone *out, struct hrid_err *err)
{
    return c->store->ops->zone_get(c, id, a, out, err);
}

int store_fence_put(struct store_conn *c, const struct store_fence *f,
                    struct hrid_err *err)
{
    return c->store->ops->fence_put(c, f, err);
}

int store_fence_get(struct store_conn *c, int64_t unit_id, struct arena *a,
                    struct store_fence *out, struct hrid_err *err)
{
    return c->store->ops->fence_get(c, unit_id, a, out, err);
}

int store_violation_put(struct store_conn *c, struct store_violation *v,
                        struct hrid_err *err)
{
    return c->store->ops->violation_put(c, v, err);
}

int store_violation_list(struct store_conn *c, int64_t unit_id,
                         const char *state, int64_t after_id, int limit,
                         struct arena *a, store_each_violation_fn each,
                         void *ctx, struct hrid_err *err)
{
    return c->store->ops->violation_list(c, unit_id, state, after_id, limit,
                                         a, each, ctx, err);
}
