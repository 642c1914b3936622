"""Flask-CORS on framework.App: an allowed origin is echoed, others are not, preflights are answered
(by our automatic OPTIONS response plus Flask-CORS's after_request), and error responses get the
headers too (Flask-CORS wraps the app's handle_exception / handle_user_exception)."""

from __future__ import annotations

from types import ModuleType

ORIGIN = "https://client.example"


def test_allowed_origin_is_echoed(site: ModuleType) -> None:
    resp = site.app.test_client().get("/api/notes", headers={"Origin": ORIGIN})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


def test_other_origin_and_other_paths_get_no_cors_headers(site: ModuleType) -> None:
    client = site.app.test_client()
    assert "Access-Control-Allow-Origin" not in client.get("/api/notes", headers={"Origin": "https://evil.example"}).headers
    assert "Access-Control-Allow-Origin" not in client.get("/", headers={"Origin": ORIGIN}).headers


def test_preflight_is_answered(site: ModuleType) -> None:
    resp = site.app.test_client().options("/api/notes", headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, X-Requested-With",
    })
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"].lower() == "content-type, x-requested-with"
    assert resp.get_data() == b""


def test_error_responses_carry_cors_headers(site: ModuleType) -> None:
    client = site.app.test_client()
    missing = client.get("/api/notes/999", headers={"Origin": ORIGIN})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == ORIGIN
    bad = client.post("/api/notes", json={"text": ""}, headers={"Origin": ORIGIN})
    assert bad.status_code == 400 and b"a note needs a non-empty" in bad.get_data()
    assert bad.headers["Access-Control-Allow-Origin"] == ORIGIN
