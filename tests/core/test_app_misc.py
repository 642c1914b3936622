"""App odds and ends: middleware wrapping, debug-only checks, ignored errors, names, shell context."""

from __future__ import annotations

import pytest

from framework import App, g, request


def test_wsgi_middleware_wrapping(app: App, client) -> None:
    inner = app.wsgi_app

    def middleware(environ, start_response):  # type: ignore[no-untyped-def]
        environ["HTTP_X_FROM_MIDDLEWARE"] = "yes"
        return inner(environ, start_response)

    app.wsgi_app = middleware  # type: ignore[method-assign]
    app.add_url_rule("/", "i", lambda: request.headers["X-From-Middleware"])
    assert client.get("/").data == b"yes"


def test_debug_keeps_body_preserving_redirects() -> None:
    # routing redirects are 308 (the body is re-sent), so even debug mode lets them through
    app = App("debug_redirect")
    app.debug = True
    app.add_url_rule("/form/", "form", lambda: request.form["a"], methods=["POST"])
    rv = app.test_client().post("/form", data={"a": "1"})
    assert rv.status_code == 308
    assert app.test_client().post("/form", data={"a": "1"}, follow_redirects=True).data == b"1"


def test_should_ignore_error_hides_error_from_teardown() -> None:
    seen: list[object] = []

    class Quiet(App):
        def should_ignore_error(self, error):  # type: ignore[no-untyped-def]
            return isinstance(error, ZeroDivisionError)

    app = Quiet("quiet")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.logger.disabled = True
    app.teardown_request(lambda exc: seen.append(exc))
    app.add_url_rule("/", "i", lambda: 1 / 0)
    assert app.test_client().get("/").status_code == 500
    assert seen == [None]


def test_subclass_overrides_are_honoured() -> None:
    class Custom(App):
        def make_response(self, rv):  # type: ignore[no-untyped-def]
            response = super().make_response(rv)
            response.headers["X-Custom"] = "1"
            return response

    app = Custom("custom")
    app.add_url_rule("/", "i", lambda: "plain")
    assert app.test_client().get("/").headers["X-Custom"] == "1"


def test_after_request_sees_response_object(app: App, client) -> None:
    seen: list[str] = []

    @app.after_request
    def after(response):  # type: ignore[no-untyped-def]
        seen.append(type(response).__name__)
        return response

    app.add_url_rule("/", "i", lambda: "text")
    client.get("/")
    assert seen == ["Response"]


def test_name_and_repr() -> None:
    assert App("pkg.module").name == "pkg.module"
    assert repr(App("r")) == "<App 'r'>"


def test_make_shell_context(app: App) -> None:
    app.shell_context_processor(lambda: {"answer": 42})
    ctx = app.make_shell_context()
    assert ctx["app"] is app and ctx["answer"] == 42 and ctx["g"] is g


def test_open_resource(tmp_path) -> None:
    (tmp_path / "data.txt").write_text("resource")
    app = App("res", root_path=str(tmp_path))
    with app.open_resource("data.txt") as f:
        assert f.read() == b"resource"
    with app.open_resource("data.txt", "r", encoding="utf-8") as f:
        assert f.read() == "resource"
    with pytest.raises(ValueError):
        app.open_resource("data.txt", "w")


def test_iter_blueprints_and_extensions(app: App) -> None:
    from framework import Blueprint

    bp = Blueprint("b1", __name__)
    app.register_blueprint(bp)
    assert list(app.iter_blueprints()) == [bp]
    app.extensions["thing"] = object()
    assert "thing" in app.extensions


def test_instance_level_override_is_honoured(app: App, client) -> None:
    original = app.process_response

    def process_response(response):  # type: ignore[no-untyped-def]
        response = original(response)
        response.headers["X-Patched"] = "1"
        return response

    app.process_response = process_response  # type: ignore[method-assign]
    app.add_url_rule("/", "i", lambda: "plain")
    assert client.get("/").headers["X-Patched"] == "1"
