"""Credentials, QR labels and device challenges (DESIGN §5, docs/API.md
"Credentials, labels and device challenges"), black-box.

Signatures are Ed25519, which Python's standard library lacks: the tests
check them with the hrid tool (hrid label verify, hrid device answer),
which links libhrid, and read labels back from the PNG with zbarimg.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile

from fixtures import ok, refused, registry

HERE = os.path.dirname(os.path.abspath(__file__))


def hrid_path():
    return os.environ.get("HRID") or os.path.join(HERE, "..", "..", "build", "hrid")


def hrid(*args, check=True):
    p = subprocess.run([hrid_path(), *args], capture_output=True, text=True,
                       timeout=30)
    if check:
        assert p.returncode == 0, f"hrid {' '.join(args)}: {p.returncode} {p.stderr}"
    return p


def keygen():
    return json.loads(hrid("device", "keygen").stdout)


def answer(secret_key, code, nonce):
    return hrid("device", "answer", "--secret-key", secret_key, code, nonce).stdout.strip()


def display(code):
    return "-".join([code[0:2], code[2:6], code[6:12], code[12:28], code[28]])


def test_credential_of_a_unit():
    with registry() as w:
        dk = keygen()
        code = w.register(device_key=dk["public_key"])
        cred = ok(w.public.get(f"/v1/units/{code}/credential"), 200)
        c = cred["credential"]
        unit = w.unit(code)
        assert cred["format"] == "hrid-credential/v1", cred
        assert c["code"] == code and c["model"] == w.model, cred
        assert c["enterprise"] == w.model[:6] == w.maker.ent, cred
        assert c["production_date"] == unit["production_date"], (cred, unit)
        assert c["device_key"] == dk["public_key"], cred
        assert c["issued_at"] == unit["registered_at"], (cred, unit)
        assert cred["message"] == "".join(l + "\n" for l in [
            "hrid-credential/v1", code, c["enterprise"], c["model"],
            c["production_date"], c["device_key"], c["issued_at"]]), cred
        assert len(base64.b64decode(cred["signature"])) == 64
        pk = ok(w.public.get("/v1/platform/key"), 200)["public_key"]
        assert cred["platform_key"] == pk, cred
        # The same bytes whenever asked: the credential is issued once.
        assert ok(w.public.get(f"/v1/units/{code}/credential"), 200) == cred
        # A unit without a device key says so with "-" in the message.
        code2 = w.register()
        cred2 = ok(w.public.get(f"/v1/units/{code2}/credential"), 200)
        assert cred2["credential"]["device_key"] is None, cred2
        assert "\n-\n" in cred2["message"], cred2
        assert cred2["signature"] != cred["signature"]


def test_credential_refusals():
    with registry() as w:
        code = w.register()
        unknown = code[:12] + "Z" * 16
        from fixtures import check_char
        unknown = unknown + check_char(unknown)
        refused(w.public.get(f"/v1/units/{unknown}/credential"), 404, "not_found")
        refused(w.public.get(f"/v1/units/{code[:-1]}X/credential"), 422, "invalid_code")
        refused(w.public.get(f"/v1/units/{unknown}/label.svg"), 404, "not_found")
        refused(w.public.get(f"/v1/units/{code}/label.png?scale=0"), 422,
                "invalid_field", "scale")
        refused(w.public.get(f"/v1/units/{code}/label.png?scale=33"), 422,
                "invalid_field", "scale")
        refused(w.public.get(f"/v1/units/{code}/label.png?scale=4x"), 422,
                "invalid_field", "scale")


def test_label_is_genuine_and_a_changed_one_is_not():
    with registry() as w:
        code = w.register()
        cred = ok(w.public.get(f"/v1/units/{code}/credential"), 200)
        label = cred["label"]
        assert label.startswith(f"{w.s.url}/v/{code}?s="), label
        pk = cred["platform_key"]
        p = hrid("label", "verify", label, "--key", pk)
        assert display(code) in p.stdout and "genuine" in p.stdout, p.stdout
        # Every single-character change of the code or signature fails.
        start = label.index("/v/") + 3
        for i in range(start, len(label)):
            if label[i] in "?=":
                continue
            c = "A" if label[i] != "A" else "B"
            forged = label[:i] + c + label[i + 1:]
            p = hrid("label", "verify", forged, "--key", pk, check=False)
            assert p.returncode == 1, f"forged label {forged} passed: {p.stdout}"
            assert "not genuine" in p.stdout + p.stderr, p.stdout + p.stderr
        # Another platform's key does not make it genuine.
        other = keygen()["public_key"]
        p = hrid("label", "verify", label, "--key", other, check=False)
        assert p.returncode == 1 and "not genuine" in p.stdout + p.stderr


def test_label_images():
    with registry() as w:
        code = w.register()
        label = ok(w.public.get(f"/v1/units/{code}/credential"), 200)["label"]
        status, hdrs, svg = w.public.get(f"/v1/units/{code}/label.svg")
        assert status == 200 and hdrs["content-type"] == "image/svg+xml", hdrs
        assert hdrs["x-hrid-label"] == label, hdrs
        assert b"<svg" in svg and display(code).encode() in svg, svg[:200]
        status, hdrs, png = w.public.get(f"/v1/units/{code}/label.png?scale=4")
        assert status == 200 and hdrs["content-type"] == "image/png", hdrs
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        zbar = shutil.which("zbarimg")
        assert zbar, "zbarimg not found: install zbar-tools (scripts/install-deps.sh test)"
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            f.write(png)
            f.flush()
            p = subprocess.run([zbar, "--raw", "-q", f.name], capture_output=True,
                               text=True, timeout=30)
        assert p.stdout.strip() == label, (p.stdout, label)


def test_public_url_goes_into_labels():
    with registry("--public-url", "https://hrid.example.gov.cn/") as w:
        code = w.register()
        label = ok(w.public.get(f"/v1/units/{code}/credential"), 200)["label"]
        assert label.startswith(f"https://hrid.example.gov.cn/v/{code}?s="), label


def test_device_challenge():
    with registry() as w:
        dk = keygen()
        code = w.register(device_key=dk["public_key"])
        ch = ok(w.public.post(f"/v1/units/{code}/challenge"), 201)
        assert ch["code"] == code and ch["nonce"] and ch["id"], ch
        assert ch["expires_at"] > w.unit(code)["registered_at"], ch
        sig = answer(dk["secret_key"], code, ch["nonce"])
        r = ok(w.public.post(f"/v1/units/{code}/challenge/{ch['id']}",
                             {"signature": sig}), 200)
        assert r == {"code": code, "verified": True}, r
        # A copied label on another robot: that robot has another key.
        impostor = keygen()
        bad = answer(impostor["secret_key"], code, ch["nonce"])
        r = ok(w.public.post(f"/v1/units/{code}/challenge/{ch['id']}",
                             {"signature": bad}), 200)
        assert r["verified"] is False and r["reason"], r
        # An answer to another challenge does not answer this one.
        ch2 = ok(w.public.post(f"/v1/units/{code}/challenge"), 201)
        assert ch2["id"] != ch["id"]
        r = ok(w.public.post(f"/v1/units/{code}/challenge/{ch2['id']}",
                             {"signature": sig}), 200)
        assert r["verified"] is False, r
        # A challenge is bound to its unit.
        code2 = w.register(device_key=dk["public_key"])
        refused(w.public.post(f"/v1/units/{code2}/challenge/{ch['id']}",
                              {"signature": sig}), 404, "not_found", "challenge")
        # A forged or malformed id.
        forged = ch["id"][:-2] + ("AA" if ch["id"][-2:] != "AA" else "BB")
        refused(w.public.post(f"/v1/units/{code}/challenge/{forged}",
                              {"signature": sig}), 404, "not_found", "challenge")
        refused(w.public.post(f"/v1/units/{code}/challenge/xyz",
                              {"signature": sig}), 404, "not_found", "challenge")
        # Bad bodies.
        url = f"/v1/units/{code}/challenge/{ch['id']}"
        refused(w.public.post(url, {}), 422, "missing_field", "signature")
        refused(w.public.post(url, {"signature": "not base64!"}), 422,
                "invalid_field", "signature")
        refused(w.public.post(url, {"signature": base64.b64encode(b"x" * 63).decode()}),
                422, "invalid_field", "signature")
        refused(w.public.post(url, {"signature": sig, "extra": 1}), 422)
        refused(w.public.post(url, b"{"), 400, "bad_json")


def test_challenge_needs_a_device_key():
    with registry() as w:
        code = w.register()
        refused(w.public.post(f"/v1/units/{code}/challenge"), 409, "no_device_key")
