"""GET /v1/codes/{code}: decoding and refusing identity codes (DESIGN §2)."""

from harness import Server, assert_error, quote

VALID = "CNA7K23260012605220000001234U"
ALPHA = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def check_char(body28):
    """ISO 7064 MOD 37,36 over 28 characters, written from the standard,
    independently of lib/code.c."""
    p = 36
    for c in body28:
        s = (p + ALPHA.index(c)) % 36 or 36
        p = (2 * s) % 37
    return ALPHA[(37 - p) % 36]


def with_check(body28):
    return body28 + check_char(body28)


def decode(s, text):
    return s.get("/v1/codes/" + quote(text))


def refused(s, text, reason, position=None):
    status, hdrs, body = decode(s, text)
    err = assert_error(body, "invalid_code", 422, status, field="code")
    assert err.get("reason") == reason, f"{text!r}: reason {err.get('reason')!r}, " \
        f"expected {reason!r}: {body!r}"
    assert err.get("position") == position, f"{text!r}: position " \
        f"{err.get('position')!r}, expected {position!r}: {body!r}"
    return err


def test_check_vectors():
    assert check_char("CNA7K23260012605220000001234") == "U"
    assert check_char("CN00010260010000000000000001") == "N"
    assert check_char("DEZZZZ531ABC25123199999999ZZ") == "J"


def test_valid_code():
    with Server() as s:
        status, hdrs, body = s.get("/v1/codes/" + VALID)
        assert status == 200, (status, body)
        assert hdrs["content-type"] == "application/json", hdrs
        assert body["code"] == VALID, body
        assert body["display"] == "CN-A7K2-326001-2605220000001234-U", body
        assert body["country"] == {"code": "CN", "name": "China"}, body
        assert body["enterprise"] == "A7K2", body
        m = body["model"]
        assert m["id"] == "CNA7K2326001" and m["code"] == "326001", m
        assert m["level"] == 3 and m["filing_year"] == 2026, m
        assert m["sequence"] == "001", m
        assert isinstance(m["level_meaning"], str) and m["level_meaning"], m
        assert body["serial"] == "2605220000001234", body
        assert body["check"] == "U", body


def test_other_vectors_decode():
    with Server() as s:
        for code, country, level, year in (
                ("CN00010260010000000000000001N", "CN", 0, 2026),
                ("DEZZZZ531ABC25123199999999ZZJ", "DE", 5, 2031)):
            status, _, body = s.get("/v1/codes/" + code)
            assert status == 200, (code, status, body)
            assert body["code"] == code and body["country"]["code"] == country, body
            assert body["model"]["level"] == level, body
            assert body["model"]["filing_year"] == year, body


def test_forgiving_input_normalises():
    with Server() as s:
        for text in ("cna7k23260012605220000001234u",
                     "CN-A7K2-326001-2605220000001234-U",
                     "cn-a7k2-326001-2605220000001234-u",
                     "CN A7K2 326001 2605220000001234 U",
                     " CNA7K2 3260012605220000001234U "):
            status, _, body = decode(s, text)
            assert status == 200, (text, status, body)
            assert body["code"] == VALID, (text, body)
        # Spaces as %20 written by hand, hyphens left bare.
        status, _, body = s.get("/v1/codes/cn-a7k2%20326001%202605220000001234-U")
        assert status == 200 and body["code"] == VALID, (status, body)


def test_bad_character_utf8():
    with Server() as s:
        text = VALID[:16] + "Ö" + VALID[17:]
        err = refused(s, text, "character", 17)
        assert "Ö" in err["message"], err
        assert "17" in err["message"], err


def test_bad_character_ascii_and_encoded_slash():
    with Server() as s:
        refused(s, VALID[:4] + "*" + VALID[5:], "character", 5)
        # An encoded '/' stays inside the parameter: it is a bad character,
        # not another route.
        refused(s, VALID[:10] + "/" + VALID[11:], "character", 11)


def test_invalid_utf8_is_quoted_safely():
    with Server() as s:
        status, _, body = s.get("/v1/codes/" + VALID[:16] + "%FF" + VALID[17:])
        err = assert_error(body, "invalid_code", 422, status, field="code")
        assert err.get("position") == 17, err


def test_wrong_length():
    with Server() as s:
        refused(s, VALID[:-1], "length")
        refused(s, VALID + "0", "length")
        refused(s, "CN", "length")


def test_unknown_country():
    with Server() as s:
        err = refused(s, with_check("XX" + VALID[2:28]), "country", 1)
        assert "XX" in err["message"], err


def test_level_out_of_range():
    with Server() as s:
        err = refused(s, with_check(VALID[:6] + "7" + VALID[7:28]), "level", 7)
        assert "7" in err["message"], err


def test_reserved_letter_in_enterprise():
    with Server() as s:
        refused(s, with_check("CNA7I2" + VALID[6:28]), "reserved", 5)


def test_bad_check_character():
    with Server() as s:
        err = refused(s, VALID[:28] + "K", "check", 29)
        assert "'U'" in err["message"], err
        assert "'K'" in err["message"], err
        err = refused(s, "CN00010260010000000000000001A", "check", 29)
        assert "'N'" in err["message"], err
        err = refused(s, "DEZZZZ531ABC25123199999999ZZ0", "check", 29)
        assert "'J'" in err["message"], err


def test_transposition_is_caught():
    with Server() as s:
        swapped = VALID[:20] + VALID[21] + VALID[20] + VALID[22:]
        if swapped != VALID:
            status, _, body = decode(s, swapped)
            assert status == 422, (swapped, body)


def test_empty_segment_is_not_found():
    with Server() as s:
        status, _, body = s.get("/v1/codes/")
        assert_error(body, "not_found", 404, status)


def test_oversize_post_to_codes_is_413():
    with Server() as s:
        status, _, body = s.post("/v1/codes/" + VALID, b"{" * (8 * 1024 * 1024 + 1))
        assert_error(body, "body_too_large", 413, status)
        assert s.get("/v1/codes/" + VALID)[0] == 200
