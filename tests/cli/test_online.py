"""End-to-end tests of hrid's online commands against a real hridd.

One hridd (env HRIDD, default build/san/hridd; started by
tests/api/harness.py) on a temporary database serves every test here; the
last test stops it and checks that it exited cleanly, so a sanitizer
report in the server fails the suite.  The hrid binary (env HRID) is run
as a subprocess, as a user would, with --server and --key.

run.py runs these tests after its own (offline) ones.  Python 3 standard
library only.
"""

import atexit
import csv
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

from harness import Server  # noqa: E402  (needs the path above)

HRID = os.path.abspath(os.environ.get("HRID", "build/san/hrid"))
ADMIN = "cli-test-admin-key-0123456789abcdef"

OK, FAIL, USAGE, CONN = 0, 1, 2, 3

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def mod3736_check(body):
    """ISO 7064 MOD 37,36 check character (as in run.py)."""
    p = 36
    for ch in body:
        s = (p + ALPHABET.index(ch)) % 36
        p = ((s or 36) * 2) % 37
    for c in range(36):
        if (p + c) % 36 == 1:
            return ALPHABET[c]
    raise AssertionError("no check character")


# ---- the server and the world the tests share ---------------------------


class World:
    """One server plus what most tests need: an enterprise with a
    manufacturer key, a regulator key, an owner and a service party."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="hrid-cli-test-")
        self.server = Server(env={"HRID_ADMIN_KEY": ADMIN})
        self.server.start()
        self.url = self.server.url
        try:
            self.setup()
        except BaseException:
            self.server.stop(check=False)
            raise

    def setup(self):
        st, out, err = self.hrid("enterprises", "enrol", "--country", "CN",
                                 "--name", "CLI Test Robotics", key=ADMIN)
        expect(st == OK, "enrol: %d %r" % (st, err))
        self.ent = out.strip()
        ent = self.json("enterprises", "get", self.ent)
        self.maker_party = ent["party"]
        self.maker = self.new_key(self.maker_party, "manufacturer")
        st, out, err = self.hrid("parties", "create", "--kind", "regulator",
                                 "--name", "Test Regulator", "--country", "CN",
                                 key=ADMIN)
        expect(st == OK, "regulator party: %r" % err)
        self.regulator = self.new_key(int(out), "regulator")
        st, out, err = self.hrid("parties", "create", "--kind", "owner",
                                 "--name", "Care Homes", "--country", "CN",
                                 key=ADMIN)
        expect(st == OK, "owner party: %r" % err)
        self.owner_party = int(out)
        self.owner = self.new_key(self.owner_party, "owner")
        st, out, err = self.hrid("parties", "create", "--kind", "service",
                                 "--name", "Fix It Ltd", "--country", "CN",
                                 key=ADMIN)
        expect(st == OK, "service party: %r" % err)
        self.service_party = int(out)
        self.n_models = 0

    def hrid(self, *args, key=None, timeout=300, server=None):
        argv = [HRID, "--server", server or self.url]
        if key is not None:
            argv += ["--key", key]
        p = subprocess.run(argv + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout,
                           cwd=self.tmp)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def json(self, *args, key=None):
        st, out, err = self.hrid(*args, "--json", key=key)
        expect(st == OK, "%s: exit %d: %s" % (" ".join(args), st, err))
        try:
            return json.loads(out)
        except ValueError as e:
            raise AssertionError("%s: not JSON (%s): %r" % (args, e, out[:300]))

    def new_key(self, party, role):
        st, out, err = self.hrid("keys", "create", "--party", str(party),
                                 "--role", role, key=ADMIN)
        expect(st == OK, "keys create: %d %r" % (st, err))
        key = out.strip()
        expect(key.startswith("hrid_") and "\n" not in key, "key %r" % out)
        return key

    def new_model(self, approve=True):
        """Files (and approves) a fresh model, so a test can count its
        own units exactly."""
        self.n_models += 1
        st, out, err = self.hrid("models", "file", self.ent, "--name",
                                 "T%d" % self.n_models, "--level", "3",
                                 "--filing-year", "2026", "--params",
                                 '{"dof":41,"mass_kg":62.5}', key=self.maker)
        expect(st == OK, "models file: %d %r" % (st, err))
        model = out.strip()
        expect(len(model) == 12 and model.startswith(self.ent), "model %r" % model)
        if approve:
            st, out, err = self.hrid("models", "approve", model, key=self.regulator)
            expect(st == OK, "approve: %d %r" % (st, err))
        return model

    def codes_of(self, model):
        """Every code of the model, through 'units list --all --json'."""
        doc = self.json("units", "list", "--all", "--model", model, key=self.maker)
        expect(doc.get("next_cursor") is None, "merged list has a cursor")
        return [u["code"] for u in doc["items"]]

    def path(self, name):
        return os.path.join(self.tmp, name)

    def stop(self):
        self.server.stop(check=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


_world = None
_crashes = []   # hridd's stderr each time it died under a test


def world():
    """The shared World; a fresh one when hridd died under an earlier test
    (that test failed on its own; the death is reported at the end)."""
    global _world
    if _world is not None and _world.server.proc.poll() is not None:
        _crashes.append(_world.server.stderr()[-3000:])
        try:
            _world.server.stop(check=False)
        except Exception:   # it is gone either way
            pass
        _world = None
    if _world is None:
        _world = World()
    return _world


@atexit.register
def _stop_world():
    """No hridd outlives the run, whatever stopped it early."""
    if _world is not None and _world.server.proc is not None:
        _world.server.stop(check=False)


# ---- writing import files -----------------------------------------------

COLUMNS = ["model", "serial", "batch", "production_date", "factory",
           "firmware", "components", "device_key"]


def unit_row(model, i, serial=""):
    comps = [{"slot": "joint.knee.left", "part_no": "HX-KM-40",
              "supplier": "Harmonic Co", "lot": "HX2605", "serial": "KM%06d" % i}]
    return {"model": model, "serial": serial, "batch": "L2026-05-%d" % (i // 1000),
            "production_date": "2026-05-%02d" % (1 + i % 28),
            "factory": "Shenzhen, plant \"2\"",      # quotes and a comma
            "firmware": "main=1.4.%d; arm=2.0" % (i % 10),
            "components": json.dumps(comps), "device_key": ""}


def write_csv(path, rows, raw_lines=None):
    """rows: dicts; raw_lines: {index: text} replaces row index by a raw
    (possibly malformed) CSV line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for i, r in enumerate(rows):
        if raw_lines and i in raw_lines:
            buf.write(raw_lines[i] + "\n")
        else:
            w.writerow([r[c] for c in COLUMNS])
    with open(path, "w") as f:
        f.write(buf.getvalue())


def serial16(prefix, i):
    s = "%s%014d" % (prefix, i)
    expect(len(s) == 16, "serial %r" % s)
    return s


def read_state(path):
    with open(path + ".hrid-import") as f:
        return json.load(f)


def write_state(path, st):
    with open(path + ".hrid-import", "w") as f:
        json.dump(st, f)


# ---- tests --------------------------------------------------------------


def test_online_help():
    for cmd in ("units", "events", "grants", "models", "enterprises",
                "parties", "keys"):
        p = subprocess.run([HRID, cmd, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        expect(p.returncode == OK, "%s --help: %d" % (cmd, p.returncode))
        expect(p.stdout.decode().startswith("usage: hrid " + cmd), cmd)
    p = subprocess.run([HRID, "units", "import", "--help"], stdout=subprocess.PIPE)
    expect(p.returncode == OK and b"--batch-size" in p.stdout, "import --help")
    p = subprocess.run([HRID, "units", "frob"], stderr=subprocess.PIPE)
    expect(p.returncode == USAGE and b"unknown subcommand" in p.stderr, "frob")
    p = subprocess.run([HRID, "units", "register", "--model", "X"],
                       stderr=subprocess.PIPE)
    expect(p.returncode == USAGE and b"missing --production-date" in p.stderr,
           "register without a date: %r" % p.stderr)
    p = subprocess.run([HRID, "units", "import", "x.txt"], stderr=subprocess.PIPE)
    expect(p.returncode == USAGE and b"--format" in p.stderr, "unknown extension")
    p = subprocess.run([HRID, "units", "import", "x.csv", "--batch-size", "10001"],
                       stderr=subprocess.PIPE)
    expect(p.returncode == USAGE, "batch size over the API's limit")


def test_online_enterprises_parties_keys():
    w = world()
    doc = w.json("enterprises", "get", w.ent)
    expect(doc["enterprise"] == w.ent and doc["name"] == "CLI Test Robotics",
           "enterprise %r" % doc)
    st, out, err = w.hrid("enterprises", "get", w.ent)
    expect(st == OK and "name: CLI Test Robotics" in out, "human %r" % out)
    st, out, err = w.hrid("enterprises", "enrol", "--country", "CN",
                          "--name", "Second", "--public-name", "Two", key=ADMIN)
    expect(st == OK and out.strip() != w.ent and out.startswith("CN"), out)
    # keys: the secret is printed once, listed without it, revocable
    key = w.new_key(w.owner_party, "owner")
    doc = w.json("keys", "list", "--party", str(w.owner_party), key=ADMIN)
    expect(len(doc["items"]) == 2, "keys %r" % doc)
    expect(all("key" not in k for k in doc["items"]), "a secret was listed")
    st, out, err = w.hrid("keys", "list", "--party", str(w.owner_party), key=ADMIN)
    expect(st == OK and out.startswith("KEY ID") and len(out.splitlines()) == 3,
           "human list %r" % out)
    st, out, err = w.hrid("units", "list", key=key)
    expect(st == OK, "new key works: %r" % err)
    newest = doc["items"][-1]["key_id"]
    st, out, err = w.hrid("keys", "revoke", newest, key=ADMIN)
    expect(st == OK and out.startswith("revoked " + newest), "revoke %r" % out)
    st, out, err = w.hrid("units", "list", key=key)
    expect(st == FAIL and err.startswith("error: ") and "key" in err,
           "revoked key: %d %r" % (st, err))
    # only the admin creates parties
    st, out, err = w.hrid("parties", "create", "--kind", "owner", "--name",
                          "X", "--country", "CN", key=w.maker)
    expect(st == FAIL and err.startswith("error: "), "maker made a party: %r" % err)
    st, out, err = w.hrid("parties", "create", "--kind", "owner", "--name",
                          "X", "--country", "CN", "--info", "{bad", key=ADMIN)
    expect(st == USAGE and "not JSON" in err, "bad --info: %r" % err)


def test_online_models():
    w = world()
    model = w.new_model(approve=False)
    doc = w.json("models", "get", model)
    expect(doc["status"] == "filed" and doc["level"] == 3, "model %r" % doc)
    st, out, err = w.hrid("models", "approve", model, key=w.maker)
    expect(st == FAIL and err.startswith("error: "), "maker approved: %r" % err)
    st, out, err = w.hrid("models", "approve", model, key=w.regulator)
    expect(st == OK and out == model + ": approved\n", "approve %r %r" % (out, err))
    st, out, err = w.hrid("models", "get", model)
    expect(st == OK and "status: approved" in out, "human %r" % out)
    st, out, err = w.hrid("models", "list", w.ent, "--all")
    expect(st == OK and model in out and out.startswith("MODEL"), "list %r" % out)
    other = w.new_model(approve=False)
    st, out, err = w.hrid("models", "withdraw", other, key=w.maker)
    expect(st == OK and out == other + ": withdrawn\n", "withdraw %r %r" % (out, err))
    st, out, err = w.hrid("units", "register", "--model", other,
                          "--production-date", "2026-05-01", key=w.maker)
    expect(st == FAIL and err.startswith("error: "), "withdrawn model: %r" % err)
    st, out, err = w.hrid("models", "file", w.ent, "--name", "Bad", "--level",
                          "9", key=w.maker)
    expect(st == FAIL and "level" in err, "level 9: %d %r" % (st, err))


def test_online_register_get_list():
    w = world()
    model = w.new_model()
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", "--batch", "B1",
                          "--firmware", "main=1.4.2;arm=2.0", key=w.maker)
    expect(st == OK, "register: %d %r" % (st, err))
    code = out.strip()
    expect(len(code) == 29 and code[:12] == model
           and code[28] == mod3736_check(code[:28]), "code %r" % code)
    doc = w.json("units", "get", code, key=w.maker)
    expect(doc["code"] == code and doc["state"] == "registered"
           and doc["firmware"] == {"main": "1.4.2", "arm": "2.0"}, "unit %r" % doc)
    # forgiving input, like the API
    display = "%s-%s-%s-%s-%s" % (code[:2], code[2:6], code[6:12], code[12:28], code[28])
    st, out, err = w.hrid("units", "get", display.lower())
    expect(st == OK and "state: registered" in out and "view: public" in out,
           "public get %r %r" % (out, err))
    serial = serial16("SN", 1)
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", "--serial", serial,
                          key=w.maker)
    expect(st == OK and out.strip()[12:28] == serial, "own serial %r" % out)
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", "--serial", serial,
                          key=w.maker)
    expect(st == FAIL and "already registered" in err, "twice: %r" % err)
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", "--serial", "XX",
                          key=w.maker)
    expect(st == FAIL and err.startswith("error: ") and "serial" in err,
           "bad serial: %r" % err)
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", "--firmware", "x",
                          key=w.maker)
    expect(st == USAGE and "name=version" in err, "bad firmware: %r" % err)
    for i in range(5):
        w.hrid("units", "register", "--model", model, "--production-date",
               "2026-05-23", key=w.maker)
    # pages of 2, followed to the end, give the 7 units once each
    doc = w.json("units", "list", "--model", model, "--all", "--limit", "2",
                 key=w.maker)
    codes = [u["code"] for u in doc["items"]]
    expect(len(codes) == 7 and len(set(codes)) == 7, "all %r" % codes)
    st, out, err = w.hrid("units", "list", "--model", model, "--limit", "2",
                          key=w.maker)
    expect(st == OK and len(out.splitlines()) == 3 and "--cursor" in err,
           "one page %r %r" % (out, err))
    doc = w.json("units", "list", "--model", model, "--state", "released",
                 "--all", key=w.maker)
    expect(doc["items"] == [], "released %r" % doc)


def test_online_events_grants():
    w = world()
    model = w.new_model()
    st, out, err = w.hrid("units", "register", "--model", model,
                          "--production-date", "2026-05-22", key=w.maker)
    code = out.strip()
    doc = w.json("events", "add", code, "--type", "release",
                 "--market-filing-no", "MIIT-2026-1", key=w.maker)
    expect(doc["type"] == "release" and doc["state"] == "released"
           and doc["body"].get("market_filing_no") == "MIIT-2026-1", "release %r" % doc)
    body = json.dumps({"type": "transfer", "kind": "sale"})
    doc = w.json("events", "add", code, "--json-body", body, "--to",
                 str(w.owner_party), key=w.maker)
    expect(doc["type"] == "transfer" and doc["body"].get("to") == w.owner_party,
           "transfer %r" % doc)
    st, out, err = w.hrid("events", "add", code, "--type", "deploy",
                          "--site", '{"name":"Ward 3","region":"440305",'
                          '"lat":22.543,"lon":113.95}',
                          "--scenario", "care", key=w.owner)
    expect(st == OK and "state: in_service" in out, "deploy %d %r %r" % (st, out, err))
    st, out, err = w.hrid("events", "add", code, "--type", "deploy",
                          "--site", '{"name":"Ward 3"}', key=w.maker)
    expect(st == FAIL and err.startswith("error: "), "maker deploy: %r" % err)
    st, out, err = w.hrid("grants", "add", code, "--grantee",
                          str(w.service_party), "--scope", "service", "--until",
                          "2030-01-01T00:00:00Z", key=w.owner)
    expect(st == OK and "scope: service" in out, "grant %d %r %r" % (st, out, err))
    doc = w.json("events", "list", code, "--all", key=w.owner)
    types = [e["type"] for e in doc["items"]]
    expect(types[:3] == ["register", "release", "transfer"] and "deploy" in types,
           "history %r" % types)
    # --json prints the server's own bytes, indented: numbers are never
    # re-encoded (a double printed again could change its digits)
    st, out, err = w.hrid("events", "list", code, "--json", key=w.owner)
    conn = http.client.HTTPConnection(w.server.host, w.server.port, timeout=30)
    conn.request("GET", "/v1/units/%s/events" % code,
                 headers={"Authorization": "Bearer " + w.owner})
    raw = conn.getresponse().read().decode()
    conn.close()
    number = r'(?<=[:\[,\s])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?'
    expect(st == OK and json.loads(out) == json.loads(raw)
           and re.findall(number, out) == re.findall(number, raw)
           and any("22.54" in x for x in re.findall(number, out)),
           "--json differs from the reply: %r vs %r" % (out[-300:], raw[-300:]))
    st, out, err = w.hrid("units", "get", code, key=w.owner)
    expect(st == OK and "site.lat: 22.543\n" in out, "human lat: %r" % out)
    st, out, err = w.hrid("events", "list", code, key=w.owner)
    expect(st == OK and out.startswith("SEQ") and "release" in out, "human %r" % out)
    st, out, err = w.hrid("events", "add", code, "--type", "teleport", key=w.owner)
    expect(st == FAIL and err.startswith("error: "), "bad type: %r" % err)
    st, out, err = w.hrid("events", "add", code, key=w.owner)
    expect(st == USAGE and "missing --type" in err, "no type: %r" % err)


def test_online_errors():
    w = world()
    st, out, err = w.hrid("units", "list", key="hrid_not_a_real_key")
    expect(st == FAIL and err.startswith("error: ") and "not valid" in err,
           "bad key: %d %r" % (st, err))
    st, out, err = w.hrid("units", "list")
    expect(st == FAIL and "needs an API key" in err and "hint:" in err,
           "no key: %r" % err)
    good = "CN00013260012605220000000001M"
    bad = good[:-1] + "X"
    st, out, err = w.hrid("units", "get", bad)
    expect(st == FAIL and out == "" and
           "check character is 'X', expected 'M'" in err, "bad code: %r" % err)
    st, out, err = w.hrid("events", "list", "CN00", key=w.maker)
    expect(st == FAIL and "invalid code" in err, "short code: %r" % err)
    unknown = "CN9999326001260522000000000"
    unknown += "1" + mod3736_check(unknown + "1")
    st, out, err = w.hrid("units", "get", unknown)
    expect(st == FAIL and err.startswith("error: "), "unknown unit: %d %r" % (st, err))
    st, out, err = w.hrid("units", "list", key=ADMIN, server="http://127.0.0.1:1")
    expect(st == CONN and "cannot reach" in err, "no server: %d %r" % (st, err))
    st, out, err = w.hrid("units", "list", server="ftp://example.org")
    expect(st == USAGE, "ftp: %d %r" % (st, err))
    # HRID_SERVER and HRID_KEY stand in for the options
    env = dict(os.environ, HRID_SERVER=w.url, HRID_KEY=w.maker)
    p = subprocess.run([HRID, "units", "list", "--limit", "1"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.returncode == OK, "env: %r" % p.stderr)


def test_online_import_csv_5000():
    w = world()
    model = w.new_model()
    path = w.path("units5000.csv")
    write_csv(path, [unit_row(model, i) for i in range(5000)])
    st, out, err = w.hrid("units", "import", path, "--codes",
                          w.path("codes5000.txt"), key=w.maker)
    expect(st == OK, "import: %d %r" % (st, err[-500:]))
    expect(err.endswith("5000 rows: 5000 registered, 0 refused\n"), "summary %r" % err[-200:])
    with open(w.path("codes5000.txt")) as f:
        written = f.read().split()
    expect(len(written) == 5000 and len(set(written)) == 5000, "%d codes" % len(written))
    listed = w.codes_of(model)
    expect(sorted(listed) == sorted(written), "listed %d, written %d"
           % (len(listed), len(written)))
    doc = w.json("units", "get", written[4321], key=w.maker)
    expect(doc["factory"] == 'Shenzhen, plant "2"' and doc["components"][0]["serial"]
           == "KM004321" and doc["firmware"] == {"main": "1.4.1", "arm": "2.0"},
           "row 4321 %r" % doc)
    # re-running a finished import registers nothing
    st, out, err = w.hrid("units", "import", path, key=w.maker)
    expect(st == OK and "imported already" in err, "re-run %r" % err)
    expect(len(w.codes_of(model)) == 5000, "re-run added units")
    # even when its state is lost: the same keys are replayed
    os.unlink(path + ".hrid-import")
    st, out, err = w.hrid("units", "import", path, "--quiet", key=w.maker)
    expect(st == OK and "5000 registered" in err, "stateless re-run %r" % err[-300:])
    expect(len(w.codes_of(model)) == 5000, "stateless re-run added units")


def test_online_import_jsonl():
    w = world()
    model = w.new_model()
    path = w.path("units.jsonl")
    with open(path, "w") as f:
        for i in range(1500):
            u = {"model": model, "production_date": "2026-05-22",
                 "batch": "J%d" % (i // 100), "firmware": {"main": "1.0.%d" % i}}
            if i % 2:
                u["serial"] = serial16("JL", i)
            f.write(json.dumps(u) + ("\r\n" if i % 3 == 0 else "\n"))
            if i == 700:
                f.write("\n   \n")          # blank lines are not rows
    st, out, err = w.hrid("units", "import", path, "--batch-size", "400",
                          "--json", key=w.maker)
    expect(st == OK, "import: %d %r" % (st, err[-500:]))
    doc = json.loads(out)
    expect(doc["rows"] == 1500 and doc["registered"] == 1500 and doc["refused"] == 0,
           "summary %r" % doc)
    codes = w.codes_of(model)
    expect(len(codes) == 1500 and len(set(codes)) == 1500, "%d units" % len(codes))
    expect(sum(1 for c in codes if c[12:14] == "JL") == 750, "own serials")


def test_online_import_progress():
    """A bar with rate and ETA when stderr is a terminal; nothing but the
    summary with --quiet."""
    w = world()
    model = w.new_model()
    path = w.path("progress.csv")
    write_csv(path, [unit_row(model, i) for i in range(3000)])
    master, slave = os.openpty()
    try:
        p = subprocess.Popen([HRID, "--server", w.url, "--key", w.maker, "units",
                              "import", path, "--batch-size", "100"],
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        tty = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:     # EIO: the other end is closed
                break
            if not chunk:
                break
            tty += chunk
        out = p.stdout.read()
        p.stdout.close()
        expect(p.wait(120) == OK, "exit %r: %r" % (p.returncode, tty[-300:]))
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    text = tty.decode("utf-8", "replace")
    expect("\r" in text and "[#" in text and "units/s" in text and "ETA" in text
           and "3000/3000 rows 100%" in text, "no progress bar: %r" % text[-400:])
    expect(text.rstrip().endswith("3000 rows: 3000 registered, 0 refused"),
           "summary %r" % text[-200:])
    expect(out == b"", "stdout %r" % out[:200])
    os.unlink(path + ".hrid-import")
    # without its state, the same file in the same batches is replayed
    st, out, err = w.hrid("units", "import", path, "--quiet", "--batch-size",
                          "100", key=w.maker)
    expect(st == OK and err == "note: 30 batches had landed in an earlier run; "
           "the server replayed their replies\n"
           "3000 rows: 3000 registered, 0 refused\n", "quiet %r" % err)
    expect(len(w.codes_of(model)) == 3000, "count")


def test_online_import_bad_rows():
    w = world()
    model = w.new_model()
    path = w.path("bad.csv")
    rows = [unit_row(model, i, serial16("BR", i)) for i in range(2000)]
    rows[10]["production_date"] = "2026-13-01"          # server: bad date
    rows[1234]["serial"] = serial16("BR", 5)            # server: registered in batch 0
    raw = {1700: '%s,AB"C,L1,2026-05-01,,,,' % model}    # local: bad CSV
    raw[1701] = "%s,,L1,2026-05-01" % model              # local: too few cells
    write_csv(path, rows, raw)
    st, out, err = w.hrid("units", "import", path, "--batch-size", "500",
                          "--codes", w.path("bad-codes.txt"), key=w.maker)
    expect(st == FAIL, "exit %d; %r" % (st, err[-500:]))
    lines = [ln for ln in err.splitlines() if ln.startswith("line ")]
    # data row i is on line i + 2 (line 1 is the header)
    expect(any(ln.startswith("line 12: units[") and "production_date" in ln
               for ln in lines), "date row: %r" % lines)
    expect(any(ln.startswith("line 1236: units[") and "already registered" in ln
               for ln in lines), "duplicate row: %r" % lines)
    expect(any(ln.startswith("line 1702: ") for ln in lines), "bad CSV: %r" % lines)
    expect(any(ln.startswith("line 1703: ") and "cells" in ln for ln in lines),
           "short row: %r" % lines)
    expect(len(lines) == 4, "%d reported: %r" % (len(lines), lines))
    expect(err.endswith("2000 rows: 1996 registered, 4 refused\n"), "summary %r" % err[-200:])
    codes = w.codes_of(model)
    expect(len(codes) == 1996 and len(set(codes)) == 1996, "%d units" % len(codes))
    with open(w.path("bad-codes.txt")) as f:
        expect(sorted(f.read().split()) == sorted(codes), "codes file")
    st = read_state(path)
    expect(st["refused_lines"] == [12, 1236, 1702, 1703], "state %r" % st["refused_lines"])


def test_online_import_killed():
    """SIGKILL the import mid-way, re-run it: every row lands once."""
    w = world()
    model = w.new_model()
    path = w.path("killed.csv")
    n = 4000
    write_csv(path, [unit_row(model, i) for i in range(n)])
    codes_path = w.path("killed-codes.txt")
    argv = [HRID, "--server", w.url, "--key", w.maker, "units", "import", path,
            "--batch-size", "40", "--codes", codes_path]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            try:
                done = read_state(path)["batches_done"]
            except (OSError, ValueError, KeyError):
                done = 0
            if done >= 10:
                break
            time.sleep(0.01)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
    expect(p.returncode == -signal.SIGKILL, "import ended before the kill (%r)"
           % p.returncode)
    before = len(w.codes_of(model))
    expect(0 < before < n, "%d units before the re-run" % before)
    st, out, err = w.hrid("units", "import", path, "--codes", codes_path, key=w.maker)
    expect(st == OK, "re-run: %d %r" % (st, err[-500:]))
    expect("resuming" in err and err.endswith("%d rows: %d registered, 0 refused\n"
                                              % (n, n)), "summary %r" % err[-300:])
    codes = w.codes_of(model)
    expect(len(codes) == n and len(set(codes)) == n, "%d units, %d distinct"
           % (len(codes), len(set(codes))))
    with open(codes_path) as f:
        written = f.read().split()
    expect(sorted(written) == sorted(codes), "codes file: %d lines" % len(written))


def test_online_import_lost_acks():
    """The worst interruption: batches the server committed but the state
    file never recorded (killed between the reply and the save), one of
    them after a refused row was dropped.  The re-run must get those
    batches replayed, not registered again."""
    w = world()
    model = w.new_model()
    path = w.path("lost.csv")
    n = 1000
    rows = [unit_row(model, i) for i in range(n)]
    rows[650]["production_date"] = "not-a-date"
    write_csv(path, rows)
    codes_path = w.path("lost-codes.txt")
    st, out, err = w.hrid("units", "import", path, "--batch-size", "100",
                          "--codes", codes_path, key=w.maker)
    expect(st == FAIL and "line 652: " in err, "first run %d %r" % (st, err[-300:]))
    expect(len(w.codes_of(model)) == n - 1, "first run count")
    # Roll the state back to "5 batches done, batch 6 had line 652
    # dropped and was in flight": batches 5 and 6 landed unrecorded.
    state = read_state(path)
    state.update(batches_done=5, registered=500, refused_lines=[],
                 current_batch=6, current_dropped=[652], complete=False,
                 codes_bytes=500 * 30, rows=0)
    write_state(path, state)
    st, out, err = w.hrid("units", "import", path, "--codes", codes_path, key=w.maker)
    expect(st == FAIL and err.endswith("1000 rows: 999 registered, 1 refused\n"),
           "re-run %d %r" % (st, err[-300:]))
    codes = w.codes_of(model)
    expect(len(codes) == n - 1 and len(set(codes)) == n - 1,
           "%d units after the re-run" % len(codes))
    with open(codes_path) as f:
        written = f.read().split()
    expect(len(written) == n - 1 and sorted(written) == sorted(codes),
           "codes file has %d lines" % len(written))
    # a changed file is not resumed with the old state
    with open(path, "a") as f:
        f.write("%s,,L9,2026-05-01,,,,\n" % model)
    st, out, err = w.hrid("units", "import", path, key=w.maker)
    expect(st == FAIL and "another version" in err, "changed file %r" % err)
    expect(len(w.codes_of(model)) == n - 1, "changed file registered units")


def test_online_zz_server_exit():
    """Last: hridd exits 0 on SIGTERM (no sanitizer report)."""
    global _world
    if _world is not None:
        w, _world = _world, None
        if w.server.proc.poll() is not None:
            _crashes.append(w.server.stderr()[-3000:])
        else:
            w.stop()
    expect(not _crashes, "hridd died %d times; the last time:\n%s"
           % (len(_crashes), _crashes[-1] if _crashes else ""))
