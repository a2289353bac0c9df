/*
 * core/core_int.h - what the files of src/core share and nothing else may
 * include: the registry handle, the write wrapper, key hashing, and the
 * helpers that turn store records into replies.
 */
#ifndef CORE_CORE_INT_H
#define CORE_CORE_INT_H

#include <pthread.h>

#include <openssl/evp.h>

#include "core/core.h"
#include "core/schema.h"
#include "ledger/checkpoint.h"
#include "telemetry/tsdb.h"

/*
 * The read cache (cache.c): direct-mapped slots of the records replies and
 * authentication name.  4096 slots cover the launch fleet's 100 makers,
 * 200 models and ~1,000 parties without collisions to speak of, in about
 * 4 MB; a collision only costs a store lookup.  A slot lives one second,
 * the longest another node's change to a name or a model's status may
 * take to show (a revoked key is forgotten at once on the node that
 * revoked it).
 */
#define CORE_CACHE_SLOTS  4096
#define CORE_CACHE_TTL_MS 1000

struct cached_party {
    int64_t id, created_at, expires;
    char kind[STORE_PARTY_KIND_MAX], country[3], ent_code[5];
    char name[SCHEMA_NAME_MAX + 1], public_name[SCHEMA_NAME_MAX + 1];
};

struct cached_model {
    int64_t row, enterprise_id, expires;
    int level, filing_year;
    char model_id[HRID_MODEL_ID_LEN + 1], status[16];
    char name[SCHEMA_NAME_MAX + 1];
};

struct cached_key {
    int64_t row, party_id, revoked_at, expires;
    unsigned char hash[32];
    char key_id[24], role[16];
};

struct core_cache {
    pthread_mutex_t lock;
    struct cached_party parties[CORE_CACHE_SLOTS];
    struct cached_model models[CORE_CACHE_SLOTS];
    struct cached_key keys[CORE_CACHE_SLOTS];
};

struct core {
    struct store *store;
    char country[3];
    struct core_cache cache;
    /* Trust (credential.c): the platform key signs credentials and
     * labels, the log key checkpoints; challenges are MACed with a key
     * derived from the platform key. */
    bool have_platform_key, have_log_key;
    struct ledger_key platform, log;
    unsigned char challenge_key[32];
    char public_url[256];       /* labels point at <public_url>/v/<code> */
    /* Called once a recall that owes notices commits (core_on_notices). */
    void (*notices_wake)(void *ctx);
    void *notices_ctx;
};

int core_cache_init(struct core_cache *cc);
void core_cache_release(struct core_cache *cc);

/* As store_party_get, store_model_get_row and store_key_get, through the
 * cache.  A cached party has no info and a cached model no params or
 * filing (NULL): callers that show those read the store. */
int core_cache_party(struct core *c, struct store_conn *sc, int64_t id,
                     struct arena *a, struct store_party *out,
                     struct hrid_err *he);
int core_cache_model(struct core *c, struct store_conn *sc, int64_t row,
                     struct arena *a, struct store_model *out,
                     struct hrid_err *he);
int core_cache_key(struct core *c, struct store_conn *sc, const char *key_id,
                   struct arena *a, struct store_key *out,
                   struct hrid_err *he);
void core_cache_forget_model(struct core *c, int64_t row);
void core_cache_forget_key(struct core *c, const char *key_id);

/* Keys: "hrid_" and 40 base32 characters; key_id is 16 hex digits of the
 * key's SHA-256.  A key given by an operator must be at least 24
 * characters (about 120 bits when random) and at most 256. */
#define CORE_KEY_LEN       45
#define CORE_KEY_ID_LEN    16
#define CORE_KEY_MIN       24
#define CORE_KEY_INPUT_MAX 256

void core_key_hash(const char *key, unsigned char hash[32],
                   char key_id[CORE_KEY_ID_LEN + 1]);
void core_key_generate(char out[CORE_KEY_LEN + 1]);

/* The party kind that may hold role, or NULL for ROLE_PUBLIC. */
const char *core_role_party_kind(unsigned role);

/* Maps a store status (and its message) to a core error; returns the core
 * status. */
int core_store_fail(struct core_err *err, int rc, const struct hrid_err *he);

/* A store listing callback that copies the first party into ctx (a
 * struct store_party) and stops. */
int core_first_party(void *ctx, const struct store_party *p);

/* An RFC 3339 string, or null for 0. */
json_t *core_time_json(int64_t ms);

/* The calling thread's connection, or CORE_EINTERNAL in err. */
struct store_conn *core_conn(struct core *c, struct core_err *err);

/*
 * The write path of every operation.  op runs inside store_write; it
 * returns CORE_OK and sets reply->http_status and reply->body (or
 * reply->build), or a core status with err set, and then nothing it wrote
 * is kept.  With an idempotency key, a replay returns the stored reply
 * without running op, and a successful op's reply is built and stored in
 * the same transaction.
 */
typedef int (*core_op_fn)(struct core *c, struct store_conn *sc, void *arg,
                          struct arena *a, struct core_reply *reply,
                          struct core_err *err);
int core_write(struct core *c, const struct core_principal *who,
               const struct core_idem *idem, core_op_fn op, void *arg,
               struct arena *a, struct core_reply *reply,
               struct core_err *err);

/* core_write without the wait (struct core_async): CORE_PENDING once the
 * write is queued, or core_write's refusal.  arg lives until
 * core_async_finish. */
int core_write_async(struct core *c, const struct core_principal *who,
                     const struct core_idem *idem, core_op_fn op, void *arg,
                     struct arena *a, struct core_async *as,
                     struct core_reply *reply, struct core_err *err);

/* Requires one of the roles in mask: CORE_EUNAUTH for a public caller,
 * CORE_EFORBIDDEN otherwise. */
int core_require(const struct core_principal *who, unsigned mask,
                 const char *what, struct core_err *err);

/* Parses "CCEEEE" (forgiving case) into a manufacturer party; 404 when no
 * such enterprise. */
int core_enterprise_find(struct core *c, struct store_conn *sc,
                         const char *ent, struct arena *a,
                         struct store_party *out, struct core_err *err);

/* Parses a code from a path (forgiving input) into canonical form, or
 * CORE_EINVALID "invalid_code" with the libhrid message, position and
 * reason. */
int core_code_arg(const char *code, size_t len,
                  char out[HRID_CODE_LEN + 1], struct core_err *err);

/* Pagination: the page size asked for (default CORE_PAGE_DEFAULT), or -1
 * with err set when it is out of range. */
int core_page_limit(const struct core_page *page, struct core_err *err);

/* Listings ordered by a numeric id take the last id of the previous page,
 * in decimal, as their cursor: *after receives it (0 for the first page),
 * or CORE_EINVALID names "cursor". */
int core_page_after(const struct core_page *page, int64_t *after,
                    struct core_err *err);

/* {"items":items,"next_cursor":...}: the last id when the page is full,
 * else null.  Steals items. */
json_t *core_page_json(json_t *items, int n, int limit, int64_t last_id);

/* Copies at most n bytes of s (stopping at its NUL) upper-cased into out
 * and ends it with a NUL: identifiers (codes, model ids, enterprises) are
 * accepted in either case and stored upper case. */
void core_upper(char *out, const char *s, size_t n);

/* json_object_set_new that tolerates a NULL value (stores null). */
void core_set(json_t *o, const char *key, json_t *v);
/* A JSON string, or null when s is NULL. */
json_t *core_str(const char *s);
/* Parses stored JSON text (a record's JSON column); an empty object when
 * text is NULL or does not parse. */
json_t *core_json_text(const char *text);
/* Serialises v compactly into the arena (sorted keys: the canonical form
 * of event bodies), with CORE_JSON_REAL digits for reals; NULL when out
 * of memory. */
char *core_json_dump(struct arena *a, const json_t *v);
struct jsonw;
/* A time as core_time_json has it, written to w (core/jsonw.h): RFC 3339,
 * or null when ms is 0 (not set). */
void core_time_write(struct jsonw *w, int64_t ms);

/* Leaf hashing (log.c) with a reused libcrypto context; one per thread. */
struct core_leaf_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};
void core_leaf_hasher_init(struct core_leaf_hasher *h);
void core_leaf_hasher_free(struct core_leaf_hasher *h);
void core_leaf_hash(struct core_leaf_hasher *h, const void *data, size_t len,
                    unsigned char out[32]);

/* Whether certifications of a model (model_row) or unit (unit_id)
 * recorded by recorded_by are valid at time at for scenario (NULL: any),
 * and if not, why (cert.c). */
struct core_cover {
    int seen, valid, revoked, not_yet;
    int64_t expired_at;         /* latest expiry among expired ones */
    int64_t cert_id;            /* a valid one */
    char other[256];            /* scenarios of valid ones not covering */
};
int core_cert_covers(struct store_conn *sc, int64_t model_row,
                     int64_t unit_id, int64_t at, int64_t recorded_by,
                     const char *scenario, struct arena *a,
                     struct core_cover *out, struct core_err *err);
void core_cover_reason(const struct core_cover *c, const char *scenario,
                       char *out, size_t size);
json_t *core_cert_json(const struct store_cert *k, const char *model_id,
                       const char *code, int64_t now);
json_t *core_cert_list_json(struct store_conn *sc, int64_t model_row,
                            const char *model_id, int64_t unit_id,
                            const char *code, bool valid_only,
                            struct arena *a, struct core_err *err);

/* The alert rules of one enterprise and model, read once for all the
 * reports of a batch that share them (zero it before the first report). */
struct core_alert_rules {
    bool loaded;
    int64_t enterprise_id, model_row;
    struct store_alert_rule *r;
    size_t n;
};

struct tsdb_report;

/* Evaluates unit u's fence and alert rules on one report (alert.c), in
 * the report's transaction; rules caches the rules between reports. */
int core_alert_eval(struct store_conn *sc, const struct store_unit *u,
                    const struct tsdb_report *rep,
                    struct core_alert_rules *rules, struct arena *a,
                    struct core_err *err);
/* 409 scenario_not_permitted when the unit's fence profile lists the
 * scenarios it may work in and scenario is not one of them. */
int core_fence_scenario(struct store_conn *sc, const struct store_unit *u,
                        const char *scenario, struct arena *a,
                        struct core_err *err);
/* Checks a located report of u against its fence (fence.c). */
int core_fence_eval(struct store_conn *sc, const struct store_unit *u,
                    int64_t t, double lat, double lon, struct arena *a,
                    struct core_err *err);
/* The unit's fence violations open at t (t 0: every one), fence.c. */
json_t *core_violations_at(struct store_conn *sc, int64_t unit_id, int64_t t,
                           struct arena *a, struct core_err *err);

/* The unit's alerts open at time t, as a JSON array (alert.c). */
json_t *core_alerts_open_at(struct store_conn *sc, int64_t unit_id, int64_t t,
                            struct arena *a, struct core_err *err);

/* Finds a model by its 12-character id (forgiving case): 404 "not_found"
 * naming field "model" when malformed or unknown (registry.c). */
int core_model_find(struct store_conn *sc, const char *model_id,
                    struct arena *a, struct store_model *m,
                    struct core_err *err);

/* After an event is appended to u (its counters updated): every so many
 * events, stores the unit's replayed state for as-of queries (asof.c). */
int core_asof_note(struct store_conn *sc, const struct store_unit *u,
                   const struct store_event *e, struct arena *a,
                   struct core_err *err);
/* The unit as it stood at t (asof.c); a new reference or NULL with err. */
json_t *core_asof_json(struct core *c, struct store_conn *sc,
                       const struct store_unit *u, int64_t t,
                       struct arena *a, struct core_err *err);

/* Keeps an incident report on u at time at (body: severity, kind,
 * place, description, contact) with the unit as of at (incident.c). */
int core_incident_note(struct core *c, struct store_conn *sc,
                       const struct store_unit *u, int64_t at, json_t *body,
                       int64_t reporter, bool verified, int64_t event_seq,
                       struct arena *a, struct core_err *err);

/* The open recalls a unit is unremedied under, [{id, defect, hazard,
 * remedy}]; NULL with err on failure (recall.c). */
json_t *core_recall_open_json(struct store_conn *sc, int64_t unit_id,
                              struct arena *a, struct core_err *err);
int core_version_cmp(const char *x, const char *y);

/* Makes every write transaction append its events to the log, and stops
 * it (log.c). */
void core_log_attach(struct core *c);
void core_log_detach(struct core *c);

/* The bytes of e's log leaf (docs/ledger.md), NUL-terminated, length in
 * *len; NULL when out of memory. */
char *core_leaf_encode(struct arena *a, const struct store_event *e,
                       size_t *len);

/* The leaf hash of e, SHA-256(0x00 || its leaf bytes), taken over the
 * stored body in place.  0, or -1 when out of memory. */
int core_leaf_hash_event(struct core_leaf_hasher *h,
                         const struct store_event *e, unsigned char out[32]);

/* Reply forms of records (registry.c, unit.c). */
json_t *core_party_json(const struct store_party *p, bool private_info);
json_t *core_model_json(const struct store_model *m, const char *ent,
                        bool private_filing);

/* The states of a unit (DESIGN §3), as bits so that a rule can name a
 * set of them. */
enum core_state {
    ST_REGISTERED  = 1u << 0,
    ST_RELEASED    = 1u << 1,
    ST_IN_SERVICE  = 1u << 2,
    ST_MAINTENANCE = 1u << 3,
    ST_SUSPENDED   = 1u << 4,
    ST_SCRAPPED    = 1u << 5,
    ST_RECYCLED    = 1u << 6,
    ST_VOIDED      = 1u << 7
};
const char *core_state_name(unsigned st);
unsigned core_state_parse(const char *s);

/* How much of a unit a caller sees (DESIGN §5), in increasing order. */
enum core_view {
    VIEW_PUBLIC = 0,
    VIEW_MANUFACTURER,
    VIEW_CUSTODIAN,
    VIEW_REGULATOR
};

/* A grant is live at time t when not revoked, t is inside its window, and
 * the party that granted it is still the unit's custodian. */
bool core_grant_live(const struct store_grant *g, const struct store_unit *u,
                     int64_t t);

/* Whether who holds a live grant of scope (NULL = any) on u at t. */
int core_has_grant(struct store_conn *sc, const struct core_principal *who,
                   const struct store_unit *u, const char *scope, int64_t t,
                   struct arena *a, bool *has, struct core_err *err);

/* The view who gets of u. */
int core_unit_view(struct store_conn *sc, const struct core_principal *who,
                   const struct store_unit *u, struct arena *a,
                   enum core_view *view, struct core_err *err);

/* The unit as the view allows, written to w (core/jsonw.h); CORE_OK, or
 * the failure in err.  marks (NULL: unknown) say whether its
 * certifications and recalls need to be looked up. */
int core_unit_write(struct jsonw *w, struct core *c, struct store_conn *sc,
                    const struct store_unit *u,
                    const struct store_unit_marks *marks,
                    enum core_view view, struct arena *a,
                    struct core_err *err);
/* The same as a tree; a new reference, NULL with err on failure. */
json_t *core_unit_json(struct core *c, struct store_conn *sc,
                       const struct store_unit *u,
                       enum core_view view, struct arena *a,
                       struct core_err *err);

/* Loads a unit by canonical code; 404 "not_found" when unknown. */
int core_unit_load(struct store_conn *sc, const char *code, struct arena *a,
                   struct store_unit *u, struct core_err *err);

/* Writes unit u, read in this transaction as was, when a column of its
 * row changed, and then stamps its updated_at; a unit whose events
 * changed only its history (an inspection, a notice) is left alone. */
int core_unit_save(struct store_conn *sc, const struct store_unit *was,
                   struct store_unit *u, struct core_err *err);

/*
 * Appends an event of type to unit u, dated at, recorded now by who, with
 * body (serialised canonically), and notes it in u (last event time and
 * seq, event count), which the event row records too: the store reads a
 * unit's counts from its latest event.  The caller then saves the unit
 * (core_unit_save), in the same transaction.  e receives the stored
 * event.  Every event goes through here.
 */
int core_event_record(struct store_conn *sc, struct store_unit *u,
                      const char *type, int64_t at,
                      const struct core_principal *who, json_t *body,
                      struct arena *a, struct store_event *e,
                      struct core_err *err);

/* As core_event_record, with the body already in canonical text. */
int core_event_record_text(struct store_conn *sc, struct store_unit *u,
                           const char *type, int64_t at,
                           const struct core_principal *who,
                           const char *body, struct store_event *e,
                           struct arena *a, struct core_err *err);

/* Writes the recall notices unit u is owed (recall.c) into its history,
 * oldest recall first; the caller writes u's row.  Every write that
 * records an event on an existing unit calls it first, so those notices
 * come before anything recorded on the unit after its recalls opened. */
int core_recall_settle(struct store_conn *sc, struct store_unit *u,
                       struct arena *a, struct core_err *err);

/* The reply form of an event. */
json_t *core_event_json(const struct store_event *e, const char *state);
/* The same as NUL-terminated text, into a: the body is copied as stored
 * (canonical). */
int core_event_text(const struct store_event *e, const char *state,
                    struct arena *a, const char **text, size_t *len);

/* ---- telemetry reports (telemetry.c, tel_scan.c) ---------------------- */

/* One report of a batch, read. */
struct tel_parsed {
    char code[HRID_CODE_LEN + 1];
    struct tsdb_report r;
};

/* The schema of a report (docs/telemetry.md). */
extern const struct schema_field tel_report_fields[];
extern const struct schema_field tel_joint_fields[];
extern const struct schema_field tel_battery_fields[];
extern const struct schema_field tel_location_fields[];

/*
 * Reads a telemetry body (a JSON array of reports, {"reports": [...]}, one
 * report, or JSON Lines when lines) straight into reports, without a JSON
 * tree.  Returns how many (into *out, to free), or 0 when it declines: then
 * the body is for jansson and the schema, which read it or say why not.
 */
size_t tel_scan(const char *body, size_t len, bool lines,
                struct tel_parsed **out);

/* The reports of a JSON array (the elements of reports) into *out (to
 * free), checked against the schema; an error names the report and the
 * field. */
int tel_parse_json(json_t *reports, struct tel_parsed **out,
                   struct core_err *err);

#endif
