"""async views, hooks and handlers work under plain WSGI, with the contexts visible inside."""

from __future__ import annotations

import asyncio

import pytest

from framework import App, g, request


def test_async_view_and_hooks(app: App, client) -> None:
    events: list[str] = []

    @app.before_request
    async def before() -> None:
        await asyncio.sleep(0)
        g.user = "ann"
        events.append("before")

    @app.after_request
    async def after(response):  # type: ignore[no-untyped-def]
        events.append("after")
        response.headers["X-Async"] = "1"
        return response

    @app.teardown_request
    async def teardown(exc) -> None:  # type: ignore[no-untyped-def]
        events.append("teardown")

    @app.route("/hello/<name>")
    async def hello(name: str) -> dict:
        await asyncio.sleep(0.001)
        return {"name": name, "user": g.user, "q": request.args.get("q")}

    rv = client.get("/hello/bob?q=1")
    assert rv.json == {"name": "bob", "user": "ann", "q": "1"}
    assert rv.headers["X-Async"] == "1"
    assert events == ["before", "after", "teardown"]


def test_async_view_called_from_running_loop(app: App) -> None:
    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)
        return request.path

    async def main() -> bytes:
        # a WSGI app called from inside an event loop (e.g. an ASGI bridge) still works
        return app.test_client().get("/").data

    assert asyncio.run(main()) == b"/"


def test_async_view_exceptions_reach_handlers() -> None:
    app = App("async_err")

    @app.route("/")
    async def boom() -> str:
        raise ValueError("bad")

    app.register_error_handler(ValueError, lambda e: (f"caught {e}", 400))
    rv = app.test_client().get("/")
    assert (rv.status_code, rv.data) == (400, b"caught bad")


def test_ensure_sync_leaves_sync_functions_alone(app: App) -> None:
    def f() -> int:
        return 1

    async def af() -> int:
        return 2

    assert app.ensure_sync(f) is f
    assert app.ensure_sync(af)() == 2


@pytest.mark.parametrize("where", ["subclass", "instance"])
def test_a_replaced_ensure_sync_wraps_every_hook_and_view(where: str) -> None:
    wrapped: list[str] = []

    def ensure_sync(func):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            wrapped.append(func.__name__)
            return func(*args, **kwargs)

        return call

    if where == "subclass":
        app = type("WrappingApp", (App,), {"ensure_sync": lambda self, func: ensure_sync(func)})("wrapping")
    else:
        app = App("wrapping")
        app.ensure_sync = ensure_sync  # type: ignore[method-assign]

    def before() -> None:
        return None

    def after(response):  # type: ignore[no-untyped-def]
        return response

    def view() -> dict[str, int]:
        return {"a": 1}

    app.before_request(before)
    app.after_request(after)
    app.add_url_rule("/", "view", view)
    assert app.test_client().get("/").json == {"a": 1}
    assert wrapped == ["before", "view", "after"]
