"""Routing: methods, automatic HEAD/OPTIONS, 405, slash redirects, converters, defaults, hosts."""

from __future__ import annotations

import uuid

import pytest
from werkzeug.routing import BaseConverter

from framework import App, request


def test_route_methods_and_405_allow(app: App, client) -> None:
    @app.route("/items", methods=["GET", "POST"])
    def items() -> str:
        return request.method

    assert client.get("/items").data == b"GET"
    assert client.post("/items").data == b"POST"
    rv = client.delete("/items")
    assert rv.status_code == 405
    assert set(rv.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_shortcut_decorators(app: App, client) -> None:
    @app.get("/g")
    def g_view() -> str:
        return "get"

    @app.post("/p")
    def p_view() -> str:
        return "post"

    @app.put("/u")
    def u_view() -> str:
        return "put"

    @app.patch("/pa")
    def pa_view() -> str:
        return "patch"

    @app.delete("/d")
    def d_view() -> str:
        return "delete"

    with pytest.raises(TypeError):
        app.get("/x", methods=["POST"])
    assert client.get("/g").data == b"get"
    assert client.post("/g").status_code == 405
    assert client.post("/p").data == b"post"
    assert client.put("/u").data == b"put"
    assert client.patch("/pa").data == b"patch"
    assert client.delete("/d").data == b"delete"


def test_methods_as_string_is_rejected(app: App) -> None:
    with pytest.raises(TypeError, match="list"):
        app.add_url_rule("/x", "x", lambda: "x", methods="POST")


def test_automatic_head_and_options(app: App, client) -> None:
    calls = []

    @app.route("/")
    def index() -> str:
        calls.append(request.method)
        return "hello"

    rv = client.head("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.headers["Content-Length"] == "5"
    assert calls == ["HEAD"]
    rv = client.options("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert set(rv.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert calls == ["HEAD"]  # the view does not run for automatic OPTIONS


def test_provide_automatic_options_false(app: App, client) -> None:
    @app.route("/", methods=["GET", "OPTIONS"], provide_automatic_options=False)
    def index() -> str:
        return f"view {request.method}"

    assert client.options("/").data == b"view OPTIONS"
    app2 = App("no_options")
    app2.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app2.add_url_rule("/", "i", lambda: "x")
    assert app2.test_client().options("/").status_code == 405


def test_trailing_slash_redirect_is_308(app: App, client) -> None:
    @app.route("/folder/")
    def folder() -> str:
        return "folder"

    @app.route("/file")
    def file() -> str:
        return "file"

    rv = client.get("/folder?x=1")
    assert rv.status_code == 308
    assert rv.headers["Location"] == "http://localhost/folder/?x=1"
    assert client.get("/folder", follow_redirects=True).data == b"folder"
    assert client.get("/file/").status_code == 404
    assert client.get("/missing").status_code == 404


def test_strict_slashes_false(app: App, client) -> None:
    app.add_url_rule("/a/", "a", lambda: "a", strict_slashes=False)
    assert client.get("/a").data == b"a"
    assert client.get("/a/").data == b"a"


def test_converters(app: App, client) -> None:
    @app.route("/int/<int:n>")
    def int_view(n: int) -> str:
        return repr(n)

    @app.route("/float/<float:f>")
    def float_view(f: float) -> str:
        return repr(f)

    @app.route("/path/<path:p>")
    def path_view(p: str) -> str:
        return p

    @app.route("/uuid/<uuid:u>")
    def uuid_view(u: uuid.UUID) -> str:
        return type(u).__name__

    @app.route("/any/<any(red, blue):color>")
    def any_view(color: str) -> str:
        return color

    @app.route("/str/<name>")
    def str_view(name: str) -> str:
        return name

    assert client.get("/int/42").data == b"42"
    assert client.get("/int/x").status_code == 404
    assert client.get("/float/1.5").data == b"1.5"
    assert client.get("/path/a/b/c").data == b"a/b/c"
    assert client.get(f"/uuid/{uuid.uuid4()}").data == b"UUID"
    assert client.get("/any/red").data == b"red"
    assert client.get("/any/green").status_code == 404
    assert client.get("/str/caf%C3%A9").data == "café".encode()


def test_custom_converter(app: App, client) -> None:
    class ListConverter(BaseConverter):
        def to_python(self, value: str) -> list[str]:
            return value.split(",")

        def to_url(self, value: list[str]) -> str:
            return ",".join(value)

    app.url_map.converters["list"] = ListConverter

    @app.route("/l/<list:items>")
    def items(items: list[str]) -> dict[str, list[str]]:
        return {"items": items}

    assert client.get("/l/a,b").json == {"items": ["a", "b"]}
    with app.test_request_context():
        from framework import url_for

        assert url_for("items", items=["x", "y"]) == "/l/x,y"


def test_defaults_and_default_redirect(app: App, client) -> None:
    @app.route("/users/", defaults={"page": 1})
    @app.route("/users/page/<int:page>")
    def users(page: int) -> str:
        return f"page {page}"

    assert client.get("/users/").data == b"page 1"
    assert client.get("/users/page/2").data == b"page 2"
    rv = client.get("/users/page/1")
    assert rv.status_code == 308
    assert rv.headers["Location"].endswith("/users/")


def test_redirect_to(app: App, client) -> None:
    app.add_url_rule("/old/<int:id>", "old", redirect_to="/new/<id>")
    app.add_url_rule("/new/<int:id>", "new", lambda id: f"new {id}")
    rv = client.get("/old/3")
    assert rv.status_code == 308
    assert rv.headers["Location"].endswith("/new/3")


def test_static_and_dynamic_precedence(app: App, client) -> None:
    @app.route("/<name>")
    def dynamic(name: str) -> str:
        return f"dynamic {name}"

    @app.route("/about", methods=["POST"])
    def about() -> str:
        return "static about"

    assert client.post("/about").data == b"static about"
    # the static rule does not take GET: werkzeug's matcher falls through to the variable rule
    assert client.get("/about").data == b"dynamic about"
    assert client.get("/other").data == b"dynamic other"


def test_rules_added_after_requests_are_matched(app: App, client) -> None:
    app.add_url_rule("/one", "one", lambda: "1")
    assert client.get("/one").data == b"1"
    app._got_first_request = False  # allow another setup call for the test
    app.add_url_rule("/two", "two", lambda: "2")
    assert client.get("/two").data == b"2"


def test_endpoint_conflict_and_endpoint_decorator(app: App, client) -> None:
    app.add_url_rule("/a", "same", lambda: "a")
    with pytest.raises(AssertionError):
        app.add_url_rule("/b", "same", lambda: "b")
    app.add_url_rule("/late", "late")

    @app.endpoint("late")
    def late() -> str:
        return "late"

    assert client.get("/late").data == b"late"


def test_setup_after_first_request_fails(app: App, client) -> None:
    app.add_url_rule("/", "i", lambda: "i")
    client.get("/")
    with pytest.raises(AssertionError, match="first request"):
        app.add_url_rule("/x", "x", lambda: "x")
    with pytest.raises(AssertionError):
        app.before_request(lambda: None)


def test_required_methods_and_view_methods(app: App, client) -> None:
    def view() -> str:
        return request.method

    view.methods = ["PUT"]  # type: ignore[attr-defined]
    view.required_methods = ["PATCH"]  # type: ignore[attr-defined]
    app.add_url_rule("/v", "v", view)
    assert client.put("/v").data == b"PUT"
    assert client.patch("/v").data == b"PATCH"
    assert client.get("/v").status_code == 405


def test_subdomain_matching() -> None:
    app = App("sub", subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/", subdomain="<user>")
    def user_home(user: str) -> str:
        return f"home of {user}"

    @app.route("/")
    def index() -> str:
        return "main"

    c = app.test_client()
    assert c.get("/", base_url="http://ann.example.test").data == b"home of ann"
    assert c.get("/", base_url="http://example.test").data == b"main"


def test_without_subdomain_matching_server_name_does_not_restrict_hosts() -> None:
    app = App("srv")
    app.config["SERVER_NAME"] = "example.test"
    app.add_url_rule("/", "i", lambda: request.host)
    c = app.test_client()
    assert c.get("/", base_url="http://other.test").data == b"other.test"


def test_host_matching() -> None:
    app = App("hosts", host_matching=True, static_host="static.test")
    app.add_url_rule("/", "a", lambda: "site a", host="a.test")
    app.add_url_rule("/", "b", lambda: "site b", host="b.test")
    app.add_url_rule("/", "u", lambda user: f"user {user}", host="<user>.users.test")
    c = app.test_client()
    assert c.get("/", base_url="http://a.test").data == b"site a"
    assert c.get("/", base_url="http://b.test").data == b"site b"
    assert c.get("/", base_url="http://zed.users.test").data == b"user zed"
    assert c.get("/", base_url="http://c.test").status_code == 404
    with pytest.raises(AssertionError):
        App("bad", host_matching=True)


def test_trusted_hosts(app: App, client) -> None:
    app.config["TRUSTED_HOSTS"] = ["good.test", ".trusted.test"]
    app.add_url_rule("/", "i", lambda: "ok")
    assert client.get("/", base_url="http://good.test").status_code == 200
    assert client.get("/", base_url="http://x.trusted.test").status_code == 200
    assert client.get("/", base_url="http://evil.test").status_code == 400


def test_static_route(tmp_path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "hello.txt").write_text("static hi")
    app = App("static_app", root_path=str(tmp_path))
    c = app.test_client()
    rv = c.get("/static/hello.txt")
    assert rv.status_code == 200
    assert rv.data == b"static hi"
    rv.close()
    assert c.get("/static/missing.txt").status_code == 404
    assert c.get("/static/../secret").status_code == 404
    assert App("no_static", static_folder=None).url_map.bind("x").test("/static/x") is False


def test_repeated_and_missing_slashes_redirect(app: App, client) -> None:
    app.add_url_rule("/", "root", lambda: "root")
    app.add_url_rule("/a/b", "ab", lambda: "ab")
    rv = client.get("/a//b")
    assert (rv.status_code, rv.headers["Location"]) == (308, "http://localhost/a/b")
    rv = client.get("/app", environ_overrides={"SCRIPT_NAME": "/app", "PATH_INFO": ""})
    assert (rv.status_code, rv.headers["Location"]) == (308, "http://localhost/app/")
