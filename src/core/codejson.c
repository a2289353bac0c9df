/*
 * codejson.c - JSON forms of a decoded code and of a code refusal.
 */
#include "core/codejson.h"

json_t *core_code_json(const struct hrid_code_parts *p)
{
    char display[HRID_CODE_DISPLAY_LEN + 1];
    char check[2] = {p->check, '\0'};

    hrid_code_display(p->code, display);
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, "
                     "s:{s:s, s:s, s:i, s:s, s:i, s:s}, s:s, s:s}",
                     "code", p->code, "display", display,
                     "country", "code", p->country, "name", p->country_name,
                     "enterprise", p->enterprise,
                     "model", "id", p->model_id, "code", p->model,
                     "level", p->level,
                     "level_meaning", hrid_level_meaning(p->level),
                     "filing_year", p->filing_year, "sequence", p->model_seq,
                     "serial", p->serial, "check", check);
}

json_t *core_code_error_json(const struct hrid_err *err)
{
    json_t *o = json_pack("{s:s, s:s}", "message", err->msg, "reason",
                          hrid_code_reason_name(err->reason));

    if (o != NULL && err->pos > 0 &&
        json_object_set_new(o, "position", json_integer(err->pos)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
