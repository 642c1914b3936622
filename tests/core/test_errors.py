"""Error handling: handlers by code and class, MRO, blueprint scopes, 500s, propagation and trapping."""

from __future__ import annotations

import logging

import pytest
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, InternalServerError, NotFound

from framework import App, Blueprint, abort, request


@pytest.fixture
def prod_app() -> App:
    app = App("errors")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_handler_by_code_and_by_class(prod_app: App) -> None:
    app = prod_app

    @app.errorhandler(404)
    def not_found(e: NotFound) -> tuple[str, int]:
        return f"custom 404 for {request.path}", 404

    @app.errorhandler(KeyError)
    def key_error(e: KeyError) -> tuple[str, int]:
        return "missing key", 400

    app.add_url_rule("/key", "key", lambda: {}["x"])
    c = app.test_client()
    rv = c.get("/nope")
    assert (rv.status_code, rv.data) == (404, b"custom 404 for /nope")
    rv = c.get("/key")
    assert (rv.status_code, rv.data) == (400, b"missing key")


def test_nearest_class_in_mro_wins(prod_app: App) -> None:
    class Base(Exception):
        pass

    class Middle(Base):
        pass

    class Leaf(Middle):
        pass

    prod_app.register_error_handler(Base, lambda e: "base")
    prod_app.register_error_handler(Middle, lambda e: "middle")
    prod_app.add_url_rule("/leaf", "leaf", lambda: (_ for _ in ()).throw(Leaf()))
    prod_app.add_url_rule("/base", "base", lambda: (_ for _ in ()).throw(Base()))
    c = prod_app.test_client()
    assert c.get("/leaf").data == b"middle"
    assert c.get("/base").data == b"base"


def test_handler_status_is_not_set_automatically(prod_app: App) -> None:
    prod_app.register_error_handler(404, lambda e: "no status given")
    assert prod_app.test_client().get("/x").status_code == 200


def test_http_exception_handler_catches_all_http_errors(prod_app: App) -> None:
    prod_app.register_error_handler(HTTPException, lambda e: (f"http {e.code}", e.code))
    prod_app.add_url_rule("/forbidden", "f", lambda: abort(403))
    c = prod_app.test_client()
    assert c.get("/forbidden").data == b"http 403"
    assert c.get("/missing").data == b"http 404"
    rv = c.post("/forbidden")
    assert rv.data == b"http 405"


def test_default_http_error_page_keeps_headers(prod_app: App) -> None:
    prod_app.add_url_rule("/", "i", lambda: "x")
    rv = prod_app.test_client().put("/")
    assert rv.status_code == 405
    assert "GET" in rv.headers["Allow"]
    assert b"Method Not Allowed" in rv.data


def test_blueprint_handler_precedence(prod_app: App) -> None:
    app = prod_app
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(HTTPException)
    def bp_http(e: HTTPException) -> tuple[str, int]:
        return "bp http", e.code or 500

    @bp.errorhandler(ValueError)
    def bp_value(e: ValueError) -> tuple[str, int]:
        return "bp value", 400

    @app.errorhandler(403)
    def app_403(e: Forbidden) -> tuple[str, int]:
        return "app 403", 403

    @app.errorhandler(ValueError)
    def app_value(e: ValueError) -> tuple[str, int]:
        return "app value", 400

    bp.add_url_rule("/403", "f", lambda: abort(403))
    bp.add_url_rule("/418", "t", lambda: abort(418))
    bp.add_url_rule("/value", "v", lambda: int("x"))
    app.add_url_rule("/value", "v", lambda: int("x"))
    app.register_blueprint(bp)
    c = app.test_client()
    assert c.get("/bp/403").data == b"app 403"  # app handler for the code beats bp handler by class
    assert c.get("/bp/418").data == b"bp http"
    assert c.get("/bp/value").data == b"bp value"  # bp scope before app scope
    assert c.get("/value").data == b"app value"
    assert c.get("/bp/missing").status_code == 404  # routing errors never reach bp handlers
    assert c.get("/bp/missing").data != b"bp http"


def test_unhandled_exception_is_500_with_original(prod_app: App, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[object] = []

    @prod_app.errorhandler(500)
    def server_error(e: InternalServerError) -> tuple[str, int]:
        seen.append(e.original_exception)
        return "sorry", 500

    prod_app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="errors"):
        rv = prod_app.test_client().get("/boom")
    assert (rv.status_code, rv.data) == (500, b"sorry")
    assert isinstance(seen[0], ZeroDivisionError)
    assert "Exception on /boom [GET]" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_default_500_page_has_no_traceback(prod_app: App) -> None:
    prod_app.logger.disabled = True
    prod_app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    rv = prod_app.test_client().get("/boom")
    prod_app.logger.disabled = False
    assert rv.status_code == 500
    assert b"Internal Server Error" in rv.data
    assert b"ZeroDivisionError" not in rv.data
    assert b"Traceback" not in rv.data


def test_propagation_in_testing_and_debug() -> None:
    for key in ("TESTING", "DEBUG", "PROPAGATE_EXCEPTIONS"):
        app = App(f"prop_{key}")
        app.config[key] = True
        app.add_url_rule("/boom", "boom", lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            app.test_client().get("/boom")


def test_trap_http_exceptions(prod_app: App) -> None:
    prod_app.config["TRAP_HTTP_EXCEPTIONS"] = True
    prod_app.config["PROPAGATE_EXCEPTIONS"] = True
    prod_app.add_url_rule("/", "i", lambda: abort(404))
    prod_app.add_url_rule("/other", "other", lambda: abort(410))
    prod_app.register_error_handler(404, lambda e: ("trapped but handled", 404))
    assert prod_app.test_client().get("/").data == b"trapped but handled"
    with pytest.raises(HTTPException) as info:
        prod_app.test_client().get("/other")
    assert info.value.code == 410


def test_trap_bad_request_errors() -> None:
    app = App("trap_bad_request")
    app.add_url_rule("/", "i", lambda: request.args["missing"])
    assert app.test_client().get("/").status_code == 400  # production: plain 400
    app.debug = True
    with pytest.raises(BadRequest) as info:
        app.test_client().get("/")
    assert "missing" in str(info.value)
    app2 = App("trap_bad_request2")
    app2.config["TRAP_BAD_REQUEST_ERRORS"] = True
    app2.config["PROPAGATE_EXCEPTIONS"] = False
    app2.logger.disabled = True
    app2.add_url_rule("/", "i", lambda: abort(400))
    assert app2.test_client().get("/").status_code == 500  # trapped and unhandled


def test_error_in_after_request_is_500(prod_app: App) -> None:
    prod_app.logger.disabled = True

    @prod_app.after_request
    def broken(response):  # type: ignore[no-untyped-def]
        raise RuntimeError("after failed")

    prod_app.add_url_rule("/", "i", lambda: "x")
    assert prod_app.test_client().get("/").status_code == 500


def test_register_error_handler_validation(app: App) -> None:
    with pytest.raises(ValueError):
        app.register_error_handler(999, lambda e: "x")
    with pytest.raises(TypeError):
        app.register_error_handler(KeyError(), lambda e: "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        app.register_error_handler(int, lambda e: "x")  # type: ignore[arg-type]
    app.register_error_handler(HTTPException, lambda e: "x")
    assert HTTPException in app.error_handler_spec[None][None]
    app.register_error_handler(NotFound, lambda e: "x")
    assert NotFound in app.error_handler_spec[None][404]


def test_abort_variants(app: App, client) -> None:
    app.add_url_rule("/a", "a", lambda: abort(418))
    app.add_url_rule("/b", "b", lambda: abort(app.response_class("custom", status=409)))
    assert client.get("/a").status_code == 418
    rv = client.get("/b")
    assert (rv.status_code, rv.data) == (409, b"custom")
    with pytest.raises(LookupError):
        abort(999)
    with pytest.raises(NotFound):
        abort(404)


def test_async_error_handler(prod_app: App) -> None:
    async def handler(e: Exception) -> tuple[str, int]:
        return "async handled", 400

    prod_app.register_error_handler(ValueError, handler)
    prod_app.add_url_rule("/", "i", lambda: int("x"))
    assert prod_app.test_client().get("/").data == b"async handled"
