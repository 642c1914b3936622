"""Hook order parity: before/after/teardown, url_value_preprocessor, url_defaults, blueprint scopes."""

from __future__ import annotations

from types import ModuleType

from .diff import both, call, same


def _order(fw: ModuleType):
    app = fw.Flask("hooks")
    log: list[str] = []
    bp = fw.Blueprint("bp", __name__, url_prefix="/bp")

    @app.url_value_preprocessor
    def app_pre(endpoint: str | None, values: dict | None) -> None:
        log.append(f"app_pre {endpoint} {values}")
        if values and "lang" in values:
            fw.g.lang = values.pop("lang")

    @bp.url_value_preprocessor
    def bp_pre(endpoint: str | None, values: dict | None) -> None:
        log.append(f"bp_pre {endpoint}")

    @app.url_defaults
    def app_defaults(endpoint: str, values: dict) -> None:
        log.append(f"app_defaults {endpoint}")
        if "lang" in app.url_map._rules_by_endpoint[endpoint][0].arguments:
            values.setdefault("lang", getattr(fw.g, "lang", "en"))

    @bp.url_defaults
    def bp_defaults(endpoint: str, values: dict) -> None:
        log.append(f"bp_defaults {endpoint}")

    for scope, name in ((app, "app"), (bp, "bp")):
        scope.before_request(lambda name=name: log.append(f"before {name}"))
        scope.after_request(lambda r, name=name: (log.append(f"after {name}"), r)[1])
        scope.teardown_request(lambda e, name=name: log.append(f"teardown {name} {e!r}"))
    app.before_request(lambda: log.append("before app 2"))
    app.after_request(lambda r: (log.append("after app 2"), r)[1])
    app.teardown_appcontext(lambda e: log.append(f"teardown_app {e!r}"))

    @bp.before_app_request
    def bp_app_before() -> None:
        log.append("bp before_app_request")

    @app.route("/<lang>/page")
    def page() -> str:
        log.append("view " + fw.url_for("page") + " " + fw.url_for("bp.inner"))
        return "ok"

    @bp.route("/inner")
    def inner() -> str:
        log.append("view inner " + fw.url_for(".inner"))
        fw.after_this_request(lambda r: (log.append("after_this_request"), r)[1])
        return "inner"

    @bp.route("/short")
    def short() -> str:
        return "never"

    @bp.before_request
    def short_circuit() -> str | None:
        if fw.request.endpoint == "bp.short":
            log.append("short-circuit")
            return "from before"
        return None

    @app.route("/log")
    def show() -> object:
        out = list(log)
        log.clear()
        return out

    app.register_blueprint(bp)
    return app


def test_hook_order() -> None:
    rv = both(_order, [
        call("GET", "/log"), call("GET", "/fr/page"), call("GET", "/log"), call("GET", "/bp/inner"),
        call("GET", "/log"), call("GET", "/bp/short"), call("GET", "/log"), call("GET", "/nope"), call("GET", "/log"),
    ])
    assert b"view /fr/page /bp/inner" in rv[2][2]
    assert rv[5][2] == b"from before"


def _after_request_error(fw: ModuleType):
    app = fw.Flask("hooks")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []

    @app.after_request
    def boom(r: object) -> object:
        log.append("after")
        raise RuntimeError("after failed")

    @app.teardown_request
    def td(e: BaseException | None) -> None:
        log.append(f"teardown {type(e).__name__}")

    app.add_url_rule("/", "i", lambda: "x")
    app.add_url_rule("/log", "log", lambda: list(log))
    return app


def test_error_in_after_request() -> None:
    rv = both(_after_request_error, [call("GET", "/"), call("GET", "/log")])
    assert rv[0][0] == 500


def _teardown_chain(fw: ModuleType):
    app = fw.Flask("hooks")
    log: list[str] = []
    app.teardown_request(lambda e: log.append("first registered"))
    app.teardown_request(lambda e: log.append("second registered"))
    app.teardown_appcontext(lambda e: log.append("appctx 1"))
    app.teardown_appcontext(lambda e: log.append("appctx 2"))
    app.after_request(lambda r: (log.append("after 1"), r)[1])
    app.after_request(lambda r: (log.append("after 2"), r)[1])
    app.add_url_rule("/", "i", lambda: "x")
    app.add_url_rule("/log", "log", lambda: list(log))
    return app


def test_reverse_registration_order() -> None:
    rv = both(_teardown_chain, [call("GET", "/"), call("GET", "/log")])
    assert rv[1][2].index(b"after 2") < rv[1][2].index(b"after 1")


def _teardown_arguments(fw: ModuleType, config: dict[str, object]) -> list[object]:
    """What teardown callbacks and the teardown/exception signals receive for three kinds of failure."""
    app = fw.Flask("hooks")
    app.config.update(config)
    log: list[tuple[str, str | None]] = []

    def name(value: object) -> str | None:
        return None if value is None else type(value).__name__

    app.teardown_request(lambda e: log.append(("teardown_request", name(e))))
    app.teardown_appcontext(lambda e: log.append(("teardown_appcontext", name(e))))
    receivers = [
        (fw.request_tearing_down, lambda s, exc=None, **k: log.append(("request_tearing_down", name(exc)))),
        (fw.appcontext_tearing_down, lambda s, exc=None, **k: log.append(("appcontext_tearing_down", name(exc)))),
        (fw.got_request_exception, lambda s, exception, **k: log.append(("got_request_exception", name(exception)))),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, app)
    app.register_error_handler(KeyError, lambda e: ("handled", 400))
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule("/key", "key", lambda: {}["x"])
    app.add_url_rule("/abort", "abort", lambda: fw.abort(500))
    out: list[object] = []
    try:
        for path in ("/boom", "/key", "/abort"):
            log.clear()
            try:
                status: object = app.test_client().get(path).status_code
            except Exception as e:
                status = type(e).__name__
            out.append((path, status, list(log)))
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver, app)
    return out


def test_teardown_and_exception_signal_arguments() -> None:
    for config in ({}, {"PROPAGATE_EXCEPTIONS": True}, {"TESTING": True}, {"DEBUG": True}):
        out = same(lambda fw, config=config: _teardown_arguments(fw, config))
        assert out[0] == "ok"
    assert ("got_request_exception", "ZeroDivisionError") in out[1][0][2]


def test_teardown_timing_with_client_block() -> None:
    def probe(fw: ModuleType) -> list[str]:
        app = fw.Flask("hooks")
        app.testing = True
        log: list[str] = []
        app.teardown_request(lambda e: log.append("teardown"))
        app.add_url_rule("/", "i", lambda: "x")
        c = app.test_client()
        with c:
            c.get("/")
            log.append("after first request")
            c.get("/")
            log.append("after second request")
        log.append("after with")
        return log

    # Flask 3.1 runs teardown_request when each response is done and again when the kept context is popped.
    assert same(probe)[1] == ["teardown", "after first request", "teardown", "teardown", "after second request",
                              "teardown", "after with"]
