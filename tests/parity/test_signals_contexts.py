"""Signals (which, in what order, with which kwargs), contexts, test client features, async views."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import threading
import typing as t
from types import ModuleType

import pytest

from .diff import both, call, same

_SIGNALS = ["request_started", "request_finished", "request_tearing_down", "got_request_exception",
            "appcontext_tearing_down", "appcontext_pushed", "appcontext_popped", "template_rendered",
            "before_render_template", "message_flashed"]


def _describe(value: t.Any) -> str:
    """Kwarg values as comparable text (type plus the readable part)."""
    if hasattr(value, "status_code"):
        return f"response {value.status_code}"
    if isinstance(value, BaseException):
        return f"{type(value).__name__}({value})"
    if hasattr(value, "render"):
        return "template"
    if isinstance(value, dict):
        return f"context {sorted(value)}"
    if callable(value):
        return "callable"
    return repr(value)


def _signalled(fw: ModuleType) -> tuple[t.Any, list[str]]:
    app = fw.Flask("sig")
    app.secret_key = "k"
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []
    receivers = []
    for name in _SIGNALS:
        def receiver(sender: t.Any, _name: str = name, **kwargs: t.Any) -> None:
            assert sender is app
            log.append(f"{_name} " + ",".join(f"{k}={_describe(v)}" for k, v in sorted(kwargs.items())))

        receivers.append(receiver)
        getattr(fw, name).connect(receiver, app)
    app.add_url_rule("/", "i", lambda: fw.render_template_string("{{ x }}", x=1))
    app.add_url_rule("/flash", "flash", lambda: (fw.flash("hi", "info"), "f")[1])
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule("/abort", "abort", lambda: fw.abort(418))
    app._parity_receivers = receivers  # keep the weakly-held receivers alive with the app
    return app, log


@pytest.mark.parametrize("path", ["/", "/flash", "/boom", "/abort", "/missing"])
def test_signals(path: str) -> None:
    def run(fw: ModuleType) -> list[str]:
        app, log = _signalled(fw)
        app.test_client().get(path)
        with app.app_context():
            log.append("-- bare app context")
        return log

    result = same(run)
    assert result[0] == "ok" and result[1][0] == "appcontext_pushed "


def _contexts(fw: ModuleType):
    app = fw.Flask("ctx")
    app.secret_key = "k"
    results: list[str] = []

    @app.route("/copy")
    def copy() -> str:
        fw.g.value = "g value"

        @fw.copy_current_request_context
        def worker() -> None:
            results.append(f"{fw.request.path} {fw.has_request_context()} {fw.session.get('a')}")

        t_ = threading.Thread(target=worker)
        t_.start()
        t_.join()
        return results[-2]  # the worker's line; its own app context's teardown came after it

    @app.route("/copy-unused")
    def copy_unused() -> str:
        fw.copy_current_request_context(lambda: None)  # never called: must not touch the session
        return "unused"

    @app.route("/after")
    def after() -> str:
        @fw.after_this_request
        def add_header(response: t.Any) -> t.Any:
            response.headers["X-After"] = "yes"
            return response

        return "after"

    @app.route("/g")
    def g_ops() -> object:
        g = fw.g
        g.a = 1
        return [g.get("a"), g.get("b", 2), g.pop("a"), g.pop("x", "dflt"), g.setdefault("c", 3), "c" in g,
                sorted(g), fw.has_app_context(), fw.has_request_context(), fw.current_app.name,
                repr(g).replace(fw.__name__, "pkg")]  # the repr names the package: the one legit difference

    @app.route("/teardown-sees")
    def teardown_sees() -> str:
        return results[-1] if results else "none"

    @app.teardown_appcontext
    def td(e: BaseException | None) -> None:
        results.append(f"teardown g={sorted(fw.g)}")

    return app


def test_request_and_app_contexts() -> None:
    rv = both(_contexts, [call("GET", "/copy"), call("GET", "/after"), call("GET", "/g"),
                          call("GET", "/teardown-sees"), call("GET", "/copy-unused")])
    assert rv[0][2] == b"/copy True None" and ("X-After", "yes") in rv[1][1]
    assert ("Vary", "Cookie") in rv[0][1] and "Vary" not in dict(rv[4][1])


def test_context_api_outside_requests() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("ctx")
        out: list[t.Any] = [fw.has_app_context(), fw.has_request_context()]
        for bad in (lambda: fw.request.path, lambda: fw.current_app.name, lambda: fw.g.x, lambda: fw.session.get("x"),
                    lambda: fw.after_this_request(lambda r: r), lambda: fw.copy_current_request_context(lambda: 1)):
            try:
                bad()
                out.append("ok")
            except Exception as e:
                out.append(type(e).__name__)
        with app.app_context():
            out += [fw.has_app_context(), fw.has_request_context(), fw.current_app.name]
            fw.g.x = 1
            with app.app_context():
                out.append(fw.g.get("x"))  # a new app context has a fresh g
        with app.test_request_context("/p?q=1", method="POST", data={"a": "b"}):
            out += [fw.request.path, fw.request.args["q"], fw.request.form["a"], fw.has_app_context()]
            with app.test_request_context("/inner"):
                out.append(fw.request.path)
            out.append(fw.request.path)
        return out

    assert same(probe)[1][2:5] == ["RuntimeError"] * 3


def _client(fw: ModuleType):
    app = fw.Flask("client")
    app.secret_key = "k"

    @app.route("/redirect/<int:n>", methods=["GET", "POST"])
    def redir(n: int) -> t.Any:
        return fw.redirect(fw.url_for("redir", n=n - 1) if n else "/end", code=307 if n == 2 else 302)

    app.add_url_rule("/end", "end", lambda: f"end {fw.request.method} {fw.session.get('u')}", methods=["GET", "POST"])
    app.add_url_rule("/login", "login", lambda: (fw.session.__setitem__("u", "bob"), "in")[1])
    app.add_url_rule("/echo", "echo", lambda: {"json": fw.request.json, "ua": fw.request.user_agent.string[:8],
                                               "addr": fw.request.remote_addr, "host": fw.request.host})
    return app


def test_client_features() -> None:
    def run(fw: ModuleType) -> list[t.Any]:
        app = _client(fw)
        c = app.test_client()
        out: list[t.Any] = []
        rv = c.post("/redirect/3", follow_redirects=True)
        out += [rv.status_code, rv.data, [(r.status_code, r.request.method) for r in rv.history], rv.request.path]
        c.get("/login")
        with c.session_transaction() as sess:
            out.append(dict(sess))
            sess["u"] = "eve"
        out.append(c.get("/end").data)
        with c:
            c.get("/end?x=1")
            out += [fw.request.args["x"], fw.session["u"], fw.has_request_context()]
        out.append(fw.has_request_context())
        out.append(c.post("/echo", json={"a": 1}).json)
        out.append(c.get("/echo", base_url="https://h.test:444/").status_code)
        c2 = app.test_client(use_cookies=False)
        try:
            with c2.session_transaction():
                pass
        except Exception as e:
            out.append(type(e).__name__)
        return out

    out = same(run)[1]
    assert out[0] == 200 and out[5] == b"end GET eve"


def _async_app(fw: ModuleType) -> t.Any:
    app = fw.Flask("async")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []
    views = importlib.import_module(f"{fw.__name__}.views")
    bp = fw.Blueprint("bp", __name__, url_prefix="/bp")

    @app.before_request
    async def before() -> None:
        await asyncio.sleep(0)
        log.append(f"before {fw.request.path}")

    @app.after_request
    async def after(response: t.Any) -> t.Any:
        response.headers["X-Async-After"] = "1"
        return response

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        log.append("teardown")

    @app.route("/a/<x>")
    async def view(x: str) -> object:
        await asyncio.sleep(0)
        fw.g.seen = x
        return {"x": x, "path": fw.request.path, "g": fw.g.seen, "log": list(log)}

    @app.route("/err")
    async def err() -> str:
        raise KeyError("k")

    @app.errorhandler(KeyError)
    async def on_key(e: KeyError) -> tuple[str, int]:
        return f"async handler {e}", 409

    class Api(views.MethodView):
        async def get(self) -> str:
            await asyncio.sleep(0)
            return "async get"

        async def post(self) -> str:
            return f"async post {fw.request.get_json()}"

    class Plain(views.View):
        async def dispatch_request(self) -> str:
            return "async dispatch"

    app.add_url_rule("/api", view_func=Api.as_view("api"))
    app.add_url_rule("/plain", view_func=Plain.as_view("plain"))
    bp.before_request(lambda: log.append("bp sync before"))

    @bp.route("/x")
    async def bp_view() -> str:
        return "bp async"

    @app.route("/log")
    def show_log() -> object:
        return list(log)

    app.register_blueprint(bp)
    return app


def test_async_views_documented_behaviour() -> None:
    """Without asgiref Flask cannot run async views: check framework against the
    documented behaviour (async views, hooks, handlers and class-based views run in the request's
    context), and that Flask itself refuses them with a RuntimeError (turned into a 500 here)."""
    import flask

    import framework

    c = _async_app(framework).test_client()
    rv = c.get("/a/1")
    assert rv.json == {"x": "1", "path": "/a/1", "g": "1", "log": ["before /a/1"]}
    assert rv.headers["X-Async-After"] == "1"
    assert (c.get("/err").status_code, c.get("/err").data) == (409, b"async handler 'k'")
    assert c.get("/api").data == b"async get" and c.post("/api", json=[1]).data == b"async post [1]"
    assert c.get("/plain").data == b"async dispatch" and c.get("/bp/x").data == b"bp async"
    assert c.get("/log").json.count("teardown") == 7

    flask_app = _async_app(flask)
    flask_app.testing = True
    if importlib.util.find_spec("asgiref") is not None:  # Django (a dev dependency) brings it in
        assert flask_app.test_client().get("/a/1").json == rv.json  # Flask with asgiref: the same answer
        return
    try:
        flask_app.test_client().get("/a/1")
    except RuntimeError as e:
        assert "async" in str(e)
    else:
        raise AssertionError("Flask without asgiref ran an async view")
