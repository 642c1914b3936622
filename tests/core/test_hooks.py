"""Hooks run in Flask's documented order, including blueprint scopes and short-circuits."""

from __future__ import annotations

import pytest

from framework import App, Blueprint, request, signals


def test_full_order_with_nested_blueprints() -> None:
    app = App("hooks")
    events: list[str] = []
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")

    def rec(name: str):  # type: ignore[no-untyped-def]
        def hook(*args):  # type: ignore[no-untyped-def]
            events.append(name)
            if args and hasattr(args[0], "headers"):
                return args[0]
            return None

        return hook

    for scope, label in ((app, "app"), (parent, "parent"), (child, "child")):
        scope.url_value_preprocessor(rec(f"{label}.url_value"))
        scope.before_request(rec(f"{label}.before1"))
        scope.before_request(rec(f"{label}.before2"))
        scope.after_request(rec(f"{label}.after1"))
        scope.after_request(rec(f"{label}.after2"))
        scope.teardown_request(rec(f"{label}.teardown"))
    app.teardown_appcontext(rec("app.teardown_appcontext"))

    @child.route("/view")
    def view() -> str:
        events.append("view")
        return "ok"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert app.test_client().get("/p/c/view").data == b"ok"
    assert events == [
        "app.url_value", "parent.url_value", "child.url_value",
        "app.before1", "app.before2", "parent.before1", "parent.before2", "child.before1", "child.before2",
        "view",
        "child.after2", "child.after1", "parent.after2", "parent.after1", "app.after2", "app.after1",
        "child.teardown", "parent.teardown", "app.teardown",
        "app.teardown_appcontext",
    ]


def test_before_request_short_circuits(app: App, client) -> None:
    events: list[str] = []
    app.before_request(lambda: events.append("b1"))
    app.before_request(lambda: "stopped")
    app.before_request(lambda: events.append("b3"))

    @app.after_request
    def after(response):  # type: ignore[no-untyped-def]
        events.append("after")
        return response

    @app.route("/")
    def index() -> str:
        events.append("view")
        return "view"

    assert client.get("/").data == b"stopped"
    assert events == ["b1", "after"]


def test_after_request_can_replace_response(app: App, client) -> None:
    @app.after_request
    def replace(response):  # type: ignore[no-untyped-def]
        return app.response_class("replaced", status=201)

    app.add_url_rule("/", "i", lambda: "original")
    rv = client.get("/")
    assert (rv.status_code, rv.data) == (201, b"replaced")


def test_teardown_receives_exception(app: App) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen: list[object] = []
    app.teardown_request(lambda exc: seen.append(("request", type(exc).__name__ if exc else None)))
    app.teardown_appcontext(lambda exc: seen.append(("app", type(exc).__name__ if exc else None)))

    @app.route("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    @app.route("/ok")
    def ok() -> str:
        return "ok"

    client = app.test_client()
    client.get("/ok")
    assert seen == [("request", None), ("app", None)]
    seen.clear()
    assert client.get("/boom").status_code == 500
    assert seen == [("request", "ZeroDivisionError"), ("app", "ZeroDivisionError")]


def test_handled_errors_are_not_seen_by_teardown(app: App, client) -> None:
    seen: list[object] = []
    app.teardown_request(lambda exc: seen.append(exc))
    app.register_error_handler(ValueError, lambda e: ("handled", 400))
    app.add_url_rule("/", "i", lambda: (_ for _ in ()).throw(ValueError()))
    assert client.get("/").status_code == 400
    assert seen == [None]


def test_hooks_run_for_unmatched_urls(app: App, client) -> None:
    events: list[object] = []
    app.url_value_preprocessor(lambda endpoint, values: events.append((endpoint, values)))
    app.before_request(lambda: events.append("before"))
    assert client.get("/missing").status_code == 404
    assert events == [(None, None), "before"]


def test_url_value_preprocessor_can_pop_values(app: App, client) -> None:
    from framework import g

    @app.url_value_preprocessor
    def pull_lang(endpoint, values):  # type: ignore[no-untyped-def]
        g.lang = values.pop("lang")

    @app.route("/<lang>/page")
    def page() -> str:
        return f"page in {g.lang}"

    assert client.get("/fr/page").data == b"page in fr"


def test_signals_order(app: App, client) -> None:
    events: list[str] = []

    def receiver(name: str):  # type: ignore[no-untyped-def]
        def rec(sender, **extra):  # type: ignore[no-untyped-def]
            assert sender is app
            events.append(name)

        return rec

    receivers = {name: receiver(name) for name in (
        "appcontext_pushed", "request_started", "request_finished", "request_tearing_down",
        "appcontext_tearing_down", "appcontext_popped", "got_request_exception",
    )}
    for name, rec in receivers.items():
        getattr(signals, name).connect(rec, app)
    try:
        app.add_url_rule("/", "i", lambda: "ok")
        app.add_url_rule("/boom", "boom", lambda: 1 / 0)
        client.get("/")
        assert events == [
            "appcontext_pushed", "request_started", "request_finished", "request_tearing_down",
            "appcontext_tearing_down", "appcontext_popped",
        ]
        events.clear()
        app.config["PROPAGATE_EXCEPTIONS"] = False
        assert client.get("/boom").status_code == 500
        assert "got_request_exception" in events
    finally:
        for name, rec in receivers.items():
            getattr(signals, name).disconnect(rec, app)


def test_signal_carries_response_and_exception(app: App, client) -> None:
    got: dict[str, object] = {}

    def on_finished(sender, response, **extra):  # type: ignore[no-untyped-def]
        got["status"] = response.status_code

    def on_exception(sender, exception, **extra):  # type: ignore[no-untyped-def]
        got["exc"] = type(exception).__name__

    signals.request_finished.connect(on_finished, app)
    signals.got_request_exception.connect(on_exception, app)
    try:
        app.config["PROPAGATE_EXCEPTIONS"] = False
        app.add_url_rule("/", "i", lambda: ("made", 201))
        app.add_url_rule("/boom", "boom", lambda: {}["x"])
        client.get("/")
        assert got == {"status": 201}
        client.get("/boom")
        assert got["exc"] == "KeyError"
    finally:
        signals.request_finished.disconnect(on_finished, app)
        signals.got_request_exception.disconnect(on_exception, app)


def test_request_started_sees_request(app: App, client) -> None:
    paths: list[str] = []

    def started(sender, **extra):  # type: ignore[no-untyped-def]
        paths.append(request.path)

    signals.request_started.connect(started, app)
    try:
        app.add_url_rule("/here", "here", lambda: "x")
        client.get("/here")
    finally:
        signals.request_started.disconnect(started, app)
    assert paths == ["/here"]


def test_ten_signals_exist() -> None:
    names = [
        "template_rendered", "before_render_template", "request_started", "request_finished",
        "request_tearing_down", "got_request_exception", "appcontext_tearing_down", "appcontext_pushed",
        "appcontext_popped", "message_flashed",
    ]
    import framework

    for name in names:
        assert getattr(framework, name) is getattr(signals, name)
    assert signals.request_started.name == "request-started"
    with pytest.raises(AttributeError):
        framework.no_such_signal  # noqa: B018


def test_async_signal_receiver(app: App, client) -> None:
    seen: list[str] = []

    async def on_started(sender, **extra):  # type: ignore[no-untyped-def]
        seen.append(request.path)

    signals.request_started.connect(on_started, app)
    try:
        app.add_url_rule("/a", "a", lambda: "x")
        client.get("/a")
    finally:
        signals.request_started.disconnect(on_started, app)
    assert seen == ["/a"]


def test_teardowns_always_run(app: App) -> None:
    """Even when the exception propagates (testing) and when a teardown_request function itself fails:
    teardown_appcontext still runs and no context is left behind."""
    from framework import has_app_context, has_request_context

    seen: list[tuple[str, str | None]] = []

    @app.teardown_request
    def broken_teardown(exc: BaseException | None) -> None:
        seen.append(("request", type(exc).__name__ if exc else None))
        raise RuntimeError("teardown broke")

    @app.teardown_appcontext
    def app_teardown(exc: BaseException | None) -> None:
        seen.append(("app", type(exc).__name__ if exc else None))

    @app.route("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    app.add_url_rule("/ok", "ok", lambda: "ok")
    client = app.test_client()
    for path, exc_name in (("/ok", None), ("/boom", "ZeroDivisionError")):
        seen.clear()
        with pytest.raises(RuntimeError, match="teardown broke"):
            client.get(path)
        assert seen == [("request", exc_name), ("app", exc_name)]
        assert not has_app_context() and not has_request_context()


def test_a_request_class_deciding_its_own_blueprints_is_followed() -> None:
    """The hook scopes are cached per endpoint, unless the request class computes `blueprints` itself."""
    from framework.wrappers import Request

    class OnlyTheApp(Request):
        @property
        def blueprints(self) -> list[str]:
            return []

    events: list[str] = []
    app = App("hooks_own_blueprints")
    bp = Blueprint("bp", __name__)
    for scope, label in ((app, "app"), (bp, "bp")):
        scope.before_request(lambda label=label: events.append(f"{label}.before"))
        scope.after_request(lambda r, label=label: events.append(f"{label}.after") or r)
        scope.teardown_request(lambda e, label=label: events.append(f"{label}.teardown"))
    bp.add_url_rule("/v", "v", lambda: "ok")
    app.register_blueprint(bp)
    client = app.test_client()
    client.get("/v")
    assert events == ["app.before", "bp.before", "bp.after", "app.after", "bp.teardown", "app.teardown"]
    events.clear()
    app.request_class = OnlyTheApp
    client.get("/v")
    assert events == ["app.before", "app.after", "app.teardown"]


@pytest.mark.parametrize("where", ["subclass", "instance"])
def test_replaced_teardown_methods_are_called_without_any_teardown_registered(where: str) -> None:
    """Contexts skip App's own teardown methods when they have nothing to run, never a replacement."""
    calls: list[str] = []
    if where == "subclass":

        class Recording(App):
            def do_teardown_request(self, exc=None):  # type: ignore[no-untyped-def]
                calls.append("request")

            def do_teardown_appcontext(self, exc=None):  # type: ignore[no-untyped-def]
                calls.append("appcontext")

        app: App = Recording("teardown_replaced")
    else:
        app = App("teardown_replaced")
        app.do_teardown_request = lambda exc=None: calls.append("request")  # type: ignore[method-assign]
        app.do_teardown_appcontext = lambda exc=None: calls.append("appcontext")  # type: ignore[method-assign]
    app.add_url_rule("/", "i", lambda: "ok")
    assert app.test_client().get("/").data == b"ok"
    assert calls == ["request", "appcontext"]


def test_teardown_signals_alone_are_sent() -> None:
    app = App("teardown_signals")
    app.add_url_rule("/", "i", lambda: "ok")
    seen: list[str] = []

    def on_request(sender, **kw):  # type: ignore[no-untyped-def]
        seen.append("request")

    def on_appcontext(sender, **kw):  # type: ignore[no-untyped-def]
        seen.append("appcontext")

    with signals.request_tearing_down.connected_to(on_request, app), \
            signals.appcontext_tearing_down.connected_to(on_appcontext, app):
        app.test_client().get("/")
    assert seen == ["request", "appcontext"]
