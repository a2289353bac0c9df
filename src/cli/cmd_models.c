/*
 * cmd_models.c - "hrid models": filing product models, their approval
 * and withdrawal, and lookups (docs/API.md, "Enterprises and models").
 *
 * A model id is 12 characters: country, enterprise and the 6-character
 * model code the platform assigns at filing ("CN0001326001").
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/cmdline.h"
#include "cli/output.h"

static const char file_usage[] =
    "usage: hrid models file ENTERPRISE --name NAME --level 0-5\n"
    "                        [--filing-year YYYY] [--params JSON]\n"
    "                        [--filing JSON]\n"
    "\n"
    "   --level        intelligence level (DESIGN §2): 0 teleoperated ..\n"
    "                  5 physical assistance of people\n"
    "   --params       {\"height_mm\":1650,\"dof\":41,...}\n"
    "   --filing       {\"filing_no\":\"MIIT-2026-000123\",\"documents\":[...]}\n"
    "\n"
    "Files a model for ENTERPRISE (CN0001) and prints its model id.  Needs\n"
    "the enterprise's key or the admin key.\n";

static const struct cmdline_opt file_opts[] = {
    {"name", CMDLINE_STR, 1},
    {"level", CMDLINE_INT, 1},
    {"filing-year", CMDLINE_INT, 0},
    {"params", CMDLINE_JSON, 0},
    {"filing", CMDLINE_JSON, 0},
    {NULL, 0, 0},
};

static void show_model_id(const json_t *reply)
{
    char v[64];

    puts(output_value(json_object_get(reply, "model"), v, sizeof v));
}

static int models_file(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, file_opts, 1, 1, 0, file_usage);
    if (rc == CLI_OK && !cl.help) {
        if (client_pathf(path, sizeof path, "/v1/enterprises/%s/models",
                         cl.operands[0]) != 0)
            rc = cli_usage_error(file_usage, "enterprise id too long");
        else
            rc = output_call(&cl, "POST", path, cl.opts, show_model_id);
    }
    cmdline_release(&cl);
    return rc;
}

static const char get_usage[] =
    "usage: hrid models get MODEL\n";

static int models_get(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, get_usage);
    if (rc == CLI_OK && !cl.help) {
        if (client_pathf(path, sizeof path, "/v1/models/%s",
                         cl.operands[0]) != 0)
            rc = cli_usage_error(get_usage, "model id too long");
        else
            rc = output_call(&cl, "GET", path, NULL, NULL);
    }
    cmdline_release(&cl);
    return rc;
}

static const char list_usage[] =
    "usage: hrid models list ENTERPRISE [--all] [--limit N] [--cursor C]\n";

static const struct cmdline_opt list_opts[] = {
    {"all", CMDLINE_FLAG, 0},
    {"limit", CMDLINE_STR, 0},
    {"cursor", CMDLINE_STR, 0},
    {NULL, 0, 0},
};

static const struct output_column model_columns[] = {
    {"MODEL", "model", 12},
    {"STATUS", "status", 9},
    {"LEVEL", "level", 5},
    {"YEAR", "filing_year", 4},
    {"NAME", "name", 0},
    {NULL, NULL, 0},
};

static int models_list(const struct cli_global *g, int argc, char **argv)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, list_opts, 1, 1, 0, list_usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    if (client_pathf(path, sizeof path, "/v1/enterprises/%s/models",
                     cl.operands[0]) != 0) {
        rc = cli_usage_error(list_usage, "enterprise id too long");
        goto out;
    }
    rc = output_list_call(&cl, path, model_columns);
out:
    cmdline_release(&cl);
    return rc;
}

static void show_status(const json_t *reply)
{
    char model[64], status[64];

    printf("%s: %s\n",
           output_value(json_object_get(reply, "model"), model, sizeof model),
           output_value(json_object_get(reply, "status"), status,
                        sizeof status));
}

/* approve and withdraw: POST /v1/models/{model}/status. */
static int set_status(const struct cli_global *g, int argc, char **argv,
                      const char *status, const char *usage)
{
    char path[CLIENT_PATH_MAX];
    struct cmdline cl;
    json_t *body;
    int rc;

    rc = cmdline_parse(&cl, g, argc, argv, NULL, 1, 1, 0, usage);
    if (rc != CLI_OK || cl.help)
        goto out;
    if (client_pathf(path, sizeof path, "/v1/models/%s/status",
                     cl.operands[0]) != 0) {
        rc = cli_usage_error(usage, "model id too long");
        goto out;
    }
    body = json_pack("{s:s}", "status", status);
    if (body == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    rc = output_call(&cl, "POST", path, body, show_status);
    json_decref(body);
out:
    cmdline_release(&cl);
    return rc;
}

static const char approve_usage[] =
    "usage: hrid models approve MODEL\n"
    "\n"
    "Approves a filed model, so that its units can be released.  Needs a\n"
    "regulator's key.\n";

static int models_approve(const struct cli_global *g, int argc, char **argv)
{
    return set_status(g, argc, argv, "approved", approve_usage);
}

static const char withdraw_usage[] =
    "usage: hrid models withdraw MODEL\n"
    "\n"
    "Withdraws a model: no more of its units can be registered.  Needs a\n"
    "regulator's key or the maker's.\n";

static int models_withdraw(const struct cli_global *g, int argc, char **argv)
{
    return set_status(g, argc, argv, "withdrawn", withdraw_usage);
}

static const struct cli_command models_commands[] = {
    {"file", models_file, "file a product model (manufacturer)"},
    {"get", models_get, "show a model"},
    {"list", models_list, "list an enterprise's models"},
    {"approve", models_approve, "approve a filed model (regulator)"},
    {"withdraw", models_withdraw, "withdraw a model (regulator, maker)"},
};

int cmd_models(const struct cli_global *g, int argc, char **argv)
{
    return cli_subcommand(g, argc, argv, "models", models_commands,
                          sizeof models_commands / sizeof models_commands[0]);
}
