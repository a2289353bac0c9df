/*
 * cmd_units.c - "hrid units": registering units one at a time, looking
 * them up and listing them (docs/API.md, "Units").  The bulk path,
 * "units import", lives in units_import.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/output.h"
#include "cli/units.h"

static const char get_usage[] =
    "usage: hrid units get CODE\n"
    "\n"
    "Shows a unit as the caller may see it (public without a key).\n";

static int units_get(const struct cli_global *g, int argc, char **argv)
{
    char code[HRID_CODE_LEN + 1], path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, get_usage);
    if (rc == CLI_OK && !cl.help) {
        rc = cmdline_code(cl.operands[0], code);
        if (rc == CLI_OK) {
            client_pathf(path, sizeof path, "/v1/units/%s", code);
            rc = output_call(&cl, "GET", path, NULL, NULL);
        }
    }
    cmdline_release(&cl);
    return rc;
}

static const char list_usage[] =
    "usage: hrid units list [--state STATE] [--model MODEL] [--all]\n"
    "                       [--limit N] [--cursor C]\n"
    "\n"
    "   --all   follow every page (with --json: one merged document)\n"
    "\n"
    "Lists the units the caller may see: a regulator all, a maker its own,\n"
    "a custodian those it holds.\n";

static const struct cmdline_opt list_opts[] = {
    {"state", CMDLINE_STR, 0},
    {"model", CMDLINE_STR, 0},
    {"all", CMDLINE_FLAG, 0},
    {"limit", CMDLINE_STR, 0},
    {"cursor", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static const struct output_column unit_columns[] = {
    {"CODE", "code", 29},
    {"STATE", "state", 11},
    {"MODEL", "model.id", 12},
    {"PRODUCED", "production_date", 10},
    {"BATCH", "batch", 0},
    {NULL, NULL, 0},
};

static int units_list(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX] = "/v1/units";
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, list_opts, 0, 0, 0, list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    if (client_query_add(path, sizeof path, "state",
                         cmdline_str(&cl, "state")) != 0 ||
        client_query_add(path, sizeof path, "model",
                         cmdline_str(&cl, "model")) != 0) {
        rc = cli_usage_error(list_usage, "filters too long");
        goto out;
    }
    rc = output_list_call(&cl, path, unit_columns);
out:
    cmdline_release(&cl);
    return rc;
}

static const char register_usage[] =
    "usage: hrid units register --model MODEL --production-date YYYY-MM-DD\n"
    "                           [--serial S16] [--batch B] [--factory F]\n"
    "                           [--firmware FW] [--components JSON]\n"
    "                           [--device-key BASE64] [--at TIME]\n"
    "\n"
    "   --serial       the 16-character serial body; without it the\n"
    "                  platform allocates one\n"
    "   --firmware     \"main=1.4.2;arm=2.0\" or {\"main\":\"1.4.2\"}\n"
    "   --components   [{\"slot\":...,\"part_no\":...,\"supplier\":...,\n"
    "                    \"lot\":...,\"serial\":...}]\n"
    "\n"
    "Registers one unit and prints its code.  Needs a manufacturer's key.\n"
    "Many units: 'hrid units import'.\n";

static const struct cmdline_opt register_opts[] = {
    {"model", CMDLINE_STR, 1},
    {"production-date", CMDLINE_STR, 1},
    {"serial", CMDLINE_STR, 0},
    {"batch", CMDLINE_STR, 0},
    {"factory", CMDLINE_STR, 0},
    {"firmware", CMDLINE_STR, 0},
    {"components", CMDLINE_JSON, 0},
    {"device-key", CMDLINE_STR, 0},
    {"at", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static void show_code(const json_t *reply)
{
    char v[64];

    puts(output_value(json_object_get(reply, "code"), v, sizeof v));
}

static int units_register(const struct cli_global *g, int argc, char **argv)
{
    struct cmdline cl;
    const char *fw;
    json_t *firmware;
    char why[256];
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, register_opts, 0, 0, 0,
                       register_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    fw = cmdline_str(&cl, "firmware");
    if (fw != NULL) {
        if (units_firmware(fw, &firmware, why, sizeof why) != 0) {
            rc = cli_usage_error(register_usage, "--firmware: %s", why);
            goto out;
        }
        json_object_set_new(cl.opts, "firmware", firmware);
    }
    rc = output_call(&cl, "POST", "/v1/units", cl.opts, show_code);
out:
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command units_commands[] = {
    {"get", units_get, "show a unit"},
    {"list", units_list, "list units"},
    {"register", units_register, "register one unit (manufacturer)"},
    {"import", units_import,
     "register units in bulk from CSV or JSON Lines, resumably"},
};

int cmd_units(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "units", units_commands,
                          sizeof units_commands / sizeof units_commands[0]);
}
