"""Edge cases of dispatch: catch-all handlers, overlapping rules, odd methods and paths, handlers
that fail or return nothing, aborts in hooks, and url_map switches."""

from __future__ import annotations

import typing as t
from types import ModuleType

from .diff import both, call


def _catch_all(fw: ModuleType) -> t.Any:
    app = fw.Flask("edge")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []

    @app.errorhandler(Exception)
    def any_exc(e: Exception) -> tuple[str, int]:
        return f"any {type(e).__name__} {getattr(e, 'code', None)}", getattr(e, "code", 500) or 500

    app.add_url_rule("/a", "a", lambda: "a", methods=["GET"])
    app.add_url_rule("/a", "a2", lambda: "a2", methods=["POST"])
    app.add_url_rule("/ü/<x>", "u", lambda x: x)
    app.add_url_rule("/p/<path:rest>/", "p", lambda rest: rest)
    app.add_url_rule("/m/<int(min=1, max=5):n>", "m", lambda n: str(n))
    app.add_url_rule("/rule", "rule", lambda: repr(fw.request.url_rule))
    app.before_request(lambda: log.append(fw.request.path))
    app.after_request(lambda r: (r.headers.__setitem__("X-Len", str(len(r.get_data()))), r)[1])
    app.add_url_rule("/log", "log", lambda: list(log))
    return app


def test_catch_all_handler_and_odd_requests() -> None:
    rv = both(_catch_all, [
        call("GET", "/a"), call("POST", "/a"), call("PUT", "/a"), call("OPTIONS", "/a"), call("FOO", "/a"),
        call("GET", "/%C3%BC/%20x"), call("GET", "/ü/y"), call("GET", "/p/a/b/"), call("GET", "/p/a/b"),
        call("GET", "/m/0"), call("GET", "/m/3"), call("GET", "/rule"), call("GET", "/nope"), call("HEAD", "/a"),
        call("GET", "/log"), call("GET", "/a?%ff=%fe"),  # "/%ff": a deliberate 400, test_deliberate.py
    ])
    assert rv[1][2] == b"a2" and rv[2][2] == b"any MethodNotAllowed 405" and rv[12][2] == b"any NotFound 404"


def _failing_handlers(fw: ModuleType) -> t.Any:
    app = fw.Flask("edge")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.register_error_handler(404, lambda e: None)
    app.register_error_handler(KeyError, lambda e: fw.abort(403))
    app.register_error_handler(403, lambda e: ("403 from handler", 403))
    app.add_url_rule("/k", "k", lambda: {}["x"])

    @app.before_request
    def stop() -> None:
        if fw.request.path == "/stop":
            fw.abort(401)

    app.after_request(lambda r: (r.headers.__setitem__("X-After", "1"), r)[1])
    app.add_url_rule("/stop", "stop", lambda: "never")
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    return app


def test_handlers_returning_none_or_aborting() -> None:
    rv = both(_failing_handlers, [call("GET", "/nope"), call("GET", "/k"), call("GET", "/stop"), call("GET", "/boom")])
    assert rv[0][0] == 500 and rv[1][0] == 500 and rv[2][0] == 401 and ("X-After", "1") in rv[2][1]


def _map_switches(fw: ModuleType) -> t.Any:
    app = fw.Flask("edge")
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.add_url_rule("/a/b", "ab", lambda: "ab")
    app.add_url_rule("/c/", "c", lambda: "c")
    return app


def test_url_map_switches() -> None:
    rv = both(_map_switches, [call("GET", "/a//b"), call("GET", "/c"), call("GET", "/c/"), call("GET", "/a/b/")])
    assert rv[0][0] == 404 and rv[1][2] == b"c"
