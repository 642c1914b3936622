"""Documented, deliberate differences from Flask, asserted explicitly so they stay deliberate.

- Google's hosts (GAE_ENV=standard or K_SERVICE): the session cookie is always Secure, SameSite
  defaults to Lax (framework/sessions.py), and a missing/placeholder/short SECRET_KEY is refused.
  Off those hosts the cookie bytes equal Flask's (tests/parity/test_sessions.py).
- The FRAMEWORK_ env prefix: tests/parity/test_json_config.py::test_from_prefixed_env_prefixes.
- The /_ah/* routes: tests/parity/test_blueprints_views.py::test_url_map_differs_only_by_app_engine_routes.
"""

from __future__ import annotations

import itsdangerous
import pytest

_STRONG = "a-long-random-parity-secret-0123456789"


@pytest.fixture
def on_app_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_APPLICATION", "s~parity")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "parity")
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: 1_700_000_000)


def _cookie(fw: object, key: str | None) -> tuple[int, str | None]:
    app = fw.Flask("deliberate")  # type: ignore[attr-defined]
    app.secret_key = key
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/set")
    def set_() -> str:
        fw.session["u"] = 1  # type: ignore[attr-defined]
        return "set"

    rv = app.test_client().get("/set", base_url="https://parity.appspot.com/")
    return rv.status_code, rv.headers.get("Set-Cookie")


@pytest.mark.usefixtures("on_app_engine")
def test_secure_and_lax_cookie_on_google_hosts() -> None:
    import flask

    import framework

    flask_status, flask_cookie = _cookie(flask, _STRONG)
    ours_status, ours_cookie = _cookie(framework, _STRONG)
    assert flask_status == ours_status == 200
    assert flask_cookie is not None and ours_cookie is not None
    assert "Secure" not in flask_cookie and "SameSite" not in flask_cookie
    ours_parts = ours_cookie.split("; ")
    assert [p for p in ours_parts if p not in ("Secure", "SameSite=Lax")] == flask_cookie.split("; ")
    assert "Secure" in ours_parts and "SameSite=Lax" in ours_parts


@pytest.mark.usefixtures("on_app_engine")
@pytest.mark.parametrize("key", ["dev", "change-me", "short"])
def test_placeholder_secret_key_refused_on_google_hosts(key: str) -> None:
    import flask

    import framework

    assert _cookie(flask, key)[0] == 200  # Flask signs with anything
    assert _cookie(framework, key) == (500, None)


@pytest.mark.parametrize("key", ["dev", "short"])
def test_placeholder_secret_key_accepted_off_google_hosts(key: str) -> None:
    import flask

    import framework

    assert _cookie(framework, key) == _cookie(flask, key)
