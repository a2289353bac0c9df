#!/usr/bin/env python3
"""Telemetry ingest through a real hridd (docs/PERFORMANCE.md).

U units (default 200) are put in service, then C clients (default 2) send
batches of B reports (default 1,000) of one minute each: 40 joints (wear
and temperature), battery (state of health, cycles, temperature),
precision and operating hours: 86 values a report.  Each batch is
acknowledged once durable.  Prints reports/s and values/s (median of R
runs), then compaction of what was sent into chunks and rollups.

With --pg, the same ingest on a throw-away PostgreSQL cluster (durable),
without the compaction part.

Usage: bench/bench_telemetry_api.py BUILD_DIR [--units U] [--batches N] [--pg]
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_api  # noqa: E402

JOINTS = 40


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def report(code, t, minute, rnd):
    return {"unit": code, "t": iso(t),
            "joints": [{"id": j, "wear": round(0.1 + j * 0.001 + minute * 1e-5, 4),
                        "temp": round(35 + rnd.random() * 10, 1)} for j in range(JOINTS)],
            "battery": {"soh": round(0.98 - minute * 1e-6, 4), "cycles": 100 + minute // 120,
                        "temp": round(30 + rnd.random() * 3, 1)},
            "precision_mm": round(0.2 + rnd.random() * 0.05, 3),
            "hours": round(1000 + minute / 60, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", action="store_true",
                    help="on a throw-away PostgreSQL cluster (durable); "
                    "ingest only")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hrid-bench-tel-")
    cluster = uri = None
    if a.pg:
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
        import pgcluster
        cluster = pgcluster.Cluster(durable=True)
        uri = cluster.create_db()
    node = bench_api.Node(os.path.join(a.build, "hridd"), tmp,
                          ["--compact-ms", "3600000"], db=uri)
    try:
        mk, rk, models = bench_api.setup(node, 2)
        owner, ok_ = bench_api.owner(node)
        # Registered a month ago: reports tell of a unit's life since.
        born = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)
        codes, _ = bench_api.bulk_register(node, mk, models, a.units,
                                           batch=a.units, clients=1,
                                           at=born.strftime("%Y-%m-%dT%H:%M:%SZ"))
        bench_api.put_in_service(node, mk, owner, ok_, codes)
        rnd = random.Random(7)
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=20)
        # Each batch: batch/units minutes of every unit, in order.
        per = max(1, a.batch // len(codes))
        bodies = []
        minute = 0
        for _ in range(a.batches * a.runs):
            reps = []
            for m in range(per):
                t = start + datetime.timedelta(minutes=minute + m)
                reps += [report(c, t, minute + m, rnd) for c in codes]
            minute += per
            bodies.append(json.dumps(reps).encode())
        size = statistics.mean(len(b) for b in bodies)
        rates = []
        for run in range(a.runs):
            todo = list(bodies[run * a.batches:(run + 1) * a.batches])
            lock = threading.Lock()

            def worker():
                c = http.client.HTTPConnection(node.host, node.port, timeout=600)
                while True:
                    with lock:
                        if not todo:
                            return
                        b = todo.pop(0)
                    node.call("POST", "/v1/telemetry", b, key=ok_, conn=c)

            t0 = time.monotonic()
            th = [threading.Thread(target=worker) for _ in range(a.clients)]
            for t in th:
                t.start()
            for t in th:
                t.join()
            rates.append(a.batches * per * len(codes) / (time.monotonic() - t0))
        r = statistics.median(rates)
        vals = JOINTS * 2 + 5
        print("POST /v1/telemetry: %.0f reports/s = %.0f values/s durable "
              "(median of %d runs of %d batches of %d reports, %.0f KB "
              "each, %d clients, %d values a report)"
              % (r, r * vals, a.runs, a.batches, per * len(codes),
                 size / 1024, a.clients, vals))
        if a.pg:
            return
        # Compaction of everything sent (its windows are long closed).
        node.stop()
        node = bench_api.Node(os.path.join(a.build, "hridd"), tmp,
                              ["--compact-ms", "200"])
        db = os.path.join(tmp, "bench.db")
        t0 = time.monotonic()
        import sqlite3
        while True:
            time.sleep(0.5)
            con = sqlite3.connect(db)
            left = con.execute("SELECT count(*) FROM telemetry WHERE kind = 1").fetchone()[0]
            chunks, cbytes = con.execute(
                "SELECT count(*), sum(length(data)) FROM telemetry WHERE kind = 2").fetchone()
            con.close()
            if left == 0:
                break
        dt = time.monotonic() - t0
        n_reports = a.runs * a.batches * per * len(codes)
        print("compaction: %d reports into %d raw chunks in %.1f s (%.0f "
              "reports/s); %.2f bytes a stored value"
              % (n_reports, chunks, dt, n_reports / dt,
                 (cbytes or 0) / (n_reports * vals)))
    finally:
        if node is not None:
            node.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
