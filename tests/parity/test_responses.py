"""View return value parity: every accepted form, and the errors raised for bad ones."""

from __future__ import annotations

import typing as t
from types import ModuleType

from werkzeug.wrappers import Response as WerkzeugResponse

from .diff import both, call


def _returns(fw: ModuleType):
    app = fw.Flask("resp")
    app.testing = True  # bad return values raise through the client, so their messages are compared
    routes = {
        "str": lambda: "text",
        "bytes": lambda: b"raw",
        "bytearray": lambda: bytearray(b"ba"),
        "dict": lambda: {"b": 1, "a": [1, 2]},
        "list": lambda: [3, {"z": None}],
        "tuple_status": lambda: ("created", 201),
        "tuple_status_str": lambda: ("teapot", "418 I AM A TEAPOT"),
        "tuple_headers": lambda: ("h", {"X-A": "1"}),
        "tuple_headers_list": lambda: ("h", [("X-A", "1"), ("X-A", "2")]),
        "tuple_all": lambda: ({"k": "v"}, 202, {"X-B": "2", "Content-Type": "text/x-custom"}),
        "response": lambda: fw.Response("resp", status=203, mimetype="text/plain"),
        "wz_response": lambda: WerkzeugResponse("wz", headers={"X-W": "1"}),
        "make_response": lambda: fw.make_response("mr", 404, {"X-M": "m"}),
        "make_response_tuple": lambda: fw.make_response(("t", 202)),
        "make_response_empty": lambda: fw.make_response(),
        "generator": lambda: (c for c in ["a", "b", "c"]),
        "iterator": lambda: iter([b"x", b"y"]),
        "wsgi": lambda: (lambda environ, start_response: (start_response("202 OK", [("X-Wsgi", "1")]), [b"w"])[1]),
        "status_int_in_response": lambda: (fw.Response("r"), 201),
        "response_headers_tuple": lambda: (fw.Response("r", headers={"X-A": "1"}), {"X-A": "2", "X-B": "b"}),
        "redirect": lambda: fw.redirect("/elsewhere"),
        "redirect_301": lambda: fw.redirect("/elsewhere", 301),
        "jsonify": lambda: fw.jsonify(1, 2),
        "jsonify_kw": lambda: fw.jsonify(a=1),
        "jsonify_status": lambda: (fw.jsonify(err="x"), 400),
        "none": lambda: None,
        "int": lambda: 42,
        "tuple4": lambda: ("a", 200, {}, "x"),
        "tuple1": lambda: ("only",),
        "set": lambda: {1, 2},
        "none_tuple": lambda: (None, 200),
        "abort_response": lambda: fw.abort(fw.Response("aborted body", 409)),
        "abort_desc": lambda: fw.abort(403, description="nope"),
        "abort_unknown": lambda: fw.abort(499),
        "abort_head": lambda: fw.abort(405, valid_methods=["GET"]),
    }
    for name, view in routes.items():
        app.add_url_rule(f"/{name}", name, view)
    return app


def test_return_values_and_bad_return_errors() -> None:
    names = ["str", "bytes", "bytearray", "dict", "list", "tuple_status", "tuple_status_str", "tuple_headers",
             "tuple_headers_list", "tuple_all", "response", "wz_response", "make_response",
             "make_response_tuple", "make_response_empty", "generator", "iterator", "wsgi",
             "status_int_in_response", "response_headers_tuple", "redirect", "redirect_301", "jsonify",
             "jsonify_kw", "jsonify_status", "none", "int", "tuple4", "tuple1", "set", "none_tuple",
             "abort_response", "abort_desc", "abort_unknown", "abort_head"]
    facts = {names.index("none"): ["'none'", "None"], names.index("none_tuple"): ["'none_tuple'", "None"],
             names.index("int"): ["int"], names.index("set"): ["set"],
             names.index("tuple4"): ["(body, status, headers)", "(body, status)", "(body, headers)"],
             names.index("tuple1"): ["(body, status, headers)"]}
    rv = both(_returns, [call("GET", f"/{n}") for n in names], facts)
    out = dict(zip(names, rv, strict=True))
    assert out["redirect"][0] == 302
    assert out["tuple_all"][1][0] == ("Content-Type", "text/x-custom")
    assert out["none"][0] == "raised" and out["none"][1] == "TypeError"
    assert out["tuple4"][1] == "TypeError" and out["int"][1] == "TypeError"


def _head_of_generator(fw: ModuleType):
    app = fw.Flask("resp")
    app.add_url_rule("/g", "g", lambda: (x for x in "abc"))
    app.add_url_rule("/s", "s", lambda: "body")
    return app


def test_head_strips_body() -> None:
    rv = both(_head_of_generator, [call("HEAD", "/g"), call("HEAD", "/s")])
    assert rv[1][2] == b"" and ("Content-Length", "4") in rv[1][1]


def _response_class(fw: ModuleType):
    class MyResponse(fw.Response):
        default_mimetype = "text/plain"

    app = fw.Flask("resp")
    app.response_class = MyResponse
    app.add_url_rule("/", "i", lambda: "x")
    app.add_url_rule("/j", "j", lambda: {"a": 1})
    app.add_url_rule("/e", "e", lambda: fw.abort(404))
    return app


def test_custom_response_class() -> None:
    rv = both(_response_class, [call("GET", "/"), call("GET", "/j"), call("GET", "/e")])
    assert ("Content-Type", "text/plain; charset=utf-8") in rv[0][1]


def _unusual_returns(fw: ModuleType):
    from collections import OrderedDict

    from werkzeug.exceptions import NotFound

    app = fw.Flask("resp")
    app.testing = True
    log: list[str] = []

    def streamed() -> t.Iterator[str]:
        yield fw.request.path
        log.append("generator done")

    routes = {
        "multi": lambda: ("x", 200, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
        "strstatus": lambda: ("x", "201"),
        "status999": lambda: ("x", 999),
        "status_neg": lambda: ("x", -1),
        "httpexc": lambda: NotFound("custom"),
        "odict": lambda: OrderedDict([("b", 1), ("a", 2)]),
        "badjson": lambda: {"a": object()},
        "tuple_resp_status": lambda: (fw.Response("r", 201), 202, {"X": "1"}),
        "headers_none": lambda: ("x", None),
        "bytes_tuple": lambda: (b"x", 203),
        "empty": lambda: "",
        "json_get": lambda: repr(fw.request.get_json()),
        "json_get_silent": lambda: repr(fw.request.get_json(silent=True)),
        "stream": lambda: fw.Response(fw.stream_with_context(streamed())),
        "log": lambda: list(log),
        "status_reason": lambda: ("x", "299 Custom Reason"),
        "resp_str_status": lambda: fw.Response("x", status="abc"),
        "float_status": lambda: ("x", 200.0),
    }
    for name, view in routes.items():
        app.add_url_rule(f"/{name}", name, view)
    app.teardown_request(lambda e: log.append("teardown"))
    return app


def test_unusual_return_values() -> None:
    names = ["multi", "strstatus", "status999", "status_neg", "httpexc", "odict", "badjson", "tuple_resp_status",
             "headers_none", "bytes_tuple", "empty", "json_get", "json_get_silent", "stream", "log", "status_reason",
             "resp_str_status", "float_status"]
    rv = both(_unusual_returns, [call("GET", f"/{n}") for n in names])
    out = dict(zip(names, rv, strict=True))
    assert [h for h in out["multi"][1] if h[0] == "Set-Cookie"] == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert out["httpexc"][0] == 404 and out["json_get"][0] == 415 and out["stream"][2] == b"/stream"
