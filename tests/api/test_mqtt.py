"""Telemetry over MQTT (docs/telemetry.md "MQTT"), black-box against a real
mosquitto broker on a free loopback port: reports a unit signs with its
device key become queryable; unsigned, wrongly signed, misaddressed and
invalid messages are dropped, counted, and store nothing; messages queued
at the broker while hridd is down all arrive after its restart, each
stored once.

Units sign with an Ed25519 key made and used by the openssl tool; messages
are published with mosquitto_pub (QoS 1).  Needs the Debian packages
mosquitto, mosquitto-clients and openssl (scripts/install-deps.sh test).
"""

import base64
import contextlib
import datetime
import getpass
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from fixtures import (check_char, deploy_body, iso, now, ok, registry,
                      release_body, scrap_body, server, transfer_body)
from harness import hridd_path, persistent_db

MOSQUITTO = "/usr/sbin/mosquitto"
TAG = b"hrid-telemetry/v1\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def broker():
    """A mosquitto on a free loopback port, anonymous clients allowed,
    persistence in a temporary directory; yields its port."""
    d = tempfile.mkdtemp(prefix="hrid-mqtt-")
    port = free_port()
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                f"persistence true\npersistence_location {d}/\n"
                # As root mosquitto would become the user 'mosquitto',
                # which cannot write the temporary directory.
                f"user {getpass.getuser()}\n"
                f"log_dest file {d}/broker.log\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"mosquitto did not start on {port}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


class Device:
    """A unit's Ed25519 device key, kept by openssl in a PEM file."""

    def __init__(self, d):
        fd, self.pem = tempfile.mkstemp(suffix=".pem", dir=d)
        os.close(fd)
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", self.pem], check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", self.pem, "-pubout",
                              "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.public_key = base64.b64encode(der[-32:]).decode()

    def sign(self, data):
        # Ed25519 signs in one pass: openssl wants a file, not a pipe.
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(self.pem)) as f:
            f.write(data)
            f.flush()
            p = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey",
                                self.pem, "-rawin", "-in", f.name],
                               check=True, capture_output=True)
        assert len(p.stdout) == 64, p
        return p.stdout


def message(device, code, reports, sign_code=None, raw=None):
    """The payload of docs/telemetry.md "MQTT": the base64 signature of
    TAG + code + newline + the JSON bytes, a newline, the JSON bytes."""
    body = raw if raw is not None else json.dumps(reports).encode()
    sig = device.sign(TAG + (sign_code or code).encode() + b"\n" + body)
    return base64.b64encode(sig) + b"\n" + body


def publish(port, code, payload):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port),
                    "-q", "1", "-t", f"hrid/v1/telemetry/{code}", "-s"],
                   input=payload, check=True, capture_output=True, timeout=10)


def report(code, t, i=0, **extra):
    r = {"unit": code, "t": iso(t), "joints": [{"id": 0, "wear": round(0.1 + i * 0.0001, 4)}],
         "battery": {"soh": 0.97}}
    r.update(extra)
    return r


def wait_for(cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def subscribed(s):
    wait_for(lambda: "hridd: mqtt: subscribed to" in s.stderr(),
             "hridd's subscription")


def wears(actor, code, t0):
    q = (f"/v1/units/{code}/telemetry?metric=joint.0.wear&from={iso(t0)}"
         f"&to={iso(now() + datetime.timedelta(minutes=1))}")
    return [(p["t"], p["v"]) for p in ok(actor.get(q), 200, what=q)["points"]]


def unit_with_key(w, d, scrap=False):
    """A unit in service with a device key (or, with scrap, scrapped)."""
    dev = Device(d)
    code = w.register(device_key=dev.public_key,
                      at=iso(now() - datetime.timedelta(days=1)))
    w.event(w.maker, code, release_body())
    if scrap:
        w.event(w.maker, code, transfer_body(w.recycler.party, "sale"))
        w.event(w.recycler, code, scrap_body())
        return code, dev
    w.event(w.maker, code, transfer_body(w.owner.party, "sale", 12000, "CNY"))
    w.event(w.owner, code, deploy_body())
    return code, dev


def test_signed_reports_are_stored():
    with broker() as port, tempfile.TemporaryDirectory() as d, \
            registry("--mqtt", f"127.0.0.1:{port}") as w:
        subscribed(w.s)
        code, dev = unit_with_key(w, d)
        t0 = now() - datetime.timedelta(minutes=30)
        reps = [report(code, t0 + datetime.timedelta(minutes=i), i) for i in range(5)]
        publish(port, code, message(dev, code, reps))
        want = [(r["t"], r["joints"][0]["wear"]) for r in reps]
        got = wait_for(lambda: wears(w.owner, code, t0) == want and want,
                       "the reports")
        assert got == want
        # The topic's code may be written in any form hrid_code_parse
        # takes; the signature covers the canonical code.
        more = [report(code, t0 + datetime.timedelta(minutes=10))]
        publish(port, code.lower(), message(dev, code, more))
        wait_for(lambda: len(wears(w.owner, code, t0)) == 6, "the sixth report")


def test_bad_messages_are_dropped():
    with broker() as port, tempfile.TemporaryDirectory() as d, \
            registry("--mqtt", f"127.0.0.1:{port}") as w:
        subscribed(w.s)
        code, dev = unit_with_key(w, d)
        other, dev2 = unit_with_key(w, d)
        keyless = w.in_service()
        # A unit with a key that went for scrap, and a well-formed code
        # no unit holds.
        gone, dev3 = unit_with_key(w, d, scrap=True)
        ghost = code[:20] + "99999999"
        ghost += check_char(ghost)
        t0 = now() - datetime.timedelta(minutes=30)
        reps = [report(code, t0 + datetime.timedelta(minutes=i), i) for i in range(3)]
        body = json.dumps(reps).encode()
        bad = [
            # unsigned: the JSON alone, or an empty first line
            body,
            b"\n" + body,
            # signed by another unit's key
            message(dev2, code, reps),
            # signed for another unit's topic
            message(dev, code, reps, sign_code=other),
            # the reports' unit is not the topic's (signed by that unit)
            message(dev2, other, reps),
            # an invalid report, properly signed
            message(dev, code, [report(code, t0, joints=[{"id": 0, "wear": 1.5}])]),
            # not JSON, properly signed
            message(dev, code, None, raw=b"[{"),
            # a unit without a device key
            message(dev, keyless, [report(keyless, t0)]),
            # a scrapped unit, properly signed
            message(dev3, gone, [report(gone, t0)]),
            # no such unit
            message(dev, ghost, [report(ghost, t0)]),
        ]
        topics = {4: other, 7: keyless, 8: gone, 9: ghost}
        for i, p in enumerate(bad):
            publish(port, topics.get(i, code), p)
        # The broker delivers in order: once a good message of the same
        # unit arrives, the bad ones were handled.
        good = [report(code, t0 + datetime.timedelta(minutes=20), 20)]
        publish(port, code, message(dev, code, good))
        wait_for(lambda: len(wears(w.owner, code, t0)) == 1, "the good report")
        assert wears(w.owner, code, t0) == [(good[0]["t"], good[0]["joints"][0]["wear"])]
        assert wears(w.owner, other, t0) == []
        err = w.s.stderr()
        assert err.count("hridd: mqtt: dropped a message") == len(bad), err
        for reason in ("(unsigned)", "(bad signature)", "(invalid)", "(no device key)",
                       "(unit not live)", "(unknown unit)"):
            assert reason in err, (reason, err)
        assert "unit_mismatch" in err or "is not the topic's unit" in err, err
        s = w.s
        s.stop()
        err = s.stderr()
        assert ("hridd: mqtt: 11 messages, 1 reports accepted, 0 duplicates, "
                "0 to be delivered again; dropped: unsigned 2, bad signature 2, "
                "unknown unit 1, no device key 1, unit not live 1, invalid 3") in err, err


def test_messages_queued_while_hridd_is_down():
    with broker() as port, tempfile.TemporaryDirectory() as d, persistent_db() as db:
        args = ("--mqtt", f"127.0.0.1:{port}")
        t0 = now() - datetime.timedelta(minutes=90)
        with registry(*args, db=db) as w:
            subscribed(w.s)
            code, dev = unit_with_key(w, d)
            first = [report(code, t0 + datetime.timedelta(minutes=i), i) for i in range(10)]
            publish(port, code, message(dev, code, first))
            wait_for(lambda: len(wears(w.owner, code, t0)) == 10, "the first reports")
        # hridd is down: the broker keeps its session's messages, among
        # them reports sent already (a unit that did not see its PUBACK
        # sends again).
        msgs = []
        for k in range(6):
            reps = [report(code, t0 + datetime.timedelta(minutes=5 + 10 * k + i), 5 + 10 * k + i)
                    for i in range(10)]
            msgs.append(reps)
            publish(port, code, message(dev, code, reps))
        with server(*args, db=db) as s2:
            w.rebind(s2)
            want = sorted({r["t"]: r["joints"][0]["wear"] for m in [first] + msgs
                           for r in m}.items())
            assert len(want) == 65, len(want)
            wait_for(lambda: wears(w.owner, code, t0) == want, "the queued reports",
                     timeout=30)
            got = wears(w.owner, code, t0)
            assert len(got) == len(set(t for t, _ in got)) == 65
            s2.stop()
            err = s2.stderr()
            assert ("hridd: mqtt: 6 messages, 55 reports accepted, 5 duplicates"
                    in err), err


def test_no_broker_does_not_stop_hridd():
    port = free_port()
    with registry("--mqtt", f"127.0.0.1:{port}", cast=False) as w:
        status, _, _ = w.s.get("/healthz")
        assert status == 200
    for bad in ("nohostport", "127.0.0.1:0", ":1883", "127.0.0.1:99999"):
        p = subprocess.run([hridd_path(),
                            "--mqtt", bad], capture_output=True, text=True)
        assert p.returncode == 2 and "--mqtt" in p.stderr, (bad, p)
