"""Error handling parity: handlers by code/class, MRO, blueprint scope, 500s, propagation and trapping."""

from __future__ import annotations

from types import ModuleType

from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, NotFound

from .diff import both, call


class Base(Exception):
    """Root of a small exception hierarchy."""


class Middle(Base):
    """Handled by class."""


class Leaf(Middle):
    """Resolved through the MRO."""


def _raise(exc: BaseException):
    def view() -> str:
        raise exc

    return view


def _handlers(fw: ModuleType):
    app = fw.Flask("errors")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    bp = fw.Blueprint("bp", __name__, url_prefix="/bp")
    app.register_error_handler(404, lambda e: (f"app 404 {e.description}", 404))
    app.register_error_handler(Base, lambda e: ("app base", 500))
    app.register_error_handler(Middle, lambda e: ("app middle", 500))
    bp.register_error_handler(Middle, lambda e: ("bp middle", 501))
    bp.register_error_handler(403, lambda e: ("bp 403", 403))

    @bp.app_errorhandler(410)
    def gone(e: HTTPException) -> tuple[str, int]:
        return "app-wide 410 from bp", 410

    @app.errorhandler(500)
    def five(e: InternalServerError) -> tuple[str, int]:
        orig = e.original_exception
        return f"500 handler {type(orig).__name__} {orig}", 500

    app.add_url_rule("/leaf", "leaf", _raise(Leaf()))
    app.add_url_rule("/base", "base", _raise(Base()))
    app.add_url_rule("/key", "key", _raise(KeyError("k")))
    app.add_url_rule("/403", "f", lambda: fw.abort(403))
    app.add_url_rule("/410", "g", lambda: fw.abort(410))
    app.add_url_rule("/500", "five", lambda: fw.abort(500))
    bp.add_url_rule("/leaf", "leaf", _raise(Leaf()))
    bp.add_url_rule("/403", "f", lambda: fw.abort(403))
    bp.add_url_rule("/404", "nf", lambda: fw.abort(404, "bp says no"))
    bp.add_url_rule("/base", "base", _raise(Base()))
    app.register_blueprint(bp)
    return app


def test_handler_resolution() -> None:
    rv = both(_handlers, [
        call("GET", "/missing"), call("GET", "/leaf"), call("GET", "/base"), call("GET", "/key"),
        call("GET", "/403"), call("GET", "/410"), call("GET", "/500"), call("GET", "/bp/leaf"),
        call("GET", "/bp/403"), call("GET", "/bp/404"), call("GET", "/bp/base"), call("GET", "/bp/missing"),
    ])
    assert rv[1][2] == b"app middle" and rv[7][2] == b"bp middle"
    assert rv[3][2] == b"500 handler KeyError 'k'" and rv[6][2] == b"500 handler NoneType None"


def _nested_bp_handlers(fw: ModuleType):
    app = fw.Flask("errors")
    parent = fw.Blueprint("parent", __name__, url_prefix="/p")
    child = fw.Blueprint("child", __name__, url_prefix="/c")
    parent.register_error_handler(Middle, lambda e: "parent middle")
    child.register_error_handler(Base, lambda e: "child base")
    app.register_error_handler(Leaf, lambda e: "app leaf")
    child.add_url_rule("/leaf", "leaf", _raise(Leaf()))
    child.add_url_rule("/mid", "mid", _raise(Middle()))
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    return app


def test_nested_blueprint_scope_precedence() -> None:
    rv = both(_nested_bp_handlers, [call("GET", "/p/c/leaf"), call("GET", "/p/c/mid")])
    assert rv[1][2] == b"child base"


def _http_exception_handler(fw: ModuleType):
    app = fw.Flask("errors")
    app.register_error_handler(HTTPException, lambda e: (f"http {e.code} {e.name}", e.code))
    app.register_error_handler(NotFound, lambda e: ("notfound class", 404))
    app.add_url_rule("/", "i", lambda: "x")
    app.add_url_rule("/400", "bad", lambda: fw.abort(400))
    app.add_url_rule("/dir/", "dir", lambda: "dir")
    return app


def test_http_exception_generic_handler() -> None:
    rv = both(_http_exception_handler, [
        call("POST", "/"), call("GET", "/missing"), call("GET", "/400"), call("GET", "/dir"),
        call("GET", "/", follow_redirects=True), call("OPTIONS", "/"),
    ])
    assert rv[0][2] == b"http 405 Method Not Allowed" and rv[1][2] == b"notfound class"
    assert rv[3][0] == 308  # routing redirects bypass the HTTPException handler


def _propagation(fw: ModuleType, **config: object):
    app = fw.Flask("errors")
    app.config.update(config)
    app.add_url_rule("/boom", "boom", _raise(ValueError("boom")))
    app.add_url_rule("/abort", "abort", lambda: fw.abort(404))
    app.add_url_rule("/key", "key", lambda: fw.request.args["missing"])
    app.add_url_rule("/json", "json", lambda: fw.request.get_json(), methods=["POST"])
    return app


_PROPAGATION_CALLS = [call("GET", "/boom"), call("GET", "/abort"), call("GET", "/key"),
                      call("POST", "/json", data="{", content_type="application/json"), call("GET", "/nope")]


def test_production_500() -> None:
    rv = both(_propagation, _PROPAGATION_CALLS)
    assert rv[0][0] == 500 and rv[2][0] == 400


def test_propagate_exceptions_and_testing() -> None:
    rv = both(lambda fw: _propagation(fw, PROPAGATE_EXCEPTIONS=True), _PROPAGATION_CALLS)
    assert rv[0][:2] == ("raised", "ValueError")
    rv = both(lambda fw: _propagation(fw, TESTING=True), _PROPAGATION_CALLS)
    assert rv[0][:2] == ("raised", "ValueError") and rv[1][0] == 404
    rv = both(lambda fw: _propagation(fw, TESTING=True, PROPAGATE_EXCEPTIONS=False), _PROPAGATION_CALLS)
    assert rv[0][0] == 500


def test_trap_http_exceptions() -> None:
    rv = both(lambda fw: _propagation(fw, TRAP_HTTP_EXCEPTIONS=True), _PROPAGATION_CALLS)
    assert rv[1][0] == 500  # trapped, then not propagated: the generic 500 page
    rv = both(lambda fw: _propagation(fw, TRAP_HTTP_EXCEPTIONS=True, TESTING=True), _PROPAGATION_CALLS)
    assert rv[1][:2] == ("raised", "NotFound") and rv[4][:2] == ("raised", "NotFound")


def test_trap_bad_request_errors() -> None:
    rv = both(lambda fw: _propagation(fw, TRAP_BAD_REQUEST_ERRORS=True, TESTING=True), _PROPAGATION_CALLS)
    assert rv[2][:2] == ("raised", "BadRequestKeyError") and rv[3][1] == "BadRequest"
    rv = both(lambda fw: _propagation(fw, DEBUG=True), _PROPAGATION_CALLS)
    assert rv[2][:2] == ("raised", "BadRequestKeyError")
    rv = both(lambda fw: _propagation(fw, DEBUG=True, TRAP_BAD_REQUEST_ERRORS=False), _PROPAGATION_CALLS)
    assert rv[2][0] == 400


def _key_error_message(fw: ModuleType):
    app = fw.Flask("errors")
    app.debug = True
    app.config["TRAP_BAD_REQUEST_ERRORS"] = False
    app.register_error_handler(BadRequest, lambda e: (e.description, 400))
    app.add_url_rule("/key", "key", lambda: fw.request.form["missing"], methods=["POST"])
    return app


def test_key_error_description_in_debug() -> None:
    rv = both(_key_error_message, [call("POST", "/key", data={"a": "1"})])
    assert b"missing" in rv[0][2]


def _handler_itself_fails(fw: ModuleType):
    app = fw.Flask("errors")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.register_error_handler(ValueError, lambda e: _raise(KeyError("in handler"))())
    app.register_error_handler(500, lambda e: (f"500 {e.original_exception!r}", 500))
    app.add_url_rule("/", "i", _raise(ValueError("v")))
    return app


def test_failing_handler_goes_to_500_handler() -> None:
    rv = both(_handler_itself_fails, [call("GET", "/")])
    assert rv[0][2] == b"500 KeyError('in handler')"


def _bad_handler_registration(fw: ModuleType) -> list[str]:
    app = fw.Flask("errors")
    out = []
    for bad in (999, NotFound(), object, "x"):
        try:
            app.register_error_handler(bad, lambda e: "")
            out.append("accepted")
        except Exception as e:
            out.append(type(e).__name__)
    return out


def test_bad_error_handler_registration() -> None:
    from .diff import same

    assert same(_bad_handler_registration) == ("ok", ["ValueError", "TypeError", "ValueError", "TypeError"])
