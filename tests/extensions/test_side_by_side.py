"""Real Flask and framework.App in one process, both import orders (each in a fresh interpreter):
each app sees only its own contexts and users, also with one app's request handled inside the
other's; importing framework does not import flask, and binding starts when flask is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT

SCRIPT = Path(__file__).parent / "apps" / "side_by_side.py"

EXPECTED = {
    "flask/me": {"user": "flask:f", "app": "real_flask", "path": "/me"},
    "framework/me": {"user": "framework:f", "app": "ours", "path": "/me"},
    "flask/nested": {"inner": "framework:ours:/plain", "after": "real_flask", "g": "flask"},
    "framework/nested": {"inner": "flask:real_flask:/plain", "after": "ours", "g": "framework"},
    "seen": ["flask sees real_flask", "framework sees ours"],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("order", ["framework-first", "framework-package-first", "flask-first"])
def test_flask_and_framework_apps_side_by_side(order: str) -> None:
    proc = _run(str(SCRIPT), order)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == EXPECTED


def test_import_framework_does_not_import_flask_and_binding_waits_for_it() -> None:
    code = (
        "import sys, framework, framework.globals\n"
        "from framework import App, flask_bridge\n"
        "app = App('light'); app.add_url_rule('/', 'i', lambda: 'x'); app.test_client().get('/')\n"
        "before = ('flask' in sys.modules, flask_bridge.is_active(), flask_bridge.contexts_shared())\n"
        "watching = sum(type(f).__name__ == '_FlaskImportFinder' for f in sys.meta_path)\n"
        "import flask.globals\n"
        "after = (flask_bridge.is_active(), flask.globals._cv_app is framework.globals._cv_app,"
        " flask.globals._cv_request is framework.globals._cv_request)\n"
        "left = sum(type(f).__name__ == '_FlaskImportFinder' for f in sys.meta_path)\n"
        "print(before, watching, after, left)\n"
    )
    proc = _run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "(False, False, False) 1 (True, True, True) 0"


def test_flask_imported_first_binds_at_import_framework() -> None:
    proc = _run("-c", "import sys, flask, framework\nprint(framework.flask_bridge.is_active(), "
                      "sum(type(f).__name__ == '_FlaskImportFinder' for f in sys.meta_path))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True 0"
