"""Electronic fences (docs/API.md "Fences"), black-box: a located report
outside a unit's allowed zones opens a violation with its first and last
offending reports, the first report back inside closes it, and the views
and as-of records show it."""

import datetime

from fixtures import (deploy_body, iso, now, ok, refused, registry,
                      release_body, transfer_body)


def square(lat0, lon0, lat1, lon1, hole=None):
    rings = [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]
    if hole:
        a, b, c, d = hole
        rings.append([[b, a], [d, a], [d, c], [b, c], [b, a]])
    return {"type": "Polygon", "coordinates": rings}


def at(code, t, lat, lon):
    return {"unit": code, "t": iso(t), "location": {"lat": lat, "lon": lon}}


def test_fence_violation_opens_and_closes():
    with registry() as w:
        code = w.in_service_since(now() - datetime.timedelta(hours=1))
        z = ok(w.regulator.post("/v1/zones", {
            "name": "Nanshan care home grounds",
            "polygon": square(22.50, 113.90, 22.60, 114.00,
                              hole=(22.54, 113.94, 22.56, 113.96))}))
        refused(w.regulator.post("/v1/zones", {"name": "x", "polygon": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]}}),
            422, "invalid_field", "polygon")
        refused(w.maker.post("/v1/zones", {"name": "x", "polygon": square(0, 0, 1, 1)}), 403)
        refused(w.owner2.post(f"/v1/units/{code}/fence", {"zone_ids": [z["id"]]}), 403)
        refused(w.owner.post(f"/v1/units/{code}/fence", {"zone_ids": [999]}), 422,
                "invalid_field", "zone_ids[0]")
        refused(w.owner.post(f"/v1/units/{code}/fence", {"zone_ids": [z["id"]],
                                                         "scenarios": ["moon"]}), 422)
        f = ok(w.owner.post(f"/v1/units/{code}/fence", {
            "zone_ids": [z["id"]], "scenarios": ["care"], "speed_limit_mps": 1.0}), 200)
        assert f["zone_ids"] == [z["id"]] and f["speed_limit_mps"] == 1.0, f
        t0 = now() - datetime.timedelta(minutes=2)
        t = [t0 + datetime.timedelta(seconds=10 * i) for i in range(6)]
        ok(w.owner.post("/v1/telemetry", [at(code, t[0], 22.51, 113.91)]), 200)
        assert ok(w.regulator.get("/v1/fence-violations?state=open"), 200)["items"] == []
        # Out of the zone (and then in its hole): one open violation.
        ok(w.owner.post("/v1/telemetry", [at(code, t[1], 22.70, 113.91),
                                          at(code, t[2], 22.55, 113.95)]), 200)
        v = ok(w.regulator.get("/v1/fence-violations?state=open"), 200)["items"]
        assert len(v) == 1 and v[0]["first_report"] == iso(t[1]) and \
            v[0]["last_report"] == iso(t[2]) and v[0]["kind"] == "fence", v
        assert [x["id"] for x in w.unit(code, w.owner)["fence_violations"]] == [v[0]["id"]]
        assert "fence_violations" not in w.unit(code, w.public)
        asof = ok(w.regulator.get(f"/v1/units/{code}/as-of?t={iso(t[2])}"), 200)
        assert len(asof["fence_violations"]) == 1, asof
        # Back inside: closed.
        ok(w.owner.post("/v1/telemetry", [at(code, t[3], 22.52, 113.92)]), 200)
        assert ok(w.regulator.get("/v1/fence-violations?state=open"), 200)["items"] == []
        closed = ok(w.regulator.get("/v1/fence-violations?state=closed"), 200)["items"]
        assert closed[0]["closed_at"] == iso(t[3]), closed
        asof = ok(w.regulator.get(f"/v1/units/{code}/as-of?t={iso(t[4])}"), 200)
        assert asof["fence_violations"] == [], asof
        refused(w.owner.get("/v1/fence-violations"), 403)
        # A unit without a fence never violates.
        other = w.in_service_since(now() - datetime.timedelta(hours=1))
        ok(w.owner.post("/v1/telemetry", [at(other, t[5], -33.9, 151.2)]), 200)
        assert ok(w.regulator.get("/v1/fence-violations?state=open"), 200)["items"] == []


def test_fence_scenarios_bound_deployments():
    with registry() as w:
        born = now() - datetime.timedelta(hours=1)
        code = w.register(at=iso(born))
        w.event(w.maker, code, dict(release_body(), at=iso(born + datetime.timedelta(seconds=1))))
        w.event(w.maker, code, dict(transfer_body(w.owner.party, "sale"),
                                    at=iso(born + datetime.timedelta(seconds=2))))
        z = ok(w.owner.post("/v1/zones", {"name": "Warehouse 7",
                                          "polygon": square(0, 0, 1, 1)}))
        ok(w.owner.post(f"/v1/units/{code}/fence",
                        {"zone_ids": [z["id"]], "scenarios": ["care", "home"]}), 200)
        before = w.unit(code, w.owner)
        refused(w.owner.post(f"/v1/units/{code}/events", deploy_body("factory")),
                409, "scenario_not_permitted", "scenario")
        assert w.unit(code, w.owner)["state"] == before["state"]
        ok(w.owner.post(f"/v1/units/{code}/events", deploy_body("home")))
        assert w.unit(code, w.owner)["state"] == "in_service"
