"""Contexts on contextvars: push/pop, proxies, g, copies, threads and asyncio tasks never leak."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import typing as t

import pytest

from framework import (
    App,
    after_this_request,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)
from framework.globals import app_ctx, request_ctx


def test_unbound_proxies() -> None:
    assert not has_app_context()
    assert not has_request_context()
    assert not current_app
    assert not request
    with pytest.raises(RuntimeError, match="application context"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="request context"):
        request.path  # noqa: B018
    with pytest.raises(RuntimeError, match="application context"):
        g.x = 1


def test_app_context_push_pop(app: App) -> None:
    ctx = app.app_context()
    ctx.push()
    try:
        assert current_app._get_current_object() is app
        assert app_ctx._get_current_object() is ctx
        assert has_app_context() and not has_request_context()
        g.value = 1
        assert g.value == 1
    finally:
        ctx.pop()
    assert not has_app_context()
    with app.app_context():
        assert "value" not in g  # a new context has a new g


def test_nested_app_contexts_restore(app: App) -> None:
    other = App("other")
    with app.app_context():
        with other.app_context():
            assert current_app.name == "other"
        assert current_app.name == app.name


def test_popping_wrong_context_fails(app: App) -> None:
    first = app.app_context()
    second = app.app_context()
    first.push()
    second.push()
    with pytest.raises(AssertionError):
        first.pop()
    # first.pop reset the var to its previous value; clean up the rest
    second._cv_tokens.clear()


def test_g_namespace(app: App) -> None:
    with app.app_context():
        g.a = 1
        assert g.get("a") == 1
        assert g.get("missing", 5) == 5
        assert g.setdefault("b", 2) == 2
        assert g.setdefault("b", 3) == 2
        assert "a" in g
        assert sorted(g) == ["a", "b"]
        assert g.pop("a") == 1
        assert g.pop("a", None) is None
        with pytest.raises(KeyError):
            g.pop("a")
        with pytest.raises(AttributeError):
            g.missing  # noqa: B018
        assert repr(g) == f"<framework.g of {app.name!r}>"


def test_request_context_reuses_active_app_context(app: App) -> None:
    with app.app_context() as actx:
        g.marker = "outer"
        with app.test_request_context("/x?a=1"):
            assert app_ctx._get_current_object() is actx
            assert g.marker == "outer"
            assert request.args["a"] == "1"
            assert request.path == "/x"
        assert has_app_context()
    with app.test_request_context():
        assert has_app_context() and has_request_context()
    assert not has_app_context()


def test_test_request_context_does_not_run_hooks(app: App) -> None:
    calls = []
    app.before_request(lambda: calls.append("before"))
    with app.test_request_context("/"):
        pass
    assert calls == []


def test_after_this_request(app: App, client) -> None:
    @app.route("/")
    def index() -> str:
        @after_this_request
        def add_header(response):  # type: ignore[no-untyped-def]
            response.headers["X-After"] = "yes"
            return response

        return "ok"

    assert client.get("/").headers["X-After"] == "yes"
    with pytest.raises(RuntimeError):
        after_this_request(lambda r: r)


def test_copy_current_request_context_in_thread(app: App, client) -> None:
    app.secret_key = "test-secret-key-for-copy"
    results: dict[str, object] = {}

    @app.route("/")
    def index() -> str:
        g.x = "from view"

        @copy_current_request_context
        def work() -> None:
            results["path"] = request.path
            results["arg"] = request.args.get("q")
            results["app"] = current_app.name

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return "ok"

    client.get("/?q=1")
    assert results == {"path": "/", "arg": "1", "app": app.name}
    with pytest.raises(RuntimeError):
        copy_current_request_context(lambda: None)


def test_threads_do_not_see_each_others_contexts(app: App) -> None:
    @app.route("/<name>")
    def view(name: str) -> str:
        g.name = name
        barrier.wait(timeout=30)
        return f"{request.view_args['name']}:{g.name}:{request.path}"

    barrier = threading.Barrier(4)
    results: dict[str, bytes] = {}

    def run(name: str) -> None:
        results[name] = app.test_client().get(f"/{name}").data

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {f"t{i}": f"t{i}:t{i}:/t{i}".encode() for i in range(4)}
    seen = []
    with app.test_request_context("/main"):
        th = threading.Thread(target=lambda: seen.append(has_request_context()))
        th.start()
        th.join()
    assert seen == [False]


def test_asyncio_tasks_do_not_leak(app: App) -> None:
    async def handle(path: str) -> str:
        with app.test_request_context(path):
            g.path = path
            await asyncio.sleep(0.01)
            return f"{request.path}|{g.path}"

    async def main() -> list[str]:
        return await asyncio.gather(*(handle(f"/p{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"/p{i}|/p{i}" for i in range(5)]
    assert not has_request_context()


def test_session_is_lazy(app: App, client) -> None:
    opened = []

    class Interface(type(app.session_interface)):  # type: ignore[misc]
        def open_session(self, app, request):  # type: ignore[no-untyped-def]
            opened.append(request.path)
            return super().open_session(app, request)

    app.session_interface = Interface()
    app.secret_key = "lazy-session-secret"
    app.add_url_rule("/none", "none", lambda: "no session")
    app.add_url_rule("/uses", "uses", lambda: str(session.get("k")))
    client.get("/none")
    assert opened == []
    client.get("/uses")
    assert opened == ["/uses"]


def test_context_hooks_wrap_app_context(app: App, client) -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def hook():  # type: ignore[no-untyped-def]
        events.append("enter")
        yield
        events.append("exit")

    app.context_hooks.append(hook)
    app.teardown_appcontext(lambda exc: events.append("teardown"))
    app.add_url_rule("/", "i", lambda: events.append("view") or "ok")
    client.get("/")
    assert events == ["enter", "view", "teardown", "exit"]
    events.clear()
    with app.app_context():
        with app.app_context():
            pass
    assert events == ["enter", "enter", "teardown", "exit", "teardown", "exit"]


def test_request_ctx_proxy(app: App) -> None:
    with app.test_request_context("/q") as ctx:
        assert request_ctx._get_current_object() is ctx
        assert ctx.request.path == "/q"
        copy = ctx.copy()
        assert copy.request is ctx.request


def test_copying_context_does_not_touch_session(app: App, client) -> None:
    app.secret_key = "copy-secret-key-value"

    @app.route("/")
    def index() -> str:
        copy_current_request_context(lambda: None)()
        return "ok"

    rv = client.get("/")
    assert "Vary" not in rv.headers and "Set-Cookie" not in rv.headers


def test_default_template_context_processor(app: App) -> None:
    from framework.ctx import _default_template_ctx_processor

    assert _default_template_ctx_processor() == {}
    with app.test_request_context("/t"):
        values = _default_template_ctx_processor()
        assert set(values) == {"g", "request"}
        assert values["request"].path == "/t"
    assert app.template_context_processors[None][0] is _default_template_ctx_processor


def test_uploaded_files_are_closed_when_the_request_ends() -> None:
    """The outermost pop closes the request once its body was parsed (Request.form_loaded), by whichever way
    the body was read, and only then."""
    import io

    app = App(__name__)
    streams: list[t.Any] = []

    @app.post("/files")
    def files() -> str:
        streams.append(request.files["doc"].stream)
        return "ok"

    @app.post("/form")
    def form() -> str:
        assert request.form["name"] == "x"
        assert request.form_loaded
        return "ok"

    @app.post("/raw")
    def raw() -> str:
        assert not request.form_loaded and request.get_data() == b"abc"
        return "ok"

    client = app.test_client()
    assert client.post("/files", data={"doc": (io.BytesIO(b"data"), "d.txt")}).text == "ok"
    assert streams and streams[0].closed
    assert client.post("/form", data={"name": "x"}).text == "ok"
    assert client.post("/raw", data=b"abc", content_type="application/octet-stream").text == "ok"
