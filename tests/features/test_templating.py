"""Templates: environment, loaders, render/stream functions, autoescape, context, registrations, reloading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import TemplateNotFound
from markupsafe import Markup

from framework import (
    App,
    Blueprint,
    flash,
    g,
    get_template_attribute,
    render_template,
    render_template_string,
    request,
    session,
    stream_template,
    stream_template_string,
    stream_with_context,
)
from framework.templating import DispatchingLoader, Environment


@pytest.fixture
def tpl_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "base.html").write_text("<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}")
    (folder / "child.html").write_text(
        "{% extends 'base.html' %}{% block title %}{{ title }}{% endblock %}{% block body %}{{ body }}{% endblock %}"
    )
    (folder / "page.txt").write_text("{{ body }}")
    for ext in ("htm", "xml", "xhtml", "svg"):
        (folder / f"page.{ext}").write_text("{{ body }}")
    (folder / "macros.html").write_text("{% macro hello(name) %}Hello {{ name }}!{% endmacro %}{% set answer = 42 %}")
    (folder / "globals.html").write_text(
        "{{ config.GREETING }}|{{ request.path }}|{{ session.get('user') }}|{{ g.thing }}|{{ url_for('index') }}"
        "|{{ get_flashed_messages() }}"
    )
    return folder


@pytest.fixture
def app(tpl_dir: Path) -> App:
    app = App(__name__, root_path=str(tpl_dir.parent))
    app.secret_key = "template-tests-secret-key-value"
    app.testing = True
    app.add_url_rule("/", "index", lambda: "index")
    return app


def test_environment_is_created_on_first_use(app: App) -> None:
    assert "jinja_env" not in app.__dict__
    env = app.jinja_env
    assert isinstance(env, Environment) and env.app is app
    assert app.jinja_env is env
    assert isinstance(env.loader, DispatchingLoader)


def test_inheritance_and_autoescape(app: App) -> None:
    with app.test_request_context():
        html = render_template("child.html", title="T", body="<b>")
        assert html == "<title>T</title>&lt;b&gt;"
        assert render_template("page.txt", body="<b>") == "<b>"
        for ext in ("htm", "xml", "xhtml", "svg"):
            assert render_template(f"page.{ext}", body="<b>") == "&lt;b&gt;"
        assert render_template_string("{{ x }}", x="<i>") == "&lt;i&gt;"
        assert render_template_string("{{ x }}", x=Markup("<i>")) == "<i>"


def test_template_list_picks_first_existing(app: App) -> None:
    with app.app_context():
        assert render_template(["missing.html", "page.txt"], body="x") == "x"
        with pytest.raises(TemplateNotFound):
            render_template("missing.html")


def test_builtin_globals_in_templates(app: App) -> None:
    app.config["GREETING"] = "hey"

    @app.route("/g")
    def show() -> str:
        g.thing = "gee"
        session["user"] = "ada"
        flash("flashed!")
        return render_template("globals.html")

    assert app.test_client().get("/g").text == "hey|/g|ada|gee|/|[&#39;flashed!&#39;]"


def test_render_outside_request_has_config_and_g(app: App) -> None:
    with app.app_context():
        g.thing = 1
        assert render_template_string("{{ config.TESTING }} {{ g.thing }}") == "True 1"


def test_context_processors_order_and_explicit_values_win(app: App) -> None:
    bp = Blueprint("bp", __name__)
    app.context_processor(lambda: {"a": "app", "b": "app"})
    bp.context_processor(lambda: {"b": "bp", "c": "bp"})
    bp.add_url_rule("/bp", "t", lambda: render_template_string("{{ a }} {{ b }} {{ c }}", c="explicit"))
    app.register_blueprint(bp)
    assert app.test_client().get("/bp").text == "app bp explicit"


def test_filters_tests_globals(app: App) -> None:
    @app.template_filter()
    def double(x: int) -> int:
        return x * 2

    @app.template_filter("triple")
    def times3(x: int) -> int:
        return x * 3

    app.add_template_filter(lambda s: s[::-1], "rev")

    @app.template_test()
    def big(x: int) -> bool:
        return x > 10

    app.add_template_test(lambda x: x == 0, "zero")

    @app.template_global()
    def pi() -> float:
        return 3.14

    app.add_template_global(lambda: "e", "e")
    with app.app_context():
        out = render_template_string(
            "{{ 2|double }} {{ 2|triple }} {{ 'ab'|rev }} {{ 11 is big }} {{ 0 is zero }} {{ pi() }} {{ e() }}"
        )
    assert out == "4 6 ba True True 3.14 e"


def test_jinja_options_and_create_jinja_environment(tpl_dir: Path) -> None:
    class MyApp(App):
        jinja_options = {"trim_blocks": True, "line_statement_prefix": "%"}

    app = MyApp(__name__, root_path=str(tpl_dir.parent))
    assert app.jinja_env.trim_blocks is True
    with app.app_context():
        assert render_template_string("% if true\nyes\n% endif\n") == "yes\n"


def test_tojson_uses_the_app_provider(app: App) -> None:
    with app.app_context():
        out = render_template_string("<script>var x = {{ data|tojson }};</script>", data={"b": "</script>", "a": 1})
    assert out == '<script>var x = {"a": 1, "b": "\\u003c/script\\u003e"};</script>'


def test_get_template_attribute(app: App) -> None:
    with app.app_context():
        hello = get_template_attribute("macros.html", "hello")
        assert str(hello("you")) == "Hello you!"
        assert get_template_attribute("macros.html", "answer") == 42


def test_stream_template_keeps_request_context(app: App) -> None:
    @app.route("/stream")
    def streamed():
        return stream_template("child.html", title="streamed", body="b")

    @app.route("/stream-string")
    def streamed_string():
        return stream_template_string("{% for i in range(3) %}{{ request.args.x }}{{ i }}{% endfor %}")

    @app.route("/swc")
    def swc():
        def gen():
            yield "path="
            yield request.path

        return stream_with_context(gen())

    client = app.test_client()
    assert client.get("/stream").text == "<title>streamed</title>b"
    assert client.get("/stream-string?x=q").text == "q0q1q2"
    assert client.get("/swc").text == "path=/swc"


def test_templates_auto_reload(app: App, tpl_dir: Path) -> None:
    app.config["TEMPLATES_AUTO_RELOAD"] = True
    target = tpl_dir / "page.txt"
    with app.app_context():
        assert render_template("page.txt", body="x") == "x"
        target.write_text("changed {{ body }}")
        stat = target.stat()
        os.utime(target, (stat.st_atime + 5, stat.st_mtime + 5))
        assert render_template("page.txt", body="x") == "changed x"


def test_auto_reload_follows_debug(tpl_dir: Path) -> None:
    app = App(__name__, root_path=str(tpl_dir.parent))
    app.debug = True
    assert app.jinja_env.auto_reload is True
    app2 = App(__name__, root_path=str(tpl_dir.parent))
    assert app2.jinja_env.auto_reload is False
    app3 = App(__name__, root_path=str(tpl_dir.parent))
    app3.config["TEMPLATES_AUTO_RELOAD"] = False
    app3.debug = True
    assert app3.jinja_env.auto_reload is False


def test_no_template_folder(tmp_path: Path) -> None:
    app = App(__name__, root_path=str(tmp_path), template_folder=None)
    with app.app_context():
        with pytest.raises(TemplateNotFound):
            render_template("anything.html")
        assert app.jinja_env.loader.list_templates() == []


def test_list_templates_and_explain_loading(app: App, tpl_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    other = tpl_dir.parent / "bp_templates"
    other.mkdir()
    (other / "child.html").write_text("shadowed")
    (other / "extra.html").write_text("extra")
    bp = Blueprint("bp", __name__, root_path=str(tpl_dir.parent), template_folder="bp_templates")
    app.register_blueprint(bp)
    assert {"child.html", "extra.html", "base.html"} <= set(app.jinja_env.list_templates())
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with app.app_context(), caplog.at_level("INFO"):
        assert render_template("extra.html") == "extra"
        render_template("child.html", title="", body="")
    text = caplog.text
    assert "extra.html" in text and "not found" in text
    located = {m.split("'")[1]: m for r in caplog.records if (m := r.getMessage()).startswith("Locating template")}
    assert "shadowed" not in located["extra.html"]  # found by one loader only
    assert "shadowed" in located["child.html"]  # the app's copy hides the blueprint's


def test_custom_environment_class_and_factory(tpl_dir: Path) -> None:
    class MyEnvironment(Environment):
        pass

    class EnvApp(App):
        jinja_environment = MyEnvironment

    assert type(EnvApp(__name__, root_path=str(tpl_dir.parent)).jinja_env) is MyEnvironment

    class FactoryApp(App):
        def create_jinja_environment(self):
            env = super().create_jinja_environment()
            env.globals["extra"] = "from factory"
            return env

    app = FactoryApp(__name__, root_path=str(tpl_dir.parent))
    with app.app_context():
        assert render_template_string("{{ extra }}") == "from factory"


def test_select_jinja_autoescape_override(tpl_dir: Path) -> None:
    class TxtEscapes(App):
        def select_jinja_autoescape(self, filename):
            return filename is None or filename.endswith(".txt")

    app = TxtEscapes(__name__, root_path=str(tpl_dir.parent))
    with app.app_context():
        assert render_template("page.txt", body="<b>") == "&lt;b&gt;"
        assert render_template("page.htm", body="<b>") == "<b>"
