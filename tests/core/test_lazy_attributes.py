"""`first_read` attributes: computed once on first read, then plain; the contexts and Request use them. And
`lazy_pattern`: a regex compiled on first use."""

from __future__ import annotations

import re
import threading
import time

from framework import App, g
from framework.ctx import AppContext
from framework.lazy import first_read, lazy_pattern


class Counted:
    calls = 0

    def _compute(self) -> list[int]:
        Counted.calls += 1
        return [Counted.calls]

    value = first_read(_compute)


def test_computed_once_then_plain() -> None:
    Counted.calls = 0
    item = Counted()
    assert "value" not in vars(item)
    first = item.value
    assert item.value is first and Counted.calls == 1
    item.value = [99]  # assignment replaces it, as for a plain attribute
    assert item.value == [99] and Counted.calls == 1
    assert isinstance(Counted.value, first_read)


class Slow:
    def _compute(self) -> object:
        time.sleep(0.05)  # every thread is inside the computation at once
        return object()

    value = first_read(_compute)


def test_threads_sharing_an_instance_get_one_value() -> None:
    item, seen = Slow(), []
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        seen.append(item.value)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(value is seen[0] for value in seen)


def test_app_context_makes_g_and_url_adapter_when_used() -> None:
    app = App(__name__)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/p")
    def page() -> str:
        return "x"

    ctx = AppContext(app)
    assert "g" not in vars(ctx) and "url_adapter" not in vars(ctx)
    with ctx:
        g.x = 1
        assert ctx.g.x == 1 and g.x == 1
        assert ctx.url_adapter is not None and ctx.url_adapter.build("page") == "/p"
    with app.app_context():
        assert "x" not in g  # a new context, a new g


def test_request_reads_nothing_it_does_not_need() -> None:
    app = App(__name__)

    @app.route("/")
    def index() -> str:
        return "hi"

    made = []

    class Recording(app.request_class):  # type: ignore[name-defined,misc]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    app.request_class = Recording
    assert app.test_client().get("/").data == b"hi"
    assert not {"headers", "server", "root_path", "query_string", "scheme"} & set(vars(made[0]))
    assert made[0].path == "/" and made[0].headers.get("Host") == "localhost"


def test_lazy_pattern_compiles_on_first_use_and_then_is_the_pattern() -> None:
    source = r"(?P<word>[a-z]+)-\d+"
    lazy = lazy_pattern(source, re.ASCII)
    assert "fullmatch" not in vars(lazy)  # nothing compiled yet
    compiled = re.compile(source, re.ASCII)
    for text in ("abc-12", "ABC-12", "abc-", "x-1 y-2"):
        assert bool(lazy.fullmatch(text)) == bool(compiled.fullmatch(text))
    assert vars(lazy)["fullmatch"] == compiled.fullmatch  # later calls go straight to the compiled pattern
    assert lazy.search("see x-1 and y-2").group("word") == "x"
    assert lazy.findall("x-1 y-2") == ["x", "y"] and lazy.sub("_", "x-1") == "_"
    assert lazy.pattern == source and lazy.flags & re.ASCII and lazy.groupindex == {"word": 1}


def test_lazy_pattern_is_safe_under_racing_threads() -> None:
    lazy = lazy_pattern(r"%(?![0-9A-Fa-f]{2})")
    results: list[bool] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        results.append(lazy.search("/a%zz") is not None and lazy.search("/a%25") is None)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
