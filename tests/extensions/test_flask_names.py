"""What an extension reaches through `flask` works on framework.App, as under real Flask: the context
proxies and checks, the helpers, and flask.Blueprint objects registered on our app."""

from __future__ import annotations

import threading
from pathlib import Path

import flask
import flask.globals
import pytest

from framework import App

BP_TEMPLATES = Path(__file__).parent / "apps" / "bp_templates"


@pytest.fixture
def app() -> App:
    app = App("names")
    app.config.update(SECRET_KEY="test-only-secret-key-0123456789", SERVER_NAME="names.test")
    return app


def test_outside_any_context_flask_sees_none(app: App) -> None:
    from framework.globals import g

    app.add_url_rule("/ping", "ping", lambda: "pong")
    assert not flask.has_app_context() and not flask.has_request_context()
    with pytest.raises(RuntimeError, match="application context"):
        flask.current_app.name  # noqa: B018
    with app.app_context():
        assert flask.has_app_context() and not flask.has_request_context()
        assert flask.current_app._get_current_object() is app
        flask.g.x = 1
        assert g.x == 1
        assert flask.url_for("ping", _external=False) == "/ping"
    assert not flask.has_app_context()


def test_proxies_and_context_objects(app: App) -> None:
    from framework.globals import g, request, session

    seen = {}

    @app.get("/ping")
    def ping():
        flask.g.hit = "yes"
        flask.session["n"] = flask.session.get("n", 0) + 1
        seen["same"] = (flask.request._get_current_object() is request._get_current_object(),
                        flask.session._get_current_object() is session._get_current_object(),
                        flask.g._get_current_object() is g._get_current_object(),
                        flask.globals.request_ctx._get_current_object().app is app,
                        flask.globals.app_ctx._get_current_object().app is app)
        return {"g": g.hit, "n": flask.session["n"], "args": flask.request.args.to_dict(),
                "endpoint": flask.request.endpoint}

    client = app.test_client()
    assert client.get("/ping?a=1").get_json() == {"g": "yes", "n": 1, "args": {"a": "1"}, "endpoint": "ping"}
    assert client.get("/ping").get_json()["n"] == 2
    assert seen["same"] == (True, True, True, True, True)
    with app.app_context():
        assert flask.url_for("ping", q="1") == "http://names.test/ping?q=1"


def test_helpers(app: App) -> None:
    app.template_folder = str(BP_TEMPLATES)
    @app.get("/abort")
    def do_abort():
        flask.abort(418)

    @app.get("/redirect")
    def do_redirect():
        return flask.redirect(flask.url_for("target", x=1))

    @app.get("/target")
    def target():
        return flask.jsonify(ok=True, where=flask.url_for("target", _external=True))

    @app.get("/template")
    def template():
        return flask.render_template_string("{{ who }} at {{ request.path }} {{ g.tag }}", who="ext")

    @app.get("/flash")
    def do_flash():
        flask.flash("saved", "info")
        return "ok"

    @app.get("/flashes")
    def flashes():
        return {"all": flask.get_flashed_messages(with_categories=True)}

    @app.get("/after")
    def after():
        @flask.after_this_request
        def add(resp):
            resp.headers["X-After"] = "1"
            return resp

        return flask.make_response(("made", 201, {"X-Made": "1"}))

    @app.get("/thread")
    def thread():
        out = []

        @flask.copy_current_request_context
        def work():
            out.append(flask.request.args["v"])

        th = threading.Thread(target=work)
        th.start()
        th.join()
        return out[0]

    @app.get("/stream")
    def stream():
        def gen():
            yield flask.request.path
            yield "!"

        return app.response_class(flask.stream_with_context(gen()))

    @app.get("/file")
    def file():
        return flask.send_from_directory(BP_TEMPLATES / "bp", "page.html", max_age=0)

    @app.get("/streamed")
    def streamed():
        return flask.stream_template_string("{% for i in items %}{{ i }}{{ request.path }};{% endfor %}", items=[1, 2])

    @app.get("/macro")
    def macro():
        hello = flask.get_template_attribute("macros.html", "hello")
        return hello("ext")

    @app.before_request
    def tag():
        flask.g.tag = "tagged"

    client = app.test_client()
    assert client.get("/abort").status_code == 418
    resp = client.get("/redirect")
    assert resp.status_code == 302 and resp.headers["Location"] == "/target?x=1"
    assert client.get("/target").get_json() == {"ok": True, "where": "http://names.test/target"}
    assert client.get("/template").get_data() == b"ext at /template tagged"
    client.get("/flash")
    assert client.get("/flashes").get_json() == {"all": [["info", "saved"]]}
    resp = client.get("/after")
    assert (resp.status_code, resp.headers["X-Made"], resp.headers["X-After"], resp.get_data()) == (201, "1", "1", b"made")
    assert client.get("/thread?v=threaded").get_data() == b"threaded"
    assert client.get("/stream").get_data() == b"/stream!"
    resp = client.get("/file")
    assert resp.get_data() == (BP_TEMPLATES / "bp" / "page.html").read_bytes()
    assert resp.mimetype == "text/html"
    assert client.get("/streamed").get_data() == b"1/streamed;2/streamed;"
    assert client.get("/macro").get_data() == b"<i>ext</i>"


def test_flask_blueprint_registered_on_our_app(app: App) -> None:
    bp = flask.Blueprint("bp", __name__, url_prefix="/bp", template_folder=str(BP_TEMPLATES),
                         static_folder=str(BP_TEMPLATES / "bp"))
    calls = []

    @bp.before_request
    def before():
        calls.append(("before", flask.request.blueprint))

    @bp.get("/hello")
    def hello():
        return flask.render_template("bp/page.html", who="ext")

    @bp.get("/fail")
    def fail():
        flask.abort(409)

    @bp.errorhandler(409)
    def conflict(e):
        return {"conflict": flask.request.endpoint}, 409

    @bp.app_template_filter()
    def shout(s: str) -> str:
        return s.upper() + "!"

    @bp.app_context_processor
    def extra():
        return {"extra": "yes"}

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="again", url_prefix="/again")
    client = app.test_client()
    assert client.get("/bp/hello").get_data() == b"<b>EXT!</b> /bp/hello"
    assert client.get("/again/hello").get_data() == b"<b>EXT!</b> /again/hello"
    assert client.get("/bp/fail").get_json() == {"conflict": "bp.fail"}
    assert calls == [("before", "bp"), ("before", "again"), ("before", "bp")]
    assert app.blueprints["bp"] is bp and "bp.hello" in app.view_functions
    static = client.get("/bp/bp/page.html")  # flask.Blueprint.send_static_file, through flask's helpers
    assert static.status_code == 200 and static.get_data() == (BP_TEMPLATES / "bp" / "page.html").read_bytes()
    static.close()
    with app.test_request_context("/bp/hello"):
        assert flask.url_for("bp.hello") == "/bp/hello"
        assert flask.render_template_string("{{ extra }}") == "yes"
