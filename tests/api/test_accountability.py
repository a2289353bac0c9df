"""Certifications, recalls and the market-access gate (DESIGN §3, docs/API.md
"Certifications", "Recalls", "Market access"), black-box."""

import datetime
import random
import signal
import time

from fixtures import (World, check_char, deploy_body, iso,
                      maintenance_end_body, now, ok, refused, registry,
                      release_body, scrap_body, server, suspend_body,
                      transfer_body)
from harness import persistent_db


def cert_body(**kw):
    b = {"scheme": "GB/T 45000 service robots", "tier": "B",
         "scenarios": ["care"], "valid_until": iso(now() + datetime.timedelta(days=365))}
    b.update(kw)
    return b


def owned_unit(w, model, **fields):
    """A unit of model, registered, released and sold to w.owner."""
    code = w.register(model=model, **fields)
    w.event(w.maker, code, release_body())
    w.event(w.maker, code, transfer_body(w.owner.party, "sale"))
    return code


# ---- certifications ---------------------------------------------------------

def test_level_4_needs_a_certification_covering_the_scenario():
    with registry() as w:
        l4 = w.file_model(w.maker, level=4, approve=True)
        code = owned_unit(w, l4)
        e = refused(w.owner.post(f"/v1/units/{code}/events", deploy_body("care")),
                    409, "certification_required", "scenario")
        assert "no certification" in e["message"], e
        # A model certification for care and home, by a certifier.
        c = ok(w.certifier.post("/v1/certifications",
                                cert_body(model=l4, scenarios=["care", "home"],
                                          limits={"max_speed_mps": 1.0})))
        assert c["applies_to"] == "model" and c["valid"] is True, c
        e = refused(w.owner.post(f"/v1/units/{code}/events", deploy_body("factory")),
                    409, "certification_required")
        assert "not 'factory'" in e["message"], e
        w.event(w.owner, code, deploy_body("care"))
        view = w.unit(code, w.public)
        assert [x["id"] for x in view["certifications"]] == [c["id"]], view
        assert view["certifications"][0]["limits"] == {"max_speed_mps": 1.0}
        # Revoked: a new deployment is refused again.
        ok(w.regulator.post(f"/v1/certifications/{c['id']}/revoke"), 200)
        refused(w.regulator.post(f"/v1/certifications/{c['id']}/revoke"), 409,
                "already_revoked")
        e = refused(w.owner.post(f"/v1/units/{code}/events", deploy_body("home")),
                    409, "certification_required")
        assert "revoked" in e["message"], e
        assert w.unit(code, w.public)["certifications"] == []


def test_unit_certification_is_an_event_and_expires():
    with registry() as w:
        l5 = w.file_model(w.maker, level=5, approve=True)
        code = owned_unit(w, l5)
        past = now() - datetime.timedelta(days=30)
        c = ok(w.regulator.post("/v1/certifications", cert_body(
            unit=code.lower(), valid_from=iso(past - datetime.timedelta(days=1)),
            valid_until=iso(past))))
        assert c["applies_to"] == "unit" and c["valid"] is False, c
        types = [e["type"] for e in w.history(code)]
        assert types[-1] == "certification", types
        e = refused(w.owner.post(f"/v1/units/{code}/events", deploy_body("care")),
                    409, "certification_required")
        assert "expired" in e["message"], e
        ok(w.certifier.post("/v1/certifications", cert_body(unit=code)))
        w.event(w.owner, code, deploy_body("care"))
        certs = ok(w.public.get(f"/v1/units/{code}/certifications"), 200)["items"]
        assert [x["valid"] for x in certs] == [False, True], certs


def test_certification_refusals():
    with registry() as w:
        l4 = w.file_model(w.maker, level=4, approve=True)
        code = w.register(model=l4)
        refused(w.maker.post("/v1/certifications", cert_body(model=l4)), 403)
        refused(w.public.post("/v1/certifications", cert_body(model=l4)), 401)
        refused(w.certifier.post("/v1/certifications", cert_body()), 422,
                "missing_field", "model")
        refused(w.certifier.post("/v1/certifications",
                                 cert_body(model=l4, unit=code)), 422)
        refused(w.certifier.post("/v1/certifications",
                                 cert_body(model=l4, scenarios=["moon"])),
                422, "invalid_field", "scenarios[0]")
        refused(w.certifier.post("/v1/certifications", cert_body(
            model=l4, valid_from=iso(now()), valid_until=iso(now() - datetime.timedelta(days=1)))),
            422, "invalid_field", "valid_until")
        refused(w.certifier.post("/v1/certifications",
                                 cert_body(model=l4, colour="red")),
                422, "unknown_field", "colour")
        refused(w.certifier.post("/v1/certifications",
                                 cert_body(model="CN0001499ZZZ")), 404)
        refused(w.certifier.post("/v1/certifications",
                                 cert_body(unit=code[:-1] + "X")), 422, "invalid_code")
        # Another certifier may not revoke it.
        c = ok(w.certifier.post("/v1/certifications", cert_body(model=l4)))
        other = w.party("certifier")
        refused(other.post(f"/v1/certifications/{c['id']}/revoke"), 403)
        refused(w.owner.post(f"/v1/units/{code}/events",
                             {"type": "certification"}), 422, "invalid_field", "type")


# ---- recalls --------------------------------------------------------------

def test_recall_targets_notifies_blocks_and_remedies():
    with registry() as w:
        a = owned_unit(w, w.model, batch="L1")
        b = owned_unit(w, w.model, batch="L2")
        c = w.register(batch="L1")                       # not released yet
        d = w.register(maker=w.maker2)                   # another maker's
        body = {"defect": "knee actuator may seize", "hazard": "fall",
                "remedy": "replace the actuator",
                "target": {"batches": {"from": "L1", "to": "L1"}}}
        r = ok(w.maker.post("/v1/recalls", body))
        assert r["units"]["affected"] == 2 and r["status"] == "open", r
        units = ok(w.maker.get(f"/v1/recalls/{r['id']}/units"), 200)["items"]
        assert sorted(u["code"] for u in units) == sorted([a, c]), units
        assert all(u["state"] == "notified" for u in units)
        # The custodian sees the notice in the history; the public view
        # lists the open recall.
        hist = w.history(a, w.owner)
        assert hist[-1]["type"] == "recall_notice" and hist[-1]["body"]["recall"] == r["id"]
        assert [x["id"] for x in w.unit(a, w.public)["open_recalls"]] == [r["id"]]
        assert w.unit(b, w.public)["open_recalls"] == []
        # Deploying it is refused until remedied; the other unit deploys.
        e = refused(w.owner.post(f"/v1/units/{a}/events", deploy_body()), 409,
                    "recall_open")
        assert str(r["id"]) in e["message"], e
        w.event(w.owner, b, deploy_body())
        refused(w.maker.post(f"/v1/units/{b}/events", {
            "type": "recall_remedy", "recall": r["id"], "action": "x"}), 409,
            "not_recalled")
        w.event(w.maker, a, {"type": "recall_remedy", "recall": r["id"],
                             "action": "actuator replaced", "work_order": "WO-7"})
        refused(w.maker.post(f"/v1/units/{a}/events", {
            "type": "recall_remedy", "recall": r["id"], "action": "x"}), 409,
            "already_remedied")
        w.event(w.owner, a, deploy_body())
        got = ok(w.public.get(f"/v1/recalls/{r['id']}"), 200)
        assert got["units"] == {"affected": 2, "remedied": 1, "unremedied": 1,
                                "completion": 0.5, "notices_pending": 0}, got
        rem = ok(w.regulator.get(f"/v1/recalls/{r['id']}/units?state=remedied"), 200)
        assert [u["code"] for u in rem["items"]] == [a], rem
        # Who may see and act.
        refused(w.maker2.get(f"/v1/recalls/{r['id']}/units"), 403)
        refused(w.maker2.post("/v1/recalls", dict(body, enterprise=w.maker.ent)), 403)
        refused(w.owner.post("/v1/recalls", body), 403)
        assert d not in [u["code"] for u in units]


def test_recall_by_component_firmware_date_and_model():
    with registry() as w:
        comp = lambda lot, part="HX-KM-40": [{"slot": "joint.knee.left", "part_no": part,
                                              "supplier": "Harmonic Co", "lot": lot,
                                              "serial": "S" + lot}]
        fleet = []
        for i in range(12):
            code = w.register(components=comp(f"HX26{i % 4:02d}",
                                              "HX-KM-40" if i % 3 else "HX-KM-50"),
                              firmware={"main": f"1.{i % 5}.0"})
            fleet.append((code, f"HX26{i % 4:02d}", "HX-KM-40" if i % 3 else "HX-KM-50",
                           f"1.{i % 5}.0"))
        target = {"component": {"part_no": "HX-KM-40", "lots": {"from": "HX2601",
                                                                  "to": "HX2602"}},
                  "firmware": {"component": "main", "from": "1.1.0", "to": "1.3.0"},
                  "models": [w.model]}
        r = ok(w.regulator.post("/v1/recalls", {
            "enterprise": w.maker.ent, "defect": "d", "remedy": "r", "target": target}))
        assert r["ordered_by_regulator"] is True, r
        want = sorted(c for c, lot, part, fw in fleet
                      if part == "HX-KM-40" and "HX2601" <= lot <= "HX2602"
                      and (1, 1) <= tuple(int(x) for x in fw.split(".")[:2]) <= (1, 3))
        got = sorted(u["code"] for u in ok(w.regulator.get(
            f"/v1/recalls/{r['id']}/units?limit=1000"), 200)["items"])
        assert got == want and want, (got, want)
        # A model the fleet is not of: nothing.
        r2 = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                             "target": {"models": [w.model2]}}))
        assert r2["units"]["affected"] == 0, r2
        # Nor a model that does not exist.
        r3 = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                             "target": {"models": [w.model[:6] + "999999"]}}))
        assert r3["units"]["affected"] == 0, r3
        refused(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                             "target": {}}), 422, "missing_field", "target")
        refused(w.regulator.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                                 "target": {"models": [w.model]}}),
                422, "missing_field", "enterprise")



def test_recall_targets_match_a_brute_force_filter():
    # A generated fleet and random combinations of every criterion: the
    # units each recall reaches are those a plain filter picks.
    rnd = random.Random(20261122)

    def version(v):
        return tuple(int(x) for x in v.split("."))

    def rng(lo, hi):
        r = {}
        if rnd.random() < 0.7:
            r["from"] = lo
        if rnd.random() < 0.7 or not r:
            r["to"] = hi
        return r

    def within(v, r):
        return v is not None and r.get("from", v) <= v <= r.get("to", v)

    with registry() as w:
        models = [w.model, w.file_model(w.maker, approve=True)]
        fleet = []
        for i in range(60):
            comps = [{"slot": f"joint.{j}", "part_no": rnd.choice(["HX-KM-40", "HX-KM-50"]),
                      "supplier": rnd.choice(["Harmonic Co", "Other Co"]),
                      "lot": f"HX26{rnd.randint(0, 9):02d}", "serial": f"S{i}-{j}"}
                     for j in range(rnd.randint(1, 2))]
            b = w.unit_body(rnd.choice(models), components=comps,
                            production_date=f"2026-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
                            firmware={"main": f"1.{rnd.randint(0, 12)}.{rnd.randint(0, 3)}"},
                            batch=f"L{rnd.randint(1, 4)}")
            if rnd.random() < 0.15:
                del b["batch"]
            fleet.append(b)
        codes = [u["code"] for u in ok(w.maker.post("/v1/units", {"units": fleet}))["units"]]
        scrapped = set(rnd.sample(codes, 5))
        for code in scrapped:
            w.event(w.maker, code, release_body())
            w.event(w.maker, code, transfer_body(w.recycler.party, "sale"))
            w.event(w.recycler, code, scrap_body())
        w.register(maker=w.maker2)                       # another maker's

        for trial in range(30):
            target = {}
            while not target:
                if rnd.random() < 0.3:
                    target["models"] = rnd.sample(models, rnd.randint(1, 2))
                if rnd.random() < 0.3:
                    target["batches"] = rng("L2", "L3")
                if rnd.random() < 0.3:
                    target["production_dates"] = rng("2026-03-01", "2026-06-30")
                if rnd.random() < 0.5:
                    c = {"part_no": rnd.choice(["HX-KM-40", "HX-KM-50"])}
                    if rnd.random() < 0.4:
                        c["supplier"] = "Harmonic Co"
                    if rnd.random() < 0.6:
                        c["lots"] = rng("HX2603", "HX2606")
                    target["component"] = c
                if rnd.random() < 0.3:
                    target["firmware"] = dict(rng("1.3", "1.9.1"), component="main")

            def hit(b):
                c, f = target.get("component"), target.get("firmware")
                return (("models" not in target or b["model"] in target["models"])
                        and ("batches" not in target
                             or within(b.get("batch"), target["batches"]))
                        and ("production_dates" not in target
                             or within(b["production_date"], target["production_dates"]))
                        and (c is None or any(
                            k["part_no"] == c["part_no"]
                            and c.get("supplier", k["supplier"]) == k["supplier"]
                            and ("lots" not in c or within(k["lot"], c["lots"]))
                            for k in b["components"]))
                        and (f is None or within(
                            version(b["firmware"]["main"]),
                            {k: version(v) for k, v in f.items() if k != "component"})))
            want = sorted(code for code, b in zip(codes, fleet)
                          if code not in scrapped and hit(b))
            r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                                "target": target}))
            got = sorted(u["code"] for u in w.maker.items(f"/v1/recalls/{r['id']}/units"))
            assert got == want and r["units"]["affected"] == len(want), (target, got, want)
            kept = ok(w.public.get(f"/v1/recalls/{r['id']}"), 200)["units"]
            assert kept["affected"] == len(want) and kept["notices_pending"] == 0, kept


def test_recall_by_open_lot_range_reaches_each_unit_once():
    # Two knees of one part on every unit, in lots a pair apart; a lot
    # range open at one end; a unit whose knees both match is notified once.
    with registry() as w:
        fleet = []
        for i in range(8):
            lots = (f"HX26{i:02d}", f"HX26{i + 2:02d}")
            code = w.register(components=[
                {"slot": f"joint.knee.{side}", "part_no": "HX-KM-40",
                 "supplier": "Harmonic Co", "lot": lot, "serial": f"{side[0]}{i}"}
                for side, lot in zip(("left", "right"), lots)])
            fleet.append((code, lots))
        for lots, hit in (({"from": "HX2606"}, lambda l: l >= "HX2606"),
                          ({"to": "HX2601"}, lambda l: l <= "HX2601")):
            r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r", "target": {
                "component": {"part_no": "HX-KM-40", "lots": lots}}}))
            want = sorted(c for c, ls in fleet if any(hit(l) for l in ls))
            got = [u["code"] for u in w.maker.items(f"/v1/recalls/{r['id']}/units")]
            assert sorted(got) == want and len(got) == r["units"]["affected"], (got, want)
            for code in want:
                notices = [e for e in w.history(code)
                           if e["type"] == "recall_notice" and e["body"]["recall"] == r["id"]]
                assert len(notices) == 1, (code, notices)


def test_recall_by_lot_currently_or_ever_installed():
    """A part replaced in maintenance is recalled on its unit only when the
    recall targets parts ever installed."""
    with registry() as w:
        swapped, kept = w.in_maintenance(), w.in_service()
        w.event(w.owner, swapped, maintenance_end_body(old_serial="KM0001"))
        lot = {"part_no": "HX-KM-40", "supplier": "Harmonic Co",
               "lots": {"from": "HX2605", "to": "HX2605"}}

        def affected(installed):
            r = ok(w.maker.post("/v1/recalls", {
                "defect": "d", "remedy": "r",
                "target": {"component": dict(lot, installed=installed)}}))
            return sorted(u["code"] for u in ok(w.maker.get(
                f"/v1/recalls/{r['id']}/units?limit=1000"), 200)["items"])
        assert affected("current") == [kept]
        assert affected("ever") == sorted([swapped, kept])
        r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r", "target": {
            "component": {"part_no": "HX-KM-40", "supplier": "Other Co"}}}))
        assert r["units"]["affected"] == 0, r

def test_regulator_suspends_a_recall_and_market_access():
    with registry() as w:
        a = w.in_service()
        b = owned_unit(w, w.model)
        s = w.scrapped()
        r = ok(w.maker.post("/v1/recalls", {"defect": "battery may overheat",
                                            "remedy": "replace pack",
                                            "target": {"models": [w.model]}}))
        assert r["units"]["affected"] == 2, r          # the scrapped one is not
        ma = ok(w.public.get(f"/v1/market-access/{a}"), 200)
        assert ma["allowed"] is False and [x["code"] for x in ma["reasons"]] == ["recalled"], ma
        res = ok(w.regulator.post(f"/v1/recalls/{r['id']}/suspend"), 200)
        assert res["suspended"] == 2, res
        assert w.state(a) == "suspended" and w.state(b) == "suspended"
        ma = ok(w.public.get(f"/v1/market-access/{a}"), 200)
        assert sorted(x["code"] for x in ma["reasons"]) == ["recalled", "suspended"], ma
        ma = ok(w.public.get(f"/v1/market-access/{s}"), 200)
        assert [x["code"] for x in ma["reasons"]] == ["scrapped"], ma
        refused(w.maker.post(f"/v1/recalls/{r['id']}/suspend"), 403)
        ok(w.maker.post(f"/v1/recalls/{r['id']}/close"), 200)
        refused(w.maker.post(f"/v1/recalls/{r['id']}/close"), 409, "recall_closed")
        # A closed recall no longer blocks.
        w.event(w.regulator, a, {"type": "resume", "reason": "recall closed"})
        assert ok(w.public.get(f"/v1/market-access/{a}"), 200)["allowed"] is True


def wait_notices(w, rid, timeout=60.0):
    """The recall once it owes no notice: hridd writes those of its units
    past the first 1,000 after it commits."""
    t0 = time.monotonic()
    while True:
        got = ok(w.public.get(f"/v1/recalls/{rid}"), 200)
        if got["units"]["notices_pending"] == 0:
            return got
        assert time.monotonic() - t0 < timeout, got
        time.sleep(0.05)


def notices(w, code):
    """The recalls of a unit's recall_notice events, in history order."""
    return [e["body"]["recall"] for e in w.history(code)
            if e["type"] == "recall_notice"]


def bulk_units(w, n):
    codes = []
    while len(codes) < n:
        bulk = ok(w.maker.post("/v1/units", {"units": [
            w.unit_body(w.model) for _ in range(min(850, n - len(codes)))]}))
        codes += [u["code"] for u in bulk["units"]]
    return codes


def test_recall_and_suspension_of_more_units_than_a_page():
    # Recalls and suspensions walk their units a page (1,000) at a time and
    # every unit of the model is reached, and only it.  The first 1,000
    # get their notice with the recall, the others after it commits.
    with registry() as w:
        codes = bulk_units(w, 2550)
        other = w.register(maker=w.maker2)
        picks = [codes[0], codes[999], codes[1000], codes[-1]]
        for code in picks:
            w.event(w.maker, code, release_body())
        r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                            "target": {"models": [w.model]}}))
        assert r["units"]["affected"] == 2550, r
        assert r["units"]["notices_pending"] == 1550, r
        listed = w.maker.items(f"/v1/recalls/{r['id']}/units")
        assert sorted(u["code"] for u in listed) == sorted(codes), len(listed)
        # Owed or written, a notice blocks deployment and market access.
        ma = ok(w.public.get(f"/v1/market-access/{codes[-1]}"), 200)
        assert "recalled" in [x["code"] for x in ma["reasons"]], ma
        done = wait_notices(w, r["id"])
        assert done["units"]["affected"] == 2550, done
        listed = w.maker.items(f"/v1/recalls/{r['id']}/units")
        assert all(isinstance(u["notice_leaf"], int) for u in listed), listed[-1]
        for code in codes[::97] + picks:
            hist = w.history(code)
            assert hist[-1]["type"] == "recall_notice", code
            assert hist[-1]["at"] == r["created_at"], (code, hist[-1])
            assert notices(w, code) == [r["id"]], code
        assert w.history(other)[-1]["type"] == "register"
        res = ok(w.regulator.post(f"/v1/recalls/{r['id']}/suspend"), 200)
        assert res["suspended"] == len(picks), res
        assert all(w.state(c) == "suspended" for c in picks)
        assert w.state(codes[1]) == "registered"


def test_owed_notices_come_before_later_events():
    # Whether a unit's notice was written before the next event on it or is
    # written by that event, the history reads the same: the notice first,
    # dated when the recall opened, then the event; and a second recall's
    # notice after the first's.
    with registry() as w:
        codes = bulk_units(w, 1700)
        last = codes[-1]
        w.event(w.maker, last, release_body())
        r1 = ok(w.maker.post("/v1/recalls", {"defect": "d1", "remedy": "r",
                                             "target": {"models": [w.model]}}))
        assert r1["units"]["notices_pending"] == 700, r1
        w.event(w.regulator, last, {"type": "inspection", "result": "pass"})
        r2 = ok(w.maker.post("/v1/recalls", {"defect": "d2", "remedy": "r",
                                             "target": {"models": [w.model]}}))
        w.event(w.maker, codes[0], {"type": "recall_remedy", "recall": r2["id"],
                                    "action": "fixed"})
        wait_notices(w, r1["id"])
        wait_notices(w, r2["id"])
        hist = [(e["type"], e["body"].get("recall"), e["at"])
                for e in w.history(last)]
        assert [h[:2] for h in hist] == [
            ("register", None), ("release", None),
            ("recall_notice", r1["id"]), ("inspection", None),
            ("recall_notice", r2["id"])], hist
        assert hist[2][2] == r1["created_at"], hist
        first = [(e["type"], e["body"].get("recall")) for e in w.history(codes[0])]
        assert first == [("register", None), ("recall_notice", r1["id"]),
                         ("recall_notice", r2["id"]),
                         ("recall_remedy", r2["id"])], first
        for code in codes[::61]:
            assert notices(w, code) == [r1["id"], r2["id"]], code
        leaves = [e["leaf"] for e in w.history(last)]
        assert leaves == sorted(leaves), leaves


def test_owed_notices_are_written_after_a_restart():
    # hridd killed right after the recall committed: what was acknowledged
    # stays, and the notices still owed are written once it starts again.
    with persistent_db() as db:
        with server(db=db) as s:
            w = World(s)
            codes = bulk_units(w, 3000)
            r = ok(w.maker.post("/v1/recalls", {
                "defect": "d", "remedy": "r", "target": {"models": [w.model]}}))
            assert r["units"]["notices_pending"] == 2000, r
            s.signal(signal.SIGKILL)
            s.wait()
            s.stop(check=False)
        with server(db=db) as s:
            w.rebind(s)
            done = wait_notices(w, r["id"])
            assert done["units"]["affected"] == 3000, done
            for code in codes[::113] + [codes[-1]]:
                assert notices(w, code) == [r["id"]], code


def test_market_access_reasons():
    with registry() as w:
        code = w.register()
        ma = ok(w.public.get(f"/v1/market-access/{code}"), 200)
        assert ma["allowed"] is False and [x["code"] for x in ma["reasons"]] == ["not_released"]
        w.event(w.maker, code, release_body())
        ma = ok(w.public.get(f"/v1/market-access/{code.lower()}"), 200)
        assert ma == dict(ma, allowed=True, reasons=[], code=code, state="released"), ma
        bad = ok(w.public.get(f"/v1/market-access/{code[:-1]}X"), 200)
        assert bad["allowed"] is False and bad["reasons"][0]["code"] == "invalid_code"
        assert "check character" in bad["reasons"][0]["message"], bad
        unknown = code[:12] + "Z" * 16
        unknown += check_char(unknown)
        ma = ok(w.public.get(f"/v1/market-access/{unknown}"), 200)
        assert [x["code"] for x in ma["reasons"]] == ["not_registered"], ma
        # A model filed but not approved, and a level-4 unit without a
        # certification.
        filed = w.file_model(w.maker, level=4)
        c2 = w.register(model=filed)
        ma = ok(w.public.get(f"/v1/market-access/{c2}"), 200)
        assert sorted(x["code"] for x in ma["reasons"]) == \
            ["model_not_approved", "not_certified", "not_released"], ma
