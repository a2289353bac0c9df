#!/usr/bin/env python3
"""Registry benchmarks against a real hridd (docs/PERFORMANCE.md).

Starts the non-sanitizer hridd on a fresh database in a temporary
directory, then measures, with the load generator on the same machine:

  1. bulk registration: N units (default 1,000,000) in requests of 10,000,
     two clients at once, each request acknowledged only once durable;
  2. GET /v1/units/{code} on the resulting database with wrk (random codes,
     public caller): requests/s and latency percentiles;
  3. single lifecycle events (inspections by a regulator) with wrk across
     all units: events/s;
  4. hridd's resident memory after all that (VmRSS, VmHWM);
  5. an inclusion proof of a random event (GET /v1/log/proof/inclusion)
     with wrk; and, once hridd has stopped, the offline audit of the
     whole log (hrid audit --db): leaves/s.

Usage: bench/bench_api.py BUILD_DIR [--units N] [--seconds S] [--runs R]
                          [--dir DIR] [--only PHASES]
Each wrk figure is the median of R runs.  With --dir, the registry is kept
in DIR (bench.db, its key files and codes.txt) and a later run on the same
DIR measures it again without registering; --only picks phases, comma
separated, of bulk,get,events,memory,proof,audit (bulk runs only when the
registry is new).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ADMIN = "bench-admin-key-0123456789abcdef"


class Node:
    """hridd on tmp/bench.db, or on the database uri db with its key files
    in tmp (nodes of one registry share them).  With log (a file name),
    hridd writes its request log there (each line's us= is the time it
    spent on the request), else it runs with --quiet."""

    def __init__(self, hridd, tmp, extra=(), db=None, log=None):
        where = ["--db", db, "--keys", tmp] if db else \
            ["--db", os.path.join(tmp, "bench.db")]
        err = open(log, "w") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [hridd] + where + ["--listen", "127.0.0.1:0"]
            + ([] if log else ["--quiet"]) + list(extra),
            stdout=subprocess.PIPE, stderr=err,
            env=dict(os.environ, HRID_ADMIN_KEY=ADMIN), text=True)
        if log:
            err.close()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit("hridd exited before listening")
            m = re.search(r"listening on http://([\d.]+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
        self.url = "http://%s:%d" % (self.host, self.port)

    def call(self, method, path, body=None, key=ADMIN, conn=None):
        c = conn or http.client.HTTPConnection(self.host, self.port,
                                               timeout=600)
        data = body if isinstance(body, (bytes, type(None))) else \
            json.dumps(body).encode()
        c.request(method, path, body=data,
                  headers={"Authorization": "Bearer " + key,
                           "Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read() or b"null")
        if conn is None:
            c.close()
        if r.status >= 300:
            sys.exit("%s %s -> %d %s" % (method, path, r.status, out))
        return out

    def rss(self):
        fields = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        return fields.get("VmRSS"), fields.get("VmHWM")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def setup(node, models):
    ent = node.call("POST", "/v1/enterprises",
                    {"country": "CN", "name": "Bench Robotics"})
    reg = node.call("POST", "/v1/parties",
                    {"kind": "regulator", "name": "Bench regulator",
                     "country": "CN"})
    mk = node.call("POST", "/v1/keys", {"party": ent["id"],
                                        "role": "manufacturer"})["key"]
    rk = node.call("POST", "/v1/keys", {"party": reg["id"],
                                        "role": "regulator"})["key"]
    ids = []
    for i in range(models):
        m = node.call("POST", "/v1/enterprises/%s/models" % ent["enterprise"],
                      {"name": "B%d" % i, "level": 2 + i % 2,
                       "params": {"height_mm": 1600, "dof": 40}}, key=mk)
        node.call("POST", "/v1/models/%s/status" % m["model"],
                  {"status": "approved"}, key=rk)
        ids.append(m["model"])
    return mk, rk, ids


def unit(i, models, at=None):
    """The i-th unit's body; at (RFC 3339) backdates its registration."""
    day = 1 + i % 28
    body = {
        "model": models[i % len(models)],
        "production_date": "2026-%02d-%02d" % (1 + (i // 28) % 10, day),
        "batch": "L%06d" % (i // 500),
        "factory": "Plant %d" % (i % 3),
        "firmware": {"main": "1.4.%d" % (i % 7)},
        "components": [
            {"slot": "joint.knee.left", "part_no": "KM-40",
             "supplier": "Harmonic", "lot": "H%05d" % (i // 1000),
             "serial": "KL%08d" % i},
            {"slot": "joint.knee.right", "part_no": "KM-40",
             "supplier": "Harmonic", "lot": "H%05d" % (i // 1000),
             "serial": "KR%08d" % i},
            {"slot": "battery", "part_no": "BP-864", "supplier": "CATL",
             "lot": "B%05d" % (i // 2000), "serial": "BP%08d" % i},
            {"slot": "compute", "part_no": "SoC-9", "supplier": "Rockchip",
             "lot": "S%05d" % (i // 5000), "serial": "SC%08d" % i},
        ],
    }
    if at is not None:
        body["at"] = at
    return body


def bulk_register(node, mk, models, total, batch=10000, clients=2, at=None):
    bodies = []
    for start in range(0, total, batch):
        n = min(batch, total - start)
        bodies.append(json.dumps(
            {"units": [unit(start + j, models, at) for j in range(n)]}).encode())
    codes = []
    lock = threading.Lock()
    todo = list(range(len(bodies)))

    def worker():
        conn = http.client.HTTPConnection(node.host, node.port, timeout=600)
        while True:
            with lock:
                if not todo:
                    return
                k = todo.pop(0)
            out = node.call("POST", "/v1/units", bodies[k], key=mk,
                            conn=conn)
            with lock:
                codes.extend(u["code"] for u in out["units"])

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    return codes, dt


def owner(node):
    """A bench owner party and its key: (party, key)."""
    party = node.call("POST", "/v1/parties", {"kind": "owner",
                                              "name": "Bench owner",
                                              "country": "CN"})
    key = node.call("POST", "/v1/keys", {"party": party["id"],
                                         "role": "owner"})["key"]
    return party, key


def put_in_service(node, mk, owner_party, owner_key, codes):
    """Releases, sells to the owner and deploys each unit."""
    conn = http.client.HTTPConnection(node.host, node.port, timeout=600)
    for c in codes:
        node.call("POST", "/v1/units/%s/events" % c,
                  {"type": "release", "market_filing_no": "MF"}, key=mk,
                  conn=conn)
        node.call("POST", "/v1/units/%s/events" % c,
                  {"type": "transfer", "to": owner_party["id"],
                   "kind": "sale"}, key=mk, conn=conn)
        node.call("POST", "/v1/units/%s/events" % c,
                  {"type": "deploy", "scenario": "factory",
                   "site": {"name": "Plant", "region": "440305"}},
                  key=owner_key, conn=conn)
    conn.close()


def cpu_seconds(pid):
    """User and system CPU time of process pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_of(path):
    """The /proc/diskstats name of the block device holding path, or None."""
    dev = os.stat(path).st_dev
    with open("/proc/diskstats") as f:
        for line in f:
            v = line.split()
            if (int(v[0]), int(v[1])) == (os.major(dev), os.minor(dev)):
                return v[2]
    return None


def disk_writes(disk):
    """Write requests the disk completed so far (0 without a disk)."""
    if disk is None:
        return 0
    with open("/proc/diskstats") as f:
        for line in f:
            v = line.split()
            if v[2] == disk:
                return int(v[7])
    return 0


def disk_ceiling(where, seconds):
    """Random 4 KiB writes per second that the disk under where completes,
    each 256 followed by fdatasync, over a 256 MiB file written first: the
    pattern of a checkpoint copying pages into the database file.  A
    lifecycle event on a large registry changes pages spread over the
    whole file (its unit's row, its unit's entry in the history index),
    so this rate divided by the disk writes per event bounds events/s."""
    path = os.path.join(where, "disk-ceiling.tmp")
    pages = 65536
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for i in range(0, pages, 256):
            os.write(fd, block * 256)
        os.fdatasync(fd)
        rng = random.Random(1)
        done, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            for _ in range(256):
                os.pwrite(fd, block, rng.randrange(pages) * 4096)
            os.fdatasync(fd)
            done += 256
        return done / (time.monotonic() - t0)
    finally:
        os.close(fd)
        os.unlink(path)


def wrk(url, script, env, seconds, conns=64, pid=None, disk=None):
    """wrk's requests/s, p50 and p99 (ms) and non-2xx count; with pid,
    also the CPU time process pid spent per request (us); with disk, also
    the disk's write requests per request."""
    cpu = cpu_seconds(pid) if pid else 0
    ios = disk_writes(disk)
    out = subprocess.run(
        ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency",
         "-s", script, url],
        capture_output=True, text=True, env=dict(os.environ, **env)).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        v, unit_ = float(m.group(1)), m.group(2)
        return v / 1000 if unit_ == "us" else v * 1000 if unit_ == "s" else v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res = (rps, pct(50), pct(99), int(errors.group(1)) if errors else 0)
    n = int(re.search(r"(\d+) requests in", out).group(1))
    if pid:
        res += ((cpu_seconds(pid) - cpu) * 1e6 / max(n, 1),)
    if disk:
        res += ((disk_writes(disk) - ios) / max(n, 1),)
    return res


def ceiling(build, here, codes, seconds, runs):
    """The same GET load against bench_mhd, a bare libmicrohttpd server set
    up as hridd's answering a unit's public view: the machine's ceiling in
    the same minutes (a virtual machine's speed varies from day to day)."""
    exe = os.path.join(build, "bench", "bench_mhd")
    if not os.path.exists(exe):
        print("(no %s: make bench builds the bare server)" % exe)
        return
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)
        runs_ = [wrk(url, os.path.join(here, "wrk/get_unit.lua"),
                     {"CODES": codes}, seconds, pid=proc.pid)
                 for _ in range(runs)]
        print("ceiling: bare libmicrohttpd (bench_mhd) answering the same "
              "GETs: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %.1f us of CPU "
              "per request (median of %d runs)"
              % tuple([statistics.median(g[i] for g in runs_)
                       for i in (0, 1, 2, 4)] + [runs]))
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--units", type=int, default=1000000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="hridd --threads (default: hridd's own)")
    ap.add_argument("--dir", help="keep the registry here and reuse it")
    ap.add_argument("--only", default="bulk,get,events,memory,proof,audit")
    a = ap.parse_args()
    phases = set(a.only.split(","))
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it)")
    if a.dir:
        os.makedirs(a.dir, exist_ok=True)
    tmp = a.dir or tempfile.mkdtemp(prefix="hrid-bench-")
    path = os.path.join(tmp, "codes.txt")
    state = os.path.join(tmp, "bench.json")
    node = Node(os.path.join(a.build, "hridd"), tmp,
                ["--threads", str(a.threads)] if a.threads else [])
    try:
        if os.path.exists(state):
            with open(state) as f:
                mk, rk, models = json.load(f)
            with open(path) as f:
                codes = f.read().split()
        else:
            mk, rk, models = setup(node, 10)
            codes, dt = bulk_register(node, mk, models, a.units)
            print("bulk registration: %d units in %.1f s = %.0f units/s "
                  "durable (10,000 per request, 2 clients)"
                  % (len(codes), dt, len(codes) / dt))
            with open(path, "w") as f:
                f.write("\n".join(codes) + "\n")
            with open(state, "w") as f:
                json.dump([mk, rk, models], f)
        here = os.path.dirname(os.path.abspath(__file__))
        if "get" in phases:
            ceiling(a.build, here, path, a.seconds, a.runs)
        gets = [wrk(node.url, os.path.join(here, "wrk/get_unit.lua"),
                    {"CODES": path}, a.seconds, pid=node.proc.pid)
                for _ in range(a.runs)] if "get" in phases else None
        gets and print("GET /v1/units/{code} on %d units: %.0f req/s, p50 "
                       "%.2f ms, p99 %.2f ms, hridd %.1f us of CPU per "
                       "request (median of %d runs of %d s, wrk -t2 -c64), "
                       "non-2xx %d" % tuple(
                           [len(codes)] +
                           [statistics.median(g[i] for g in gets)
                            for i in (0, 1, 2, 4)] +
                           [a.runs, a.seconds, sum(g[3] for g in gets)]))
        disk = disk_of(tmp) if "events" in phases else None
        evs = [wrk(node.url, os.path.join(here, "wrk/post_event.lua"),
                   {"CODES": path, "KEY": rk}, a.seconds, pid=node.proc.pid,
                   disk=disk)
               for _ in range(a.runs)] if "events" in phases else None
        evs and print("POST /v1/units/{code}/events (inspection, random "
                      "units): %.0f events/s durable, p50 %.2f ms, p99 %.2f "
                      "ms, hridd %.1f us of CPU per event (median of %d "
                      "runs), non-2xx %d" % tuple(
                          [statistics.median(e[i] for e in evs)
                           for i in (0, 1, 2, 4)] +
                          [a.runs, sum(e[3] for e in evs)]))
        if evs and disk:
            per = statistics.median(e[5] for e in evs)
            iops = disk_ceiling(tmp, 3)
            print("ceiling: disk %s completes %.0f random 4 KiB writes/s "
                  "(fdatasync every 256); the events made %.2f disk writes "
                  "each, so the disk alone allows %.0f events/s"
                  % (disk, iops, per, iops / per if per else 0))
        if "memory" in phases:
            rss, hwm = node.rss()
            print("hridd memory with %d units: VmRSS %s, peak VmHWM %s"
                  % (len(codes), rss, hwm))
            size = os.path.getsize(os.path.join(tmp, "bench.db"))
            print("database file: %.0f MB" % (size / 1e6))
        proofs = [wrk(node.url, os.path.join(here, "wrk/get_proof.lua"),
                      {"LEAVES": str(len(codes))}, a.seconds)
                  for _ in range(a.runs)] if "proof" in phases else None
        proofs and print("GET /v1/log/proof/inclusion (random leaf of the first %d): "
              "%.0f req/s, p50 %.2f ms, p99 %.2f ms (median of %d runs), "
              "non-2xx %d" % (len(codes),
                              statistics.median(g[0] for g in proofs),
                              statistics.median(g[1] for g in proofs),
                              statistics.median(g[2] for g in proofs),
                              a.runs, sum(g[3] for g in proofs)))
        node.stop()
        node = None
        rates = []
        for _ in range(a.runs if "audit" in phases else 0):
            t = time.monotonic()
            out = subprocess.run([os.path.join(a.build, "hrid"), "audit",
                                  "--db", os.path.join(tmp, "bench.db"),
                                  "--json"], check=True, text=True,
                                 stdout=subprocess.PIPE).stdout
            rates.append(time.monotonic() - t)
            leaves = json.loads(out)["leaves"]
        if not rates:
            return
        dt = statistics.median(rates)
        print("hrid audit --db: %d leaves in %.2f s = %.0f leaves/s "
              "(median of %d runs, whole process)" % (leaves, dt,
                                                      leaves / dt, a.runs))
    finally:
        if node is not None:
            node.stop()
        if not a.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
