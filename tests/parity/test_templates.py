"""Template parity: render_template(_string), autoescape, context processors, filters/tests/globals,
blueprint template folders, streaming and get_template_attribute."""

from __future__ import annotations

import importlib
import pathlib
import typing as t
from types import ModuleType

import pytest

from .diff import both, call, same


@pytest.fixture
def root(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("{{ value }}|{{ g_value }}|{{ request.path }}|{{ config.X }}")
    (tmp_path / "templates" / "page.txt").write_text("{{ value }}")
    (tmp_path / "templates" / "shared.html").write_text("app wins")
    (tmp_path / "templates" / "macros.html").write_text("{% macro hello(n) %}hi {{ n }}{% endmacro %}")
    (tmp_path / "bp" / "tpl" / "bp").mkdir(parents=True)
    (tmp_path / "bp" / "tpl" / "bp" / "own.html").write_text("bp own {{ value }} {{ bp_ctx }}")
    (tmp_path / "bp" / "tpl" / "shared.html").write_text("bp loses")
    (tmp_path / "bp" / "tpl" / "only_bp.html").write_text("only in bp")
    return tmp_path


def _templates(fw: ModuleType, root: pathlib.Path):
    app = fw.Flask("tpl", root_path=str(root))
    app.config["X"] = "cfg"
    app.secret_key = "k"  # a real session: rendering must not mark it accessed (no Vary: Cookie)
    bp = fw.Blueprint("bp", "tpl_bp", root_path=str(root / "bp"), template_folder="tpl", url_prefix="/bp")
    app.context_processor(lambda: {"g_value": "from processor", "value": "processor value"})
    bp.context_processor(lambda: {"bp_ctx": "bp processor"})

    @app.template_filter()
    def shout(s: str) -> str:
        return s.upper() + "!"

    @app.template_filter("rev")
    def reverse(s: str) -> str:
        return s[::-1]

    @app.template_test()
    def even(n: int) -> bool:
        return n % 2 == 0

    @app.template_global()
    def twice(n: int) -> int:
        return n * 2

    @bp.app_template_filter("bpf")
    def bp_filter(s: str) -> str:
        return f"<{s}>"

    rts = fw.render_template_string
    app.add_url_rule("/string", "string", lambda: rts(
        "{{ v }} {{ v|safe }} {{ 'ab'|shout }} {{ 'ab'|rev }} {{ 4 is even }} {{ twice(3) }} {{ 'x'|bpf }}"
        " {{ g_value }} {{ session|length }} {{ url_for('string') }} {{ get_flashed_messages() }}",
        v="<i>"))
    app.add_url_rule("/file", "file", lambda: fw.render_template("page.html", value="<a&b>"))
    app.add_url_rule("/txt", "txt", lambda: fw.render_template("page.txt", value="<a&b>"))
    app.add_url_rule("/list", "list", lambda: fw.render_template(["missing.html", "page.txt"], value="v"))
    app.add_url_rule("/shared", "shared", lambda: fw.render_template("shared.html"))
    app.add_url_rule("/only_bp", "only_bp", lambda: fw.render_template("only_bp.html"))
    app.add_url_rule("/missing", "missing", lambda: fw.render_template("missing.html"))
    app.add_url_rule("/stream", "stream", lambda: fw.Response(fw.stream_template_string("{% for i in r %}{{ i }}{% endfor %}", r=range(3))))
    app.add_url_rule("/macro", "macro", lambda: fw.get_template_attribute("macros.html", "hello")("m"))
    app.add_url_rule("/override", "override", lambda: rts("{{ value }}", value="explicit wins"))
    app.add_url_rule("/autoescape", "autoescape", lambda: rts("{% autoescape false %}{{ v }}{% endautoescape %}", v="<u>"))
    bp.add_url_rule("/own", "own", lambda: fw.render_template("bp/own.html"))
    app.register_blueprint(bp)
    app.testing = True
    return app


def test_templates(root: pathlib.Path) -> None:
    names = ["string", "file", "txt", "list", "shared", "only_bp", "missing", "stream", "macro", "override",
             "autoescape", "bp/own"]
    rv = both(lambda fw: _templates(fw, root), [call("GET", f"/{n}") for n in names], facts={6: ["missing.html"]})
    assert rv[0][2].startswith(b"&lt;i&gt; <i> AB! ba True 6 &lt;x&gt; from processor 0 /string []")
    assert rv[1][2] == b"&lt;a&amp;b&gt;|from processor|/file|cfg" and rv[2][2] == b"<a&b>"
    assert ("Vary", "Cookie") in rv[0][1] and "Vary" not in dict(rv[1][1])
    assert rv[4][2] == b"app wins" and rv[11][2] == b"bp own processor value bp processor"


def test_jinja_env_options() -> None:
    def build(fw: ModuleType):
        app = fw.Flask("tpl")
        app.jinja_options = {"trim_blocks": True}
        app.config["TEMPLATES_AUTO_RELOAD"] = True
        app.add_url_rule("/opts", "opts", lambda: repr([app.jinja_env.trim_blocks, app.jinja_env.auto_reload,
                                                        sorted(app.jinja_env.globals), sorted(app.jinja_env.filters)[:3],
                                                        app.jinja_env.autoescape("x.svg"),
                                                        app.jinja_env.autoescape("x.txt"),
                                                        app.jinja_env.autoescape(None)]))
        return app

    rv = both(build, [call("GET", "/opts")])
    assert rv[0][2].startswith(b"[True, True,") and rv[0][2].endswith(b"True, False, True]")


def _error(fn: t.Callable[[], t.Any]) -> t.Any:
    try:
        return fn()
    except Exception as e:
        return type(e).__name__


def test_autoescape_by_extension_template_objects_and_loader(tmp_path: pathlib.Path) -> None:
    (tmp_path / "templates").mkdir()
    for name in ("x.xml", "x.xhtml", "x.svg", "x.j2"):
        (tmp_path / "templates" / name).write_text("{{ a }}")
    (tmp_path / "bp" / "tpl").mkdir(parents=True)
    (tmp_path / "bp" / "tpl" / "b.html").write_text("B")

    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("t", root_path=str(tmp_path))
        app.register_blueprint(fw.Blueprint("bp", "bpm", root_path=str(tmp_path / "bp"), template_folder="tpl"))
        out: list[t.Any] = []
        with app.test_request_context():
            out += [fw.render_template(n, a="<&>") for n in ("x.xml", "x.xhtml", "x.svg", "x.j2")]
            out.append(fw.render_template(app.jinja_env.from_string("{{ a }}"), a="<"))
            out.append(fw.render_template([app.jinja_env.get_template("x.xml"), "b.html"], a="<"))
            out.append(_error(lambda: fw.render_template(["m1.html", "m2.html"])))
            out.append(sorted(app.jinja_env.list_templates()))
            out.append(_error(lambda: fw.render_template_string("{{ undefined_var.attr }}")))
            out.append(fw.render_template_string(
                "{{ undefined_var }}|{{ config['DEBUG'] }}|{{ 'x' | tojson }}|{{ {'a': '<'} | tojson }}"))
        out.append(_error(lambda: fw.render_template_string("x")))
        return out

    out = same(probe)[1]
    assert out[:4] == ["&lt;&amp;&gt;", "&lt;&amp;&gt;", "&lt;&amp;&gt;", "<&>"]
    assert out[6] == "TemplatesNotFound" and out[-1] == "RuntimeError"


def test_template_signals_and_custom_environment() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        templating = importlib.import_module(f"{fw.__name__}.templating")

        class Env(templating.Environment):
            pass

        class MyApp(fw.Flask):
            jinja_environment = Env
            jinja_options = {"extensions": ["jinja2.ext.do"]}

        app = MyApp("e")
        recorded: list[t.Any] = []

        def record(sender: t.Any, template: t.Any, context: dict[str, t.Any], **extra: t.Any) -> None:
            recorded.append((template.name, sorted(context), sorted(extra)))

        fw.template_rendered.connect(record, app)
        fw.before_render_template.connect(record, app)
        app.context_processor(lambda: {"p": 1})
        with app.test_request_context():
            out = [type(app.jinja_env).__name__, fw.render_template_string("{% set l = [] %}{% do l.append(1) %}{{ l }}")]
        with app.app_context():
            out.append(fw.render_template_string("{{ p }} {{ g is defined }}"))
        fw.template_rendered.disconnect(record, app)
        fw.before_render_template.disconnect(record, app)
        return [*out, recorded]

    assert same(probe)[1][:3] == ["Env", "[1]", "1 True"]
