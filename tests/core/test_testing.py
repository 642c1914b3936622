"""The test client: json=, redirects, `with client:` keeping contexts, session_transaction."""

from __future__ import annotations

import pytest

from framework import App, g, request, session
from framework.testing import EnvironBuilder, FrameworkClient


def test_json_and_redirects(app: App, client) -> None:
    @app.post("/echo")
    def echo() -> dict:
        return {"got": request.get_json()}

    @app.route("/go")
    def go():  # type: ignore[no-untyped-def]
        from framework import redirect

        return redirect("/target")

    app.add_url_rule("/target", "target", lambda: "arrived")
    assert client.post("/echo", json={"a": 1}).json == {"got": {"a": 1}}
    rv = client.get("/go", follow_redirects=True)
    assert rv.data == b"arrived"
    assert [r.status_code for r in rv.history] == [302]
    assert isinstance(client, FrameworkClient)


def test_with_client_keeps_last_contexts(app: App, client) -> None:
    @app.route("/<name>")
    def view(name: str) -> str:
        g.name = name
        return name

    with client:
        client.get("/first")
        assert request.path == "/first"
        assert g.name == "first"
        client.get("/second?x=1")
        assert request.args["x"] == "1"
        assert g.name == "second"
        with pytest.raises(RuntimeError):
            with client:
                pass
    assert not request


def test_session_transaction(app: App, client) -> None:
    app.secret_key = "a-test-secret-key-123"

    @app.route("/read")
    def read() -> str:
        return str(session.get("user"))

    @app.route("/write")
    def write() -> str:
        session["user"] = "written"
        return "ok"

    with client.session_transaction() as sess:
        sess["user"] = "alice"
    assert client.get("/read").data == b"alice"
    client.get("/write")
    with client.session_transaction() as sess:
        assert sess["user"] == "written"


def test_session_transaction_without_cookies(app: App) -> None:
    client = app.test_client(use_cookies=False)
    with pytest.raises(TypeError):
        with client.session_transaction():
            pass


def test_environ_builder_defaults(app: App) -> None:
    app.config.update(SERVER_NAME="example.test", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https")
    env = EnvironBuilder(app, "/path?x=1").get_environ()
    assert env["HTTP_HOST"] == "example.test"
    assert env["SCRIPT_NAME"] == "/root"
    assert env["wsgi.url_scheme"] == "https"
    assert env["QUERY_STRING"] == "x=1"
    env = EnvironBuilder(app, "/", subdomain="api").get_environ()
    assert env["HTTP_HOST"] == "api.example.test"
    with pytest.raises(AssertionError):
        EnvironBuilder(app, "/", base_url="http://x", subdomain="y")


def test_client_environ_base(app: App, client) -> None:
    app.add_url_rule("/", "i", lambda: f"{request.remote_addr} {request.user_agent.string.split('/')[0]}")
    assert client.get("/").data == b"127.0.0.1 Werkzeug"


def test_open_with_builder_and_environ(app: App, client) -> None:
    app.add_url_rule("/p", "p", lambda: request.method)
    builder = EnvironBuilder(app, "/p", method="PUT")
    app.add_url_rule("/q", "q", lambda: request.method, methods=["PUT", "GET"])
    assert client.open(EnvironBuilder(app, "/q", method="PUT")).data == b"PUT"
    assert client.open(builder.get_environ()).status_code == 405
