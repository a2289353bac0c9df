"""Fixtures for the registry's API tests: a hridd with a known admin key,
and helpers that enrol enterprises, file and approve models, create parties
of every kind with keys, register units and walk them through their
lifecycle (docs/API.md).

    with registry() as w:            # a fresh hridd and its cast (World)
        code = w.in_service()        # a unit sold to w.owner and deployed
        status, hdrs, body = w.owner.get(f"/v1/units/{code}")

Every helper that creates something asserts that the registry accepted it,
so a test fails at the step that went wrong, with the reply in the message.
Python 3 standard library only.
"""

import contextlib
import datetime
import itertools
import json

from harness import Server, assert_error, quote

# Long enough for core (at least 24 characters); only ever used on loopback.
ADMIN_KEY = "hrid_test_admin_key_0123456789abcdefghijklmnop"

PARTY_KINDS = ("regulator", "seller", "owner", "service", "recycler", "certifier")
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Platform-allocated segments skip I and O (DESIGN §2).
ALLOC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

_names = itertools.count(1)


def server(*args, db=None, admin_key=ADMIN_KEY, env=None):
    """A Server with HRID_ADMIN_KEY set (None: unset, so hridd generates one)."""
    e = dict(env or {})
    e["HRID_ADMIN_KEY"] = admin_key
    return Server(*args, env=e, db=db)


@contextlib.contextmanager
def registry(*args, db=None, cast=True):
    """A started hridd and a World on it (with its cast when cast is true)."""
    with server(*args, db=db) as s:
        yield World(s, cast=cast)


# ---- time -----------------------------------------------------------------

def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t):
    """RFC 3339 UTC with milliseconds, as the registry writes times."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def today():
    return now().strftime("%Y-%m-%d")


def check_char(body28):
    """ISO 7064 MOD 37,36 over 28 characters (as in test_codes.py)."""
    p = 36
    for c in body28:
        s = (p + ALPHABET.index(c)) % 36 or 36
        p = (2 * s) % 37
    return ALPHABET[(37 - p) % 36]


# ---- callers --------------------------------------------------------------

class Actor:
    """A caller of the API: a key (None for the public), the party it speaks
    for and its role.  Requests return (status, headers, body)."""

    def __init__(self, s, key, party=None, role="public", name=None, info=None):
        self.s = s
        self.key = key
        self.party = party
        self.role = role
        self.name = name
        self.info = info or {}

    def __repr__(self):
        return f"<{self.role} party={self.party}>"

    def req(self, method, path, body=None, headers=None, timeout=10):
        return self.s.request(method, path, body=body, headers=headers, key=self.key,
                              timeout=timeout)

    def get(self, path, headers=None):
        return self.req("GET", path, headers=headers)

    def post(self, path, body=None, idem=None, headers=None, timeout=10):
        h = dict(headers or {})
        if idem is not None:
            h["Idempotency-Key"] = idem
        return self.req("POST", path, body=body, headers=h, timeout=timeout)

    def delete(self, path, headers=None):
        return self.req("DELETE", path, headers=headers)

    def items(self, path, limit=1000):
        """Every item of a paginated listing (follows next_cursor)."""
        out, cursor = [], None
        sep = "&" if "?" in path else "?"
        for _ in range(10000):
            p = f"{path}{sep}limit={limit}"
            if cursor is not None:
                p += "&cursor=" + quote(cursor)
            status, _, body = self.get(p)
            assert status == 200, f"GET {p}: {status} {body!r}"
            out.extend(body["items"])
            cursor = body.get("next_cursor")
            if cursor is None:
                return out
        raise AssertionError(f"GET {path}: the cursor never ends")


def ok(result, status=201, what=""):
    """Asserts a reply's status and returns its body."""
    got, _, body = result
    assert got == status, f"{what}: status {got}, expected {status}: {body!r}"
    return body


def refused(result, status, code=None, field=None, what=""):
    """Asserts a refusal (status, and code/field when given); returns the error."""
    got, _, body = result
    assert got == status, f"{what}: status {got}, expected {status}: {body!r}"
    if code is None:
        assert isinstance(body, dict) and "error" in body, f"{what}: {body!r}"
        return body["error"]
    return assert_error(body, code, status, got, field=field)


# ---- event bodies (docs/API.md, "Lifecycle events") ------------------------

def ev(type_, **fields):
    return dict(type=type_, **fields)


def release_body(filing_no="MA-2026-000123"):
    return ev("release", market_filing_no=filing_no)


def transfer_body(to, kind="sale", price=None, currency=None):
    b = ev("transfer", to=to, kind=kind)
    if price is not None:
        b["price"] = price
    if currency is not None:
        b["currency"] = currency
    return b


def deploy_body(scenario="care", operator=None, region="440305"):
    b = ev("deploy", site={"name": "Nanshan care home 3", "region": region,
                           "lat": 22.53, "lon": 113.93},
           scenario=scenario)
    if operator is not None:
        b["operator"] = operator
    return b


def maintenance_start_body(wo="WO-1"):
    return ev("maintenance_start", work_order=wo, reason="left knee noise")


def maintenance_end_body(wo="WO-1", old_serial=None, new_serial="KM0099"):
    """Ends maintenance; with old_serial, the left knee joint's part (serial
    old_serial, as registered by the fixtures: KM0001) is replaced."""
    b = ev("maintenance_end", work_order=wo, findings="bearing worn")
    if old_serial is not None:
        b["parts_replaced"] = [{"slot": "joint.knee.left", "old_serial": old_serial,
                                "part_no": "HX-KM-40", "supplier": "Harmonic Co",
                                "lot": "HX2607", "serial": new_serial}]
    return b


def firmware_body(frm="1.4.2", to="1.5.0"):
    return ev("firmware_update", component="main", from_version=frm,
              to_version=to, package_digest="ab" * 32)


def inspection_body():
    return ev("inspection", result="pass", next_due="2027-05-22", notes="annual")


def incident_body(severity="minor", description="bumped into a table"):
    return ev("incident", severity=severity, kind="collision", place="dining hall",
              description=description)


def suspend_body():
    return ev("suspend", reason="safety review")


def resume_body():
    return ev("resume", reason="review closed")


def scrap_body():
    return ev("scrap", reason="end of life")


def recycle_body():
    return ev("recycle", data_wipe={"method": "NIST 800-88 purge",
                                    "attestation": "WIPE-2026-0001"},
              materials=[{"material": "aluminium", "mass_kg": 21.5}])


def export_body(country="DE"):
    return ev("export", country=country, customs_ref="EX-2026-1")


def import_body(country="CN"):
    return ev("import", country=country, customs_ref="IM-2026-1")


def void_body(replaced_by=None):
    b = ev("void", reason="registered with the wrong serial")
    if replaced_by is not None:
        b["replaced_by"] = replaced_by
    return b


# ---- the registry and its cast -------------------------------------------

class World:
    """A hridd and the parties that use it.

    With cast=True: admin, public, regulator, two manufacturers (maker and
    maker2) with an approved model each (model, model2), a seller, two
    owners (owner, owner2), a service provider, a recycler and a
    certifier, each an Actor with its own key."""

    def __init__(self, s, cast=True):
        self.s = s
        self.admin = Actor(s, ADMIN_KEY, role="admin")
        self.public = Actor(s, None)
        if not cast:
            return
        self.regulator = self.party("regulator")
        self.maker = self.enterprise("Alpha Robotics")
        self.maker2 = self.enterprise("Beta Robotics")
        self.seller = self.party("seller")
        self.owner = self.party("owner")
        self.owner2 = self.party("owner")
        self.service = self.party("service")
        self.recycler = self.party("recycler")
        self.certifier = self.party("certifier")
        self.model = self.file_model(self.maker, approve=True)
        self.model2 = self.file_model(self.maker2, approve=True)

    def rebind(self, s):
        """Points the World and its actors at another Server (a restart)."""
        self.s = s
        for a in vars(self).values():
            if isinstance(a, Actor):
                a.s = s

    # ---- parties and keys
    def key_for(self, party, role, label="test key"):
        body = ok(self.admin.post("/v1/keys", {"party": party, "role": role,
                                               "label": label}),
                  what=f"key {role} for party {party}")
        assert body["key"].startswith("hrid_"), body
        return body

    def party(self, kind, name=None, country="CN"):
        n = next(_names)
        name = name or f"{kind.capitalize()} legal name {n} Co., Ltd."
        info = {"address": f"{n} Test Road", "contact": f"ops{n}@example.cn",
                "registry_no": f"91440300{n:010d}"}
        body = ok(self.admin.post("/v1/parties", {
            "kind": kind, "name": name, "public_name": f"{kind} {n}",
            "country": country, "info": info}), what=f"party {kind}")
        k = self.key_for(body["id"], kind)
        return Actor(self.s, k["key"], party=body["id"], role=kind, name=name,
                     info=info)

    def enterprise(self, name=None, country="CN"):
        n = next(_names)
        name = name or f"Robot maker {n}"
        info = {"address": f"{n} Factory Road", "contact": f"reg{n}@example.cn"}
        body = ok(self.admin.post("/v1/enterprises", {
            "country": country, "name": f"{name} Co., Ltd.",
            "public_name": name, "info": info}), what="enterprise")
        k = self.key_for(body["id"], "manufacturer")
        a = Actor(self.s, k["key"], party=body["id"], role="manufacturer",
                  name=f"{name} Co., Ltd.", info=info)
        a.ent = body["enterprise"]
        a.ent_code = body["code"]
        return a

    # ---- models
    def model_body(self, level=3, year=None, name="H1 Care"):
        b = {"name": name, "level": level,
             "params": {"height_mm": 1650, "mass_kg": 62.5, "dof": 41,
                        "payload_kg": 5, "battery_wh": 864, "max_speed_mps": 1.5},
             "filing": {"filing_no": "MIIT-2026-000123",
                        "documents": ["type-test-report.pdf"]}}
        if year is not None:
            b["filing_year"] = year
        return b

    def file_model(self, maker, level=3, year=2026, approve=False):
        body = ok(maker.post(f"/v1/enterprises/{maker.ent}/models",
                             self.model_body(level, year)), what="model filing")
        if approve:
            self.approve(body["model"])
        return body["model"]

    def approve(self, model):
        return ok(self.regulator.post(f"/v1/models/{model}/status",
                                      {"status": "approved"}), 200,
                  what=f"approve {model}")

    # ---- units
    def unit_body(self, model, **fields):
        b = {"model": model, "batch": "L2026-05-A", "production_date": today(),
             "factory": "Shenzhen plant 2", "firmware": {"main": "1.4.2"},
             "components": [{"slot": "joint.knee.left", "part_no": "HX-KM-40",
                             "supplier": "Harmonic Co", "lot": "HX2605",
                             "serial": "KM0001"}]}
        b.update(fields)
        return b

    def register(self, maker=None, model=None, **fields):
        """Registers one unit; returns its canonical code."""
        maker = maker or self.maker
        model = model or (self.model if maker is self.maker else self.model2)
        body = ok(maker.post("/v1/units", self.unit_body(model, **fields)),
                  what="register")
        assert len(body["code"]) == 29, body
        return body["code"]

    def event(self, actor, code, body, status=201):
        return ok(actor.post(f"/v1/units/{code}/events", body), status,
                  what=f"{actor.role} {body.get('type')} on {code}")

    def grant(self, custodian, code, grantee, scope="service", seconds=3600):
        return ok(custodian.post(f"/v1/units/{code}/grants", {
            "grantee": grantee.party, "scope": scope,
            "until": iso(now() + datetime.timedelta(seconds=seconds))}),
            what=f"grant {scope} on {code}")

    def unit(self, code, actor=None):
        actor = actor or self.regulator
        return ok(actor.get(f"/v1/units/{code}"), 200, what=f"GET unit {code}")

    def state(self, code):
        return self.unit(code)["state"]

    def history(self, code, actor=None):
        return (actor or self.regulator).items(f"/v1/units/{code}/events")

    # ---- units brought to a state, each step through the API
    def released(self, maker=None):
        maker = maker or self.maker
        code = self.register(maker)
        self.event(maker, code, release_body())
        return code

    def sold(self, to=None, maker=None):
        maker = maker or self.maker
        to = to or self.owner
        code = self.released(maker)
        self.event(maker, code, transfer_body(to.party, "sale", 12000, "CNY"))
        return code

    def in_service(self, owner=None):
        owner = owner or self.owner
        code = self.sold(owner)
        self.event(owner, code, deploy_body())
        return code

    def in_service_since(self, born, **fields):
        """A unit registered at born and put in service just after, so that
        reports and as-of questions since born fall within its life."""
        fields.setdefault("production_date", born.strftime("%Y-%m-%d"))
        code = self.register(at=iso(born), **fields)
        for k, (actor, body) in enumerate([
                (self.maker, release_body()),
                (self.maker, transfer_body(self.owner.party, "sale")),
                (self.owner, deploy_body())]):
            self.event(actor, code,
                       dict(body, at=iso(born + datetime.timedelta(seconds=k + 1))))
        return code

    def in_maintenance(self):
        code = self.in_service()
        self.event(self.owner, code, maintenance_start_body())
        return code

    def suspended(self):
        code = self.in_service()
        self.event(self.regulator, code, suspend_body())
        return code

    def scrapped(self):
        """A unit sold to the recycler, which scraps it."""
        code = self.released()
        self.event(self.maker, code, transfer_body(self.recycler.party, "sale"))
        self.event(self.recycler, code, scrap_body())
        return code

    def recycled(self):
        code = self.scrapped()
        self.event(self.recycler, code, recycle_body())
        return code

    # ---- what a refused write must leave alone
    def snapshot(self, codes=(), models=()):
        """Everything a denied write could have touched, as the admin and a
        regulator see it."""
        snap = {
            "parties": self.admin.items("/v1/parties"),
            "keys": ok(self.admin.get("/v1/keys"), 200, what="keys")["items"],
        }
        for m in models:
            snap["model " + m] = ok(self.regulator.get(f"/v1/models/{m}"), 200)
        for c in codes:
            snap["unit " + c] = self.unit(c)
            snap["events " + c] = self.history(c)
            snap["grants " + c] = ok(self.regulator.get(f"/v1/units/{c}/grants"), 200)
        return snap


def diff(before, after):
    """The keys of two snapshots that differ, for assertion messages."""
    out = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            out.append(f"{k}:\n  before {json.dumps(before.get(k))[:600]}\n"
                       f"  after  {json.dumps(after.get(k))[:600]}")
    return "\n".join(out)


def unit_count(actor):
    """How many units actor may list (a maker: its own)."""
    return len(actor.items("/v1/units"))
