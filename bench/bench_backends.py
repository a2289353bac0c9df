#!/usr/bin/env python3
"""The registry benchmarks on SQLite and on PostgreSQL, side by side, and
on two hridd nodes sharing one PostgreSQL database (docs/PERFORMANCE.md,
docs/SCALING.md).

In one run, on this machine, each with a fresh database:

  1. SQLite (a file), one node;
  2. PostgreSQL (a throw-away cluster from tests/pgcluster.py, durable:
     fsync and synchronous_commit on, over loopback TCP), one node;
  3. the same PostgreSQL database with two nodes at once.

For each: bulk registration of N units (10,000 per request, 2 clients),
GET /v1/units/{code} and POST inspection events with wrk (64 connections;
with two nodes, one wrk per node at the same time, rates summed), and
the offline audit.

Usage: bench/bench_backends.py BUILD_DIR [--units N] [--seconds S] [--runs R]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import bench_api  # noqa: E402
import pgcluster  # noqa: E402


def wrk_nodes(nodes, script, env, seconds):
    """One wrk per node at once: (summed req/s, worst p50, worst p99,
    non-2xx)."""
    out = [None] * len(nodes)

    def run(i):
        out[i] = bench_api.wrk(nodes[i].url, script, env, seconds)
    threads = [threading.Thread(target=run, args=(i,))
               for i in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (sum(o[0] for o in out), max(o[1] for o in out),
            max(o[2] for o in out), sum(o[3] for o in out))


def median_of(runs):
    return tuple(statistics.median(r[i] for r in runs) for i in range(3)) + \
        (sum(r[3] for r in runs),)


def measure(label, nodes, build, tmp, units, seconds, runs, audit_db):
    mk, rk, models = bench_api.setup(nodes[0], 10)
    codes, dt = bench_api.bulk_register(nodes[0], mk, models, units)
    path = os.path.join(tmp, "codes-%s.txt" % label.replace(" ", "-"))
    with open(path, "w") as f:
        f.write("\n".join(codes) + "\n")
    gets = median_of([wrk_nodes(nodes, os.path.join(HERE, "wrk/get_unit.lua"),
                                {"CODES": path}, seconds)
                      for _ in range(runs)])
    evs = median_of([wrk_nodes(nodes,
                               os.path.join(HERE, "wrk/post_event.lua"),
                               {"CODES": path, "KEY": rk}, seconds)
                     for _ in range(runs)])
    for n in nodes:
        n.stop()
    t = time.monotonic()
    subprocess.run([os.path.join(build, "hrid"), "audit", "--db", audit_db],
                   check=True, stdout=subprocess.DEVNULL)
    audit = time.monotonic() - t
    return {"label": label, "bulk": len(codes) / dt, "get": gets,
            "events": evs, "audit": audit}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--units", type=int, default=50000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it)")
    hridd = os.path.join(a.build, "hridd")
    results = []
    cluster = pgcluster.Cluster(durable=True)
    tmp = tempfile.mkdtemp(prefix="hrid-bench-")
    try:
        node = bench_api.Node(hridd, tmp)
        results.append(measure("SQLite, 1 node", [node], a.build, tmp,
                               a.units, a.seconds, a.runs,
                               os.path.join(tmp, "bench.db")))
        for nodes in (1, 2):
            uri = cluster.create_db()
            keys = tempfile.mkdtemp(prefix="hrid-keys-", dir=tmp)
            first = bench_api.Node(hridd, keys, db=uri)
            more = [bench_api.Node(hridd, keys, db=uri)
                    for _ in range(nodes - 1)]
            results.append(measure("PostgreSQL, %d node%s" % (
                nodes, "s" if nodes > 1 else ""), [first] + more, a.build,
                tmp, a.units, a.seconds, a.runs, uri))
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d units; wrk -t2 -c64 per node, median of %d runs of %d s"
          % (a.units, a.runs, a.seconds))
    print("| backend | bulk units/s | GET req/s (p50, p99 ms) | "
          "events/s durable (p50, p99 ms) | audit s |")
    print("|---|---|---|---|---|")
    for r in results:
        g, e = r["get"], r["events"]
        print("| %s | %.0f | %.0f (%.2f, %.2f) | %.0f (%.2f, %.2f) | %.2f |"
              % (r["label"], r["bulk"], g[0], g[1], g[2], e[0], e[1], e[2],
                 r["audit"]))
        if g[3] or e[3]:
            print("  non-2xx responses: GET %d, events %d" % (g[3], e[3]))


if __name__ == "__main__":
    main()
