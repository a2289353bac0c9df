/*
 * cli/units.h - what cmd_units.c shares with units_import.c.
 */
#ifndef HRID_CLI_UNITS_H
#define HRID_CLI_UNITS_H

#include <stddef.h>

#include <jansson.h>

#include "cli/cmdline.h"

/* "hrid units import": argv as for any subcommand (argv[0] "import"). */
int units_import(const struct cli_global *g, int argc, char **argv);

/*
 * Parses a unit's firmware as given on a command line or in a CSV cell:
 * a JSON object ({"main":"1.2.0"}) or "name=version" pairs separated by
 * ';' ("main=1.2.0;arm=2.0", spaces around the pieces ignored).  Stores
 * a new JSON object in *out and returns 0, or returns -1 with the reason
 * in why (whylen bytes).
 */
int units_firmware(const char *text, json_t **out, char *why, size_t whylen);

#endif
