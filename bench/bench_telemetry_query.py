#!/usr/bin/env python3
"""Telemetry queries through a real hridd (docs/PERFORMANCE.md, "Telemetry").

The target (the telemetry issue): a query of 30 days at one-minute
resolution for one unit with step=1h in under 10 ms.

1 + O units (O others, default 4, so that the store is not one unit's) are
registered 31 days ago and put in service, then each gets 30 days of
one-minute reports (43,200 a unit, 85 values each, the reports of
bench/bench_telemetry_api.py), sent by two clients in batches of 1,000.
hridd is then restarted with a short --compact-ms and left until everything
but the still-open two-hour windows has gone from staged reports into raw
and rollup chunks (docs/telemetry.md, "Retention"), and restarted once
more with its default --compact-ms.  Then, on one keep-alive connection,
each query Q times (default 200) after 5 untimed ones, for the first unit:

  GET /v1/units/{code}/telemetry?metric=joint.0.wear&from=-30d&to=now&step=1h
  GET /v1/units/{code}/telemetry?metric=joint.0.wear&from=-1d&to=now&step=0
  GET /v1/units/{code}/telemetry?metric=battery.soh&from=-30d&to=now&step=1d
  GET /v1/units/{code}/health

Prints p50, p99 and max in ms (request sent to body read, Python's
http.client included), the points returned and the response's size.

Usage: bench/bench_telemetry_query.py BUILD_DIR [--others O] [--queries Q]
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_api  # noqa: E402
from bench_telemetry_api import iso, report  # noqa: E402

DAYS = 30
MINUTES = DAYS * 24 * 60          # 43,200 reports a unit
BATCH = 1000                      # reports a POST, as bench_telemetry_api
WARMUP = 5


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def load(node, key, codes, first, clients=2):
    """Sends MINUTES one-minute reports of every unit from `first`, in
    batches of BATCH consecutive minutes of one unit, interleaving units."""
    jobs = [(c, m) for m in range(0, MINUTES, BATCH) for c in codes]
    lock = threading.Lock()
    failed = []

    def worker(seed):
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection(node.host, node.port, timeout=600)
        while True:
            with lock:
                if not jobs or failed:
                    return
                code, m0 = jobs.pop(0)
            reps = [report(code, first + datetime.timedelta(minutes=m), m, rnd)
                    for m in range(m0, min(m0 + BATCH, MINUTES))]
            try:
                node.call("POST", "/v1/telemetry", json.dumps(reps).encode(),
                          key=key, conn=conn)
            except SystemExit as e:
                failed.append(str(e))
                return

    th = [threading.Thread(target=worker, args=(7 + i,)) for i in range(clients)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if failed:
        sys.exit(failed[0])


def counts(db):
    con = sqlite3.connect(db, timeout=60)
    try:
        return dict(con.execute(
            "SELECT kind, count(*) FROM telemetry GROUP BY kind").fetchall())
    finally:
        con.close()


def timed(node, key, path, n):
    """GETs path WARMUP + n times on one keep-alive connection; returns the
    n latencies (seconds), the last body's size and the body decoded."""
    conn = http.client.HTTPConnection(node.host, node.port, timeout=600)
    hdr = {"Authorization": "Bearer " + key}
    lat = []
    body = b""
    for i in range(WARMUP + n):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=hdr)
        r = conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        if r.status != 200:
            sys.exit("GET %s -> %d %s" % (path, r.status, body[:300]))
        if i >= WARMUP:
            lat.append(dt)
    conn.close()
    return lat, len(body), json.loads(body)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def npoints(out):
    if isinstance(out, dict):
        for k in ("points", "samples", "data"):
            if isinstance(out.get(k), list):
                return len(out[k])
        if isinstance(out.get("joints"), list):
            return len(out["joints"])
    return len(out) if isinstance(out, list) else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--others", type=int, default=4)
    ap.add_argument("--queries", type=int, default=200)
    a = ap.parse_args()
    hridd = os.path.join(a.build, "hridd")
    tmp = tempfile.mkdtemp(prefix="hrid-bench-telq-")
    db = os.path.join(tmp, "bench.db")
    node = bench_api.Node(hridd, tmp, ["--compact-ms", "3600000"])
    try:
        mk, rk, models = bench_api.setup(node, 2)
        owner, ok_ = bench_api.owner(node)
        now = datetime.datetime.now(datetime.timezone.utc)
        born = now - datetime.timedelta(days=DAYS + 1)
        n = 1 + a.others
        codes, _ = bench_api.bulk_register(node, mk, models, n, batch=n,
                                           clients=1, at=rfc3339(born))
        bench_api.put_in_service(node, mk, owner, ok_, codes)
        # The last report is a minute before the load began.
        end = now.replace(second=0, microsecond=0)
        first = end - datetime.timedelta(minutes=MINUTES)
        t0 = time.monotonic()
        load(node, ok_, codes, first)
        dt = time.monotonic() - t0
        print("loaded %d units x %d one-minute reports (%d reports, %d "
              "values) in %.1f s (%.0f reports/s, 2 clients)"
              % (n, MINUTES, n * MINUTES, n * MINUTES * 85, dt,
                 n * MINUTES / dt))

        # Compaction: everything but the open windows leaves staging.
        node.stop()
        node = None
        node = bench_api.Node(hridd, tmp, ["--compact-ms", "200"])
        t0 = time.monotonic()
        last, same = None, 0
        while same < 6:
            time.sleep(0.5)
            c = counts(db)
            staged = c.get(1, 0)
            same = same + 1 if staged == last else 0
            last = staged
        dt = time.monotonic() - t0
        print("compaction: %.1f s; %d reports still staged (open windows), "
              "%d raw chunks, %d rollup chunks"
              % (dt - 3.0, c.get(1, 0), c.get(2, 0), c.get(3, 0)))
        node.stop()
        node = None
        # Queries against hridd as deployed: the default --compact-ms.
        node = bench_api.Node(hridd, tmp)
        code = codes[0]
        q_end = datetime.datetime.now(datetime.timezone.utc)
        day = q_end - datetime.timedelta(days=1)
        base = "/v1/units/%s/telemetry?metric=%%s&from=%%s&to=%s&step=%%s" \
            % (code, iso(q_end))
        cases = [
            ("joint.0.wear, 30 days, step=1h",
             base % ("joint.0.wear", iso(first), "1h")),
            ("joint.0.wear, 1 day, step=0 (raw)",
             base % ("joint.0.wear", iso(day), "0")),
            ("battery.soh, 30 days, step=1d",
             base % ("battery.soh", iso(first), "1d")),
            ("health (40 joints, battery)", "/v1/units/%s/health" % code),
        ]
        print("one unit of %d, %d queries each after %d untimed, one "
              "keep-alive connection:" % (n, a.queries, WARMUP))
        for label, path in cases:
            lat, size, out = timed(node, rk, path, a.queries)
            print("  %-36s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  "
                  "%5d points  %7d bytes"
                  % (label, statistics.median(lat) * 1e3, pct(lat, 99) * 1e3,
                     max(lat) * 1e3, npoints(out), size))
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
