#!/usr/bin/env python3
"""The portal's tests (docs/portal.md), against a real hridd.

    python3 tests/web/run.py                # everything
    python3 tests/web/run.py --no-browser   # the HTTP-level tests only
    python3 tests/web/run.py NAME...        # some tests, e.g. as_of_shows_an_earlier_state

Python starts hridd (tests/api/harness.py, fixtures.py), walks units into
the states the pages must show, and runs the HTTP-level tests: the verify
page's content, weight, escaping and privacy, its report form without
JavaScript, the static files and their refusals.  It then hands the cast
to e2e.mjs, which drives Debian's chromium with playwright-core (pinned in
package-lock.json here, installed by npm ci on the first run, never a
browser download) through the scan flow, the form, the dashboard, fence
violations, proofs, as-of and search.  Failed browser tests leave
screenshots in tests/web/artefacts/.

Prints one line per test and ends with "N passed, N failed"; exits 1 if
any test failed.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

from fixtures import (check_char, deploy_body, iso, now, ok, registry,  # noqa: E402
                      release_body, transfer_body)
from harness import quote  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGE_WEIGHT_MAX = 100 * 1024
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# The transfer price of the unit the tests follow: private, and distinctive
# enough that finding it in a page can only mean it leaked.
PRICE = 987654.32


# ---- the tool chain -------------------------------------------------------

def prepare_tools():
    """Builds the portal's vendored library and installs playwright-core
    from the pinned lock file; returns an error message or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is missing: run scripts/install-deps.sh test"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: run scripts/install-deps.sh test"
    r = subprocess.run(["make", "--no-print-directory", "-s", "web"], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"make web failed:\n{r.stdout}{r.stderr}"
    stamp = os.path.join(HERE, "node_modules", ".package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                           cwd=HERE, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return f"npm ci in tests/web failed:\n{r.stdout}{r.stderr}"
    return None


# ---- the cast -------------------------------------------------------------

def label_of(w, code):
    return ok(w.public.get(f"/v1/units/{code}/credential"), 200)["label"]


def path_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def forge(label, at=40):
    """The label with one character of its signature changed."""
    base, sig = label.split("?s=")
    c = "A" if sig[at] != "A" else "B"
    return f"{base}?s={sig[:at]}{c}{sig[at + 1:]}"


def prepare(w):
    """Units in the states the pages must show; returns the scenario."""
    t0 = now()

    def ago(hours):
        return iso(t0 - datetime.timedelta(hours=hours))

    # The unit the scan flow follows: its events spread over the last
    # three days so that as-of has an earlier state to show, and health
    # reports every two hours since, its knee wearing and its battery
    # fading.
    made = (t0 - datetime.timedelta(days=4)).strftime("%Y-%m-%d")
    active = w.register(at=ago(72), production_date=made)
    w.event(w.maker, active, dict(release_body(), at=ago(70)))
    w.event(w.maker, active, dict(transfer_body(w.owner.party, "sale", PRICE, "CNY"),
                                  at=ago(68)))
    w.event(w.owner, active, dict(deploy_body(), at=ago(66)))
    # A wear alert for the model, and four of its units whose joints wear
    # far less, so that the unit is also an outlier of its fleet.
    ok(w.regulator.post("/v1/alert-rules", {"model": w.model, "metric": "joint.*.wear",
                                            "op": ">", "threshold": 0.25, "for_minutes": 0}))
    fleet = [w.in_service_since(t0 - datetime.timedelta(hours=2)) for _ in range(4)]
    ok(w.owner.post("/v1/telemetry", {"reports": [
        {"unit": c, "t": ago(1), "joints": [{"id": 0, "wear": round(0.1 + 0.01 * (i % 3), 4)}],
         "battery": {"soh": 0.97}} for i, c in enumerate(fleet)]}), 200)
    reports = [{"unit": active, "t": ago(64 - 2 * i),
                "joints": [{"id": 0, "wear": round(0.2 + 0.002 * i, 4)},
                           {"id": 7, "wear": round(0.1 + 0.0005 * i, 4)}],
                "battery": {"soh": round(0.95 - 0.001 * i, 4)},
                "precision_mm": round(0.25 + 0.001 * i, 3)} for i in range(32)]
    ok(w.owner.post("/v1/telemetry", {"reports": reports}), 200)
    # Text that canonical JSON must escape exactly: quotes, a backslash, a
    # tab, a slash and non-ASCII.
    ok(w.owner.post(f"/v1/units/{active}/incidents", {
        "severity": "minor", "kind": "collision", "place": "大厅 / hall 3",
        "description": 'bumped a "table"\twith its arm \\ no harm, 机器人 ok'}))

    scrapped = w.scrapped()
    recalled = w.sold(maker=w.maker2)
    w.event(w.owner, recalled, deploy_body())
    recall = ok(w.maker2.post("/v1/recalls", {
        "defect": "hip actuator may overheat", "hazard": "burn",
        "remedy": "replace the hip actuator with part HX-HP-41",
        "target": {"models": [w.model2]}}))

    m4 = w.file_model(w.maker, level=4, approve=True)
    ok(w.certifier.post("/v1/certifications", {
        "model": m4, "scheme": "GB/T 45000 service robots", "tier": "B",
        "scenarios": ["care", "home"], "conditions": "staff on site",
        "limits": {"max_speed_mps": 1.0, "supervision": "on_site", "max_payload_kg": 5},
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}))
    certified = w.register(model=m4)

    xss_name = '<script>alert(1)</script> & "Q"'
    mx = ok(w.maker.post(f"/v1/enterprises/{w.maker.ent}/models",
                         w.model_body(3, 2026, name=xss_name)))["model"]
    w.approve(mx)
    xss = w.register(model=mx)

    # A unit in service that e2e.mjs fences in and reports outside its
    # zone, through the API, as its custodian (the owner) would.
    fenced = w.in_service()

    # A few more states for the charts.
    w.suspended()
    w.in_maintenance()
    w.register()

    def unit(code):
        u = w.unit(code)
        return {"code": code, "display": u["display"], "label": label_of(w, code)}

    return {
        "base": w.s.url,
        "regulator": w.regulator.key, "maker": w.maker.key, "owner": w.owner.key,
        "active": dict(unit(active), before=ago(69)),
        "scrapped": unit(scrapped),
        "recalled": dict(unit(recalled), defect=recall["defect"], remedy=recall["remedy"]),
        "certified": unit(certified),
        "xss": dict(unit(xss), name=xss_name),
        "fenced": unit(fenced),
        "private": [w.owner.name, w.owner.info["address"], w.owner.info["contact"],
                    w.owner.info["registry_no"], "987654", "CNY", "L2026-05-A",
                    "Shenzhen plant 2", "KM0001", w.maker.name,
                    w.maker.info["address"], w.maker.info["contact"], "joint.0.wear",
                    "0.262"],
        "owner_party": w.owner.party,
        "model": w.model,
    }


# ---- HTTP-level tests -----------------------------------------------------

def html(result, status):
    got, hdrs, body = result
    assert got == status, f"status {got}, expected {status}: {body[:300]!r}"
    assert hdrs.get("content-type", "").startswith("text/html"), hdrs
    return hdrs, body.decode("utf-8")


def test_verify_page_is_small_and_shows_no_private_data(w, sc):
    hdrs, page = html(w.public.get(path_of(sc["active"]["label"])), 200)
    size = len(page.encode())
    assert size < PAGE_WEIGHT_MAX, f"the verify page is {size} bytes"
    assert 'data-genuine="yes"' in page and "In service" in page, page
    assert "script-src 'sha256-" in hdrs.get("content-security-policy", ""), hdrs
    for secret in sc["private"]:
        assert secret not in page, f"the verify page shows {secret!r}"
    # A key on the request changes nothing: the page is the public's.
    _, page = html(w.regulator.get(path_of(sc["active"]["label"])), 200)
    for secret in sc["private"]:
        assert secret not in page, f"with a regulator key the page shows {secret!r}"


def test_missing_forged_and_foreign_signatures(w, sc):
    code = sc["active"]["code"]
    _, page = html(w.public.get(f"/v/{code}"), 200)
    assert "Label not genuine" in page and "no label signature" in page, page
    assert 'id="state-badge"' in page and "may not describe the robot" in page, page
    _, page = html(w.public.get(path_of(forge(sc["active"]["label"]))), 200)
    assert "Label not genuine" in page and "does not match this code" in page, page
    assert "label signature does not verify" in page, page
    # The first characters carry the key id: another key signed it.
    _, page = html(w.public.get(path_of(forge(sc["active"]["label"], at=1))), 200)
    assert "Label not genuine" in page and "not the registry" in page, page
    # A label of another unit does not vouch for this one.
    other = sc["scrapped"]["label"].split("?s=")[1]
    _, page = html(w.public.get(f"/v/{code}?s={other}"), 200)
    assert "Label not genuine" in page, page


def test_invalid_and_unknown_codes_say_why(w, sc):
    code = sc["active"]["code"]
    wrong = code[:28] + ("0" if code[28] != "0" else "1")
    _, page = html(w.public.get(f"/v/{wrong}"), 422)
    assert "not a valid HRID code" in page, page
    assert f"check character is &#39;{wrong[28]}&#39;, expected &#39;{code[28]}&#39;" in page, page
    _, page = html(w.public.get("/v/CN-12"), 422)
    assert "expected 29" in page, page
    body28 = code[:12] + "Z" * 16
    _, page = html(w.public.get(f"/v/{body28 + check_char(body28)}"), 404)
    assert "No robot is registered under this code" in page, page
    _, page = html(w.public.get("/v/" + quote("<script>alert(1)</script>")), 422)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, page
    # Forgiving input: lower case and hyphens.
    _, page = html(w.public.get(f"/v/{sc['active']['display'].lower()}"), 200)
    assert sc["active"]["display"] in page, page


def test_registry_text_is_escaped(w, sc):
    _, page = html(w.public.get(path_of(sc["xss"]["label"])), 200)
    assert "<script>alert(1)</script>" not in page, page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Q&quot;" in page, page


def test_states_recalls_certifications_in_plain_words(w, sc):
    _, page = html(w.public.get(path_of(sc["scrapped"]["label"])), 200)
    assert ">Scrapped</span>" in page and 'id="market-verdict">denied' in page, page
    assert "is scrapped" in page, page
    _, page = html(w.public.get(path_of(sc["recalled"]["label"])), 200)
    assert 'id="recalled-badge"' in page and sc["recalled"]["defect"] in page, page
    assert sc["recalled"]["remedy"] in page and "denied" in page, page
    _, page = html(w.public.get(path_of(sc["certified"]["label"])), 200)
    assert "GB/T 45000 service robots, tier B (its model)" in page, page
    assert "care, homes" in page and "top speed 1 m/s" in page, page
    assert "trained staff on site" in page and "carries at most 5 kg" in page, page
    assert "4 of 5: autonomy among the public" in page, page


def incidents(w, code):
    return ok(w.regulator.get(f"/v1/incidents?verified=false&unit={code}"), 200)["items"]


def test_report_form_without_javascript(w, sc):
    code, sig = sc["active"]["code"], sc["active"]["label"].split("?s=")[1]
    form = {"kind": "fall", "severity": "serious", "when": "2026-01-02T03:04",
            "place": "north gate", "description": "it tipped over <b>near</b> a child",
            "contact": "witness@example.cn", "s": sig}
    _, page = html(w.public.post(f"/v/{code}/report", urllib.parse.urlencode(form),
                                 headers=FORM), 201)
    assert "Your report was received" in page and "read as UTC" in page, page
    assert f"/v/{code}?s={sig}" in page, page
    got = [i for i in incidents(w, code) if i["description"] == form["description"]]
    assert len(got) == 1, got
    i = got[0]
    assert (i["kind"], i["severity"], i["place"], i["contact"]) == \
        ("fall", "serious", "north gate", "witness@example.cn"), i
    assert i["at"] == "2026-01-02T03:04:00.000Z" and i["verified"] is False, i
    # Refusals come back as the page, with what was typed, escaped.
    bad = dict(form, description="", place='"><script>x</script>')
    _, page = html(w.public.post(f"/v/{code}/report", urllib.parse.urlencode(bad),
                                 headers=FORM), 422)
    assert 'id="report-error"' in page and "What happened" in page, page
    assert "&quot;&gt;&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page, page
    _, page = html(w.public.post(f"/v/{code}/report",
                                 urllib.parse.urlencode(dict(form, when="yesterday")),
                                 headers=FORM), 422)
    assert "When it happened" in page, page
    _, page = html(w.public.post("/v/CN-12/report", "kind=fall", headers=FORM), 422)
    assert "not a valid HRID code" in page, page


def test_static_files_and_refusals(w, sc):
    status, hdrs, _ = w.public.get("/portal")
    assert status == 301 and hdrs.get("location") == "/portal/", (status, hdrs)
    hdrs, page = html(w.public.get("/portal/"), 200)
    assert 'src="app.js"' in page and "default-src 'self'" in hdrs["content-security-policy"], hdrs
    types = {"/portal/app.js": "text/javascript", "/portal/proof.js": "text/javascript",
             "/portal/style.css": "text/css", "/portal/favicon.svg": "image/svg+xml",
             "/portal/vendor/chart.umd.js": "text/javascript"}
    for path, ctype in types.items():
        status, hdrs, body = w.public.get(path)
        assert status == 200 and hdrs["content-type"].startswith(ctype), (path, status, hdrs)
        assert hdrs.get("x-content-type-options") == "nosniff", hdrs
    status, hdrs, body = w.public.get("/portal/vendor/chart.umd.js")
    assert len(body) > 100000, len(body)
    status, _, body = w.public.get("/portal/vendor/chart.umd.js",
                                   headers={"If-None-Match": hdrs["etag"]})
    assert status == 304 and body == b"", status
    for path in ["/portal/..%2fMakefile", "/portal/%2e%2e/Makefile", "/portal/%2E%2E",
                 "/portal/vendor/..%2f..%2fMakefile", "/portal/..%2f..%2f..%2fetc%2fpasswd",
                 "/portal/../Makefile", "/portal/package.json", "/portal/package-lock.json",
                 "/portal/.gitignore", "/portal/node_modules/chart.js",
                 "/portal/vendor/.hidden.js", "/portal/web/index.html", "/portal/nothere.js",
                 "/portal/index.html%00.js", "/portal/vendor/x/y.js"]:
        status, _, body = w.public.get(path)
        text = json.dumps(body) if isinstance(body, dict) else body.decode("utf-8", "replace")
        assert status == 404, f"{path}: {status} {text[:200]!r}"
        assert "?= cc" not in text and "root:" not in text, path


def test_report_form_limit(w, sc):
    """Runs on a hridd of its own: the budget is per address and hour."""
    code = sc["code"]
    form = urllib.parse.urlencode({"kind": "other", "severity": "minor",
                                   "description": "test"})
    for _ in range(10):
        html(w.public.post(f"/v/{code}/report", form, headers=FORM), 201)
    _, page = html(w.public.post(f"/v/{code}/report", form, headers=FORM), 429)
    assert "Too many reports" in page and 'id="report-error"' in page, page


HTTP_TESTS = [
    test_verify_page_is_small_and_shows_no_private_data,
    test_missing_forged_and_foreign_signatures,
    test_invalid_and_unknown_codes_say_why,
    test_registry_text_is_escaped,
    test_states_recalls_certifications_in_plain_words,
    test_report_form_without_javascript,
    test_static_files_and_refusals,
]


# ---- the run --------------------------------------------------------------

class Tally:
    def __init__(self):
        self.passed = self.failed = 0

    def run(self, fn, *args):
        label = f"web_http.{fn.__name__}"
        try:
            fn(*args)
        except Exception as exc:
            self.failed += 1
            msg = str(exc) if isinstance(exc, AssertionError) and str(exc) else \
                "".join(traceback.format_exception_only(type(exc), exc)).strip()
            print(f"FAIL {label}: {msg}")
            if not isinstance(exc, AssertionError):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {label}")
        sys.stdout.flush()


def browser_tests(scenario, tally, names):
    """Runs e2e.mjs on the scenario (its tests named, or all) and adds its
    counts."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(scenario, f)
        path = f.name
    try:
        env = dict(os.environ, CHROMIUM=CHROMIUM, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        proc = subprocess.run(["node", os.path.join(HERE, "e2e.mjs"), path, *names],
                              cwd=HERE, env=env, capture_output=True, text=True,
                              timeout=240)
    except subprocess.TimeoutExpired as exc:
        print(f"FAIL web.e2e: timed out\n{exc.stdout or ''}")
        tally.failed += 1
        return
    finally:
        os.unlink(path)
    counted = False
    for line in proc.stdout.splitlines():
        parts = line.split(" passed, ")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].endswith(" failed"):
            tally.passed += int(parts[0])
            tally.failed += int(parts[1].split()[0])
            counted = True
        else:
            print(line)
    if proc.returncode != 0 or not counted:
        print(proc.stderr)
        if not counted or proc.returncode != 0 and tally.failed == 0:
            print(f"FAIL web.e2e: node exited {proc.returncode}")
            tally.failed += 1


def main(argv):
    tally = Tally()
    browser = "--no-browser" not in argv
    names = [a for a in argv[1:] if not a.startswith("-")]

    def chosen(fn):
        return not names or fn.__name__ in names
    if browser:
        why = prepare_tools()
        if why is not None:
            print(f"FAIL web.tools: {why}")
            print("0 passed, 1 failed")
            return 1
    with registry("--checkpoint-ms", "100") as w:
        sc = prepare(w)
        for fn in filter(chosen, HTTP_TESTS):
            tally.run(fn, w, sc)
        if browser:
            browser_tests(sc, tally, names)
    if chosen(test_report_form_limit):
        with registry() as w:
            tally.run(test_report_form_limit, w, {"code": w.register()})
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
