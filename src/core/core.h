/*
 * core/core.h - the registry's rules: who may do what to which record.
 *
 * Layer: src/core.  No HTTP and no SQL: core takes a caller (struct
 * core_principal) and a request body as JSON, checks the body field by
 * field against the schemas in schema.c, checks the caller's role and its
 * relation to the record (maker, custodian, operator, grantee), runs the
 * state machine of DESIGN §3, and writes through store_write() so that the
 * event, the unit row and everything derived commit together or not at
 * all.  Replies are JSON built here, because what a caller may see of a
 * unit is a rule too (DESIGN §5: public < custodian < manufacturer <
 * regulator).
 *
 * Ownership: every json_t a core function returns through *out is a new
 * reference the caller must json_decref.  Strings core returns live in
 * the arena the caller passed.  On failure *out is NULL and err says why.
 */
#ifndef CORE_CORE_H
#define CORE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "store/store.h"

/*
 * Reals in stored and returned JSON carry 15 significant digits, the most
 * a double always round-trips through decimal text: 22.543 stays
 * "22.543" instead of jansson's default 17 digits, "22.542999999999999".
 * Coordinates, masses and prices need far fewer.
 */
#define CORE_JSON_REAL JSON_REAL_PRECISION(15)

/* ---- errors ---------------------------------------------------------- */

/* The classes of refusal.  The server maps each to one HTTP status in one
 * table (routes.c); the finer reason is core_err.code. */
enum core_status {
    CORE_OK = 0,
    CORE_EBADREQ,     /* 400: the request is malformed as a whole */
    CORE_EUNAUTH,     /* 401: no key, or the key is unknown or revoked */
    CORE_EFORBIDDEN,  /* 403: the caller's role or relation forbids it */
    CORE_ENOTFOUND,   /* 404: no such record (or not visible to caller) */
    CORE_ECONFLICT,   /* 409: the record's state forbids it */
    CORE_ETOOLARGE,   /* 413: a batch or list over its limit */
    CORE_EINVALID,    /* 422: a field is missing, unknown or invalid */
    CORE_EINTERNAL,   /* 500: the store failed */
    CORE_PENDING      /* not a refusal: a write was queued (core_async) */
};

/* Field paths like "units[17].components[2].serial" fit in 128 bytes: the
 * deepest path core reports has three levels of short names. */
#define CORE_FIELD_MAX 128
#define CORE_MSG_MAX   320

struct core_err {
    int status;                 /* enum core_status */
    const char *code;           /* "unit_scrapped", "not_custodian", ...
                                   (static storage) */
    char field[CORE_FIELD_MAX]; /* the offending field, "" when none */
    char msg[CORE_MSG_MAX];     /* lower case, no trailing period */
    int pos;                    /* for invalid codes: position, else 0 */
    int reason;                 /* for invalid codes: hrid_code_reason */
};

/* Sets err and returns status; field may be NULL. */
int core_fail(struct core_err *err, int status, const char *code,
              const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- roles and callers --------------------------------------------- */

/* Roles a key can carry (DESIGN §1), as bits so that a rule can name a
 * set of them.  ROLE_PUBLIC is a caller without a key. */
enum core_role {
    ROLE_PUBLIC       = 1u << 0,
    ROLE_ADMIN        = 1u << 1,
    ROLE_REGULATOR    = 1u << 2,
    ROLE_MANUFACTURER = 1u << 3,
    ROLE_SELLER       = 1u << 4,
    ROLE_OWNER        = 1u << 5,   /* owner or operator */
    ROLE_SERVICE      = 1u << 6,
    ROLE_RECYCLER     = 1u << 7,
    ROLE_CERTIFIER    = 1u << 8
};
#define ROLE_ANY_KEY 0x1feu        /* every role but ROLE_PUBLIC */

/* "manufacturer" for ROLE_MANUFACTURER...; NULL for a set of several. */
const char *core_role_name(unsigned role);
/* The role named s, or 0. */
unsigned core_role_parse(const char *s);

/* Who is calling.  A public caller has role ROLE_PUBLIC and party_id 0. */
struct core_principal {
    unsigned role;
    int64_t party_id;
    int64_t key_row;
    const char *party_name;    /* borrowed from the request's arena */
};

/* ---- the registry handle -------------------------------------------- */

struct core;
struct ledger_key;

struct core_config {
    struct store *store;
    /* The admin key to install, from HRID_ADMIN_KEY; NULL to keep the
     * existing one or make one. */
    const char *admin_key;
    /* Where to write a generated admin key (0600); NULL: next to the
     * database is the caller's choice, so it must be given. */
    const char *admin_key_file;
    /* ISO 3166-1 alpha-2 of the registry's own jurisdiction ("CN"). */
    const char *country;
    /* The platform's signing key (credentials, labels) and the log's
     * (checkpoints), from ledger_key_load; NULL on a node that only
     * reads.  Copied. */
    const struct ledger_key *platform_key;
    const struct ledger_key *log_key;
    /* Where the public reaches the registry, without a trailing slash:
     * labels point at <public_url>/v/<code>.  May be set later with
     * core_set_public_url (when the port is known only once serving). */
    const char *public_url;
};

/*
 * Sets up the registry on an open store.  On the first start (no admin
 * key in the store) installs cfg->admin_key, or generates a key and
 * writes it to cfg->admin_key_file with mode 0600; *generated is set to
 * true in that case.  Returns CORE_OK and a handle to free with
 * core_free.
 */
int core_new(const struct core_config *cfg, struct core **out,
             bool *generated, struct core_err *err);
void core_free(struct core *c);
struct store *core_store(struct core *c);
void core_set_public_url(struct core *c, const char *url);

/*
 * Finds the caller of a request from the bearer key (NULL or "" for a
 * public caller).  CORE_EUNAUTH for an unknown or revoked key.
 */
int core_authenticate(struct core *c, const char *key, struct arena *a,
                      struct core_principal *out, struct core_err *err);

/* ---- time ---------------------------------------------------------- */

/* Milliseconds since the epoch, UTC. */
int64_t core_now_ms(void);

/* Events may be dated this far ahead of the registry's clock, to allow
 * for clock skew between a robot, its operator and the registry. */
#define CORE_CLOCK_SKEW_MS (5 * 60 * 1000)

/* Parses RFC 3339 ("2026-05-22T08:30:00Z", "...T08:30:00.250+08:00") to
 * milliseconds UTC.  Returns 0 on success, -1 if s is not RFC 3339. */
int core_time_parse(const char *s, int64_t *ms);

/* Formats ms as RFC 3339 UTC with milliseconds, "2026-05-22T00:30:00.250Z"
 * (25 bytes with the NUL). */
void core_time_format(int64_t ms, char out[32]);

/* ---- idempotency ---------------------------------------------------- */

/* A write request that carries an Idempotency-Key.  A retry with the same
 * key and the same request gets the first reply again and writes nothing;
 * the same key with a different request is refused. */
struct core_idem {
    const char *key;             /* NULL when the request has none */
    unsigned char req_hash[32];  /* SHA-256 of method, path and body */
};

/* Limits of keys given by clients: 1-128 printable ASCII characters, as
 * common practice for Idempotency-Key values (UUIDs are 36). */
#define CORE_IDEM_KEY_MAX 128

/* The reply of a write: its status (200/201) and body. */
struct core_reply {
    int http_status;
    json_t *body;
    /* Or the body as JSON text, NUL-terminated, in the operation's arena
     * (body NULL): core_reply_json gives it as a tree to a caller that
     * wants one. */
    const char *text;
    size_t text_len;
    bool replayed;               /* true when an idempotent replay */
    /* An operation may leave body NULL and set build instead: core_write
     * then writes the text from build_arg after the commit, on the
     * caller's thread (into a, the operation's arena), so that the writer
     * every write waits for does not spend its time on replies.  build
     * returns 0, or -1 when out of memory. */
    int (*build)(void *build_arg, struct arena *a, const char **text,
                 size_t *len);
    void *build_arg;
};

/* reply's body as a tree, a new reference: body's, or its text parsed;
 * NULL when there is none. */
json_t *core_reply_json(const struct core_reply *reply);

/*
 * A write that does not wait for its commit.  An operation given a
 * core_async queues its write and returns CORE_PENDING, or refuses at
 * once (any other status, with its reply and err set as usual).  After
 * CORE_PENDING, wake(wake_arg) runs on the store's writer thread once the
 * transaction is over; it must be quick (the next transaction waits for
 * it) and only tell the caller's thread to go on.  That thread then calls
 * core_async_finish, which fills the reply and err the operation was
 * given and returns the status the waiting form would have returned.
 * Until then, everything handed to the operation stays valid: the body,
 * the caller, the idempotency key, the arena, the reply, err and the
 * core_async itself.  It lets a server thread hand a request's write over
 * and serve other connections meanwhile, with no thread waiting.
 */
struct core_async {
    void (*wake)(void *wake_arg);
    void *wake_arg;
    struct write_job *job;       /* core's own */
};

int core_async_finish(struct core_async *as);

/* ---- operations ----------------------------------------------------- */

/* Listings take at most CORE_PAGE_MAX rows per page (default
 * CORE_PAGE_DEFAULT); "cursor" is opaque to clients. */
#define CORE_PAGE_DEFAULT 100
#define CORE_PAGE_MAX     1000

struct core_page {
    int limit;                   /* 0 = default */
    const char *cursor;          /* NULL = first page */
};

/* Parties, enterprises and keys (admin). */
int core_party_create(struct core *c, const struct core_principal *who,
                      json_t *body, const struct core_idem *idem,
                      struct arena *a, struct core_reply *out,
                      struct core_err *err);
int core_party_get(struct core *c, const struct core_principal *who,
                   int64_t id, struct arena *a, json_t **out,
                   struct core_err *err);
int core_party_list(struct core *c, const struct core_principal *who,
                    const char *kind, const struct core_page *page,
                    struct arena *a, json_t **out, struct core_err *err);
int core_enterprise_enrol(struct core *c, const struct core_principal *who,
                          json_t *body, const struct core_idem *idem,
                          struct arena *a, struct core_reply *out,
                          struct core_err *err);
/* ent is "CCEEEE" (country + enterprise code), forgiving case. */
int core_enterprise_get(struct core *c, const struct core_principal *who,
                        const char *ent, struct arena *a, json_t **out,
                        struct core_err *err);
int core_key_create(struct core *c, const struct core_principal *who,
                    json_t *body, struct arena *a, struct core_reply *out,
                    struct core_err *err);
int core_key_revoke(struct core *c, const struct core_principal *who,
                    const char *key_id, struct arena *a,
                    struct core_reply *out, struct core_err *err);
int core_key_list(struct core *c, const struct core_principal *who,
                  int64_t party_id, struct arena *a, json_t **out,
                  struct core_err *err);

/* Models: filing by the maker, status by a regulator. */
int core_model_file(struct core *c, const struct core_principal *who,
                    const char *ent, json_t *body,
                    const struct core_idem *idem, struct arena *a,
                    struct core_reply *out, struct core_err *err);
int core_model_get(struct core *c, const struct core_principal *who,
                   const char *model_id, struct arena *a, json_t **out,
                   struct core_err *err);
int core_model_list(struct core *c, const struct core_principal *who,
                    const char *ent, const struct core_page *page,
                    struct arena *a, json_t **out, struct core_err *err);
int core_model_set_status(struct core *c, const struct core_principal *who,
                          const char *model_id, json_t *body,
                          struct arena *a, struct core_reply *out,
                          struct core_err *err);

/* Units.  A bulk registration holds at most CORE_BULK_MAX units: 10,000
 * (the registry issue's batch limit; about 8 MB of JSON, the body cap). */
#define CORE_BULK_MAX 10000
int core_units_register(struct core *c, const struct core_principal *who,
                        json_t *body, const struct core_idem *idem,
                        struct arena *a, struct core_reply *out,
                        struct core_err *err);
/* The same from the body's text (len bytes, not NUL-terminated).  A bulk
 * ({"units":[...]}) is read one unit at a time, so that what the request
 * holds while its write waits is what the writer needs of each unit,
 * about a tenth of the parsed tree (docs/PERFORMANCE.md). */
int core_units_register_text(struct core *c, const struct core_principal *who,
                             const char *text, size_t len,
                             const struct core_idem *idem, struct arena *a,
                             struct core_reply *out, struct core_err *err);
int core_unit_get(struct core *c, const struct core_principal *who,
                  const char *code, size_t code_len, struct arena *a,
                  json_t **out, struct core_err *err);
/* The same, as the reply's JSON text (*out, *out_len bytes, in a). */
int core_unit_get_text(struct core *c, const struct core_principal *who,
                       const char *code, size_t code_len, struct arena *a,
                       const char **out, size_t *out_len,
                       struct core_err *err);
/* The reply's JSON text (*out, *out_len bytes, in a). */
int core_unit_list(struct core *c, const struct core_principal *who,
                   const char *state, const char *model_id,
                   const struct core_page *page, struct arena *a,
                   const char **out, size_t *out_len, struct core_err *err);

/* Lifecycle events and grants. */
int core_event_add(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, json_t *body,
                   const struct core_idem *idem, struct arena *a,
                   struct core_reply *out, struct core_err *err);
/* core_event_add as a write that does not wait (struct core_async). */
int core_event_submit(struct core *c, const struct core_principal *who,
                      const char *code, size_t code_len, json_t *body,
                      const struct core_idem *idem, struct arena *a,
                      struct core_async *as, struct core_reply *out,
                      struct core_err *err);
int core_event_list(struct core *c, const struct core_principal *who,
                    const char *code, size_t code_len,
                    const struct core_page *page, struct arena *a,
                    json_t **out, struct core_err *err);
int core_grant_create(struct core *c, const struct core_principal *who,
                      const char *code, size_t code_len, json_t *body,
                      const struct core_idem *idem, struct arena *a,
                      struct core_reply *out, struct core_err *err);
int core_grant_list(struct core *c, const struct core_principal *who,
                    const char *code, size_t code_len, struct arena *a,
                    json_t **out, struct core_err *err);

/* ---- certifications, recalls, market access (DESIGN §3) -------------- */

/* Certifier or regulator: {"model"|"unit", "scheme", "tier", "scenarios",
 * "conditions", "limits", "valid_from", "valid_until"}. */
int core_cert_create(struct core *c, const struct core_principal *who,
                     json_t *body, const struct core_idem *idem,
                     struct arena *a, struct core_reply *out,
                     struct core_err *err);
int core_cert_revoke(struct core *c, const struct core_principal *who,
                     int64_t id, struct arena *a, struct core_reply *out,
                     struct core_err *err);
/* Public: the certifications of a model (model) or of a unit and its
 * model (code), {"items":[...]} with "valid" now. */
int core_cert_list(struct core *c, const char *model, const char *code,
                   size_t code_len, struct arena *a, json_t **out,
                   struct core_err *err);

/* Maker (its own units) or regulator (for a maker: "enterprise"). */
int core_recall_create(struct core *c, const struct core_principal *who,
                       json_t *body, const struct core_idem *idem,
                       struct arena *a, struct core_reply *out,
                       struct core_err *err);
/* Public: the campaign and its completion. */
int core_recall_get(struct core *c, const struct core_principal *who,
                    int64_t id, struct arena *a, json_t **out,
                    struct core_err *err);
/* Its maker and regulators: the units, paged, by state. */
int core_recall_units(struct core *c, const struct core_principal *who,
                      int64_t id, const char *state,
                      const struct core_page *page, struct arena *a,
                      json_t **out, struct core_err *err);
int core_recall_suspend(struct core *c, const struct core_principal *who,
                        int64_t id, struct arena *a, struct core_reply *out,
                        struct core_err *err);
int core_recall_close(struct core *c, const struct core_principal *who,
                      int64_t id, struct arena *a, struct core_reply *out,
                      struct core_err *err);
/* Writes recall notices still owed (a recall's units past the first
 * 1,000 get theirs after it commits) to the next 1,000 units of the
 * oldest recall owing any, in one transaction; *written counts them and
 * *more says whether to call again.  hridd calls it at start and whenever
 * wake, set by core_on_notices, tells it that a recall committed owing
 * notices (wake runs on the thread that opened the recall: it should only
 * signal). */
int core_recall_notify(struct core *c, int64_t *written, bool *more,
                       struct core_err *err);
void core_on_notices(struct core *c, void (*wake)(void *), void *ctx);

/* The unit as it stood at t (RFC 3339; NULL: now): state, custody,
 * site, firmware, components, last inspection, certifications valid and
 * recalls open at t, the last event applied.  For its maker, custodians
 * and regulators. */
int core_unit_asof(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, const char *t,
                   struct arena *a, json_t **out, struct core_err *err);

/* A public, unverified incident report on a unit (not an event). */
int core_incident_public(struct core *c, const struct core_principal *who,
                         const char *code, size_t code_len, json_t *body,
                         struct arena *a, struct core_reply *out,
                         struct core_err *err);
/* Regulators (all), makers (their units'): incidents by unit, model,
 * enterprise, verified; each with the unit as it stood then. */
int core_incident_list(struct core *c, const struct core_principal *who,
                       const char *unit, const char *model, const char *ent,
                       const char *verified, const struct core_page *page,
                       struct arena *a, json_t **out, struct core_err *err);

/* Market statistics: regulators and the admin see all; a maker its own
 * figures and the market's anonymous totals.  by: one or two of
 * enterprise, model, state, region, level ("model,state"). */
int core_stats_units(struct core *c, const struct core_principal *who,
                     const char *by, struct arena *a, json_t **out,
                     struct core_err *err);
int core_stats_months(struct core *c, const struct core_principal *who,
                      struct arena *a, json_t **out, struct core_err *err);
int core_stats_incidents(struct core *c, const struct core_principal *who,
                         struct arena *a, json_t **out, struct core_err *err);
int core_stats_recalls(struct core *c, const struct core_principal *who,
                       struct arena *a, json_t **out, struct core_err *err);

/* Health telemetry (docs/telemetry.md).  A batch holds at most
 * CORE_TELEMETRY_BATCH_MAX reports, all-or-nothing, from the units'
 * custodians or operators; reports of units not on the market are
 * refused. */
#define CORE_TELEMETRY_BATCH_MAX 10000
int core_telemetry_ingest(struct core *c, const struct core_principal *who,
                          json_t *reports, struct arena *a,
                          struct core_reply *out, struct core_err *err);
/* The same from the body's bytes (JSON Lines when lines), without a JSON
 * tree when the body is a well-formed batch.  A caller who may not report
 * is refused first.  *handled is false when the body was not such a batch,
 * and nothing was done: then parse the body and call
 * core_telemetry_ingest, which names what is wrong. */
int core_telemetry_ingest_text(struct core *c,
                               const struct core_principal *who,
                               const char *body, size_t len, bool lines,
                               struct arena *a, struct core_reply *out,
                               struct core_err *err, bool *handled);
/* Reports a unit sent itself (MQTT, docs/telemetry.md "MQTT"): code is the
 * unit named by the message's topic (forgiving input), msg its len bytes,
 * "<base64 Ed25519 signature>\n<JSON array of reports>", signed by the
 * unit's registered device key over "hrid-telemetry/v1\n<CODE>\n"
 * followed by the JSON bytes, CODE canonical.  Every report must name that
 * unit.  Accepted reports are staged exactly as core_telemetry_ingest
 * stages them, durably before the return, with the same reply body.
 * Refusals: CORE_EUNAUTH "unsigned", CORE_EFORBIDDEN "bad_signature",
 * CORE_ENOTFOUND for an unknown unit, CORE_ECONFLICT "no_device_key" or
 * "unit_not_live", CORE_EBADREQ "bad_json", CORE_EINVALID (a bad report,
 * "unit_mismatch"), CORE_ETOOLARGE; CORE_EINTERNAL when the store failed
 * (the message may be tried again).  msg is only read. */
int core_telemetry_ingest_device(struct core *c, const char *code,
                                 size_t code_len, const void *msg,
                                 size_t len, struct arena *a,
                                 struct core_reply *out, struct core_err *err);
/* One metric of a unit over [from, to) (default: the last day), raw
 * (step NULL or "0") or by step ("5m", "1h", "1d"). */
int core_telemetry_series(struct core *c, const struct core_principal *who,
                          const char *code, size_t code_len,
                          const char *metric, const char *from,
                          const char *to, const char *step, struct arena *a,
                          json_t **out, struct core_err *err);
/* Latest wear per joint and battery state of health, their rates per day
 * fitted over 30 days, and when each is projected to cross its model's
 * threshold. */
int core_unit_health(struct core *c, const struct core_principal *who,
                     const char *code, size_t code_len, struct arena *a,
                     json_t **out, struct core_err *err);
/* Alert rules (a maker on its models, a regulator on any):
 * {"model"|"enterprise", "metric" (a name, joint.*.wear, joint.*.temp),
 * "op" (">" "<"), "threshold", "for_minutes"}; and the alerts, by
 * state (open, cleared, pending), model and unit. */
int core_alert_rule_create(struct core *c, const struct core_principal *who,
                           json_t *body, const struct core_idem *idem,
                           struct arena *a, struct core_reply *out,
                           struct core_err *err);
int core_alert_list(struct core *c, const struct core_principal *who,
                    const char *state, const char *model, const char *unit,
                    const struct core_page *page, struct arena *a,
                    json_t **out, struct core_err *err);
/* A model's fleet: p50/p90/p99 of each unit's latest most-worn joint,
 * battery state of health and temperature and precision, and the units
 * whose wear is an outlier for the model (robust z-score). */
int core_model_health(struct core *c, const struct core_principal *who,
                      const char *model, struct arena *a, json_t **out,
                      struct core_err *err);
/* Moves staged reports of closed windows into chunks and rollups and
 * drops raw chunks older than retention_ms; *reports: how many moved. */
int core_telemetry_compact(struct core *c, int64_t now, int64_t retention_ms,
                           int64_t *reports, struct core_err *err);

/* Forgets the replies kept for Idempotency-Keys of requests older than
 * before (write.c): a retry after that runs as a new request.  *deleted
 * counts them.  hridd calls it from its telemetry thread. */
int core_idem_expire(struct core *c, int64_t before, int64_t *deleted,
                     struct core_err *err);

/* Opens an alert for every unit in service silent for longer than a
 * "no data for N minutes" rule allows (alert.c); *opened counts them.
 * hridd calls it from its telemetry thread. */
int core_alert_sweep(struct core *c, int64_t now, int64_t *opened,
                     struct core_err *err);

/* Electronic fences: zones (a regulator or owner draws a GeoJSON
 * Polygon), a unit's profile (its custodian or a regulator: zone_ids,
 * scenarios, speed_limit_mps), and the violations (regulators). */
int core_zone_create(struct core *c, const struct core_principal *who,
                     json_t *body, const struct core_idem *idem,
                     struct arena *a, struct core_reply *out,
                     struct core_err *err);
int core_fence_set(struct core *c, const struct core_principal *who,
                   const char *code, size_t code_len, json_t *body,
                   const struct core_idem *idem, struct arena *a,
                   struct core_reply *out, struct core_err *err);
int core_violation_list(struct core *c, const struct core_principal *who,
                        const char *state, const struct core_page *page,
                        struct arena *a, json_t **out, struct core_err *err);

/* Public: {"code","allowed","reasons":[{code,message}],"checked_at",...}:
 * "no code, no market access", for customs, marketplaces, procurement. */
int core_market_access(struct core *c, const char *code, size_t code_len,
                       struct arena *a, json_t **out, struct core_err *err);

/* ---- the log (DESIGN §5) --------------------------------------------- */

/* Public.  {"leaf":N,"size":S,"leaf_hash":b64,"hashes":[b64...]}: the
 * inclusion proof of leaf N in the tree of S leaves; 404 when S is beyond
 * the log. */
int core_log_inclusion(struct core *c, uint64_t leaf, uint64_t size,
                       json_t **out, struct core_err *err);
/* Public.  {"from":A,"to":B,"hashes":[b64...]}. */
int core_log_consistency(struct core *c, uint64_t from, uint64_t to,
                         json_t **out, struct core_err *err);
/* Public.  {"vkey":..., "origin":..., "public_key":b64}: the log key, as
 * the C2SP verifier key that witnesses and hrid log verify take. */
int core_log_key(struct core *c, json_t **out, struct core_err *err);

/* What core_audit found. */
struct core_audit_report {
    bool ok;                    /* nothing wrong */
    uint64_t leaves;            /* events checked */
    uint64_t log_size;          /* leaves in the stored log */
    uint64_t checkpoint_size;   /* 0 when none was signed yet */
    bool checkpoint_verified;   /* its signature checked with the key */
    int64_t bad_leaf;           /* the first bad leaf, or -1 */
    char bad_code[HRID_CODE_LEN + 1];   /* its unit, or "" if unknown */
    char msg[512];              /* what is wrong, "" when ok */
};

/*
 * Recomputes every leaf from the stored events and checks it against the
 * stored log and the last signed checkpoint, whose signature is checked
 * with vkey (the log's verifier key text; NULL: not checked).  Any
 * edited, deleted, inserted or reordered event is reported with the
 * first bad leaf and its unit.  For a store opened read-only (offline).
 * CORE_OK with the findings in rep, or an error when the store cannot be
 * read.
 */
int core_audit(struct store *s, const char *vkey,
               struct core_audit_report *rep, struct core_err *err);

/* ---- credentials, labels, device challenges (DESIGN §5) -------------- */

/* Public.  The platform's public key, base64 (44 characters and NUL). */
void core_platform_pk(const struct core *c, char out[48]);
/* Public.  The unit's signed credential, with its label text. */
int core_unit_credential(struct core *c, const char *code, size_t code_len,
                         struct arena *a, json_t **out, struct core_err *err);
/* Public.  The text of the unit's QR label and the code's display form. */
int core_unit_label(struct core *c, const char *code, size_t code_len,
                    struct arena *a, char *label, size_t size,
                    char display[34], struct core_err *err);
/* Public.  A challenge for the robot's device key (409 no_device_key
 * when it has none), and the check of its answer {"signature": b64}:
 * {"code":..., "verified": bool, "reason": ...}. */
int core_challenge_create(struct core *c, const char *code, size_t code_len,
                          struct arena *a, json_t **out, struct core_err *err);
int core_challenge_answer(struct core *c, const char *code, size_t code_len,
                          const char *id, json_t *body, struct arena *a,
                          json_t **out, struct core_err *err);

/* Public.  The last signed checkpoint, as a C2SP signed note (text in the
 * arena); 404 before the first. */
int core_log_checkpoint(struct core *c, struct arena *a, const char **note,
                        struct core_err *err);

#endif
