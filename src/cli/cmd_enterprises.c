/*
 * cmd_enterprises.c - "hrid enterprises": enrolling manufacturers and
 * looking them up (docs/API.md, "Enterprises and models").
 *
 * Enrolment assigns the enterprise its 4-character code within its
 * country; "enrol" prints the enterprise id (country + code, "CN0001"),
 * which is what "hrid models file" and "hrid models list" take.
 */
#include <stdio.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/output.h"

static const char enrol_usage[] =
    "usage: hrid enterprises enrol --country CC --name NAME\n"
    "                              [--public-name NAME] [--info JSON]\n"
    "\n"
    "Enrols a manufacturer and prints its enterprise id (CN0001).  Needs\n"
    "the admin key.\n";

static const struct cmdline_opt enrol_opts[] = {
    {"country", CMDLINE_STR, 1},
    {"name", CMDLINE_STR, 1},
    {"public-name", CMDLINE_STR, 0},
    {"info", CMDLINE_JSON, 0},
    {NULL, 0, 0},
};

static void show_enterprise_id(const json_t *reply)
{
    char v[64];

    puts(output_value(json_object_get(reply, "enterprise"), v, sizeof v));
}

static int enterprises_enrol(const struct cli_global *g, int argc,
                             char **argv)
{
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, enrol_opts, 0, 0, 0, enrol_usage);
    if (rc == CLI_OK && !cl.help)
        rc = output_call(&cl, "POST", "/v1/enterprises", cl.opts,
                         show_enterprise_id);
    cmdline_release(&cl);
    return rc;
}

static const char get_usage[] =
    "usage: hrid enterprises get ENTERPRISE\n"
    "\n"
    "Shows an enterprise (CN0001): public, with its details for the admin,\n"
    "regulators and the enterprise itself.\n";

static int enterprises_get(const struct cli_global *g, int argc,
                           char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, get_usage);
    if (rc == CLI_OK && !cl.help) {
        if (client_pathf(path, sizeof path, "/v1/enterprises/%s",
                         cl.operands[0]) != 0)
            rc = cli_usage_error(get_usage, "enterprise id too long");
        else
            rc = output_call(&cl, "GET", path, NULL, NULL);
    }
    cmdline_release(&cl);
    return rc;
}

static const struct cli_command enterprises_commands[] = {
    {"enrol", enterprises_enrol, "enrol a manufacturer (admin)"},
    {"get", enterprises_get, "show an enterprise"},
};

int cmd_enterprises(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "enterprises", enterprises_commands,
                          sizeof enterprises_commands /
                              sizeof enterprises_commands[0]);
}
