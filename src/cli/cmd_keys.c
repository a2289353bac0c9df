/*
 * cmd_keys.c - "hrid parties" and "hrid keys": the platform operator's
 * parties and API keys (docs/API.md, "Parties and keys").
 *
 * Parties other than manufacturers are created here (manufacturers are
 * enrolled with "hrid enterprises enrol"); every party gets its keys
 * here.  A key's secret is in the creation reply only, so "keys create"
 * prints it alone on stdout, ready for a shell variable or a secret store.
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/output.h"

/* ---- parties ----------------------------------------------------------- */

static const char parties_create_usage[] =
    "usage: hrid parties create --kind KIND --name NAME --country CC\n"
    "                           [--public-name NAME] [--info JSON]\n"
    "\n"
    "   --kind          regulator, seller, owner, service, recycler or\n"
    "                   certifier (manufacturers: 'hrid enterprises enrol')\n"
    "   --info          address, contact, registry_no, as a JSON object\n"
    "\n"
    "Prints the new party's id.  Needs the admin key.\n";

static const struct cmdline_opt parties_create_opts[] = {
    {"kind", CMDLINE_STR, 1},
    {"name", CMDLINE_STR, 1},
    {"country", CMDLINE_STR, 1},
    {"public-name", CMDLINE_STR, 0},
    {"info", CMDLINE_JSON, 0},
    {NULL, 0, 0},
};

static void show_id(const json_t *reply)
{
    char v[64];

    puts(output_value(json_object_get(reply, "id"), v, sizeof v));
}

static int parties_create(const struct cli_global *g, int argc, char **argv)
{
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, parties_create_opts, 0, 0, 0,
                       parties_create_usage);
    if (rc == CLI_OK && !cl.help)
        rc = output_call(&cl, "POST", "/v1/parties", cl.opts, show_id);
    cmdline_release(&cl);
    return rc;
}

static const char parties_get_usage[] =
    "usage: hrid parties get ID\n";

static int parties_get(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, parties_get_usage);
    if (rc == CLI_OK && !cl.help) {
        if (client_pathf(path, sizeof path, "/v1/parties/%s",
                         cl.operands[0]) != 0)
            rc = cli_usage_error(parties_get_usage, "party id too long");
        else
            rc = output_call(&cl, "GET", path, NULL, NULL);
    }
    cmdline_release(&cl);
    return rc;
}

static const char parties_list_usage[] =
    "usage: hrid parties list [--kind KIND] [--all] [--limit N]"
    " [--cursor C]\n";

static const struct cmdline_opt list_opts[] = {
    {"kind", CMDLINE_STR, 0},
    {"all", CMDLINE_FLAG, 0},
    {"limit", CMDLINE_STR, 0},
    {"cursor", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static const struct output_column party_columns[] = {
    {"ID", "id", 6},
    {"KIND", "kind", 12},
    {"COUNTRY", "country", 7},
    {"NAME", "name", 0},
    {NULL, NULL, 0},
};

static int parties_list(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX] = "/v1/parties";
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, list_opts, 0, 0, 0,
                       parties_list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    client_query_add(path, sizeof path, "kind", cmdline_str(&cl, "kind"));
    rc = output_list_call(&cl, path, party_columns);
out:
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command parties_commands[] = {
    {"create", parties_create, "create a party (admin)"},
    {"get", parties_get, "show a party"},
    {"list", parties_list, "list parties (admin, regulator)"},
};

int cmd_parties(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "parties", parties_commands,
                          sizeof parties_commands / sizeof parties_commands[0]);
}

/* ---- keys ------------------------------------------------------------ */

static const char keys_create_usage[] =
    "usage: hrid keys create --party ID --role ROLE [--label LABEL]\n"
    "\n"
    "   --role   admin, regulator, manufacturer, seller, owner, service,\n"
    "            recycler or certifier: the one that fits the party's kind\n"
    "\n"
    "Prints the new key on stdout: it is shown this once only.  Needs the\n"
    "admin key.\n";

static const struct cmdline_opt keys_create_opts[] = {
    {"party", CMDLINE_INT, 1},
    {"role", CMDLINE_STR, 1},
    {"label", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static void show_key(const json_t *reply)
{
    char id[64], party[32];

    puts(json_string_value(json_object_get(reply, "key")) != NULL
             ? json_string_value(json_object_get(reply, "key")) : "-");
    fprintf(stderr, "key id %s, %s of party %s; the key is not shown "
            "again\n",
            output_value(json_object_get(reply, "key_id"), id, sizeof id),
            json_string_value(json_object_get(reply, "role")) != NULL
                ? json_string_value(json_object_get(reply, "role")) : "-",
            output_value(json_object_get(reply, "party"), party,
                         sizeof party));
}

static int keys_create(const struct cli_global *g, int argc, char **argv)
{
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, keys_create_opts, 0, 0, 0,
                       keys_create_usage);
    if (rc == CLI_OK && !cl.help)
        rc = output_call(&cl, "POST", "/v1/keys", cl.opts, show_key);
    cmdline_release(&cl);
    return rc;
}

static const char keys_list_usage[] =
    "usage: hrid keys list [--party ID]\n"
    "\n"
    "Lists keys without their secrets.  Needs the admin key.\n";

static const struct cmdline_opt keys_list_opts[] = {
    {"party", CMDLINE_NATURAL, 0},
    {NULL, 0, 0},
};

static const struct output_column key_columns[] = {
    {"KEY ID", "key_id", 16},
    {"PARTY", "party", 6},
    {"ROLE", "role", 12},
    {"CREATED", "created_at", 24},
    {"REVOKED", "revoked_at", 24},
    {"LABEL", "label", 0},
    {NULL, NULL, 0},
};

static int keys_list(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX] = "/v1/keys", party[32];
    struct cmdline cl;
    struct client c;
    const json_t *p;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, keys_list_opts, 0, 0, 0,
                       keys_list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    p = json_object_get(cl.opts, "party");
    if (p != NULL)
        client_query_add(path, sizeof path, "party",
                         output_value(p, party, sizeof party));
    rc = client_open(&c, &cl.g);
    if (rc != CLI_OK)
        goto out;
    /* Not paginated: a party holds a handful of keys. */
    rc = output_list(&c, &cl.g, path, 0, NULL, NULL, key_columns);
    client_close(&c);
out:
    cmdline_release(&cl);
    return rc;
}

static const char keys_revoke_usage[] =
    "usage: hrid keys revoke KEY_ID\n"
    "\n"
    "Revokes a key at once: requests with it are refused from then on.\n"
    "Needs the admin key.\n";

static void show_revoked(const json_t *reply)
{
    char id[64], at[64];

    printf("revoked %s at %s\n",
           output_value(json_object_get(reply, "key_id"), id, sizeof id),
           output_value(json_object_get(reply, "revoked_at"), at, sizeof at));
}

static int keys_revoke(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, keys_revoke_usage);
    if (rc == CLI_OK && !cl.help) {
        if (client_pathf(path, sizeof path, "/v1/keys/%s",
                         cl.operands[0]) != 0)
            rc = cli_usage_error(keys_revoke_usage, "key id too long");
        else
            rc = output_call(&cl, "DELETE", path, NULL, show_revoked);
    }
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command keys_commands[] = {
    {"create", keys_create, "issue an API key to a party (admin)"},
    {"list", keys_list, "list keys, without secrets (admin)"},
    {"revoke", keys_revoke, "revoke a key (admin)"},
};

int cmd_keys(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "keys", keys_commands,
                          sizeof keys_commands / sizeof keys_commands[0]);
}
