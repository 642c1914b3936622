"""Sphinx configuration: `make docs` builds docs/_build/html offline, warnings as errors (-W -n).

Sphinx is the generator Flask's documentation uses; docs/README.md says why it was chosen here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import sys
import tempfile
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from docutils import nodes  # type: ignore[import-untyped]
from docutils.statemachine import StringList  # type: ignore[import-untyped]
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# autodoc imports the modules; without these variables they take their local, side-effect-free path.
for _name in ("GAE_ENV", "K_SERVICE", "FUNCTION_TARGET", "DATASTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST",
              "LOCAL_PLATFORM_TOKEN"):
    os.environ.pop(_name, None)

project = "framework"
author = "the framework authors"
copyright = "the framework authors"
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build", "README.md", "tutorial/app"]
root_doc = "index"
# Docstrings in this repository write `name` for code, as Markdown does.
default_role = "literal"
nitpicky = True
nitpick_ignore_regex = [
    # Offline build: other projects' inventories cannot be fetched, so only our own names are checked.
    (r"py:.*", r"(?!framework\b|deploy\b).*"),
    # Type variables and private names that appear in signatures but are not part of the API.
    (r"py:.*", r"(framework|deploy)\..*\.(_\w*|[A-Z]|T_\w+)"),
]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}
html_theme = "alabaster"
html_title = "framework documentation"
html_theme_options = {"description": "Flask-compatible, for App Engine and Cloud Functions", "page_width": "1100px"}


def _plain_layout(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Give the Markdown-style docstrings a blank line where their indentation changes or a list starts.

    The modules' docstrings indent continuation lines and examples, and start lists, without reST's blank
    lines; with one added, a deeper line becomes a block quote (or a list item's next paragraph) instead
    of a warning.
    """
    out: list[str] = []
    previous: int | None = None
    for line in lines:
        if not line.strip():
            out.append(line)
            previous = None
            continue
        indent = len(line) - len(line.lstrip())
        if previous is not None:
            starts_list = _LIST_ITEM.match(line) is not None and _LIST_ITEM.match(out[-1]) is None
            if starts_list or (indent != previous and not _continues_list(out[-1], indent)):
                out.append("")
        out.append(line)
        previous = indent
    lines[:] = out


_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+\.)\s+")


def _continues_list(previous_line: str, indent: int) -> bool:
    """A line aligned with the text of the list item above it continues that item."""
    match = _LIST_ITEM.match(previous_line)
    return match is not None and indent == len(match.group(0))


@cache
def command_help(command: str) -> str:
    """`python -m COMMAND --help`, run in this process (runpy) in an empty folder, so no app is found."""
    module, *args = command.split()
    out = io.StringIO()
    saved = sys.argv, os.getcwd(), dict(os.environ)
    os.environ["COLUMNS"] = "88"
    try:
        with tempfile.TemporaryDirectory() as empty, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # runpy: the package imported its __main__ before
            os.chdir(empty)
            sys.argv = [f"python -m {module}", *args, "--help"]
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit as stop:
                if stop.code not in (0, None):
                    raise RuntimeError(f"python -m {command} --help exited with {stop.code}") from None
    finally:
        sys.argv = saved[0]
        os.chdir(saved[1])
        os.environ.clear()  # a command may set variables (the CLI does): none leaks into later pages
        os.environ.update(saved[2])
    return out.getvalue().rstrip()


class CommandHelp(SphinxDirective):
    """`.. command-help:: deploy app`: the command's own --help, as a literal block, so it cannot go stale."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        text = command_help(self.arguments[0])
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


class FrameworkNames(SphinxDirective):
    """`.. framework-names::`: a table of every name `from framework import ...` offers, linked to its entry."""

    def run(self) -> list[nodes.Node]:
        import framework

        rows = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "", "   * - name", "     - defined in"]
        for name in framework.__all__:
            module, attribute = ("json", None) if name == "json" else framework._EXPORTS[name]
            target = f"framework.{module}" if attribute is None else f"framework.{module}.{attribute}"
            role = "mod" if attribute is None else "obj"
            rows += [f"   * - :py:{role}:`{name} <{target}>`", f"     - ``framework.{module}``"]
        container = nodes.container()
        self.state.nested_parse(StringList(rows, source="framework-names"), self.content_offset, container)
        return container.children


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _plain_layout)
    app.add_directive("command-help", CommandHelp)
    app.add_directive("framework-names", FrameworkNames)
