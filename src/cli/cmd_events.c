/*
 * cmd_events.c - "hrid events" and "hrid grants": recording a unit's
 * lifecycle and reading its history (docs/API.md, "Lifecycle events").
 *
 * "events add" takes the event's fields as options named after them
 * ("--market-filing-no F1", "--to 12", "--site '{...}'"), or a whole body
 * with --json-body; the registry checks them, so this file needs no
 * table of event types and never falls behind the API.
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/output.h"

static const char add_usage[] =
    "usage: hrid events add CODE --type TYPE [--at TIME] [--FIELD VALUE ...]\n"
    "   or: hrid events add CODE --json-body '{\"type\":...}' [--FIELD VALUE"
    " ...]\n"
    "\n"
    "   --type        release, transfer, deploy, maintenance_start,\n"
    "                 maintenance_end, firmware_update, inspection,\n"
    "                 incident, suspend, resume, scrap, recycle, export,\n"
    "                 import, void\n"
    "   --at          when it happened (RFC 3339; default: now)\n"
    "   --FIELD       any field of the event, '-' read as '_'\n"
    "                 (--market-filing-no F1 --to 12); a value that is\n"
    "                 JSON (a number, {...}, [...], true) is sent as JSON,\n"
    "                 anything else as a string; '\"12\"' forces a string\n"
    "   --json-body   the event as one JSON object; options add to it\n"
    "\n"
    "Records the event and shows it.\n";

static const struct cmdline_opt add_opts[] = {
    {"type", CMDLINE_STR, 0},
    {"at", CMDLINE_STR, 0},
    {"json-body", CMDLINE_JSON, 0},
    {NULL, 0, 0},
};

static int events_add(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], path[CLIENT_PATH_MAX];
    struct cmdline cl;
    json_t *body = NULL;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, add_opts, 1, 1, 1, add_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    body = cmdline_take(&cl, "json_body");
    if (body != NULL && !json_is_object(body)) {
        rc = cli_usage_error(add_usage, "--json-body must be a JSON object");
        goto out;
    }
    if (body == NULL && (body = json_object()) == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    if (json_object_update(body, cl.opts) != 0) {
        rc = cli_error("out of memory");
        goto out;
    }
    if (json_object_get(body, "type") == NULL) {
        rc = cli_usage_error(add_usage, "missing --type");
        goto out;
    }
    rc = cmdline_code(cl.operands[0], code);
    if (rc != CLI_OK)
        goto out;
    client_pathf(path, sizeof path, "/v1/units/%s/events", code);
    rc = output_call(&cl, "POST", path, body, NULL);
out:
    json_decref(body);
    cmdline_release(&cl);
    return rc;
}

static const char list_usage[] =
    "usage: hrid events list CODE [--all] [--limit N] [--cursor C]\n"
    "\n"
    "Shows a unit's history, oldest first, as far as the caller may see.\n";

static const struct cmdline_opt list_opts[] = {
    {"all", CMDLINE_FLAG, 0},
    {"limit", CMDLINE_STR, 0},
    {"cursor", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static const struct output_column event_columns[] = {
    {"SEQ", "seq", 6},
    {"AT", "at", 24},
    {"TYPE", "type", 17},
    {"ROLE", "actor.role", 12},
    {"PARTY", "actor.party", 5},
    {"BODY", "body", 0},
    {NULL, NULL, 0},
};

static int events_list(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, list_opts, 1, 1, 0, list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    rc = cmdline_code(cl.operands[0], code);
    if (rc != CLI_OK)
        goto out;
    client_pathf(path, sizeof path, "/v1/units/%s/events", code);
    rc = output_list_call(&cl, path, event_columns);
out:
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command events_commands[] = {
    {"add", events_add, "record a lifecycle event of a unit"},
    {"list", events_list, "show a unit's history"},
};

int cmd_events(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "events", events_commands,
                          sizeof events_commands / sizeof events_commands[0]);
}

/* ---- grants ---------------------------------------------------------- */

static const char grants_add_usage[] =
    "usage: hrid grants add CODE --grantee ID --scope SCOPE --until TIME\n"
    "                       [--from TIME]\n"
    "\n"
    "   --scope   service (maintenance, firmware, inspection) or\n"
    "             recycling (scrap, recycle)\n"
    "\n"
    "Lets a service provider or recycler act on a unit you hold, between\n"
    "--from (default now) and --until (RFC 3339).\n";

static const struct cmdline_opt grants_add_opts[] = {
    {"grantee", CMDLINE_INT, 1},
    {"scope", CMDLINE_STR, 1},
    {"until", CMDLINE_STR, 1},
    {"from", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static int grants_add(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, grants_add_opts, 1, 1, 0,
                       grants_add_usage);
    if (rc == CLI_OK && !cl.help) {
        rc = cmdline_code(cl.operands[0], code);
        if (rc == CLI_OK) {
            client_pathf(path, sizeof path, "/v1/units/%s/grants", code);
            rc = output_call(&cl, "POST", path, cl.opts, NULL);
        }
    }
    cmdline_release(&cl);
    return rc;
}

static const char grants_list_usage[] =
    "usage: hrid grants list CODE\n";

static const struct output_column grant_columns[] = {
    {"ID", "id", 6},
    {"GRANTEE", "grantee", 7},
    {"SCOPE", "scope", 9},
    {"FROM", "from", 24},
    {"UNTIL", "until", 24},
    {"REVOKED", "revoked_at", 0},
    {NULL, NULL, 0},
};

static int grants_list(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], path[CLIENT_PATH_MAX];
    struct cmdline cl;
    struct client c;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, grants_list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    rc = cmdline_code(cl.operands[0], code);
    if (rc != CLI_OK)
        goto out;
    client_pathf(path, sizeof path, "/v1/units/%s/grants", code);
    rc = client_open(&c, &cl.g);
    if (rc != CLI_OK)
        goto out;
    rc = output_list(&c, &cl.g, path, 0, NULL, NULL, grant_columns);
    client_close(&c);
out:
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command grants_commands[] = {
    {"add", grants_add, "grant a service provider or recycler a unit"},
    {"list", grants_list, "list a unit's grants"},
};

int cmd_grants(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "grants", grants_commands,
                          sizeof grants_commands / sizeof grants_commands[0]);
}
