"""App construction, context misuse, direct calls of the dispatch API and app-level registration."""

from __future__ import annotations

import pathlib
import typing as t
from types import ModuleType

from werkzeug.exceptions import NotFound
from werkzeug.routing import BuildError
from werkzeug.test import EnvironBuilder

from .diff import same


def _error(fn: t.Callable[[], t.Any]) -> t.Any:
    try:
        return fn()
    except Exception as e:
        return type(e).__name__


def test_constructor_arguments(tmp_path: pathlib.Path) -> None:
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "c.py").write_text("X_INST = 5\n")
    root = str(tmp_path)

    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("m", root_path=root, instance_path=f"{root}/instance", instance_relative_config=True)
        out = [app.instance_path, app.config.root_path, app.config.from_pyfile("c.py"), app.config.get("X_INST"),
               app.static_folder, app.template_folder]
        with app.open_instance_resource("c.py") as f:
            out.append(f.read())
        app2 = fw.Flask("m2", root_path=root, instance_path=f"{root}/instance", static_folder=None)
        out += [app2.instance_path, app2.has_static_folder, "static" in app2.view_functions]
        out.append(_error(lambda: fw.Flask("m3", instance_path="relative")))
        app4 = fw.Flask("m4", root_path=root, static_folder="assets", static_url_path="")
        out += [app4.static_url_path, app4.static_folder, [r.rule for r in app4.url_map.iter_rules("static")]]
        app5 = fw.Flask("m5", root_path=root, static_url_path="/s/", template_folder=None)
        out += [app5.static_url_path, [r.rule for r in app5.url_map.iter_rules("static")], app5.jinja_loader]
        return out

    out = same(probe)[1]
    assert out[3] == 5 and out[10] == "ValueError"


def test_context_push_pop_misuse() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("c")
        a, b = app.app_context(), app.app_context()
        a.push()
        b.push()
        out = [_error(a.pop), _error(b.pop), _error(a.pop)]
        out += [_error(app.test_request_context("/").pop), _error(app.app_context().pop)]
        return out

    # Popping out of order is refused; the stack is then unusable (Flask's own behaviour, matched).
    assert same(probe)[1] == ["AssertionError", "LookupError", "LookupError", "LookupError", "LookupError"]


def test_dispatch_api_called_directly() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("d")
        app.before_request(lambda: None)
        app.add_url_rule("/", "i", lambda: "x")
        out: list[t.Any] = []
        with app.test_request_context("/"):
            out.append(app.preprocess_request())
            out.append(app.process_response(fw.Response("y")).get_data())
            out.append(app.full_dispatch_request().get_data())
            out.append(sorted(app.make_default_options_response().allow))
            out.append(sorted(b.name for b in app.iter_blueprints()))
            out.append(app.handle_http_exception(NotFound()).code)
            out.append(_error(lambda: app.handle_url_build_error(BuildError("e", {}, None), "e", {})))
        started: list[t.Any] = []
        body = b"".join(app(EnvironBuilder("/").get_environ(), lambda s, h, exc=None: started.append((s, h))))
        return [*out, started, body]

    assert same(probe)[1][-1] == b"x"


def test_app_level_registration() -> None:
    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("r")
        app.add_template_filter(lambda s: s[::-1], "rev")
        app.add_template_test(lambda n: n > 1, "big")
        app.add_template_global(lambda: 1, "one")

        @app.url_defaults
        def default_x(endpoint: str, values: dict[str, t.Any]) -> None:
            if "x" in next(app.url_map.iter_rules(endpoint)).arguments:
                values.setdefault("x", "d")

        app.add_url_rule("/<x>/y", "y", lambda x: fw.url_for("y"))
        app.shell_context_processor(lambda: {"a": 1})
        with app.app_context():
            out = [fw.render_template_string("{{ 'ab'|rev }} {{ 2 is big }} {{ one() }}"),
                   sorted(app.make_shell_context())]
        return [*out, app.test_client().get("/q/y").data]

    assert same(probe)[1] == ["ba True 1", ["a", "app", "g"], b"/d/y"]
