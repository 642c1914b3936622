"""The static and branch indexes in framework.routing must give exactly werkzeug's answer."""

from __future__ import annotations

import itertools

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from framework import App

RULES = [
    ("/", "index", ["GET"]),
    ("/about", "about", ["GET"]),
    ("/about", "about_post", ["POST"]),
    ("/<page>", "page", ["GET"]),
    ("/user/<int:id>", "user", ["GET", "PUT"]),
    ("/users/<name>/posts/<int:post>", "post", ["GET"]),
    ("/docs/", "docs", ["GET"]),
    ("/docs/<path:rest>", "docs_rest", ["GET"]),
    ("/files/<name>.json", "json_file", ["GET"]),
    ("/files/<name>", "file", ["GET"]),
    ("/shop/<any(a, b):kind>/<float:price>", "shop", ["GET"]),
    ("/fixed/<int(min=1, max=9):n>", "fixed", ["GET"]),
    ("/loose/<name>", "loose", ["GET"]),
    ("/trail/<name>/", "trail", ["GET"]),
    ("/uuid/<uuid:u>", "uuid", ["GET"]),
    ("/def/", "def_default", ["GET"]),
    ("/def/<int:n>", "def_n", ["GET"]),
]
PATHS = [
    "/", "/about", "/about/", "/other", "/user/1", "/user/x", "/user/1/", "/users/ann/posts/3",
    "/users/ann/posts/x", "/docs", "/docs/", "/docs/a/b", "/files/a.json", "/files/a", "/files/a.txt",
    "/shop/a/1.5", "/shop/c/1.5", "/shop/a/1", "/fixed/5", "/fixed/0", "/fixed/10", "/loose/x",
    "/trail/x", "/trail/x/", "/uuid/12345678-1234-5678-1234-567812345678", "/uuid/nope", "/def/",
    "/def/3", "/user//1", "/a//b", "/caf\u00e9", "/user/\u0661",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE"]


def _outcome(fn):  # type: ignore[no-untyped-def]
    try:
        rule, args = fn()
    except RequestRedirect as e:
        return ("redirect", e.new_url)
    except HTTPException as e:
        return ("error", e.code, sorted(getattr(e, "valid_methods", None) or []))
    return ("rule", rule.endpoint, args)


@pytest.fixture(scope="module")
def app() -> App:
    app = App("index_check")
    for rule, endpoint, methods in RULES:
        app.add_url_rule(rule, endpoint, lambda **kw: "x", methods=methods)
    return app


@pytest.mark.parametrize(("path", "method"), list(itertools.product(PATHS, METHODS)))
def test_same_answer_as_werkzeug(app: App, path: str, method: str) -> None:
    with app.test_request_context(path, method=method) as ctx:
        ours = _outcome(lambda: app._routes.match(ctx))
        query = ctx.request.environ.get("QUERY_STRING", "")
        theirs = _outcome(lambda: ctx.url_adapter.match(ctx.request.path, method, return_rule=True, query_args=query))
    assert ours == theirs


def test_indexes_are_used(app: App) -> None:
    with app.test_request_context("/"):
        static, branches = app._routes._tables()
    assert ("", "/about") in static
    assert ("", "users") in branches  # sole owner of its first segment
    assert ("", "user") in branches
    assert ("", "docs") not in branches  # shared with /docs/<path:rest>
    assert ("", "files") not in branches
