/*
 * codejson.h - the JSON form of a decoded identity code, shared by the
 * HTTP API (GET /v1/codes/{code}) and `hrid code decode --json`, so both
 * print the same object.
 */
#ifndef CORE_CODEJSON_H
#define CORE_CODEJSON_H

#include <jansson.h>

#include "hrid/code.h"

/*
 * Returns a new object:
 *   {"code":"CN…U","display":"CN-A7K2-…-U",
 *    "country":{"code":"CN","name":"China"},"enterprise":"A7K2",
 *    "model":{"id":"CNA7K2326001","code":"326001","level":3,
 *             "level_meaning":"…","filing_year":2026,"sequence":"001"},
 *    "serial":"2605220000001234","check":"U"}
 * The caller owns the reference (json_decref).  NULL when out of memory.
 */
json_t *core_code_json(const struct hrid_code_parts *p);

/*
 * Returns a new object describing why a code was refused:
 *   {"message":"position 17: …","reason":"character","position":17}
 * ("position" omitted when the whole code is concerned).  The caller owns
 * the reference.  NULL when out of memory.
 */
json_t *core_code_error_json(const struct hrid_err *err);

#endif
