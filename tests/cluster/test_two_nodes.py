"""Two hridd nodes on one database, behind nginx, as a registry scales out.

Both nodes serve one PostgreSQL database (HRID_TEST_PG, which
tests/cluster/run.py sets) and read one key directory; nginx balances
requests over them.  The tests check that requests reach both nodes,
that concurrent writes through either node keep every unit's history a
valid walk of the state machine with nothing lost or written twice, that
an Idempotency-Key holds across nodes, and that both nodes serve the same
log, which the offline audit then accepts.

Without HRID_TEST_PG the nodes share a SQLite file instead, which is how
the test itself was developed ("python3 tests/api/run.py
tests/cluster/test_two_nodes.py").  nginx is Debian's (/usr/sbin/nginx,
env NGINX); its workers drop to nobody when run as root.
"""

import collections
import contextlib
import os
import random
import socket
import subprocess
import tempfile
import threading
import time

from fixtures import (Actor, World, deploy_body, inspection_body,
                      maintenance_end_body, maintenance_start_body, ok,
                      release_body, resume_body, server, suspend_body,
                      transfer_body)
from harness import ROOT, Server, persistent_db
from test_log import checkpoint, leaf_bytes, leaf_hash, mth, parse_checkpoint

FAST = ("--checkpoint-ms", "50", "--quiet")
THREADS = 16
START_TIMEOUT = 10.0


def nginx_path():
    return os.environ.get("NGINX", "/usr/sbin/nginx")


def hrid_path():
    path = os.environ.get("HRID", "build/san/hrid")
    return path if os.path.isabs(path) or os.path.exists(path) else os.path.join(ROOT, path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- nginx ---------------------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    log_format upstream '$request_method $request_uri $status $upstream_addr';
    access_log {d}/access.log upstream;
    client_max_body_size 9m;
    upstream hrid {{
        server {node1};
        server {node2};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hrid;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    """nginx in front of the nodes, spoken to like a Server (request, get,
    post) so that Actors can use it."""

    proc = None              # Server.request looks at it after a failure
    request = Server.request
    get = Server.get
    post = Server.post

    def __init__(self, *nodes):
        self.dir = tempfile.mkdtemp(prefix="hrid-nginx-")
        # The workers run as nobody and keep buffered bodies under it.
        os.chmod(self.dir, 0o755)
        self.host, self.port = "127.0.0.1", free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=self.dir, port=self.port,
                                      node1=f"{nodes[0].host}:{nodes[0].port}",
                                      node2=f"{nodes[1].host}:{nodes[1].port}"))
        self.nginx = subprocess.Popen(
            [nginx_path(), "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=1):
                return
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"nginx did not start: {self.error_log()}")
            time.sleep(0.05)

    def error_log(self):
        with contextlib.suppress(OSError), open(os.path.join(self.dir, "error.log")) as f:
            return f.read()
        return ""

    def access_log(self):
        with open(os.path.join(self.dir, "access.log")) as f:
            return f.read()

    def stop(self):
        if self.nginx.poll() is None:
            self.nginx.terminate()      # fast shutdown
            self.nginx.wait(10)
        self.nginx.stderr.close()
        subprocess.run(["rm", "-rf", self.dir])


@contextlib.contextmanager
def two_nodes():
    """Node 1 (which creates the schema and the keys), node 2, and nginx in
    front: yields (node1, node2, nginx, db)."""
    with persistent_db() as db:
        with server(*FAST, db=db) as n1:
            with server(*FAST, db=db) as n2:
                lb = Nginx(n1, n2)
                try:
                    yield n1, n2, lb, db
                finally:
                    lb.stop()


def on(actor, s):
    """The same caller, talking to another node."""
    return Actor(s, actor.key, party=actor.party, role=actor.role, name=actor.name,
                 info=actor.info)


def in_threads(n, fn):
    """Runs fn(i) for i in range(n) on THREADS threads; returns the results
    in order, re-raising the first exception."""
    out = [None] * n
    errors = []
    todo = iter(range(n))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(todo, None)
            if i is None or errors:
                return
            try:
                out[i] = fn(i)
            except Exception as exc:     # noqa: BLE001 - reported below
                errors.append(exc)

    ts = [threading.Thread(target=worker) for _ in range(min(n, THREADS))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


# ---- the state machine of docs/API.md "Lifecycle events" ------------------

FROM = {
    "suspend": {"released", "in_service", "maintenance"},
    "resume": {"suspended"},
    "maintenance_start": {"in_service"},
    "maintenance_end": {"maintenance"},
    "inspection": {"registered", "released", "in_service", "maintenance", "suspended"},
}
TO = {"suspend": "suspended", "maintenance_start": "maintenance",
      "maintenance_end": "in_service"}


def replay(state, events):
    """Walks events from state; returns the state after each one, failing
    on an event the state it met does not allow."""
    before_suspension = None
    after = []
    for e in events:
        t = e["type"]
        assert state in FROM[t], f"event {e['seq']} {t} accepted in state {state}"
        if t == "suspend":
            before_suspension = state
        if t == "resume":
            state = before_suspension
        else:
            state = TO.get(t, state)
        after.append(state)
    return after


# ---- tests ----------------------------------------------------------------

def test_requests_reach_both_nodes():
    with two_nodes() as (n1, n2, lb, _):
        seen = collections.Counter()
        for _ in range(20):
            status, hdrs, body = lb.get("/healthz")
            assert status == 200, (status, body)
            seen[hdrs.get("x-upstream")] += 1
        want = {f"127.0.0.1:{n1.port}", f"127.0.0.1:{n2.port}"}
        assert set(seen) == want, (seen, want)
        logged = {line.split()[-1] for line in lb.access_log().splitlines()}
        assert want <= logged, (logged, want)


def test_one_unit_hammered_from_both_nodes():
    """Many threads race conflicting transitions (suspend against resume,
    maintenance start against end) and inspections on one unit through
    both nodes: the history holds exactly the accepted events, each allowed
    in the state it met, and the unit ends in the state they lead to."""
    with two_nodes() as (n1, n2, lb, _):
        w = World(n1)
        code = w.in_service()
        w.grant(w.owner, code, w.service)
        before = w.history(code)
        actors = {"suspend": w.regulator, "resume": w.regulator,
                  "maintenance_start": w.owner, "maintenance_end": w.owner,
                  "inspection": w.service}
        bodies = {"suspend": suspend_body, "resume": resume_body,
                  "maintenance_start": maintenance_start_body,
                  "maintenance_end": maintenance_end_body, "inspection": inspection_body}
        rnd = random.Random(7)
        ops = [rnd.choice(list(bodies)) for _ in range(320)]

        def send(i):
            node = (n1, n2)[i % 2]
            r = on(actors[ops[i]], node).post(f"/v1/units/{code}/events", bodies[ops[i]]())
            return ops[i], r[0], r[2]

        replies = in_threads(len(ops), send)
        odd = [(t, st, b) for t, st, b in replies
               if not (st == 201 or (st == 409 and b["error"]["code"] == "invalid_state"))]
        assert not odd, f"{len(odd)} replies neither 201 nor 409 invalid_state: {odd[:5]}"
        accepted = {b["seq"]: (t, b) for t, st, b in replies if st == 201}
        refusals = collections.Counter(t for t, st, _ in replies if st != 201)
        assert refusals["inspection"] == 0, refusals

        history = w.history(code)
        assert history[:len(before)] == before
        new = history[len(before):]
        seqs = [e["seq"] for e in history]
        assert seqs == sorted(set(seqs)), seqs
        assert sorted(accepted) == [e["seq"] for e in new], \
            (f"{len(accepted)} events accepted, {len(new)} in the history",
             sorted(set(accepted) ^ {e["seq"] for e in new})[:10])
        states = replay("in_service", new)
        for e, state in zip(new, states):
            t, reply = accepted[e["seq"]]
            assert e["type"] == t and e["leaf"] == reply["leaf"], (e, reply)
            assert reply["state"] == state, \
                f"event {e['seq']} {t}: reply says {reply['state']}, the history {state}"
        assert w.state(code) == states[-1], (w.state(code), states[-1])
        # The refusals are the conflicts the race lost, not lost events.
        assert len(new) + sum(refusals.values()) == len(ops)


def test_many_units_from_both_nodes():
    """Units registered and walked through their lives concurrently, each
    step through the other node: every code is distinct and every history
    complete."""
    with two_nodes() as (n1, n2, lb, _):
        w = World(n1)
        n = 60
        codes = in_threads(n, lambda i: ok(on(w.maker, (lb, n1, n2)[i % 3]).post(
            "/v1/units", w.unit_body(w.model)), what="register")["code"])
        assert len(set(codes)) == n, codes
        steps = [(w.maker, release_body()),
                 (w.maker, transfer_body(w.owner.party, "sale")),
                 (w.owner, deploy_body()),
                 (w.regulator, inspection_body()),
                 (w.owner, maintenance_start_body()),
                 (w.owner, maintenance_end_body())]

        def walk(i):
            for k, (actor, body) in enumerate(steps):
                node = (n1, n2)[(i + k) % 2]
                ok(on(actor, node).post(f"/v1/units/{codes[i]}/events", body),
                   what=f"unit {i} step {k} {body['type']} on node {(i + k) % 2 + 1}")

        in_threads(n, walk)
        units = w.regulator.items("/v1/units")
        assert len(units) == n, len(units)
        assert {u["code"]: u["state"] for u in units} == {c: "in_service" for c in codes}
        for c in codes:
            h = on(w.regulator, n2).items(f"/v1/units/{c}/events")
            assert [e["type"] for e in h] == ["register"] + [b["type"] for _, b in steps], h


def test_idempotency_key_across_nodes():
    with two_nodes() as (n1, n2, lb, _):
        w = World(n1)
        bulk = {"units": [w.unit_body(w.model) for _ in range(3)]}
        s1, h1, r1 = on(w.maker, n1).post("/v1/units", bulk, idem="across-1")
        s2, h2, r2 = on(w.maker, n2).post("/v1/units", bulk, idem="across-1")
        assert s1 == 201 and "idempotent-replay" not in h1, (s1, h1, r1)
        assert s2 == 201 and r2 == r1 and h2.get("idempotent-replay") == "true", (s2, h2, r2)
        assert len(w.regulator.items("/v1/units")) == 3
        # The same key sent to both nodes at once still writes once: one
        # reply is the write, the other its replay.
        keys = [f"race-{k}" for k in range(12)]
        for key in keys:
            barrier = threading.Barrier(2)
            pair = [None, None]

            def send(j):
                barrier.wait()
                pair[j] = on(w.maker, (n1, n2)[j]).post("/v1/units", bulk, idem=key)

            ts = [threading.Thread(target=send, args=(j,)) for j in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            (sa, ha, ra), (sb, hb, rb) = pair
            assert sa == sb == 201 and ra == rb, (key, pair)
            replays = [ha.get("idempotent-replay"), hb.get("idempotent-replay")]
            assert replays.count("true") == 1, (key, replays)
        assert len(w.regulator.items("/v1/units")) == 3 * (1 + len(keys))


def test_both_nodes_serve_one_log_and_it_audits():
    """After concurrent writes through both nodes, both serve the same
    checkpoint, whose root the events recompute; the offline audit accepts
    the database once the nodes are stopped."""
    with persistent_db() as db:
        with server(*FAST, db=db) as n1, server(*FAST, db=db) as n2:
            w = World(n1)

            def life(i):
                s = (n1, n2)[i % 2]
                c = ok(on(w.maker, s).post("/v1/units", w.unit_body(w.model)))["code"]
                ok(on(w.maker, s).post(f"/v1/units/{c}/events", release_body()))
                return c

            codes = in_threads(40, life)
            events = [e for c in codes for e in w.history(c)]
            n = len(events)
            deadline = time.monotonic() + 15
            while True:
                cps = [parse_checkpoint(checkpoint(s)) for s in (n1, n2)]
                if cps[0][1] >= n and cps[0][:3] == cps[1][:3]:
                    break
                assert time.monotonic() < deadline, \
                    f"no common checkpoint of {n} leaves: {[c[:2] for c in cps]}"
                time.sleep(0.1)
            origin, size, root, _ = cps[0]
            assert size == n, (size, n)
            by_leaf = sorted(events, key=lambda e: e["leaf"])
            assert [e["leaf"] for e in by_leaf] == list(range(n))
            assert mth([leaf_hash(leaf_bytes(e)) for e in by_leaf]) == root
            key_file = n1.key_path("log-key")
        p = subprocess.run([hrid_path(), "audit", "--db", db, "--log-key-file", key_file],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"hrid audit: exit {p.returncode}\n{p.stdout}{p.stderr}"

