"""Black-box tests of the log's audit tools: "hrid audit" (offline, on a
database) and "hrid log verify" / "hrid log prove" (online, against a real
hridd).

A registry is built through the API with tests/api's fixtures (a hridd
on a temporary database signing checkpoints every 50 ms), stopped with
SIGTERM, and then tampered with copy by copy with the real sqlite3 tool,
the way someone with access to the database file would: the events
table's append-only triggers are dropped first.  Each kind of tampering
must be caught and reported with the first bad leaf and its unit.

The online tests run hridd as a witness sees it: a saved checkpoint, a log
that grows, and a second hridd that shares the log's key but holds another
history (a fork), which "log verify" must refuse.  "log prove" recomputes
leaf hashes from the events' JSON, so an event edited in the database
under a stopped hridd shows up once it is served again.

run.py runs these tests after test_online.py's.  Python 3 standard
library and the sqlite3 command-line tool.
"""

import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import fixtures  # noqa: E402  (needs the path above)
from fixtures import (World, deploy_body, inspection_body,  # noqa: E402
                      maintenance_end_body, maintenance_start_body, ok,
                      release_body, transfer_body)

HRID = os.path.abspath(os.environ.get("HRID", "build/san/hrid"))
SQLITE3 = shutil.which("sqlite3") or "sqlite3"

OK, FAIL, USAGE, CONN = 0, 1, 2, 3

# hridd signs a checkpoint this often in these tests, so waiting for one
# that covers the last event takes a fraction of a second.
CHECKPOINT_MS = "50"

DROP_TRIGGERS = "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;"
EVENT_COLS = "unit_id, code, type, at, recorded_at, actor_id, actor_role, body"


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def hrid(*args, timeout=300):
    p = subprocess.run([HRID] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def expect_run(res, status, what):
    st, out, err = res
    expect(st == status, "%s: exit %d, expected %d; stdout %r; stderr %r"
           % (what, st, status, out[-600:], err[-600:]))
    return out, err


def sqlite(db, sql):
    p = subprocess.run([SQLITE3, "-bail", db], input=sql.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    expect(p.returncode == 0, "sqlite3 %s: %s" % (sql[:200],
                                                  p.stderr.decode()))
    return p.stdout.decode()


def sql_text(s):
    """A string as an SQL literal."""
    return "'" + s.replace("'", "''") + "'"


# ---- checkpoints --------------------------------------------------------


def checkpoint(s):
    """The server's last signed checkpoint: (note text, size), or (None, -1)
    before the first."""
    status, _, body = s.get("/v1/log/checkpoint")
    if status == 404:
        return None, -1
    expect(status == 200, "GET /v1/log/checkpoint: %d %r" % (status, body))
    note = body.decode("utf-8")
    return note, int(note.split("\n")[1])


def wait_checkpoint(s, size, timeout=15):
    """Waits until a checkpoint of at least size leaves is signed."""
    deadline = time.monotonic() + timeout
    while True:
        note, got = checkpoint(s)
        if got >= size:
            return note, got
        expect(time.monotonic() < deadline, "no checkpoint of %d leaves "
               "within %d s (last %d)" % (size, timeout, got))
        time.sleep(0.02)


def log_size(w):
    """How many events the registry holds: the highest seq a regulator
    sees in the histories of w.codes."""
    return max(e["seq"] for c in w.codes for e in w.history(c))


# The public key of RFC 8032's first Ed25519 test vector (§7.1, TEST 1).
RFC8032_PK = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a"
                           "0ee172f3daa62325af021a68f707511a")


def fake_vkey(name="hrid.local/log"):
    """A valid verifier key that is not the log's: RFC 8032's test key
    under the log's name, its key id computed as hrid/note.h defines."""
    pk = RFC8032_PK
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    return "%s+%s+%s" % (name, kid.hex(), base64.b64encode(b"\x01" + pk)
                         .decode())


# ---- registries ---------------------------------------------------------

_tmp = tempfile.mkdtemp(prefix="hrid-audit-test-")
_servers = []


@atexit.register
def _cleanup():
    for s in _servers:
        if s.proc is not None:
            s.stop(check=False)
    shutil.rmtree(_tmp, ignore_errors=True)


def new_dir(name):
    d = os.path.join(_tmp, name)
    os.makedirs(d)
    return d


def start(db, *args):
    """A hridd on db (kept across restarts) signing every CHECKPOINT_MS."""
    s = fixtures.server("--checkpoint-ms", CHECKPOINT_MS, "--quiet", *args,
                        db=db)
    s.start()
    _servers.append(s)
    return s


def stop(s):
    """SIGTERM (the WAL is checkpointed into the file) and a clean exit."""
    s.stop(check=True)
    _servers.remove(s)


def populate(w, n_units=4):
    """Units walked through a few events each, interleaved so that the
    log's neighbouring leaves belong to different units.  Remembers the
    codes in w.codes."""
    w.codes = []
    for _ in range(n_units):
        w.codes.append(w.register())
    for c in w.codes:
        w.event(w.maker, c, release_body())
    for c in w.codes:
        w.event(w.maker, c, transfer_body(w.owner.party, "sale", 12000,
                                          "CNY"))
    for c in w.codes[: n_units - 1]:
        w.event(w.owner, c, deploy_body())
    for c in w.codes[:2]:
        w.event(w.owner, c, maintenance_start_body())
        w.event(w.owner, c, maintenance_end_body())
    w.event(w.regulator, w.codes[0], inspection_body())


_base = None


class Base:
    """A stopped registry's database and what the API said about it:
    events[seq] = (code, type), the log's vkey."""

    def __init__(self):
        d = new_dir("base")
        self.db = os.path.join(d, "hrid.db")
        s = start(self.db)
        try:
            w = World(s)
            populate(w)
            self.n = log_size(w)
            self.events = {}
            for c in w.codes:
                for e in w.history(c):
                    self.events[e["seq"]] = (e["code"], e["type"])
            self.vkey = ok(s.get("/v1/log/key"), 200, what="log key")["vkey"]
            wait_checkpoint(s, self.n)
        finally:
            stop(s)
        expect(sorted(self.events) == list(range(1, self.n + 1)),
               "events seen %r" % sorted(self.events))
        self.copies = 0

    def copy(self, with_key=True):
        """A fresh copy of the database (and of its log key file)."""
        self.copies += 1
        d = new_dir("copy%d" % self.copies)
        db = os.path.join(d, "hrid.db")
        for suffix in ("", "-wal", "-shm") + ((".log-key",) if with_key
                                              else ()):
            if os.path.exists(self.db + suffix):
                shutil.copyfile(self.db + suffix, db + suffix)
        return db

    def code(self, seq):
        return self.events[seq][0]

    def seq_of(self, type_, after=1):
        """The first event of type_ after seq after (so not the first)."""
        return next(q for q in sorted(self.events)
                    if q > after and self.events[q][1] == type_)


def base():
    global _base
    if _base is None:
        _base = Base()
    return _base


def audit_failed(db, leaf, code, *args):
    """Runs the audit on db, which must fail at leaf (with unit code, when
    given); returns the failure line."""
    out, err = expect_run(hrid("audit", "--db", db, *args), FAIL,
                          "audit of a tampered copy")
    line = out.strip()
    want = "audit FAILED: first bad leaf %d" % leaf
    if code is not None:
        want += " (unit %s): " % code
    expect(line.startswith(want), "audit said %r, expected it to start "
           "with %r" % (line, want))
    expect("\n" not in line and err == "", "output %r %r" % (out, err))
    return line


# ---- hrid audit ---------------------------------------------------------


def test_audit_usage():
    st, out, err = hrid("audit", "--help")
    expect(st == OK and out.startswith("usage: hrid audit"), "help %r" % out)
    for args in ([], ["--db"], ["--db", "x.db", "extra"],
                 ["--db", "x.db", "--frob"],
                 ["--db", "x.db", "--log-key", "a", "--log-key-file", "b"],
                 ["--db", "x.db?mode=rw"]):
        st, out, err = hrid("audit", *args)
        expect(st == USAGE, "%s: exit %d %r" % (args, st, err))
        expect(out == "" and "usage: hrid audit" in err, "%s: %r" % (args, err))
    st, out, err = hrid("audit", "--db", os.path.join(_tmp, "none.db"))
    expect(st == FAIL and err.startswith("error: cannot open database"),
           "missing db: %d %r" % (st, err))
    st, out, err = hrid("audit", "--db", base().db, "--log-key", "nonsense")
    expect(st == USAGE and "--log-key" in err, "bad vkey: %d %r" % (st, err))
    st, out, err = hrid("audit", "--db", base().db, "--log-key-file",
                        os.path.join(_tmp, "nokey"))
    expect(st == FAIL and "cannot read key file" in err, "no key file %r" % err)


def test_audit_clean():
    b = base()
    db = b.copy()
    want = ("audit ok: %d leaves, checkpoint of %d leaves verified\n"
            % (b.n, b.n))
    out, err = expect_run(hrid("audit", "--db", db), OK, "audit")
    expect(out == want and err == "", "audit said %r %r" % (out, err))
    # the key pinned on the command line, and in a file of its own
    out, _ = expect_run(hrid("audit", "--db", db, "--log-key", b.vkey), OK,
                        "audit --log-key")
    expect(out == want, "with --log-key: %r" % out)
    kf = os.path.join(os.path.dirname(db), "vkey.txt")
    with open(kf, "w") as f:
        f.write(b.vkey + "\n")
    out, _ = expect_run(hrid("audit", "--db", db, "--log-key-file", kf), OK,
                        "audit --log-key-file")
    expect(out == want, "with --log-key-file: %r" % out)
    # --verbose times it; --json reports the same
    out, err = expect_run(hrid("audit", "--db", db, "--verbose"), OK,
                          "audit --verbose")
    expect(out == want and re.fullmatch(
        r"audited %d leaves in [0-9.]+ s \([0-9]+ leaves/s\)\n" % b.n, err),
        "verbose %r" % err)
    for args in (["audit", "--db", db, "--json"],
                 ["--json", "audit", "--db", db]):
        out, _ = expect_run(hrid(*args), OK, "audit --json")
        rep = json.loads(out)
        expect(rep["ok"] is True and rep["leaves"] == b.n
               and rep["log_size"] == b.n and rep["checkpoint_size"] == b.n
               and rep["checkpoint_verified"] is True
               and rep["bad_leaf"] is None and rep["bad_code"] is None
               and rep["log_key"] == b.vkey, "report %r" % rep)
    # nothing was written next to the copy
    files = set(os.listdir(os.path.dirname(db)))
    expect(files <= {"hrid.db", "hrid.db-wal", "hrid.db-shm",
                     "hrid.db.log-key", "vkey.txt"}, "files %r" % files)


def test_audit_without_key():
    b = base()
    db = b.copy(with_key=False)
    out, err = expect_run(hrid("audit", "--db", db), OK, "audit without key")
    expect(out.startswith("audit ok: %d leaves, checkpoint of %d leaves "
                          % (b.n, b.n)) and "not checked" in out,
           "audit said %r" % out)
    expect(not os.path.exists(db + ".log-key"), "a key file was created")
    rep = json.loads(expect_run(hrid("audit", "--db", db, "--json"), OK,
                                "json")[0])
    expect(rep["checkpoint_verified"] is False and rep["log_key"] is None,
           "report %r" % rep)
    # a key that is not the log's: the checkpoint does not verify
    out, _ = expect_run(hrid("audit", "--db", db, "--log-key", fake_vkey()),
                        FAIL, "audit with another key")
    expect(out.startswith("audit FAILED: the stored checkpoint does not "
                          "verify with the log key"), "audit said %r" % out)


def test_audit_edited_body():
    b = base()
    seq = b.seq_of("transfer", after=b.n // 3)
    db = b.copy()
    body = sqlite(db, "SELECT body FROM events WHERE seq = %d;" % seq)
    expect('"price":12000' in body, "transfer body %r" % body)
    sqlite(db, DROP_TRIGGERS + "UPDATE events SET body = replace(body, "
           "'\"price\":12000', '\"price\":1200') WHERE seq = %d;" % seq)
    line = audit_failed(db, seq - 1, b.code(seq))
    expect("changed" in line, "audit said %r" % line)


def test_audit_edited_type():
    b = base()
    seq = b.seq_of("deploy", after=b.n // 2)
    db = b.copy()
    sqlite(db, DROP_TRIGGERS + "UPDATE events SET type = 'inspection' "
           "WHERE seq = %d;" % seq)
    audit_failed(db, seq - 1, b.code(seq))


def test_audit_deleted_event():
    b = base()
    # an event of a unit that has later ones, whose counts then disagree
    seq = next(q for q in range(b.n // 2, b.n)
               if any(b.code(r) == b.code(q) for r in range(q + 1, b.n + 1)))
    db = b.copy()
    sqlite(db, DROP_TRIGGERS + "DELETE FROM events WHERE seq = %d;" % seq)
    line = audit_failed(db, seq - 1, b.code(seq))
    expect("deleted" in line, "audit said %r" % line)


def test_audit_swapped_events():
    b = base()
    expect(b.code(5) != b.code(8), "seq 5 and 8 of one unit")
    db = b.copy()
    sqlite(db, DROP_TRIGGERS +
           "CREATE TEMP TABLE t AS SELECT * FROM events WHERE seq IN (5, 8);"
           "UPDATE events SET (%s) = (SELECT %s FROM t WHERE t.seq = "
           "13 - events.seq) WHERE seq IN (5, 8);" % (EVENT_COLS, EVENT_COLS))
    got = sqlite(db, "SELECT code FROM events WHERE seq = 5;").strip()
    expect(got == b.code(8), "the swap did not happen: %r" % got)
    # leaf 4 now holds the event that was at seq 8: its unit is named
    audit_failed(db, 4, b.code(8))


def test_audit_inserted_event():
    b = base()
    db = b.copy()
    sqlite(db, DROP_TRIGGERS +
           "INSERT INTO events (seq, %s) SELECT seq + 1, unit_id, code, "
           "'inspection', at, recorded_at, actor_id, actor_role, "
           "'{\"result\":\"pass\"}' FROM events WHERE seq = %d;"
           % (EVENT_COLS, b.n))
    line = audit_failed(db, b.n, b.code(b.n))
    expect("not in the log" in line, "audit said %r" % line)


def test_audit_deleted_last_event():
    """The log still counts the deleted event.  Its unit is not named: a
    unit's event count is its latest event's, and the deletion took that
    event away; the unit of an earlier event is (test_audit_deleted_event)."""
    b = base()
    db = b.copy()
    sqlite(db, DROP_TRIGGERS + "DELETE FROM events WHERE seq = %d;" % b.n)
    line = audit_failed(db, b.n - 1, None)
    expect("deleted" in line and "(unit" not in line, "audit said %r" % line)


def test_audit_altered_tile():
    b = base()
    leaf = b.n // 2
    db = b.copy()
    tile = bytearray.fromhex(sqlite(db, "SELECT hex(hashes) FROM log_tiles "
                                    "WHERE level = 0 AND idx = 0;").strip())
    expect(len(tile) == 32 * b.n, "tile of %d bytes" % len(tile))
    tile[leaf * 32] ^= 0x80
    sqlite(db, "UPDATE log_tiles SET hashes = X'%s' WHERE level = 0 AND "
           "idx = 0;" % tile.hex())
    audit_failed(db, leaf, b.code(leaf + 1))


def test_audit_event_moved_to_another_unit():
    """An event re-filed under another unit (its unit_id changed, its
    leaf bytes not) would show in that unit's history: the audit names
    it."""
    b = base()
    seq = b.seq_of("release", after=1)
    other = next(q for q in sorted(b.events) if b.code(q) != b.code(seq))
    db = b.copy()
    sqlite(db, DROP_TRIGGERS + "UPDATE events SET unit_id = (SELECT unit_id "
           "FROM events WHERE seq = %d) WHERE seq = %d;" % (other, seq))
    line = audit_failed(db, seq - 1, b.code(seq))
    expect("another unit" in line, "audit said %r" % line)


def test_audit_altered_upper_tile():
    """Past 65,536 leaves the log stores hashes of whole tiles (level 1):
    one of those altered is found even though every leaf matches."""
    d = new_dir("big")
    db = os.path.join(d, "hrid.db")
    s = start(db)
    try:
        w = World(s)
        w.codes = []
        for _ in range(7):
            units = [w.unit_body(w.model) for _ in range(10000)]
            body = ok(w.maker.post("/v1/units", {"units": units}),
                      what="bulk registration")
            w.codes.append(body["units"][-1]["code"])
        n = log_size(w)
        expect(n > 65536, "log of %d leaves" % n)
        wait_checkpoint(s, n)
    finally:
        stop(s)
    out, err = expect_run(hrid("audit", "--db", db), OK, "audit of a clean "
                          "large database")
    tile = bytearray.fromhex(sqlite(db, "SELECT hex(hashes) FROM log_tiles "
                                    "WHERE level = 1 AND idx = 0;").strip())
    expect(len(tile) == 32 * min(256, n // 256), "level-1 tile of %d bytes, log of "
           "%d leaves" % (len(tile), n))
    tile[3 * 32] ^= 0x01
    sqlite(db, "UPDATE log_tiles SET hashes = X'%s' WHERE level = 1 AND "
           "idx = 0;" % tile.hex())
    line = audit_failed(db, 3 * 256, None)
    expect("rewritten" in line, "audit said %r" % line)


def test_audit_forged_checkpoint():
    b = base()
    # a checkpoint signed by another log key (a fresh hridd's, of its
    # empty log), put in place of the stored one
    d = new_dir("other-key")
    s = start(os.path.join(d, "hrid.db"))
    try:
        other, _ = wait_checkpoint(s, 0)
    finally:
        stop(s)
    db = b.copy()
    sqlite(db, "UPDATE log_checkpoint SET note = %s;" % sql_text(other))
    out, _ = expect_run(hrid("audit", "--db", db), FAIL, "forged checkpoint")
    expect(out.startswith("audit FAILED: the stored checkpoint does not "
                          "verify with the log key") and "not signed" in out,
           "audit said %r" % out)
    # the log's own checkpoint with its signature damaged
    db = b.copy()
    note = sqlite(db, "SELECT note FROM log_checkpoint;")
    m = re.search(r"\u2014 \S+ (\S+)\n", note)
    expect(m is not None, "note %r" % note)
    sig = base64.b64decode(m.group(1))
    bad = base64.b64encode(sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]).decode()
    note = note[:m.start(1)] + bad + note[m.end(1):]
    sqlite(db, "UPDATE log_checkpoint SET note = %s;"
           % sql_text(note.rstrip("\n") + "\n"))
    out, _ = expect_run(hrid("audit", "--db", db), FAIL, "damaged signature")
    expect(out.startswith("audit FAILED: the stored checkpoint does not "
                          "verify") and "does not verify" in out[40:],
           "audit said %r" % out)
    # without a key the signature goes unchecked, and the audit says so
    os.unlink(db + ".log-key")
    out, _ = expect_run(hrid("audit", "--db", db), OK, "no key")
    expect("not checked" in out, "audit said %r" % out)


# ---- hrid log verify ----------------------------------------------------


_live = None


class Live:
    """A running registry for the online tests."""

    def __init__(self):
        self.dir = new_dir("live")
        self.db = os.path.join(self.dir, "hrid.db")
        self.s = start(self.db)
        self.w = World(self.s)
        populate(self.w, n_units=3)
        self.vkey = ok(self.s.get("/v1/log/key"), 200)["vkey"]

    def hrid(self, *args, key=None, server=None):
        argv = ["--server", server or self.s.url]
        if key is not None:
            argv += ["--key", key]
        return hrid(*(argv + list(args)))

    def grow(self, n=2):
        """n more units released: 2n more events.  Returns the log size."""
        for _ in range(n):
            c = self.w.released()
            self.w.codes.append(c)
        return log_size(self.w)


def live():
    global _live
    if _live is None or _live.s.proc is None or _live.s.proc.poll() is not None:
        _live = Live()
    return _live


def test_log_verify_usage():
    st, out, err = hrid("log", "--help")
    expect(st == OK and "verify" in out and "prove" in out, "help %r" % out)
    st, out, err = hrid("log", "verify", "--help")
    expect(st == OK and out.startswith("usage: hrid log verify"), out)
    st, out, err = hrid("log", "verify", "extra")
    expect(st == USAGE, "operand: %d" % st)
    st, out, err = hrid("log", "verify", "--log-key", "x+y+z")
    expect(st == USAGE and "--log-key" in err, "bad vkey %d %r" % (st, err))
    st, out, err = hrid("--server", "http://127.0.0.1:1", "log", "verify")
    expect(st == CONN and "cannot reach" in err, "no server %d %r" % (st, err))


def test_log_verify_grows():
    L = live()
    saved = os.path.join(L.dir, "witness.cp")
    n = log_size(L.w)
    note, size = wait_checkpoint(L.s, n)
    out, err = expect_run(L.hrid("log", "verify", "--checkpoint", saved), OK,
                          "first verify")
    m = re.fullmatch(r"checkpoint ok: (\d+) leaves, root (\S+)\nsaved to "
                     r"(.*)\n", out)
    expect(m is not None and int(m.group(1)) >= n and m.group(3) == saved,
           "first verify said %r" % out)
    with open(saved) as f:
        first = f.read()
    expect(first.split("\n")[1] == m.group(1)
           and first.split("\n")[2] == m.group(2),
           "saved %r, printed %r" % (first, out))
    first_size = int(m.group(1))

    n2 = L.grow(3)
    wait_checkpoint(L.s, n2)
    out, err = expect_run(L.hrid("log", "verify", "--checkpoint", saved,
                                 "--log-key", L.vkey), OK, "second verify")
    m = re.fullmatch(r"checkpoint ok: (\d+) leaves, root \S+\nconsistent with "
                     r"the saved checkpoint of (\d+) leaves\n", out)
    expect(m is not None and int(m.group(1)) >= n2
           and int(m.group(2)) == first_size, "second verify said %r" % out)
    with open(saved) as f:
        expect(f.read().split("\n")[1] == m.group(1), "saved file not updated")
    expect([x for x in os.listdir(L.dir) if ".tmp" in x] == [],
           "temporary files left: %r" % os.listdir(L.dir))
    # the same checkpoint again: equal sizes, equal roots
    out, _ = expect_run(L.hrid("log", "verify", "--checkpoint", saved), OK,
                        "third verify")
    # the offline audit reads a database hridd is writing to
    out, _ = expect_run(hrid("audit", "--db", L.db), OK, "audit of a live db")
    expect(re.fullmatch(r"audit ok: (\d+) leaves, checkpoint of (\d+) leaves "
                        r"verified\n", out), "audit said %r" % out)
    # JSON
    out, _ = expect_run(L.hrid("log", "verify", "--json"), OK, "verify --json")
    rep = json.loads(out)
    expect(rep["ok"] is True and rep["origin"] == L.vkey.split("+")[0]
           and rep["size"] >= n2 and rep["saved"] is None, "json %r" % rep)


def test_log_verify_pinned_key():
    L = live()
    wrong = fake_vkey()
    out, _ = expect_run(L.hrid("log", "verify", "--log-key", wrong), FAIL,
                        "wrong pinned key")
    expect(out.startswith("log verify FAILED: the server's log key is '%s', "
                          "not the pinned '%s'" % (L.vkey, wrong)),
           "verify said %r" % out)
    # a saved checkpoint of another log key is refused, and kept
    saved = os.path.join(L.dir, "other.cp")
    with open(saved, "w") as f:
        f.write(L.vkey)     # not a checkpoint at all
    out, _ = expect_run(L.hrid("log", "verify", "--checkpoint", saved), FAIL,
                        "saved junk")
    expect(out.startswith("log verify FAILED: the saved checkpoint does not "
                          "verify"), "verify said %r" % out)
    with open(saved) as f:
        expect(f.read() == L.vkey, "the saved file was replaced")


def test_log_verify_fork():
    """A second hridd with the log's key and another history: what a
    witness sees when a node rewrote its log and re-signed it."""
    L = live()
    saved = os.path.join(L.dir, "fork.cp")
    n = log_size(L.w)
    wait_checkpoint(L.s, n)
    expect_run(L.hrid("log", "verify", "--checkpoint", saved), OK, "verify")
    with open(saved) as f:
        kept = f.read()
    size = int(kept.split("\n")[1])

    d = new_dir("fork")
    db = os.path.join(d, "hrid.db")
    shutil.copyfile(L.db + ".log-key", db + ".log-key")
    s = start(db)
    try:
        w = World(s)
        # fewer leaves than the saved checkpoint: the log shrank
        w.codes = [w.register()]
        wait_checkpoint(s, 1)
        out, _ = expect_run(L.hrid("log", "verify", "--checkpoint", saved,
                                   server=s.url), FAIL, "shrunk log")
        expect(out.startswith("log verify FAILED: the log shrank: the saved "
                              "checkpoint has %d leaves" % size),
               "verify said %r" % out)
        # more leaves than the saved one, not extending it
        units = [w.unit_body(w.model) for _ in range(size + 4)]
        ok(w.maker.post("/v1/units", {"units": units}), what="bulk")
        _, big = wait_checkpoint(s, size + 5)
        out, _ = expect_run(L.hrid("log", "verify", "--checkpoint", saved,
                                   "--log-key", L.vkey, server=s.url),
                            FAIL, "forked log")
        want = ("log verify FAILED: the log was rewritten: checkpoint of %d "
                "leaves is not a prefix of the one of %d" % (size, big))
        expect(out.startswith(want), "verify said %r, expected %r"
               % (out, want))
        with open(saved) as f:
            expect(f.read() == kept, "the saved checkpoint was overwritten")
        rep = json.loads(expect_run(L.hrid("log", "verify", "--json",
                                           "--checkpoint", saved,
                                           server=s.url), FAIL, "json")[0])
        expect(rep["ok"] is False and rep["saved_size"] == size
               and "rewritten" in rep["message"], "json %r" % rep)
    finally:
        stop(s)
    # the real log still verifies against the saved checkpoint
    expect_run(L.hrid("log", "verify", "--checkpoint", saved), OK,
               "verify after the fork")


# ---- hrid log prove -----------------------------------------------------


def prove_lines(out, code):
    lines = out.splitlines()
    expect(len(lines) >= 2, "prove said %r" % out)
    return lines[:-1], lines[-1]


def test_log_prove():
    L = live()
    w = L.w
    code = w.in_maintenance()
    w.codes.append(code)
    hist = w.history(code)
    expect(len(hist) >= 5, "history %r" % hist)
    # no wait for the checkpoint here: prove waits for one that covers
    out, err = expect_run(L.hrid("log", "prove", code, "--log-key", L.vkey,
                                 key=w.regulator.key), OK, "prove")
    lines, last = prove_lines(out, code)
    want = ["leaf %d %s ok" % (e["seq"] - 1, e["type"]) for e in hist]
    expect(lines == want, "prove said %r, expected %r" % (lines, want))
    m = re.fullmatch(r"%d events of %s are in the log \(checkpoint of (\d+) "
                     r"leaves\)" % (len(hist), code), last)
    expect(m is not None and int(m.group(1)) >= hist[-1]["seq"],
           "summary %r" % last)
    # the owner sees the unit's history too; JSON
    out, _ = expect_run(L.hrid("log", "prove", code, "--json",
                               key=w.owner.key), OK, "prove --json")
    rep = json.loads(out)
    expect(rep["ok"] is True and rep["code"] == code
           and [e["leaf"] for e in rep["events"]]
           == [e["seq"] - 1 for e in hist]
           and all(e["ok"] for e in rep["events"]), "json %r" % rep)
    # the public may not list a history
    st, out, err = L.hrid("log", "prove", code)
    expect(st == FAIL and "error: " in err, "public prove %d %r" % (st, err))
    st, out, err = L.hrid("log", "prove", code, "--log-key", fake_vkey(),
                          key=w.regulator.key)
    expect(st == FAIL and out.startswith("log prove FAILED: the server's log "
                                         "key"), "wrong key %d %r" % (st, out))
    st, out, err = L.hrid("log", "prove", "CN-NOT-A-CODE")
    expect(st == FAIL and "invalid code" in err, "bad code %d %r" % (st, err))


def test_log_prove_redacted():
    """A maker proving a unit resold between two owners sees that
    transfer without its price: prove checks it by the log's hash and
    says so, and every event still proves."""
    L = live()
    w = L.w
    code = w.sold(w.owner)
    w.event(w.owner, code, transfer_body(w.owner2.party, "sale", 9000, "CNY"))
    w.codes.append(code)
    hist = w.history(code, actor=w.maker)
    hidden = [e for e in hist if "redacted" in e]
    expect(len(hidden) == 1 and "price" not in hidden[0]["body"],
           "maker's view %r" % hist)
    out, err = expect_run(L.hrid("log", "prove", code, key=w.maker.key), OK,
                          "prove by the maker")
    lines, _ = prove_lines(out, code)
    want = ["leaf %d %s ok%s" % (e["seq"] - 1, e["type"],
                                 " (partly hidden from this caller: checked "
                                 "by its hash)" if "redacted" in e else "")
            for e in hist]
    expect(lines == want, "prove said %r, expected %r" % (lines, want))


def test_log_prove_tampered():
    """Events edited in the database while hridd was stopped: the tree
    still holds the originals, so the events as now served fail their
    proofs, and only those.  One event has its body edited; another, of
    a second unit, is moved into the first unit's history (its unit_id
    changed, its code not)."""
    d = new_dir("prove-tamper")
    db = os.path.join(d, "hrid.db")
    s = start(db)
    try:
        w = World(s)
        code = w.in_service()
        other = w.in_service()
        hist = w.history(code)
        moved = next(e for e in w.history(other) if e["type"] == "deploy")
        wait_checkpoint(s, max(e["seq"] for e in w.history(other)))
        regulator = w.regulator.key
    finally:
        stop(s)
    tr = next(e for e in hist if e["type"] == "transfer")
    sqlite(db, DROP_TRIGGERS + "UPDATE events SET body = replace(body, "
           "'\"price\":12000', '\"price\":9000') WHERE seq = %d;"
           "UPDATE events SET unit_id = (SELECT unit_id FROM events WHERE "
           "seq = %d) WHERE seq = %d;" % (tr["seq"], tr["seq"], moved["seq"]))
    s = start(db)
    try:
        body = ok(s.get("/v1/units/%s/events" % code, key=regulator), 200)
        served = next(e for e in body["items"] if e["seq"] == tr["seq"])
        expect(served["body"]["price"] == 9000, "served %r" % served)
        st, out, err = hrid("--server", s.url, "--key", regulator, "log",
                            "prove", code)
        expect(st == FAIL, "prove of a tampered event: %d %r %r"
               % (st, out, err))
        lines, last = prove_lines(out, code)
        shown = sorted(hist + [moved], key=lambda e: e["seq"])
        expect(len(lines) == len(shown), "lines %r" % lines)
        for e, line in zip(shown, lines):
            leaf = e["seq"] - 1
            if e["seq"] == tr["seq"]:
                expect(line.startswith("leaf %d transfer FAILED: " % leaf)
                       and "hash differs" in line, "line %r" % line)
            elif e["seq"] == moved["seq"]:
                expect(line.startswith("leaf %d deploy FAILED: " % leaf)
                       and other in line, "line %r" % line)
            else:
                expect(line == "leaf %d %s ok" % (leaf, e["type"]),
                       "line %r" % line)
        expect(last == "log prove FAILED: 2 of %d events of %s are not in "
               "the log as shown (checkpoint of %d leaves)"
               % (len(shown), code, checkpoint(s)[1]), "summary %r" % last)
        # what is left of the other unit's history is intact
        out, _ = expect_run(hrid("--server", s.url, "--key", regulator, "log",
                                 "prove", other), OK, "prove of the other unit")
        expect("leaf %d " % (moved["seq"] - 1) not in out, "prove %r" % out)
    finally:
        stop(s)
    # and the offline audit names the same leaf
    audit_failed(db, tr["seq"] - 1, code)


def test_log_zz_stop():
    """Last: the shared hridd exits cleanly (no sanitizer report)."""
    global _live
    if _live is not None and _live.s.proc is not None:
        L, _live = _live, None
        stop(L.s)
