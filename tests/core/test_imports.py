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


# Run in a fresh interpreter: reports each place where the framework's own code makes Python generate code
# while `import framework`, `App(...)` and the modules of a first session and template load (a regex compiled, a dataclass's methods or a NamedTuple built by
# exec/eval, a string type argument compiled into a ForwardRef). Module bodies of the standard library and of
# werkzeug are not ours and not reported: the walk stops at the import system's own frames.
_CODEGEN_PROBE = """
import os, sys
FW = os.path.join(os.getcwd(), "framework") + os.sep
STD = os.path.dirname(os.__file__) + os.sep
sites = []

def ours(frame):
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen"):
            return None
        if not name.startswith(STD) or "-packages" in name:  # a library, even one installed under the stdlib
            return f"{name[len(FW) - len('framework/'):]}:{frame.f_lineno}" if name.startswith(FW) else None
        frame = frame.f_back
    return None

def watch(frame, event, arg):
    site = None
    if event == "c_call" and arg in (compile, eval, exec):
        site = ours(frame)
    elif event == "call" and frame.f_code.co_name == "_compile" and frame.f_code.co_filename.endswith("re/__init__.py"):
        site = ours(frame.f_back)
    if site:
        sites.append(site)

sys.setprofile(watch)
from framework import App
app = App(__name__)
import framework.sessions, framework.templating, framework.json.tag  # a typical app's first session and page
sys.setprofile(None)
print("\\n".join(sorted(set(sites))))
"""


def test_cold_path_generates_no_code() -> None:
    """Code generation at import is a cold-start cost every process pays before its first request: a
    frozen dataclass cost about 1.5% of a small app's start, a regex or a string-bound TypeVar a few
    tenths. Patterns compile on first use (`lazy_pattern`), TypeVars live under TYPE_CHECKING."""
    out = subprocess.run([sys.executable, "-c", _CODEGEN_PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    sites = [line for line in out.stdout.splitlines() if line]
    # NamedTuples are tuples by contract (callers unpack and compare them), built once per process.
    lines = {site: (REPO_ROOT / site.rpartition(":")[0]).read_text().splitlines()[int(site.rpartition(":")[2]) - 1]
             for site in sites}
    offenders = [f"{site}: {text.strip()}" for site, text in lines.items() if "NamedTuple" not in text]
    assert offenders == []
    assert any("NamedTuple" in text for text in lines.values()), "the probe no longer sees code generation"


def test_rare_input_patterns_compile_only_when_needed() -> None:
    code = (
        "import framework, io\n"
        "from framework import input_checks, wrappers\n"
        "app = framework.App('p')\n"
        "app.secret_key = 'k'\n"
        "@app.route('/<path:p>')\n"
        "def echo(p):\n"
        "    return framework.session.get('n', p)\n"
        "@app.route('/go')\n"
        "def go():\n"
        "    return framework.redirect('/there?x=1')\n"
        "pats = {'escape': input_checks.BAD_ESCAPE, 'cookie': wrappers._PLAIN_COOKIE_HEADER,"
        " 'uri': wrappers.URI_UNCHANGED}\n"
        "compiled = lambda: sorted(k for k, v in pats.items() if 'fullmatch' in vars(v))\n"
        "client = app.test_client()\n"
        "assert client.get('/plain').status_code == 200 and compiled() == [], compiled()\n"
        "assert client.get('/a%zz').status_code == 400 and compiled() == ['escape'], compiled()\n"
        "assert client.get('/go').status_code == 302 and compiled() == ['escape', 'uri'], compiled()\n"
        "client.set_cookie('session', 'x')\n"
        "assert client.get('/c').status_code == 200 and compiled() == ['cookie', 'escape', 'uri'], compiled()\n"
    )
    _modules_after(code)


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
