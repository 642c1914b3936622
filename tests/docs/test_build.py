"""The documentation builds with Sphinx, warnings and broken internal references as errors, and its API
reference covers every public name of `framework` and every public attribute of App and Blueprint.

One `sphinx-build -b dummy` (reads and resolves every page, writes nothing) with `-W -n`, as `make docs`
runs the html builder; it takes seconds, so it runs in `make test` and the docs cannot rot silently.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import framework
from tests.docs.blocks import DOCS
from tests.support.procs import REPO_ROOT


@pytest.mark.timeout(300)  # about 10 s of CPU; a busy shared machine stretches it
def test_docs_build_without_warnings_and_document_every_public_name(tmp_path: Path) -> None:
    doctrees = tmp_path / "doctrees"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-E", "-b", "dummy",
         "-d", str(doctrees), str(DOCS), str(tmp_path / "out")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"sphinx-build failed:\n{done.stdout}\n{done.stderr}"

    with open(doctrees / "environment.pickle", "rb") as f:
        env = pickle.load(f)
    documented = set(env.domaindata["py"]["objects"])
    missing = []
    for name in framework.__all__:
        if name == "json":
            where = "framework.json"
        else:
            module, attribute = framework._EXPORTS[name]
            where = f"framework.{module}.{attribute}"
        if where not in documented:
            missing.append(f"{name} ({where})")
    # App and Blueprint: every public attribute the framework defines on them, inherited ones included.
    for cls in (framework.App, framework.Blueprint):
        where = f"{cls.__module__}.{cls.__qualname__}"
        for name in dir(cls):
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            ours = owner is not None and owner.__module__.startswith("framework.")
            if ours and not name.startswith("_") and f"{where}.{name}" not in documented:
                missing.append(f"{where}.{name}")
    assert not missing, f"public names without an API entry: {missing}"


def test_the_command_reference_shows_every_deploy_command() -> None:
    from deploy.__main__ import build_parser

    page = (DOCS / "commands.rst").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse keeps subcommands here
    missing = [name for name in sub.choices or {} if f".. command-help:: deploy {name}\n" not in page]
    assert not missing, f"docs/commands.rst has no --help block for: {missing}"
