"""Blueprint and class-based view parity: nesting, name=, prefixes, subdomains, hooks, app_* variants."""

from __future__ import annotations

import importlib
from types import ModuleType

from .diff import both, call, errors, same


def _url_map(app: object) -> list[tuple[str, str, list[str], str | None]]:
    """The url_map as comparable data, without the /_ah/* routes framework adds for App Engine
    (a deliberate difference: see test_url_map_differs_only_by_app_engine_routes)."""
    rules = [(r.rule, r.endpoint, sorted(r.methods or ()), r.subdomain or None) for r in app.url_map.iter_rules()]  # type: ignore[attr-defined]
    return sorted(r for r in rules if not r[0].startswith("/_ah/"))


def _nested(fw: ModuleType):
    app = fw.Flask("bps")
    app.config["SERVER_NAME"] = "site.test"
    log: list[str] = []
    parent = fw.Blueprint("parent", __name__, url_prefix="/parent/")
    child = fw.Blueprint("child", __name__, url_prefix="/child")
    grand = fw.Blueprint("grand", __name__)
    sub = fw.Blueprint("sub", __name__, subdomain="api")

    @grand.route("/<int:n>")
    def leaf(n: int) -> object:
        r = fw.request
        return [n, r.blueprint, r.blueprints, fw.url_for(".leaf", n=1), fw.url_for("parent.child.grand.leaf", n=2),
                fw.url_for("parent.child.grand.idx"), log]

    grand.add_url_rule("", "idx", lambda: "grand index")
    for scope in (app, parent, child, grand):
        name = getattr(scope, "name", "app")
        scope.before_request(lambda name=name: log.append(f"before {name}"))
        scope.url_value_preprocessor(lambda e, v, name=name: log.append(f"pre {name}"))
    child.url_defaults(lambda e, v: log.append(f"defaults child {e}"))
    child.before_app_request(lambda: log.append("child before_app_request"))
    child.app_url_defaults(lambda e, v: None)
    child.register_blueprint(grand, url_prefix="/g")
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    app.register_blueprint(parent, name="second", url_prefix="/second")
    sub.add_url_rule("/", "home", lambda: fw.request.blueprint)
    app.register_blueprint(sub)
    app.register_blueprint(sub, name="sub2", subdomain="api2", url_prefix="/x")
    app.add_url_rule("/clear", "clear", lambda: (log.clear(), "ok")[1])
    app.add_url_rule("/map", "map", lambda: repr(_url_map(app)))
    app.add_url_rule("/bps", "bps", lambda: repr(sorted(app.blueprints)))
    return app


def test_nested_blueprints() -> None:
    rv = both(_nested, [
        call("GET", "/map"), call("GET", "/bps"), call("GET", "/parent/child/g/5"), call("GET", "/clear"),
        call("GET", "/second/child/g/7"), call("GET", "/parent/child/g"), call("GET", "http://api.site.test/"),
        call("GET", "http://api2.site.test/x/"), call("GET", "/parent/child/g/"),
    ])
    assert b"parent.child.grand.leaf" in rv[0][2] and b"second.child.grand.leaf" in rv[0][2]
    assert rv[2][2].startswith(b'[5,"parent.child.grand",["parent.child.grand","parent.child","parent"]')


def test_blueprint_registration_errors() -> None:
    def probe(fw: ModuleType) -> list[str]:
        app = fw.Flask("bps")
        bp = fw.Blueprint("bp", __name__)
        bp.add_url_rule("/", "i", lambda: "")
        app.register_blueprint(bp)
        attempts = [
            lambda: app.register_blueprint(bp),
            lambda: fw.Blueprint("a.b", __name__),
            lambda: fw.Blueprint("", __name__),
            lambda: bp.register_blueprint(bp),
            lambda: bp.add_url_rule("/x", "a.b", lambda: ""),
            lambda: bp.route("/late")(lambda: ""),
            lambda: app.add_url_rule("/late", "late", lambda: ""),
        ]
        return errors(*attempts)

    assert same(probe)[1][:3] == ["ValueError", "ValueError", "ValueError"]


def test_url_map_differs_only_by_app_engine_routes() -> None:
    """Deliberate difference: the App Engine adapter adds /_ah/* routes to every framework app."""
    import flask

    import framework

    def rules(fw: ModuleType) -> list[str]:
        app = fw.Flask("bps")
        app.add_url_rule("/", "i", lambda: "")
        return sorted(r.rule for r in app.url_map.iter_rules())

    extra = sorted(set(rules(framework)) - set(rules(flask)))
    assert extra and all(r.startswith("/_ah/") for r in extra)
    assert set(rules(flask)) <= set(rules(framework))


def _views(fw: ModuleType):
    app = fw.Flask("views")
    views = importlib.import_module(f"{fw.__name__}.views")

    class Hello(views.View):
        methods = ["GET", "POST"]
        decorators = [lambda f: (lambda **kw: f"[{f(**kw)}]")]

        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        def dispatch_request(self, name: str) -> str:
            return f"{self.greeting} {name} {fw.request.method}"

    class Counter(views.View):
        init_every_request = False
        count = 0

        def dispatch_request(self) -> str:
            self.count += 1
            return str(self.count)

    class Api(views.MethodView):
        def get(self, id: int | None = None) -> object:
            return {"get": id}

        def post(self) -> object:
            return {"post": fw.request.get_json()}

        def delete(self, id: int) -> tuple[str, int]:
            return "", 204

    class ApiChild(Api):
        def put(self, id: int) -> str:
            return "put"

    class Pending(views.View):
        pass

    app.add_url_rule("/hello/<name>", view_func=Hello.as_view("hello", "hi"))
    app.add_url_rule("/count", view_func=Counter.as_view("count"))
    api = ApiChild.as_view("api")
    app.add_url_rule("/api/", view_func=api, methods=["GET", "POST"])
    app.add_url_rule("/api/<int:id>", view_func=api, methods=["GET", "PUT", "DELETE"])
    app.add_url_rule("/pending", view_func=Pending.as_view("pending"))
    app.add_url_rule("/meta", "meta", lambda: repr([sorted(ApiChild.methods), api.__name__, api.view_class.__name__,
                                                    Hello.as_view("h2", "x").methods, api.__doc__ is None]))
    app.testing = True
    return app


def test_class_based_views() -> None:
    rv = both(_views, [
        call("GET", "/hello/bob"), call("POST", "/hello/bob"), call("PUT", "/hello/bob"), call("GET", "/count"),
        call("GET", "/count"), call("GET", "/api/"), call("POST", "/api/", json=[1]), call("GET", "/api/3"),
        call("DELETE", "/api/3"), call("PUT", "/api/3"), call("PATCH", "/api/3"), call("HEAD", "/api/3"),
        call("GET", "/pending"), call("GET", "/meta"),
    ], facts={12: []})
    assert rv[0][2] == b"[hi bob GET]" and rv[4][2] == b"2" and rv[8][0] == 204


def _app_variants(fw: ModuleType):
    app = fw.Flask("bps")
    log: list[str] = []
    bp = fw.Blueprint("bp", __name__, url_prefix="/bp", url_defaults={"lang": "en"})
    bp.app_context_processor(lambda: {"from_bp": "bp ctx"})
    bp.app_url_value_preprocessor(lambda e, v: log.append(f"app pre {e} {v}"))
    bp.after_app_request(lambda r: (log.append("after_app_request"), r)[1])
    bp.teardown_app_request(lambda e: log.append("teardown_app_request"))
    bp.app_template_global("bp_global")(lambda: "G")
    bp.app_template_test("odd")(lambda n: n % 2 == 1)
    bp.record(lambda state: log.append(f"record {state.url_prefix} {state.name} {state.first_registration}"))
    bp.record_once(lambda state: log.append("record_once"))

    @bp.route("/<lang>/x")
    def x(lang: str) -> str:
        return f"{lang} {fw.url_for('bp.x', lang='de')}"

    @bp.route("/d")
    def d(lang: str) -> str:
        return f"default {lang} {fw.url_for('bp.d')}"

    app.add_url_rule("/t", "t", lambda: fw.render_template_string("{{ from_bp }} {{ bp_global() }} {{ 3 is odd }}"))
    app.add_url_rule("/log", "log", lambda: list(log))
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="bp2", url_prefix="/two", url_defaults={"lang": "fr"})
    return app


def test_blueprint_app_variants_and_url_defaults() -> None:
    rv = both(_app_variants, [call("GET", "/log"), call("GET", "/t"), call("GET", "/bp/it/x"), call("GET", "/bp/d"),
                              call("GET", "/two/d"), call("GET", "/log")])
    assert rv[1][2] == b"bp ctx G True" and rv[3][2] == b"default en /bp/d" and rv[4][2] == b"default fr /bp/d"
