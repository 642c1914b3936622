"""Cloud Run under plain gunicorn: the scheme comes from Google's front end, the client address does not."""

from __future__ import annotations

import pytest

from framework import App, request, url_for


def _app() -> App:
    app = App("cloudrun")

    @app.get("/where")
    def where() -> dict[str, str | None]:
        return {"scheme": request.scheme, "remote": request.remote_addr, "self": url_for("where", _external=True)}

    return app


def test_cloud_run_believes_forwarded_proto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "svc")
    monkeypatch.setenv("K_REVISION", "svc-00001")
    app = _app()
    assert app.platform.kind == "cloud_run"
    got = app.test_client().get(
        "/where", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6, 10.0.0.1"},
        environ_base={"REMOTE_ADDR": "169.254.8.1"},
    ).get_json()
    assert got["scheme"] == "https"
    assert got["self"].startswith("https://")
    assert got["remote"] == "169.254.8.1"


def test_forwarded_proto_is_ignored_off_google() -> None:
    got = _app().test_client().get("/where", headers={"X-Forwarded-Proto": "https"}).get_json()
    assert got["scheme"] == "http"
