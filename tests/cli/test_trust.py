"""Black-box tests of hrid's offline trust commands: "label verify",
"label make", "device keygen" and "device answer" (DESIGN §5).

No server is needed: labels are made with "hrid label make" from keys of
"hrid device keygen", and the one published example of Go's sumdb/note
(a PRIVATE+KEY signer key with its known public key) stands in for
hridd's key files, so that reading them is checked against a key made
elsewhere.  Python's standard library has no Ed25519, so signatures are
checked by their shape, their determinism and by the tool's own verifier;
tests/api/test_trust.py checks the same commands against a real hridd.

run.py runs these after its own tests.  Python 3 standard library only.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile

HRID = os.path.abspath(os.environ.get("HRID", "build/san/hrid"))

OK, FAIL, USAGE = 0, 1, 2

CODE = "CNA7K23260012605220000001234U"
DISPLAY = "CN-A7K2-326001-2605220000001234-U"
CODE2 = "CN00010260010000000000000001N"
BASE = "https://hrid.example.gov.cn"

# The signer and verifier keys of golang.org/x/mod/sumdb/note's example.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_PK = base64.b64encode(base64.b64decode(GO_VKEY.split("+", 2)[2])[1:]).decode()

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def run(*args, stdin=b""):
    p = subprocess.run([HRID] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def expect_status(got, want, out="", err=""):
    expect(got == want, "exit %d, expected %d; stdout %r; stderr %r"
           % (got, want, out[-300:], err[-300:]))


class Keys:
    """A temporary directory of key files, removed at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hrid-trust-test-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def keygen(self, name):
        """A new key pair: (path of the keygen JSON, its dict)."""
        st, out, err = run("device", "keygen")
        expect_status(st, OK, out, err)
        return self.write(name, out), json.loads(out)


def make_label(key_file, code=CODE, base=BASE):
    st, out, err = run("label", "make", "--secret-key-file", key_file,
                       "--base", base, code)
    expect_status(st, OK, out, err)
    expect(out.endswith("\n") and out.count("\n") == 1, "label %r" % out)
    return out[:-1]


def verify(label, *key_args, stdin=b""):
    return run("label", "verify", label, *key_args, stdin=stdin)


# ---- device keygen ------------------------------------------------------


def test_trust_keygen():
    with Keys() as k:
        _, a = k.keygen("a.json")
        _, b = k.keygen("b.json")
    expect(set(a) == {"public_key", "secret_key"}, "members %r" % a)
    pk, sk = base64.b64decode(a["public_key"]), base64.b64decode(a["secret_key"])
    expect(len(a["public_key"]) == 44 and len(pk) == 32, "public %r" % a)
    expect(len(a["secret_key"]) == 88 and len(sk) == 64, "secret %r" % a)
    # libsodium's layout: the seed, then the public key.
    expect(sk[32:] == pk, "the secret key does not end in the public key")
    expect(a != b, "two key pairs are the same")
    st, out, err = run("device", "keygen", "extra")
    expect_status(st, USAGE, out, err)
    st, out, err = run("device", "--help")
    expect_status(st, OK, out, err)
    expect("keygen" in out and "answer" in out, "device --help: %r" % out)


# ---- label make and verify ----------------------------------------------


def test_trust_label_genuine():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        label = make_label(path)
        m = re.fullmatch(re.escape(BASE) + r"/v/([0-9A-Z]{29})\?s=([A-Za-z0-9_-]{91})",
                         label)
        expect(m and m.group(1) == CODE, "label %r" % label)
        # The key id and signature, base64url without padding.
        blob = base64.urlsafe_b64decode(m.group(2) + "=")
        expect(len(blob) == 68, "s= holds %d bytes" % len(blob))

        st, out, err = verify(label, "--key", key["public_key"])
        expect_status(st, OK, out, err)
        expect(out == "genuine: %s\n" % DISPLAY and err == "", "%r %r" % (out, err))
        # The key in every form: the keygen JSON, the bare base64 in a
        # file (with a newline), the JSON of GET /v1/platform/key.
        pk_file = k.write("pk.txt", key["public_key"] + "\n")
        api_file = k.write("platform-key.json", json.dumps(
            {"public_key": key["public_key"], "algorithm": "ed25519"}))
        for args in (["--key-file", path], ["--key-file", pk_file],
                     ["--key-file", api_file], ["--key=" + key["public_key"]]):
            st, out, err = verify(label, *args)
            expect_status(st, OK, out, err)
            expect(out == "genuine: %s\n" % DISPLAY, "%s: %r" % (args, out))
        # The options may come first, and the label from stdin.
        st, out, err = run("label", "verify", "--key", key["public_key"], "-",
                           stdin=(label + "\r\n").encode())
        expect_status(st, OK, out, err)
        expect(out == "genuine: %s\n" % DISPLAY, "stdin: %r" % out)
        # A label is made the same way every time: Ed25519 is deterministic.
        expect(make_label(path) == label, "two labels of one code differ")
        # Forgiving input for make and, in the URL, for verify.
        expect(make_label(path, DISPLAY.lower()) == label, "display form")
        typed = label.replace("/v/" + CODE, "/v/" + DISPLAY.lower())
        st, out, err = verify(typed, "--key", key["public_key"])
        expect_status(st, OK, out, err)


def test_trust_label_json():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        label = make_label(path)
        for args in (["label", "verify", label, "--key", key["public_key"], "--json"],
                     ["--json", "label", "verify", label, "--key", key["public_key"]]):
            st, out, err = run(*args)
            expect_status(st, OK, out, err)
            expect(json.loads(out) == {"genuine": True, "code": CODE, "reason": None},
                   "%s: %r" % (args, out))
        i = len(label) - 20
        forged = label[:i] + other_char(label[i], B64URL) + label[i + 1:]
        st, out, err = run("label", "verify", forged, "--key",
                           key["public_key"], "--json")
        expect_status(st, FAIL, out, err)
        doc = json.loads(out)
        expect(doc["genuine"] is False and doc["code"] == CODE
               and doc["reason"] in ("bad signature", "unknown key"), "%r" % doc)
        st, out, err = run("label", "verify", "nonsense", "--key",
                           key["public_key"], "--json")
        expect_status(st, FAIL, out, err)
        doc = json.loads(out)
        expect(doc == {"genuine": False, "code": None,
                       "reason": "malformed: label has no signature (no '?s=')"},
               "%r" % doc)


def other_char(c, alphabet):
    """A character of alphabet other than c, and not c in another case."""
    for x in alphabet:
        if x.upper() != c.upper():
            return x
    raise AssertionError("no other character")


def test_trust_label_one_changed_character():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        label = make_label(path)
        start = label.index("/v/")
        q = label.index("?")
        for i in range(start, len(label)):
            c = label[i]
            if start + 3 <= i < q:
                bad = other_char(c, ALNUM[(i * 7) % 36:] + ALNUM)
            elif i > q + 2:
                bad = other_char(c, B64URL[(i * 11) % 64:] + B64URL)
            else:
                bad = "x" if c != "x" else "y"
            forged = label[:i] + bad + label[i + 1:]
            st, out, err = verify(forged, "--key", key["public_key"])
            expect_status(st, FAIL, out, err)
            expect(out.startswith("not genuine: ") and out.count("\n") == 1,
                   "position %d: %r" % (i, out))
            if start + 3 <= i < q:
                expect(out.startswith("not genuine: invalid code: "),
                       "position %d: %r" % (i, out))
            elif i <= q + 2:
                expect(out.startswith("not genuine: malformed: "),
                       "position %d: %r" % (i, out))
            else:
                expect(out in ("not genuine: bad signature\n",
                               "not genuine: unknown key\n")
                       or out.startswith("not genuine: malformed: "),
                       "position %d: %r" % (i, out))


def test_trust_label_wrong_key():
    with Keys() as k:
        path, _ = k.keygen("platform.json")
        _, other = k.keygen("other.json")
        label = make_label(path)
        st, out, err = verify(label, "--key", other["public_key"])
        expect_status(st, FAIL, out, err)
        expect(out == "not genuine: unknown key\n", "stdout %r" % out)
        st, out, err = verify(label, "--key", other["public_key"], "--json")
        expect_status(st, FAIL, out, err)
        expect(json.loads(out) == {"genuine": False, "code": CODE,
                                   "reason": "unknown key"}, "json %r" % out)
        # Another code's signature under the right key.
        l2 = make_label(path, CODE2)
        spliced = label[:label.index("?")] + l2[l2.index("?"):]
        st, out, err = verify(spliced, "--key-file", path)
        expect_status(st, FAIL, out, err)
        expect(out == "not genuine: bad signature\n", "stdout %r" % out)


def test_trust_label_malformed():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        label = make_label(path)
        pk = key["public_key"]
        q = label.index("?")
        cases = [
            (label[:q], "malformed: label has no signature (no '?s=')"),
            (label[:q] + "?t=" + label[q + 3:],
             "malformed: label has no signature (no '?s=')"),
            (label[:-1], "malformed: label signature is 90 characters, expected 91"),
            (label + "A", "malformed: label signature is 92 characters, expected 91"),
            (label[:q + 5] + "+" + label[q + 6:],
             "malformed: label signature is not base64url"),
            (label.replace("/v/", "/w/"), "malformed: label has no '/v/' before its code"),
            (label[:q - 1] + "K" + label[q:],
             "invalid code: check character is 'K', expected 'U'"),
            (label.replace(CODE, CODE[:10] + "*" + CODE[11:]),
             "invalid code: position 11: '*' is not in 0-9A-Z"),
            ("https://" + "x" * 400 + label[len(BASE):],
             "malformed: label is 534 bytes, longer than 512"),
        ]
        for text, reason in cases:
            st, out, err = verify(text, "--key", pk)
            expect_status(st, FAIL, out, err)
            expect(out == "not genuine: %s\n" % reason,
                   "%r: %r, expected %r" % (text[-40:], out, reason))
        st, out, err = run("label", "verify", "--key", pk, "-",
                           stdin=b"x" * 100000)
        expect_status(st, FAIL, out, err)
        expect(out == "not genuine: malformed: label is longer than 512 bytes\n",
               "stdin: %r" % out)


def test_trust_label_usage():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        label = make_label(path)
        pk = key["public_key"]
        for args, why in (
                (["label", "verify", label], "missing --key or --key-file"),
                (["label", "verify", "--key", pk], "no label given"),
                (["label", "verify", label, label, "--key", pk], "one label at a time"),
                (["label", "verify", label, "--key", pk, "--key-file", path],
                 "exclude each other"),
                (["label", "verify", label, "--key"], "requires a value"),
                (["label", "make", "--base", BASE, CODE], "missing --secret-key-file"),
                (["label", "make", "--secret-key-file", path, CODE], "missing --base"),
                (["label", "make", "--secret-key-file", path, "--base", BASE],
                 "no code given"),
                (["label", "frob"], "unknown subcommand"),
        ):
            st, out, err = run(*args)
            expect_status(st, USAGE, out, err)
            expect(why in err and out == "", "%s: %r" % (args, err))
        st, out, err = run("label", "verify", "--help")
        expect_status(st, OK, out, err)
        expect(out.startswith("usage: hrid label verify"), "help %r" % out)
        st, out, err = run("help", "label")
        expect_status(st, OK, out, err)
        expect("verify" in out and "make" in out, "help label %r" % out)

        # Keys that are not keys.
        for bad, why in (("abc", "not a key"),
                         (pk[:-2] + "==", "not a key"),
                         ("\u00e9" * 22, "not a key")):
            st, out, err = verify(label, "--key", bad)
            expect_status(st, FAIL, out, err)
            expect(err.startswith("error: --key: ") and why in err and out == "",
                   "%r: %r" % (bad, err))
        st, out, err = verify(label, "--key-file", os.path.join(k.dir, "none"))
        expect_status(st, FAIL, out, err)
        expect(err.startswith("error: cannot read key file"), "stderr %r" % err)
        # A public key cannot sign.
        st, out, err = run("label", "make", "--secret-key-file",
                           k.write("pk.txt", pk), "--base", BASE, CODE)
        expect_status(st, FAIL, out, err)
        expect("a public key, where a secret key is needed" in err, "stderr %r" % err)
        # A secret key whose halves do not belong together.
        sk = json.loads(open(path).read())["secret_key"]
        raw = base64.b64decode(sk)
        mixed = base64.b64encode(raw[:32] + base64.b64decode(pk)[::-1]).decode()
        st, out, err = run("label", "make", "--secret-key-file",
                           k.write("mixed.txt", mixed), "--base", BASE, CODE)
        expect_status(st, FAIL, out, err)
        expect("do not belong together" in err, "stderr %r" % err)


def test_trust_label_make_batch():
    with Keys() as k:
        path, key = k.keygen("platform.json")
        st, out, err = run("label", "make", "--secret-key-file", path, "--base",
                           "http://127.0.0.1:8080", CODE, DISPLAY.lower(), CODE2)
        expect_status(st, OK, out, err)
        labels = out.splitlines()
        expect(len(labels) == 3 and labels[0] == labels[1], "labels %r" % labels)
        expect(labels[2].startswith("http://127.0.0.1:8080/v/%s?s=" % CODE2),
               "label %r" % labels[2])
        for label in labels:
            st, out, err = verify(label, "--key", key["public_key"])
            expect_status(st, OK, out, err)
        st, out, err = run("--json", "label", "make", "--secret-key-file", path,
                           "--base", BASE, CODE, CODE2)
        expect_status(st, OK, out, err)
        doc = json.loads(out)
        expect([d["code"] for d in doc] == [CODE, CODE2], "json %r" % doc)
        expect(doc[0]["label"] == make_label(path), "json %r" % doc)
        # One bad code: nothing printed, every bad code named.
        st, out, err = run("label", "make", "--secret-key-file", path, "--base",
                           BASE, CODE, CODE[:-1] + "K", "CN")
        expect_status(st, FAIL, out, err)
        expect(out == "", "stdout %r" % out)
        expect(err.count("error: invalid code") == 2
               and "check character is 'K', expected 'U'" in err, "stderr %r" % err)
        # Base URLs that cannot make a label.
        for base in ("https://hrid.example/", "https://hrid.example?x=1",
                     "https://" + "x" * 400):
            st, out, err = run("label", "make", "--secret-key-file", path,
                               "--base", base, CODE)
            expect_status(st, FAIL, out, err)
            expect(err.startswith("error: cannot make a label") and out == "",
                   "%s: %r" % (base, err))


def test_trust_label_go_private_key():
    # hridd keeps its keys as PRIVATE+KEY files; the Go example's is one
    # whose public key is known independently (from its vkey).
    with Keys() as k:
        path = k.write("platform-key", GO_SKEY + "\n")
        label = make_label(path)
        for args in (["--key", GO_PK], ["--key", GO_VKEY], ["--key-file", path]):
            st, out, err = verify(label, *args)
            expect_status(st, OK, out, err)
            expect(out == "genuine: %s\n" % DISPLAY, "%s: %r" % (args, out))
        bad = k.write("bad-id", GO_SKEY.replace("c74f20a3", "c74f20a4"))
        st, out, err = run("label", "make", "--secret-key-file", bad, "--base",
                           BASE, CODE)
        expect_status(st, FAIL, out, err)
        expect("key id 'c74f20a4' does not match the key" in err, "stderr %r" % err)


# ---- device answer ------------------------------------------------------

NONCE = "n-3f9c1ab0e47d5a6b8c9d0e1f2a3b4c5d"


def answer(*args):
    st, out, err = run("device", "answer", *args)
    expect_status(st, OK, out, err)
    sig = out.strip()
    expect(out == sig + "\n", "answer %r" % out)
    expect(len(sig) == 88 and len(base64.b64decode(sig, validate=True)) == 64,
           "answer %r is not the base64 of 64 bytes" % sig)
    return sig


def test_trust_device_answer():
    with Keys() as k:
        path, key = k.keygen("device.json")
        sk = key["secret_key"]
        sig = answer("--secret-key", sk, CODE, NONCE)
        # Deterministic, and the same whatever form the key or code has.
        expect(answer("--secret-key", sk, CODE, NONCE) == sig, "not deterministic")
        expect(answer("--secret-key-file", path, CODE, NONCE) == sig, "key file")
        expect(answer("--secret-key-file", k.write("sk.txt", sk + "\n"),
                      DISPLAY.lower(), NONCE) == sig, "forgiving code")
        # Anything signed changes the answer.
        others = {answer("--secret-key", sk, CODE, NONCE + "0"),
                  answer("--secret-key", sk, CODE, NONCE[:-1]),
                  answer("--secret-key", sk, CODE, "N" + NONCE[1:]),
                  answer("--secret-key", sk, CODE2, NONCE),
                  answer("--secret-key", k.keygen("other.json")[1]["secret_key"],
                         CODE, NONCE)}
        expect(len(others) == 5 and sig not in others, "answers collide")
        # --json is the body of POST /v1/units/{code}/challenge/{id}.
        st, out, err = run("device", "answer", "--secret-key", sk, CODE, NONCE,
                           "--json")
        expect_status(st, OK, out, err)
        expect(json.loads(out) == {"signature": sig}, "json %r" % out)
        # A nonce with spaces is signed as given.
        answer("--secret-key", sk, CODE, "a nonce with spaces")


def test_trust_device_answer_errors():
    with Keys() as k:
        path, key = k.keygen("device.json")
        sk = key["secret_key"]
        for args, status, why in (
                ([CODE, NONCE], USAGE, "missing --secret-key-file or --secret-key"),
                (["--secret-key", sk, CODE], USAGE, "no nonce given"),
                (["--secret-key", sk], USAGE, "no code and no nonce given"),
                (["--secret-key", sk, CODE, NONCE, "x"], USAGE, "unexpected argument"),
                (["--secret-key", sk, "--secret-key-file", path, CODE, NONCE], USAGE,
                 "exclude each other"),
                (["--secret-key", sk, CODE[:-1] + "K", NONCE], FAIL,
                 "invalid code '%s': check character is 'K', expected 'U'"
                 % (CODE[:-1] + "K")),
                (["--secret-key", sk, CODE, ""], FAIL, "nonce is empty"),
                (["--secret-key", sk, CODE, "a\tb"], FAIL,
                 "nonce byte 2 is not printable ascii"),
                (["--secret-key", sk, CODE, "x" * 257], FAIL,
                 "nonce is longer than 256 bytes"),
                (["--secret-key", key["public_key"], CODE, NONCE], FAIL,
                 "a public key, where a secret key is needed"),
                (["--secret-key", sk[:-4], CODE, NONCE], FAIL, "not a key"),
        ):
            st, out, err = run("device", "answer", *args)
            expect_status(st, status, out, err)
            expect(why in err and out == "", "%s: %r" % (args, err))
