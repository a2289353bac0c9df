"""Market statistics (docs/API.md "Statistics"), black-box: the figures
equal counts computed here from the units the regulator lists, and makers
see only their own figures plus the market's anonymous totals."""

import collections

from fixtures import (deploy_body, iso, now, ok, refused, registry, release_body,
                      transfer_body)


def fleet(w):
    """A mixed fleet of two makers in several states and regions."""
    l4 = w.file_model(w.maker, level=4, approve=True)
    codes = [w.register() for _ in range(3)]
    codes += [w.register(model=l4) for _ in range(2)]
    codes += [w.released() for _ in range(2)]
    codes += [w.in_service() for _ in range(2)]
    c = w.sold()
    w.event(w.owner, c, deploy_body(region="110101"))
    codes.append(c)
    codes.append(w.scrapped())
    codes += [w.register(maker=w.maker2) for _ in range(2)]
    c = w.register(maker=w.maker2)
    w.event(w.maker2, c, release_body())
    codes.append(c)
    return codes


def expected(units, dims):
    def val(u, d):
        return {"enterprise": u["enterprise"]["id"], "model": u["model"]["id"],
                "state": u["state"], "region": u["region"] or "none",
                "level": str(u["model"]["level"])}[d]
    return collections.Counter(tuple(val(u, d) for d in dims) for u in units)


def got(body, dims):
    return collections.Counter({tuple(i[d] for d in dims): i["units"]
                                for i in body["items"]})


def test_unit_statistics_equal_independent_counts():
    with registry() as w:
        fleet(w)
        units = w.regulator.items("/v1/units")
        for by in (["enterprise"], ["model"], ["state"], ["region"], ["level"],
                   ["model", "state"], ["enterprise", "region"], ["level", "state"]):
            body = ok(w.regulator.get("/v1/stats/units?by=" + ",".join(by)), 200)
            assert body["by"] == by, body
            assert got(body, by) == expected(units, by), (by, body)
            assert body["total"] == len(units)
        for bad in ("", "colour", "state,state", "state,model,region"):
            refused(w.regulator.get("/v1/stats/units?by=" + bad), 422, None, "by")


def test_makers_see_their_own_and_anonymous_totals():
    with registry() as w:
        fleet(w)
        units = w.regulator.items("/v1/units")
        mine = [u for u in units if u["enterprise"]["id"] == w.maker.ent]
        body = ok(w.maker.get("/v1/stats/units?by=enterprise,model"), 200)
        assert got(body, ["enterprise", "model"]) == expected(mine, ["enterprise", "model"])
        assert body["total"] == len(mine) and body["market"]["units"] == len(units), body
        months = ok(w.maker.get("/v1/stats/registrations"), 200)
        assert sum(m["registered"] for m in months["items"]) == len(mine), months
        assert sum(m["registered"] for m in months["market"]) == len(units), months
        refused(w.owner.get("/v1/stats/units?by=state"), 403)
        refused(w.public.get("/v1/stats/units?by=state"), 401)


def test_registrations_incidents_and_recalls():
    with registry() as w:
        fleet(w)
        units = w.regulator.items("/v1/units")
        released = sum(1 for u in units if u["state"] != "registered")
        months = ok(w.regulator.get("/v1/stats/registrations"), 200)["items"]
        assert sum(m["registered"] for m in months) == len(units), months
        assert sum(m["released"] for m in months) == released, (months, released)
        # Two incidents on the maker's model (one public), none elsewhere.
        c = w.in_service()
        w.event(w.owner, c, {"type": "incident", "severity": "minor",
                             "kind": "fall", "description": "slipped"})
        ok(w.public.post(f"/v1/units/{c}/incidents", {
            "severity": "minor", "kind": "other", "description": "noise"}))
        per_model = {m["model"]: m for m in ok(w.regulator.get(
            "/v1/stats/incidents"), 200)["items"]}
        n_model = sum(1 for u in w.regulator.items("/v1/units")
                      if u["model"]["id"] == w.model)
        m = per_model[w.model]
        assert m["incidents"] == 2 and m["verified"] == 1 and m["units"] == n_model, m
        assert abs(m["per_1000_units"] - 2000.0 / n_model) < 1e-9, m
        assert per_model[w.model2]["incidents"] == 0
        # Open alerts per model: two units of the maker's model beyond a
        # wear rule, one of them on two joints.
        ok(w.maker.post("/v1/alert-rules", {"model": w.model, "metric": "joint.*.wear",
                                            "op": ">", "threshold": 0.5}))
        c2 = w.in_service()
        t = iso(now())
        ok(w.owner.post("/v1/telemetry", [
            {"unit": c, "t": t, "joints": [{"id": 1, "wear": 0.6}, {"id": 2, "wear": 0.7}]},
            {"unit": c2, "t": t, "joints": [{"id": 1, "wear": 0.9}]}]), 200)
        per_model = {m["model"]: m for m in ok(w.regulator.get(
            "/v1/stats/incidents"), 200)["items"]}
        assert (per_model[w.model]["open_alerts"], per_model[w.model]["units_alerted"]) \
            == (3, 2), per_model[w.model]
        assert per_model[w.model2]["open_alerts"] == 0
        mine = {m["model"] for m in ok(w.maker2.get("/v1/stats/incidents"), 200)["items"]}
        assert w.model not in mine, mine
        r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                            "target": {"models": [w.model]}}))
        rec = ok(w.regulator.get("/v1/stats/recalls"), 200)["items"]
        assert rec == [{"recall": r["id"], "status": "open",
                        "affected": r["units"]["affected"], "remedied": 0,
                        "completion": 0.0}], rec
        assert ok(w.maker2.get("/v1/stats/recalls"), 200)["items"] == []
