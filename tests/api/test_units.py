"""Units: registration, bulk, idempotency, views by role, persistence
(docs/API.md, "Units" and "Conventions")."""

import datetime
import sqlite3
import subprocess
import time

import pgcluster
from fixtures import (ALLOC_ALPHABET, Actor, World, check_char, deploy_body,
                      incident_body, inspection_body, iso, ok, refused,
                      registry, release_body, server, today, transfer_body,
                      unit_count)
from harness import assert_error, hridd_path, persistent_db, pg_base, quote

# What each view shows (docs/API.md, the table under GET /v1/units/{code}).
PUBLIC = {"code", "display", "country", "enterprise", "model", "production_date",
          "state", "operator", "scenario", "region", "certifications",
          "open_recalls"}
MAKER = PUBLIC | {"serial", "batch", "factory", "firmware", "components",
                  "device_key", "market_filing_no", "jurisdiction",
                  "registered_at", "updated_at", "event_count"}
CUSTODIAN = MAKER | {"custodian", "owner", "site", "open_alerts",
                     "fence_violations"}
# Members the table names loosely ("last event"), or that only say which
# view this is: allowed in the views that include them, never required.
LOOSE = {"view"}
MAKER_LOOSE = LOOSE | {"last_event", "last_event_at", "last_event_seq"}
CUSTODIAN_LOOSE = MAKER_LOOSE | {"previous_state"}


def check_view(body, view, who):
    keys = set(body)
    need, allowed = {
        "public": (PUBLIC, PUBLIC | LOOSE),
        "manufacturer": (MAKER, MAKER | MAKER_LOOSE),
        "custodian": (CUSTODIAN, CUSTODIAN | CUSTODIAN_LOOSE),
        "regulator": (CUSTODIAN, None),
    }[view]
    missing = need - keys
    assert not missing, f"{who}: {view} view lacks {sorted(missing)}: {body!r}"
    if allowed is not None:
        extra = keys - allowed
        assert not extra, f"{who}: {view} view shows {sorted(extra)}: {body!r}"
    if "view" in body:
        assert body["view"] == view, f"{who}: view {body['view']!r}, expected {view!r}"


def test_register_one_with_own_serial():
    with registry() as w:
        serial = "2605220000001234"
        status, _, body = w.maker.post("/v1/units", w.unit_body(w.model, serial=serial))
        assert status == 201, body
        code = body["code"]
        assert code == w.model + serial + check_char(w.model + serial), body
        assert body["display"] == (f"{code[:2]}-{code[2:6]}-{code[6:12]}-"
                                   f"{code[12:28]}-{code[28]}"), body
        assert body["state"] == "registered" and body["serial"] == serial, body
        assert body["batch"] == "L2026-05-A" and body["firmware"] == {"main": "1.4.2"}, body
        assert body["components"][0]["serial"] == "KM0001", body
        check_view(body, "manufacturer", "register reply")
        # The code is unique.
        refused(w.maker.post("/v1/units", w.unit_body(w.model, serial=serial)), 409,
                "unit_exists")
        # Serial bodies follow the code's alphabet (the maker's own may use
        # I and O, but not lower case or other characters).
        refused(w.maker.post("/v1/units", w.unit_body(w.model, serial="26052200000012")),
                422, "invalid_field", "serial")
        refused(w.maker.post("/v1/units", w.unit_body(w.model, serial="260522000000123*")),
                422, "invalid_field", "serial")


def test_register_with_required_fields_only():
    with registry() as w:
        body = ok(w.maker.post("/v1/units", {"model": w.model,
                                             "production_date": "2026-05-22"}))
        assert body["firmware"] == {} and body["components"] == [], body


def test_allocated_serials():
    with registry() as w:
        codes = set()
        for serial in (None, "allocate", None):
            extra = {} if serial is None else {"serial": serial}
            body = ok(w.maker.post("/v1/units", w.unit_body(
                w.model, production_date="2026-05-22", **extra)))
            s = body["code"][12:28]
            assert s[:6] == "260522", body
            assert all(c in ALLOC_ALPHABET for c in s[6:]), body
            assert body["serial"] == s, body
            codes.add(body["code"])
        assert len(codes) == 3, codes


def test_register_refusals():
    with registry() as w:
        refused(w.maker.post("/v1/units", w.unit_body(w.model, colour="red")), 422,
                "unknown_field", "colour")
        b = w.unit_body(w.model)
        b["components"][0]["colour"] = "red"
        refused(w.maker.post("/v1/units", b), 422, "unknown_field", "components[0].colour")
        b = w.unit_body(w.model)
        b["components"][0]["serial"] = "x" * 65
        refused(w.maker.post("/v1/units", b), 422, "invalid_field", "components[0].serial")
        b = w.unit_body(w.model)
        del b["model"]
        refused(w.maker.post("/v1/units", b), 422, "missing_field", "model")
        refused(w.maker.post("/v1/units", w.unit_body(w.model, production_date="2026-02-30")),
                422, "invalid_field", "production_date")
        # Another maker's model is not the caller's to register.
        refused(w.maker2.post("/v1/units", w.unit_body(w.model)), 403, "not_maker")
        # A model that does not exist: the field is wrong (422), or the
        # model is not found (404); either way nothing is written.
        status, _, body = w.maker.post("/v1/units", w.unit_body(w.maker.ent + "399ZZZ"))
        assert status in (404, 422) and body["error"].get("field") in (None, "model"), body
        status, _, body = w.maker.post("/v1/units", b"[1,2")
        assert_error(body, "bad_json", 400, status)
        assert unit_count(w.maker) == 0 and unit_count(w.maker2) == 0


def test_bulk_register_in_order():
    with registry() as w:
        units = [w.unit_body(w.model, serial=f"26052200000010{i:02d}") for i in range(5)]
        body = ok(w.maker.post("/v1/units", {"units": units}))
        assert body["count"] == 5, body
        assert [u["code"][12:28] for u in body["units"]] == [u["serial"] for u in units], body
        for u in body["units"]:
            assert len(u["code"]) == 29 and len(u["display"]) == 33, u
        assert unit_count(w.maker) == 5


def test_bulk_is_all_or_nothing():
    with registry() as w:
        units = [w.unit_body(w.model) for _ in range(4)]
        units[2]["components"][0]["serial"] = "x" * 65
        refused(w.maker.post("/v1/units", {"units": units}), 422, "invalid_field",
                "units[2].components[0].serial")
        units[2] = w.unit_body(w.model, colour="red")
        refused(w.maker.post("/v1/units", {"units": units}), 422, "unknown_field",
                "units[2].colour")
        # A duplicate serial inside the batch, found only while writing.
        units = [w.unit_body(w.model, serial="2605220000000777") for _ in range(3)]
        err = refused(w.maker.post("/v1/units", {"units": units}), 409, "unit_exists")
        assert err.get("field", "").startswith("units[1]"), err
        assert unit_count(w.maker) == 0
        status, _, body = w.maker.post("/v1/units", {"units": []})
        assert status in (400, 422), (status, body)
        refused(w.maker.post("/v1/units", {"units": [w.unit_body(w.model)], "x": 1}),
                422, "unknown_field", "x")


def test_bulk_body_in_any_layout():
    """A bulk is read one unit at a time; any layout of valid JSON is taken,
    and any other body is answered as a whole body is."""
    import json
    with registry() as w:
        units = [w.unit_body(w.model, serial=f"26052200000020{i:02d}") for i in range(3)]
        pretty = json.dumps({"units": units}, indent=2).replace("\n", "\r\n\t")
        body = ok(w.maker.post("/v1/units", pretty.encode()))
        assert body["count"] == 3, body
        assert [u["code"][12:28] for u in body["units"]] == \
            [f"26052200000020{i:02d}" for i in range(3)], body
        dense = json.dumps({"units": [w.unit_body(w.model, serial="2605220000002100")]},
                           separators=(",", ":"))
        assert ok(w.maker.post("/v1/units", dense.encode()))["count"] == 1
        assert unit_count(w.maker) == 4

        good = json.dumps(w.unit_body(w.model))
        # Broken JSON inside the second unit, after a good first one.
        status, _, err = w.maker.post(
            "/v1/units", ('{"units": [%s, {"model": "%s",}]}' % (good, w.model)).encode())
        assert_error(err, "bad_json", 400, status)
        assert "line 1" in err["error"]["message"], err
        # An element that is not an object, after a good one.
        refused(w.maker.post("/v1/units", ('{"units": [%s, 7]}' % good).encode()),
                422, "invalid_field", "units[1]")
        # Anything after the body's closing brace.
        status, _, err = w.maker.post("/v1/units", ('{"units": [%s]} x' % good).encode())
        assert_error(err, "bad_json", 400, status)
        # A unit whose strings hold braces, brackets and escaped quotes.
        tricky = w.unit_body(w.model, serial="2605220000002200")
        tricky["factory"] = 'Plant "}]," {['
        tricky["batch"] = "L\\]}"
        body = ok(w.maker.post("/v1/units", json.dumps({"units": [tricky]}).encode()))
        assert body["count"] == 1, body
        got = ok(w.maker.get("/v1/units/" + body["units"][0]["code"]), 200)
        assert got["factory"] == 'Plant "}]," {[' and got["batch"] == "L\\]}", got
        # An empty body, and an empty list.
        status, _, err = w.maker.post("/v1/units", b"")
        assert_error(err, "bad_json", 400, status)
        refused(w.maker.post("/v1/units", b'{"units": [ ]}'), 422, "invalid_field", "units")
        assert unit_count(w.maker) == 5


def test_bulk_over_the_limit_is_413():
    with registry() as w:
        units = [{"model": w.model, "production_date": "2026-05-22"}] * 10001
        refused(w.maker.post("/v1/units", {"units": units}), 413, "too_large")
        assert unit_count(w.maker) == 0


def test_bulk_of_ten_thousand():
    with registry() as w:
        units = [{"model": w.model, "production_date": "2026-05-22"}] * 10000
        # A limit test, not a benchmark: on PostgreSQL with the sanitizers
        # the 40,000 statements take 15-30 s here (bench/ has the rates).
        body = ok(w.maker.post("/v1/units", {"units": units}, timeout=120))
        assert body["count"] == 10000 and len(body["units"]) == 10000, body["count"]
        assert len({u["code"] for u in body["units"]}) == 10000
        assert unit_count(w.maker) == 10000


def test_idempotent_retry_replays_and_writes_nothing():
    with registry() as w:
        b = w.unit_body(w.model)
        s1, h1, r1 = w.maker.post("/v1/units", b, idem="reg-0001")
        assert s1 == 201 and "idempotent-replay" not in h1, (s1, h1, r1)
        s2, h2, r2 = w.maker.post("/v1/units", b, idem="reg-0001")
        assert s2 == 201 and r2 == r1, (s2, r2, r1)
        assert h2.get("idempotent-replay") == "true", h2
        assert unit_count(w.maker) == 1
        # The same key with another body is refused, and writes nothing.
        refused(w.maker.post("/v1/units", w.unit_body(w.model, batch="other"),
                             idem="reg-0001"),
                422, "idempotency_key_reused", "Idempotency-Key")
        assert unit_count(w.maker) == 1
        # Keys are scoped to the calling party.
        s3, h3, r3 = w.maker2.post("/v1/units", w.unit_body(w.model2), idem="reg-0001")
        assert s3 == 201 and "idempotent-replay" not in h3, (s3, r3)
        # A refused request does not use up its key.
        bad = w.unit_body(w.model, colour="red")
        refused(w.maker.post("/v1/units", bad, idem="reg-0002"), 422, "unknown_field")
        ok(w.maker.post("/v1/units", w.unit_body(w.model), idem="reg-0002"))
        assert unit_count(w.maker) == 2


def test_idempotent_events_and_bulk():
    with registry() as w:
        code = w.register()
        r1 = w.maker.post(f"/v1/units/{code}/events", release_body(), idem="rel-1")
        r2 = w.maker.post(f"/v1/units/{code}/events", release_body(), idem="rel-1")
        assert r1[0] == 201 and r2[0] == 201 and r1[2] == r2[2], (r1, r2)
        assert r2[1].get("idempotent-replay") == "true", r2[1]
        assert len(w.history(code)) == 2
        units = {"units": [w.unit_body(w.model) for _ in range(3)]}
        b1 = ok(w.maker.post("/v1/units", units, idem="bulk-1"))
        b2 = ok(w.maker.post("/v1/units", units, idem="bulk-1"))
        assert b1 == b2
        assert unit_count(w.maker) == 4


def test_idempotency_keys_expire():
    # Replies are kept --idempotency-ttl seconds, swept every --compact-ms.
    with registry("--idempotency-ttl", "1", "--compact-ms", "100") as w:
        code = w.released()
        body = inspection_body()
        r1 = w.regulator.post(f"/v1/units/{code}/events", body, idem="insp-1")
        r2 = w.regulator.post(f"/v1/units/{code}/events", body, idem="insp-1")
        assert r1[2] == r2[2] and r2[1].get("idempotent-replay") == "true", (r1, r2)
        assert len(w.history(code)) == 3
        deadline = time.monotonic() + 10
        while True:
            time.sleep(0.3)
            r3 = ok(w.regulator.post(f"/v1/units/{code}/events", body, idem="insp-1"))
            if r3 != r1[2]:
                break           # expired: a new event, a new leaf
            assert time.monotonic() < deadline, "the key never expired"
        assert r3["seq"] > r1[2]["seq"], (r1, r3)
        assert len(w.history(code)) == 4
    p = subprocess.run([hridd_path(), "--idempotency-ttl", "0"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--idempotency-ttl '0'" in p.stderr, p.stderr


def test_idempotency_key_syntax():
    with registry() as w:
        for key in ("x" * 129, "tab\there", "caf\u00e9"):
            try:
                r = w.maker.post("/v1/units", w.unit_body(w.model), idem=key)
            except (UnicodeEncodeError, ValueError):
                continue        # the client library refuses to send it
            refused(r, 422, "invalid_field", "Idempotency-Key", what=repr(key))
        ok(w.maker.post("/v1/units", w.unit_body(w.model), idem="x" * 128))
        assert unit_count(w.maker) == 1


def test_views_by_role():
    with registry() as w:
        code = w.in_service()
        w.grant(w.owner, code, w.service)
        views = {
            "public": [w.public, w.certifier, w.seller, w.owner2, w.recycler],
            "other maker": [w.maker2],
            "manufacturer": [w.maker],
            "custodian": [w.owner, w.service],
            "regulator": [w.regulator, w.admin],
        }
        for view, actors in views.items():
            for a in actors:
                body = ok(a.get(f"/v1/units/{code}"), 200, what=a.role)
                check_view(body, "public" if view == "other maker" else view,
                           f"{view} {a.role}")
                assert body["code"] == code and body["state"] == "in_service", body
                assert body["scenario"] == "care" and body["region"] == "440305", body
                assert body["enterprise"]["id"] == w.maker.ent, body
                assert body["model"]["level"] == 3 and body["model"]["id"] == w.model, body
                op = body["operator"]
                if view in ("public", "other maker", "manufacturer"):
                    # The operator's public name, nothing that identifies
                    # the party record.
                    assert isinstance(op, (str, dict)), body
                    if isinstance(op, dict):
                        assert "id" not in op and "party" not in op, (a.role, op)
                        assert w.owner.name not in op.values(), (a.role, op)
                    assert w.owner.name not in str(body), (a.role, body)
                    assert "12000" not in str(body), body
                else:
                    assert w.owner.party in (op.get("id"), op.get("party")), (a.role, op)
                    assert body["site"]["name"] == "Nanshan care home 3", body
        # Custody ends with the sale: the maker is back to its own view.
        body = ok(w.maker.get(f"/v1/units/{code}"), 200)
        assert body["market_filing_no"] == "MA-2026-000123", body
        assert body["event_count"] == len(w.history(code)), body


def test_unit_codes_in_paths():
    with registry() as w:
        code = w.register()
        display = ok(w.public.get(f"/v1/units/{code}"), 200)["display"]
        for form in (code.lower(), display, display.lower(), display.replace("-", " ")):
            body = ok(w.public.get("/v1/units/" + quote(form)), 200, what=form)
            assert body["code"] == code, body
        status, _, body = w.public.get("/v1/units/" + code[:28] + "0")
        if check_char(code[:28]) != "0":
            err = assert_error(body, "invalid_code", 422, status)
            assert err["position"] == 29 and err["reason"] == "check", err
        status, _, body = w.public.get("/v1/units/" + code[:16] + "*" + code[17:])
        err = assert_error(body, "invalid_code", 422, status)
        assert err["position"] == 17 and err["reason"] == "character", err
        # A valid code nobody registered.
        other = w.model + "2605229999999999"
        other += check_char(other)
        refused(w.public.get(f"/v1/units/{other}"), 404, "not_found")


def test_unit_list_by_role_and_filters():
    with registry() as w:
        mine = [w.register() for _ in range(3)]
        theirs = w.register(w.maker2)
        sold = w.sold()
        reg_all = {u["code"] for u in w.regulator.items("/v1/units")}
        assert reg_all == set(mine) | {theirs, sold}, reg_all
        assert {u["code"] for u in w.maker.items("/v1/units")} == set(mine) | {sold}
        assert {u["code"] for u in w.maker2.items("/v1/units")} == {theirs}
        held = w.owner.items("/v1/units")
        assert [u["code"] for u in held] == [sold], held
        check_view(held[0], "custodian", "owner listing")
        assert w.owner2.items("/v1/units") == []
        reg = {u["code"] for u in w.regulator.items("/v1/units?state=registered")}
        assert reg == set(mine) | {theirs}, reg
        assert {u["code"] for u in w.regulator.items(f"/v1/units?model={w.model2}")} \
            == {theirs}
        paged = w.regulator.items("/v1/units", limit=1)
        assert len(paged) == 5 and len({u["code"] for u in paged}) == 5, paged
        refused(w.public.get("/v1/units"), 401, "unauthorized")
        refused(w.regulator.get("/v1/units?limit=1001"), 422, "invalid_field", "limit")


def test_restart_keeps_everything():
    with persistent_db() as db:
        with server(db=db) as s:
            w = World(s)
            code = w.in_service()
            bulk = ok(w.maker.post("/v1/units", {"units": [w.unit_body(w.model)] * 3},
                                   idem="bulk-r"))
            before = {
                "unit": w.unit(code), "events": w.history(code),
                "units": w.regulator.items("/v1/units"),
                "parties": w.admin.items("/v1/parties"),
                "model": ok(w.regulator.get(f"/v1/models/{w.model}"), 200),
            }
        with server(db=db) as s:
            w.rebind(s)
            after = {
                "unit": w.unit(code), "events": w.history(code),
                "units": w.regulator.items("/v1/units"),
                "parties": w.admin.items("/v1/parties"),
                "model": ok(w.regulator.get(f"/v1/models/{w.model}"), 200),
            }
            assert after == before
            # Keys, idempotency records and counters survived too.
            s2, h2, again = w.maker.post("/v1/units",
                                         {"units": [w.unit_body(w.model)] * 3},
                                         idem="bulk-r")
            assert s2 == 201 and again == bulk and h2.get("idempotent-replay") == "true"
            w.event(w.owner, code, {"type": "incident", "severity": "minor",
                                    "kind": "fall", "place": "hall",
                                    "description": "slipped"})
            new = w.register()
            assert new not in {u["code"] for u in before["units"]}


# A registry taken back to the layout before its units' history counts moved
# to their latest events (SQLite schema 17, PostgreSQL's 3): the counts in
# the unit rows, none in the events.
SQLITE_BEFORE_COUNTS = """
DROP INDEX events_unit;
CREATE INDEX events_unit ON events (unit_id, seq);
ALTER TABLE events DROP COLUMN unit_count;
ALTER TABLE events DROP COLUMN unit_last_at;
ALTER TABLE units ADD COLUMN last_event_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE units ADD COLUMN last_event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE units ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
UPDATE meta SET value = 17 WHERE key = 'schema_version';
"""
PG_BEFORE_COUNTS = """
DROP INDEX events_unit;
CREATE INDEX events_unit ON events (unit_id, seq);
ALTER TABLE events DROP COLUMN unit_count, DROP COLUMN unit_last_at;
ALTER TABLE units ADD COLUMN last_event_at BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN last_event_seq BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN event_count BIGINT NOT NULL DEFAULT 0;
UPDATE meta SET value = 3 WHERE key = 'schema_version';
"""


def test_history_counts_carried_over_by_the_upgrade():
    """Each unit's event count, last event and latest time are the same
    after the upgrade as before, read from events whose counts the
    migration wrote; later events count on from them."""
    born = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    with persistent_db() as db:
        with server(db=db) as s:
            w = World(s)
            codes = [w.in_service_since(born), w.in_service_since(born),
                     w.register()]
            w.event(w.regulator, codes[0], inspection_body())
            # late: before the unit's last event, which keeps its time
            late = dict(incident_body(), at=iso(born + datetime.timedelta(seconds=2)))
            w.event(w.owner, codes[1], late)
            before = {c: w.unit(c) for c in codes}
            months = ok(w.maker.get("/v1/stats/registrations"), 200)
        # This takes the registry back one migration, the latest: a later
        # one must be undone here too.
        if pg_base():
            base, name = db.rsplit("/", 1)
            version = pgcluster.psql(base, name, "SELECT value FROM meta WHERE "
                                     "key = 'schema_version'")
            assert int(version) == 4, version
            pgcluster.psql(base, name, PG_BEFORE_COUNTS)
            layout = pgcluster.psql(base, name, "SELECT count(*) FROM "
                                    "information_schema.columns WHERE "
                                    "table_name = 'units' AND "
                                    "column_name = 'event_count'")
        else:
            con = sqlite3.connect(db)
            version = con.execute("SELECT value FROM meta WHERE "
                                  "key = 'schema_version'").fetchone()[0]
            assert version == 18, version
            con.executescript(SQLITE_BEFORE_COUNTS)
            layout = con.execute("SELECT count(*) FROM pragma_table_info"
                                 "('units') WHERE name = 'event_count'"
                                 ).fetchone()[0]
            con.close()
        assert int(layout) == 1, layout
        with server(db=db) as s:
            w.rebind(s)
            for c in codes:
                after = w.unit(c)
                for k in ("event_count", "last_event_seq", "last_event_at",
                          "updated_at", "state"):
                    assert after[k] == before[c][k], (c, k, after[k], before[c][k])
            assert before[codes[1]]["last_event_at"] == iso(
                born + datetime.timedelta(seconds=3)), before[codes[1]]
            assert ok(w.maker.get("/v1/stats/registrations"), 200) == months
            # A release counts in its month, which the statistics now read
            # from the unit's latest event.
            w.event(w.maker, codes[2], release_body())
            e = w.event(w.regulator, codes[2], inspection_body())
            after = w.unit(codes[2])
            assert after["event_count"] == before[codes[2]]["event_count"] + 2
            assert after["last_event_seq"] == e["seq"], (after, e)
            month = e["at"][:7]
            was = {m["month"]: m["released"] for m in months["items"]}
            now = {m["month"]: m["released"]
                   for m in ok(w.maker.get("/v1/stats/registrations"), 200)["items"]}
            assert now[month] == was.get(month, 0) + 1, (was, now)


def test_demo_leaves_an_existing_database_alone():
    with persistent_db() as db:
        with server(db=db) as s:
            w = World(s)
            code = w.register()
            before = w.regulator.items("/v1/units")
        with server("--demo", db=db) as s:
            lines = s.startup_lines
            assert not any(l.startswith("demo: 28000 units") or
                           "regulator key" in l for l in lines), lines
            assert any("has data already" in l for l in lines), lines
            w.rebind(s)
            assert w.regulator.items("/v1/units") == before
            assert w.unit(code)["code"] == code
