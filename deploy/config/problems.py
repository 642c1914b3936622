"""What is wrong with a config file, where, and how to fix it: the one error type every checker returns."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding: `FILE:LINE: message`, then `  fix: ...` on the next line."""

    file: Path
    line: int
    message: str
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}: {label}{self.message}\n  fix: {self.fix}"


def shown_path(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to the working folder when it is inside it (shorter lines), else as it is."""
    try:
        base = (cwd or Path.cwd()).resolve()
        return os.path.relpath(path, base) if Path(path).resolve().is_relative_to(base) else str(path)
    except (OSError, ValueError):  # no working folder any more, or another drive
        return str(path)


def format_problems(problems: Sequence[Problem], cwd: Path | None = None) -> str:
    """The report `python -m deploy check` prints: grouped by file (in the order read), by line in a file."""
    order: dict[Path, int] = {}
    for problem in problems:
        order.setdefault(problem.file, len(order))
    lines = []
    for p in sorted(problems, key=lambda p: (order[p.file], p.line)):
        label = "warning: " if p.severity == "warning" else ""
        lines.append(f"{shown_path(p.file, cwd)}:{p.line}: {label}{p.message}\n  fix: {p.fix}")
    return "\n".join(lines)


class ConfigError(Exception):
    """Raised when a config file has at least one error; carries every problem found (warnings too).

    Its text is the same report `python -m deploy check` prints, so the runner stops with the same lines.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
