#!/usr/bin/env python3
"""Telemetry ingest over MQTT through a real hridd and a real mosquitto
(docs/telemetry.md "MQTT", docs/PERFORMANCE.md "MQTT ingest").

A mosquitto on a free loopback port, then hridd with --mqtt on a fresh
database; U units (default 200) registered with Ed25519 device keys and put
in service.  Before the clock starts, M messages a run (default 2,000) are
built and signed: each holds R consecutive one-minute reports (default 10)
of one unit, the reports of bench/bench_telemetry_api.py (40 joints' wear
and temperature, battery, precision, hours: 85 values a report).  Then P
publisher processes (default 2) publish them at QoS 1 as fast as the broker
takes them, and the clock stops when hridd has stored every report (the
staged reports counted in the database every 20 ms).  Prints reports/s and
values/s (median of N runs), the publishers' own rate, and hridd's counts
at shutdown, which must show every report accepted and nothing dropped.

The publishers speak MQTT 3.1.1 over a socket themselves (CONNECT,
PUBLISH at QoS 1, PUBACK: about forty lines), because neither paho nor
another MQTT module is installed here and mosquitto_pub -l cannot send a
payload that holds a newline.  Signing uses the cryptography module.

The broker is told to queue without limit (max_queued_messages 0): its
default of 1,000 queued messages a client would drop QoS 1 messages for
hridd once the publishers run ahead of it, which is what a burst does.

Usage: bench/bench_mqtt.py BUILD_DIR [--units U] [--messages M]
                                     [--reports R] [--publishers P]
"""
import argparse
import base64
import datetime
import getpass
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_api  # noqa: E402
import bench_telemetry_api  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"
TAG = b"hrid-telemetry/v1\n"
VALUES = bench_telemetry_api.JOINTS * 2 + 5
# In-flight PUBLISH packets a publisher allows itself: below the 65,535
# packet identifiers MQTT has, and enough to keep the socket full.
WINDOW = 2000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(d):
    """A mosquitto on a free loopback port; returns (process, port)."""
    port = free_port()
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n"
                "persistence false\nmax_queued_messages 0\n"
                # As root mosquitto would become the user 'mosquitto'.
                "user %s\nlog_dest file %s/broker.log\n"
                % (port, getpass.getuser(), d))
    proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("mosquitto did not start on %d" % port)
            time.sleep(0.05)


def start_hridd(build, d, port):
    """hridd on a fresh database with --mqtt, its stderr kept in a file so
    the subscription and the counts at shutdown can be read."""
    err = open(os.path.join(d, "hridd.err"), "w+")
    node = bench_api.Node.__new__(bench_api.Node)
    node.proc = subprocess.Popen(
        [os.path.join(build, "hridd"), "--db", os.path.join(d, "bench.db"),
         "--listen", "127.0.0.1:0", "--quiet", "--compact-ms", "3600000",
         "--mqtt", "127.0.0.1:%d" % port],
        stdout=subprocess.PIPE, stderr=err,
        env=dict(os.environ, HRID_ADMIN_KEY=bench_api.ADMIN), text=True)
    while True:
        line = node.proc.stdout.readline()
        if not line:
            sys.exit("hridd exited before listening")
        m = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if m:
            node.host, node.port = m.group(1), int(m.group(2))
            break
    deadline = time.monotonic() + 10
    while "hridd: mqtt: subscribed to" not in stderr_of(err):
        if time.monotonic() > deadline:
            sys.exit("hridd did not subscribe: " + stderr_of(err))
        time.sleep(0.05)
    return node, err


def stderr_of(f):
    f.seek(0)
    return f.read()


def mqtt_str(b):
    return struct.pack("!H", len(b)) + b


def mqtt_packet(first, body):
    n, size = len(body), b""
    while True:
        n, digit = n >> 7, n & 0x7F
        size += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + size + body


def publisher(port, msgs, go, out):
    """Publishes msgs ((topic, payload) pairs) at QoS 1 once go is set and
    puts the seconds until the last PUBACK on out."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cid = b"bench-pub-%d" % os.getpid()
    s.sendall(mqtt_packet(0x10, mqtt_str(b"MQTT") + b"\x04\x02\x00\x3c" +
                          mqtt_str(cid)))
    if s.recv(4) != b"\x20\x02\x00\x00":
        sys.exit("the broker refused the publisher")
    packets = [mqtt_packet(0x32, mqtt_str(t) + struct.pack("!H", 1 + i % 65535) + p)
               for i, (t, p) in enumerate(msgs)]
    window = threading.Semaphore(WINDOW)

    def reader():
        # PUBACKs are 4 bytes each; count them, whatever the packet id.
        left, buf = len(packets), b""
        while left:
            buf += s.recv(65536)
            while len(buf) >= 4 and left:
                if buf[0] != 0x40:
                    sys.exit("unexpected packet 0x%02x from the broker" % buf[0])
                buf = buf[4:]
                left -= 1
                window.release()

    go.wait()
    t0 = time.monotonic()
    r = threading.Thread(target=reader)
    r.start()
    for p in packets:
        window.acquire()
        s.sendall(p)
    r.join()
    out.put(time.monotonic() - t0)
    s.sendall(b"\xe0\x00")
    s.close()


def staged(db):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM telemetry WHERE kind = 1").fetchone()[0]
    finally:
        con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--reports", type=int, default=10)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hrid-bench-mqtt-")
    broker = node = err = None
    try:
        broker, port = start_broker(tmp)
        node, err = start_hridd(a.build, tmp, port)
        mk, _, models = bench_api.setup(node, 2)
        owner, ok_ = bench_api.owner(node)
        # Registered 30 days ago, so that the reports (from 20 days ago on)
        # are not before the units' registration.
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=20)
        reg_at = bench_telemetry_api.iso(start - datetime.timedelta(days=10))
        keys = [Ed25519PrivateKey.generate() for _ in range(a.units)]
        units = []
        for i, k in enumerate(keys):
            u = bench_api.unit(i, models)
            u["at"] = reg_at
            raw = k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            u["device_key"] = base64.b64encode(raw).decode()
            units.append(u)
        out = node.call("POST", "/v1/units", {"units": units}, key=mk)
        codes = [u["code"] for u in out["units"]]
        bench_api.put_in_service(node, mk, owner, ok_, codes)

        # Every run's messages, signed before any clock starts.  Message k
        # of a run is of unit k % U, so with U a multiple of P each unit's
        # messages go through one publisher, in time order.
        rnd = random.Random(7)
        runs_msgs = []
        nbytes = 0
        for run in range(a.runs):
            msgs = []
            for k in range(a.messages):
                u = k % a.units
                m0 = (run * a.messages + k) // a.units * a.reports
                reps = [bench_telemetry_api.report(
                    codes[u], start + datetime.timedelta(minutes=m0 + i), m0 + i, rnd)
                    for i in range(a.reports)]
                body = json.dumps(reps).encode()
                sig = keys[u].sign(TAG + codes[u].encode() + b"\n" + body)
                payload = base64.b64encode(sig) + b"\n" + body
                nbytes += len(payload)
                msgs.append((b"hrid/v1/telemetry/" + codes[u].encode(), payload))
            runs_msgs.append(msgs)

        db = os.path.join(tmp, "bench.db")
        total = a.messages * a.reports
        rates, pub_rates = [], []
        ctx = multiprocessing.get_context("fork")
        for run in range(a.runs):
            before = staged(db)
            go, q = ctx.Event(), ctx.Queue()
            procs = [ctx.Process(target=publisher,
                                 args=(port, runs_msgs[run][p::a.publishers], go, q))
                     for p in range(a.publishers)]
            for p in procs:
                p.start()
            time.sleep(0.5)  # connected, packets built
            t0 = time.monotonic()
            go.set()
            deadline = t0 + 600
            while staged(db) - before < total:
                dropped = [ln for ln in stderr_of(err).splitlines()
                           if "dropped a message" in ln]
                if dropped:
                    sys.exit("bench_mqtt: %d messages dropped, the first: %s"
                             % (len(dropped), dropped[0]))
                if time.monotonic() > deadline:
                    sys.exit("hridd stored %d of %d reports in 600 s"
                             % (staged(db) - before, total))
                time.sleep(0.02)
            dt = time.monotonic() - t0
            pub = max(q.get() for _ in procs)
            for p in procs:
                p.join()
            rates.append(total / dt)
            pub_rates.append(total / pub)
        r = statistics.median(rates)
        print("MQTT QoS 1 -> hridd: %.0f reports/s = %.0f values/s stored "
              "(median of %d runs of %d messages of %d reports, %.1f KB each, "
              "%d units, %d publishers, %d values a report)"
              % (r, r * VALUES, a.runs, a.messages, a.reports,
                 nbytes / (a.runs * a.messages) / 1024, a.units,
                 a.publishers, VALUES))
        print("runs: " + ", ".join("%.0f" % x for x in rates) + " reports/s")
        print("publishers alone (until the broker's last PUBACK): %.0f reports/s"
              % statistics.median(pub_rates))
        node.stop()
        node = None
        counts = [ln for ln in stderr_of(err).splitlines()
                  if re.match(r"hridd: mqtt: \d+ messages", ln)]
        print(counts[-1] if counts else "hridd printed no counts")
        want = "hridd: mqtt: %d messages, %d reports accepted, 0 duplicates" \
            % (a.runs * a.messages, a.runs * total)
        if not counts or not counts[-1].startswith(want):
            sys.exit("bench_mqtt: expected '%s'" % want)
    finally:
        if node is not None:
            node.stop()
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        if err is not None:
            err.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
