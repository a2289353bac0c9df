"""As-of state (DESIGN §3, docs/API.md "As of"), black-box: the unit as it
stood at any time equals the unit as the registry showed it right after
the events up to that time, on randomised histories long enough to cross
the stored snapshots (every 32 events)."""

import datetime
import random

from fixtures import (deploy_body, ev, firmware_body, iso, maintenance_end_body,
                      maintenance_start_body, now, ok, refused, registry,
                      release_body, resume_body, suspend_body, transfer_body)


def summary(view):
    """What the current view and an as-of record must agree on."""
    def pid(x):
        return x["id"] if isinstance(x, dict) else x
    comps = sorted((c["slot"], c.get("part_no"), c.get("serial"))
                   for c in view.get("components", []))
    return {"state": view["state"], "custodian": pid(view.get("custodian")),
            "owner": pid(view.get("owner")), "operator": pid(view.get("operator")),
            "site": view.get("site"), "scenario": view.get("scenario"),
            "region": view.get("region"), "jurisdiction": view.get("jurisdiction"),
            "firmware": view.get("firmware"), "components": comps}


def walk(w, code, rnd, n, t0):
    """n random accepted events on code, dated one second apart from t0;
    returns [(at, summary after)]."""
    seen = []
    holder = w.owner
    fw = "1.4.2"
    serial = "KM0001"
    t = t0
    state = w.state(code)
    for i in range(n):
        t += datetime.timedelta(seconds=1)
        at = iso(t)
        choices = []
        if state in ("released", "in_service"):
            choices.append(("deploy", holder, deploy_body(rnd.choice(["care", "retail"]),
                                                          region=rnd.choice(["440305", "110101"]))))
        if state == "in_service":
            choices.append(("mstart", holder, maintenance_start_body()))
        if state == "maintenance":
            new = "KM%04d" % rnd.randrange(10000)
            choices.append(("mend", holder, maintenance_end_body(old_serial=serial,
                                                                 new_serial=new)))
        if state in ("released", "in_service", "maintenance"):
            nxt = "1.%d.%d" % (rnd.randrange(10), i)
            choices.append(("fw", w.maker, firmware_body(fw, nxt)))
            choices.append(("suspend", w.regulator, suspend_body()))
            choices.append(("inspect", w.regulator, ev("inspection", result="pass")))
            other = w.owner2 if holder is w.owner else w.owner
            choices.append(("transfer", holder,
                            transfer_body(other.party, rnd.choice(["sale", "lease"]))))
        if state == "suspended":
            choices.append(("resume", w.regulator, resume_body()))
        kind, actor, body = rnd.choice(choices)
        body = dict(body, at=at)
        w.event(actor, code, body)
        if kind == "mend":
            serial = body["parts_replaced"][0]["serial"]
        elif kind == "fw":
            fw = body["to_version"]
        elif kind == "transfer":
            holder = w.owner2 if holder is w.owner else w.owner
        view = w.unit(code)
        state = view["state"]
        seen.append((at, summary(view)))
    return seen


def asof(w, code, at, actor=None):
    return ok((actor or w.regulator).get(f"/v1/units/{code}/as-of?t={at}"), 200,
              what=f"as-of {at}")


def test_asof_equals_replay_on_random_histories():
    rnd = random.Random(20261122)
    with registry() as w:
        for n in (5, 40, 150):
            code = w.register()
            w.event(w.maker, code, release_body())
            w.event(w.maker, code, transfer_body(w.owner.party, "sale"))
            t0 = now()
            seen = walk(w, code, rnd, n, t0)
            for k, (at, want) in enumerate(seen):
                got = asof(w, code, at)
                assert summary(got) == want, \
                    f"unit {code} after event {k} at {at}: as-of {summary(got)} != {want}"
                # Replays from a snapshot: never the whole history.
                assert got["replayed_events"] <= 32 + 2, got["replayed_events"]
            # Now equals the current view; a time before registration is refused.
            assert summary(asof(w, code, iso(now() + datetime.timedelta(minutes=6)))) == \
                summary(w.unit(code))
            refused(w.regulator.get(f"/v1/units/{code}/as-of?t=2020-01-01T00:00:00Z"),
                    409, "before_registration", "t")


def test_asof_between_events_and_records():
    with registry() as w:
        code = w.register()
        reg_at = w.unit(code)["registered_at"]
        t = now()
        w.event(w.maker, code, dict(release_body(), at=iso(t + datetime.timedelta(seconds=10))))
        w.event(w.maker, code, dict(transfer_body(w.owner.party, "sale"),
                                    at=iso(t + datetime.timedelta(seconds=20))))
        w.event(w.regulator, code, dict(ev("inspection", result="pass", next_due="2027-01-01"),
                                        at=iso(t + datetime.timedelta(seconds=30))))
        a = asof(w, code, iso(t + datetime.timedelta(seconds=15)))
        assert a["state"] == "released" and a["custodian"] == w.maker.party, a
        assert a["last_event"]["type"] == "release" and a["last_inspection"] is None, a
        b = asof(w, code, iso(t + datetime.timedelta(seconds=31)))
        assert b["custodian"] == w.owner.party and b["owner"] == w.owner.party, b
        assert b["last_inspection"]["result"] == "pass", b
        assert b["last_event"]["leaf"] == b["last_event"]["seq"] - 1, b
        assert asof(w, code, reg_at)["state"] == "registered"
        # Recalls and certifications as of a time.
        r = ok(w.maker.post("/v1/recalls", {"defect": "d", "remedy": "r",
                                            "target": {"models": [w.model]}}))
        later = iso(now() + datetime.timedelta(seconds=40))
        assert [x["id"] for x in asof(w, code, later)["open_recalls"]] == [r["id"]]
        # Before the recall was opened, none was open.
        assert asof(w, code, reg_at)["open_recalls"] == []
        # Who may ask: maker, custodian, regulator; not another owner or
        # the public; bad times are refused.
        asof(w, code, iso(now()), actor=w.owner)
        asof(w, code, iso(now()), actor=w.maker)
        refused(w.owner2.get(f"/v1/units/{code}/as-of"), 403)
        refused(w.public.get(f"/v1/units/{code}/as-of"), 401)
        refused(w.regulator.get(f"/v1/units/{code}/as-of?t=yesterday"), 422,
                "invalid_field", "t")
