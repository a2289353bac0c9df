"""Parties, API keys and the admin key (docs/API.md, "Parties and keys")."""

import os
import stat

from fixtures import (ADMIN_KEY, PARTY_KINDS, Actor, World, ok, refused,
                      registry, server)
from harness import assert_error


def party_body(kind="owner", **over):
    b = {"kind": kind, "name": "Shenzhen Care Homes Ltd", "public_name": "SZ Care",
         "country": "CN", "info": {"address": "1 Care Road", "contact": "ops@szcare.cn",
                                   "registry_no": "914403001234567890"}}
    b.update(over)
    return b


def test_create_party_of_every_kind():
    with registry(cast=False) as w:
        for kind in PARTY_KINDS:
            status, hdrs, body = w.admin.post("/v1/parties", party_body(kind))
            assert status == 201, (kind, status, body)
            assert hdrs["content-type"] == "application/json", hdrs
            assert isinstance(body["id"], int) and body["id"] > 0, body
            assert body["kind"] == kind and body["name"] == "Shenzhen Care Homes Ltd", body
            assert body["public_name"] == "SZ Care" and body["country"] == "CN", body
            assert body["info"]["contact"] == "ops@szcare.cn", body
            assert body["created_at"].endswith("Z"), body
            got = ok(w.admin.get(f"/v1/parties/{body['id']}"), 200)
            assert got == body, (got, body)


def test_party_with_required_fields_only():
    with registry(cast=False) as w:
        body = ok(w.admin.post("/v1/parties", {"kind": "seller", "name": "Bare Seller Ltd",
                                               "country": "CN"}))
        assert body["public_name"] == "Bare Seller Ltd" and body["info"] == {}, body
        ent = ok(w.admin.post("/v1/enterprises", {"country": "CN", "name": "Bare Maker"}))
        assert ent["public_name"] == "Bare Maker" and ent["info"] == {}, ent


def test_party_kind_manufacturer_or_platform_is_refused():
    with registry(cast=False) as w:
        for kind in ("manufacturer", "platform", "admin", "pirate"):
            refused(w.admin.post("/v1/parties", party_body(kind)), 422,
                    "invalid_field", "kind", what=kind)


def test_party_fields_checked():
    with registry(cast=False) as w:
        b = party_body()
        del b["name"]
        refused(w.admin.post("/v1/parties", b), 422, "missing_field", "name")
        refused(w.admin.post("/v1/parties", party_body(colour="red")), 422,
                "unknown_field", "colour")
        refused(w.admin.post("/v1/parties", party_body(name="x" * 201)), 422,
                "invalid_field", "name")
        refused(w.admin.post("/v1/parties", party_body(country="XX")), 422,
                "invalid_field", "country")
        status, _, body = w.admin.post("/v1/parties", b"{not json")
        assert_error(body, "bad_json", 400, status)
        status, _, body = w.admin.post("/v1/parties", b"")
        assert_error(body, "bad_json", 400, status)
        assert w.admin.items("/v1/parties?kind=owner") == []


def test_party_admin_only():
    with registry() as w:
        refused(w.public.post("/v1/parties", party_body()), 401, "unauthorized")
        for a in (w.regulator, w.maker, w.owner, w.service, w.certifier):
            refused(a.post("/v1/parties", party_body()), 403, "forbidden", what=a.role)
        refused(w.public.get("/v1/parties"), 401, "unauthorized")
        refused(w.owner.get("/v1/parties"), 403, "forbidden")
        ok(w.regulator.get("/v1/parties"), 200)


def test_party_get_self_admin_regulator():
    with registry() as w:
        path = f"/v1/parties/{w.owner.party}"
        for a in (w.admin, w.regulator, w.owner):
            body = ok(a.get(path), 200, what=a.role)
            assert body["id"] == w.owner.party and body["info"] == w.owner.info, body
        refused(w.public.get(path), 401, "unauthorized")
        # Another keyed party learns nothing, not even that the party exists.
        for a in (w.owner2, w.maker, w.service):
            refused(a.get(path), 404, "not_found", what=a.role)
        refused(w.admin.get("/v1/parties/999999"), 404, "not_found")
        refused(w.admin.get("/v1/parties/abc"), 404, "not_found")


def test_party_list_filters_and_pages():
    with registry() as w:
        owners = w.admin.items("/v1/parties?kind=owner")
        assert {p["id"] for p in owners} == {w.owner.party, w.owner2.party}, owners
        everyone = w.admin.items("/v1/parties", limit=1)
        ids = [p["id"] for p in everyone]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), ids
        assert {w.maker.party, w.regulator.party, w.owner.party} <= set(ids), ids
        status, _, body = w.admin.get("/v1/parties?limit=2")
        assert status == 200 and len(body["items"]) == 2 and body["next_cursor"], body
        for bad in ("0", "1001", "-1", "abc", "", "1.5"):
            refused(w.admin.get(f"/v1/parties?limit={bad}"), 422, "invalid_field",
                    "limit", what=bad)


def test_key_role_must_fit_party_kind():
    with registry() as w:
        fits = {"regulator": w.regulator, "manufacturer": w.maker, "seller": w.seller,
                "owner": w.owner, "service": w.service, "recycler": w.recycler,
                "certifier": w.certifier}
        for role, actor in fits.items():
            body = ok(w.admin.post("/v1/keys", {"party": actor.party, "role": role,
                                                "label": "second"}), what=role)
            assert body["role"] == role and body["party"] == actor.party, body
            assert body["key"].startswith("hrid_") and body["key_id"], body
            assert body["label"] == "second" and body["created_at"], body
            for other in fits:
                if other != role:
                    refused(w.admin.post("/v1/keys", {"party": actor.party,
                                                      "role": other}),
                            422, "invalid_field", "role", what=f"{role} party, {other} key")
            refused(w.admin.post("/v1/keys", {"party": actor.party, "role": "admin"}),
                    422, "invalid_field", "role")
        refused(w.admin.post("/v1/keys", {"party": w.owner.party, "role": "god"}),
                422, "invalid_field", "role")
        refused(w.admin.post("/v1/keys", {"party": 999999, "role": "owner"}),
                422, "invalid_field", "party")
        refused(w.admin.post("/v1/keys", {"role": "owner"}), 422, "missing_field", "party")


def test_key_works_and_is_never_shown_again():
    with registry() as w:
        k = ok(w.admin.post("/v1/keys", {"party": w.owner.party, "role": "owner",
                                         "label": "ops laptop"}))
        a = Actor(w.s, k["key"], w.owner.party, "owner")
        ok(a.get(f"/v1/parties/{w.owner.party}"), 200)
        listed = ok(w.admin.get(f"/v1/keys?party={w.owner.party}"), 200)["items"]
        assert k["key_id"] in {x["key_id"] for x in listed}, listed
        for x in listed:
            assert "key" not in x and x["party"] == w.owner.party, x
            assert k["key"] not in str(x), x
        # Keys are hashed: the secret appears nowhere in any listing.
        for path in ("/v1/keys", "/v1/parties", f"/v1/parties/{w.owner.party}"):
            assert k["key"] not in str(w.admin.get(path)[2]), path


def test_revoked_key_is_401_afterwards():
    with registry() as w:
        k = ok(w.admin.post("/v1/keys", {"party": w.owner.party, "role": "owner"}))
        a = Actor(w.s, k["key"], w.owner.party, "owner")
        ok(a.get(f"/v1/parties/{w.owner.party}"), 200)
        body = ok(w.admin.delete(f"/v1/keys/{k['key_id']}"), 200)
        assert body["key_id"] == k["key_id"] and body["revoked_at"], body
        status, hdrs, body = a.get(f"/v1/parties/{w.owner.party}")
        assert_error(body, "unauthorized", 401, status)
        assert hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs
        # Even on a public route: a revoked key is never served as public.
        status, _, body = a.get("/healthz")
        assert_error(body, "unauthorized", 401, status)
        # The owner's first key still works.
        ok(w.owner.get(f"/v1/parties/{w.owner.party}"), 200)
        listed = ok(w.admin.get(f"/v1/keys?party={w.owner.party}"), 200)["items"]
        revoked = [x for x in listed if x["key_id"] == k["key_id"]]
        assert revoked and revoked[0]["revoked_at"], listed
        refused(w.admin.delete("/v1/keys/0000000000000000"), 404, "not_found")


def test_keys_admin_only():
    with registry() as w:
        k = ok(w.admin.post("/v1/keys", {"party": w.owner.party, "role": "owner"}))
        for a in (w.regulator, w.maker, w.owner, w.service):
            refused(a.post("/v1/keys", {"party": a.party, "role": a.role}), 403,
                    "forbidden", what=a.role)
            refused(a.get("/v1/keys"), 403, "forbidden", what=a.role)
            refused(a.delete(f"/v1/keys/{k['key_id']}"), 403, "forbidden", what=a.role)
        refused(w.public.post("/v1/keys", {"party": 1, "role": "owner"}), 401,
                "unauthorized")
        refused(w.public.get("/v1/keys"), 401, "unauthorized")
        refused(w.public.delete(f"/v1/keys/{k['key_id']}"), 401, "unauthorized")
        # Nobody revoked it.
        ok(Actor(w.s, k["key"]).get(f"/v1/parties/{w.owner.party}"), 200)


def test_bad_authorization_headers_are_401():
    with registry(cast=False) as w:
        for h in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "bearer two words",
                  "Token " + ADMIN_KEY, ADMIN_KEY, "Bearer hrid_nosuchkeyatall12345678901"):
            for path in ("/v1/parties", "/healthz", "/v1/codes/CNA7K23260012605220000001234U"):
                status, hdrs, body = w.s.get(path, headers={"Authorization": h})
                assert_error(body, "unauthorized", 401, status)
        # The scheme is case-insensitive (RFC 7235).
        status, _, body = w.s.get("/v1/parties", headers={"Authorization": "bearer " + ADMIN_KEY})
        assert status == 200, body


def test_generated_admin_key_file():
    s = server(admin_key=None)
    with s:
        path = s.key_path("admin-key")
        assert s.startup_lines == [
            f"log signing key written to {s.key_path('log-key')} (mode 0600): back it up",
            f"platform signing key written to {s.key_path('platform-key')} (mode 0600): "
            "back it up",
            f"admin key written to {path} (mode 0600)"], s.startup_lines
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        key = open(path).read().strip()
        assert len(key) >= 24, key
        admin = Actor(s, key, role="admin")
        body = ok(admin.post("/v1/parties", party_body("regulator")))
        assert body["kind"] == "regulator", body
        # The key file is not rewritten on the next start, and the key
        # keeps working.
        db = s.db
        s2 = server(db=db, admin_key=None)
        with s2:
            assert s2.startup_lines == [], s2.startup_lines
            assert open(path).read().strip() == key
            ok(Actor(s2, key).get("/v1/parties"), 200)


def test_installed_admin_key_writes_no_file():
    with server() as s:
        assert all("admin" not in l for l in s.startup_lines), s.startup_lines
        assert not os.path.exists(s.key_path("admin-key"))
        ok(Actor(s, ADMIN_KEY).get("/v1/parties"), 200)


def test_short_admin_key_refused_at_start():
    s = server(admin_key="short")
    try:
        s.start()
    except AssertionError as e:
        assert "HRID_ADMIN_KEY" in str(e), str(e)
    else:
        s.stop()
        raise AssertionError("hridd started with a 5-character admin key")
