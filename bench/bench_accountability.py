#!/usr/bin/env python3
"""Accountability benchmarks against a real hridd (docs/PERFORMANCE.md).

On a fleet of N units registered in bulk (default 200,000; the targets are
set for 10M, which this machine registers in about 30 minutes with 16 GB of
disk and 9 GB of this script's memory: run it with --units 10000000 for
the figures at that scale):

  1. statistics: GET /v1/stats/units?by=model,state and by=region,
     /v1/stats/registrations and /v1/stats/recalls (which grows with each
     run's recalls on a kept fleet): latency over --calls calls, once the
     bulk load is over (hridd and the kernel's writeback idle);
  2. as-of: one unit walked through E lifecycle events (default 300), then
     GET /v1/units/{code}/as-of at random times in its history: p50/p99 of
     the round trip, and of hridd's own time on each call (from its request
     log), which a busy or preempted client does not inflate;
  3. recall targeting and materialisation: POST /v1/recalls targeting one
     lot range of a component (1% of the fleet) and one targeting a model
     (a tenth): wall time of the request, affected units/s; then the time
     until every unit's notice is written (those past the first 1,000 are
     written after the recall commits).

With --dir DIR the database is kept in DIR (created there on the first
run, with DIR/fleet.json naming its keys and some of its units) and later
runs measure the fleet already there: the 10M fleet is registered once.
Each run walks a unit of its own through its history and adds its recalls'
notices to the fleet.

Usage: bench/bench_accountability.py BUILD_DIR [--units N] [--events E]
       [--calls C] [--dir DIR]
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_api  # noqa: E402  (Node, setup, bulk_register)


def timed(node, method, path, body=None, key=bench_api.ADMIN, conn=None):
    t = time.monotonic()
    out = node.call(method, path, body, key=key, conn=conn)
    return time.monotonic() - t, out


def settle(node, limit=120.0):
    """Waits until the bulk load is over, as a registry between bulk loads
    would be: hridd used under 5% of a CPU for a whole second (its last
    checkpoint of the WAL is done) and the kernel holds under 32 MB of
    dirty pages (its writeback, which saturates the disk for a while, is
    done).  Returns the seconds waited."""
    def cpu():
        with open("/proc/%d/stat" % node.proc.pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

    def dirty_kb():
        with open("/proc/meminfo") as f:
            m = dict(line.split(":", 1) for line in f)
        return int(m["Dirty"].split()[0]) + int(m["Writeback"].split()[0])
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = cpu()
        time.sleep(1.0)
        if cpu() - c0 < 0.05 and dirty_kb() < 32768:
            break
    return time.monotonic() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--units", type=int, default=200000)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--dir")
    a = ap.parse_args()
    tmp = a.dir or tempfile.mkdtemp(prefix="hrid-bench-acc-")
    os.makedirs(tmp, exist_ok=True)
    saved = os.path.join(tmp, "fleet.json")
    log = os.path.join(tmp, "requests.log")
    node = bench_api.Node(os.path.join(a.build, "hridd"), tmp, log=log)
    try:
        if os.path.exists(saved):
            with open(saved) as f:
                fleet = json.load(f)
            mk, rk, models = fleet["mk"], fleet["rk"], fleet["models"]
            units, sample = fleet["units"], fleet["sample"]
            fleet["runs"] += 1
            print("fleet: %d units kept in %s (run %d); hridd idle %.0f s "
                  "after its start" % (units, tmp, fleet["runs"],
                                       settle(node)))
        else:
            mk, rk, models = bench_api.setup(node, 10)
            codes, dt = bench_api.bulk_register(node, mk, models, a.units)
            units, sample = len(codes), codes[len(codes) // 2::997][:100]
            fleet = {"mk": mk, "rk": rk, "models": models, "units": units,
                     "sample": sample, "runs": 1}
            print("fleet: %d units registered in %.1f s (%.0f units/s); "
                  "hridd idle %.0f s later" % (units, dt, units / dt,
                                               settle(node)))
        if a.dir:
            with open(saved, "w") as f:
                json.dump(fleet, f)
        conn = http.client.HTTPConnection(node.host, node.port, timeout=600)

        for path in ("/v1/stats/units?by=model,state", "/v1/stats/units?by=region",
                     "/v1/stats/registrations", "/v1/stats/recalls"):
            ts = [timed(node, "GET", path, key=rk, conn=conn)[0]
                  for _ in range(a.calls)]
            print("GET %-34s p50 %.2f ms, p99 %.2f ms (%d calls)"
                  % (path, pct(ts, 50) * 1e3, pct(ts, 99) * 1e3, a.calls))

        # One unit through a long history: releases, then firmware updates
        # and inspections, each dated one second after the last.
        code = sample[(fleet["runs"] - 1) % len(sample)]
        t0 = datetime.datetime.now(datetime.timezone.utc)
        node.call("POST", "/v1/units/%s/events" % code,
                  {"type": "release", "market_filing_no": "MF-1"}, key=mk,
                  conn=conn)
        fw = None
        for i in range(a.events):
            at = (t0 + datetime.timedelta(milliseconds=500 * (i + 1)))
            ats = at.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (at.microsecond // 1000)
            if i % 2:
                body = {"type": "inspection", "result": "pass", "at": ats}
                key = rk
            else:
                unit = node.call("GET", "/v1/units/" + code, key=mk, conn=conn)
                fw = unit["firmware"]["main"]
                body = {"type": "firmware_update", "component": "main",
                        "from_version": fw, "to_version": "2.0.%d" % i,
                        "package_digest": "ab" * 32,
                        "at": ats}
                key = mk
            node.call("POST", "/v1/units/%s/events" % code, body, key=key,
                      conn=conn)
        span = a.events * 0.5
        ts, replayed = [], []
        rnd = random.Random(1)
        for _ in range(a.calls):
            at = t0 + datetime.timedelta(seconds=rnd.uniform(0, span))
            ats = at.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (at.microsecond // 1000)
            dt, out = timed(node, "GET", "/v1/units/%s/as-of?t=%s" % (code, ats),
                            key=rk, conn=conn)
            ts.append(dt)
            replayed.append(out["replayed_events"])
        print("GET /v1/units/{code}/as-of, unit of %d events: p50 %.2f ms, "
              "p99 %.2f ms, replayed at most %d events (%d calls, client "
              "round trip included)" % (a.events + 2, pct(ts, 50) * 1e3,
                                         pct(ts, 99) * 1e3, max(replayed),
                                         a.calls))
        with open(log) as f:
            us = [int(m.group(1)) / 1e3 for m in re.finditer(
                r"path=\"?/v1/units/%s/as-of\S* status=200 bytes=\d+ us=(\d+)"
                % code, f.read())]
        print("  hridd's own time on those calls: p50 %.2f ms, p99 %.2f ms, "
              "p99.9 %.2f ms" % (pct(us, 50), pct(us, 99), pct(us, 99.9)))

        # Battery lots are 2,000 units each (bench_api.unit): 1% of the
        # fleet is N / 200,000 lots.
        lots = max(1, units // 200000)
        for name, target in (
                ("one component lot range (~1%)",
                 {"component": {"part_no": "BP-864",
                                "lots": {"from": "B00001",
                                         "to": "B%05d" % lots}}}),
                ("one model (~10%)", {"models": [models[3]]})):
            t0 = time.monotonic()
            dt, out = timed(node, "POST", "/v1/recalls",
                            {"defect": "bench", "remedy": "bench",
                             "target": target}, key=mk, conn=conn)
            n = out["units"]["affected"]
            print("POST /v1/recalls, %s: %d units targeted and materialised "
                  "in %.2f s (%.0f units/s, fleet of %d)" % (name, n, dt,
                                                             n / dt, units))
            # The notices past the first 1,000 follow the reply.
            pending = out["units"].get("notices_pending", 0)
            while pending:
                time.sleep(0.1)     # a poll counts the recall's rows
                pending = node.call("GET", "/v1/recalls/%d" % out["id"],
                                    conn=conn)["units"]["notices_pending"]
            dn = time.monotonic() - t0
            print("  and its %d notices all written %.2f s after the request "
                  "(%.0f units/s)" % (n, dn, n / dn))

        rss, hwm = node.rss()
        print("hridd memory after the recalls: VmRSS %s, peak VmHWM %s"
              % (rss, hwm))
    finally:
        node.stop()
        if not a.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
