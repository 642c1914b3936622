"""Routing parity: methods, HEAD/OPTIONS, 405 + Allow, slashes, converters, defaults, redirects, hosts."""

from __future__ import annotations

from types import ModuleType

from werkzeug.routing import BaseConverter

from .diff import both, call


def _methods(fw: ModuleType):
    app = fw.Flask("routing")

    @app.route("/r", methods=["GET", "POST"])
    def r() -> str:
        return fw.request.method

    @app.put("/p")
    def p() -> str:
        return "put"

    @app.route("/noopts", provide_automatic_options=False)
    def noopts() -> str:
        return "x"

    @app.route("/explicit", methods=["OPTIONS"])
    def explicit() -> str:
        return "mine"

    return app


def test_methods_head_options_and_405() -> None:
    rv = both(_methods, [
        call("GET", "/r"), call("POST", "/r"), call("HEAD", "/r"), call("OPTIONS", "/r"),
        call("DELETE", "/r"), call("GET", "/p"), call("PUT", "/p"), call("OPTIONS", "/noopts"),
        call("OPTIONS", "/explicit"), call("GET", "/missing"), call("PATCH", "/missing"),
    ])
    assert rv[2][0] == 200 and rv[2][2] == b""
    assert rv[4][0] == 405 and ("Allow", "GET, HEAD, OPTIONS, POST") in rv[4][1]
    assert rv[8][2] == b"mine"


def _options_config(fw: ModuleType):
    app = fw.Flask("routing")
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.add_url_rule("/a", "a", lambda: "a")
    app.add_url_rule("/b", "b", lambda: "b", provide_automatic_options=True)
    return app


def test_provide_automatic_options_config() -> None:
    rv = both(_options_config, [call("OPTIONS", "/a"), call("OPTIONS", "/b")])
    assert rv[0][0] == 405


def _slashes(fw: ModuleType):
    app = fw.Flask("routing")
    app.add_url_rule("/dir/", "dir", lambda: "dir")
    app.add_url_rule("/file", "file", lambda: "file")
    app.add_url_rule("/loose/", "loose", lambda: "loose", strict_slashes=False)
    app.add_url_rule("/old", "old", redirect_to="/file")
    app.add_url_rule("/old/<int:n>", "oldn", redirect_to=lambda adapter, n: f"/dir/?n={n}")
    return app


def test_strict_slashes_and_redirect_to() -> None:
    rv = both(_slashes, [
        call("GET", "/dir"), call("GET", "/dir?x=1"), call("GET", "/file/"), call("GET", "/loose"),
        call("GET", "/old"), call("GET", "/old/3"), call("GET", "/dir", follow_redirects=True),
        call("POST", "/dir"),
    ])
    assert rv[0][0] == 308
    assert rv[4][0] == 308


class ListConverter(BaseConverter):
    """Comma-separated list segments."""

    def to_python(self, value: str) -> list[str]:
        return value.split(",")

    def to_url(self, value: list[str]) -> str:
        return ",".join(value)


def _converters(fw: ModuleType):
    app = fw.Flask("routing")
    app.url_map.converters["list"] = ListConverter

    @app.route("/i/<int:n>")
    def i(n: int) -> str:
        return repr(n)

    @app.route("/f/<float:x>")
    def f(x: float) -> str:
        return repr(x)

    @app.route("/s/<string(length=2):s>")
    def s(s: str) -> str:
        return s

    @app.route("/p/<path:rest>")
    def p(rest: str) -> str:
        return rest

    @app.route("/u/<uuid:u>")
    def u(u: object) -> str:
        return repr(u)

    @app.route("/a/<any(x, y):which>")
    def a(which: str) -> str:
        return which

    @app.route("/l/<list:items>")
    def lst(items: list[str]) -> str:
        return repr(items) + fw.url_for("lst", items=["q", "r"])

    @app.route("/neg/<int(signed=True):n>")
    def neg(n: int) -> str:
        return repr(n)

    return app


def test_converters() -> None:
    rv = both(_converters, [
        call("GET", "/i/42"), call("GET", "/i/x"), call("GET", "/i/-1"), call("GET", "/f/1.5"),
        call("GET", "/f/1"), call("GET", "/s/ab"), call("GET", "/s/abc"), call("GET", "/p/a/b/c"),
        call("GET", "/u/12345678-1234-5678-1234-567812345678"), call("GET", "/u/nope"),
        call("GET", "/a/x"), call("GET", "/a/z"), call("GET", "/l/a,b"), call("GET", "/neg/-5"),
    ])
    assert rv[12][2] == b"['a', 'b']/l/q,r"


def _defaults(fw: ModuleType):
    app = fw.Flask("routing")

    @app.route("/users/", defaults={"page": 1})
    @app.route("/users/page/<int:page>")
    def users(page: int) -> str:
        return f"page {page} {fw.url_for('users', page=page)}"

    return app


def test_defaults_redirect_to_canonical() -> None:
    rv = both(_defaults, [call("GET", "/users/"), call("GET", "/users/page/1"), call("GET", "/users/page/2")])
    assert rv[1][0] == 308


def _hosts(fw: ModuleType):
    app = fw.Flask("routing", subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"
    app.add_url_rule("/", "root", lambda: "root")

    @app.route("/", subdomain="<user>")
    def user_home(user: str) -> str:
        return f"user {user} {fw.url_for('user_home', user='z')}"

    app.add_url_rule("/only", "api", lambda: "api", subdomain="api")
    return app


def test_subdomain_matching() -> None:
    rv = both(_hosts, [
        call("GET", "/"), call("GET", "http://bob.example.test/"), call("GET", "http://api.example.test/only"),
        call("GET", "/only"), call("GET", "http://other.test/"),
    ])
    assert rv[1][2] == b"user bob http://z.example.test/"


def _host_matching(fw: ModuleType):
    app = fw.Flask("routing", host_matching=True, static_host="static.test")
    app.add_url_rule("/", "a", lambda: "a " + fw.url_for("b"), host="a.test")
    app.add_url_rule("/", "b", lambda: "b", host="b.test")
    app.add_url_rule("/<x>", "h", lambda x, h: f"{h}:{x}", host="<h>.dyn.test")
    return app


def test_host_matching() -> None:
    rv = both(_host_matching, [
        call("GET", "http://a.test/"), call("GET", "http://b.test/"), call("GET", "http://q.dyn.test/z"),
        call("GET", "http://c.test/"),
    ])
    assert rv[0][2] == b"a http://b.test/"


def _no_server_name_subdomain(fw: ModuleType):
    app = fw.Flask("routing")
    app.add_url_rule("/", "root", lambda: fw.request.host)
    return app


def test_without_server_name_any_host_matches() -> None:
    rv = both(_no_server_name_subdomain, [call("GET", "http://anything.test/"), call("GET", "/")])
    assert rv[0][2] == b"anything.test"


def _empty_path(fw: ModuleType):
    app = fw.Flask("routing")
    app.add_url_rule("/", "root", lambda: "root")
    app.add_url_rule("/a/b", "ab", lambda: "ab")
    return app


def test_empty_path_info_redirects_to_slash() -> None:
    rv = both(_empty_path, [
        call("GET", "//"), call("GET", "/a//b"), call("GET", "//a/b"),
        call("GET", "/app", environ_overrides={"SCRIPT_NAME": "/app", "PATH_INFO": ""}),
    ])
    assert rv[0][0] == 308 and ("Location", "http://localhost/") in rv[0][1]
    assert rv[1][0] == 308
