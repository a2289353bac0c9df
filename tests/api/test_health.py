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


def test_root_lists_the_endpoints():
    # The URL make run prints answers with what the server is and every
    # route of its table, so a newcomer sees where to go next.
    with Server() as s:
        status, hdrs, body = s.get("/")
        assert status == 200, (status, body)
        assert hdrs["content-type"] == "application/json", hdrs
        assert body["version"] and "HRID" in body["name"], body
        eps = body["endpoints"]
        for ep in ("GET /healthz", "GET /v1/codes/{code}", "POST /v1/units",
                   "POST /v1/units/{code}/events", "GET /v1/units/{code}"):
            assert ep in eps, (ep, eps)
