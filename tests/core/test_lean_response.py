"""framework.Response's direct construction and WSGI start give what werkzeug's general code gives.

Each case builds the same response twice, starts one with framework.Response.__call__ and the other
with werkzeug's own `Response.__call__`, and compares status, header list and body byte for byte.
"""

from __future__ import annotations

import io
import random
import string
import typing as t

import pytest
from werkzeug.datastructures import Headers
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response as WResponse

from framework.wrappers import URI_UNCHANGED, Response


def _environ(method: str = "GET") -> dict[str, t.Any]:
    return {
        "REQUEST_METHOD": method, "PATH_INFO": "/", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "HTTP_HOST": "localhost",
    }


def _run(call: t.Callable[..., t.Iterable[bytes]], method: str) -> tuple[str, list[tuple[str, str]], bytes, bool]:
    started: list[tuple[str, list[tuple[str, str]]]] = []
    it = call(_environ(method), lambda status, headers, exc_info=None: started.append((status, headers)))
    body = b"".join(it)
    closed = False
    close = getattr(it, "close", None)
    if close is not None:
        close()
        closed = True
    return started[0][0], started[0][1], body, closed


def _both(make: t.Callable[[], Response], method: str = "GET") -> tuple[t.Any, t.Any]:
    ours = make()
    theirs = make()
    return _run(ours, method)[:3], _run(lambda e, s: WResponse.__call__(theirs, e, s), method)[:3]


def _gen() -> t.Iterator[str]:
    yield "a"
    yield "é"


CASES: dict[str, t.Callable[[], Response]] = {
    "str": lambda: Response("hello"),
    "bytes": lambda: Response(b"hello", 201),
    "bytearray": lambda: Response(bytearray(b"hi")),
    "none": lambda: Response(),
    "status text": lambda: Response("x", "299 Custom"),
    "unknown code": lambda: Response("x", 599),
    "mimetype": lambda: Response("{}", mimetype="application/json"),
    "xml mimetype": lambda: Response("<a/>", mimetype="image/svg+xml"),
    "headers given": lambda: Response("x", headers={"X-A": "1", "Content-Type": "text/plain"}),
    "content_type given": lambda: Response("x", content_type="text/csv"),
    "list of str": lambda: Response(["a", "é", b"c"]),
    "tuple body": lambda: Response(("a", b"b")),
    "generator": lambda: Response(_gen()),
    "no content type": lambda: Response("x", mimetype=None),
    "204": lambda: Response("", 204),
    "304": lambda: Response("x", 304),
    "103": lambda: Response("", 103),
    "redirect": lambda: _with(Response("x", 302), ("Location", "/new/5?page=2")),
    "unicode location": lambda: _with(Response("x", 302), ("Location", "/caf\u00e9 x")),
    "absolute location": lambda: _with(Response("x", 302), ("Location", "https://ex\u00e4mple.com/a")),
    "lower-case location": lambda: _with(Response("x", 302), ("location", "/a")),
    "two locations": lambda: _with(Response("x", 302), ("Location", "/a"), ("Location", "/b")),
    "content-location": lambda: _with(Response("x"), ("Content-Location", "/a b")),
    "own content-length": lambda: _with(Response(["abc"]), ("Content-Length", "3")),
    "no auto length": lambda: _no_auto_length(),
    "direct passthrough": lambda: Response([b"raw"], direct_passthrough=True),
    "set after": lambda: _set_after(),
}


def _with(response: Response, *headers: tuple[str, str]) -> Response:
    for key, value in headers:
        response.headers.add(key, value)
    return response


def _no_auto_length() -> Response:
    response = Response(["abc"])
    response.automatically_set_content_length = False
    return response


def _set_after() -> Response:
    response = Response("x")
    response.status_code = 418
    response.set_data("longer body")
    response.headers["X-Late"] = "1"
    response.mimetype = "text/plain"
    return response


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_werkzeug(name: str, method: str) -> None:
    ours, theirs = _both(CASES[name], method)
    assert ours == theirs


_ARGS: dict[str, tuple[tuple[t.Any, ...], dict[str, t.Any]]] = {
    "str": (("hello",), {}), "bytes": ((b"hello", 201), {}), "bytearray": ((bytearray(b"hi"),), {}),
    "none": ((), {}), "status text": (("x", "299 Custom"), {}), "unknown code": (("x", 599), {}),
    "mimetype": (("{}",), {"mimetype": "application/json"}), "xml mimetype": (("<a/>",), {"mimetype": "image/svg+xml"}),
    "list of str": ((["a", "é", b"c"],), {}), "no content type": (("x",), {"mimetype": None}),
    "204": (("", 204), {}), "304": (("x", 304), {}), "103": (("", 103), {}),
    "direct passthrough": (([b"raw"],), {"direct_passthrough": True}),
}


@pytest.mark.parametrize("name", sorted(_ARGS))
def test_construction_same_as_werkzeug(name: str) -> None:
    """The object's state after construction: headers, status, body, flags."""
    args, kwargs = _ARGS[name]
    ours = Response(*args, **kwargs)
    plain = type("Plain", (Response,), {"__init__": WResponse.__init__})  # werkzeug's constructor
    theirs = plain(*args, **kwargs)
    assert list(ours.headers) == list(theirs.headers)
    assert (ours.status, ours.status_code, ours.direct_passthrough) == (
        theirs.status, theirs.status_code, theirs.direct_passthrough
    )
    assert ours.response == theirs.response


def test_close_callbacks_still_run() -> None:
    closed: list[str] = []
    response = Response("x")
    response.call_on_close(lambda: closed.append("closed"))
    assert _run(response, "GET")[3] and closed == ["closed"]


def test_a_subclass_replacing_header_building_is_used() -> None:
    class Custom(Response):
        def get_wsgi_headers(self, environ: dict[str, t.Any]) -> Headers:
            headers = super().get_wsgi_headers(environ)
            headers["X-Custom"] = "1"
            return headers

    status, headers, body, _ = _run(Custom("x"), "GET")
    assert ("X-Custom", "1") in headers and body == b"x"


def test_uri_unchanged_pattern_agrees_with_iri_to_uri() -> None:
    rng = random.Random(14)
    alphabet = string.printable + "é\u2603%[]@:?#/"
    matched = 0
    for _ in range(20000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        if rng.random() < 0.8:
            value = "/" + value
        if URI_UNCHANGED.fullmatch(value):
            matched += 1
            assert iri_to_uri(value) == value, value
    assert matched > 1000  # the sample exercised the pattern


@pytest.mark.parametrize("code", [200, 201, 204, 299, 302, 404, 418, 451, 599, 999, 100, 42])
def test_set_status_code_is_the_status_code_setter(code: int) -> None:
    from framework.wrappers import set_status_code

    class Custom(Response):
        def _clean_status(self, value: t.Any) -> tuple[str, int]:
            return "299 CUSTOM", 299

    for cls in (Response, Custom):
        ours, theirs = cls("x"), cls("x")
        set_status_code(ours, code)
        set_status_code(ours, code)  # once more: from the cache
        theirs.status_code = code
        assert (ours.status, ours.status_code) == (theirs.status, theirs.status_code)
