/*
 * store/store_cols.h - the column lists of the stored records, in the
 * order the backends' record readers take them; shared by the SQLite and
 * PostgreSQL backends, whose tables have the same columns.
 */
#ifndef STORE_STORE_COLS_H
#define STORE_STORE_COLS_H

#define PARTY_COLS "id, kind, name, public_name, country, ent_code, info, " \
                   "created_at"
#define KEY_COLS   "id, key_id, hash, party_id, role, label, created_at, " \
                   "revoked_at"
#define MODEL_COLS "id, model_id, enterprise_id, level, filing_year, name, " \
                   "status, params, filing, filed_at, approved_at, "       \
                   "approved_by, withdrawn_at"
/* A unit's last_event_at, last_event_seq and event_count: from its latest
 * event, through the (unit_id, seq, unit_count, unit_last_at) index. */
#define UNIT_LATEST(col)                                                    \
    "coalesce((SELECT " col " FROM events WHERE events.unit_id = units.id" \
    " ORDER BY events.seq DESC LIMIT 1), 0)"
#define UNIT_HISTORY                                                        \
    UNIT_LATEST("unit_last_at") ", " UNIT_LATEST("seq") ", "                \
    UNIT_LATEST("unit_count")
/* The row's own columns; UNIT_COLS adds its history's counts. */
#define UNIT_ROW_COLS                                                       \
    "id, code, model_row, enterprise_id, state, prev_state, "               \
    "custodian_id, owner_id, operator_id, serial, batch, "                  \
    "production_date, factory, firmware, device_key, site, scenario, "      \
    "region, market_filing_no, jurisdiction, extra, registered_at, "        \
    "updated_at"
#define UNIT_ROW_NCOLS 23
#define UNIT_COLS UNIT_ROW_COLS ", " UNIT_HISTORY
/* The latest event's counts, as UNIT_HISTORY lists them. */
#define UNIT_HISTORY_SQL(p)                                                 \
    "SELECT unit_last_at, seq, unit_count FROM events WHERE unit_id = " p   \
    " ORDER BY seq DESC LIMIT 1"
#define COMP_COLS  "id, unit_id, slot, part_no, supplier, lot, serial, "   \
                   "installed_at, installed_seq, removed_at, removed_seq"
#define EVENT_COLS "seq, unit_id, code, type, at, recorded_at, actor_id, " \
                   "actor_role, body"
#define GRANT_COLS "id, unit_id, grantee_id, granted_by, scope, "          \
                   "valid_from, valid_until, revoked_at, created_at"
#define IDEM_COLS  "party_id, key, req_hash, status, response, created_at"
#define CERT_COLS  "id, model_row, unit_id, scheme, tier, scenarios, "      \
                   "conditions, limits, valid_from, valid_until, "         \
                   "issuer_id, created_at, revoked_at"
#define RECALL_COLS "id, enterprise_id, created_by, ordered, defect, "     \
                    "hazard, remedy, target, status, created_at, closed_at, " \
                    "notify_after"
#define INCIDENT_COLS "id, unit_id, code, model_row, enterprise_id, at, " \
                      "recorded_at, severity, kind, place, description, " \
                      "reporter_id, verified, contact, event_seq, snapshot"
#define ALERT_COLS "id, rule_id, unit_id, code, model_row, enterprise_id, " \
                   "metric, state, since, opened_at, cleared_at, value"
#define RU_COLS    "recall_id, unit_id, code, state, notified_seq, "       \
                   "remedied_seq, remedied_at"
#define RULE_COLS  "id, enterprise_id, model_row, metric, op, threshold, " \
                   "for_ms, created_by, created_at"
#define VIOL_COLS  "id, unit_id, code, enterprise_id, state, first_t, "    \
                   "last_t, lat, lon, closed_at"

#endif
