/*
 * cmd_device.c - "hrid device": a robot's side of the device challenge
 * (DESIGN §5), offline, with libhrid's public API only.
 *
 *   keygen   a new Ed25519 key pair, as JSON: what a manufacturer
 *            flashes into a robot (secret_key) and registers as the
 *            unit's device_key (public_key)
 *   answer   the signature of a challenge, as the robot computes it for
 *            POST /v1/units/{code}/challenge/{id}
 *
 * This file also reads the keys the tool is given (cli_key_parse,
 * cli_key_read, shared with "hrid label"), in every form the platform
 * hands them out: the bare base64 of a public or secret key, the JSON of
 * "device keygen" or of GET /v1/platform/key, a verifier key
 * (<name>+<key id>+<base64>), or hridd's own PRIVATE+KEY file.  Secrets
 * are wiped from memory once used.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "hrid/code.h"
#include "hrid/credential.h"
#include "hrid/error.h"
#include "hrid/note.h"

/* The most of a key file read: the longest form, the JSON of "device
 * keygen", is under 200 bytes, and a PRIVATE+KEY line with a key name of
 * a few hundred bytes stays under 1 KiB; 4 KiB refuses what is plainly
 * not a key without reading a whole large file. */
#define KEY_FILE_MAX 4096

/* The lengths of a key in standard base64. */
#define PK_B64_LEN 44
#define SK_B64_LEN 88
#define SIG_B64_LEN 88

static const char private_key_prefix[] = "PRIVATE+KEY+";

/* Decodes standard base64 (len bytes at s) of exactly n bytes into out.
 * Bytes above 0x7F are refused first: libsodium would read them as the
 * ASCII below.  Returns 0, or -1. */
static int b64_exact(const char *s, size_t len, unsigned char *out, size_t n)
{
    size_t got = 0;

    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return -1;
    if (sodium_base642bin(out, n, s, len, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || got != n)
        return -1;
    return 0;
}

/* Fills k from a 64-byte libsodium secret key, checking that its second
 * half is the public key of its first (a key pasted from two places). */
static int key_from_secret(const unsigned char sk[64], struct cli_key *k,
                           const char *what)
{
    unsigned char pk[32], sk2[64];

    crypto_sign_seed_keypair(pk, sk2, sk);
    sodium_memzero(sk2, sizeof sk2);
    if (sodium_memcmp(pk, sk + 32, 32) != 0)
        return cli_error("%s: the secret key's two halves do not belong "
                         "together", what);
    memcpy(k->pk, pk, 32);
    memcpy(k->sk, sk, 64);
    k->has_sk = 1;
    return CLI_OK;
}

/* PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>, the signer key
 * of Go's sumdb/note, which hridd keeps its keys in. */
static int parse_private_key(const char *text, struct cli_key *k,
                             const char *what)
{
    const char *name = text + sizeof private_key_prefix - 1;
    const char *p1 = strchr(name, '+');
    const char *p2 = p1 != NULL ? strchr(p1 + 1, '+') : NULL;
    unsigned char raw[33], sk[64], id[4];
    char name_buf[256], hex[9];
    int rc;

    if (p2 == NULL || p2 - p1 - 1 != 8 ||
        (size_t)(p1 - name) >= sizeof name_buf)
        return cli_error("%s: not PRIVATE+KEY+<name>+<key id>+<key>", what);
    memcpy(name_buf, name, (size_t)(p1 - name));
    name_buf[p1 - name] = '\0';
    if (b64_exact(p2 + 1, strlen(p2 + 1), raw, sizeof raw) != 0 ||
        raw[0] != 0x01) {
        sodium_memzero(raw, sizeof raw);
        return cli_error("%s: not an Ed25519 PRIVATE+KEY", what);
    }
    crypto_sign_seed_keypair(k->pk, sk, raw + 1);
    sodium_memzero(raw, sizeof raw);
    hrid_note_key_id(name_buf, k->pk, id);
    snprintf(hex, sizeof hex, "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
    if (strncasecmp(hex, p1 + 1, 8) != 0) {
        sodium_memzero(sk, sizeof sk);
        return cli_error("%s: key id '%.8s' does not match the key", what,
                         p1 + 1);
    }
    rc = key_from_secret(sk, k, what);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* {"public_key": ..., "secret_key": ...}: either member may be missing;
 * a secret key gives the public key too. */
static int parse_json_key(const char *text, int want_secret, struct cli_key *k,
                          const char *what)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *pk = NULL, *sk = NULL;
    unsigned char raw[64];
    int rc;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return cli_error("%s: not a key: neither base64 nor a JSON object",
                         what);
    }
    pk = json_string_value(json_object_get(o, "public_key"));
    sk = json_string_value(json_object_get(o, "secret_key"));
    if (sk != NULL) {
        if (b64_exact(sk, strlen(sk), raw, 64) != 0)
            rc = cli_error("%s: secret_key is not the base64 of 64 bytes",
                           what);
        else
            rc = key_from_secret(raw, k, what);
        sodium_memzero(raw, sizeof raw);
        if (rc == CLI_OK && pk != NULL &&
            (b64_exact(pk, strlen(pk), raw, 32) != 0 ||
             memcmp(raw, k->pk, 32) != 0))
            rc = cli_error("%s: public_key is not the secret key's", what);
    } else if (want_secret) {
        rc = cli_error("%s: no secret_key", what);
    } else if (pk == NULL) {
        rc = cli_error("%s: no public_key", what);
    } else if (b64_exact(pk, strlen(pk), k->pk, 32) != 0) {
        rc = cli_error("%s: public_key is not the base64 of 32 bytes", what);
    } else {
        rc = CLI_OK;
    }
    /* jansson keeps its own copy of the text, secret included. */
    if (sk != NULL)
        sodium_memzero((char *)sk, strlen(sk));
    json_decref(o);
    return rc;
}

/* True when text (len bytes) looks like a verifier key: a name, '+', 8
 * hex digits, '+' and the 44 characters of the base64 of 33 bytes.  The
 * shape only: hrid_vkey_parse judges the rest. */
static int vkey_shaped(const char *text, size_t len)
{
    const char *id;

    if (len < 1 + 1 + 8 + 1 + PK_B64_LEN)
        return 0;
    id = text + len - PK_B64_LEN - 9;
    if (id[-1] != '+' || id[8] != '+')
        return 0;
    for (int i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

int cli_key_parse(const char *text, int want_secret, struct cli_key *k,
                  const char *what)
{
    size_t len = strlen(text);
    unsigned char raw[64];
    struct hrid_err he;
    char name[256];
    int rc;

    memset(k, 0, sizeof *k);
    if (strncmp(text, private_key_prefix, sizeof private_key_prefix - 1) ==
        0)
        rc = parse_private_key(text, k, what);
    else if (text[0] == '{')
        rc = parse_json_key(text, want_secret, k, what);
    else if (len == SK_B64_LEN && b64_exact(text, len, raw, 64) == 0)
        rc = key_from_secret(raw, k, what);
    else if (len == PK_B64_LEN && b64_exact(text, len, raw, 32) == 0) {
        memcpy(k->pk, raw, 32);
        rc = CLI_OK;
    } else if (vkey_shaped(text, len)) {
        hrid_err_clear(&he);
        rc = hrid_vkey_parse(text, name, sizeof name, k->pk, &he) == HRID_OK
                 ? CLI_OK
                 : cli_error("%s: %s", what, he.msg);
    } else {
        rc = cli_error("%s: not a key: expected the base64 of a %s key "
                       "(%d characters)", what,
                       want_secret ? "64-byte secret" : "32-byte public",
                       want_secret ? SK_B64_LEN : PK_B64_LEN);
    }
    sodium_memzero(raw, sizeof raw);
    if (rc == CLI_OK && want_secret && !k->has_sk)
        rc = cli_error("%s: a public key, where a secret key is needed",
                       what);
    if (rc != CLI_OK)
        cli_key_wipe(k);
    return rc;
}

int cli_key_read(const char *path, int want_secret, struct cli_key *k)
{
    char text[KEY_FILE_MAX + 1], what[320];
    size_t n;
    FILE *f;
    int err, rc;

    memset(k, 0, sizeof *k);
    snprintf(what, sizeof what, "key file '%s'", path);
    f = fopen(path, "re");
    if (f == NULL)
        return cli_error("cannot read key file '%s': %s", path,
                         strerror(errno));
    n = fread(text, 1, sizeof text - 1, f);
    err = ferror(f);
    fclose(f);
    text[n] = '\0';
    if (err != 0 || n == sizeof text - 1) {
        sodium_memzero(text, sizeof text);
        return cli_error("%s is not a key (%s)", what,
                         err != 0 ? "read error" : "too long");
    }
    /* Surrounding white space (the newline of an editor, of echo) is not
     * part of the key. */
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
                     text[n - 1] == ' ' || text[n - 1] == '\t'))
        text[--n] = '\0';
    {
        size_t skip = strspn(text, " \t\r\n");

        rc = cli_key_parse(text + skip, want_secret, k, what);
    }
    sodium_memzero(text, sizeof text);
    return rc;
}

int cli_key_load(const char *text, const char *path, int want_secret,
                 struct cli_key *k, const char *what)
{
    if (sodium_init() < 0)
        return cli_error("cannot initialise libsodium");
    return path != NULL ? cli_key_read(path, want_secret, k)
                        : cli_key_parse(text, want_secret, k, what);
}

void cli_key_wipe(struct cli_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* ---- the command ------------------------------------------------------- */

static int device_keygen(const struct cli_global *g, int argc, char **argv);
static int device_answer(const struct cli_global *g, int argc, char **argv);

static const struct cli_command device_commands[] = {
    {"keygen", device_keygen, "make a device key pair (JSON)"},
    {"answer", device_answer, "sign a challenge with a device's secret key"},
};
#define N_DEVICE_COMMANDS (sizeof device_commands / sizeof device_commands[0])

static const char keygen_usage[] =
    "usage: hrid device keygen\n"
    "\n"
    "Prints a new Ed25519 key pair as JSON, {\"public_key\": ..., "
    "\"secret_key\": ...},\n"
    "standard base64.  The secret key goes into the robot; the public key "
    "is the\n"
    "unit's device_key at registration.\n";

static const char answer_usage[] =
    "usage: hrid device answer (--secret-key-file FILE | --secret-key KEY)\n"
    "                          [--json] CODE NONCE\n"
    "\n"
    "   --secret-key-file  a file holding the device's secret key: the "
    "JSON of\n"
    "                      'hrid device keygen', or its secret_key alone\n"
    "   --secret-key       the secret key itself, base64 (visible to other\n"
    "                      users of this machine: prefer the file)\n"
    "   --json             print {\"signature\": ...}, the body of the "
    "answer\n"
    "\n"
    "Prints the base64 signature of the challenge "
    "\"hrid-challenge/v1\\nCODE\\nNONCE\\n\",\n"
    "NONCE exactly as the registry gave it.\n";

int cmd_device(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "device", device_commands,
                          N_DEVICE_COMMANDS);
}

enum { OPT_HELP, OPT_JSON, OPT_SECRET_KEY, OPT_SECRET_KEY_FILE };

static int device_keygen(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    unsigned char pk[32], sk[64];
    char pk_b64[PK_B64_LEN + 1], sk_b64[SK_B64_LEN + 1];
    struct cli_args a;
    const char *v;
    json_t *obj;
    int id;

    (void)g;
    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_JSON:
            break;                    /* the output is JSON anyway */
        case OPT_HELP:
            fputs(keygen_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(keygen_usage, NULL);
        case CLI_ARG_OPERAND:
            return cli_usage_error(keygen_usage, "unexpected argument '%s'",
                                   v);
        }
    }
    if (sodium_init() < 0)
        return cli_error("cannot initialise libsodium");
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk_b64, sizeof pk_b64, pk, sizeof pk,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(sk_b64, sizeof sk_b64, sk, sizeof sk,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(sk, sizeof sk);
    obj = json_pack("{s:s, s:s}", "public_key", pk_b64, "secret_key", sk_b64);
    sodium_memzero(sk_b64, sizeof sk_b64);
    return output_json(obj);
}

static int device_answer(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"secret-key", 0, 1, OPT_SECRET_KEY},
        {"secret-key-file", 0, 1, OPT_SECRET_KEY_FILE},
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    const char *key_text = NULL, *key_file = NULL, *code = NULL;
    const char *nonce = NULL, *v;
    unsigned char sig[64];
    char sig_b64[SIG_B64_LEN + 1], canonical[HRID_CODE_LEN + 1];
    struct hrid_err he;
    struct cli_key k;
    struct cli_args a;
    int id, json = g->json, rc;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_SECRET_KEY:
            key_text = v;
            break;
        case OPT_SECRET_KEY_FILE:
            key_file = v;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            fputs(answer_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(answer_usage, NULL);
        case CLI_ARG_OPERAND:
            if (code == NULL)
                code = v;
            else if (nonce == NULL)
                nonce = v;
            else
                return cli_usage_error(answer_usage,
                                       "unexpected argument '%s'", v);
            break;
        }
    }
    if (key_text != NULL && key_file != NULL)
        return cli_usage_error(answer_usage, "--secret-key and "
                               "--secret-key-file exclude each other");
    if (key_text == NULL && key_file == NULL)
        return cli_usage_error(answer_usage,
                               "missing --secret-key-file or --secret-key");
    if (nonce == NULL)
        return cli_usage_error(answer_usage, code == NULL
                                                 ? "no code and no nonce given"
                                                 : "no nonce given");

    hrid_err_clear(&he);
    if (hrid_code_parse(code, strlen(code), canonical, &he) != HRID_OK)
        return cli_error("invalid code '%s': %s", code, he.msg);
    rc = cli_key_load(key_text, key_file, 1, &k, "--secret-key");
    if (rc != CLI_OK)
        return rc;
    rc = hrid_challenge_sign(canonical, nonce, k.sk, sig, &he);
    cli_key_wipe(&k);
    if (rc != HRID_OK)
        return cli_error("%s", he.msg);
    sodium_bin2base64(sig_b64, sizeof sig_b64, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    if (json)
        return output_json(json_pack("{s:s}", "signature", sig_b64));
    puts(sig_b64);
    return cli_flush_stdout();
}
