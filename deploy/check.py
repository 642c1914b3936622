"""`python -m deploy check [DIR] [FILES...]`: every config file of a deploy checked as strictly as gcloud.

Prints `FILE:LINE: problem` and `  fix: ...` per problem, then a summary; exit 1 on any error, 0 when there
are only warnings. The local runner and the deploy command stop on the same problems.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .config.problems import ConfigError, Problem, format_problems, shown_path
from .config.project import load_project, pick_files


def summary(problems: Sequence[Problem], files: Sequence[Path], cwd: Path | None = None) -> str:
    """One line: what was checked and how many errors and warnings it has."""
    cwd = (cwd or Path.cwd()).resolve()
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    names = ", ".join(shown_path(f, cwd) for f in files)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    verdict = "FAILED" if errors else "OK"
    return f"{verdict}: {counts} in {len(files)} file{'s' * (len(files) != 1)} ({names})"


def split_targets(paths: Sequence[str], cwd: Path) -> tuple[Path, list[Path]]:
    """(app folder, files) from `[DIR] [FILES...]`: files are found in DIR, else in the working folder.

    DIR first: `check other-app app.yaml` means other-app's app.yaml even when the working folder has one.
    """
    app_dir, rest = cwd, list(paths)
    if rest and (cwd / rest[0]).is_dir():
        app_dir = (cwd / rest.pop(0)).resolve()
    files = []
    for name in rest:
        inside, here = app_dir / name, cwd / name
        files.append(here.resolve() if here.exists() and not inside.exists() else inside.resolve())
    return app_dir, files


def run_check(paths: Sequence[str], cwd: Path | None = None) -> tuple[int, str]:
    """(exit status, report text) of checking `[DIR] [FILES...]`."""
    cwd = (cwd or Path.cwd()).resolve()
    app_dir, files = split_targets(paths, cwd)
    checked = pick_files(app_dir, files)
    try:
        project = load_project(app_dir, files)
        problems: list[Problem] = list(project.warnings)
    except ConfigError as exc:
        problems = exc.problems
    report = format_problems(problems, cwd)
    text = (report + "\n" if report else "") + summary(problems, checked, cwd)
    return (1 if any(p.severity == "error" for p in problems) else 0), text


def command(args: argparse.Namespace) -> int:
    status, text = run_check(args.paths)
    print(text)
    return status


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check` on `python -m deploy`."""
    parser = subparsers.add_parser(
        "check", help="check app.yaml, dispatch/cron/queue/index.yaml and requirements.txt as gcloud would",
        description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("paths", nargs="*", metavar="[DIR] [FILES...]",
                        help="the app folder (default: here) and the files to deploy (default: app.yaml and "
                        "the config files beside it)")
    parser.set_defaults(func=command)

