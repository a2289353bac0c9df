/*
 * store/store.h - persistence behind one interface.
 *
 * Layer: src/store.  Core calls only the store_* wrappers declared here;
 * each backend (store_sqlite.c now, store_pg.c later) fills a struct
 * store_ops, as SQLite's VFS and curl's TLS backends do.  The store knows
 * rows, not rules: it never decides whether an event is allowed, it only
 * reads and writes what core asks, inside the transactions core asks for.
 *
 * Connections.  A struct store is shared by all threads.  A thread reads
 * through the connection store_conn() gives it (one per thread, made on
 * first use), and writes only through store_write(): core hands it a
 * function that runs inside a write transaction, and store_write returns
 * once that transaction is durable.  A backend may run several callers'
 * functions in one transaction (group commit): each runs inside its own
 * savepoint, so a function that fails rolls back only its own writes, and
 * every caller learns its own result only after the commit.  Functions run
 * one at a time, in arrival order, so each sees the writes of the ones
 * before it and concurrent writers to one unit are serialised.
 *
 * Records are plain structs.  Strings a read returns live in the arena the
 * caller passes and stay valid until that arena is released; strings a
 * write takes are copied by the store before it returns.  Times are
 * milliseconds since 1970-01-01T00:00:00Z (UTC); 0 means "none" in a time
 * field and 0 means "none" in a party-id field.  JSON-valued fields hold
 * compact JSON text.
 *
 * Every operation returns STORE_OK (0) or a status below, with a message
 * in the struct hrid_err the caller passes.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "hrid/code.h"
#include "hrid/error.h"

enum store_status {
    STORE_OK = 0,
    STORE_NOTFOUND = 100,   /* no such row */
    STORE_CONFLICT,         /* a unique key already exists */
    STORE_EIO,              /* the database failed (disk, corruption, ...) */
    STORE_ABORT             /* a store_write function asked to roll back */
};

/* The party kinds (DESIGN §1).  A manufacturer is an enterprise with a
 * 4-character code in the identity code; the others have none. */
#define STORE_PARTY_KIND_MAX 16

struct store_party {
    int64_t id;
    const char *kind;        /* platform, regulator, manufacturer, seller,
                                owner, service, recycler, certifier */
    const char *name;        /* legal name */
    const char *public_name; /* shown to the public; may equal name */
    const char *country;     /* ISO 3166-1 alpha-2 */
    const char *ent_code;    /* manufacturers: 4 characters; else NULL */
    const char *info;        /* JSON object: address, contact, registry no */
    int64_t created_at;
};

/* API keys are stored as the SHA-256 of the whole key; key_id is the
 * public part of the key that finds the row. */
struct store_key {
    int64_t id;
    const char *key_id;
    unsigned char hash[32];
    int64_t party_id;
    const char *role;        /* admin, regulator, manufacturer, seller,
                                owner, service, recycler, certifier */
    const char *label;
    int64_t created_at;
    int64_t revoked_at;      /* 0 while the key is live */
};

struct store_model {
    int64_t id;
    char model_id[HRID_MODEL_ID_LEN + 1];  /* CC + EEEE + MMMMMM */
    int64_t enterprise_id;                 /* the manufacturer's party id */
    int level;
    int filing_year;
    const char *name;
    const char *status;      /* filed, approved, withdrawn */
    const char *params;      /* JSON: technical parameters */
    const char *filing;      /* JSON: the filing record */
    int64_t filed_at;
    int64_t approved_at;
    int64_t approved_by;     /* party id of the regulator */
    int64_t withdrawn_at;
};

struct store_unit {
    int64_t id;
    char code[HRID_CODE_LEN + 1];
    int64_t model_row;       /* store_model.id */
    int64_t enterprise_id;
    const char *state;       /* registered, released, in_service, ... */
    const char *prev_state;  /* the state a suspension returns to; or NULL */
    int64_t custodian_id;
    int64_t owner_id;
    int64_t operator_id;
    const char *serial;      /* 16-character serial body */
    const char *batch;
    const char *production_date;   /* YYYY-MM-DD */
    const char *factory;
    const char *firmware;    /* JSON object: component -> version */
    const char *device_key;  /* base64 Ed25519 public key, or NULL */
    const char *site;        /* JSON object, or NULL */
    const char *scenario;    /* or NULL */
    const char *region;      /* site region code, or NULL */
    const char *market_filing_no;  /* set by release, or NULL */
    const char *jurisdiction;      /* ISO 3166-1 alpha-2 */
    const char *extra;       /* JSON object: registration fields kept as
                                given (the canonical record is the event) */
    int64_t registered_at;
    int64_t updated_at;      /* when a column above last changed */
    /* Read from the unit's latest event (its unit_count, unit_last_at),
     * not kept in the row: an event that changes nothing else (an
     * inspection, a notice) then leaves the row alone. */
    int64_t last_event_at;
    int64_t last_event_seq;
    int64_t event_count;
};

/* What a unit's view lists besides its row (store_unit_view_get). */
struct store_unit_marks {
    bool certified;          /* a certification names the unit or model */
    bool recalled;           /* a recall awaits the unit's remedy */
};

struct store_component {
    int64_t id;
    int64_t unit_id;
    const char *slot;
    const char *part_no;
    const char *supplier;
    const char *lot;
    const char *serial;
    int64_t installed_at;
    int64_t installed_seq;   /* the event that installed it */
    int64_t removed_at;      /* 0 while installed */
    int64_t removed_seq;
};

struct store_event {
    int64_t seq;             /* global order of acceptance, from 1 */
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    const char *type;
    int64_t at;              /* when it happened */
    int64_t recorded_at;     /* when the registry accepted it */
    int64_t actor_id;        /* the party that recorded it */
    const char *actor_role;
    const char *body;        /* canonical JSON of the event's fields */
    /* The unit's history with this event: how many events, and the
     * latest at among them (an incident may be late).  Set by the caller
     * of store_event_append; the unit's counts are read from its latest
     * event. */
    int64_t unit_count;
    int64_t unit_last_at;
    /* Only from store_event_scan with with_unit: the code of the unit row
     * the event is filed under (unit_id), "" when there is none.  The
     * audit checks it equals code, which the log covers. */
    const char *unit_code;
};

struct store_grant {
    int64_t id;
    int64_t unit_id;
    int64_t grantee_id;
    int64_t granted_by;
    const char *scope;       /* maintenance, recycling, ... */
    int64_t valid_from;
    int64_t valid_until;
    int64_t revoked_at;      /* 0 while not revoked */
    int64_t created_at;
};

/*
 * The log (DESIGN §5) is stored as tiles, as C2SP tlog-tiles lays it out:
 * tile (level L, index N) holds up to STORE_TILE_WIDTH consecutive hashes
 * of tree level 8L, from node N * 256 on; level 0 holds the leaf hashes,
 * level 1 the roots of full level-0 tiles, and so on.  Only the rightmost
 * tile of a level is partial (width < 256), and it is rewritten as the
 * log grows.  The store keeps the bytes; src/ledger knows what they mean.
 */
#define STORE_TILE_WIDTH 256
#define STORE_TILE_BYTES (STORE_TILE_WIDTH * 32)

/* The last checkpoint the node signed (src/ledger/checkpoint). */
struct store_checkpoint {
    int64_t size;               /* tree size it commits to */
    unsigned char root[32];
    const char *note;           /* the signed note, as published */
    int64_t signed_at;
};

/* A certification (DESIGN §2, §3) of a model (unit_id 0) or of one unit
 * (model_row 0): what a certifier or regulator found the robot fit for. */
struct store_cert {
    int64_t id;
    int64_t model_row;
    int64_t unit_id;
    const char *scheme;      /* e.g. "GB/T 12345-2026 service robots" */
    const char *tier;        /* the scheme's grade, or NULL */
    const char *scenarios;   /* JSON array of scenario names */
    const char *conditions;  /* free text, or NULL */
    const char *limits;      /* JSON object (max_speed_mps, ...), or NULL */
    int64_t valid_from;
    int64_t valid_until;
    int64_t issuer_id;
    int64_t created_at;
    int64_t revoked_at;      /* 0 while not revoked */
};

/* A recall campaign and the units it reached. */
struct store_recall {
    int64_t id;
    int64_t enterprise_id;   /* the maker whose units are recalled */
    int64_t created_by;      /* the party that opened it */
    bool ordered;            /* ordered by a regulator */
    const char *defect;
    const char *hazard;
    const char *remedy;
    const char *target;      /* JSON: the criteria, as given */
    const char *status;      /* open, closed */
    int64_t created_at;
    int64_t closed_at;
    int64_t notify_after;    /* -1: every unit's notice is written; else
                                those of units after this unit row may
                                still be owed (notified_seq 0) */
};

struct store_recall_unit {
    int64_t recall_id;
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    const char *state;       /* notified, remedied */
    int64_t notified_seq;    /* the recall_notice event, 0 while owed */
    int64_t remedied_seq;    /* the recall_remedy event, or 0 */
    int64_t remedied_at;
};

/* An incident report on a unit, with the unit as it stood then. */
struct store_incident {
    int64_t id;
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    int64_t model_row;
    int64_t enterprise_id;
    int64_t at;              /* when it happened */
    int64_t recorded_at;
    const char *severity;    /* minor, serious, critical, fatal */
    const char *kind;        /* collision, fall, data, security, other */
    const char *place;
    const char *description;
    int64_t reporter_id;     /* 0: a member of the public */
    bool verified;           /* filed by a custodian, operator, regulator */
    const char *contact;     /* a public reporter's, optional */
    int64_t event_seq;       /* the incident event, 0 for public reports */
    const char *snapshot;    /* JSON: the unit as of at */
};

struct store_incident_filter {
    int64_t unit_id, model_row, enterprise_id;   /* 0: any */
    int verified;            /* -1 any, 0 unverified, 1 verified */
    int64_t after_id;
    int limit;
};

/* Market statistics (DESIGN §4) come from counts the store maintains as
 * units are written: units by (enterprise, model, state, region), and
 * registrations and releases by (enterprise, model, month).  k1..k3 and
 * n1, n2 mean what each listing says. */
struct store_stat {
    int64_t enterprise_id;
    int64_t model_row;
    const char *k1;          /* state, or month YYYY-MM */
    const char *k2;          /* region, or NULL */
    int64_t n1, n2;
};

/* Telemetry is stored as blobs the telemetry engine makes (src/telemetry,
 * docs/telemetry.md), keyed by kind, unit, a (a metric, or 0) and b (a
 * time: a report's, or a window's start). */
enum store_tel_kind {
    STORE_TEL_STAGED = 1,    /* a report as received: a = 0, b = its time */
    STORE_TEL_CHUNK,         /* a raw chunk: a = metric, b = its window */
    STORE_TEL_ROLLUP,        /* an hourly rollup chunk: a = metric, b = its
                                seven-day window */
    STORE_TEL_LATEST         /* a unit's latest report: a = 0, b = 0 */
};

struct store_tel {
    int64_t unit_id;
    int64_t a, b;
    const void *data;
    size_t len;
};

/* An alert rule on a model's (or an enterprise's) telemetry: a value of
 * metric beyond threshold for at least for_ms opens an alert per unit
 * and metric; a value back within clears it. */
struct store_alert_rule {
    int64_t id;
    int64_t enterprise_id;
    int64_t model_row;       /* 0: every model of the enterprise */
    const char *metric;      /* a metric name, or joint.*.wear / joint.*.temp */
    const char *op;          /* ">" or "<" */
    double threshold;
    int64_t for_ms;
    int64_t created_by;
    int64_t created_at;
};

struct store_alert {
    int64_t id;
    int64_t rule_id;
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    int64_t model_row;
    int64_t enterprise_id;
    int metric;              /* the metric id */
    const char *state;       /* pending, open, cleared */
    int64_t since;           /* the first report beyond the threshold */
    int64_t opened_at, cleared_at;
    double value;            /* the last value seen */
};

/* A unit's last report time, kept for rules that watch for silence. */
struct store_seen {
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    int64_t enterprise_id;
    int64_t model_row;
    int64_t t;
};

struct store_alert_filter {
    int64_t unit_id, model_row, enterprise_id;   /* 0: any */
    const char *state;       /* NULL: open and cleared */
    int64_t after_id;
    int limit;
};

/* Electronic fences (DESIGN §4): zones, a unit's permission profile, and
 * the violations its reported locations make. */
struct store_zone {
    int64_t id;
    const char *name;
    const char *polygon;     /* GeoJSON Polygon, as checked by core */
    int64_t created_by;
    int64_t created_at;
};

struct store_fence {
    int64_t unit_id;
    const char *zones;       /* JSON array of zone ids */
    const char *scenarios;   /* JSON array, or NULL */
    double speed_limit;      /* m/s, 0 for none */
    int64_t set_by;
    int64_t set_at;
};

struct store_violation {
    int64_t id;
    int64_t unit_id;
    char code[HRID_CODE_LEN + 1];
    int64_t enterprise_id;
    const char *state;       /* open, closed */
    int64_t first_t, last_t; /* the first and last offending reports */
    double lat, lon;         /* the last offending location */
    int64_t closed_at;       /* the first report back inside, or 0 */
};

/* A stored reply to a request made with an Idempotency-Key. */
struct store_idem {
    int64_t party_id;
    const char *key;
    unsigned char req_hash[32];  /* SHA-256 of method, path and body */
    int status;                  /* the HTTP status that was returned */
    const char *response;        /* the body that was returned */
    int64_t created_at;
};

/* Units with a component of part_no (and supplier, and a lot within
 * [lot_from, lot_to], when given), installed now or ever. */
struct store_comp_match {
    const char *part_no;
    const char *supplier;
    const char *lot_from, *lot_to;
    bool current_only;
};

/* The units a recall reaches: enterprise_id's units that are not
 * scrapped, recycled or voided, of one of models (none: any model), with
 * their batch and production date within the ranges given (a NULL bound
 * is open; a unit without the field is outside a range), and holding a
 * component that matches part when it is not NULL. */
struct store_recall_target {
    int64_t enterprise_id;
    const int64_t *models;
    size_t n_models;
    const char *batch_from, *batch_to;
    const char *date_from, *date_to;
    const struct store_comp_match *part;
};

/* Which units a listing returns.  Zero fields do not filter. */
struct store_unit_filter {
    int64_t enterprise_id;
    int64_t custodian_id;
    int64_t model_row;
    const char *state;
    const char *after_code;  /* keyset pagination: codes greater than this */
    int limit;
};

struct store;
struct store_conn;

/* Called for each row of a listing; a non-zero return stops the listing
 * and becomes its result. */
typedef int (*store_each_party_fn)(void *ctx, const struct store_party *p);
typedef int (*store_each_model_fn)(void *ctx, const struct store_model *m);
typedef int (*store_each_unit_fn)(void *ctx, const struct store_unit *u);
typedef int (*store_each_component_fn)(void *ctx,
                                       const struct store_component *c);
typedef int (*store_each_event_fn)(void *ctx, const struct store_event *e);
typedef int (*store_each_grant_fn)(void *ctx, const struct store_grant *g);
typedef int (*store_each_key_fn)(void *ctx, const struct store_key *k);
typedef int (*store_each_cert_fn)(void *ctx, const struct store_cert *c);
typedef int (*store_each_stat_fn)(void *ctx, const struct store_stat *s);
typedef int (*store_each_tel_fn)(void *ctx, const struct store_tel *t);
typedef int (*store_each_rule_fn)(void *ctx,
                                  const struct store_alert_rule *r);
typedef int (*store_each_alert_fn)(void *ctx, const struct store_alert *a);
typedef int (*store_each_seen_fn)(void *ctx, const struct store_seen *s);
typedef int (*store_each_violation_fn)(void *ctx,
                                       const struct store_violation *v);
typedef int (*store_each_incident_fn)(void *ctx,
                                      const struct store_incident *i);
typedef int (*store_each_recall_unit_fn)(void *ctx,
                                         const struct store_recall_unit *r);

/* A function store_write runs inside a write transaction.  It returns
 * STORE_OK to keep its writes, or anything else to roll them back; that
 * value is what store_write returns. */
typedef int (*store_write_fn)(struct store_conn *c, void *arg,
                              struct hrid_err *err);

/* What store_write_async calls once the write is over: result is what
 * store_write would have returned. */
typedef void (*store_done_fn)(void *arg, int result);

/* A function a backend runs in every write transaction after the callers'
 * functions and before COMMIT (see store_set_precommit). */
typedef int (*store_precommit_fn)(struct store_conn *c, void *arg,
                                  struct hrid_err *err);

struct store_ops {
    const char *name;        /* "sqlite", "postgresql" */

    int (*open)(const char *uri, struct store **out, struct hrid_err *err);
    void (*close)(struct store *s);
    struct store_conn *(*conn)(struct store *s, struct hrid_err *err);
    /* store_write without done, store_write_async with it */
    int (*write)(struct store *s, store_write_fn fn, void *arg,
                 struct hrid_err *err, store_done_fn done, void *done_arg);
    void (*set_precommit)(struct store *s, store_precommit_fn fn, void *arg);
    int (*read_begin)(struct store_conn *c, struct hrid_err *err);
    void (*read_end)(struct store_conn *c);

    int (*counter_add)(struct store_conn *c, const char *name, int64_t count,
                       int64_t *value, struct hrid_err *err);

    int (*party_insert)(struct store_conn *c, struct store_party *p,
                        struct hrid_err *err);
    int (*party_get)(struct store_conn *c, int64_t id, struct arena *a,
                     struct store_party *out, struct hrid_err *err);
    int (*party_by_ent_code)(struct store_conn *c, const char *country,
                             const char *ent_code, struct arena *a,
                             struct store_party *out, struct hrid_err *err);
    int (*party_list)(struct store_conn *c, const char *kind, int64_t after_id,
                      int limit, struct arena *a, store_each_party_fn each,
                      void *ctx, struct hrid_err *err);

    int (*key_insert)(struct store_conn *c, struct store_key *k,
                      struct hrid_err *err);
    int (*key_get)(struct store_conn *c, const char *key_id, struct arena *a,
                   struct store_key *out, struct hrid_err *err);
    int (*key_revoke)(struct store_conn *c, int64_t id, int64_t at,
                      struct hrid_err *err);
    int (*key_list)(struct store_conn *c, int64_t party_id, struct arena *a,
                    store_each_key_fn each, void *ctx, struct hrid_err *err);

    int (*model_insert)(struct store_conn *c, struct store_model *m,
                        struct hrid_err *err);
    int (*model_get)(struct store_conn *c, const char *model_id,
                     struct arena *a, struct store_model *out,
                     struct hrid_err *err);
    int (*model_get_row)(struct store_conn *c, int64_t id, struct arena *a,
                         struct store_model *out, struct hrid_err *err);
    int (*model_update)(struct store_conn *c, const struct store_model *m,
                        struct hrid_err *err);
    int (*model_list)(struct store_conn *c, int64_t enterprise_id,
                      int64_t after_id, int limit, struct arena *a,
                      store_each_model_fn each, void *ctx,
                      struct hrid_err *err);

    int (*unit_insert)(struct store_conn *c, struct store_unit *u,
                       struct hrid_err *err);
    int (*unit_get)(struct store_conn *c, const char *code, struct arena *a,
                    struct store_unit *out, struct hrid_err *err);
    int (*unit_view_get)(struct store_conn *c, const char *code,
                         struct arena *a, struct store_unit *out,
                         struct store_unit_marks *marks,
                         struct hrid_err *err);
    int (*unit_history)(struct store_conn *c, struct store_unit *u,
                        struct hrid_err *err);
    int (*unit_update)(struct store_conn *c, const struct store_unit *was,
                       const struct store_unit *u, struct hrid_err *err);
    int (*unit_list)(struct store_conn *c, const struct store_unit_filter *f,
                     struct arena *a, store_each_unit_fn each, void *ctx,
                     struct hrid_err *err);
    int (*unit_count)(struct store_conn *c, int64_t *n, struct hrid_err *err);

    int (*component_insert)(struct store_conn *c, struct store_component *k,
                            size_t n, struct hrid_err *err);
    int (*component_remove)(struct store_conn *c, int64_t id, int64_t at,
                            int64_t seq, struct hrid_err *err);
    int (*component_list)(struct store_conn *c, int64_t unit_id,
                          bool installed_only, struct arena *a,
                          store_each_component_fn each, void *ctx,
                          struct hrid_err *err);

    int (*event_append)(struct store_conn *c, struct store_event *e,
                        struct hrid_err *err);
    int (*event_list)(struct store_conn *c, int64_t unit_id, int64_t after_seq,
                      int limit, struct arena *a, store_each_event_fn each,
                      void *ctx, struct hrid_err *err);
    int (*event_scan)(struct store_conn *c, int64_t after_seq, int limit,
                      bool with_unit, struct arena *a,
                      store_each_event_fn each, void *ctx,
                      struct hrid_err *err);

    int (*tile_get)(struct store_conn *c, int level, int64_t index,
                    unsigned char *hashes, int *width, struct hrid_err *err);
    int (*tile_put)(struct store_conn *c, int level, int64_t index,
                    const unsigned char *hashes, int width,
                    struct hrid_err *err);
    int (*tile_last)(struct store_conn *c, int level, int64_t *index,
                     int *width, struct hrid_err *err);
    int (*checkpoint_get)(struct store_conn *c, struct arena *a,
                          struct store_checkpoint *out, struct hrid_err *err);
    int (*checkpoint_put)(struct store_conn *c,
                          const struct store_checkpoint *cp,
                          struct hrid_err *err);

    int (*grant_insert)(struct store_conn *c, struct store_grant *g,
                        struct hrid_err *err);
    int (*grant_list)(struct store_conn *c, int64_t unit_id, struct arena *a,
                      store_each_grant_fn each, void *ctx,
                      struct hrid_err *err);

    int (*idem_get)(struct store_conn *c, int64_t party_id, const char *key,
                    struct arena *a, struct store_idem *out,
                    struct hrid_err *err);
    int (*idem_put)(struct store_conn *c, const struct store_idem *r,
                    struct hrid_err *err);
    int (*idem_expire)(struct store_conn *c, int64_t before, int limit,
                       int64_t *deleted, struct hrid_err *err);

    int (*cert_insert)(struct store_conn *c, struct store_cert *k,
                       struct hrid_err *err);
    int (*cert_get)(struct store_conn *c, int64_t id, struct arena *a,
                    struct store_cert *out, struct hrid_err *err);
    int (*cert_revoke)(struct store_conn *c, int64_t id, int64_t at,
                       struct hrid_err *err);
    int (*cert_list)(struct store_conn *c, int64_t model_row, int64_t unit_id,
                     struct arena *a, store_each_cert_fn each, void *ctx,
                     struct hrid_err *err);

    int (*recall_insert)(struct store_conn *c, struct store_recall *r,
                         struct hrid_err *err);
    int (*recall_get)(struct store_conn *c, int64_t id, struct arena *a,
                      struct store_recall *out, struct hrid_err *err);
    int (*recall_close)(struct store_conn *c, int64_t id, int64_t at,
                        struct hrid_err *err);
    int (*recall_unit_remedied)(struct store_conn *c, int64_t recall_id,
                                int64_t unit_id, int64_t seq, int64_t at,
                                struct hrid_err *err);
    int (*recall_unit_list)(struct store_conn *c, int64_t recall_id,
                            int64_t unit_id, const char *state,
                            int64_t after_unit, int limit, struct arena *a,
                            store_each_recall_unit_fn each, void *ctx,
                            struct hrid_err *err);
    int (*recall_counts)(struct store_conn *c, int64_t recall_id,
                         int64_t *notified, int64_t *remedied,
                         int64_t *owed, struct hrid_err *err);
    int (*recall_set_notify)(struct store_conn *c, int64_t id,
                             int64_t after, struct hrid_err *err);
    int (*recall_notifying)(struct store_conn *c, struct arena *a,
                            struct store_recall *out, struct hrid_err *err);
    int (*recall_unit_notified)(struct store_conn *c, int64_t recall_id,
                                int64_t unit_id, int64_t seq,
                                struct hrid_err *err);
    int (*recall_reach)(struct store_conn *c, int64_t recall_id,
                        const struct store_recall_target *t,
                        int64_t model_row, int64_t *added,
                        struct hrid_err *err);
    int (*recall_unit_drop)(struct store_conn *c, int64_t recall_id,
                            int64_t unit_id, struct hrid_err *err);

    int (*incident_insert)(struct store_conn *c, struct store_incident *i,
                           struct hrid_err *err);
    int (*incident_list)(struct store_conn *c,
                         const struct store_incident_filter *f,
                         struct arena *a, store_each_incident_fn each,
                         void *ctx, struct hrid_err *err);

    int (*stats)(struct store_conn *c, int what, int64_t enterprise_id,
                 struct arena *a, store_each_stat_fn each, void *ctx,
                 struct hrid_err *err);

    int (*tel_put)(struct store_conn *c, int kind, const struct store_tel *t,
                   bool replace, bool *inserted, struct hrid_err *err);
    int (*tel_range)(struct store_conn *c, int kind, int64_t unit_id,
                     int64_t a, int64_t b_from, int64_t b_to, struct arena *a_,
                     store_each_tel_fn each, void *ctx, struct hrid_err *err);
    int (*tel_units)(struct store_conn *c, int kind, int64_t b_before,
                     int64_t after_unit, int limit, store_each_tel_fn each,
                     void *ctx, struct hrid_err *err);
    int (*tel_delete)(struct store_conn *c, int kind, int64_t unit_id,
                      int64_t b_from, int64_t b_to, struct hrid_err *err);

    int (*rule_insert)(struct store_conn *c, struct store_alert_rule *r,
                       struct hrid_err *err);
    int (*rule_list)(struct store_conn *c, int64_t enterprise_id,
                     int64_t model_row, struct arena *a,
                     store_each_rule_fn each, void *ctx,
                     struct hrid_err *err);
    int (*alert_find)(struct store_conn *c, int64_t rule_id, int64_t unit_id,
                      int metric, struct arena *a, struct store_alert *out,
                      struct hrid_err *err);
    int (*alert_put)(struct store_conn *c, struct store_alert *al,
                     struct hrid_err *err);
    int (*alert_list)(struct store_conn *c,
                      const struct store_alert_filter *f, struct arena *a,
                      store_each_alert_fn each, void *ctx,
                      struct hrid_err *err);
    int (*rule_list_metric)(struct store_conn *c, const char *metric,
                            int64_t after_id, int limit, struct arena *a,
                            store_each_rule_fn each, void *ctx,
                            struct hrid_err *err);
    int (*seen_put)(struct store_conn *c, const struct store_seen *s,
                    struct hrid_err *err);
    int (*seen_silent)(struct store_conn *c, int64_t enterprise_id,
                       int64_t model_row, const char *state, int64_t before,
                       int64_t rule_id, int metric, int64_t after_unit,
                       int limit, store_each_seen_fn each, void *ctx,
                       struct hrid_err *err);

    int (*zone_insert)(struct store_conn *c, struct store_zone *z,
                       struct hrid_err *err);
    int (*zone_get)(struct store_conn *c, int64_t id, struct arena *a,
                    struct store_zone *out, struct hrid_err *err);
    int (*fence_put)(struct store_conn *c, const struct store_fence *f,
                     struct hrid_err *err);
    int (*fence_get)(struct store_conn *c, int64_t unit_id, struct arena *a,
                     struct store_fence *out, struct hrid_err *err);
    int (*violation_put)(struct store_conn *c, struct store_violation *v,
                         struct hrid_err *err);
    int (*violation_list)(struct store_conn *c, int64_t unit_id,
                          const char *state, int64_t after_id, int limit,
                          struct arena *a, store_each_violation_fn each,
                          void *ctx, struct hrid_err *err);

    int (*snapshot_put)(struct store_conn *c, int64_t unit_id, int64_t seq,
                        int64_t at, const char *state, struct hrid_err *err);
    int (*snapshot_before)(struct store_conn *c, int64_t unit_id, int64_t t,
                           struct arena *a, int64_t *seq, int64_t *at,
                           const char **state, struct hrid_err *err);
};

/* The backends compiled in. */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Whether uri names a database server (postgresql://, postgres://) rather
 * than a file. */
bool store_is_server_uri(const char *uri);

/*
 * Opens the store named by uri: a file path (SQLite; created with the
 * current schema if missing, migrated forward if older) or a
 * postgresql:// uri (libpq's connection uri; the database must exist, its
 * schema is created or migrated the same way).  "?mode=ro" opens
 * an existing store for reading only (no migration, store_write fails), as
 * offline tools such as the audit do.  Returns STORE_OK and a store to
 * close with store_close, or an error.
 */
int store_open(const char *uri, struct store **out, struct hrid_err *err);
void store_close(struct store *s);

/* The name of the backend ("sqlite"). */
const char *store_backend(const struct store *s);

/*
 * The calling thread's read connection, made on first use and closed by
 * store_close.  Borrowed: never closed by the caller, never handed to
 * another thread.  NULL (with err set) when the connection cannot open.
 */
struct store_conn *store_conn(struct store *s, struct hrid_err *err);

/*
 * Runs fn(conn, arg, err) inside a write transaction and returns once the
 * transaction has committed durably (or fn's writes were rolled back).
 * Returns fn's result, or STORE_EIO when the commit failed, in which case
 * nothing fn wrote is kept.  fn must not call store_write itself.
 */
int store_write(struct store *s, store_write_fn fn, void *arg,
                struct hrid_err *err);

/*
 * store_write without the wait: queues fn and returns at once.  Once the
 * transaction is over, done(done_arg, result) runs on the writer's
 * thread, with result what store_write would have returned; it must be
 * quick (the next transaction waits for it), must not call store_write,
 * and is not NULL.  fn, arg and err must stay valid until then.  Returns
 * STORE_OK when queued; any other result (with err set) means fn will
 * never run and done is never called.
 */
int store_write_async(struct store *s, store_write_fn fn, void *arg,
                      struct hrid_err *err, store_done_fn done,
                      void *done_arg);

/*
 * Installs fn to run in every write transaction, after the functions of
 * the callers it carries and before COMMIT, on the writer's connection;
 * if fn fails, the transaction rolls back and every caller in it fails
 * with fn's message.  It is how the log (src/ledger) takes in the events
 * a transaction appended, in that same transaction.  Set once, before the
 * first store_write; NULL removes it.
 */
void store_set_precommit(struct store *s, store_precommit_fn fn, void *arg);

/* A consistent snapshot for several reads on one connection (a unit, its
 * components and its events, say).  Every read_begin is paired with a
 * read_end. */
int store_read_begin(struct store_conn *c, struct hrid_err *err);
void store_read_end(struct store_conn *c);

/* The operations of struct store_ops, one wrapper each, with the same
 * arguments and results. */
int store_counter_add(struct store_conn *c, const char *name, int64_t count,
                      int64_t *value, struct hrid_err *err);

/* Counters start at 0; counter_add adds count (at least 1) and returns the
 * new value, so the caller owns value - count + 1 .. value.
 * store_counter_next is counter_add with a count of 1. */
int store_counter_next(struct store_conn *c, const char *name, int64_t *value,
                       struct hrid_err *err);
int store_party_insert(struct store_conn *c, struct store_party *p,
                       struct hrid_err *err);
int store_party_get(struct store_conn *c, int64_t id, struct arena *a,
                    struct store_party *out, struct hrid_err *err);
int store_party_by_ent_code(struct store_conn *c, const char *country,
                            const char *ent_code, struct arena *a,
                            struct store_party *out, struct hrid_err *err);
int store_party_list(struct store_conn *c, const char *kind, int64_t after_id,
                     int limit, struct arena *a, store_each_party_fn each,
                     void *ctx, struct hrid_err *err);
int store_key_insert(struct store_conn *c, struct store_key *k,
                     struct hrid_err *err);
int store_key_get(struct store_conn *c, const char *key_id, struct arena *a,
                  struct store_key *out, struct hrid_err *err);
int store_key_revoke(struct store_conn *c, int64_t id, int64_t at,
                     struct hrid_err *err);
int store_key_list(struct store_conn *c, int64_t party_id, struct arena *a,
                   store_each_key_fn each, void *ctx, struct hrid_err *err);
int store_model_insert(struct store_conn *c, struct store_model *m,
                       struct hrid_err *err);
int store_model_get(struct store_conn *c, const char *model_id,
                    struct arena *a, struct store_model *out,
                    struct hrid_err *err);
int store_model_get_row(struct store_conn *c, int64_t id, struct arena *a,
                        struct store_model *out, struct hrid_err *err);
int store_model_update(struct store_conn *c, const struct store_model *m,
                       struct hrid_err *err);
int store_model_list(struct store_conn *c, int64_t enterprise_id,
                     int64_t after_id, int limit, struct arena *a,
                     store_each_model_fn each, void *ctx,
                     struct hrid_err *err);
int store_unit_insert(struct store_conn *c, struct store_unit *u,
                      struct hrid_err *err);
int store_unit_get(struct store_conn *c, const char *code, struct arena *a,
                   struct store_unit *out, struct hrid_err *err);
/* store_unit_get with marks in the same statement: whether the unit's
 * view has certifications or open recalls to list, so that a view which
 * has none (nearly every one) is one statement.  The history's counts
 * (last_event_*, event_count) are left 0: the public view, which a scan
 * of a robot's label shows, has none of them, and a view that does reads
 * them with store_unit_history. */
int store_unit_view_get(struct store_conn *c, const char *code,
                        struct arena *a, struct store_unit *out,
                        struct store_unit_marks *marks,
                        struct hrid_err *err);
/* Reads u's history counts (last_event_at, last_event_seq, event_count)
 * from its latest event, by u->id; 0 when it has none. */
int store_unit_history(struct store_conn *c, struct store_unit *u,
                       struct hrid_err *err);
/* was is the row as read in this transaction: a backend may skip
 * rewriting the state and party columns (and their indexes) when they are
 * as they were, and moves the statistics' counts from was to u.  The
 * history's counts (last_event_*, event_count) are not written: they
 * follow the events appended. */
int store_unit_update(struct store_conn *c, const struct store_unit *was,
                      const struct store_unit *u, struct hrid_err *err);
int store_unit_list(struct store_conn *c, const struct store_unit_filter *f,
                    struct arena *a, store_each_unit_fn each, void *ctx,
                    struct hrid_err *err);
int store_unit_count(struct store_conn *c, int64_t *n, struct hrid_err *err);
/* Inserts the n components k[0..n).  May leave their ids 0: the
 * PostgreSQL writer sends the inserts without waiting for them (a bulk
 * body is mostly components), and no caller needs the id, which
 * component_list returns. */
int store_component_insert(struct store_conn *c, struct store_component *k,
                           size_t n, struct hrid_err *err);
int store_component_remove(struct store_conn *c, int64_t id, int64_t at,
                           int64_t seq, struct hrid_err *err);
int store_component_list(struct store_conn *c, int64_t unit_id,
                         bool installed_only, struct arena *a,
                         store_each_component_fn each, void *ctx,
                         struct hrid_err *err);
int store_event_append(struct store_conn *c, struct store_event *e,
                       struct hrid_err *err);
int store_event_list(struct store_conn *c, int64_t unit_id, int64_t after_seq,
                     int limit, struct arena *a, store_each_event_fn each,
                     void *ctx, struct hrid_err *err);
/* Every event after after_seq in seq order, at most limit (1..1000000);
 * with_unit also fills unit_code.  With a NULL arena the strings of each
 * event are the store's own and valid only until each returns: for a
 * scan that reads every row once (the audit), a copy less per column. */
int store_event_scan(struct store_conn *c, int64_t after_seq, int limit,
                     bool with_unit, struct arena *a, store_each_event_fn each,
                     void *ctx, struct hrid_err *err);

/* Tiles: hashes holds STORE_TILE_BYTES; tile_get copies width * 32 bytes
 * into it (STORE_NOTFOUND when the tile does not exist); tile_put writes
 * or replaces the tile; tile_last finds the highest index of a level
 * (STORE_NOTFOUND when the level has no tile yet). */
int store_tile_get(struct store_conn *c, int level, int64_t index,
                   unsigned char *hashes, int *width, struct hrid_err *err);
int store_tile_put(struct store_conn *c, int level, int64_t index,
                   const unsigned char *hashes, int width,
                   struct hrid_err *err);
int store_tile_last(struct store_conn *c, int level, int64_t *index,
                    int *width, struct hrid_err *err);

/* The last signed checkpoint (STORE_NOTFOUND before the first), and its
 * replacement by a newer one. */
int store_checkpoint_get(struct store_conn *c, struct arena *a,
                         struct store_checkpoint *out, struct hrid_err *err);
int store_checkpoint_put(struct store_conn *c,
                         const struct store_checkpoint *cp,
                         struct hrid_err *err);

int store_grant_insert(struct store_conn *c, struct store_grant *g,
                       struct hrid_err *err);
int store_grant_list(struct store_conn *c, int64_t unit_id, struct arena *a,
                     store_each_grant_fn each, void *ctx,
                     struct hrid_err *err);
int store_idem_get(struct store_conn *c, int64_t party_id, const char *key,
                   struct arena *a, struct store_idem *out,
                   struct hrid_err *err);
int store_idem_put(struct store_conn *c, const struct store_idem *r,
                   struct hrid_err *err);
/* Deletes up to limit idempotency records created before before, oldest
 * first; how many in *deleted.  For a write function. */
int store_idem_expire(struct store_conn *c, int64_t before, int limit,
                      int64_t *deleted, struct hrid_err *err);

/* Certifications: cert_list gives those of the model model_row and those
 * of the unit unit_id (either may be 0), revoked ones included, in id
 * order. */
int store_cert_insert(struct store_conn *c, struct store_cert *k,
                      struct hrid_err *err);
int store_cert_get(struct store_conn *c, int64_t id, struct arena *a,
                   struct store_cert *out, struct hrid_err *err);
int store_cert_revoke(struct store_conn *c, int64_t id, int64_t at,
                      struct hrid_err *err);
int store_cert_list(struct store_conn *c, int64_t model_row, int64_t unit_id,
                    struct arena *a, store_each_cert_fn each, void *ctx,
                    struct hrid_err *err);

/* Recalls.  recall_unit_list walks a recall's units in unit order
 * (recall_id 0: the rows of unit_id in every recall), filtered by state
 * when not NULL, after the unit row after_unit, at most limit.
 * recall_counts reads a recall's counts of units, of those remedied and of
 * those whose notice is still owed, which the operations below keep as
 * they change its rows (nothing else writes them).
 * recall_unit_remedied marks a notified unit's row remedied by event seq
 * at time at (a row already remedied is left as it is).
 * recall_set_notify sets a recall's notify_after; recall_notifying reads
 * the oldest recall that still owes notices (STORE_NOTFOUND: none);
 * recall_unit_notified records the notice event of a unit's row that is
 * owed one.
 *
 * recall_reach materialises a recall in one statement per model named
 * (one in all when none is): a row, state "notified" and its notice owed,
 * for each unit t reaches (*count: how many); recall_unit_drop deletes one
 * again while it is owed its notice.  A lot range leaves out components
 * without a lot; backends are given one with both ends or none. */
int store_recall_insert(struct store_conn *c, struct store_recall *r,
                        struct hrid_err *err);
int store_recall_get(struct store_conn *c, int64_t id, struct arena *a,
                     struct store_recall *out, struct hrid_err *err);
int store_recall_close(struct store_conn *c, int64_t id, int64_t at,
                       struct hrid_err *err);
int store_recall_unit_remedied(struct store_conn *c, int64_t recall_id,
                               int64_t unit_id, int64_t seq, int64_t at,
                               struct hrid_err *err);
int store_recall_unit_list(struct store_conn *c, int64_t recall_id,
                           int64_t unit_id, const char *state,
                           int64_t after_unit, int limit, struct arena *a,
                           store_each_recall_unit_fn each, void *ctx,
                           struct hrid_err *err);
int store_recall_counts(struct store_conn *c, int64_t recall_id,
                        int64_t *notified, int64_t *remedied, int64_t *owed,
                        struct hrid_err *err);
int store_recall_set_notify(struct store_conn *c, int64_t id, int64_t after,
                            struct hrid_err *err);
int store_recall_notifying(struct store_conn *c, struct arena *a,
                           struct store_recall *out, struct hrid_err *err);
int store_recall_unit_notified(struct store_conn *c, int64_t recall_id,
                               int64_t unit_id, int64_t seq,
                               struct hrid_err *err);
int store_recall_reach(struct store_conn *c, int64_t recall_id,
                       const struct store_recall_target *t, int64_t *count,
                       struct hrid_err *err);
int store_recall_unit_drop(struct store_conn *c, int64_t recall_id,
                           int64_t unit_id, struct hrid_err *err);

/* The statistics listings (enterprise_id 0: every enterprise):
 *   STORE_STATS_UNITS      k1 state, k2 region ("" for none), n1 units;
 *   STORE_STATS_MONTHS     k1 month (YYYY-MM, UTC), n1 registrations,
 *                          n2 releases;
 *   STORE_STATS_INCIDENTS  per model (enterprise_id, model_row): n1
 *                          incidents, n2 of them verified;
 *   STORE_STATS_RECALLS    per recall: model_row is the recall id, k1 its
 *                          status, n1 units affected, n2 remedied;
 *   STORE_STATS_ALERTS     per model (enterprise_id, model_row): n1 open
 *                          alerts, n2 units with one or more. */
enum {
    STORE_STATS_UNITS = 1,
    STORE_STATS_MONTHS,
    STORE_STATS_INCIDENTS,
    STORE_STATS_RECALLS,
    STORE_STATS_ALERTS
};
int store_stats(struct store_conn *c, int what, int64_t enterprise_id,
                struct arena *a, store_each_stat_fn each, void *ctx,
                struct hrid_err *err);

/*
 * Telemetry blobs.  tel_put stores one (replace: or replaces it; else a
 * blob already there is kept and *inserted is false: a report sent twice
 * is stored once).  tel_range walks the blobs of a unit and kind with a
 * (-1: any) and b in [b_from, b_to), in (a, b) order.  tel_units walks the
 * units with blobs of kind dated before b_before (t->unit_id only), in
 * unit order after after_unit.  tel_delete removes a unit's blobs of
 * kind with b in [b_from, b_to).
 */
int store_tel_put(struct store_conn *c, int kind, const struct store_tel *t,
                  bool replace, bool *inserted, struct hrid_err *err);
int store_tel_range(struct store_conn *c, int kind, int64_t unit_id,
                    int64_t a, int64_t b_from, int64_t b_to, struct arena *ar,
                    store_each_tel_fn each, void *ctx, struct hrid_err *err);
int store_tel_units(struct store_conn *c, int kind, int64_t b_before,
                    int64_t after_unit, int limit, store_each_tel_fn each,
                    void *ctx, struct hrid_err *err);
int store_tel_delete(struct store_conn *c, int kind, int64_t unit_id,
                     int64_t b_from, int64_t b_to, struct hrid_err *err);

/* Alert rules and alerts.  rule_list gives an enterprise's rules for
 * model_row (those of every model and those of that one).  alert_find
 * gets the pending or open alert of a rule, unit and metric
 * (STORE_NOTFOUND when none); alert_put inserts (id 0) or updates one;
 * alert_list walks them by id, filtered. */
int store_rule_insert(struct store_conn *c, struct store_alert_rule *r,
                      struct hrid_err *err);
int store_rule_list(struct store_conn *c, int64_t enterprise_id,
                    int64_t model_row, struct arena *a,
                    store_each_rule_fn each, void *ctx, struct hrid_err *err);
int store_alert_find(struct store_conn *c, int64_t rule_id, int64_t unit_id,
                     int metric, struct arena *a, struct store_alert *out,
                     struct hrid_err *err);
int store_alert_put(struct store_conn *c, struct store_alert *al,
                    struct hrid_err *err);
int store_alert_list(struct store_conn *c, const struct store_alert_filter *f,
                     struct arena *a, store_each_alert_fn each, void *ctx,
                     struct hrid_err *err);

/* Silence.  rule_list_metric walks every rule on metric by id.  seen_put
 * records a report time of a unit, keeping the latest.  seen_silent walks,
 * by unit id after after_unit, the units of enterprise_id (and model_row,
 * 0 for any) in state whose latest report is before `before` and that
 * have no pending or open alert of rule_id on metric. */
int store_rule_list_metric(struct store_conn *c, const char *metric,
                           int64_t after_id, int limit, struct arena *a,
                           store_each_rule_fn each, void *ctx,
                           struct hrid_err *err);
int store_seen_put(struct store_conn *c, const struct store_seen *s,
                   struct hrid_err *err);
int store_seen_silent(struct store_conn *c, int64_t enterprise_id,
                      int64_t model_row, const char *state, int64_t before,
                      int64_t rule_id, int metric, int64_t after_unit,
                      int limit, store_each_seen_fn each, void *ctx,
                      struct hrid_err *err);

/* Fences.  fence_put replaces a unit's profile; violation_put inserts
 * (id 0) or updates one; violation_list walks them by id (unit_id 0: of
 * every unit; state NULL: any). */
int store_zone_insert(struct store_conn *c, struct store_zone *z,
                      struct hrid_err *err);
int store_zone_get(struct store_conn *c, int64_t id, struct arena *a,
                   struct store_zone *out, struct hrid_err *err);
int store_fence_put(struct store_conn *c, const struct store_fence *f,
                    struct hrid_err *err);
int store_fence_get(struct store_conn *c, int64_t unit_id, struct arena *a,
                    struct store_fence *out, struct hrid_err *err);
int store_violation_put(struct store_conn *c, struct store_violation *v,
                        struct hrid_err *err);
int store_violation_list(struct store_conn *c, int64_t unit_id,
                         const char *state, int64_t after_id, int limit,
                         struct arena *a, store_each_violation_fn each,
                         void *ctx, struct hrid_err *err);

/* Incidents, listed in id order after after_id. */
int store_incident_insert(struct store_conn *c, struct store_incident *i,
                          struct hrid_err *err);
int store_incident_list(struct store_conn *c,
                        const struct store_incident_filter *f,
                        struct arena *a, store_each_incident_fn each,
                        void *ctx, struct hrid_err *err);

/* A unit's state as replayed up to its event seq (dated at), as JSON
 * (core/asof.c), so that an as-of query replays from the nearest one
 * instead of the unit's birth.  snapshot_before finds the latest dated at
 * or before t (STORE_NOTFOUND when none). */
int store_snapshot_put(struct store_conn *c, int64_t unit_id, int64_t seq,
                       int64_t at, const char *state, struct hrid_err *err);
int store_snapshot_before(struct store_conn *c, int64_t unit_id, int64_t t,
                          struct arena *a, int64_t *seq, int64_t *at,
                          const char **state, struct hrid_err *err);

#endif
