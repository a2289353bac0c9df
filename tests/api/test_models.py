"""Enterprises and product models (docs/API.md, "Enterprises and models")."""

import datetime

from fixtures import ALLOC_ALPHABET, ok, refused, registry


def seg_value(code):
    """The number an allocated segment stands for (base 34, no I or O)."""
    n = 0
    for c in code:
        n = n * len(ALLOC_ALPHABET) + ALLOC_ALPHABET.index(c)
    return n


def ent_body(country="CN", name="Unitree Robotics Co., Ltd."):
    return {"country": country, "name": name, "public_name": name.split()[0],
            "info": {"address": "88 Robot Road", "contact": "reg@example.cn"}}


def test_enrolment_assigns_sequential_codes_without_i_or_o():
    with registry(cast=False) as w:
        codes = []
        for i in range(40):
            body = ok(w.admin.post("/v1/enterprises", ent_body(name=f"Maker {i} Ltd")))
            assert body["kind"] == "manufacturer", body
            assert body["enterprise"] == "CN" + body["code"], body
            assert len(body["code"]) == 4, body
            assert "I" not in body["code"] and "O" not in body["code"], body
            assert all(c in ALLOC_ALPHABET for c in body["code"]), body
            codes.append(body["code"])
        vals = [seg_value(c) for c in codes]
        assert vals == list(range(vals[0], vals[0] + 40)), codes
        # Another country has its own sequence; enterprise ids stay unique.
        de = [ok(w.admin.post("/v1/enterprises", ent_body("DE", f"Roboter {i} GmbH")))
              for i in range(3)]
        dv = [seg_value(b["code"]) for b in de]
        assert dv == list(range(dv[0], dv[0] + 3)), de
        assert dv[0] == vals[0], (de, codes)
        assert all(b["enterprise"].startswith("DE") for b in de), de
        ents = {"CN" + c for c in codes} | {b["enterprise"] for b in de}
        assert len(ents) == 43, ents


def test_enterprise_get_public_and_private_info():
    with registry() as w:
        path = f"/v1/enterprises/{w.maker.ent}"
        pub = ok(w.public.get(path), 200)
        assert pub["enterprise"] == w.maker.ent and pub["code"] == w.maker.ent_code, pub
        assert pub["country"] == "CN" and pub["party"] == w.maker.party, pub
        assert pub["name"] == w.maker.name and pub["public_name"], pub
        assert "info" not in pub, pub
        for a in (w.maker2, w.owner, w.service):
            assert "info" not in ok(a.get(path), 200), a.role
        for a in (w.admin, w.regulator, w.maker):
            assert ok(a.get(path), 200)["info"] == w.maker.info, a.role
        # Forgiving case in the path.
        assert ok(w.public.get(path.lower()), 200)["enterprise"] == w.maker.ent
        refused(w.public.get("/v1/enterprises/CNZZZZ"), 404, "not_found")
        refused(w.public.get("/v1/enterprises/CN1"), 404, "not_found")


def test_enrolment_admin_only_and_checked():
    with registry() as w:
        refused(w.public.post("/v1/enterprises", ent_body()), 401, "unauthorized")
        for a in (w.regulator, w.maker, w.owner):
            refused(a.post("/v1/enterprises", ent_body()), 403, "forbidden", what=a.role)
        refused(w.admin.post("/v1/enterprises", ent_body("XX")), 422, "invalid_field",
                "country")
        b = ent_body()
        b["kind"] = "manufacturer"
        refused(w.admin.post("/v1/enterprises", b), 422, "unknown_field", "kind")


def test_model_filing_assigns_level_year_sequence():
    with registry() as w:
        m = w.maker
        path = f"/v1/enterprises/{m.ent}/models"
        a = ok(m.post(path, w.model_body(level=3, year=2026)))
        b = ok(m.post(path, w.model_body(level=0, year=2026)))
        c = ok(m.post(path, w.model_body(level=5, year=2027)))
        for body, level, yy in ((a, 3, "26"), (b, 0, "26"), (c, 5, "27")):
            assert body["model"] == m.ent + body["code"], body
            assert body["enterprise"] == m.ent, body
            assert body["code"][0] == str(level) and body["code"][1:3] == yy, body
            assert body["level"] == level and body["status"] == "filed", body
            assert body["level_meaning"], body
            assert body["filing"]["filing_no"] == "MIIT-2026-000123", body
            assert body["params"]["dof"] == 41, body
            assert body["filed_at"] and body["approved_at"] is None, body
            assert body["withdrawn_at"] is None, body
            assert "I" not in body["code"][3:] and "O" not in body["code"][3:], body
        # The sequence runs per enterprise and year, across levels (the
        # fixture filed one 2026 model already).
        sa, sb, sc = (seg_value(x["code"][3:]) for x in (a, b, c))
        assert sb == sa + 1, (a["code"], b["code"])
        # 2027 starts its own sequence, at the same first value as 2026's.
        first26 = seg_value(w.model[9:])
        assert sc == first26 and sa == first26 + 1, (w.model, a, c)
        # The other maker's sequence is its own.
        assert w.model2[9:] == w.model[9:], (w.model, w.model2)


def test_model_with_required_fields_only():
    with registry() as w:
        body = ok(w.maker.post(f"/v1/enterprises/{w.maker.ent}/models",
                               {"name": "Bare", "level": 1, "params": {}}))
        assert body["params"] == {} and body["filing"] == {}, body
        assert "filing" not in ok(w.public.get(f"/v1/models/{body['model']}"), 200)


def test_model_filing_year_defaults_to_this_year():
    with registry() as w:
        body = ok(w.maker.post(f"/v1/enterprises/{w.maker.ent}/models",
                               w.model_body(level=2)))
        year = datetime.datetime.now(datetime.timezone.utc).year
        assert body["filing_year"] == year, body
        assert body["code"][1:3] == f"{year % 100:02d}", body


def test_model_filing_checked():
    with registry() as w:
        path = f"/v1/enterprises/{w.maker.ent}/models"
        refused(w.maker.post(path, w.model_body(level=6)), 422, "invalid_field", "level")
        b = w.model_body()
        b["params"]["colour"] = "red"
        refused(w.maker.post(path, b), 422, "unknown_field", "params.colour")
        b = w.model_body()
        del b["name"]
        refused(w.maker.post(path, b), 422, "missing_field", "name")
        refused(w.maker.post("/v1/enterprises/CNZZZZ/models", w.model_body()), 404,
                "not_found")


def test_maker_cannot_file_for_another_enterprise():
    with registry() as w:
        before = w.public.items(f"/v1/enterprises/{w.maker2.ent}/models")
        refused(w.maker.post(f"/v1/enterprises/{w.maker2.ent}/models", w.model_body()),
                403, "not_maker")
        for a in (w.regulator, w.owner, w.service):
            refused(a.post(f"/v1/enterprises/{w.maker2.ent}/models", w.model_body()),
                    403, "forbidden", what=a.role)
        refused(w.public.post(f"/v1/enterprises/{w.maker2.ent}/models", w.model_body()),
                401, "unauthorized")
        assert w.public.items(f"/v1/enterprises/{w.maker2.ent}/models") == before
        # The admin may file for any enterprise.
        body = ok(w.admin.post(f"/v1/enterprises/{w.maker2.ent}/models", w.model_body()))
        assert body["enterprise"] == w.maker2.ent, body


def test_filing_record_hidden_from_public_and_other_makers():
    with registry() as w:
        path = f"/v1/models/{w.model}"
        for a in (w.public, w.maker2, w.owner, w.service, w.certifier):
            body = ok(a.get(path), 200, what=a.role)
            assert "filing" not in body, (a.role, body)
            assert body["model"] == w.model and body["params"]["dof"] == 41, body
            listed = a.items(f"/v1/enterprises/{w.maker.ent}/models")
            assert listed and all("filing" not in x for x in listed), (a.role, listed)
        for a in (w.maker, w.regulator, w.admin):
            body = ok(a.get(path), 200, what=a.role)
            assert body["filing"]["filing_no"] == "MIIT-2026-000123", (a.role, body)
            listed = a.items(f"/v1/enterprises/{w.maker.ent}/models")
            assert all("filing" in x for x in listed), (a.role, listed)
        assert ok(w.public.get(path.lower()), 200)["model"] == w.model
        refused(w.public.get(f"/v1/models/{w.maker.ent}399ZZZ"), 404, "not_found")


def test_model_list_pages():
    with registry() as w:
        for _ in range(4):
            w.file_model(w.maker)
        models = w.public.items(f"/v1/enterprises/{w.maker.ent}/models", limit=2)
        assert len(models) == 5, models
        assert len({x["model"] for x in models}) == 5, models
        refused(w.public.get(f"/v1/enterprises/{w.maker.ent}/models?limit=0"), 422,
                "invalid_field", "limit")


def status(w, actor, model, to):
    return actor.post(f"/v1/models/{model}/status", {"status": to})


def test_approve_and_withdraw_rules():
    with registry() as w:
        m = w.file_model(w.maker)
        # Only a regulator approves.
        refused(status(w, w.maker, m, "approved"), 403, what="maker approves")
        refused(status(w, w.maker2, m, "approved"), 403, what="other maker approves")
        refused(status(w, w.admin, m, "approved"), 403, what="admin approves")
        refused(status(w, w.owner, m, "approved"), 403, "forbidden")
        refused(status(w, w.public, m, "approved"), 401, "unauthorized")
        assert ok(w.public.get(f"/v1/models/{m}"), 200)["status"] == "filed"
        body = ok(status(w, w.regulator, m, "approved"), 200)
        assert body["status"] == "approved" and body["approved_at"], body
        refused(status(w, w.regulator, m, "approved"), 409, "invalid_state")
        refused(status(w, w.regulator, m, "filed"), 422, "invalid_field", "status")
        # The maker withdraws its own model; another maker may not.
        refused(status(w, w.maker2, m, "withdrawn"), 403, "not_maker")
        body = ok(status(w, w.maker, m, "withdrawn"), 200)
        assert body["status"] == "withdrawn" and body["withdrawn_at"], body
        refused(status(w, w.regulator, m, "withdrawn"), 409, "invalid_state")
        refused(status(w, w.regulator, m, "approved"), 409, "invalid_state")
        # filed -> withdrawn directly, by a regulator.
        m2 = w.file_model(w.maker)
        assert ok(status(w, w.regulator, m2, "withdrawn"), 200)["status"] == "withdrawn"
        refused(status(w, w.regulator, f"{w.maker.ent}399ZZZ", "approved"), 404,
                "not_found")


def test_withdrawn_model_registers_no_units():
    with registry() as w:
        m = w.file_model(w.maker, approve=True)
        ok(status(w, w.maker, m, "withdrawn"), 200)
        refused(w.maker.post("/v1/units", w.unit_body(m)), 409)
        # A filed model that is not approved registers units, but they
        # cannot be released (test_lifecycle).
        m2 = w.file_model(w.maker)
        ok(w.maker.post("/v1/units", w.unit_body(m2)))
