#!/usr/bin/env python3
"""Black-box tests of the hrid command-line tool.

The offline part (hrid code) is tested here; the online commands, against
a real hridd (env HRIDD, default build/san/hridd), in test_online.py, whose
tests run after these.  Runs the real binary (env HRID, default
build/san/hrid) and checks its stdout, stderr and exit status.  Python 3
standard library only.

The check character is recomputed here by an independent implementation of
ISO 7064 MOD 37,36 (the hybrid system, written from the standard's
definition rather than from lib/code.c) and compared with the tool on a few
thousand random codes.

Prints "ok   name" or "FAIL name: why" per test, then "N passed, N failed";
exits 1 when a test failed.
"""

import concurrent.futures
import json
import os
import random
import select
import subprocess
import sys

HRID = os.environ.get("HRID", "build/san/hrid")

# Exit statuses of the tool (src/cli/cli.h).
OK, FAIL, USAGE = 0, 1, 2

# ---- ISO 7064 MOD 37,36 -------------------------------------------------

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"   # values 0..35
ALLOC = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"        # no I, no O


def mod3736_check(body):
    """The check character of body under ISO 7064 MOD 37,36 (hybrid).

    M = 36; P starts at M; for each character S = (P + value) mod M,
    with S = M when that is 0, then P = (S * 2) mod (M + 1).  The check
    character's value c is the one for which (P + c) mod M == 1.
    """
    m = 36
    p = m
    for ch in body:
        s = (p + ALPHABET.index(ch)) % m
        if s == 0:
            s = m
        p = (s * 2) % (m + 1)
    for c in range(m):
        if (p + c) % m == 1:
            return ALPHABET[c]
    raise AssertionError("no check character")  # cannot happen


def mod3736_valid(code):
    """The standard's own verification: run the whole code, check char
    included, through the recurrence; it must end on S == 1."""
    m = 36
    p = m
    s = None
    for ch in code:
        s = (p + ALPHABET.index(ch)) % m
        if s == 0:
            s = m
        p = (s * 2) % (m + 1)
    return s == 1


VECTORS = [
    ("CNA7K23260012605220000001234", "U"),
    ("CN00010260010000000000000001", "N"),
    ("DEZZZZ531ABC25123199999999ZZ", "J"),
]

COUNTRIES = ["CN", "DE", "US", "JP", "KR", "FR", "GB", "IT", "SG", "BR"]


def random_body(rng):
    """28 characters: country, enterprise, model and serial body."""
    return (rng.choice(COUNTRIES)
            + "".join(rng.choice(ALLOC) for _ in range(4))
            + str(rng.randint(0, 5))
            + "%02d" % rng.randint(0, 99)
            + "".join(rng.choice(ALLOC) for _ in range(3))
            + "".join(rng.choice(ALPHABET) for _ in range(16)))


def random_code(rng):
    body = random_body(rng)
    return body + mod3736_check(body)


def split(body):
    """The segments of a 28-character body, as hrid code make wants them."""
    return body[0:2], body[2:6], body[6:12], body[12:28]


# ---- running the tool ---------------------------------------------------


def run(*args, stdin=b"", timeout=120):
    """Runs hrid with args; returns (status, stdout, stderr) as text."""
    p = subprocess.run([HRID] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def expect_status(got, want, out="", err=""):
    expect(got == want, "exit %d, expected %d; stdout %r; stderr %r"
           % (got, want, out[-300:], err[-300:]))


def make_args(body):
    cc, ent, model, serial = split(body)
    return ["code", "make", "--country", cc, "--enterprise", ent,
            "--model", model, "--serial", serial]


# ---- help, version, errors ----------------------------------------------


def test_help():
    for args in (["--help"], ["-h"], ["help"]):
        st, out, err = run(*args)
        expect_status(st, OK, out, err)
        expect(out.startswith("usage: hrid"), "%s: no usage: %r" % (args, out))
        expect("code" in out and "help" in out, "%s: commands not listed" % args)
        expect(err == "", "%s: stderr %r" % (args, err))


def test_version():
    st, out, err = run("--version")
    expect_status(st, OK, out, err)
    expect(out == "hrid 0.1.0\n", "version %r" % out)


def test_no_command():
    st, out, err = run()
    expect_status(st, USAGE, out, err)
    expect("usage: hrid" in err and out == "", "usage not on stderr")


def test_code_help():
    st, out, err = run("code", "--help")
    expect_status(st, OK, out, err)
    for word in ("usage: hrid code", "validate", "decode", "make"):
        expect(word in out, "%r missing from %r" % (word, out))
    st2, out2, _ = run("help", "code")
    expect(st2 == OK and out2 == out, "'hrid help code' differs")
    st, out, err = run("code")
    expect_status(st, USAGE, out, err)


def test_subcommand_help():
    for sub in ("validate", "decode", "make"):
        st, out, err = run("code", sub, "--help")
        expect_status(st, OK, out, err)
        expect(out.startswith("usage: hrid code " + sub), "%s: %r" % (sub, out))


def test_unknown_command():
    st, out, err = run("foo")
    expect_status(st, USAGE, out, err)
    expect("hrid: unknown command 'foo'" in err, "stderr %r" % err)
    st, out, err = run("code", "frobnicate")
    expect_status(st, USAGE, out, err)
    expect("frobnicate" in err, "stderr %r" % err)
    st, out, err = run("help", "foo")
    expect_status(st, USAGE, out, err)


def test_unknown_option():
    cases = [
        (["--foo"], "--foo"),
        (["code", "validate", "--bogus", "X"], "--bogus"),
        (["code", "decode", "-x", "X"], "-x"),
        (["code", "make", "--colour=red"], "--colour"),
    ]
    for args, name in cases:
        st, out, err = run(*args)
        expect_status(st, USAGE, out, err)
        expect("error: unknown option '%s'" % name in err, "stderr %r" % err)
        expect("usage: " in err, "%s: no usage line" % args)
        expect(out == "", "%s: stdout %r" % (args, out))
    st, out, err = run("code", "decode", "--json=yes", "X")
    expect_status(st, USAGE, out, err)
    st, out, err = run("code", "make", "--country")
    expect_status(st, USAGE, out, err)
    expect("requires a value" in err, "stderr %r" % err)


# ---- validate -----------------------------------------------------------

GOOD = "CNA7K23260012605220000001234U"


def test_validate_valid():
    st, out, err = run("code", "validate", GOOD)
    expect_status(st, OK, out, err)
    expect(out == GOOD + ": ok\n", "stdout %r" % out)
    # forgiving input is echoed as given
    loose = "cn-a7k2-326001-2605220000001234-u"
    st, out, err = run("code", "validate", loose, "CN A7K2 326001 2605220000001234 U")
    expect_status(st, OK, out, err)
    expect(out == loose + ": ok\nCN A7K2 326001 2605220000001234 U: ok\n",
           "stdout %r" % out)


def test_validate_invalid():
    bad = "cn-a7k2-326001-2605Ö20000001234-u"
    st, out, err = run("code", "validate", bad)
    expect_status(st, FAIL, out, err)
    expect(out == bad + ": invalid: position 17: 'Ö' is not in 0-9A-Z\n",
           "stdout %r" % out)
    st, out, err = run("code", "validate", GOOD[:-1] + "K")
    expect_status(st, FAIL, out, err)
    expect(out == GOOD[:-1] + "K: invalid: check character is 'K', expected 'U'\n",
           "stdout %r" % out)
    for junk in ("", "CN", "XXA7K23260012605220000001234U", GOOD + "0"):
        st, out, err = run("code", "validate", junk)
        expect_status(st, FAIL, out, err)
        expect(out.startswith(junk + ": invalid: "), "stdout %r" % out)


def test_validate_mixed():
    bad = GOOD[:5] + GOOD[6] + GOOD[5] + GOOD[7:]   # adjacent transposition
    st, out, err = run("code", "validate", GOOD, bad, GOOD)
    expect_status(st, FAIL, out, err)
    lines = out.splitlines()
    expect(len(lines) == 3, "lines %r" % lines)
    expect(lines[0] == GOOD + ": ok" and lines[2] == GOOD + ": ok", "%r" % lines)
    expect(lines[1].startswith(bad + ": invalid: "), "%r" % lines[1])
    st, out, err = run("code", "validate", "--quiet", GOOD, bad)
    expect_status(st, FAIL, out, err)
    expect(out.startswith(bad + ": invalid") and out.count("\n") == 1, "%r" % out)
    st, out, err = run("code", "validate")
    expect_status(st, USAGE, out, err)


def corrupt(rng, code):
    """A code damaged in one of the ways a label goes wrong."""
    kind = rng.randrange(5)
    i = rng.randrange(len(code))
    if kind == 0:      # one character changed
        c = rng.choice([x for x in ALPHABET if x != code[i]])
        return code[:i] + c + code[i + 1:]
    if kind == 1:      # a character dropped
        return code[:i] + code[i + 1:]
    if kind == 2:      # a character outside the alphabet
        return code[:i] + rng.choice("*Ö#é_") + code[i + 1:]
    if kind == 3:      # an unassigned country
        return "ZZ" + code[2:]
    # adjacent transposition of two different characters
    j = next((k for k in range(len(code) - 1) if code[k] != code[k + 1]), 0)
    return code[:j] + code[j + 1] + code[j] + code[j + 2:]


def test_validate_stdin_28000():
    rng = random.Random(28000)
    codes, invalid = [], set()
    for n in range(28000):
        code = random_code(rng)
        if n % 997 == 13:
            bad = corrupt(rng, code)
            # a single change may, rarely, still give a valid code; the
            # independent implementation decides what to expect
            if not (len(bad) == 29 and all(c in ALPHABET for c in bad)
                    and bad[:2] in COUNTRIES and mod3736_valid(bad)):
                code = bad
                invalid.add(n)
        codes.append(code)
    data = ("\n".join(codes) + "\n").encode()
    st, out, err = run("code", "validate", "-", stdin=data)
    expect_status(st, FAIL, out[:300], err)
    lines = out.split("\n")
    expect(lines[-1] == "" and len(lines) == 28001, "%d lines" % (len(lines) - 1))
    for n, (code, line) in enumerate(zip(codes, lines)):
        if n in invalid:
            expect(line.startswith(code + ": invalid: "), "line %d: %r" % (n, line))
        else:
            expect(line == code + ": ok", "line %d: %r" % (n, line))
    want = "28000 codes: %d valid, %d invalid\n" % (28000 - len(invalid), len(invalid))
    expect(err == want, "summary %r, expected %r" % (err, want))
    expect(len(invalid) > 20, "too few invalid codes generated")

    st, out, err = run("code", "validate", "--quiet", "-", stdin=data)
    expect_status(st, FAIL, out[:300], err)
    got = out.splitlines()
    expect(len(got) == len(invalid), "quiet printed %d lines" % len(got))
    expect(all(": invalid: " in x for x in got), "quiet printed a valid code")
    expect(err == want, "quiet summary %r" % err)

    valid_only = ("\n".join(c for n, c in enumerate(codes) if n not in invalid)
                  + "\n").encode()
    st, out, err = run("code", "validate", "-q", "-", stdin=valid_only)
    expect_status(st, OK, out, err)
    expect(out == "", "quiet printed %r" % out[:200])
    expect(err == "%d codes: %d valid, 0 invalid\n"
           % (28000 - len(invalid), 28000 - len(invalid)), "summary %r" % err)


def test_validate_stdin_crlf_blank():
    rng = random.Random(7)
    a, b = random_code(rng), random_code(rng)
    bad_check = "0" if a[-1] != "0" else "1"
    data = ("\r\n" + a + "\r\n\r\n   \n\t\r\n" + b.lower() + "\r\n\n"
            + a[:-1] + bad_check + "\r\n" + b).encode()   # no final newline
    st, out, err = run("code", "validate", "-", stdin=data)
    expect_status(st, FAIL, out, err)
    lines = out.split("\n")
    expect(len(lines) == 5 and lines[4] == "", "lines %r" % lines)
    expect(lines[0] == a + ": ok", "line 0 %r" % lines[0])
    expect(lines[1] == b.lower() + ": ok", "line 1 %r" % lines[1])
    expect(lines[2].startswith(a[:-1] + bad_check + ": invalid: check character"),
           "line 2 %r" % lines[2])
    expect(lines[3] == b + ": ok", "line 3 %r" % lines[3])
    expect("\r" not in out, "a carriage return was echoed")
    expect(err == "4 codes: 3 valid, 1 invalid\n", "summary %r" % err)


def test_validate_stdin_empty():
    st, out, err = run("code", "validate", "-", stdin=b"")
    expect_status(st, OK, out, err)
    expect(out == "" and err == "0 codes: 0 valid, 0 invalid\n", "%r %r" % (out, err))
    st, out, err = run("code", "validate", "-", stdin=b"\n\r\n  \n")
    expect_status(st, OK, out, err)
    expect(out == "" and err == "0 codes: 0 valid, 0 invalid\n", "%r %r" % (out, err))


def test_validate_stdin_long_lines():
    # a line far too long to be a code, one just past a read buffer, and a
    # stream without any newline must neither crash nor lose later lines
    huge = b"A" * (3 * 1024 * 1024)
    data = huge + b"\n" + GOOD.encode() + b"\n" + b"-" * 70000 + b"\n" + GOOD.encode()
    st, out, err = run("code", "validate", "-", stdin=data)
    expect_status(st, FAIL, out[:300], err)
    lines = out.split("\n")
    expect(len(lines) == 5, "%d lines" % len(lines))
    expect(lines[0].startswith("AAAA") and ": invalid: " in lines[0], lines[0][:100])
    expect(len(lines[0]) < 1000, "overlong line echoed in full")
    expect(lines[1] == GOOD + ": ok" and lines[3] == GOOD + ": ok", "%r" % lines)
    expect(": invalid: " in lines[2], "%r" % lines[2][:100])
    expect(err == "4 codes: 2 valid, 2 invalid\n", "summary %r" % err)
    st, out, err = run("code", "validate", "-", stdin=b"\0" * (2 * 1024 * 1024))
    expect_status(st, FAIL, out[:300], err)
    expect(err == "1 codes: 0 valid, 1 invalid\n", "summary %r" % err)
    # a line of moderate length (under the cap) is echoed as given
    mid = "x" * 5000
    st, out, err = run("code", "validate", "-", stdin=mid.encode())
    expect_status(st, FAIL, out[:300], err)
    expect(out.startswith(mid + ": invalid: "), "mid-length line not echoed")


def test_validate_stdin_streams():
    # with a pipe on both sides, a result must come out as soon as its
    # line is in, not when stdin closes
    p = subprocess.Popen([HRID, "code", "validate", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for code in (GOOD, GOOD.lower()):
            p.stdin.write((code + "\n").encode())
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 10)
            expect(ready, "no result within 10 s of writing a line")
            line = p.stdout.readline().decode()
            expect(line == code + ": ok\n", "got %r" % line)
        p.stdin.close()
        rest = p.stdout.read().decode()
        expect(rest == "", "extra output %r" % rest)
        expect(p.wait(10) == OK, "exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


# ---- decode -------------------------------------------------------------


def test_decode_human():
    st, out, err = run("code", "decode", "cn-a7k2-326001-2605220000001234-u")
    expect_status(st, OK, out, err)
    fields = dict(line.split(": ", 1) for line in out.splitlines())
    want = {
        "code": GOOD,
        "display": "CN-A7K2-326001-2605220000001234-U",
        "enterprise": "A7K2",
        "model id": "CNA7K2326001",
        "filing year": "2026",
        "model sequence": "001",
        "serial body": "2605220000001234",
        "check": "U",
    }
    for k, v in want.items():
        expect(fields.get(k) == v, "%s: %r, expected %r" % (k, fields.get(k), v))
    expect(fields.get("country", "").startswith("CN (China"), "country %r"
           % fields.get("country"))
    expect(fields.get("intelligence level", "").startswith("3 (")
           and "autonomy" in fields["intelligence level"],
           "level %r" % fields.get("intelligence level"))


def test_decode_json():
    for args in (["code", "decode", "--json", GOOD], ["--json", "code", "decode", GOOD],
                 ["code", "decode", GOOD, "--json"]):
        st, out, err = run(*args)
        expect_status(st, OK, out, err)
        try:
            obj = json.loads(out)
        except ValueError as e:
            raise AssertionError("%s: not JSON (%s): %r" % (args, e, out))
        expect(isinstance(obj, dict), "not an object: %r" % out)
        # the shape src/core/codejson.h documents, shared with the HTTP API
        got = (obj.get("code"), obj.get("display"), obj.get("country"),
               obj.get("enterprise"), obj.get("model"), obj.get("serial"),
               obj.get("check"))
        want = (GOOD, "CN-A7K2-326001-2605220000001234-U",
                {"code": "CN", "name": "China"}, "A7K2",
                {"id": "CNA7K2326001", "code": "326001", "level": 3,
                 "level_meaning": "conditional autonomy among trained staff",
                 "filing_year": 2026, "sequence": "001"},
                "2605220000001234", "U")
        expect(got == want, "%s: %r, expected %r" % (args, got, want))


def test_decode_invalid():
    st, out, err = run("code", "decode", GOOD[:-1] + "K")
    expect_status(st, FAIL, out, err)
    expect(out == "", "stdout %r" % out)
    expect(err.startswith("error: ") and "check character is 'K', expected 'U'" in err,
           "stderr %r" % err)
    st, out, err = run("code", "decode", "--json", "CN")
    expect_status(st, FAIL, out, err)
    expect(out == "", "stdout %r" % out)
    st, out, err = run("code", "decode")
    expect_status(st, USAGE, out, err)
    st, out, err = run("code", "decode", GOOD, GOOD)
    expect_status(st, USAGE, out, err)


# ---- make ---------------------------------------------------------------


def test_make_vectors():
    for body, check in VECTORS:
        st, out, err = run(*make_args(body))
        expect_status(st, OK, out, err)
        expect(out == body + check + "\n", "%s: %r" % (body, out))
        st, out, err = run(*make_args(body.lower()), "--display")
        expect_status(st, OK, out, err)
        cc, ent, model, serial = split(body)
        want = "-".join([cc, ent, model, serial, check]) + "\n"
        expect(out == want, "display %r, expected %r" % (out, want))
        st, out, err = run(*make_args(body), "--json")
        expect_status(st, OK, out, err)
        expect(body + check in json.dumps(json.loads(out)), "json %r" % out)


def test_make_allocate():
    base = ["code", "make", "--country", "CN", "--enterprise", "A7K2", "--model", "326001"]
    st, out, err = run(*base, "--allocate", "2026-05-22:1234")
    expect_status(st, OK, out, err)
    code = out.strip()
    expect(len(code) == 29 and code.startswith("CNA7K2326001260522"), "code %r" % code)
    expect(all(c in ALLOC for c in code[18:28]), "sequence %r uses I or O" % code[18:28])
    expect(code[28] == mod3736_check(code[:28]), "check of %r" % code)
    st2, out2, _ = run(*base, "--allocate", "2026-05-22:1235")
    expect(st2 == OK and out2.strip() != code, "seq 1235 gave %r" % out2)
    for bad in ("2026-02-30:1", "1999-12-31:1", "2026-13-01:1"):
        st, out, err = run(*base, "--allocate", bad)
        expect_status(st, FAIL, out, err)
        expect(err.startswith("error: "), "%s: stderr %r" % (bad, err))
    for bad in ("2026-5-22:1", "2026-05-22", "2026-05-22:", "2026-05-22:-1",
                "2026-05-22:99999999999999999999999"):
        st, out, err = run(*base, "--allocate", bad)
        expect_status(st, USAGE, out, err)


def test_make_bad_segments():
    good = {"--country": "CN", "--enterprise": "A7K2", "--model": "326001",
            "--serial": "2605220000001234"}
    bad = [
        ("--country", "XX"), ("--country", "C"), ("--country", "C1"),
        ("--enterprise", "A7K"), ("--enterprise", "A7KI"), ("--enterprise", "A7K2X"),
        ("--model", "626001"), ("--model", "3A6001"), ("--model", "3260O1"),
        ("--model", "32600"), ("--serial", "260522000000123"),
        ("--serial", "26052200000012345"), ("--serial", "2605220000001*34"),
    ]
    for opt, val in bad:
        args = dict(good)
        args[opt] = val
        argv = ["code", "make"]
        for k, v in args.items():
            argv += [k, v]
        st, out, err = run(*argv)
        expect_status(st, FAIL, out, err)
        expect(out == "" and err.startswith("error: "), "%s %s: %r" % (opt, val, err))


def test_make_usage_errors():
    full = ["--country", "CN", "--enterprise", "A7K2", "--model", "326001",
            "--serial", "2605220000001234"]
    for i in range(0, 8, 2):   # each option left out in turn
        argv = full[:i] + full[i + 2:]
        st, out, err = run("code", "make", *argv)
        expect_status(st, USAGE, out, err)
        expect("error: missing " + full[i] in err, "stderr %r" % err)
    st, out, err = run("code", "make", *full, "--allocate", "2026-05-22:1")
    expect_status(st, USAGE, out, err)
    st, out, err = run("code", "make", *full, "extra")
    expect_status(st, USAGE, out, err)


# ---- the check character, independently ---------------------------------


def test_mod3736_self():
    expect(mod3736_check("A12425GABC1234002") == "M", "GRid example")
    expect(mod3736_valid("A12425GABC1234002M"), "GRid example does not verify")
    for body, check in VECTORS:
        expect(mod3736_check(body) == check, "%s gives %s" % (body, mod3736_check(body)))
        expect(mod3736_valid(body + check), "%s%s does not verify" % (body, check))
    # every single-character substitution is caught
    code = VECTORS[0][0] + VECTORS[0][1]
    for i in range(len(code)):
        for c in ALPHABET:
            if c != code[i]:
                expect(not mod3736_valid(code[:i] + c + code[i + 1:]), "missed %d %s" % (i, c))


def test_mod3736_random():
    rng = random.Random(3736)
    codes = [random_code(rng) for _ in range(2000)]

    # hrid code make computes the same check character
    def make(code):
        return code, run(*make_args(code[:28]))

    workers = max(2, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for code, (st, out, err) in pool.map(make, codes):
            expect(st == OK and out == code + "\n",
                   "make %s: exit %d, %r %r" % (code[:28], st, out, err))

    # hrid code validate accepts each, and refuses each with any other
    # check character, naming the one the standard expects
    wrong = []
    for code in codes:
        c = rng.choice([x for x in ALPHABET if x != code[28]])
        wrong.append(code[:28] + c)
    data = ("\n".join(codes + wrong) + "\n").encode()
    st, out, err = run("code", "validate", "-", stdin=data)
    expect_status(st, FAIL, out[:300], err)
    lines = out.splitlines()
    expect(len(lines) == 4000, "%d lines" % len(lines))
    for code, line in zip(codes, lines[:2000]):
        expect(line == code + ": ok", "validate %r" % line)
    for code, line in zip(wrong, lines[2000:]):
        want = "%s: invalid: check character is '%s', expected '%s'" % (
            code, code[28], mod3736_check(code[:28]))
        expect(line == want, "%r, expected %r" % (line, want))
    expect(err == "4000 codes: 2000 valid, 2000 invalid\n", "summary %r" % err)


# ---- runner -------------------------------------------------------------


def main():
    if not os.access(HRID, os.X_OK):
        print("FAIL setup: %s is not an executable (set HRID)" % HRID)
        print("0 passed, 1 failed")
        return 1
    tests = [(name, fn) for name, fn in globals().items()
             if name.startswith("test_") and callable(fn)]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    # The offline trust commands (labels, device keys), in test_trust.py.
    import test_trust
    tests += [(name, fn) for name, fn in vars(test_trust).items()
              if name.startswith("test_") and callable(fn)]
    # The online commands' tests (a real hridd), after the offline ones.
    import test_online
    tests += [(name, fn) for name, fn in vars(test_online).items()
              if name.startswith("test_") and callable(fn)]
    # The log's audit tools: databases tampered with, hridds forked.
    import test_audit
    tests += [(name, fn) for name, fn in vars(test_audit).items()
              if name.startswith("test_") and callable(fn)]
    only = sys.argv[1:]
    passed = failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        try:
            fn()
        except Exception as e:   # a test's failure, whatever its kind
            failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
        else:
            passed += 1
            print("ok   %s" % name, flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
