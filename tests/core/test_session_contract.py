"""The core's side of the session contract: open lazily, save only if opened or the cookie came in."""

from __future__ import annotations

from framework import App, session


def _app() -> App:
    app = App("session_contract")
    app.secret_key = "session-contract-secret-key"
    calls: list[str] = []
    base = type(app.session_interface)

    class Counting(base):  # type: ignore[misc, valid-type]
        def open_session(self, app, request):  # type: ignore[no-untyped-def]
            calls.append("open")
            return super().open_session(app, request)

        def save_session(self, app, sess, response):  # type: ignore[no-untyped-def]
            calls.append("save")
            return super().save_session(app, sess, response)

    app.session_interface = Counting()
    app.calls = calls  # type: ignore[attr-defined]

    @app.route("/login")
    def login() -> str:
        session["user"] = "ann"
        session.permanent = True
        return "in"

    @app.route("/plain")
    def plain() -> str:
        return "no session use"

    return app


def test_no_session_work_without_use_or_cookie() -> None:
    app = _app()
    rv = app.test_client().get("/plain")
    assert "Set-Cookie" not in rv.headers
    assert app.calls == []  # type: ignore[attr-defined]


def test_session_used_is_saved() -> None:
    app = _app()
    rv = app.test_client().get("/login")
    assert "session=" in rv.headers["Set-Cookie"]
    assert app.calls == ["open", "save"]  # type: ignore[attr-defined]


def test_permanent_session_refreshed_when_cookie_present() -> None:
    app = _app()
    client = app.test_client()
    client.get("/login")
    app.calls.clear()  # type: ignore[attr-defined]
    rv = client.get("/plain")
    assert app.calls == ["open", "save"]  # type: ignore[attr-defined]
    assert "session=" in rv.headers["Set-Cookie"]  # permanent + SESSION_REFRESH_EACH_REQUEST


def test_unrelated_cookie_does_not_open_session() -> None:
    app = _app()
    client = app.test_client()
    client.set_cookie("other", "1")
    client.get("/plain")
    assert app.calls == []  # type: ignore[attr-defined]


def test_null_session_without_secret_key() -> None:
    app = App("no_secret")
    app.add_url_rule("/", "i", lambda: str(session.get("x")))
    rv = app.test_client().get("/")
    assert rv.data == b"None"
    assert "Set-Cookie" not in rv.headers
