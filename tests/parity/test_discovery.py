"""CLI app discovery parity (ScriptInfo.load_app) in a scratch directory per test.

Deliberate difference, asserted below: framework tries `main.py` (App Engine's entry point) before
Flask's `wsgi.py` then `app.py`; with no main.py the two agree.
"""

from __future__ import annotations

import importlib
import pathlib
import sys
import typing as t
from types import ModuleType

import pytest

from .diff import same

_MODULES = ("app", "wsgi", "main", "factory", "noapp")


@pytest.fixture
def workdir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> t.Iterator[pathlib.Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in _MODULES:  # restored afterwards; each run below imports its own copies
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
    yield tmp_path
    for name in _MODULES:  # the copies must not leak into later tests of this worker (e.g. an `app`)
        sys.modules.pop(name, None)


def _write(workdir: pathlib.Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (workdir / name).write_text(body)


def _load(fw: ModuleType, workdir: pathlib.Path, files: dict[str, str], import_path: str | None = None) -> t.Any:
    """Write `files` for `fw` (its package name substituted for PKG), load the app, report its name."""
    for name in _MODULES:
        sys.modules.pop(name, None)
    for path in workdir.glob("*.py"):
        path.unlink()
    _write(workdir, {k: v.replace("PKG", fw.__name__) for k, v in files.items()})
    cli = importlib.import_module(f"{fw.__name__}.cli")
    try:
        return cli.ScriptInfo(app_import_path=import_path).load_app().name
    except Exception as e:
        return type(e).__name__


_APP = "import PKG\napp = PKG.Flask({name!r})\n"
_FACTORY = "import PKG\ndef create_app(name='default'):\n    return PKG.Flask(name)\n"


@pytest.mark.parametrize(("files", "import_path", "expected"), [
    ({"app.py": _APP.format(name="from-app")}, None, "from-app"),
    ({"wsgi.py": _APP.format(name="from-wsgi")}, None, "from-wsgi"),
    ({"wsgi.py": _APP.format(name="from-wsgi"), "app.py": _APP.format(name="from-app")}, None, "from-wsgi"),
    ({"wsgi.py": "x = 1\n", "app.py": _APP.format(name="from-app")}, None, "NoAppException"),
    ({}, None, "NoAppException"),
    ({"factory.py": _FACTORY}, "factory", "default"),
    ({"factory.py": _FACTORY}, "factory:create_app('given')", "given"),
    ({"factory.py": _FACTORY}, "factory:create_app(name='kw')", "kw"),
    ({"factory.py": _FACTORY}, "factory:create_app(1, 2, 3)", "NoAppException"),
    ({"factory.py": _FACTORY}, "factory:missing", "NoAppException"),
    ({"factory.py": _FACTORY}, "factory:create_app(x)", "NoAppException"),
    ({"noapp.py": "import does_not_exist_parity\n"}, "noapp", "NoAppException"),
    ({}, "not_a_module_parity", "NoAppException"),
])
def test_discovery(workdir: pathlib.Path, files: dict[str, str], import_path: str | None, expected: str) -> None:
    assert same(lambda fw: _load(fw, workdir, files, import_path)) == ("ok", expected)


def test_main_py_first_is_deliberate(workdir: pathlib.Path) -> None:
    import flask

    import framework

    files = {"main.py": _APP.format(name="from-main"), "wsgi.py": _APP.format(name="from-wsgi")}
    assert _load(framework, workdir, files) == "from-main"
    assert _load(flask, workdir, files) == "from-wsgi"
