/*
 * cmd_log.c - "hrid log": checking the registry's signed log over the
 * HTTP API, as a witness or an auditor without access to the database
 * does (DESIGN §5, docs/ledger.md).
 *
 *   log verify   the current checkpoint is signed by the log's key and,
 *                given the checkpoint saved by the last run, the log only
 *                grew since (an RFC 9162 consistency proof); then saves
 *                the new one for the next run
 *   log prove    every event of a unit, as the API shows it, is a leaf of
 *                the signed tree (one inclusion proof per event)
 *
 * Everything the server sends is checked here with libhrid, never taken
 * on trust: the checkpoint's signature (hrid/note.h), the proofs
 * (hrid/merkle.h), and, for "prove", the leaf hash itself, recomputed from
 * the event's JSON.  A leaf's bytes are the event object as the API
 * returns it without "seq", "leaf" and "state", in the registry's
 * canonical JSON (compact, keys sorted bytewise, UTF-8 as is, reals with
 * 15 significant digits), which is what jansson writes with the flags of
 * LEAF_JSON_FLAGS below.
 *
 * A verification that fails prints "log verify FAILED: ..." or "log prove
 * FAILED: ..." on stdout and exits 1; a server that cannot be reached
 * exits 3, as every online command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "hrid/merkle.h"
#include "hrid/note.h"

/* A vkey: a key name of at most HRID_CHECKPOINT_ORIGIN_MAX bytes and 55
 * more characters. */
#define VKEY_MAX (HRID_CHECKPOINT_ORIGIN_MAX + 64)

/* The registry's canonical JSON (docs/ledger.md): what a leaf hashes. */
#define LEAF_JSON_FLAGS \
    (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY)

/* How long "prove" waits for a checkpoint that covers the unit's newest
 * event: hridd signs one at most every --checkpoint-ms (a second by
 * default) while the log grows, so five seconds is five of its rounds. */
#define PROVE_WAIT_MS 5000
#define PROVE_POLL_MS 200

/* A page of the unit's history: the API's largest (docs/API.md). */
#define EVENTS_PAGE "1000"

/* The longest message of a failed check. */
#define WHY_MAX 640

/* base64 of a 32-byte hash, with its NUL. */
#define HASH_B64_SIZE \
    sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)

/* ---- shared ---------------------------------------------------------- */

static int failed(char *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes what failed into why (WHY_MAX bytes) and returns CLI_FAIL. */
static int failed(char *why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, WHY_MAX, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

static void hash_b64(const unsigned char h[32], char out[HASH_B64_SIZE])
{
    sodium_bin2base64(out, HASH_B64_SIZE, h, 32,
                      sodium_base64_VARIANT_ORIGINAL);
}

/* Decodes a JSON string holding the base64 of a 32-byte hash.  Returns 0,
 * or -1 when v is anything else. */
static int hash_from_json(const json_t *v, unsigned char out[32])
{
    const char *s = json_string_value(v), *end;
    size_t len = 0;

    if (s == NULL ||
        sodium_base642bin(out, 32, s, json_string_length(v), NULL, &len,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || len != 32)
        return -1;
    return 0;
}

/* Decodes the "hashes" array of a proof (at most max).  Returns 0, or -1
 * when it is not an array of base64 hashes that fits. */
static int path_from_json(const json_t *arr, unsigned char (*out)[32],
                          size_t max, size_t *n)
{
    size_t i;

    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) > max)
        return -1;
    for (i = 0; i < json_array_size(arr); i++)
        if (hash_from_json(json_array_get(arr, i), out[i]) != 0)
            return -1;
    *n = i;
    return 0;
}

/*
 * The log's verifier key, from GET /v1/log/key, into vkey (VKEY_MAX
 * bytes).  With pinned, the server's key must be that one.  Returns
 * CLI_OK; CLI_FAIL with why set when the key is wrong; or a client
 * status after its message (why empty).
 */
static int fetch_key(struct client *c, const char *pinned, char *vkey,
                     char *why)
{
    char name[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    char pname[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char pk[32], ppk[32];
    struct hrid_err he;
    json_t *reply;
    const char *s;
    int rc;

    rc = client_call(c, "GET", "/v1/log/key", NULL, &reply);
    if (rc != CLI_OK)
        return rc;
    s = json_string_value(json_object_get(reply, "vkey"));
    hrid_err_clear(&he);
    if (s == NULL || strlen(s) >= VKEY_MAX ||
        hrid_vkey_parse(s, name, sizeof name, pk, &he) != HRID_OK) {
        rc = failed(why, "the server's log key is not a verifier key%s%s",
                    he.msg[0] != '\0' ? ": " : "", he.msg);
        goto out;
    }
    snprintf(vkey, VKEY_MAX, "%s", s);
    if (pinned != NULL) {
        /* Compared parsed: the key id's hex may differ in case. */
        hrid_vkey_parse(pinned, pname, sizeof pname, ppk, NULL);
        if (strcmp(name, pname) != 0 || sodium_memcmp(pk, ppk, 32) != 0)
            rc = failed(why, "the server's log key is '%s', not the pinned "
                        "'%s'", s, pinned);
    }
out:
    json_decref(reply);
    return rc;
}

/*
 * Opens a signed checkpoint with vkey and checks that it names the key's
 * log.  whose says where it came from ("the server's", "the saved").
 * Returns CLI_OK, or CLI_FAIL with why set.
 */
static int checkpoint_open(const char *note, size_t len, const char *vkey,
                           const char *whose, struct hrid_checkpoint *cp,
                           char *why)
{
    char name[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char pk[32];
    struct hrid_err he;

    hrid_err_clear(&he);
    if (hrid_checkpoint_open(note, len, vkey, cp, &he) != HRID_OK)
        return failed(why, "%s checkpoint does not verify with the log key "
                      "'%s': %s", whose, vkey, he.msg);
    hrid_vkey_parse(vkey, name, sizeof name, pk, NULL);
    if (strcmp(cp->origin, name) != 0)
        return failed(why, "%s checkpoint is of the log '%s', not of '%s'",
                      whose, cp->origin, name);
    return CLI_OK;
}

/*
 * The server's last checkpoint: its note into note (HRID_NOTE_MAX + 1
 * bytes, NUL-terminated), its length in *len, verified and parsed into
 * *cp.  Returns CLI_OK; CLI_FAIL with why set when it does not verify or
 * none was signed yet; or a client status after its message.
 */
static int fetch_checkpoint(struct client *c, const char *vkey, char *note,
                            size_t *len, struct hrid_checkpoint *cp,
                            char *why)
{
    int rc;

    *len = 0;
    rc = client_send(c, "GET", "/v1/log/checkpoint", NULL, 0, NULL);
    if (rc != CLI_OK)
        return client_report(c);
    if (c->status == 404)
        return failed(why, "the log has no signed checkpoint yet");
    if (c->status != 200)
        return client_report(c);
    if (c->len > HRID_NOTE_MAX)
        return failed(why, "the server's checkpoint is longer than %d "
                      "bytes: not a checkpoint", HRID_NOTE_MAX);
    memcpy(note, c->body, c->len);
    note[c->len] = '\0';
    *len = c->len;
    return checkpoint_open(note, *len, vkey, "the server's", cp, why);
}

static int check_vkey_option(const char *pinned, const char *usage)
{
    char name[HRID_CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char pk[32];
    struct hrid_err he;

    if (pinned == NULL)
        return CLI_OK;
    hrid_err_clear(&he);
    if (strlen(pinned) >= VKEY_MAX ||
        hrid_vkey_parse(pinned, name, sizeof name, pk, &he) != HRID_OK)
        return cli_usage_error(usage, "--log-key: %s", he.msg[0] != '\0'
                               ? he.msg : "too long for a verifier key");
    return CLI_OK;
}

static int print_json(json_t *o)
{
    char *text;

    if (o == NULL)
        return cli_error("out of memory");
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return cli_error("out of memory");
    puts(text);
    free(text);
    return CLI_OK;
}

/* ---- verify ---------------------------------------------------------- */

static const char verify_usage[] =
    "usage: hrid log verify [--checkpoint FILE] [--log-key VKEY]\n"
    "\n"
    "   --checkpoint  a file keeping the last checkpoint seen: when it\n"
    "                 exists, the log must have only grown since (checked\n"
    "                 with a consistency proof); on success it is replaced\n"
    "                 by the new checkpoint\n"
    "   --log-key     the log's verifier key as published,\n"
    "                 <name>+<key id>+<base64>: the server's must be it\n"
    "\n"
    "Checks the registry's current signed checkpoint, as a witness does.\n"
    "Exits 1 when a signature or proof fails, or the log was rewritten.\n";

static const struct cmdline_opt verify_opts[] = {
    {"checkpoint", CMDLINE_STR, 0},
    {"log-key", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

/* A saved checkpoint, read from path into note (HRID_NOTE_MAX + 1 bytes).
 * Returns 1 when read, 0 when there is no such file, or -1 after a
 * message. */
static int saved_read(const char *path, char *note, size_t *len)
{
    FILE *f = fopen(path, "re");
    size_t n;
    int bad;

    *len = 0;
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        cli_error("cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    n = fread(note, 1, HRID_NOTE_MAX + 1, f);
    bad = ferror(f);
    fclose(f);
    if (bad) {
        cli_error("cannot read '%s'", path);
        return -1;
    }
    *len = n;
    note[n < HRID_NOTE_MAX ? n : HRID_NOTE_MAX] = '\0';
    return 1;
}

/* Replaces path by note, atomically: a temporary file in the same
 * directory, synced, then renamed over it.  Returns CLI_OK, or CLI_FAIL
 * after a message (path untouched). */
static int saved_write(const char *path, const char *note, size_t len)
{
    char *tmp = NULL;
    FILE *f = NULL;
    int fd = -1, rc = CLI_FAIL;

    if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
        return cli_error("out of memory");
    fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    /* A checkpoint is public; mkstemp's 0600 would only be in the way. */
    fchmod(fd, 0644);
    f = fdopen(fd, "w");
    if (f == NULL) {
        cli_error("cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (fwrite(note, 1, len, f) != len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        cli_error("cannot write '%s': %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f) != 0) {
        cli_error("cannot write '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        cli_error("cannot replace '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = CLI_OK;
out:
    free(tmp);
    return rc;
}

/* What a verify run found, for either form of output. */
struct verify_result {
    struct hrid_checkpoint cp;      /* the server's, once verified */
    bool have_cp;
    struct hrid_checkpoint old;     /* the saved one, once verified */
    bool have_old;
    char why[WHY_MAX];              /* what failed, "" when nothing */
};

/* The consistency of the saved checkpoint old with the new one cp.
 * Returns CLI_OK, CLI_FAIL with why set, or a client status. */
static int verify_consistency(struct client *c,
                              const struct hrid_checkpoint *old,
                              const struct hrid_checkpoint *cp, char *why)
{
    unsigned char path[HRID_MERKLE_CONSISTENCY_MAX][32];
    char url[CLIENT_PATH_MAX], from[24], to[24];
    struct hrid_err he;
    json_t *reply;
    size_t n;
    int rc;

    if (old->size > cp->size)
        return failed(why, "the log shrank: the saved checkpoint has %llu "
                      "leaves, the server's only %llu",
                      (unsigned long long)old->size,
                      (unsigned long long)cp->size);
    if (old->size == cp->size) {
        if (memcmp(old->root, cp->root, 32) != 0)
            return failed(why, "the log was rewritten: the checkpoint of "
                          "%llu leaves has another root than the saved one",
                          (unsigned long long)cp->size);
        return CLI_OK;
    }
    if (old->size == 0)
        return CLI_OK;          /* the empty tree is a prefix of any */
    snprintf(from, sizeof from, "%llu", (unsigned long long)old->size);
    snprintf(to, sizeof to, "%llu", (unsigned long long)cp->size);
    client_pathf(url, sizeof url, "/v1/log/proof/consistency");
    client_query_add(url, sizeof url, "from", from);
    client_query_add(url, sizeof url, "to", to);
    rc = client_call(c, "GET", url, NULL, &reply);
    if (rc == CLI_FAIL)
        return failed(why, "the server gives no consistency proof from %s "
                      "to %s leaves", from, to);
    if (rc != CLI_OK)
        return rc;
    if (path_from_json(json_object_get(reply, "hashes"), path,
                       HRID_MERKLE_CONSISTENCY_MAX, &n) != 0) {
        json_decref(reply);
        return failed(why, "the server's consistency proof from %s to %s "
                      "is not a list of hashes", from, to);
    }
    json_decref(reply);
    hrid_err_clear(&he);
    if (hrid_merkle_verify_consistency(old->size, cp->size, old->root,
                                       cp->root,
                                       (const unsigned char (*)[32])path, n,
                                       &he) != HRID_OK)
        return failed(why, "the log was rewritten: checkpoint of %s leaves "
                      "is not a prefix of the one of %s (%s)", from, to,
                      he.msg);
    return CLI_OK;
}

static int verify_run(struct client *c, const char *pinned,
                      const char *file, struct verify_result *r)
{
    char vkey[VKEY_MAX], note[HRID_NOTE_MAX + 1], old[HRID_NOTE_MAX + 1];
    size_t len, old_len;
    int rc, have;

    rc = fetch_key(c, pinned, vkey, r->why);
    if (rc != CLI_OK)
        return rc;
    rc = fetch_checkpoint(c, vkey, note, &len, &r->cp, r->why);
    if (rc != CLI_OK)
        return rc;
    r->have_cp = true;
    if (file == NULL)
        return CLI_OK;
    have = saved_read(file, old, &old_len);
    if (have < 0)
        return CLI_FAIL;
    if (have) {
        if (old_len > HRID_NOTE_MAX)
            return failed(r->why, "the saved checkpoint '%s' is longer than "
                          "%d bytes: not a checkpoint", file, HRID_NOTE_MAX);
        rc = checkpoint_open(old, old_len, vkey, "the saved", &r->old,
                             r->why);
        if (rc != CLI_OK)
            return rc;
        r->have_old = true;
        rc = verify_consistency(c, &r->old, &r->cp, r->why);
        if (rc != CLI_OK)
            return rc;
    }
    return saved_write(file, note, len);
}

static int log_verify(const struct cli_global *g, int argc, char **argv)
{
    char root[HASH_B64_SIZE], old_root[HASH_B64_SIZE];
    struct verify_result r;
    const char *file, *pinned;
    struct cmdline cl;
    struct client c;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, verify_opts, 0, 0, 0,
                       verify_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    file = cmdline_str(&cl, "checkpoint");
    pinned = cmdline_str(&cl, "log_key");
    rc = check_vkey_option(pinned, verify_usage);
    if (rc != CLI_OK)
        goto out;
    if (sodium_init() < 0) {
        rc = cli_error("cannot initialise libsodium");
        goto out;
    }
    rc = client_open(&c, &cl.g);
    if (rc != CLI_OK)
        goto out;
    memset(&r, 0, sizeof r);
    rc = verify_run(&c, pinned, file, &r);
    client_close(&c);
    if (rc != CLI_OK && r.why[0] == '\0')
        goto out;               /* already reported */

    hash_b64(r.cp.root, root);
    hash_b64(r.old.root, old_root);
    if (cl.g.json) {
        int prc = print_json(json_pack(
            "{s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:s}",
            "ok", rc == CLI_OK,
            "origin", r.have_cp ? json_string(r.cp.origin) : json_null(),
            "size", r.have_cp ? json_integer((json_int_t)r.cp.size)
                              : json_null(),
            "root", r.have_cp ? json_string(root) : json_null(),
            "saved", file != NULL ? json_string(file) : json_null(),
            "saved_size", r.have_old ? json_integer((json_int_t)r.old.size)
                                     : json_null(),
            "saved_root", r.have_old ? json_string(old_root) : json_null(),
            "message", r.why));
        if (prc != CLI_OK)
            rc = prc;
    } else if (rc != CLI_OK) {
        printf("log verify FAILED: %s\n", r.why);
    } else {
        printf("checkpoint ok: %llu leaves, root %s\n",
               (unsigned long long)r.cp.size, root);
        if (r.have_old)
            printf("consistent with the saved checkpoint of %llu leaves\n",
                   (unsigned long long)r.old.size);
        else if (file != NULL)
            printf("saved to %s\n", file);
    }
    if (cli_flush_stdout() != CLI_OK)
        rc = CLI_FAIL;
out:
    cmdline_release(&cl);
    return rc;
}

/* ---- prove ----------------------------------------------------------- */

static const char prove_usage[] =
    "usage: hrid log prove CODE [--log-key VKEY]\n"
    "\n"
    "   --log-key  the log's verifier key as published: the server's must\n"
    "              be it\n"
    "\n"
    "Checks that every event of the unit that the caller (--key) may see\n"
    "is in the signed log as the registry shows it: recomputes each\n"
    "event's leaf hash from its JSON and verifies its inclusion proof\n"
    "against the current checkpoint.  Exits 1 naming any event that is\n"
    "not.\n";

static const struct cmdline_opt prove_opts[] = {
    {"log-key", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

/* Every event of the unit the caller may see, oldest first, into *out (a
 * new array).  Returns a cli status (errors reported). */
static int fetch_events(struct client *c, const char *code, json_t **out)
{
    char base[CLIENT_PATH_MAX], path[CLIENT_PATH_MAX];
    const char *cursor;
    json_t *all, *reply = NULL, *items;
    int rc = CLI_OK;

    *out = NULL;
    all = json_array();
    if (all == NULL)
        return cli_error("out of memory");
    client_pathf(base, sizeof base, "/v1/units/%s/events", code);
    client_query_add(base, sizeof base, "limit", EVENTS_PAGE);
    snprintf(path, sizeof path, "%s", base);
    for (;;) {
        rc = client_call(c, "GET", path, NULL, &reply);
        if (rc != CLI_OK)
            break;
        items = json_object_get(reply, "items");
        if (!json_is_array(items)) {
            fprintf(stderr, "error: %s answered a list without items\n",
                    c->base);
            rc = CLI_CONN;
            break;
        }
        if (json_array_extend(all, items) != 0) {
            rc = cli_error("out of memory");
            break;
        }
        cursor = json_string_value(json_object_get(reply, "next_cursor"));
        if (cursor == NULL)
            break;
        snprintf(path, sizeof path, "%s", base);
        if (client_query_add(path, sizeof path, "cursor", cursor) != 0) {
            fprintf(stderr, "error: %s answered an overlong cursor\n",
                    c->base);
            rc = CLI_CONN;
            break;
        }
        json_decref(reply);
        reply = NULL;
    }
    json_decref(reply);
    if (rc != CLI_OK) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return CLI_OK;
}

/* The leaf index of an event: its "leaf", else its seq minus one.
 * Returns 0, or -1 when it has neither. */
static int event_leaf(const json_t *e, uint64_t *leaf)
{
    const json_t *v = json_object_get(e, "leaf");

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *leaf = (uint64_t)json_integer_value(v);
        return 0;
    }
    v = json_object_get(e, "seq");
    if (json_is_integer(v) && json_integer_value(v) >= 1) {
        *leaf = (uint64_t)json_integer_value(v) - 1;
        return 0;
    }
    return -1;
}

/* The leaf hash of an event as the API shows it (see the top of the
 * file).  Returns 0, or -1 when out of memory. */
static int event_leaf_hash(const json_t *e, unsigned char out[32])
{
    json_t *copy = json_copy((json_t *)e);
    char *bytes;

    if (copy == NULL)
        return -1;
    json_object_del(copy, "seq");
    json_object_del(copy, "leaf");
    json_object_del(copy, "state");
    bytes = json_dumps(copy, LEAF_JSON_FLAGS);
    json_decref(copy);
    if (bytes == NULL)
        return -1;
    hrid_merkle_leaf_hash(bytes, strlen(bytes), out);
    free(bytes);
    return 0;
}

/*
 * Proves one event's inclusion in the tree of cp.  Returns CLI_OK; CLI_FAIL
 * with why set when the event is not in the log as shown; or a client
 * status after its message (why empty).
 */
static int prove_event(struct client *c, const json_t *e, const char *code,
                       uint64_t leaf, const struct hrid_checkpoint *cp,
                       char *why)
{
    unsigned char mine[32], theirs[32];
    unsigned char path[HRID_MERKLE_INCLUSION_MAX][32];
    char url[CLIENT_PATH_MAX], l[24], s[24];
    const char *ecode = json_string_value(json_object_get(e, "code"));
    struct hrid_err he;
    json_t *reply;
    size_t n;
    int rc;

    if (ecode == NULL || strcmp(ecode, code) != 0)
        return failed(why, "the server listed an event of unit '%s' as one "
                      "of %s", ecode != NULL ? ecode : "", code);
    if (event_leaf_hash(e, mine) != 0)
        return cli_error("out of memory");
    snprintf(l, sizeof l, "%llu", (unsigned long long)leaf);
    snprintf(s, sizeof s, "%llu", (unsigned long long)cp->size);
    client_pathf(url, sizeof url, "/v1/log/proof/inclusion");
    client_query_add(url, sizeof url, "leaf", l);
    client_query_add(url, sizeof url, "size", s);
    rc = client_call(c, "GET", url, NULL, &reply);
    if (rc == CLI_FAIL)
        return failed(why, "the server gives no inclusion proof for it");
    if (rc != CLI_OK)
        return rc;
    if (hash_from_json(json_object_get(reply, "leaf_hash"), theirs) != 0 ||
        path_from_json(json_object_get(reply, "hashes"), path,
                       HRID_MERKLE_INCLUSION_MAX, &n) != 0) {
        json_decref(reply);
        return failed(why, "the server's inclusion proof is malformed");
    }
    json_decref(reply);
    /* An event shown with members hidden from this caller (a transfer's
     * price) cannot be recomputed: it is checked by the log's hash. */
    if (json_object_get(e, "redacted") != NULL)
        memcpy(mine, theirs, 32);
    else if (sodium_memcmp(mine, theirs, 32) != 0)
        return failed(why, "the event as the server shows it is not the "
                      "one logged: its hash differs from the log's leaf");
    hrid_err_clear(&he);
    if (hrid_merkle_verify_inclusion(leaf, cp->size, mine,
                                     (const unsigned char (*)[32])path, n,
                                     cp->root, &he) != HRID_OK)
        return failed(why, "its inclusion proof does not verify against the "
                      "checkpoint: %s", he.msg);
    return CLI_OK;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The checkpoint to prove against: one that covers leaf max_leaf, waiting
 * for the signer up to PROVE_WAIT_MS.  Returns as fetch_checkpoint. */
static int covering_checkpoint(struct client *c, const char *vkey,
                               uint64_t max_leaf, struct hrid_checkpoint *cp,
                               char *why)
{
    char note[HRID_NOTE_MAX + 1];
    size_t len;
    long waited = 0;
    int rc;

    for (;;) {
        rc = fetch_checkpoint(c, vkey, note, &len, cp, why);
        if (rc != CLI_OK && !(rc == CLI_FAIL && waited < PROVE_WAIT_MS &&
                              strstr(why, "no signed checkpoint") != NULL))
            return rc;
        if (rc == CLI_OK && cp->size > max_leaf)
            return CLI_OK;
        if (waited >= PROVE_WAIT_MS)
            return failed(why, "the last checkpoint, of %llu leaves, does "
                          "not cover leaf %llu yet: try again later",
                          (unsigned long long)cp->size,
                          (unsigned long long)max_leaf);
        sleep_ms(PROVE_POLL_MS);
        waited += PROVE_POLL_MS;
        why[0] = '\0';
    }
}

static int prove_run(struct client *c, const struct cmdline *cl,
                     const char *code, json_t *report, char *why)
{
    char vkey[VKEY_MAX], root[HASH_B64_SIZE], ewhy[WHY_MAX];
    struct hrid_checkpoint cp;
    uint64_t leaf, max_leaf = 0;
    json_t *events = NULL, *list, *e;
    size_t i, bad = 0;
    const char *type;
    int rc;

    rc = fetch_key(c, cmdline_str(cl, "log_key"), vkey, why);
    if (rc != CLI_OK)
        return rc;
    rc = fetch_events(c, code, &events);
    if (rc != CLI_OK)
        return rc;
    if (json_array_size(events) == 0) {
        rc = failed(why, "the server shows no event of %s", code);
        goto out;
    }
    json_array_foreach(events, i, e) {
        if (event_leaf(e, &leaf) != 0) {
            rc = failed(why, "event %zu of %s has no leaf index", i + 1,
                        code);
            goto out;
        }
        if (leaf > max_leaf)
            max_leaf = leaf;
    }
    rc = covering_checkpoint(c, vkey, max_leaf, &cp, why);
    if (rc != CLI_OK)
        goto out;
    hash_b64(cp.root, root);
    json_object_set_new(report, "checkpoint_size",
                        json_integer((json_int_t)cp.size));
    json_object_set_new(report, "root", json_string(root));
    list = json_array();
    json_object_set_new(report, "events", list);
    json_array_foreach(events, i, e) {
        event_leaf(e, &leaf);
        type = json_string_value(json_object_get(e, "type"));
        if (type == NULL)
            type = "?";
        ewhy[0] = '\0';
        rc = prove_event(c, e, code, leaf, &cp, ewhy);
        if (rc != CLI_OK && ewhy[0] == '\0')
            goto out;           /* the server is gone: already reported */
        json_array_append_new(list, json_pack(
            "{s:I, s:s, s:b, s:s}", "leaf", (json_int_t)leaf, "type", type,
            "ok", rc == CLI_OK, "message", ewhy));
        if (rc != CLI_OK)
            bad++;
        if (cl->g.json)
            continue;
        if (rc == CLI_OK)
            printf("leaf %llu %s ok%s\n", (unsigned long long)leaf, type,
                   json_object_get(e, "redacted") != NULL
                       ? " (partly hidden from this caller: checked by its "
                         "hash)" : "");
        else
            printf("leaf %llu %s FAILED: %s\n", (unsigned long long)leaf,
                   type, ewhy);
    }
    if (bad > 0)
        rc = failed(why, "%zu of %zu events of %s are not in the log as "
                    "shown (checkpoint of %llu leaves)", bad,
                    json_array_size(events), code,
                    (unsigned long long)cp.size);
    else
        rc = CLI_OK;
out:
    json_object_set_new(report, "n_events",
                        json_integer((json_int_t)json_array_size(events)));
    json_decref(events);
    return rc;
}

static int log_prove(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], why[WHY_MAX] = "";
    json_t *report = NULL;
    struct cmdline cl;
    struct client c;
    json_int_t n, size;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, prove_opts, 1, 1, 0, prove_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    rc = check_vkey_option(cmdline_str(&cl, "log_key"), prove_usage);
    if (rc != CLI_OK)
        goto out;
    rc = cmdline_code(cl.operands[0], code);
    if (rc != CLI_OK)
        goto out;
    if (sodium_init() < 0) {
        rc = cli_error("cannot initialise libsodium");
        goto out;
    }
    report = json_pack("{s:s}", "code", code);
    if (report == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    rc = client_open(&c, &cl.g);
    if (rc != CLI_OK)
        goto out;
    rc = prove_run(&c, &cl, code, report, why);
    client_close(&c);
    if (rc != CLI_OK && why[0] == '\0')
        goto out;               /* already reported */

    n = json_integer_value(json_object_get(report, "n_events"));
    size = json_integer_value(json_object_get(report, "checkpoint_size"));
    if (cl.g.json) {
        json_object_set_new(report, "ok", json_boolean(rc == CLI_OK));
        json_object_set_new(report, "message", json_string(why));
        if (print_json(json_incref(report)) != CLI_OK)
            rc = CLI_FAIL;
    } else if (rc != CLI_OK) {
        printf("log prove FAILED: %s\n", why);
    } else {
        printf("%lld events of %s are in the log (checkpoint of %lld "
               "leaves)\n", (long long)n, code, (long long)size);
    }
    if (cli_flush_stdout() != CLI_OK)
        rc = CLI_FAIL;
out:
    json_decref(report);
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command log_commands[] = {
    {"verify", log_verify, "check the signed checkpoint and that the log "
                           "only grew"},
    {"prove", log_prove, "prove that a unit's events are in the log"},
};

int cmd_log(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "log", log_commands,
                          sizeof log_commands / sizeof log_commands[0]);
}
