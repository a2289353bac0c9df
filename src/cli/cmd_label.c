/*
 * cmd_label.c - "hrid label": the text of a unit's QR label (DESIGN §5),
 * offline, with libhrid's public API only.
 *
 *   verify   checks a scanned label against the platform's public key,
 *            as a phone does without a network: genuine or not, and why
 *   make     signs labels with the platform's secret key, for operators
 *            who print labels away from the registry (and for tests)
 *
 * A label is <base URL>/v/<code>?s=<key id and signature>; what it means
 * and how it is checked is hrid/credential.h's.  Results go to stdout,
 * "not genuine" included, since it is an answer and not a failure of the
 * tool; the exit status is 0 for a genuine label, 1 otherwise, 2 for a
 * wrong command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "hrid/code.h"
#include "hrid/credential.h"
#include "hrid/error.h"

static int label_verify(const struct cli_global *g, int argc, char **argv);
static int label_make(const struct cli_global *g, int argc, char **argv);

static const struct cli_command label_commands[] = {
    {"verify", label_verify, "check a label's signature offline"},
    {"make", label_make, "sign labels with the platform's secret key"},
};
#define N_LABEL_COMMANDS (sizeof label_commands / sizeof label_commands[0])

static const char verify_usage[] =
    "usage: hrid label verify (--key KEY | --key-file FILE) [--json] TEXT\n"
    "   or: hrid label verify (--key KEY | --key-file FILE) [--json] -\n"
    "\n"
    "   --key       the platform's public key, base64 (GET "
    "/v1/platform/key)\n"
    "   --key-file  a file holding it, or the JSON of GET /v1/platform/key\n"
    "   --json      print {\"genuine\": ..., \"code\": ..., \"reason\": ...}\n"
    "\n"
    "TEXT is the text of the QR code; '-' reads it from stdin (one line).\n"
    "Prints 'genuine: CODE' and exits 0, or 'not genuine: REASON' and "
    "exits 1.\n";

static const char make_usage[] =
    "usage: hrid label make --secret-key-file FILE --base URL [--json] "
    "CODE...\n"
    "\n"
    "   --secret-key-file  the platform's secret key: hridd's "
    "DB.platform-key,\n"
    "                      or a key of 'hrid device keygen'\n"
    "   --base             where labels point, without a trailing '/',\n"
    "                      e.g. https://hrid.example.gov.cn\n"
    "   --json             print [{\"code\": ..., \"label\": ...}, ...]\n"
    "\n"
    "Prints the label text of each code, one a line.  Every code is "
    "checked\n"
    "first: if one is invalid, nothing is printed.\n";

int cmd_label(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "label", label_commands,
                          N_LABEL_COMMANDS);
}

enum { OPT_HELP, OPT_JSON, OPT_KEY, OPT_KEY_FILE, OPT_SECRET_KEY_FILE,
       OPT_BASE };

/* ---- verify ------------------------------------------------------------ */

/*
 * Reads one label from standard input into buf (size bytes, more than
 * HRID_LABEL_MAX + 2): everything up to end of file, less one final
 * newline (a scanner's, or echo's).  *too_long is set when the input was
 * longer than any label.  Returns CLI_OK or CLI_FAIL after a message.
 */
static int read_label(char *buf, size_t size, size_t *len, int *too_long)
{
    size_t n = 0;
    ssize_t r;
    char extra;

    *too_long = 0;
    while (n < size) {
        r = read(STDIN_FILENO, buf + n, size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cli_error("cannot read standard input: %s",
                             strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n == size) {
        do
            r = read(STDIN_FILENO, &extra, 1);
        while (r < 0 && errno == EINTR);
        *too_long = r != 0;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = n;
    return CLI_OK;
}

/* The answer in words: "bad signature", "malformed: ...". */
static void reason_text(const struct hrid_err *he, char *out, size_t size)
{
    switch (he->reason) {
    case HRID_LABEL_UNKNOWN_KEY:
        snprintf(out, size, "unknown key");
        break;
    case HRID_LABEL_BAD_SIGNATURE:
        snprintf(out, size, "bad signature");
        break;
    case HRID_LABEL_BAD_CODE:
        snprintf(out, size, "invalid code: %s", he->msg);
        break;
    default:
        snprintf(out, size, "malformed: %s", he->msg);
        break;
    }
}

static int label_verify(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"key", 0, 1, OPT_KEY},
        {"key-file", 0, 1, OPT_KEY_FILE},
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    const char *key_text = NULL, *key_file = NULL, *text = NULL, *v;
    char buf[HRID_LABEL_MAX + 3];
    char code[HRID_CODE_LEN + 1], display[HRID_CODE_DISPLAY_LEN + 1];
    char reason[HRID_ERR_MSG_MAX + 32];
    struct hrid_err he;
    struct cli_key k;
    struct cli_args a;
    size_t len = 0;
    int id, json = g->json, too_long = 0, genuine, rc;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_KEY:
            key_text = v;
            break;
        case OPT_KEY_FILE:
            key_file = v;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            fputs(verify_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(verify_usage, NULL);
        case CLI_ARG_OPERAND:
            if (text != NULL)
                return cli_usage_error(verify_usage,
                                       "one label at a time; quote a label "
                                       "that contains spaces");
            text = v;
            break;
        }
    }
    if (key_text != NULL && key_file != NULL)
        return cli_usage_error(verify_usage,
                               "--key and --key-file exclude each other");
    if (key_text == NULL && key_file == NULL)
        return cli_usage_error(verify_usage, "missing --key or --key-file");
    if (text == NULL)
        return cli_usage_error(verify_usage, "no label given");

    rc = cli_key_load(key_text, key_file, 0, &k, "--key");
    if (rc != CLI_OK)
        return rc;
    if (strcmp(text, "-") == 0) {
        rc = read_label(buf, sizeof buf, &len, &too_long);
        if (rc != CLI_OK) {
            cli_key_wipe(&k);
            return rc;
        }
        text = buf;
    } else {
        len = strlen(text);
    }

    hrid_err_clear(&he);
    if (too_long)
        rc = hrid_err_set(&he, HRID_EINVAL, HRID_LABEL_MALFORMED, 0,
                          "label is longer than %d bytes", HRID_LABEL_MAX);
    else
        rc = hrid_label_verify(text, len, k.pk, code, &he);
    cli_key_wipe(&k);

    genuine = rc == HRID_OK;
    if (!genuine)
        reason_text(&he, reason, sizeof reason);
    if (json) {
        rc = output_json(json_pack("{s:b, s:o, s:o}", "genuine", genuine,
                                  "code", code[0] != '\0' && !too_long
                                              ? json_string(code)
                                              : json_null(),
                                  "reason", genuine ? json_null()
                                                    : json_string(reason)));
    } else if (genuine) {
        hrid_code_display(code, display);
        printf("genuine: %s\n", display);
        rc = cli_flush_stdout();
    } else {
        printf("not genuine: %s\n", reason);
        rc = cli_flush_stdout();
    }
    return rc == CLI_OK && !genuine ? CLI_FAIL : rc;
}

/* ---- make -------------------------------------------------------------- */

static int label_make(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_option options[] = {
        {"secret-key-file", 0, 1, OPT_SECRET_KEY_FILE},
        {"base", 0, 1, OPT_BASE},
        {"json", 0, 0, OPT_JSON},
        {"help", 'h', 0, OPT_HELP},
        {NULL, 0, 0, 0},
    };
    const char *key_file = NULL, *base = NULL, *v;
    char code[HRID_CODE_LEN + 1], label[HRID_LABEL_MAX + 1];
    struct hrid_err he;
    struct cli_key k;
    struct cli_args a;
    json_t *list = NULL;
    int id, json = g->json, n_codes = 0, n_bad = 0, rc = CLI_OK;

    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        switch (id) {
        case OPT_SECRET_KEY_FILE:
            key_file = v;
            break;
        case OPT_BASE:
            base = v;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            fputs(make_usage, stdout);
            return cli_flush_stdout();
        case CLI_ARG_ERROR:
            return cli_usage_error(make_usage, NULL);
        case CLI_ARG_OPERAND:
            n_codes++;
            break;
        }
    }
    if (key_file == NULL)
        return cli_usage_error(make_usage, "missing --secret-key-file");
    if (base == NULL)
        return cli_usage_error(make_usage, "missing --base");
    if (n_codes == 0)
        return cli_usage_error(make_usage, "no code given");

    /* Every code first, so that a batch is printed whole or not at all. */
    cli_args_init(&a, argc, argv, 1, options);
    while ((id = cli_args_next(&a, &v)) != CLI_ARG_END)
        if (id == CLI_ARG_OPERAND &&
            hrid_code_parse(v, strlen(v), code, &he) != HRID_OK) {
            cli_error("invalid code '%s': %s", v, he.msg);
            n_bad++;
        }
    if (n_bad > 0)
        return CLI_FAIL;

    rc = cli_key_load(NULL, key_file, 1, &k, NULL);
    if (rc != CLI_OK)
        return rc;
    if (json && (list = json_array()) == NULL) {
        cli_key_wipe(&k);
        return cli_error("out of memory");
    }
    cli_args_init(&a, argc, argv, 1, options);
    while (rc == CLI_OK && (id = cli_args_next(&a, &v)) != CLI_ARG_END) {
        if (id != CLI_ARG_OPERAND)
            continue;
        hrid_err_clear(&he);
        if (hrid_label_make(base, v, k.sk, label, sizeof label, &he) !=
            HRID_OK) {
            rc = cli_error("cannot make a label with --base '%s': %s", base,
                           he.msg);
            break;
        }
        if (list == NULL) {
            puts(label);
            continue;
        }
        hrid_code_parse(v, strlen(v), code, NULL);
        if (json_array_append_new(list, json_pack("{s:s, s:s}", "code", code,
                                                  "label", label)) != 0)
            rc = cli_error("out of memory");
    }
    cli_key_wipe(&k);
    if (list != NULL) {
        if (rc == CLI_OK)
            return output_json(list);
        json_decref(list);
        return rc;
    }
    return rc == CLI_OK ? cli_flush_stdout() : rc;
}
