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
    # nested literal prefixes, as blueprints produce
    ("/api/users", "api_users", ["GET", "POST"]),
    ("/api/users/<int:id>", "api_user", ["GET", "DELETE"]),
    ("/api/users/<int:id>/posts", "api_user_posts", ["GET"]),
    ("/api/posts/<int:id>", "api_post", ["GET"]),
    ("/api/posts/<int:id>/", "api_post_slash", ["POST"]),
    ("/api/<section>", "api_section", ["GET"]),
    # a trailing-slash rule with a stronger converter shadows a plain one: werkzeug redirects
    ("/shadow/<int:id>/", "shadow_int", ["GET"]),
    ("/shadow/<name>", "shadow_name", ["GET"]),
    ("/lax/<name>", "lax", ["GET"]),
    ("/lax/<int:id>/more", "lax_more", ["GET"]),
    ("/deep/a/b/c/<int:x>", "deep", ["GET"]),
    ("/deep/a/b/c/d/<int:x>", "deeper", ["GET"]),
    ("/mixed/static", "mixed_static", ["GET"]),
    ("/mixed/<path:rest>", "mixed_path", ["GET"]),
]
PATHS = [
    "/", "/about", "/about/", "/other", "/user/1", "/user/x", "/user/1/", "/users/ann/posts/3",
    "/users/ann/posts/x", "/docs", "/docs/", "/docs/a/b", "/files/a.json", "/files/a", "/files/a.txt",
    "/shop/a/1.5", "/shop/c/1.5", "/shop/a/1", "/fixed/5", "/fixed/0", "/fixed/10", "/loose/x",
    "/trail/x", "/trail/x/", "/uuid/12345678-1234-5678-1234-567812345678", "/uuid/nope", "/def/",
    "/def/3", "/user//1", "/a//b", "/caf\u00e9", "/user/\u0661",
    "/api/users", "/api/users/", "/api/users/7", "/api/users/7/", "/api/users/x", "/api/users/7/posts",
    "/api/posts/3", "/api/posts/3/", "/api/other", "/api/other/", "/shadow/5", "/shadow/5/", "/shadow/x",
    "/lax/a", "/lax/a/", "/lax/5/more", "/deep/a/b/c/1", "/deep/a/b/c/d/2", "/deep/a/b/c/d", "/mixed/static",
    "/mixed/static/x", "/mixed/x/y",
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
    indexed = {branch.rule.endpoint: key for key, branch in branches.items()}
    assert indexed["user"] == (3, "", "user")  # sole owner of its first segment
    assert indexed["post"] == (5, "", "users")
    assert indexed["api_user"] == (4, "", "api", "users")  # deeper literal prefix
    assert indexed["api_user_posts"] == (5, "", "api", "users")
    assert indexed["deeper"] == (7, "", "deep")
    assert "shadow_name" not in indexed  # "/shadow/<int:id>/" also answers 3-segment paths
    assert "docs_rest" not in indexed and "mixed_path" not in indexed  # path converters


def _random_rules(rng) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    literals = ["a", "b", "api", "v1"]
    variables = ["<int:{}>", "<{}>", "<any(a, x):{}>", "<float:{}>", "<path:{}>", "<int(min=2):{}>"]
    rules = []
    for _ in range(rng.randint(3, 12)):
        segments = []
        for j in range(rng.randint(1, 4)):
            if rng.random() < 0.55:
                segments.append(rng.choice(literals))
            else:
                pattern = rng.choice(variables)
                segments.append(pattern.format(f"v{j}"))
                if "path:" in pattern:
                    break
        rule = "/" + "/".join(segments) + ("/" if rng.random() < 0.25 else "")
        options = {"methods": rng.choice([["GET"], ["POST"], ["GET", "POST"]])}
        if rng.random() < 0.15:
            options["strict_slashes"] = False
        rules.append((rule, options))
    return rules


@pytest.mark.parametrize("seed", range(25))
def test_random_rule_sets_match_werkzeug(seed: int) -> None:
    import random

    rng = random.Random(seed)
    app = App(f"random_{seed}")
    for i, (rule, options) in enumerate(_random_rules(rng)):
        app.add_url_rule(rule, f"e{i}", lambda **kw: "x", **options)
    pieces = ["a", "b", "api", "v1", "1", "2", "x", "1.5", ""]
    paths = {"/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 5))) for _ in range(120)}
    for path in sorted(paths):
        for method in ("GET", "POST", "HEAD"):
            with app.test_request_context(path, method=method) as ctx:
                ours = _outcome(lambda: app._routes.match(ctx))
                theirs = _outcome(
                    lambda: ctx.url_adapter.match(ctx.request.path, ctx.request.method, return_rule=True, query_args="")
                )
            assert ours == theirs, (path, method)
