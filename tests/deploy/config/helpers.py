"""Helpers for the config-loader tests: write a YAML file, load it, list (line, message) of its problems."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.config.problems import ConfigError, Problem


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems(loader: Callable[[Path], Any], path: Path) -> list[Problem]:
    """Every problem the loader reports: the ConfigError's, or the warnings on a successful result."""
    try:
        result = loader(path)
    except ConfigError as exc:
        return exc.problems
    return list(result.warnings)


def errors(loader: Callable[[Path], Any], path: Path) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in problems(loader, path) if p.severity == "error"]


def warnings(loader: Callable[[Path], Any], path: Path) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in problems(loader, path) if p.severity == "warning"]


def assert_one_error(loader: Callable[[Path], Any], path: Path, line: int, words: str) -> Problem:
    """Exactly one error, on `line`, whose message contains `words`; it has a fix."""
    found = [p for p in problems(loader, path) if p.severity == "error"]
    assert [(p.line, words in p.message) for p in found] == [(line, True)], [str(p) for p in found]
    assert found[0].fix and found[0].file == path
    return found[0]

