"""Import hygiene: `import framework` + building an App pulls in no heavy optional libraries,
the lazy public namespace resolves every name, and deferring werkzeug's __init__ is invisible."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import framework
from tests.support.procs import REPO_ROOT

HEAVY = ["jinja2", "itsdangerous", "click", "grpc", "google.cloud.ndb", "google.cloud.datastore",
         "google.api_core", "framework.sessions", "framework.templating", "framework.cli"]


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                         timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_and_app_do_not_load_heavy_modules() -> None:
    baseline = _modules_after("")
    loaded = _modules_after(
        "import framework\n"
        "app = framework.App('light')\n"
        "@app.route('/')\n"
        "def index():\n"
        "    return {'ok': True}\n"
        "app.test_client().get('/')\n"
    )
    new = loaded - baseline
    offenders = sorted(m for m in new for heavy in HEAVY if m == heavy or m.startswith(heavy + "."))
    assert offenders == []
    assert "google.cloud" not in new  # namespace stub may exist from .pth files; it must not be imported by us
    assert "werkzeug.serving" not in new


def test_werkzeug_package_still_behaves_normally() -> None:
    code = (
        "import framework, werkzeug\n"
        "app = framework.App('w')\n"
        "assert 'werkzeug.serving' not in sys.modules\n"
        "assert werkzeug.exceptions.NotFound.code == 404\n"
        "assert werkzeug.test.Client.__name__ == 'Client'\n"  # submodule nobody imported yet
        "assert 'werkzeug.serving' not in sys.modules\n"
        "import threading\n"
        "seen = []\n"
        "threads = [threading.Thread(target=lambda: seen.append(werkzeug.Client)) for _ in range(8)]\n"
        "[th.start() for th in threads]\n"
        "[th.join() for th in threads]\n"
        "assert len(seen) == 8 and len(set(seen)) == 1\n"  # first use from many threads at once
        "from werkzeug import Client, Request, Response, run_simple\n"
        "import werkzeug.serving\n"
        "assert werkzeug.run_simple is werkzeug.serving.run_simple\n"
        "assert Client.__module__ == 'werkzeug.test'\n"
        "try:\n    werkzeug.not_a_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)\n"
        "import flask\n"  # a library importing werkzeug after us (Flask is a dev dependency) still works
        "fapp = flask.Flask('f')\n"
        "fapp.add_url_rule('/', 'i', lambda: 'ok')\n"
        "assert fapp.test_client().get('/').data == b'ok'\n"
    )
    _modules_after(code)


@pytest.mark.parametrize("name", sorted(framework.__all__))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(framework, name) is not None


def test_flask_alias_and_unknown_names() -> None:
    assert framework.Flask is framework.App
    with pytest.raises(AttributeError):
        framework.does_not_exist  # noqa: B018
    with pytest.deprecated_call():
        assert isinstance(framework.__version__, str)
    assert "render_template" in dir(framework)


def test_submodules_are_attributes_on_first_use() -> None:
    loaded = _modules_after(
        "import framework\n"
        "assert 'framework.sessions' not in sys.modules\n"
        "assert framework.sessions.__name__ == 'framework.sessions'\n"
        "assert framework.ctx.AppContext and framework.wrappers.Request\n"
    )
    assert "framework.sessions" in loaded
