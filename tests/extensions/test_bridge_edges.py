"""Edges of the bridge: CLI commands see the framework app through flask; a flask.globals laid out
differently from Flask 3.0/3.1 (Flask 3.2 merges the two contexts) is left apart with one warning, in
either import order, and framework apps keep working on their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import flask

from framework import App
from tests.support.procs import REPO_ROOT


def test_cli_command_sees_the_app_through_flask() -> None:
    app = App("cli_names")

    @app.cli.command("where")
    def where() -> None:
        print(flask.current_app.name, flask.has_app_context(), flask.has_request_context())

    result = app.test_cli_runner().invoke(args=["where"])
    assert result.exit_code == 0, result.output
    assert result.output == "cli_names True False\n"


def _run(code: str, pythonpath: str | None = None) -> list[str]:
    env_path = [str(REPO_ROOT)] if pythonpath is None else [pythonpath, str(REPO_ROOT)]
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=120, env={"PYTHONPATH": ":".join(env_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return [proc.stdout, proc.stderr]


_ALONE = """
app = App("alone")
app.add_url_rule("/", "i", lambda: "ok")
print(app.test_client().get("/").get_data(as_text=True))
"""


def test_unknown_layout_with_flask_imported_first() -> None:
    out, err = _run(textwrap.dedent("""
        import flask.globals
        from werkzeug.local import LocalProxy
        flask.globals.request = LocalProxy(flask.globals._cv_app, "request")  # one merged context
        import framework.globals
        from framework import App
        print(framework.globals._cv_app is flask.globals._cv_app)
    """) + _ALONE)
    assert out == "False\nok\n"
    assert err.count("RuntimeWarning: framework cannot share its contexts with this Flask") == 1


def test_unknown_layout_with_framework_imported_first(tmp_path: Path) -> None:
    fake = tmp_path / "flask"  # a stand-in package laid out as a future Flask might be
    fake.mkdir()
    (fake / "__init__.py").write_text("from . import globals, signals\n")
    (fake / "globals.py").write_text(
        "from contextvars import ContextVar\nfrom werkzeug.local import LocalProxy\n"
        "_cv_app = ContextVar('flask.app_ctx')\n"
        "app_ctx = LocalProxy(_cv_app)\ncurrent_app = LocalProxy(_cv_app, 'app')\ng = LocalProxy(_cv_app, 'g')\n"
        "request = LocalProxy(_cv_app, 'request')\nsession = LocalProxy(_cv_app, 'session')\n"
    )
    (fake / "signals.py").write_text("from blinker import Namespace\nrequest_started = Namespace().signal('request-started')\n")
    out, err = _run(textwrap.dedent("""
        import framework.globals
        from framework import App, flask_bridge
        import flask
        print(flask.__file__.endswith("flask/__init__.py"), flask.globals._cv_app is framework.globals._cv_app,
              flask_bridge.is_active())
    """) + _ALONE, pythonpath=str(tmp_path))
    assert out == "True False False\nok\n"
    assert err.count("RuntimeWarning: framework cannot share its contexts with this Flask") == 1


def test_flask_imported_from_a_zip_after_framework(tmp_path: Path) -> None:
    # zipimport hands one loader to every module of the archive: only flask.globals may be rebound.
    import zipfile

    archive = tmp_path / "flask.zip"
    package = Path(flask.__file__).parent
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(package.rglob("*")):
            if path.suffix == ".py" or (path.is_dir() and path.name != "__pycache__"):
                zf.write(path, str(path.relative_to(package.parent)))  # directories too: flask.sansio has no __init__
    out, err = _run(textwrap.dedent("""
        import framework.globals
        from framework import App
        import flask
        print(".zip" in flask.__file__, flask.globals._cv_app is framework.globals._cv_app,
              flask.json.__loader__ is flask.globals.__loader__)
        app = App("zipped")
        app.add_url_rule("/", "i", lambda: flask.request.path + " " + flask.current_app.name)
        print(app.test_client().get("/").get_data(as_text=True))
    """), pythonpath=str(archive))
    assert out == "True True True\n/ zipped\n"
    assert "RuntimeWarning" not in err
