"""url_for parity: inside/outside requests, _external/_scheme/_anchor/_method, blueprints, build errors."""

from __future__ import annotations

from types import ModuleType

from werkzeug.routing import BuildError

from .diff import both, call, same


def _app(fw: ModuleType, **config: object):
    app = fw.Flask("urls")
    app.testing = True
    app.config.update(config)
    bp = fw.Blueprint("bp", __name__, url_prefix="/bp")
    app.add_url_rule("/", "index", lambda: "i")
    def item(n: int) -> str:
        return "i"

    app.add_url_rule("/item/<int:n>", "item", item, methods=["GET", "POST"])
    app.add_url_rule("/item/<int:n>/edit", "item", item, methods=["PUT"])
    bp.add_url_rule("/page/<name>", "page", lambda name: "p")

    @bp.route("/rel")
    def rel() -> object:
        return [fw.url_for(".page", name="x"), fw.url_for("index"), fw.url_for(".page", name="y", _external=True)]

    app.register_blueprint(bp)

    @app.route("/all")
    def all_forms() -> object:
        u = fw.url_for
        out = [
            u("index"), u("index", _external=True), u("index", _scheme="https", _external=True),
            u("index", _anchor="top frag"), u("item", n=3, q="a b", extra=["1", "2"]),
            u("item", n=3, _method="PUT"), u("bp.page", name="ü/x"),
            u("item", n=3, _external=False, _anchor="x"),
        ]
        for bad in (lambda: u("nope"), lambda: u("item"), lambda: u("index", _scheme="https"),
                    lambda: u(".page", name="x"), lambda: u("static", filename="a.css")):
            try:
                out.append(bad())
            except Exception as e:
                out.append(type(e).__name__)
        return out

    return app


def test_url_for_in_request() -> None:
    rv = both(_app, [call("GET", "/all"), call("GET", "/bp/rel"), call("GET", "https://h.test:8443/all")])
    assert b'"http://localhost/"' in rv[0][2] and b"BuildError" in rv[0][2] and b"/item/3/edit" in rv[0][2]


def _by_method(fw: ModuleType):
    app = fw.Flask("urls")
    view = lambda: fw.url_for("x")  # noqa: E731
    app.add_url_rule("/get", "x", view, methods=["GET"])
    app.add_url_rule("/post", "x", view, methods=["POST"])
    return app


def test_url_for_prefers_the_rule_for_the_request_method() -> None:
    rv = both(_by_method, [call("POST", "/post"), call("GET", "/get"), call("POST", "/post"), call("GET", "/get")])
    assert [r[2] for r in rv] == [b"/post", b"/get", b"/post", b"/get"]


def test_url_for_with_config() -> None:
    rv = both(lambda fw: _app(fw, SERVER_NAME="srv.test:8080", APPLICATION_ROOT="/root",
                              PREFERRED_URL_SCHEME="https"), [call("GET", "/all"), call("GET", "/bp/rel")])
    assert b"https://srv.test:8080/root/" in rv[0][2]


def _outside(fw: ModuleType, **config: object) -> list[str]:
    app = _app(fw, **config)
    out = []
    with app.app_context():
        for kwargs in ({}, {"_external": False}, {"_scheme": "https"}, {"_anchor": "a"}):
            try:
                out.append(fw.url_for("item", n=1, **kwargs))
            except Exception as e:
                out.append(f"{type(e).__name__}")
    with app.test_request_context("/x", base_url="http://other.test/base"):
        out.append(fw.url_for("index", _external=True))
    return out


def test_url_for_outside_request() -> None:
    assert same(_outside)[1][0] == "RuntimeError"
    assert same(lambda fw: _outside(fw, SERVER_NAME="s.test", APPLICATION_ROOT="/r",
                                    PREFERRED_URL_SCHEME="https"))[1][0] == "https://s.test/r/item/1"


def _build_error_handler(fw: ModuleType):
    app = fw.Flask("urls")
    seen: list[str] = []

    def handler(error: BuildError, endpoint: str, values: dict) -> str | None:
        seen.append(f"{endpoint} {sorted(values)}")
        return "/fallback" if endpoint == "known_missing" else None

    app.url_build_error_handlers.append(handler)
    app.add_url_rule("/", "i", lambda: [fw.url_for("known_missing", a=1), seen[-1]])

    @app.route("/raise")
    def raise_() -> str:
        return fw.url_for("other_missing")

    return app


def test_build_error_handlers() -> None:
    rv = both(lambda fw: _testing(_build_error_handler(fw)), [call("GET", "/"), call("GET", "/raise")],
              facts={1: ["other_missing"]})
    assert rv[0][2].startswith(b'["/fallback","known_missing [\'_anchor\'')
    assert rv[1][1] == "BuildError"


def _testing(app):
    app.testing = True
    return app
