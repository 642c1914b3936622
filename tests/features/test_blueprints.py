"""Blueprints: registration, nesting, names, url_for, scoped hooks and handlers, static and template folders."""

from __future__ import annotations

import os

import pytest
from werkzeug.exceptions import HTTPException, NotFound

from framework import App, Blueprint, abort, g, render_template, request, url_for
from framework.blueprints import BlueprintSetupState

HERE = os.path.dirname(__file__)


def make_app() -> App:
    app = App(__name__, template_folder="app_templates")
    app.testing = True
    return app


def test_name_validation() -> None:
    with pytest.raises(ValueError):
        Blueprint("", __name__)
    with pytest.raises(ValueError):
        Blueprint("a.b", __name__)
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError):
        bp.add_url_rule("/x", "a.b", lambda: "x")

    def dotted() -> str:
        return "x"

    dotted.__name__ = "has.dot"
    with pytest.raises(ValueError):
        bp.add_url_rule("/y", view_func=dotted)
    with pytest.raises(ValueError):
        bp.register_blueprint(bp)


def test_routes_prefix_and_dotted_endpoints() -> None:
    app = make_app()
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.route("/")
    def index() -> str:
        return f"{request.endpoint} {request.blueprint} {request.blueprints}"

    @bp.route("/item/<int:item_id>")
    def item(item_id: int) -> str:
        return url_for(".index") + " " + url_for("shop.item", item_id=item_id + 1)

    bp.add_url_rule("", "root", lambda: "root")
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/shop/").text == "shop.index shop ['shop']"
    assert client.get("/shop/item/1").text == "/shop/ /shop/item/2"
    assert client.get("/shop").text == "root"
    assert app.blueprints == {"shop": bp}
    assert list(app.iter_blueprints()) == [bp]


def test_register_options_override() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/orig", url_defaults={"lang": "en"})

    @bp.route("/hi")
    def hi(lang: str) -> str:
        return lang

    @bp.route("/hello", defaults={"lang": "fr"})
    def hello(lang: str) -> str:
        return lang

    app.register_blueprint(bp, url_prefix="/new", url_defaults={"lang": "de"})
    client = app.test_client()
    assert client.get("/orig/en/hi").status_code == 404
    assert client.get("/new/hi").text == "de"
    assert client.get("/new/hello").text == "fr"


def test_register_twice_under_different_names() -> None:
    app = make_app()
    bp = Blueprint("api", __name__)
    seen: list[str] = []

    @bp.route("/where")
    def where() -> str:
        return f"{request.blueprint}:{url_for('.where')}"

    @bp.before_request
    def before() -> None:
        seen.append(request.blueprint)

    bp.record_once(lambda state: seen.append(f"once:{state.name}"))
    bp.record(lambda state: seen.append(f"each:{state.name}"))

    app.register_blueprint(bp, url_prefix="/v1")
    app.register_blueprint(bp, url_prefix="/v2", name="api2")
    with pytest.raises(ValueError, match="already registered"):
        app.register_blueprint(bp, url_prefix="/v3")
    with pytest.raises(ValueError, match="different"):
        app.register_blueprint(Blueprint("api", __name__))
    client = app.test_client()
    assert client.get("/v1/where").text == "api:/v1/where"
    assert client.get("/v2/where").text == "api2:/v2/where"
    assert seen == ["once:api", "each:api", "each:api2", "api", "api2"]


def test_setup_after_registration_is_refused() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(AssertionError):
        bp.route("/late")(lambda: "x")
    with pytest.raises(AssertionError):
        bp.before_request(lambda: None)


def test_nested_blueprints() -> None:
    app = App(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"
    parent = Blueprint("parent", __name__, url_prefix="/parent/")
    child = Blueprint("child", __name__, url_prefix="/child")
    grandchild = Blueprint("grandchild", __name__, url_prefix="grand")
    sub = Blueprint("sub", __name__, subdomain="api")
    events: list[str] = []

    @grandchild.route("/")
    def index() -> str:
        return f"{request.blueprints} {url_for('.index')} {url_for('parent.child.index')}"

    def index_child() -> str:
        return "child"

    child.add_url_rule("/", "index", index_child)

    @sub.route("/s")
    def s() -> str:
        return "sub"

    for name, bp in (("app", app), ("parent", parent), ("child", child), ("grandchild", grandchild)):
        bp.before_request(lambda name=name: events.append(name))

    child.register_blueprint(grandchild)
    parent.register_blueprint(child)
    parent.register_blueprint(sub, subdomain="v1")
    app.register_blueprint(parent, subdomain="x")
    client = app.test_client()
    response = client.get("/parent/child/grand/", "http://x.example.test/")
    assert response.text == "['parent.child.grandchild', 'parent.child', 'parent'] /parent/child/grand/ /parent/child/"
    assert events == ["app", "parent", "child", "grandchild"]
    assert client.get("/parent/s", base_url="http://v1.x.example.test/").text == "sub"
    assert set(app.blueprints) == {"parent", "parent.child", "parent.child.grandchild", "parent.sub"}


def test_nested_registered_twice_under_parent_names() -> None:
    app = make_app()
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    child.add_url_rule("/c", "c", lambda: request.endpoint)
    parent.register_blueprint(child, url_prefix="/a")
    parent.register_blueprint(child, url_prefix="/b", name="child2")
    app.register_blueprint(parent)
    client = app.test_client()
    assert client.get("/a/c").text == "parent.child.c"
    assert client.get("/b/c").text == "parent.child2.c"


def test_scoped_hooks_only_for_blueprint_requests() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    calls: list[str] = []

    bp.before_request(lambda: calls.append("bp-before"))
    bp.before_app_request(lambda: calls.append("app-before-from-bp"))

    @bp.after_request
    def after(response):
        response.headers["X-BP"] = "1"
        return response

    @bp.after_app_request
    def after_app(response):
        response.headers["X-All"] = "1"
        return response

    bp.teardown_request(lambda exc: calls.append("bp-teardown"))
    bp.teardown_app_request(lambda exc: calls.append("app-teardown"))

    @bp.url_value_preprocessor
    def pull(endpoint, values):
        g.lang = values.pop("lang", None)

    @bp.url_defaults
    def push(endpoint, values):
        values.setdefault("lang", "en")

    @bp.app_url_value_preprocessor
    def app_pull(endpoint, values):
        calls.append(f"app-pre:{endpoint}")

    @bp.app_url_defaults
    def app_push(endpoint, values):
        if endpoint == "plain":
            values.setdefault("q", "1")

    @bp.route("/<lang>/page")
    def page() -> str:
        return f"{g.lang} {url_for('.page')} {url_for('plain')}"

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    app.register_blueprint(bp)
    client = app.test_client()
    response = client.get("/bp/fr/page")
    assert response.text == "fr /bp/en/page /plain?q=1"
    assert response.headers["X-BP"] == "1" and response.headers["X-All"] == "1"
    assert calls == ["app-pre:bp.page", "app-before-from-bp", "bp-before", "bp-teardown", "app-teardown"]
    calls.clear()
    response = client.get("/plain")
    assert "X-BP" not in response.headers and response.headers["X-All"] == "1"
    assert calls == ["app-pre:plain", "app-before-from-bp", "app-teardown"]


def test_error_handler_precedence() -> None:
    app = make_app()
    app.testing = False
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    other = Blueprint("other", __name__, url_prefix="/other")

    @app.errorhandler(404)
    def app_404(e):
        return "app 404", 404

    @app.errorhandler(HTTPException)
    def app_http(e):
        return f"app http {e.code}", e.code

    @app.errorhandler(KeyError)
    def app_key(e):
        return "app keyerror", 500

    @bp.errorhandler(HTTPException)
    def bp_http(e):
        return f"bp http {e.code}", e.code

    @bp.errorhandler(LookupError)
    def bp_lookup(e):
        return "bp lookup", 500

    @bp.errorhandler(403)
    def bp_403(e):
        return "bp 403", 403

    @bp.route("/<int:code>")
    def fail(code: int) -> str:
        abort(code)

    @bp.route("/key")
    def key() -> str:
        raise KeyError("x")

    @other.route("/403")
    def other_403() -> str:
        abort(403)

    @other.app_errorhandler(418)
    def teapot(e):
        return "teapot from other", 418

    app.register_blueprint(bp)
    app.register_blueprint(other)
    client = app.test_client()
    # A code handler anywhere in scope beats class handlers: app 404 beats bp HTTPException.
    assert client.get("/bp/404").text == "app 404"
    assert client.get("/bp/403").text == "bp 403"
    assert client.get("/bp/400").text == "bp http 400"
    # The bp handler for the parent class beats the app handler for the exact class.
    assert client.get("/bp/key").text == "bp lookup"
    # Outside the blueprint its handlers do not apply.
    assert client.get("/other/403").text == "app http 403"
    assert client.get("/bp/418").text == "teapot from other"
    # Routing failures never reach blueprint handlers.
    assert client.get("/bp/nothing/here").text == "app 404"


def test_static_folder_and_url_path() -> None:
    app = make_app()
    bp = Blueprint("assets", __name__, static_folder="bp_assets/static", url_prefix="/bp")
    bp2 = Blueprint("assets2", __name__, static_folder="bp_assets/static", static_url_path="/files")
    app.register_blueprint(bp)
    app.register_blueprint(bp2, url_prefix="/two")
    client = app.test_client()
    response = client.get("/bp/static/bp.css")
    assert response.status_code == 200 and b"color: red" in response.data
    response.close()
    assert client.get("/two/files/bp.css").status_code == 200
    assert client.get("/bp/static/../test_blueprints.py").status_code == 404
    with app.test_request_context():
        assert url_for("assets.static", filename="bp.css") == "/bp/static/bp.css"
    assert Blueprint("nostatic", __name__).has_static_folder is False


def test_template_folder_search_order() -> None:
    app = make_app()
    bp = Blueprint("tpl", __name__, template_folder="bp_assets/templates")

    @bp.route("/only")
    def only() -> str:
        return render_template("shared/only_bp.html", value=1)

    @bp.route("/both")
    def both() -> str:
        return render_template("both.html") + "|" + render_template("shared/both.html")

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/only").text == "from blueprint 1"
    assert client.get("/both").text == "app version|bp version"


def test_blueprint_context_processors_and_template_registrations() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    bp.context_processor(lambda: {"who": "bp"})
    bp.app_context_processor(lambda: {"everyone": "yes"})

    @bp.app_template_filter()
    def shout(s: str) -> str:
        return s.upper()

    @bp.app_template_test("even")
    def is_even(n: int) -> bool:
        return n % 2 == 0

    @bp.app_template_global()
    def answer() -> int:
        return 42

    bp.add_app_template_filter(lambda s: s[::-1], "rev")

    @bp.template_filter("twice")  # jinja has one environment per app: a blueprint's filters are app-wide
    def twice(s: str) -> str:
        return s * 2

    source = (
        "{{ who|default('none') }} {{ everyone }} {{ 'a'|shout }} {{ 4 is even }} {{ answer() }} {{ 'ab'|rev }}"
        " {{ 'x'|twice }}"
    )
    from framework import render_template_string

    bp.add_url_rule("/t", "t", lambda: render_template_string(source))
    app.add_url_rule("/t", "t", lambda: render_template_string(source))
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/bp/t").text == "bp yes A True 42 ba xx"
    assert client.get("/t").text == "none yes A True 42 ba xx"


def test_setup_state() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/p", subdomain="s", url_defaults={"a": 1})
    states: list[BlueprintSetupState] = []
    bp.record(states.append)
    app.register_blueprint(bp, url_defaults={"b": 2}, custom="x")
    [state] = states
    assert state.app is app and state.blueprint is bp and state.first_registration
    assert state.url_prefix == "/p" and state.subdomain == "s" and state.name == "bp" and state.name_prefix == ""
    assert state.url_defaults == {"a": 1, "b": 2} and state.options["custom"] == "x"
    state.add_url_rule("", "empty", lambda: "e")
    assert app.url_map._rules_by_endpoint["bp.empty"][0].rule == "/p"
    assert bp.make_setup_state(app, {}).first_registration is False


def test_blueprint_open_resource_and_send_static_file() -> None:
    bp = Blueprint("bp", __name__, static_folder="bp_assets/static")
    with bp.open_resource("bp_assets/static/bp.css") as f:
        assert b"color" in f.read()
    with bp.open_resource("bp_assets/templates/shared/only_bp.html", "r") as f:
        assert f.encoding == "utf-8" and f.read().startswith("from blueprint")
    with pytest.raises(ValueError):
        bp.open_resource("bp_assets/static/bp.css", "w")
    app = make_app()
    app.register_blueprint(bp, url_prefix="/x")
    with app.test_request_context():
        response = bp.send_static_file("bp.css")
        response.direct_passthrough = False
        assert b"color" in response.get_data()
        response.close()
        with pytest.raises(NotFound):
            bp.send_static_file("missing.css")


def test_endpoint_decorator_functions_reach_the_app() -> None:
    """As in Flask, `@bp.endpoint(name)` keeps `name` as written, so it must carry the blueprint prefix."""
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/late", endpoint="late")

    @bp.endpoint("bp.late")
    def late() -> str:
        return "bound later"

    app = make_app()
    app.register_blueprint(bp)
    assert app.view_functions["bp.late"] is late
    assert app.test_client().get("/late").text == "bound later"


def test_app_wide_setup_methods_keep_their_names_and_refuse_late_use() -> None:
    bp = Blueprint("bp", __name__)
    names = ["before_app_request", "after_app_request", "teardown_app_request", "app_context_processor",
             "app_url_value_preprocessor", "app_url_defaults"]
    assert [getattr(Blueprint, name).__name__ for name in names] == names
    make_app().register_blueprint(bp)
    for name in names:
        with pytest.raises(AssertionError, match=name):
            getattr(bp, name)(lambda *args: None)
