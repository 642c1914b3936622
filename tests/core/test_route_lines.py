"""Remembered request lines (framework.routing.RouteCache.bind_line): one lookup instead of binding and matching,
with the same answer as the full way, until anything that decided it changes."""

from __future__ import annotations

import random
import typing as t
from urllib.parse import unquote

import pytest
from gunicorn.util import unquote_to_wsgi_str
from werkzeug.exceptions import BadRequest
from werkzeug.serving import _wsgi_encoding_dance

from framework import App
from framework.input_checks import path_info_of
from tests.core.test_route_index import METHODS, PATHS, RULES


def _rules_app() -> App:
    app = App("lines")
    for rule, endpoint, methods in RULES:
        app.add_url_rule(rule, endpoint, lambda endpoint=endpoint, **kw: f"{endpoint} {sorted(kw.items())}",
                         methods=methods)
    return app


def _answer(app: App, path: str, method: str, host: str) -> tuple[int, str, str | None]:
    response = app.test_client().open(path, method=method, headers={"Host": host})
    return response.status_code, response.text, response.headers.get("Location")


def test_a_remembered_line_gives_the_full_ways_answer() -> None:
    """Every path, method and host of the routing checks, asked three times (the later times through the
    remembered lines), answers as an app that has remembered nothing."""
    remembering = _rules_app()
    for host in ("localhost", "example.test:8080"):
        for path in PATHS:
            for method in METHODS:
                fresh = _answer(_rules_app(), path, method, host)
                assert [_answer(remembering, path, method, host) for _ in range(3)] == [fresh] * 3, (path, method)
    assert remembering._routes._lines  # the static rules' lines were remembered
    assert all(line[1].arguments == set() for line in remembering._routes._lines.values())


def test_a_remembered_line_is_used_and_follows_new_rules_maps_and_settings() -> None:
    from framework.routing import Map

    app = App("lines_follow")
    app.add_url_rule("/x", "a", lambda: "a")
    client = app.test_client()
    assert client.get("/x").text == "a"
    ((key, line),) = app._routes._lines.items()
    assert key[:3] == ("/x", "GET", "localhost") and line[1].endpoint == "a"
    calls: list[str] = []
    bind = app._routes.bind
    app._routes.bind = lambda environ: calls.append(environ["PATH_INFO"]) or bind(environ)  # type: ignore[method-assign]
    assert client.get("/x").text == "a" and calls == []  # answered from the line, without binding

    app._got_first_request = False
    app.add_url_rule("/x", "b", lambda: "b", methods=["GET"])  # new rules: the line is checked again
    assert client.get("/x").text == "a" and calls == ["/x"]  # werkzeug's order: the first rule still wins

    replacement = Map()
    replacement.add(app.url_rule_class("/x", endpoint="b"))
    app.url_map = replacement
    assert client.get("/x").text == "b"

    # SERVER_NAME decides the adapter: a line remembered without it is not used once it is set.
    app.config["SERVER_NAME"] = "elsewhere.test:8080"
    assert client.get("/x", headers={"Host": "localhost"}).text == "b"
    assert len(calls) == 3  # after one each for the new rule and the new map
    app.config["SERVER_NAME"] = None
    assert client.get("/x").text == "b" and len(calls) == 4
    assert client.get("/x").text == "b" and len(calls) == 4


def test_trusted_hosts_and_a_replaced_create_url_adapter_are_always_asked() -> None:
    app = App("lines_asked")
    app.add_url_rule("/x", "x", lambda: "x")
    client = app.test_client()
    assert [client.get("/x", headers={"Host": "evil.test"}).status_code for _ in range(2)] == [200, 200]
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    assert client.get("/x", headers={"Host": "evil.test"}).status_code == 400
    assert client.get("/x", headers={"Host": "good.test"}).text == "x"
    app.config["TRUSTED_HOSTS"] = None

    seen: list[str] = []
    own = app.create_url_adapter

    def create_url_adapter(request: t.Any) -> t.Any:
        seen.append(request.path)
        return own(request)

    app.create_url_adapter = create_url_adapter  # type: ignore[method-assign]
    assert [client.get("/x").text for _ in range(2)] == ["x", "x"] and seen == ["/x", "/x"]


def test_a_path_with_an_escape_is_never_answered_from_a_line() -> None:
    """`/a%25zz` (a literal "%zz") and `/a%zz` (a bad escape) both reach the app as PATH_INFO `/a%zz`; the
    second must stay a 400 after the first was answered."""
    app = App("lines_escape")
    app.add_url_rule("/a%zz", "odd", lambda: "odd")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a%zz", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "HTTP_HOST": "localhost", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}
    statuses: list[str] = []
    for raw in ("/a%25zz", "/a%25zz", "/a%zz"):
        body = b"".join(app({**environ, "RAW_URI": raw}, lambda status, headers, exc_info=None: statuses.append(status)))
        assert body
    assert [s.split()[0] for s in statuses] == ["200", "200", "400"]
    assert not app._routes._lines


@pytest.mark.parametrize("seed", range(4))
def test_every_raw_path_path_info_of_refuses_leaves_a_mark_in_path_info(seed: int) -> None:
    """bind_line's reason for not reading the raw URI: when path_info_of refuses a request, the PATH_INFO gunicorn
    or werkzeug's server made of it holds a "%" or a non-ASCII character."""
    rng = random.Random(seed)
    alphabet = ["a", "/", "%", "2", "5", "f", "F", "z", "0", "c3", "%c3%a9", "%ff", "%e9", "\u00e9", "\x80", "%25"]
    refused = 0
    for _ in range(3000):
        raw = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        raw_bytes = raw.encode("utf-8", "surrogateescape")
        wsgi_raw = raw_bytes.decode("latin-1")  # what the server keeps as RAW_URI / REQUEST_URI
        for path_info in (unquote_to_wsgi_str(wsgi_raw), _wsgi_encoding_dance(unquote(raw))):
            try:
                path_info_of({"RAW_URI": wsgi_raw, "PATH_INFO": path_info})
            except BadRequest:
                refused += 1
                assert "%" in path_info or not path_info.isascii(), (raw, path_info)
    assert refused > 100  # the alphabet does produce refused paths
