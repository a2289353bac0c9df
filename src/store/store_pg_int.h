/*
 * store/store_pg_int.h - what the PostgreSQL backend's files share
 * (store_pg.c: connections, transactions, the registry and the log;
 * store_pg_more.c: accountability, telemetry, alerts and fences).
 *
 * Statements are fixed SQL text with $n parameters, prepared on first use
 * on each connection under the name "h<id>"; values are sent as text (a
 * bytea as binary) and results come back as text.  Each file numbers its
 * statements from its own base, below PG_STMT_MAX.
 */
#ifndef STORE_STORE_PG_INT_H
#define STORE_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store_int.h"

#define PG_STMT_MAX  192
#define PG_BASE_MORE 96     /* store_pg_more.c's first statement id */
#define PG_ARGS_MAX  32

struct pg_conn {
    struct store_conn base;     /* first: store.c reaches ops through it */
    PGconn *db;
    bool writer;                /* the writer thread's */
    bool pipeline;              /* in libpq's pipeline mode (the writer) */
    bool db_lost;               /* the server said it is going away */
    int pending;                /* statements sent, results not yet read */
    int read_depth;             /* nesting of read_begin */
    bool prepared[PG_STMT_MAX];
};

static inline struct pg_conn *pgc(struct store_conn *c)
{
    return (struct pg_conn *)c;
}

/* A statement: its id (unique across the backend's files) and text. */
struct pg_stmt {
    int id;
    const char *sql;
};

/* The values of one statement's parameters, $1 first.  The first
 * failure (too many values) is kept and reported when it runs. */
struct pg_args {
    int n;
    bool overflow;
    const char *v[PG_ARGS_MAX];
    int len[PG_ARGS_MAX];
    int fmt[PG_ARGS_MAX];
    char num[PG_ARGS_MAX][32];
};

void pg_args_init(struct pg_args *a);
void pg_i64(struct pg_args *a, int64_t v);
void pg_id(struct pg_args *a, int64_t v);      /* 0 is sent as NULL */
void pg_f64(struct pg_args *a, double v);
void pg_str(struct pg_args *a, const char *s); /* NULL is sent as NULL */
void pg_blob(struct pg_args *a, const void *p, size_t n);

/*
 * Runs a statement.  Returns its result (rows or none) to PQclear, or
 * NULL with err set: STORE_CONFLICT for a unique key, STORE_NOTFOUND for
 * a foreign key naming a missing row, STORE_EIO otherwise, each with a
 * message about the subject (printf format).  *status gets the status.
 */
PGresult *pg_run(struct pg_conn *c, const struct pg_stmt *s,
                 const struct pg_args *a, int *status, struct hrid_err *err,
                 const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Sends a write whose result the caller does not need (no id, no count)
 * and returns without waiting when the connection is the writer's; its
 * failure fails the next statement that waits, or the job's end.  Runs it
 * at once elsewhere.  what names it in a message.
 */
int pg_defer(struct pg_conn *c, const struct pg_stmt *s,
             const struct pg_args *a, struct hrid_err *err,
             const char *what);

/* The rows a statement changed or returned. */
int64_t pg_changes(PGresult *res);

/* Reads the columns of one result row in order; strings are copied into
 * the arena, or point into the result when there is none (the caller
 * reads them within its callback only).  An allocation failure is kept
 * in oom. */
struct pg_row {
    PGresult *res;
    int row;
    int col;
    struct arena *a;
    bool oom;
};

void pg_row_init(struct pg_row *r, PGresult *res, int row, struct arena *a);
int64_t pg_row_i64(struct pg_row *r);
double pg_row_f64(struct pg_row *r);
const char *pg_row_str(struct pg_row *r);
void pg_row_fixed(struct pg_row *r, char *out, size_t cap);
void pg_row_hash(struct pg_row *r, unsigned char out[32]);
/* A bytea column decoded into the row's arena, which it needs (a bytea
 * comes as hex text, so there is nothing to point into); its length in
 * *n. */
const void *pg_row_blob(struct pg_row *r, size_t *n);

int pg_oom(struct hrid_err *err, const char *what);

/* A listing's LIMIT: PostgreSQL reads NULL as "no limit". */
void pg_limit(struct pg_args *a, int limit);

/* The operations store_pg_more.c implements, in store_ops order. */
int pg_cert_insert(struct store_conn *c, struct store_cert *k,
                   struct hrid_err *err);
int pg_cert_get(struct store_conn *c, int64_t id, struct arena *a,
                struct store_cert *out, struct hrid_err *err);
int pg_cert_revoke(struct store_conn *c, int64_t id, int64_t at,
                   struct hrid_err *err);
int pg_cert_list(struct store_conn *c, int64_t model_row, int64_t unit_id,
                 struct arena *a, store_each_cert_fn each, void *ctx,
                 struct hrid_err *err);
int pg_recall_insert(struct store_conn *c, struct store_recall *r,
                     struct hrid_err *err);
int pg_recall_get(struct store_conn *c, int64_t id, struct arena *a,
                  struct store_recall *out, struct hrid_err *err);
int pg_recall_close(struct store_conn *c, int64_t id, int64_t at,
                    struct hrid_err *err);
int pg_recall_unit_remedied(struct store_conn *c, int64_t recall_id,
                            int64_t unit_id, int64_t seq, int64_t at,
                            struct hrid_err *err);
int pg_recall_unit_list(struct store_conn *c, int64_t recall_id,
                        int64_t unit_id, const char *state, int64_t after_unit,
                        int limit, struct arena *a,
                        store_each_recall_unit_fn each, void *ctx,
                        struct hrid_err *err);
int pg_recall_counts(struct store_conn *c, int64_t recall_id,
                     int64_t *notified, int64_t *remedied, int64_t *owed,
                     struct hrid_err *err);
int pg_recall_set_notify(struct store_conn *c, int64_t id, int64_t after,
                         struct hrid_err *err);
int pg_recall_notifying(struct store_conn *c, struct arena *a,
                        struct store_recall *out, struct hrid_err *err);
int pg_recall_unit_notified(struct store_conn *c, int64_t recall_id,
                            int64_t unit_id, int64_t seq,
                            struct hrid_err *err);
int pg_recall_reach(struct store_conn *c, int64_t recall_id,
                    const struct store_recall_target *t, int64_t model_row,
                    int64_t *added, struct hrid_err *err);
int pg_recall_unit_drop(struct store_conn *c, int64_t recall_id,
                        int64_t unit_id, struct hrid_err *err);
int pg_incident_insert(struct store_conn *c, struct store_incident *i,
                       struct hrid_err *err);
int pg_incident_list(struct store_conn *c,
                     const struct store_incident_filter *f, struct arena *a,
                     store_each_incident_fn each, void *ctx,
                     struct hrid_err *err);
int pg_stats(struct store_conn *c, int what, int64_t enterprise_id,
             struct arena *a, store_each_stat_fn each, void *ctx,
             struct hrid_err *err);
int pg_tel_put(struct store_conn *c, int kind, const struct store_tel *t,
               bool replace, bool *inserted, struct hrid_err *err);
int pg_tel_range(struct store_conn *c, int kind, int64_t unit_id, int64_t a,
                 int64_t b_from, int64_t b_to, struct arena *a_,
                 store_each_tel_fn each, void *ctx, struct hrid_err *err);
int pg_tel_units(struct store_conn *c, int kind, int64_t b_before,
                 int64_t after_unit, int limit, store_each_tel_fn each,
                 void *ctx, struct hrid_err *err);
int pg_tel_delete(struct store_conn *c, int kind, int64_t unit_id,
                  int64_t b_from, int64_t b_to, struct hrid_err *err);
int pg_rule_insert(struct store_conn *c, struct store_alert_rule *r,
                   struct hrid_err *err);
int pg_rule_list(struct store_conn *c, int64_t enterprise_id,
                 int64_t model_row, struct arena *a, store_each_rule_fn each,
                 void *ctx, struct hrid_err *err);
int pg_alert_find(struct store_conn *c, int64_t rule_id, int64_t unit_id,
                  int metric, struct arena *a, struct store_alert *out,
                  struct hrid_err *err);
int pg_alert_put(struct store_conn *c, struct store_alert *al,
                 struct hrid_err *err);
int pg_alert_list(struct store_conn *c, const struct store_alert_filter *f,
                  struct arena *a, store_each_alert_fn each, void *ctx,
                  struct hrid_err *err);
int pg_rule_list_metric(struct store_conn *c, const char *metric,
                        int64_t after_id, int limit, struct arena *a,
                        store_each_rule_fn each, void *ctx,
                        struct hrid_err *err);
int pg_seen_put(struct store_conn *c, const struct store_seen *s,
                struct hrid_err *err);
int pg_seen_silent(struct store_conn *c, int64_t enterprise_id,
                   int64_t model_row, const char *state, int64_t before,
                   int64_t rule_id, int metric, int64_t after_unit, int limit,
                   store_each_seen_fn each, void *ctx, struct hrid_err *err);
int pg_zone_insert(struct store_conn *c, struct store_zone *z,
                   struct hrid_err *err);
int pg_zone_get(struct store_conn *c, int64_t id, struct arena *a,
                struct store_zone *out, struct hrid_err *err);
int pg_fence_put(struct store_conn *c, const struct store_fence *f,
                 struct hrid_err *err);
int pg_fence_get(struct store_conn *c, int64_t unit_id, struct arena *a,
                 struct store_fence *out, struct hrid_err *err);
int pg_violation_put(struct store_conn *c, struct store_violation *v,
                     struct hrid_err *err);
int pg_violation_list(struct store_conn *c, int64_t unit_id, const char *state,
                      int64_t after_id, int limit, struct arena *a,
                      store_each_violation_fn each, void *ctx,
                      struct hrid_err *err);
int pg_snapshot_put(struct store_conn *c, int64_t unit_id, int64_t seq,
                    int64_t at, const char *state, struct hrid_err *err);
int pg_snapshot_before(struct store_conn *c, int64_t unit_id, int64_t t,
                       struct arena *a, int64_t *seq, int64_t *at,
                       const char **state, struct hrid_err *err);

#endif
