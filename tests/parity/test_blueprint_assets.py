"""Blueprint static folders, resources and CLI groups, compared with Flask."""

from __future__ import annotations

import importlib
import pathlib
import typing as t
from types import ModuleType

import click

from .diff import same


def _error_name(fn: t.Callable[[], t.Any]) -> t.Any:
    try:
        return fn()
    except Exception as e:
        return type(e).__name__


def test_blueprint_static_and_resources(tmp_path: pathlib.Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.css").write_text("css")
    (tmp_path / "bp" / "bstatic").mkdir(parents=True)
    (tmp_path / "bp" / "bstatic" / "b.css").write_text("bcss")
    (tmp_path / "res.txt").write_bytes("héllo".encode())
    (tmp_path / "bp" / "res.txt").write_bytes("bp héllo".encode())

    def probe(fw: ModuleType) -> list[t.Any]:
        app = fw.Flask("s", root_path=str(tmp_path))
        bp = fw.Blueprint("bp", "bpmod", root_path=str(tmp_path / "bp"), static_folder="bstatic",
                          static_url_path="/bs", url_prefix="/bp")
        bp2 = fw.Blueprint("bp2", "bpmod2", root_path=str(tmp_path / "bp"), static_folder="bstatic")
        app.register_blueprint(bp)
        app.register_blueprint(bp2, url_prefix="/two")
        c = app.test_client()
        out: list[t.Any] = []
        for path in ("/bp/bs/b.css", "/static/a.css", "/two/bstatic/b.css", "/bp/bs/../res.txt"):
            rv = c.get(path)
            out.append((rv.status_code, rv.data, rv.headers.get("Cache-Control")))
            rv.close()
        with app.test_request_context():
            out += [fw.url_for("bp.static", filename="b.css"), fw.url_for("bp2.static", filename="x", _external=True),
                    app.get_send_file_max_age("x")]
        with app.open_resource("res.txt") as f:
            out.append(f.read())
        with bp.open_resource("res.txt") as f:
            out.append(f.read())
        out.append(_error_name(lambda: app.open_resource("res.txt", "w")))
        out.append([bp.has_static_folder, app.has_static_folder, bp.static_url_path, bp2.static_url_path])
        return out

    out = same(probe)[1]
    assert out[0][:2] == (200, b"bcss") and out[4] == "/bp/bs/b.css"


def test_blueprint_cli_groups() -> None:
    def probe(fw: ModuleType) -> list[str]:
        app = fw.Flask("c")
        bp = fw.Blueprint("bpc", __name__)
        flat = fw.Blueprint("bpn", __name__, cli_group=None)

        @bp.cli.command("hello")
        def hello() -> None:
            click.echo("hello from bp")

        @flat.cli.command("top")
        def top() -> None:
            click.echo("top level")

        app.register_blueprint(bp)
        app.register_blueprint(flat)
        app.register_blueprint(fw.Blueprint("bpx", __name__), cli_group="custom")
        runner = app.test_cli_runner()
        return [runner.invoke(args=a).output.replace(fw.__name__, "pkg") for a in (["bpc", "hello"], ["top"], ["hello"])]

    assert same(probe)[1][:2] == ["hello from bp\n", "top level\n"]


def test_views_module_names() -> None:
    def probe(fw: ModuleType) -> list[str]:
        views = importlib.import_module(f"{fw.__name__}.views")
        return sorted(n for n in ("View", "MethodView", "http_method_funcs") if hasattr(views, n))

    assert same(probe)[1] == ["MethodView", "View", "http_method_funcs"]
