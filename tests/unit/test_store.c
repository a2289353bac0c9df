/*
 * test_store.c - the storage conformance suite (src/store/store.h).
 *
 * Every backend must pass these tests.  They are written against the
 * store_* wrappers only: each test opens a fresh store (a new file in a
 * new temporary directory), so a later backend plugs in by making
 * fx_open give it a fresh database.  The few checks that have to look
 * under the interface (events refused at the SQL level, the schema
 * version in the file) use the SQLite file directly and are skipped for
 * other backends.
 *
 * Threads in these tests never call cmocka's assertions (which jump back
 * to the main thread's test); they count their failures and the main
 * thread asserts the counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "hrid/code.h"
#include "store/store.h"

/* ---- fixture ----------------------------------------------------------- */

struct fx {
    char dir[128];
    char path[192];
    struct store *s;
    struct arena a;
};

static int fx_open(struct fx *f)
{
    struct hrid_err err;
    int r = store_open(f->path, &f->s, &err);

    if (r != STORE_OK)
        fprintf(stderr, "store_open: %s\n", err.msg);
    return r;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    if (f == NULL)
        return -1;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(f->dir, sizeof f->dir, "%.100s/hrid-store-XXXXXX", tmp);
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/hrid.db", f->dir);
    arena_init(&f->a);
    *state = f;
    return fx_open(f) == STORE_OK ? 0 : -1;
}

static void rm_file(const char *path, const char *suffix)
{
    char p[256];

    snprintf(p, sizeof p, "%s%s", path, suffix);
    unlink(p);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->s);
    arena_release(&f->a);
    rm_file(f->path, "");
    rm_file(f->path, "-wal");
    rm_file(f->path, "-shm");
    rmdir(f->dir);
    free(f);
    return 0;
}

static void fx_reopen(struct fx *f)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(fx_open(f), STORE_OK);
}

static struct store_conn *rd(struct fx *f)
{
    struct hrid_err err;
    struct store_conn *c = store_conn(f->s, &err);

    assert_non_null(c);
    return c;
}

static bool is_sqlite(struct fx *f)
{
    return strcmp(store_backend(f->s), "sqlite") == 0;
}

/* ---- write functions ----------------------------------------------------
 * Each runs one store operation inside store_write, with the record as
 * its argument, so that ids set by the insert come back to the test. */

static int w_party(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_party_insert(c, arg, err);
}

static int w_key(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_key_insert(c, arg, err);
}

static int w_model(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_model_insert(c, arg, err);
}

static int w_model_update(struct store_conn *c, void *arg,
                          struct hrid_err *err)
{
    return store_model_update(c, arg, err);
}

static int w_unit(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_unit_insert(c, arg, err);
}

/* As core does: the row as it was, read in the same transaction. */
static int w_unit_update(struct store_conn *c, void *arg, struct hrid_err *err)
{
    const struct store_unit *u = arg;
    struct store_unit was;
    struct arena a;
    int rc;

    arena_init(&a);
    rc = store_unit_get(c, u->code, &a, &was, err);
    if (rc == STORE_OK)
        rc = store_unit_update(c, &was, u, err);
    arena_release(&a);
    return rc;
}

static int w_component(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_component_insert(c, arg, 1, err);
}

static int w_event(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_event_append(c, arg, err);
}

static int w_grant(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_grant_insert(c, arg, err);
}

static int w_idem(struct store_conn *c, void *arg, struct hrid_err *err)
{
    return store_idem_put(c, arg, err);
}

struct when {
    int64_t id, at, seq;
};

static int w_key_revoke(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct when *w = arg;

    return store_key_revoke(c, w->id, w->at, err);
}

static int w_component_remove(struct store_conn *c, void *arg,
                              struct hrid_err *err)
{
    struct when *w = arg;

    return store_component_remove(c, w->id, w->at, w->seq, err);
}

struct ctr {
    const char *name;
    int64_t value;
};

static int w_counter(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct ctr *k = arg;

    return store_counter_next(c, k->name, &k->value, err);
}

/* ---- builders ---------------------------------------------------------- */

static int64_t add_party(struct fx *f, const char *kind, const char *country,
                         const char *ent)
{
    struct store_party p = {0, kind, "Party Ltd", "Party", country, ent,
                            "{}", 1000};
    struct hrid_err err;

    assert_int_equal(store_write(f->s, w_party, &p, &err), STORE_OK);
    assert_true(p.id > 0);
    return p.id;
}

static int64_t add_model(struct fx *f, int64_t ent, const char *model_id)
{
    struct store_model m = {0};
    struct hrid_err err;

    snprintf(m.model_id, sizeof m.model_id, "%s", model_id);
    m.enterprise_id = ent;
    m.level = 3;
    m.filing_year = 2026;
    m.name = "Walker";
    m.status = "approved";
    m.params = "{\"dof\":32}";
    m.filing = "{}";
    m.filed_at = 1000;
    assert_int_equal(store_write(f->s, w_model, &m, &err), STORE_OK);
    assert_true(m.id > 0);
    return m.id;
}

/* A code with a correct check character: the model id, the serial
 * "260522" + a 10-digit sequence, and the ISO 7064 check. */
static void make_code(const char *model_id, unsigned n, char out[30])
{
    snprintf(out, 29, "%.12s260522%010u", model_id, n);
    out[28] = hrid_code_check_char(out);
    out[29] = '\0';
}

static void unit_init(struct store_unit *u, const char *code, int64_t model,
                      int64_t ent, const char *state, int64_t custodian)
{
    memset(u, 0, sizeof *u);
    snprintf(u->code, sizeof u->code, "%s", code);
    u->model_row = model;
    u->enterprise_id = ent;
    u->state = state;
    u->custodian_id = custodian;
    u->serial = code + 12;
    u->production_date = "2026-05-22";
    u->firmware = "{\"main\":\"1.0\"}";
    u->jurisdiction = "CN";
    u->extra = "{}";
    u->registered_at = 2000;
    u->updated_at = 2000;
}

static int64_t add_unit(struct fx *f, const char *code, int64_t model,
                        int64_t ent, const char *state, int64_t custodian)
{
    struct store_unit u;
    struct hrid_err err;

    unit_init(&u, code, model, ent, state, custodian);
    assert_int_equal(store_write(f->s, w_unit, &u, &err), STORE_OK);
    assert_true(u.id > 0);
    return u.id;
}

static int64_t add_event(struct fx *f, int64_t unit, const char *code,
                         const char *type, int64_t at)
{
    struct store_event e = {0};
    struct hrid_err err;

    e.unit_id = unit;
    snprintf(e.code, sizeof e.code, "%s", code);
    e.type = type;
    e.at = at;
    e.recorded_at = at + 1;
    e.actor_id = 0;
    e.actor_role = "manufacturer";
    e.body = "{}";
    assert_int_equal(store_write(f->s, w_event, &e, &err), STORE_OK);
    return e.seq;
}

/* A manufacturer, one of its models and one unit: what most tests need. */
struct world {
    int64_t ent, model, unit;
    char code[30];
};

static void world_init(struct fx *f, struct world *w)
{
    w->ent = add_party(f, "manufacturer", "CN", "A7K2");
    w->model = add_model(f, w->ent, "CNA7K2326001");
    make_code("CNA7K2326001", 1, w->code);
    w->unit = add_unit(f, w->code, w->model, w->ent, "registered", w->ent);
}

/* ---- collectors for listings ------------------------------------------- */

#define COLLECT_MAX 512

struct ids {
    int n;
    int64_t id[COLLECT_MAX];
    char code[COLLECT_MAX][30];
    int stop_after;         /* non-zero: return 7 after this many rows */
};

static int collect_party(void *ctx, const struct store_party *p)
{
    struct ids *c = ctx;

    c->id[c->n++] = p->id;
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static int collect_key(void *ctx, const struct store_key *k)
{
    struct ids *c = ctx;

    c->id[c->n++] = k->id;
    return 0;
}

static int collect_model(void *ctx, const struct store_model *m)
{
    struct ids *c = ctx;

    c->id[c->n++] = m->id;
    return 0;
}

static int collect_unit(void *ctx, const struct store_unit *u)
{
    struct ids *c = ctx;

    c->id[c->n] = u->id;
    memcpy(c->code[c->n], u->code, sizeof c->code[0]);
    c->n++;
    return 0;
}

static int collect_component(void *ctx, const struct store_component *k)
{
    struct ids *c = ctx;

    c->id[c->n++] = k->id;
    return 0;
}

static int collect_event(void *ctx, const struct store_event *e)
{
    struct ids *c = ctx;

    c->id[c->n++] = e->seq;
    return 0;
}

static int collect_grant(void *ctx, const struct store_grant *g)
{
    struct ids *c = ctx;

    c->id[c->n++] = g->id;
    return 0;
}

/* ---- parties ----------------------------------------------------------- */

static void test_party_round_trip(void **state)
{
    struct fx *f = *state;
    struct store_party p = {0, "manufacturer", "Acme Robotics Co., Ltd.",
                            "Acme", "CN", "A7K2", "{\"city\":\"Shenzhen\"}",
                            1234};
    struct store_party q = {0, "owner", "Ms Li", NULL, "CN", NULL, NULL, 5};
    struct store_party out;
    struct hrid_err err;
    struct store_conn *c;

    assert_int_equal(store_write(f->s, w_party, &p, &err), STORE_OK);
    assert_int_equal(store_write(f->s, w_party, &q, &err), STORE_OK);
    assert_true(p.id > 0);
    assert_true(q.id > p.id);

    c = rd(f);
    assert_int_equal(store_party_get(c, p.id, &f->a, &out, &err), STORE_OK);
    assert_int_equal(out.id, p.id);
    assert_string_equal(out.kind, "manufacturer");
    assert_string_equal(out.name, "Acme Robotics Co., Ltd.");
    assert_string_equal(out.public_name, "Acme");
    assert_string_equal(out.country, "CN");
    assert_string_equal(out.ent_code, "A7K2");
    assert_string_equal(out.info, "{\"city\":\"Shenzhen\"}");
    assert_int_equal(out.created_at, 1234);

    assert_int_equal(store_party_get(c, q.id, &f->a, &out, &err), STORE_OK);
    assert_string_equal(out.name, "Ms Li");
    assert_null(out.public_name);
    assert_null(out.ent_code);
    assert_null(out.info);
    assert_int_equal(out.created_at, 5);

    assert_int_equal(store_party_by_ent_code(c, "CN", "A7K2", &f->a, &out,
                                             &err), STORE_OK);
    assert_int_equal(out.id, p.id);
    assert_int_equal(store_party_by_ent_code(c, "DE", "A7K2", &f->a, &out,
                                             &err), STORE_NOTFOUND);
    assert_int_equal(out.id, 0);
    assert_int_equal(store_party_get(c, 9999, &f->a, &out, &err),
                     STORE_NOTFOUND);
    assert_non_null(strstr(err.msg, "9999"));
    assert_int_equal(out.id, 0);
}

static void test_party_conflict(void **state)
{
    struct fx *f = *state;
    struct store_party p = {0, "manufacturer", "B", "B", "CN", "A7K2", NULL,
                            1};
    struct hrid_err err;

    add_party(f, "manufacturer", "CN", "A7K2");
    assert_int_equal(store_write(f->s, w_party, &p, &err), STORE_CONFLICT);
    assert_non_null(strstr(err.msg, "A7K2"));
    /* The enterprise code is unique within a country only. */
    add_party(f, "manufacturer", "DE", "A7K2");
    /* Parties without a code never clash. */
    add_party(f, "owner", "CN", NULL);
    add_party(f, "owner", "CN", NULL);
}

static void test_party_list(void **state)
{
    struct fx *f = *state;
    struct store_conn *c;
    struct hrid_err err;
    struct ids got = {0};
    int64_t owners[6];
    int no = 0;

    for (int i = 0; i < 12; i++) {
        if (i % 2 == 0)
            owners[no++] = add_party(f, "owner", "CN", NULL);
        else
            add_party(f, "seller", "CN", NULL);
    }
    c = rd(f);
    /* All kinds, pages of 5. */
    for (int64_t after = 0;;) {
        int before = got.n;

        assert_int_equal(store_party_list(c, NULL, after, 5, &f->a,
                                          collect_party, &got, &err),
                         STORE_OK);
        if (got.n == before)
            break;
        assert_true(got.n - before <= 5);
        after = got.id[got.n - 1];
    }
    assert_int_equal(got.n, 12);
    for (int i = 1; i < got.n; i++)
        assert_true(got.id[i] > got.id[i - 1]);

    /* One kind, pages of 4. */
    memset(&got, 0, sizeof got);
    assert_int_equal(store_party_list(c, "owner", 0, 4, &f->a, collect_party,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, 4);
    assert_int_equal(store_party_list(c, "owner", got.id[3], 4, &f->a,
                                      collect_party, &got, &err), STORE_OK);
    assert_int_equal(got.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(got.id[i], owners[i]);

    /* A callback's non-zero result stops the listing and is returned. */
    memset(&got, 0, sizeof got);
    got.stop_after = 3;
    assert_int_equal(store_party_list(c, NULL, 0, 0, &f->a, collect_party,
                                      &got, &err), 7);
    assert_int_equal(got.n, 3);
}

/* ---- api keys ---------------------------------------------------------- */

static void test_key_round_trip(void **state)
{
    struct fx *f = *state;
    int64_t party = add_party(f, "manufacturer", "CN", "A7K2");
    int64_t other = add_party(f, "owner", "CN", NULL);
    struct store_key k = {0}, k2 = {0}, k3 = {0}, out;
    struct when rv = {0};
    struct store_conn *c;
    struct hrid_err err;
    struct ids got = {0};

    k.key_id = "hk_live_abc";
    for (int i = 0; i < 32; i++)
        k.hash[i] = (unsigned char)(i * 7 + 1);
    k.hash[5] = 0;              /* a NUL inside the blob must survive */
    k.party_id = party;
    k.role = "manufacturer";
    k.label = "factory line 3";
    k.created_at = 77;
    assert_int_equal(store_write(f->s, w_key, &k, &err), STORE_OK);
    assert_true(k.id > 0);

    k2 = k;
    k2.key_id = "hk_live_def";
    k2.label = NULL;
    assert_int_equal(store_write(f->s, w_key, &k2, &err), STORE_OK);
    k3 = k;
    k3.key_id = "hk_live_ghi";
    k3.party_id = other;
    assert_int_equal(store_write(f->s, w_key, &k3, &err), STORE_OK);

    c = rd(f);
    assert_int_equal(store_key_get(c, "hk_live_abc", &f->a, &out, &err),
                     STORE_OK);
    assert_int_equal(out.id, k.id);
    assert_string_equal(out.key_id, "hk_live_abc");
    assert_memory_equal(out.hash, k.hash, 32);
    assert_int_equal(out.party_id, party);
    assert_string_equal(out.role, "manufacturer");
    assert_string_equal(out.label, "factory line 3");
    assert_int_equal(out.created_at, 77);
    assert_int_equal(out.revoked_at, 0);
    assert_int_equal(store_key_get(c, "hk_live_def", &f->a, &out, &err),
                     STORE_OK);
    assert_null(out.label);
    assert_int_equal(store_key_get(c, "nope", &f->a, &out, &err),
                     STORE_NOTFOUND);

    /* Duplicate key_id. */
    k2.key_id = "hk_live_abc";
    assert_int_equal(store_write(f->s, w_key, &k2, &err), STORE_CONFLICT);
    assert_non_null(strstr(err.msg, "hk_live_abc"));

    /* Revocation: the first time stands. */
    rv.id = k.id;
    rv.at = 500;
    assert_int_equal(store_write(f->s, w_key_revoke, &rv, &err), STORE_OK);
    rv.at = 600;
    assert_int_equal(store_write(f->s, w_key_revoke, &rv, &err), STORE_OK);
    assert_int_equal(store_key_get(c, "hk_live_abc", &f->a, &out, &err),
                     STORE_OK);
    assert_int_equal(out.revoked_at, 500);
    rv.id = 9999;
    assert_int_equal(store_write(f->s, w_key_revoke, &rv, &err),
                     STORE_NOTFOUND);

    assert_int_equal(store_key_list(c, party, &f->a, collect_key, &got, &err),
                     STORE_OK);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.id[0], k.id);
    assert_int_equal(got.id[1], k2.id);
}

/* ---- models ------------------------------------------------------------ */

static void test_model_round_trip(void **state)
{
    struct fx *f = *state;
    int64_t ent = add_party(f, "manufacturer", "CN", "A7K2");
    int64_t reg = add_party(f, "regulator", "CN", NULL);
    int64_t id = add_model(f, ent, "CNA7K2326001");
    struct store_model m, dup = {0};
    struct store_conn *c = rd(f);
    struct hrid_err err;

    assert_int_equal(store_model_get(c, "CNA7K2326001", &f->a, &m, &err),
                     STORE_OK);
    assert_int_equal(m.id, id);
    assert_string_equal(m.model_id, "CNA7K2326001");
    assert_int_equal(m.enterprise_id, ent);
    assert_int_equal(m.level, 3);
    assert_int_equal(m.filing_year, 2026);
    assert_string_equal(m.name, "Walker");
    assert_string_equal(m.status, "approved");
    assert_string_equal(m.params, "{\"dof\":32}");
    assert_string_equal(m.filing, "{}");
    assert_int_equal(m.filed_at, 1000);
    assert_int_equal(m.approved_at, 0);
    assert_int_equal(m.approved_by, 0);
    assert_int_equal(m.withdrawn_at, 0);

    m.status = "withdrawn";
    m.approved_at = 2000;
    m.approved_by = reg;
    m.withdrawn_at = 3000;
    m.params = NULL;
    assert_int_equal(store_write(f->s, w_model_update, &m, &err), STORE_OK);
    assert_int_equal(store_model_get_row(c, id, &f->a, &m, &err), STORE_OK);
    assert_string_equal(m.model_id, "CNA7K2326001");
    assert_string_equal(m.status, "withdrawn");
    assert_int_equal(m.approved_at, 2000);
    assert_int_equal(m.approved_by, reg);
    assert_int_equal(m.withdrawn_at, 3000);
    assert_null(m.params);

    m.id = 9999;
    assert_int_equal(store_write(f->s, w_model_update, &m, &err),
                     STORE_NOTFOUND);
    assert_int_equal(store_model_get(c, "CNA7K2326999", &f->a, &m, &err),
                     STORE_NOTFOUND);
    assert_int_equal(store_model_get_row(c, 9999, &f->a, &m, &err),
                     STORE_NOTFOUND);

    snprintf(dup.model_id, sizeof dup.model_id, "CNA7K2326001");
    dup.enterprise_id = ent;
    assert_int_equal(store_write(f->s, w_model, &dup, &err), STORE_CONFLICT);
    assert_non_null(strstr(err.msg, "CNA7K2326001"));
}

static void test_model_list(void **state)
{
    struct fx *f = *state;
    int64_t e1 = add_party(f, "manufacturer", "CN", "A7K2");
    int64_t e2 = add_party(f, "manufacturer", "CN", "B3M9");
    int64_t mine[5];
    struct store_conn *c = rd(f);
    struct hrid_err err;
    struct ids got = {0};
    char id[13];

    for (unsigned i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "CN%s3260%02u", i % 2 ? "B3M9" : "A7K2",
                 i % 100);
        if (i % 2 == 0)
            mine[i / 2] = add_model(f, e1, id);
        else
            add_model(f, e2, id);
    }
    assert_int_equal(store_model_list(c, 0, 0, 0, &f->a, collect_model, &got,
                                      &err), STORE_OK);
    assert_int_equal(got.n, 10);
    memset(&got, 0, sizeof got);
    assert_int_equal(store_model_list(c, e1, 0, 3, &f->a, collect_model, &got,
                                      &err), STORE_OK);
    assert_int_equal(got.n, 3);
    assert_int_equal(store_model_list(c, e1, got.id[2], 3, &f->a,
                                      collect_model, &got, &err), STORE_OK);
    assert_int_equal(got.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got.id[i], mine[i]);
}

/* ---- units ------------------------------------------------------------- */

static void test_unit_round_trip(void **state)
{
    struct fx *f = *state;
    struct world w;
    int64_t owner, op;
    struct store_unit u, out;
    struct store_event e = {0};
    struct store_conn *c;
    struct hrid_err err;
    int64_t n, seq;
    char code[30];

    world_init(f, &w);
    owner = add_party(f, "owner", "CN", NULL);
    op = add_party(f, "owner", "CN", NULL);
    make_code("CNA7K2326001", 2, code);
    unit_init(&u, code, w.model, w.ent, "registered", w.ent);
    u.batch = "B-17";
    u.factory = "Shenzhen 2";
    u.device_key = "MCowBQYDK2VwAyEA";
    /* Not stored: a unit's history counts are its latest event's. */
    u.last_event_at = 2100;
    u.last_event_seq = 3;
    u.event_count = 1;
    assert_int_equal(store_write(f->s, w_unit, &u, &err), STORE_OK);
    assert_true(u.id > w.unit);
    c = rd(f);
    assert_int_equal(store_unit_get(c, code, &f->a, &out, &err), STORE_OK);
    assert_int_equal(out.last_event_at, 0);
    assert_int_equal(out.last_event_seq, 0);
    assert_int_equal(out.event_count, 0);
    e.unit_id = u.id;
    snprintf(e.code, sizeof e.code, "%s", code);
    e.type = "register";
    e.at = 2100;
    e.recorded_at = 2101;
    e.actor_role = "manufacturer";
    e.body = "{}";
    e.unit_count = 1;
    e.unit_last_at = 2100;
    assert_int_equal(store_write(f->s, w_event, &e, &err), STORE_OK);
    seq = e.seq;

    assert_int_equal(store_unit_get(c, code, &f->a, &out, &err), STORE_OK);
    assert_int_equal(out.id, u.id);
    assert_string_equal(out.code, code);
    assert_int_equal(out.model_row, w.model);
    assert_int_equal(out.enterprise_id, w.ent);
    assert_string_equal(out.state, "registered");
    assert_null(out.prev_state);
    assert_int_equal(out.custodian_id, w.ent);
    assert_int_equal(out.owner_id, 0);
    assert_int_equal(out.operator_id, 0);
    assert_string_equal(out.serial, code + 12);
    assert_string_equal(out.batch, "B-17");
    assert_string_equal(out.production_date, "2026-05-22");
    assert_string_equal(out.factory, "Shenzhen 2");
    assert_string_equal(out.firmware, "{\"main\":\"1.0\"}");
    assert_string_equal(out.device_key, "MCowBQYDK2VwAyEA");
    assert_null(out.site);
    assert_null(out.scenario);
    assert_null(out.region);
    assert_null(out.market_filing_no);
    assert_string_equal(out.jurisdiction, "CN");
    assert_string_equal(out.extra, "{}");
    assert_int_equal(out.registered_at, 2000);
    assert_int_equal(out.updated_at, 2000);
    assert_int_equal(out.last_event_at, 2100);
    assert_int_equal(out.last_event_seq, seq);
    assert_int_equal(out.event_count, 1);

    /* Every mutable column is rewritten; the identity columns are not. */
    u.state = "suspended";
    u.prev_state = "in_service";
    u.custodian_id = owner;
    u.owner_id = owner;
    u.operator_id = op;
    u.batch = "B-18";
    u.production_date = "2026-05-23";
    u.factory = NULL;
    u.firmware = "{\"main\":\"1.1\"}";
    u.device_key = NULL;
    u.site = "{\"name\":\"Depot\"}";
    u.scenario = "logistics";
    u.region = "440300";
    u.market_filing_no = "MF-1";
    u.jurisdiction = "DE";
    u.extra = "{\"x\":1}";
    u.updated_at = 3000;
    u.last_event_at = 2900;
    u.last_event_seq = 9;
    u.event_count = 4;
    u.serial = "XXXXXXXXXXXXXXXX";
    u.registered_at = 1;
    u.model_row = 9999;
    u.enterprise_id = 9999;
    assert_int_equal(store_write(f->s, w_unit_update, &u, &err), STORE_OK);
    /* A late event (an incident) leaves the latest time as it was. */
    e.type = "incident";
    e.at = 2050;
    e.unit_count = 2;
    assert_int_equal(store_write(f->s, w_event, &e, &err), STORE_OK);
    assert_int_equal(store_unit_get(c, code, &f->a, &out, &err), STORE_OK);
    assert_string_equal(out.state, "suspended");
    assert_string_equal(out.prev_state, "in_service");
    assert_int_equal(out.custodian_id, owner);
    assert_int_equal(out.owner_id, owner);
    assert_int_equal(out.operator_id, op);
    assert_string_equal(out.batch, "B-18");
    assert_string_equal(out.production_date, "2026-05-23");
    assert_null(out.factory);
    assert_string_equal(out.firmware, "{\"main\":\"1.1\"}");
    assert_null(out.device_key);
    assert_string_equal(out.site, "{\"name\":\"Depot\"}");
    assert_string_equal(out.scenario, "logistics");
    assert_string_equal(out.region, "440300");
    assert_string_equal(out.market_filing_no, "MF-1");
    assert_string_equal(out.jurisdiction, "DE");
    assert_string_equal(out.extra, "{\"x\":1}");
    assert_int_equal(out.updated_at, 3000);
    assert_int_equal(out.last_event_at, 2100);
    assert_int_equal(out.last_event_seq, seq + 1);
    assert_int_equal(out.event_count, 2);
    assert_string_equal(out.serial, code + 12);
    assert_int_equal(out.registered_at, 2000);
    assert_int_equal(out.model_row, w.model);
    assert_int_equal(out.enterprise_id, w.ent);

    u.id = 9999;
    assert_int_equal(store_write(f->s, w_unit_update, &u, &err),
                     STORE_NOTFOUND);
    assert_int_equal(store_unit_get(c, "CNA7K2326001XXXXXXXXXXXXXXXXX",
                                    &f->a, &out, &err), STORE_NOTFOUND);
    assert_int_equal(out.id, 0);
    assert_int_equal(store_unit_count(c, &n, &err), STORE_OK);
    assert_int_equal(n, 2);
}

static void test_unit_conflict(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_unit u;
    struct hrid_err err;
    int64_t n;

    world_init(f, &w);
    unit_init(&u, w.code, w.model, w.ent, "registered", w.ent);
    assert_int_equal(store_write(f->s, w_unit, &u, &err), STORE_CONFLICT);
    assert_non_null(strstr(err.msg, w.code));
    assert_non_null(strstr(err.msg, "exists"));
    /* A unit of a model that does not exist. */
    make_code("CNA7K2326001", 2, u.code);
    u.model_row = 9999;
    assert_int_equal(store_write(f->s, w_unit, &u, &err), STORE_NOTFOUND);
    assert_int_equal(store_unit_count(rd(f), &n, &err), STORE_OK);
    assert_int_equal(n, 1);
}

/* The units for the listing tests: 40 of them, inserted in an order that
 * is not the code order, spread over two enterprises, two models, a third
 * party's custody and two states. */
#define NLIST 40

struct fleet {
    int64_t e1, e2, m1, m2, owner;
    struct {
        char code[30];
        int64_t ent, model, custodian;
        const char *state;
    } u[NLIST];
};

static void fleet_init(struct fx *f, struct fleet *fl)
{
    fl->e1 = add_party(f, "manufacturer", "CN", "A7K2");
    fl->e2 = add_party(f, "manufacturer", "CN", "B3M9");
    fl->owner = add_party(f, "owner", "CN", NULL);
    fl->m1 = add_model(f, fl->e1, "CNA7K2326001");
    fl->m2 = add_model(f, fl->e2, "CNB3M9226001");
    for (int i = 0; i < NLIST; i++) {
        bool two = i % 3 == 0;
        unsigned seq = (unsigned)((i * 17) % NLIST);    /* a permutation */

        make_code(two ? "CNB3M9226001" : "CNA7K2326001", seq, fl->u[i].code);
        fl->u[i].ent = two ? fl->e2 : fl->e1;
        fl->u[i].model = two ? fl->m2 : fl->m1;
        fl->u[i].custodian = i % 5 == 0 ? fl->owner : fl->u[i].ent;
        fl->u[i].state = i % 2 ? "registered" : "released";
        add_unit(f, fl->u[i].code, fl->u[i].model, fl->u[i].ent,
                 fl->u[i].state, fl->u[i].custodian);
    }
}

/* Pages through units matching the filter, limit per page, and checks the
 * result against the fleet. */
static void check_unit_pages(struct fx *f, const struct fleet *fl,
                             struct store_unit_filter flt, int limit)
{
    struct store_conn *c = rd(f);
    struct hrid_err err;
    struct ids got = {0};
    char last[30] = "";
    int want = 0;

    flt.limit = limit;
    for (;;) {
        int before = got.n;

        flt.after_code = got.n ? last : NULL;
        assert_int_equal(store_unit_list(c, &flt, &f->a, collect_unit, &got,
                                         &err), STORE_OK);
        assert_true(got.n - before <= limit);
        if (got.n == before)
            break;
        memcpy(last, got.code[got.n - 1], sizeof last);
    }
    for (int i = 0; i < NLIST; i++) {
        if ((flt.enterprise_id && fl->u[i].ent != flt.enterprise_id) ||
            (flt.custodian_id && fl->u[i].custodian != flt.custodian_id) ||
            (flt.model_row && fl->u[i].model != flt.model_row) ||
            (flt.state && strcmp(fl->u[i].state, flt.state) != 0))
            continue;
        want++;
        /* It is in the result. */
        int j;
        for (j = 0; j < got.n; j++)
            if (strcmp(got.code[j], fl->u[i].code) == 0)
                break;
        assert_true(j < got.n);
    }
    assert_int_equal(got.n, want);
    for (int j = 1; j < got.n; j++)
        assert_true(strcmp(got.code[j - 1], got.code[j]) < 0);
}

static void test_unit_list(void **state)
{
    struct fx *f = *state;
    struct fleet *fl = calloc(1, sizeof *fl);
    struct store_unit_filter flt;

    assert_non_null(fl);
    fleet_init(f, fl);
    memset(&flt, 0, sizeof flt);
    check_unit_pages(f, fl, flt, 7);
    check_unit_pages(f, fl, flt, 100);
    flt.enterprise_id = fl->e1;
    check_unit_pages(f, fl, flt, 4);
    flt.state = "registered";
    check_unit_pages(f, fl, flt, 3);
    memset(&flt, 0, sizeof flt);
    flt.custodian_id = fl->owner;
    check_unit_pages(f, fl, flt, 2);
    flt.state = "released";
    check_unit_pages(f, fl, flt, 2);
    flt.enterprise_id = fl->e2;
    check_unit_pages(f, fl, flt, 1);
    memset(&flt, 0, sizeof flt);
    flt.state = "released";
    check_unit_pages(f, fl, flt, 6);
    memset(&flt, 0, sizeof flt);
    flt.model_row = fl->m2;
    check_unit_pages(f, fl, flt, 5);
    flt.enterprise_id = fl->e2;
    check_unit_pages(f, fl, flt, 5);
    flt.enterprise_id = fl->e1;         /* no unit of m2 is e1's */
    check_unit_pages(f, fl, flt, 5);
    free(fl);
}

/* ---- components, events, grants, idempotency, counters ----------------- */

static void test_components(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_component k[3];
    struct when rm = {0};
    struct store_conn *c;
    struct hrid_err err;
    struct ids got = {0};
    static const char *const slots[3] = {"battery", "left_arm", "head"};

    world_init(f, &w);
    for (int i = 0; i < 3; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].unit_id = w.unit;
        k[i].slot = slots[i];
        k[i].part_no = "P-100";
        k[i].supplier = i == 1 ? NULL : "Cells Inc";
        k[i].lot = "L1";
        k[i].serial = "S1";
        k[i].installed_at = 2000;
        k[i].installed_seq = 1;
        assert_int_equal(store_write(f->s, w_component, &k[i], &err),
                         STORE_OK);
        assert_true(i == 0 || k[i].id > k[i - 1].id);
    }
    rm.id = k[1].id;
    rm.at = 5000;
    rm.seq = 4;
    assert_int_equal(store_write(f->s, w_component_remove, &rm, &err),
                     STORE_OK);
    assert_int_equal(store_write(f->s, w_component_remove, &rm, &err),
                     STORE_CONFLICT);
    rm.id = 9999;
    assert_int_equal(store_write(f->s, w_component_remove, &rm, &err),
                     STORE_NOTFOUND);

    c = rd(f);
    assert_int_equal(store_component_list(c, w.unit, false, &f->a,
                                          collect_component, &got, &err),
                     STORE_OK);
    assert_int_equal(got.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(got.id[i], k[i].id);
    memset(&got, 0, sizeof got);
    assert_int_equal(store_component_list(c, w.unit, true, &f->a,
                                          collect_component, &got, &err),
                     STORE_OK);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.id[0], k[0].id);
    assert_int_equal(got.id[1], k[2].id);

    /* A unit without components. */
    memset(&got, 0, sizeof got);
    assert_int_equal(store_component_list(c, 9999, false, &f->a,
                                          collect_component, &got, &err),
                     STORE_OK);
    assert_int_equal(got.n, 0);
}

struct comp_batch {
    struct store_component *k;
    size_t n;
};

static int w_components(struct store_conn *c, void *arg,
                        struct hrid_err *err)
{
    struct comp_batch *b = arg;

    return store_component_insert(c, b->k, b->n, err);
}

static int collect_component_slot(void *ctx, const struct store_component *k)
{
    struct ids *c = ctx;

    snprintf(c->code[c->n], sizeof c->code[c->n], "%s", k->slot);
    c->id[c->n++] = k->id;
    return 0;
}

/* Components given together are inserted in order, more than one
 * statement's worth at once too, and all or none of them. */
static void test_components_many(void **state)
{
    struct fx *f = *state;
    enum { N = 11 };            /* more than one statement's rows */
    struct world w;
    struct store_component k[N];
    char slots[N][24];
    struct comp_batch b = {k, N};
    struct hrid_err err;
    struct ids got = {0};

    world_init(f, &w);
    for (int i = 0; i < N; i++) {
        snprintf(slots[i], sizeof slots[i], "joint.%02d", i);
        memset(&k[i], 0, sizeof k[i]);
        k[i].unit_id = w.unit;
        k[i].slot = slots[i];
        k[i].part_no = "KM-40";
        k[i].lot = i % 2 ? "L2" : "L1";
        k[i].installed_at = 2000;
        k[i].installed_seq = 1;
    }
    assert_int_equal(store_write(f->s, w_components, &b, &err), STORE_OK);
    assert_int_equal(store_component_list(rd(f), w.unit, false, &f->a,
                                          collect_component_slot, &got,
                                          &err), STORE_OK);
    assert_int_equal(got.n, N);
    for (int i = 0; i < N; i++) {
        assert_string_equal(got.code[i], slots[i]);
        if (is_sqlite(f))
            assert_int_equal(got.id[i], k[i].id);
    }

    /* The last names no unit: the call fails and none of them is kept. */
    k[N - 1].unit_id = 9999;
    assert_int_not_equal(store_write(f->s, w_components, &b, &err),
                         STORE_OK);
    memset(&got, 0, sizeof got);
    assert_int_equal(store_component_list(rd(f), w.unit, false, &f->a,
                                          collect_component_slot, &got,
                                          &err), STORE_OK);
    assert_int_equal(got.n, N);
}

/* Keeps the last component or event a listing showed. */
static int keep_component(void *ctx, const struct store_component *k)
{
    *(struct store_component *)ctx = *k;
    return 0;
}

static int keep_event(void *ctx, const struct store_event *e)
{
    *(struct store_event *)ctx = *e;
    return 0;
}

static int keep_grant(void *ctx, const struct store_grant *g)
{
    *(struct store_grant *)ctx = *g;
    return 0;
}

static void test_component_fields(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_component k = {0}, out = {0};
    struct when rm = {0};
    struct hrid_err err;

    world_init(f, &w);
    k.unit_id = w.unit;
    k.slot = "battery";
    k.part_no = "BAT-48V";
    k.supplier = NULL;
    k.lot = "L7";
    k.serial = "SN-1";
    k.installed_at = 2001;
    k.installed_seq = 1;
    assert_int_equal(store_write(f->s, w_component, &k, &err), STORE_OK);
    rm.id = k.id;
    rm.at = 9000;
    rm.seq = 12;
    assert_int_equal(store_write(f->s, w_component_remove, &rm, &err),
                     STORE_OK);
    assert_int_equal(store_component_list(rd(f), w.unit, false, &f->a,
                                          keep_component, &out, &err),
                     STORE_OK);
    assert_int_equal(out.id, k.id);
    assert_int_equal(out.unit_id, w.unit);
    assert_string_equal(out.slot, "battery");
    assert_string_equal(out.part_no, "BAT-48V");
    assert_null(out.supplier);
    assert_string_equal(out.lot, "L7");
    assert_string_equal(out.serial, "SN-1");
    assert_int_equal(out.installed_at, 2001);
    assert_int_equal(out.installed_seq, 1);
    assert_int_equal(out.removed_at, 9000);
    assert_int_equal(out.removed_seq, 12);

    /* A component of a unit that does not exist. */
    k.unit_id = 9999;
    assert_int_equal(store_write(f->s, w_component, &k, &err),
                     STORE_NOTFOUND);
}

static void test_events(void **state)
{
    struct fx *f = *state;
    struct world w;
    int64_t u2, actor;
    char code2[30];
    struct store_conn *c;
    struct hrid_err err;
    struct ids got = {0};
    struct store_event e = {0}, out;

    world_init(f, &w);
    make_code("CNA7K2326001", 2, code2);
    u2 = add_unit(f, code2, w.model, w.ent, "registered", w.ent);
    actor = add_party(f, "owner", "CN", NULL);

    /* The sequence is global, starts at 1 and has no gaps. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(add_event(f, i % 2 ? u2 : w.unit,
                                   i % 2 ? code2 : w.code, "note", 3000 + i),
                         i + 1);

    e.unit_id = w.unit;
    memcpy(e.code, w.code, sizeof e.code);
    e.type = "deploy";
    e.at = 4000;
    e.recorded_at = 4001;
    e.actor_id = actor;
    e.actor_role = "owner";
    e.body = "{\"site\":{\"name\":\"Depot\"}}";
    assert_int_equal(store_write(f->s, w_event, &e, &err), STORE_OK);
    assert_int_equal(e.seq, 11);

    c = rd(f);
    assert_int_equal(store_event_list(c, w.unit, 0, 0, &f->a, collect_event,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, 6);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got.id[i], 1 + 2 * i);
    assert_int_equal(got.id[5], 11);

    /* Pages: after a seq, with a limit. */
    memset(&got, 0, sizeof got);
    assert_int_equal(store_event_list(c, u2, 4, 2, &f->a, collect_event, &got,
                                      &err), STORE_OK);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.id[0], 6);
    assert_int_equal(got.id[1], 8);
    assert_int_equal(store_event_list(c, u2, 8, 2, &f->a, collect_event, &got,
                                      &err), STORE_OK);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.id[2], 10);

    memset(&out, 0, sizeof out);
    assert_int_equal(store_event_list(c, w.unit, 10, 0, &f->a, keep_event,
                                      &out, &err), STORE_OK);
    assert_int_equal(out.seq, 11);
    assert_int_equal(out.unit_id, w.unit);
    assert_string_equal(out.code, w.code);
    assert_string_equal(out.type, "deploy");
    assert_int_equal(out.at, 4000);
    assert_int_equal(out.recorded_at, 4001);
    assert_int_equal(out.actor_id, actor);
    assert_string_equal(out.actor_role, "owner");
    assert_string_equal(out.body, "{\"site\":{\"name\":\"Depot\"}}");

    /* An event of a unit that does not exist takes no number. */
    e.unit_id = 9999;
    assert_int_equal(store_write(f->s, w_event, &e, &err), STORE_NOTFOUND);
    assert_int_equal(add_event(f, w.unit, w.code, "note", 5000), 12);
}

static void test_events_append_only(void **state)
{
    struct fx *f = *state;
    struct world w;
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc;

    world_init(f, &w);
    add_event(f, w.unit, w.code, "register", 2000);
    add_event(f, w.unit, w.code, "release", 2100);
    if (!is_sqlite(f))
        skip();
    store_close(f->s);
    f->s = NULL;

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    rc = sqlite3_exec(db, "UPDATE events SET type = 'scrap' WHERE seq = 2",
                      NULL, NULL, &msg);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "history is append-only"));
    sqlite3_free(msg);
    msg = NULL;
    rc = sqlite3_exec(db, "DELETE FROM events", NULL, NULL, &msg);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_non_null(strstr(msg, "history is append-only"));
    sqlite3_free(msg);
    sqlite3_close(db);

    assert_int_equal(fx_open(f), STORE_OK);
    struct store_event last = {0};
    struct hrid_err err;
    assert_int_equal(store_event_list(rd(f), w.unit, 0, 0, &f->a, keep_event,
                                      &last, &err), STORE_OK);
    assert_int_equal(last.seq, 2);
    assert_string_equal(last.type, "release");
}

static void test_grants(void **state)
{
    struct fx *f = *state;
    struct world w;
    int64_t svc;
    struct store_grant g = {0}, g2, out = {0};
    struct hrid_err err;
    struct ids got = {0};

    world_init(f, &w);
    svc = add_party(f, "service", "CN", NULL);
    g.unit_id = w.unit;
    g.grantee_id = svc;
    g.granted_by = w.ent;
    g.scope = "maintenance";
    g.valid_from = 100;
    g.valid_until = 200;
    g.created_at = 99;
    assert_int_equal(store_write(f->s, w_grant, &g, &err), STORE_OK);
    g2 = g;
    g2.scope = "recycling";
    g2.revoked_at = 150;
    assert_int_equal(store_write(f->s, w_grant, &g2, &err), STORE_OK);
    assert_true(g2.id > g.id);

    assert_int_equal(store_grant_list(rd(f), w.unit, &f->a, collect_grant,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.id[0], g.id);
    assert_int_equal(got.id[1], g2.id);
    assert_int_equal(store_grant_list(rd(f), w.unit, &f->a, keep_grant, &out,
                                      &err), STORE_OK);
    assert_int_equal(out.id, g2.id);
    assert_int_equal(out.unit_id, w.unit);
    assert_int_equal(out.grantee_id, svc);
    assert_int_equal(out.granted_by, w.ent);
    assert_string_equal(out.scope, "recycling");
    assert_int_equal(out.valid_from, 100);
    assert_int_equal(out.valid_until, 200);
    assert_int_equal(out.revoked_at, 150);
    assert_int_equal(out.created_at, 99);
}

static void test_idempotency(void **state)
{
    struct fx *f = *state;
    int64_t p = add_party(f, "manufacturer", "CN", "A7K2");
    int64_t q = add_party(f, "owner", "CN", NULL);
    struct store_idem d = {0}, out;
    struct store_conn *c;
    struct hrid_err err;

    d.party_id = p;
    d.key = "req-0001";
    for (int i = 0; i < 32; i++)
        d.req_hash[i] = (unsigned char)(255 - i);
    d.status = 201;
    d.response = "{\"code\":\"CN...\"}";
    d.created_at = 42;
    assert_int_equal(store_write(f->s, w_idem, &d, &err), STORE_OK);

    c = rd(f);
    assert_int_equal(store_idem_get(c, p, "req-0001", &f->a, &out, &err),
                     STORE_OK);
    assert_int_equal(out.party_id, p);
    assert_string_equal(out.key, "req-0001");
    assert_memory_equal(out.req_hash, d.req_hash, 32);
    assert_int_equal(out.status, 201);
    assert_string_equal(out.response, "{\"code\":\"CN...\"}");
    assert_int_equal(out.created_at, 42);

    assert_int_equal(store_write(f->s, w_idem, &d, &err), STORE_CONFLICT);
    assert_non_null(strstr(err.msg, "req-0001"));
    /* The key is per party. */
    d.party_id = q;
    assert_int_equal(store_write(f->s, w_idem, &d, &err), STORE_OK);
    assert_int_equal(store_idem_get(c, p, "req-0002", &f->a, &out, &err),
                     STORE_NOTFOUND);
    assert_null(out.key);
}

static void test_counters(void **state)
{
    struct fx *f = *state;
    struct ctr a = {"serial:CNA7K2:260522", 0}, b = {"model:CNA7K2:26", 0};
    struct hrid_err err;

    for (int64_t i = 1; i <= 5; i++) {
        assert_int_equal(store_write(f->s, w_counter, &a, &err), STORE_OK);
        assert_int_equal(a.value, i);
    }
    assert_int_equal(store_write(f->s, w_counter, &b, &err), STORE_OK);
    assert_int_equal(b.value, 1);
    fx_reopen(f);
    assert_int_equal(store_write(f->s, w_counter, &a, &err), STORE_OK);
    assert_int_equal(a.value, 6);
    assert_int_equal(store_write(f->s, w_counter, &b, &err), STORE_OK);
    assert_int_equal(b.value, 2);
}

/* ---- write transactions ------------------------------------------------ */

struct abort_job {
    int64_t party;
    int64_t counter;
    int result;             /* what the function returns after writing */
};

static int w_write_then(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct abort_job *j = arg;
    struct store_party p = {0, "owner", "Temp", NULL, "CN", NULL, NULL, 1};
    int r;

    r = store_party_insert(c, &p, err);
    if (r != STORE_OK)
        return r;
    j->party = p.id;
    r = store_counter_next(c, "jobs", &j->counter, err);
    if (r != STORE_OK)
        return r;
    if (j->result != STORE_OK)
        hrid_err_set(err, j->result, 0, 0, "job chose to fail");
    return j->result;
}

static void test_write_rollback(void **state)
{
    struct fx *f = *state;
    struct abort_job j1 = {0, 0, STORE_ABORT}, j2 = {0, 0, 42};
    struct abort_job j3 = {0, 0, STORE_OK};
    struct store_party out;
    struct hrid_err err;
    struct ids got = {0};

    assert_int_equal(store_write(f->s, w_write_then, &j1, &err),
                     STORE_ABORT);
    assert_int_equal(store_write(f->s, w_write_then, &j2, &err), 42);
    assert_string_equal(err.msg, "job chose to fail");
    assert_int_equal(store_party_get(rd(f), j1.party, &f->a, &out, &err),
                     STORE_NOTFOUND);
    assert_int_equal(store_write(f->s, w_write_then, &j3, &err), STORE_OK);
    /* Nothing the failed jobs wrote is kept, the counter included. */
    assert_int_equal(j3.counter, 1);
    assert_int_equal(store_party_list(rd(f), NULL, 0, 0, &f->a, collect_party,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.id[0], j3.party);
}

/* When the transaction cannot even begin (another process holds the write
 * lock), every job learns it, nothing is kept, and the store recovers. */
static void test_write_blocked(void **state)
{
    struct fx *f = *state;
    struct abort_job j = {0, 0, STORE_OK};
    struct hrid_err err;
    sqlite3 *db = NULL;
    char uri[256];

    if (!is_sqlite(f))
        skip();
    store_close(f->s);
    snprintf(uri, sizeof uri, "%s?busy_timeout=20", f->path);
    assert_int_equal(store_open(uri, &f->s, &err), STORE_OK);

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store_write(f->s, w_write_then, &j, &err), STORE_EIO);
    assert_non_null(strstr(err.msg, "locked"));
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_write(f->s, w_write_then, &j, &err), STORE_OK);
    assert_int_equal(j.counter, 1);
}

/* A write function sees its own writes through the connection it gets,
 * and read_begin/read_end are harmless inside it. */
static int w_insert_and_read(struct store_conn *c, void *arg,
                             struct hrid_err *err)
{
    struct store_unit *u = arg;
    struct store_unit back;
    struct arena a;
    int r;

    r = store_unit_insert(c, u, err);
    if (r != STORE_OK)
        return r;
    r = store_read_begin(c, err);
    if (r != STORE_OK)
        return r;
    arena_init(&a);
    r = store_unit_get(c, u->code, &a, &back, err);
    if (r == STORE_OK && back.id != u->id)
        r = STORE_EIO;
    arena_release(&a);
    store_read_end(c);
    return r;
}

static void test_write_sees_own_writes(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_unit u;
    struct hrid_err err;
    char code[30];

    world_init(f, &w);
    make_code("CNA7K2326001", 77, code);
    unit_init(&u, code, w.model, w.ent, "registered", w.ent);
    assert_int_equal(store_write(f->s, w_insert_and_read, &u, &err),
                     STORE_OK);
}

struct nested {
    struct store *s;
    int inner;
};

static int w_nested(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct nested *n = arg;

    (void)c;
    n->inner = store_write(n->s, w_counter, &(struct ctr){"x", 0}, err);
    return STORE_OK;
}

static void test_write_nested_refused(void **state)
{
    struct fx *f = *state;
    struct nested n = {f->s, -1};
    struct hrid_err err;

    assert_int_equal(store_write(f->s, w_nested, &n, &err), STORE_OK);
    assert_int_equal(n.inner, STORE_EIO);
}

static void test_read_conn_is_read_only(void **state)
{
    struct fx *f = *state;
    struct store_party p = {0, "owner", "X", NULL, "CN", NULL, NULL, 1};
    struct hrid_err err;
    struct ids got = {0};

    assert_int_not_equal(store_party_insert(rd(f), &p, &err), STORE_OK);
    assert_int_equal(store_party_list(rd(f), NULL, 0, 0, &f->a, collect_party,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, 0);
}

static void test_read_snapshot(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_conn *c;
    struct hrid_err err;
    char code[30];
    int64_t n;

    world_init(f, &w);
    c = rd(f);
    assert_int_equal(store_read_begin(c, &err), STORE_OK);
    assert_int_equal(store_read_begin(c, &err), STORE_OK);   /* nested */
    assert_int_equal(store_unit_count(c, &n, &err), STORE_OK);
    assert_int_equal(n, 1);
    make_code("CNA7K2326001", 2, code);
    add_unit(f, code, w.model, w.ent, "registered", w.ent);
    store_read_end(c);
    assert_int_equal(store_unit_count(c, &n, &err), STORE_OK);
    assert_int_equal(n, 1);             /* still the outer snapshot */
    store_read_end(c);
    assert_int_equal(store_unit_count(c, &n, &err), STORE_OK);
    assert_int_equal(n, 2);
}

/* ---- group commit under concurrency ------------------------------------ */

#define GC_THREADS 8
#define GC_JOBS    200

/* Job i of a thread: writes a party, an event and a counter step, then
 * keeps them, rolls back on purpose (i % 4 == 3), or fails on a real
 * unique-key clash after writing (i % 10 == 9). */
static bool gc_keeps(int i)
{
    return i % 4 != 3 && i % 10 != 9;
}

struct gc_ctx {
    struct store *s;
    int64_t unit, model, ent;
    const char *code;
    int tid;
    int failures;           /* results that were not what was expected */
    int i;
};

static int w_gc_job(struct store_conn *c, void *arg, struct hrid_err *err)
{
    struct gc_ctx *g = arg;
    char name[32];
    struct store_party p = {0, "owner", name, NULL, "CN", NULL, NULL, 1};
    struct store_event e = {0};
    struct store_unit dup;
    int64_t v;
    int r;

    snprintf(name, sizeof name, "t%d-%d", g->tid, g->i);
    r = store_party_insert(c, &p, err);
    if (r != STORE_OK)
        return r;
    e.unit_id = g->unit;
    snprintf(e.code, sizeof e.code, "%s", g->code);
    e.type = "note";
    e.at = 1;
    e.recorded_at = 1;
    e.body = name;
    r = store_event_append(c, &e, err);
    if (r != STORE_OK)
        return r;
    r = store_counter_next(c, "jobs", &v, err);
    if (r != STORE_OK)
        return r;
    if (g->i % 4 == 3)
        return STORE_ABORT;
    if (g->i % 10 == 9) {
        unit_init(&dup, g->code, g->model, g->ent, "registered", g->ent);
        return store_unit_insert(c, &dup, err);     /* clashes */
    }
    return STORE_OK;
}

static void *gc_thread(void *arg)
{
    struct gc_ctx *g = arg;
    struct hrid_err err;

    for (g->i = 0; g->i < GC_JOBS; g->i++) {
        int r = store_write(g->s, w_gc_job, g, &err);
        int want = gc_keeps(g->i) ? STORE_OK
                   : g->i % 4 == 3 ? STORE_ABORT : STORE_CONFLICT;

        if (r != want)
            g->failures++;
    }
    return NULL;
}

static int count_event(void *ctx, const struct store_event *e)
{
    struct ids *c = ctx;

    /* Sequence numbers run 1, 2, 3, ... with no gap. */
    if (e->seq != c->n + 1)
        return 1;
    c->n++;
    return 0;
}

static int check_party_name(void *ctx, const struct store_party *p)
{
    int *n = ctx;
    int tid, i;

    if (sscanf(p->name, "t%d-%d", &tid, &i) != 2 || !gc_keeps(i))
        return 1;
    (*n)++;
    return 0;
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct world w;
    pthread_t th[GC_THREADS];
    struct gc_ctx g[GC_THREADS];
    struct ids got = {0};
    struct ctr k = {"jobs", 0};
    struct hrid_err err;
    int kept = 0, parties = 0;

    world_init(f, &w);
    for (int i = 0; i < GC_JOBS; i++)
        kept += gc_keeps(i);
    kept *= GC_THREADS;
    for (int t = 0; t < GC_THREADS; t++) {
        g[t] = (struct gc_ctx){f->s, w.unit, w.model, w.ent, w.code, t, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, gc_thread, &g[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(g[t].failures, 0);
    }
    assert_int_equal(store_event_list(rd(f), w.unit, 0, 0, &f->a, count_event,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, kept);
    assert_int_equal(store_party_list(rd(f), "owner", 0, 0, &f->a,
                                      check_party_name, &parties, &err),
                     STORE_OK);
    assert_int_equal(parties, kept);
    assert_int_equal(store_write(f->s, w_counter, &k, &err), STORE_OK);
    assert_int_equal(k.value, kept + 1);
}

/* store_write_async: jobs queued from one thread without waiting, each
 * told its result once on the writer's thread; the kept ones are in the
 * store once the last is told. */
struct async_job {
    struct gc_ctx g;
    struct hrid_err err;
    int result;
    bool told;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *left;
};

static void async_done(void *arg, int result)
{
    struct async_job *j = arg;

    pthread_mutex_lock(j->mu);
    j->result = result;
    j->told = true;
    if (--*j->left == 0)
        pthread_cond_signal(j->cv);
    pthread_mutex_unlock(j->mu);
}

static void test_write_async(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct async_job *jobs = calloc(GC_JOBS, sizeof *jobs);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int left = GC_JOBS, kept = 0, parties = 0;
    struct hrid_err err;

    assert_non_null(jobs);
    world_init(f, &w);
    for (int i = 0; i < GC_JOBS; i++) {
        struct async_job *j = &jobs[i];

        j->g = (struct gc_ctx){f->s, w.unit, w.model, w.ent, w.code, 0, 0, i};
        j->mu = &mu;
        j->cv = &cv;
        j->left = &left;
        assert_int_equal(store_write_async(f->s, w_gc_job, &j->g, &j->err,
                                           async_done, j),
                         STORE_OK);
    }
    pthread_mutex_lock(&mu);
    while (left > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < GC_JOBS; i++) {
        int want = gc_keeps(i) ? STORE_OK
                   : i % 4 == 3 ? STORE_ABORT : STORE_CONFLICT;

        assert_true(jobs[i].told);
        assert_int_equal(jobs[i].result, want);
        kept += gc_keeps(i);
    }
    assert_int_equal(store_party_list(rd(f), "owner", 0, 0, &f->a,
                                      check_party_name, &parties, &err),
                     STORE_OK);
    assert_int_equal(parties, kept);
    free(jobs);
}

/* Readers on their own threads (each gets its own connection, closed when
 * the thread exits) while the main thread writes. */
struct reader_ctx {
    struct store *s;
    const char *code;
    int failures;
};

static void *reader_thread(void *arg)
{
    struct reader_ctx *r = arg;
    struct hrid_err err;
    struct store_conn *c = store_conn(r->s, &err);
    struct store_unit u;
    struct arena a;

    if (c == NULL || store_conn(r->s, &err) != c) {
        r->failures++;
        return NULL;
    }
    arena_init(&a);
    for (int i = 0; i < 300; i++) {
        if (store_unit_get(c, r->code, &a, &u, &err) != STORE_OK ||
            strcmp(u.code, r->code) != 0)
            r->failures++;
        if (i % 50 == 49)
            arena_release(&a);
    }
    arena_release(&a);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct fx *f = *state;
    struct world w;
    pthread_t th[4];
    struct reader_ctx r[4];
    char code[30];

    world_init(f, &w);
    for (int t = 0; t < 4; t++) {
        r[t] = (struct reader_ctx){f->s, w.code, 0};
        assert_int_equal(pthread_create(&th[t], NULL, reader_thread, &r[t]),
                         0);
    }
    for (unsigned i = 0; i < 50; i++) {
        make_code("CNA7K2326001", 100 + i, code);
        add_unit(f, code, w.model, w.ent, "registered", w.ent);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(r[t].failures, 0);
    }
}

/* ---- persistence, schema, uri ------------------------------------------ */

static void test_reopen(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_unit u;
    struct store_party p;
    struct hrid_err err;
    int64_t n;

    world_init(f, &w);
    add_event(f, w.unit, w.code, "register", 2000);
    fx_reopen(f);
    fx_reopen(f);       /* a second reopen: migrations are not re-applied */
    assert_int_equal(store_unit_get(rd(f), w.code, &f->a, &u, &err),
                     STORE_OK);
    assert_int_equal(u.id, w.unit);
    assert_int_equal(store_party_by_ent_code(rd(f), "CN", "A7K2", &f->a, &p,
                                             &err), STORE_OK);
    assert_int_equal(store_unit_count(rd(f), &n, &err), STORE_OK);
    assert_int_equal(n, 1);
    /* The sequence goes on where it stopped. */
    assert_int_equal(add_event(f, w.unit, w.code, "release", 2100), 2);
}

/* Reads meta.schema_version straight from the file. */
static int64_t file_schema_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT value FROM meta"
                               " WHERE key = 'schema_version'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A registry from before migration 18, whose units kept their history
 * counts in their rows: the migration writes each event's counts once,
 * and the units read the same counts from their latest events. */
static void test_history_counts_migrated(void **state)
{
    struct fx *f = *state;
    struct world w;
    struct store_unit u;
    struct hrid_err err;
    sqlite3 *db = NULL;
    int64_t v, two, late;
    char code2[30];

    if (!is_sqlite(f))
        skip();
    world_init(f, &w);
    make_code("CNA7K2326001", 2, code2);
    two = add_unit(f, code2, w.model, w.ent, "registered", w.ent);
    add_event(f, w.unit, w.code, "register", 2000);
    add_event(f, two, code2, "register", 3000);
    add_event(f, w.unit, w.code, "release", 2100);
    late = add_event(f, w.unit, w.code, "incident", 2050);
    store_close(f->s);
    f->s = NULL;
    v = file_schema_version(f->path);

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "DROP INDEX events_unit;"
        "CREATE INDEX events_unit ON events (unit_id, seq);"
        "ALTER TABLE events DROP COLUMN unit_count;"
        "ALTER TABLE events DROP COLUMN unit_last_at;"
        "ALTER TABLE units ADD COLUMN last_event_at INTEGER NOT NULL"
        "  DEFAULT 0;"
        "ALTER TABLE units ADD COLUMN last_event_seq INTEGER NOT NULL"
        "  DEFAULT 0;"
        "ALTER TABLE units ADD COLUMN event_count INTEGER NOT NULL"
        "  DEFAULT 0;"
        "UPDATE meta SET value = 17 WHERE key = 'schema_version';",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(fx_open(f), STORE_OK);
    assert_int_equal(file_schema_version(f->path), v);
    assert_int_equal(store_unit_get(rd(f), w.code, &f->a, &u, &err),
                     STORE_OK);
    assert_int_equal(u.event_count, 3);
    assert_int_equal(u.last_event_seq, late);
    assert_int_equal(u.last_event_at, 2100);
    assert_int_equal(store_unit_get(rd(f), code2, &f->a, &u, &err),
                     STORE_OK);
    assert_int_equal(u.event_count, 1);
    assert_int_equal(u.last_event_at, 3000);
    /* The history is append-only again. */
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE events SET unit_count = 0",
                                  NULL, NULL, NULL), SQLITE_CONSTRAINT);
    sqlite3_close(db);
    assert_int_equal(fx_open(f), STORE_OK);
}

static void test_schema_version(void **state)
{
    struct fx *f = *state;
    int64_t v;
    sqlite3 *db = NULL;
    struct hrid_err err;
    struct store *s2 = NULL;

    if (!is_sqlite(f))
        skip();
    store_close(f->s);
    f->s = NULL;
    v = file_schema_version(f->path);
    assert_true(v >= 1);
    assert_int_equal(fx_open(f), STORE_OK);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(file_schema_version(f->path), v);

    /* A file from a newer program is refused, and left alone. */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = value + 1"
                                      " WHERE key = 'schema_version'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->path, &s2, &err), STORE_EIO);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "newer"));
    assert_int_equal(file_schema_version(f->path), v + 1);
    /* teardown closes nothing: f->s is NULL */
}

/* The WAL is checkpointed back into the database as it grows, and starts
 * over once it reaches 62.5 MiB (CHECKPOINT_PAGES * 4 pages), so the WAL
 * file stays below that and a batch however much is written. */
static void test_wal_bounded(void **state)
{
    struct fx *f = *state;
    enum { BIG = 448 * 1024, JOBS = 450 };  /* about 197 MiB in all */
    char *info = malloc(BIG + 1), wal[256];
    struct store_party p = {0, "owner", "Big", NULL, "CN", NULL, NULL, 1};
    struct hrid_err err;
    struct stat st;
    struct ids got = {0};

    assert_non_null(info);
    memset(info, 'x', BIG);
    info[BIG] = '\0';
    p.info = info;
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(store_write(f->s, w_party, &p, &err), STORE_OK);
    free(info);
    assert_int_equal(store_party_list(rd(f), NULL, 0, 0, &f->a, collect_party,
                                      &got, &err), STORE_OK);
    assert_int_equal(got.n, JOBS);
    if (!is_sqlite(f))
        return;
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_true(st.st_size < 66 * 1024 * 1024);
}

static void test_uri(void **state)
{
    struct fx *f = *state;
    struct store *s2 = NULL;
    struct hrid_err err;
    char uri[256];

    assert_string_equal(store_backend(f->s), "sqlite");
    /* A server that cannot be reached: an error that names no password. */
    assert_int_equal(store_open("postgresql://hrid:s3cret@127.0.0.1:1/hrid",
                                &s2, &err), STORE_EIO);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "cannot connect to the database"));
    assert_null(strstr(err.msg, "s3cret"));
    assert_int_equal(store_open("", &s2, &err), STORE_EIO);
    assert_null(s2);
    if (!is_sqlite(f))
        return;

    store_close(f->s);
    f->s = NULL;
    snprintf(uri, sizeof uri, "%s?sync=normal", f->path);
    assert_int_equal(store_open(uri, &s2, &err), STORE_OK);
    assert_int_equal(store_write(s2, w_counter, &(struct ctr){"c", 0}, &err),
                     STORE_OK);
    store_close(s2);
    s2 = NULL;
    snprintf(uri, sizeof uri, "%s?sync=full&sync=normal", f->path);
    assert_int_equal(store_open(uri, &s2, &err), STORE_OK);
    store_close(s2);
    s2 = NULL;
    snprintf(uri, sizeof uri, "%s?busy_timeout=2s", f->path);
    assert_int_equal(store_open(uri, &s2, &err), STORE_EIO);
    assert_non_null(strstr(err.msg, "busy_timeout=2s"));
    snprintf(uri, sizeof uri, "%s?cache=huge", f->path);
    assert_int_equal(store_open(uri, &s2, &err), STORE_EIO);
    assert_non_null(strstr(err.msg, "cache=huge"));
    assert_null(s2);
    assert_int_equal(store_open("/nonexistent-dir/x/y.db", &s2, &err),
                     STORE_EIO);
    assert_null(s2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_party_round_trip),
        T(test_party_conflict),
        T(test_party_list),
        T(test_key_round_trip),
        T(test_model_round_trip),
        T(test_model_list),
        T(test_unit_round_trip),
        T(test_unit_conflict),
        T(test_unit_list),
        T(test_components),
        T(test_components_many),
        T(test_component_fields),
        T(test_events),
        T(test_events_append_only),
        T(test_grants),
        T(test_idempotency),
        T(test_counters),
        T(test_write_rollback),
        T(test_write_blocked),
        T(test_write_sees_own_writes),
        T(test_write_nested_refused),
        T(test_read_conn_is_read_only),
        T(test_read_snapshot),
        T(test_group_commit),
        T(test_write_async),
        T(test_concurrent_readers),
        T(test_reopen),
        T(test_schema_version),
        T(test_history_counts_migrated),
        T(test_wal_bounded),
        T(test_uri),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
