"""The public log (docs/ledger.md, docs/API.md "Log"), black-box.

Every accepted event is a leaf; the tests recompute leaf hashes from the
events the API returns (the documented canonical JSON) and check the
inclusion and consistency proofs hridd serves with an RFC 9162 verifier
written here from the RFC, independent of libhrid.  Checkpoint signatures
are Ed25519, which Python's standard library lacks: their parsing is
checked here, their signatures by the CLI tests (hrid log verify).
"""

import base64
import hashlib
import json
import time

from fixtures import (World, ok, refused, registry, server, transfer_body,
                      deploy_body, maintenance_start_body,
                      maintenance_end_body)
from harness import persistent_db


# ---- RFC 9162 §2.1, written from the RFC -----------------------------------

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if first == 0 or first > second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + list(path)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def mth(leaves):
    """The root of a list of leaf hashes, by the RFC's recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


# ---- helpers ------------------------------------------------------------------

def leaf_bytes(event):
    """The documented leaf encoding: the event as the API shows it, minus
    seq, leaf and state, as canonical JSON."""
    e = {k: v for k, v in event.items() if k not in ("seq", "leaf", "state")}
    return json.dumps(e, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def parse_checkpoint(text):
    body, _, sigs = text.partition("\n\n")
    lines = body.split("\n")
    assert len(lines) >= 3, text
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    assert len(root) == 32, text
    sig_lines = [l for l in sigs.split("\n") if l]
    assert sig_lines, text
    for l in sig_lines:
        assert l.startswith("\u2014 "), l
        name, sig = l[2:].rsplit(" ", 1)
        assert len(base64.b64decode(sig)) == 68, l
    return origin, size, root, sig_lines


def checkpoint(s):
    status, hdrs, body = s.get("/v1/log/checkpoint")
    assert status == 200, (status, body)
    assert hdrs["content-type"].startswith("text/plain"), hdrs
    return body.decode()


def checkpoint_at_least(s, size, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        text = checkpoint(s)
        parsed = parse_checkpoint(text)
        if parsed[1] >= size:
            return parsed
        assert time.monotonic() < deadline, \
            f"no checkpoint of {size} leaves within {timeout} s: {text!r}"
        time.sleep(0.05)


def b64(xs):
    return [base64.b64decode(x) for x in xs]


FAST = ("--checkpoint-ms", "50")


# ---- tests --------------------------------------------------------------------

def test_log_key_and_first_checkpoint():
    with registry(*FAST, cast=False) as w:
        key = ok(w.public.get("/v1/log/key"), 200)
        name, keyid, pk = key["vkey"].split("+", 2)
        assert name == key["origin"] == "hrid.local/log", key
        assert len(keyid) == 8 and base64.b64decode(pk)[0] == 1, key
        assert base64.b64decode(pk)[1:] == base64.b64decode(key["public_key"])
        origin, size, root, sigs = checkpoint_at_least(w.s, 0)
        assert origin == key["origin"]
        assert sigs[0].startswith("\u2014 " + origin + " "), sigs
        # The signature's first four bytes are the key id of the vkey.
        assert base64.b64decode(sigs[0].rsplit(" ", 1)[1])[:4].hex() == keyid
        if size == 0:
            assert root == hashlib.sha256(b"").digest()


def test_every_event_is_a_leaf_with_a_proof():
    with registry(*FAST) as w:
        codes = [w.in_service() for _ in range(3)] + [w.released()]
        w.event(w.owner, codes[0], maintenance_start_body())
        events = []
        for c in codes:
            events += w.history(c)
        leaves = sorted(e["leaf"] for e in events)
        for e in events:
            assert e["leaf"] == e["seq"] - 1, e
        origin, size, root, _ = checkpoint_at_least(w.s, max(leaves) + 1)
        for e in events:
            p = ok(w.public.get(f"/v1/log/proof/inclusion?leaf={e['leaf']}"
                                f"&size={size}"), 200)
            assert p["leaf"] == e["leaf"] and p["size"] == size, p
            want = leaf_hash(leaf_bytes(e))
            assert base64.b64decode(p["leaf_hash"]) == want, \
                f"leaf {e['leaf']}: served hash differs from the event's {leaf_bytes(e)!r}"
            assert verify_inclusion(e["leaf"], size, want, b64(p["hashes"]), root), p
            # An altered proof fails.
            if p["hashes"]:
                bad = b64(p["hashes"])
                bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
                assert not verify_inclusion(e["leaf"], size, want, bad, root)
        # The proof of the event just recorded is there at once for the
        # size that includes it, before any checkpoint names that size.
        reply = w.event(w.owner, codes[0], maintenance_end_body())
        leaf = reply.get("leaf")
        assert leaf is not None and leaf >= size, reply
        p = ok(w.public.get(f"/v1/log/proof/inclusion?leaf={leaf}&size={leaf + 1}"), 200)
        assert base64.b64decode(p["leaf_hash"]) == leaf_hash(leaf_bytes(reply)), (p, reply)


def test_whole_log_recomputed_from_events():
    """Every leaf of the log, recomputed from the events the regulator can
    list, gives the checkpoint's root."""
    with registry(*FAST) as w:
        for _ in range(5):
            w.in_service()
        w.scrapped()
        st, _, units = w.regulator.get("/v1/units?limit=1000")
        events = []
        for u in units["items"]:
            events += w.history(u["code"])
        n = len(events)
        origin, size, root, _ = checkpoint_at_least(w.s, n)
        assert size == n, (size, n)
        by_leaf = sorted(events, key=lambda e: e["leaf"])
        assert [e["leaf"] for e in by_leaf] == list(range(n))
        assert mth([leaf_hash(leaf_bytes(e)) for e in by_leaf]) == root


def test_consistency_between_checkpoints():
    with registry(*FAST) as w:
        w.in_service()
        _, m, root_m, _ = checkpoint_at_least(w.s, 1)
        for _ in range(4):
            w.in_service()
        st, _, units = w.regulator.get("/v1/units?limit=1000")
        total = sum(len(w.history(u["code"])) for u in units["items"])
        _, n, root_n, _ = checkpoint_at_least(w.s, total)
        assert n > m
        for a in range(1, n + 1):
            p = ok(w.public.get(f"/v1/log/proof/consistency?from={a}&to={n}"), 200)
            assert p["from"] == a and p["to"] == n, p
            if a == m:
                assert verify_consistency(m, n, root_m, root_n, b64(p["hashes"])), p
                if p["hashes"]:
                    bad = b64(p["hashes"])
                    bad[-1] = bytes(32)
                    assert not verify_consistency(m, n, root_m, root_n, bad)
        p = ok(w.public.get(f"/v1/log/proof/consistency?from={n}&to={n}"), 200)
        assert p["hashes"] == [], p


def test_proof_arguments_are_checked():
    with registry(*FAST) as w:
        w.released()
        _, size, _, _ = checkpoint_at_least(w.s, 2)
        cases = [
            ("/v1/log/proof/inclusion?leaf=0", 422, "missing_field", "size"),
            ("/v1/log/proof/inclusion?size=1", 422, "missing_field", "leaf"),
            ("/v1/log/proof/inclusion?leaf=x&size=1", 422, "invalid_field", "leaf"),
            ("/v1/log/proof/inclusion?leaf=-1&size=1", 422, "invalid_field", "leaf"),
            ("/v1/log/proof/inclusion?leaf=01&size=2", 422, "invalid_field", "leaf"),
            (f"/v1/log/proof/inclusion?leaf={size}&size={size}", 422, "invalid_field", "leaf"),
            (f"/v1/log/proof/inclusion?leaf=0&size={size + 1000}", 404, "not_found", None),
            ("/v1/log/proof/inclusion?leaf=0&size=99999999999999999999", 422, "invalid_field", "size"),
            ("/v1/log/proof/consistency?from=0&to=1", 422, "invalid_field", "from"),
            ("/v1/log/proof/consistency?from=2&to=1", 422, "invalid_field", "from"),
            ("/v1/log/proof/consistency?to=1", 422, "missing_field", "from"),
            (f"/v1/log/proof/consistency?from=1&to={size + 1000}", 404, "not_found", None),
        ]
        for path, status, code, field in cases:
            err = refused(w.public.get(path), status, code, field, what=path)
            assert err["message"], err


def test_bulk_registration_is_in_the_log():
    with registry(*FAST) as w:
        units = [w.unit_body(w.model, serial=f"BULK{i:012d}") for i in range(500)]
        body = ok(w.maker.post("/v1/units", {"units": units}))
        codes = [u["code"] for u in body["units"]]
        first = w.history(codes[0])[0]
        last = w.history(codes[-1])[0]
        assert last["leaf"] - first["leaf"] == 499, (first, last)
        _, size, root, _ = checkpoint_at_least(w.s, last["leaf"] + 1)
        p = ok(w.public.get(f"/v1/log/proof/inclusion?leaf={last['leaf']}&size={size}"), 200)
        assert verify_inclusion(last["leaf"], size, leaf_hash(leaf_bytes(last)),
                                b64(p["hashes"]), root)


def test_refused_writes_leave_no_leaf():
    with registry(*FAST) as w:
        code = w.released()
        _, before, _, _ = checkpoint_at_least(w.s, 1)
        size_before = before
        # Refused: the owner is not the custodian; then an invalid body.
        refused(w.owner.post(f"/v1/units/{code}/events", deploy_body()), 403)
        refused(w.maker.post(f"/v1/units/{code}/events", {"type": "transfer"}), 422)
        # The next accepted event takes the very next leaf.
        e = w.event(w.maker, code, transfer_body(w.owner.party, "sale"))
        st, _, all_units = w.regulator.get("/v1/units?limit=1000")
        total = sum(len(w.history(u["code"])) for u in all_units["items"])
        assert e["leaf"] == total - 1, (e, total)
        assert e["leaf"] >= size_before


def test_restart_keeps_the_tree_and_the_key():
    with persistent_db() as db:
        with server(*FAST, db=db) as s:
            w = World(s)
            for _ in range(3):
                w.in_service()
            key1 = ok(w.public.get("/v1/log/key"), 200)
            _, n1, root1, _ = checkpoint_at_least(s, 12)
        with server(*FAST, db=db) as s2:
            w.rebind(s2)
            assert ok(w.public.get("/v1/log/key"), 200) == key1
            _, n, root, _ = checkpoint_at_least(s2, n1)
            assert (n, root) == (n1, root1)
            w.in_service()
            _, n2, root2, _ = checkpoint_at_least(s2, n1 + 1)
            p = ok(w.public.get(f"/v1/log/proof/consistency?from={n1}&to={n2}"), 200)
            assert verify_consistency(n1, n2, root1, root2, b64(p["hashes"])), p


def test_log_name_is_fixed_by_the_first_start():
    with persistent_db() as db:
        with server("--log-name", "registry.example.cn/log", *FAST, db=db) as s:
            status, _, key = s.get("/v1/log/key")
            assert key["origin"] == "registry.example.cn/log", key
        # Another name for the same database's key is refused at start.
        s2 = server("--log-name", "other.example/log", db=db)
        try:
            s2.start()
        except AssertionError as e:
            assert "registry.example.cn/log" in str(e), str(e)
        else:
            s2.stop()
            raise AssertionError("hridd started with another log name")
        # Without --log-name the stored one is kept.
        with server(*FAST, db=db) as s3:
            status, _, key = s3.get("/v1/log/key")
            assert key["origin"] == "registry.example.cn/log", key
