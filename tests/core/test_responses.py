"""View return values (§17), make_response, redirect, streaming, and the direct-response fast path."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response as WerkzeugResponse

from framework import App, Response, make_response, redirect, request, stream_with_context


def _get(app: App, view, path: str = "/"):  # type: ignore[no-untyped-def]
    app.add_url_rule(path, view.__name__ if hasattr(view, "__name__") else "v", view)
    return app.test_client().get(path)


@pytest.mark.parametrize(
    ("rv", "status", "body", "ctype"),
    [
        ("text", 200, b"text", "text/html; charset=utf-8"),
        (b"bytes", 200, b"bytes", "text/html; charset=utf-8"),
        (bytearray(b"ba"), 200, b"ba", "text/html; charset=utf-8"),
        ({"a": 1}, 200, b'{"a":1}\n', "application/json"),
        ([1, 2], 200, b"[1,2]\n", "application/json"),
        (("created", 201), 201, b"created", "text/html; charset=utf-8"),
        (("teapot", "418 I AM A TEAPOT"), 418, b"teapot", "text/html; charset=utf-8"),
        (("h", {"Content-Type": "text/plain"}), 200, b"h", "text/plain"),
        (("h", [("X-A", "1")]), 200, b"h", "text/html; charset=utf-8"),
        (("h", 202, {"X-B": "2"}), 202, b"h", "text/html; charset=utf-8"),
        (({"k": "v"}, 400), 400, b'{"k":"v"}\n', "application/json"),
        ((iter([b"a", b"b"]), 200), 200, b"ab", "text/html; charset=utf-8"),
    ],
)
def test_return_value_forms(rv, status, body, ctype) -> None:  # type: ignore[no-untyped-def]
    app = App("forms")
    app.add_url_rule("/", "v", lambda: rv)
    resp = app.test_client().get("/")
    assert resp.status_code == status
    assert resp.data == body
    assert resp.headers["Content-Type"] == ctype


def test_headers_replace_existing(app: App, client) -> None:
    app.add_url_rule("/", "v", lambda: (Response("x", headers={"X-A": "old"}), {"X-A": "new"}))
    assert client.get("/").headers.getlist("X-A") == ["new"]
    app2 = App("h2")
    app2.add_url_rule("/", "v", lambda: ("x", Headers([("X-M", "1"), ("X-M", "2")])))
    assert app2.test_client().get("/").headers.getlist("X-M") == ["1", "2"]


def test_generator_is_streamed(app: App, client) -> None:
    @app.route("/")
    def stream():  # type: ignore[no-untyped-def]
        def gen():  # type: ignore[no-untyped-def]
            yield "a"
            yield "b"

        return gen()

    rv = client.get("/")
    assert rv.data == b"ab"
    assert "Content-Length" not in rv.headers  # streamed, not buffered


def test_stream_with_context(app: App, client) -> None:
    @app.route("/")
    def stream():  # type: ignore[no-untyped-def]
        @stream_with_context
        def gen():  # type: ignore[no-untyped-def]
            yield request.args["x"]
            yield "!"

        return gen()

    assert client.get("/?x=hi").data == b"hi!"
    with pytest.raises(RuntimeError):
        stream_with_context(iter([]))


def test_wsgi_callable_and_other_responses(app: App, client) -> None:
    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("203 OK", [("Content-Type", "text/plain")])
        return [b"raw wsgi"]

    app.add_url_rule("/wsgi", "wsgi", lambda: wsgi)
    app.add_url_rule("/wz", "wz", lambda: WerkzeugResponse("werkzeug", status=202))
    rv = client.get("/wsgi")
    assert (rv.status_code, rv.data) == (203, b"raw wsgi")
    rv = client.get("/wz")
    assert (rv.status_code, rv.data) == (202, b"werkzeug")


def test_none_return_names_the_view(app: App, client) -> None:
    @app.route("/")
    def silent_view() -> None:
        return None

    with pytest.raises(TypeError, match="silent_view"):
        client.get("/")


@pytest.mark.parametrize("bad", [42, 1.5, {1, 2}, object()])
def test_invalid_return_types(bad) -> None:  # type: ignore[no-untyped-def]
    app = App("invalid")
    app.config["TESTING"] = True
    app.add_url_rule("/", "v", lambda: bad)
    with pytest.raises(TypeError, match=type(bad).__name__):
        app.test_client().get("/")


def test_bad_tuple_sizes(app: App, client) -> None:
    app.add_url_rule("/", "v", lambda: ("a", 200, {}, "extra"))
    with pytest.raises(TypeError, match="tuple"):
        client.get("/")


def test_type_error_in_production_is_logged_500() -> None:
    app = App("prod_type_error")
    app.logger.disabled = True
    app.add_url_rule("/", "v", lambda: None)
    assert app.test_client().get("/").status_code == 500


def test_make_response_helper(app: App) -> None:
    with app.test_request_context():
        assert make_response().status_code == 200
        rv = make_response("x", 404, {"X-Y": "z"})
        assert (rv.status_code, rv.data, rv.headers["X-Y"]) == (404, b"x", "z")
        rv = make_response(("t", 201))
        assert rv.status_code == 201
        rv = make_response({"a": 1})
        assert rv.json == {"a": 1}


def test_redirect(app: App) -> None:
    rv = redirect("/target")
    assert rv.status_code == 302
    with app.app_context():
        rv = redirect("/target", 301)
        assert isinstance(rv, app.response_class)
        assert rv.status_code == 301
        assert rv.headers["Location"] == "/target"
        assert app.redirect("/x").status_code == 302


def test_fast_path_matches_normal_path() -> None:
    """The direct-response path must give the same bytes and headers as the Response path."""

    def build(with_after: bool) -> App:
        app = App(f"fast_{with_after}")
        app.add_url_rule("/s", "s", lambda: "héllo")
        app.add_url_rule("/b", "b", lambda: b"\x00\x01")
        app.add_url_rule("/d", "d", lambda: {"z": 1, "a": [1, "é"]})
        app.add_url_rule("/l", "l", lambda: [1, 2])
        if with_after:
            app.after_request(lambda r: r)
        return app

    fast, slow = build(False).test_client(), build(True).test_client()
    for path in ("/s", "/b", "/d", "/l"):
        for method in ("get", "head"):
            a, b = getattr(fast, method)(path), getattr(slow, method)(path)
            assert a.status == b.status
            assert a.data == b.data
            assert sorted(a.headers.items()) == sorted(b.headers.items())


def test_fast_path_honours_json_provider_settings() -> None:
    app = App("fast_json")
    app.add_url_rule("/", "d", lambda: {"b": 1, "a": 2})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    assert app.test_client().get("/").data == b'{"b":1,"a":2}\n'
    app.debug = True
    assert app.test_client().get("/").data == b'{\n  "b": 1,\n  "a": 2\n}\n'
