"""Health telemetry (docs/telemetry.md, docs/API.md "Telemetry"),
black-box: what goes in comes out, raw and rolled up; bad reports are
refused with their index and field and the batch stores nothing; reports
of units not on the market or not one's own are refused; duplicates are
stored once; compaction and retention keep the answers."""

import datetime
import json
import time

from fixtures import (World, iso, maintenance_start_body, now, ok, refused,
                      registry, server)
from harness import persistent_db


# Units the reports below tell of were registered this long ago.
MONTH_AGO = now() - datetime.timedelta(days=30)


def report(code, t, i=0, **extra):
    r = {"unit": code, "t": iso(t), "firmware": "3.1.4",
         "joints": [{"id": 0, "wear": round(0.1 + i * 0.0001, 4), "temp": 40.5},
                    {"id": 1, "wear": 0.2, "temp": round(38.0 + (i % 7) * 0.1, 1)}],
         "battery": {"soh": round(0.98 - i * 0.0001, 4), "cycles": 100 + i // 60,
                     "temp": 31.2},
         "precision_mm": 0.25, "hours": round(1000 + i / 60, 2)}
    r.update(extra)
    return r


def series(actor, code, metric, t0, t1, step=None):
    q = f"/v1/units/{code}/telemetry?metric={metric}&from={iso(t0)}&to={iso(t1)}"
    if step:
        q += f"&step={step}"
    return ok(actor.get(q), 200, what=q)["points"]


def test_ingest_query_round_trip_and_duplicates():
    with registry() as w:
        code = w.in_service_since(MONTH_AGO)
        t0 = now() - datetime.timedelta(hours=1)
        reps = [report(code, t0 + datetime.timedelta(minutes=i), i) for i in range(50)]
        r = ok(w.owner.post("/v1/telemetry", reps), 200)
        assert r == {"accepted": 50, "duplicates": 0}, r
        r = ok(w.owner.post("/v1/telemetry", {"reports": reps[:10]}), 200)
        assert r == {"accepted": 0, "duplicates": 10}, r
        pts = series(w.owner, code, "joint.0.wear", t0, now())
        assert [p["v"] for p in pts] == [x["joints"][0]["wear"] for x in reps], pts[:3]
        assert [p["t"] for p in pts] == [x["t"] for x in reps]
        soh = series(w.regulator, code, "battery.soh", t0, now())
        assert [p["v"] for p in soh] == [x["battery"]["soh"] for x in reps]
        # The maker sees health data; another owner and the public do not.
        series(w.maker, code, "hours", t0, now())
        refused(w.owner2.get(f"/v1/units/{code}/telemetry?metric=hours"), 403)
        refused(w.public.get(f"/v1/units/{code}/telemetry?metric=hours"), 401)
        refused(w.owner.get(f"/v1/units/{code}/telemetry?metric=joint.64.wear"),
                422, "invalid_field", "metric")
        # JSON Lines.
        more = [report(code, t0 + datetime.timedelta(minutes=50 + i), 50 + i)
                for i in range(3)]
        body = "\n".join(json.dumps(x) for x in more) + "\n"
        r = ok(w.owner.post("/v1/telemetry", body,
                            headers={"Content-Type": "application/x-ndjson"}), 200)
        assert r["accepted"] == 3, r


def test_bad_reports_store_nothing():
    with registry() as w:
        code = w.in_service_since(MONTH_AGO)
        t0 = now() - datetime.timedelta(hours=2)
        good = [report(code, t0 + datetime.timedelta(minutes=i), i) for i in range(3)]

        def bad(i, fix, status, field=None, err="invalid_field"):
            reps = json.loads(json.dumps(good))
            fix(reps[i])
            e = refused(w.owner.post("/v1/telemetry", reps), status, err, field)
            return e

        bad(1, lambda r: r["joints"][0].update(x=2), 422, "reports[1].joints[0].x",
            "unknown_field")
        bad(2, lambda r: r.update(camera="frame.jpg"), 422, "reports[2].camera",
            "unknown_field")
        bad(0, lambda r: r["joints"][0].update(wear=1.5), 422, "reports[0].joints[0].wear")
        e = bad(1, lambda r: r["joints"][0].update(wear=0.12345), 422, "reports[1]")
        assert "digits" in e["message"] or "precision" in e["message"], e
        bad(2, lambda r: r["battery"].update(soh="high"), 422, "reports[2].battery.soh")
        bad(0, lambda r: r.update(t="yesterday"), 422, "reports[0].t")
        bad(1, lambda r: r.update(t=iso(MONTH_AGO - datetime.timedelta(days=1))), 422,
            "reports[1].t")
        bad(2, lambda r: r.update(t=iso(now() + datetime.timedelta(hours=1))), 422,
            "reports[2].t")
        bad(1, lambda r: r.update(unit=code[:-1] + "X"), 422, "reports[1].unit",
            "invalid_code")
        other = w.in_service(owner=w.owner2)
        e = refused(w.owner.post("/v1/telemetry", good + [report(other, t0, 0)]),
                    403, "not_custodian", "reports[3].unit")
        fresh = w.register()
        refused(w.maker.post("/v1/telemetry", [report(fresh, t0, 0)]), 409,
                "unit_not_live", "reports[0].unit")
        refused(w.owner.post("/v1/telemetry", [good[0]] * 10001), 413, "too_large")
        refused(w.owner.post("/v1/telemetry", []), 422)
        assert series(w.owner, code, "hours", t0, now()) == []
        ok(w.owner.post("/v1/telemetry", good), 200)
        assert len(series(w.owner, code, "hours", t0, now())) == 3


def test_compaction_rollups_and_retention():
    with persistent_db() as db:
        with server("--compact-ms", "100", "--raw-retention-days", "2", db=db) as s:
            w = World(s)
            code = w.in_service_since(MONTH_AGO)
            # Three days ago (past retention) and ten hours ago, a report
            # a minute for three hours each.
            old = (now() - datetime.timedelta(days=3)).replace(minute=0, second=0,
                                                               microsecond=0)
            recent = (now() - datetime.timedelta(hours=10)).replace(minute=0, second=0,
                                                                    microsecond=0)
            reps = [report(code, base + datetime.timedelta(minutes=i), i)
                    for base in (old, recent) for i in range(180)]
            ok(w.owner.post("/v1/telemetry", reps), 200)
            want = {iso(base + datetime.timedelta(hours=h)):
                    sum(round(0.1 + i * 0.0001, 4) for i in range(h * 60, h * 60 + 60)) / 60
                    for base in (old, recent) for h in range(3)}
            deadline = time.monotonic() + 15
            while True:
                raw_old = series(w.owner, code, "joint.0.wear", old,
                                 old + datetime.timedelta(hours=3))
                if raw_old == [] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # Raw samples past retention are gone; the recent ones survive
            # compaction exactly; hourly averages answer for both.
            assert raw_old == [], len(raw_old)
            raw = series(w.owner, code, "joint.0.wear", recent,
                         recent + datetime.timedelta(hours=3))
            assert [p["v"] for p in raw] == [round(0.1 + i * 0.0001, 4) for i in range(180)]
            hourly = series(w.owner, code, "joint.0.wear", old - datetime.timedelta(hours=1),
                            now(), step="1h")
            got = {p["t"]: p["avg"] for p in hourly}
            assert set(got) == set(want), (sorted(got), sorted(want))
            for t, v in want.items():
                assert abs(got[t] - v) < 1e-9, (t, got[t], v)
        # Restart keeps it all.
        with server(db=db) as s2:
            w.rebind(s2)
            hourly2 = series(w.owner, code, "joint.0.wear",
                             old - datetime.timedelta(hours=1), now(), step="1h")
            assert hourly2 == hourly


def test_health_trends():
    with registry() as w:
        code = w.in_service_since(MONTH_AGO)
        t0 = now() - datetime.timedelta(days=5)
        # Wear of joint 0 grows 0.01 a day from 0.3: reaches 0.8 in 50 days.
        reps = []
        for h in range(0, 5 * 24, 2):
            t = t0 + datetime.timedelta(hours=h)
            reps.append({"unit": code, "t": iso(t),
                         "joints": [{"id": 0, "wear": round(0.3 + 0.01 * h / 24, 4)}],
                         "battery": {"soh": round(0.95 - 0.001 * h / 24, 4)}})
        ok(w.owner.post("/v1/telemetry", reps), 200)
        h = ok(w.owner.get(f"/v1/units/{code}/health"), 200)
        j = h["joints"][0]
        assert j["joint"] == 0 and abs(j["rate_per_day"] - 0.01) < 2e-4, j
        last = datetime.datetime.fromisoformat(reps[-1]["t"].replace("Z", "+00:00"))
        want = last + datetime.timedelta(days=(0.8 - j["value"]) / 0.01)
        got = datetime.datetime.fromisoformat(j["projected_at"].replace("Z", "+00:00"))
        assert abs((got - want).total_seconds()) < 2 * 86400, (got, want)
        b = h["battery"]
        assert abs(b["rate_per_day"] + 0.001) < 1e-4 and b["threshold"] == 0.7, b
        refused(w.public.get(f"/v1/units/{code}/health"), 401)



def test_health_trends_after_compaction():
    """Compacted hours enter the fit as their hourly averages: the rates,
    the latest value and the projection stay those of the raw reports."""
    with registry("--compact-ms", "100") as w:
        code = w.in_service_since(MONTH_AGO)
        t0 = now() - datetime.timedelta(days=20)
        reps = [{"unit": code, "t": iso(t0 + datetime.timedelta(minutes=20 * k)),
                 "joints": [{"id": 0, "wear": round(0.3 + 0.01 * k / 72, 4)}],
                 "battery": {"soh": round(0.95 - 0.001 * k / 72, 4)}}
                for k in range(20 * 72)]
        ok(w.owner.post("/v1/telemetry", reps), 200)
        time.sleep(1.5)         # fifteen compactions: all but the open windows
        h = ok(w.owner.get(f"/v1/units/{code}/health"), 200)
        j, b = h["joints"][0], h["battery"]
        assert abs(j["rate_per_day"] - 0.01) < 1e-4, j
        assert abs(b["rate_per_day"] + 0.001) < 1e-5, b
        assert j["value"] == reps[-1]["joints"][0]["wear"] and j["at"] == reps[-1]["t"], j
        last = datetime.datetime.fromisoformat(reps[-1]["t"].replace("Z", "+00:00"))
        want = last + datetime.timedelta(days=(0.8 - j["value"]) / 0.01)
        got = datetime.datetime.fromisoformat(j["projected_at"].replace("Z", "+00:00"))
        assert abs((got - want).total_seconds()) < 86400, (got, want)

def test_alert_rules_open_and_clear():
    with registry() as w:
        # Registered an hour ago, so that the reports below are within
        # its life and its as-of record answers for them.
        code = w.in_service_since(now() - datetime.timedelta(hours=1))
        rule = ok(w.maker.post("/v1/alert-rules", {
            "model": w.model, "metric": "joint.*.wear", "op": ">",
            "threshold": 0.5, "for_minutes": 10}))
        assert rule["metric"] == "joint.*.wear" and rule["for_minutes"] == 10, rule
        refused(w.maker2.post("/v1/alert-rules", {
            "model": w.model, "metric": "battery.temp", "op": ">",
            "threshold": 60}), 403)
        refused(w.maker.post("/v1/alert-rules", {
            "model": w.model, "metric": "joint.99.wear", "op": ">",
            "threshold": 1}), 422, "invalid_field", "metric")
        refused(w.owner.post("/v1/alert-rules", {
            "model": w.model, "metric": "hours", "op": ">", "threshold": 1}), 403)
        t0 = now() - datetime.timedelta(minutes=40)

        def rep(i, wear):
            return {"unit": code, "t": iso(t0 + datetime.timedelta(minutes=i)),
                    "joints": [{"id": 3, "wear": wear}]}
        # Beyond from minute 5; open after ten minutes beyond.
        ok(w.owner.post("/v1/telemetry", [rep(i, 0.4 if i < 5 else 0.6)
                                          for i in range(0, 13)]), 200)
        assert ok(w.regulator.get("/v1/alerts?state=open"), 200)["items"] == []
        pend = ok(w.regulator.get("/v1/alerts?state=pending"), 200)["items"]
        assert len(pend) == 1 and pend[0]["metric"] == "joint.3.wear", pend
        assert pend[0]["kind"] == "threshold", pend
        ok(w.owner.post("/v1/telemetry", [rep(i, 0.6) for i in range(13, 20)]), 200)
        open_ = ok(w.regulator.get(f"/v1/alerts?state=open&unit={code}"), 200)["items"]
        assert len(open_) == 1 and open_[0]["opened_at"] == iso(t0 + datetime.timedelta(minutes=15)), open_
        assert [a["id"] for a in w.unit(code, w.owner)["open_alerts"]] == [open_[0]["id"]]
        assert "open_alerts" not in w.unit(code, w.public)
        # Back within: cleared, and the as-of records agree.
        ok(w.owner.post("/v1/telemetry", [rep(25, 0.45)]), 200)
        assert ok(w.regulator.get("/v1/alerts?state=open"), 200)["items"] == []
        cleared = ok(w.maker.get("/v1/alerts?state=cleared"), 200)["items"]
        assert len(cleared) == 1, cleared
        at16 = iso(t0 + datetime.timedelta(minutes=16))
        at26 = iso(t0 + datetime.timedelta(minutes=26))
        assert len(ok(w.regulator.get(f"/v1/units/{code}/as-of?t={at16}"), 200)["open_alerts"]) == 1
        assert ok(w.regulator.get(f"/v1/units/{code}/as-of?t={at26}"), 200)["open_alerts"] == []
        assert ok(w.maker2.get("/v1/alerts"), 200)["items"] == []



def test_no_data_rules_open_and_clear():
    """A silence rule opens an alert for a unit in service whose reports
    stopped, dated when the silence reached its limit, and the unit's next
    report clears it; quiet units out of service are left alone."""
    with registry("--compact-ms", "100") as w:
        refused(w.maker.post("/v1/alert-rules", {
            "model": w.model, "no_data_minutes": 0}), 422, "invalid_field",
            "no_data_minutes")
        refused(w.maker.post("/v1/alert-rules", {
            "model": w.model, "no_data_minutes": 5, "metric": "hours"}), 422,
            "unknown_field", "metric")
        refused(w.maker2.post("/v1/alert-rules", {
            "model": w.model, "no_data_minutes": 5}), 403)
        rule = ok(w.maker.post("/v1/alert-rules", {
            "model": w.model, "no_data_minutes": 5}))
        assert rule["no_data_minutes"] == 5 and "metric" not in rule, rule
        born = now() - datetime.timedelta(hours=1)
        quiet, chatty, never, resting = (w.in_service_since(born)
                                         for _ in range(4))
        last = now() - datetime.timedelta(minutes=20)
        w.event(w.owner, resting, maintenance_start_body())
        for code in (quiet, resting):
            ok(w.owner.post("/v1/telemetry", [report(code, last)]), 200)
        ok(w.owner.post("/v1/telemetry", [report(chatty, now())]), 200)

        def open_alerts():
            return ok(w.regulator.get("/v1/alerts?state=open"), 200)["items"]
        deadline = time.time() + 10
        while not open_alerts() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)          # a few more sweeps open nothing more
        alerts = open_alerts()
        assert [(a["code"], a["metric"], a["kind"]) for a in alerts] == \
            [(quiet, "no_data", "silence")], alerts
        assert alerts[0]["since"] == iso(last), alerts
        assert alerts[0]["opened_at"] == iso(last + datetime.timedelta(minutes=5)), alerts
        assert [a["id"] for a in w.unit(quiet, w.owner)["open_alerts"]] == [alerts[0]["id"]]
        # The unit speaks again: cleared, and not reopened.
        ok(w.owner.post("/v1/telemetry", [report(quiet, now())]), 200)
        time.sleep(0.3)
        assert open_alerts() == []
        cleared = ok(w.maker.get("/v1/alerts?state=cleared"), 200)["items"]
        assert [a["code"] for a in cleared] == [quiet], cleared
        assert w.unit(quiet, w.owner)["open_alerts"] == []
        mid = iso(last + datetime.timedelta(minutes=10))
        assert len(ok(w.regulator.get(f"/v1/units/{quiet}/as-of?t={mid}"), 200)["open_alerts"]) == 1


def pct(vals, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    v = sorted(vals)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def test_model_fleet_health_and_outliers():
    with registry() as w:
        t = now() - datetime.timedelta(minutes=30)
        wears = [0.20, 0.21, 0.22, 0.19, 0.205, 0.215, 0.60]
        codes = []
        for i, wear in enumerate(wears):
            code = w.in_service_since(MONTH_AGO)
            codes.append(code)
            ok(w.owner.post("/v1/telemetry", [
                {"unit": code, "t": iso(t), "joints": [{"id": 0, "wear": 0.1},
                                                        {"id": 5, "wear": wear}],
                 "battery": {"soh": round(0.9 + i / 100, 4)}},
                # An older report sent later does not replace the latest.
                {"unit": code, "t": iso(t - datetime.timedelta(minutes=5)),
                 "joints": [{"id": 5, "wear": 0.99}]}]), 200)
        h = ok(w.regulator.get(f"/v1/models/{w.model}/health"), 200)
        assert h["units"] == len(wears), h
        m = h["metrics"]["joint.max.wear"]
        for p, key in ((50, "p50"), (90, "p90"), (99, "p99")):
            assert abs(m[key] - pct(wears, p)) < 1e-9, (key, m, pct(wears, p))
        soh = [round(0.9 + i / 100, 4) for i in range(len(wears))]
        assert abs(h["metrics"]["battery.soh"]["p50"] - pct(soh, 50)) < 1e-9, h
        assert [o["code"] for o in h["outliers"]] == [codes[-1]], h["outliers"]
        assert ok(w.maker.get(f"/v1/models/{w.model}/health"), 200)["units"] == len(wears)
        refused(w.maker2.get(f"/v1/models/{w.model}/health"), 403)
        refused(w.owner.get(f"/v1/models/{w.model}/health"), 403)
