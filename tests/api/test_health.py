"""GET /healthz: liveness and version."""

from harness import Server


def test_healthz():
    with Server() as s:
        status, hdrs, body = s.get("/healthz")
        assert status == 200, f"status {status}: {body!r}"
        assert hdrs["content-type"] == "application/json", hdrs
        assert body["status"] == "ok", body
        assert isinstance(body["version"], str) and body["version"], body


def test_healthz_head_has_no_body():
    with Server() as s:
        status, hdrs, body = s.request("HEAD", "/healthz")
        assert status == 200, status
        assert body == b"", body
        assert int(hdrs["content-length"]) > 0, hdrs


def test_healthz_trailing_slash_is_not_found():
    with Server() as s:
        status, _, body = s.get("/healthz/")
        assert status == 404, (status, body)
