"""Incident reports (DESIGN §3, docs/API.md "Incidents"), black-box: the
unit as it stood at the incident's time is kept with each report; public
reports are unverified, out of the history, and rate-limited."""

import datetime

from fixtures import (check_char, deploy_body, firmware_body, iso, now, ok,
                      refused, registry)


def report(**kw):
    b = {"severity": "serious", "kind": "collision", "place": "ward 3",
         "description": "arm struck a visitor"}
    b.update(kw)
    return b


def test_incident_keeps_the_unit_as_it_stood():
    with registry() as w:
        code = w.in_service()
        t0 = now()
        w.event(w.maker, code, dict(firmware_body("1.4.2", "1.5.0"),
                                    at=iso(t0 + datetime.timedelta(seconds=5))))
        # Reported late: it happened before the firmware update.
        r = ok(w.owner.post(f"/v1/units/{code}/incidents",
                            report(at=iso(t0 + datetime.timedelta(seconds=2)))))
        assert r["type"] == "incident" and r["leaf"] == r["seq"] - 1, r
        hist = w.history(code)
        assert hist[-1]["type"] == "incident", hist
        items = ok(w.regulator.get(f"/v1/incidents?unit={code}"), 200)["items"]
        assert len(items) == 1, items
        i = items[0]
        assert i["verified"] is True and i["reporter"] == w.owner.party, i
        assert i["leaf"] == r["leaf"] and i["severity"] == "serious", i
        snap = i["unit_as_of"]
        assert snap["firmware"] == {"main": "1.4.2"}, snap
        assert snap["state"] == "in_service" and snap["operator"] == w.owner.party, snap
        assert snap["scenario"] == "care", snap
        # By the same event endpoint, the regulator's.
        w.event(w.regulator, code, {"type": "incident", "severity": "minor",
                                    "kind": "fall", "description": "slipped",
                                    "at": iso(t0 + datetime.timedelta(seconds=6))})
        items = ok(w.regulator.get(f"/v1/incidents?unit={code}"), 200)["items"]
        assert [x["severity"] for x in items] == ["serious", "minor"], items
        assert items[1]["unit_as_of"]["firmware"] == {"main": "1.5.0"}, items[1]


def test_public_reports_are_unverified_and_limited():
    with registry() as w:
        code = w.in_service()
        before = len(w.history(code))
        r = ok(w.public.post(f"/v1/units/{code}/incidents",
                             report(contact="visitor@example.cn")))
        assert r["verified"] is False and r["code"] == code, r
        assert len(w.history(code)) == before            # not an event
        items = ok(w.regulator.get(f"/v1/incidents?verified=false"), 200)["items"]
        assert len(items) == 1 and items[0]["contact"] == "visitor@example.cn", items
        assert items[0]["leaf"] is None and items[0]["reporter"] is None, items
        refused(w.public.post(f"/v1/units/{code}/incidents", report(kind="alien")),
                422, "invalid_field", "kind")
        refused(w.public.post(f"/v1/units/{code}/incidents",
                              report(extra="x")), 422, "unknown_field", "extra")
        unknown = code[:12] + "Z" * 16
        refused(w.public.post(f"/v1/units/{unknown + check_char(unknown)}/incidents",
                              report()), 404)
        # Every attempt from the address counts, refused ones too: 4 so
        # far, 6 more, then no more this hour.
        for _ in range(6):
            ok(w.public.post(f"/v1/units/{code}/incidents", report()))
        refused(w.public.post(f"/v1/units/{code}/incidents", report()), 429,
                "too_many_reports")
        assert len(ok(w.regulator.get("/v1/incidents?verified=false&limit=100"),
                      200)["items"]) == 7
        # Keyed callers are not limited this way.
        ok(w.owner.post(f"/v1/units/{code}/incidents", report()))


def test_incident_lists_by_role():
    with registry() as w:
        a = w.in_service()
        b = w.register(maker=w.maker2)
        ok(w.owner.post(f"/v1/units/{a}/incidents", report()))
        ok(w.public.post(f"/v1/units/{b}/incidents", report()))
        mine = ok(w.maker.get("/v1/incidents"), 200)["items"]
        assert [x["code"] for x in mine] == [a], mine
        assert "unit_as_of" not in mine[0] and "contact" not in mine[0], mine
        refused(w.maker.get(f"/v1/incidents?unit={b}"), 403)
        refused(w.maker.get(f"/v1/incidents?enterprise={w.maker2.ent}"), 403)
        by_model = ok(w.regulator.get(f"/v1/incidents?model={w.model2}"), 200)["items"]
        assert [x["code"] for x in by_model] == [b], by_model
        by_ent = ok(w.regulator.get(f"/v1/incidents?enterprise={w.maker.ent}"), 200)["items"]
        assert [x["code"] for x in by_ent] == [a], by_ent
        refused(w.owner.get("/v1/incidents"), 403)
        refused(w.public.get("/v1/incidents"), 401)
        # A party without custody may not record one on the unit.
        refused(w.owner2.post(f"/v1/units/{a}/incidents", report()), 403)
