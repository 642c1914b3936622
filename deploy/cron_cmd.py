"""`python -m deploy cron [DIR] (list | run URL | write | check)`: an app's cron jobs, locally.

list   every job (cron.yaml's and the `@app.cron` declarations) with its next runs;
run    deliver one job now through the running local runner (its `.local/runner.json`, contract 3);
write  write cron.yaml from the `@app.cron` declarations (refusing to drop hand-written jobs);
check  exit 1 when cron.yaml and the declarations disagree (a job missing, another schedule, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from deploy.config.cron_yaml import Cron, CronJob
from deploy.config.problems import ConfigError
from deploy.config.project import Project, load_project
from deploy.cron_declarations import DeclarationError, Declared, declared_jobs, jobs_to_yaml, merge_jobs

ACTIONS = ("list", "run", "write", "check")
RUNNER_STATE = Path(".local") / "runner.json"
WRITTEN_HEADER = ("# Written by `python -m deploy cron write` from the app's @app.cron declarations.\n"
                  "# Change the declarations in code and run it again; `python -m deploy cron check` compares.\n")
Out = Callable[[str], object]


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status `status`."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cron", help="list, run, write or check the app's cron jobs",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="python -m deploy cron [DIR] (list | run URL | write | check) [options]")
    parser.add_argument("words", nargs="+", metavar="[DIR] ACTION [URL]")
    parser.add_argument("--python", help="the interpreter that imports the app (default: the service's own, "
                        "as the local runner picks it)")
    parser.add_argument("--file", action="append", dest="files", default=[], metavar="FILE.yaml",
                        help="a service or cron/dispatch file of the deploy (repeat; default: app.yaml and the "
                        "config files beside it, as `python -m deploy check`)")
    parser.add_argument("--count", type=int, default=3, help="how many next runs `list` shows (default 3)")
    parser.add_argument("--force", action="store_true",
                        help="`write`: drop jobs of cron.yaml that no @app.cron declares")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    try:
        return run(args.words, python=args.python, count=args.count, force=args.force, files=args.files)
    except CommandError as exc:
        print(f"deploy cron: {exc}", file=sys.stderr)
        return exc.status


def run(words: Sequence[str], *, python: str | None = None, count: int = 3, force: bool = False,
        files: Sequence[str] = (), out: Out = print, cwd: Path | None = None) -> int:
    """The command without argparse: `words` = [DIR] ACTION [URL]."""
    cwd = cwd or Path.cwd()
    rest = list(words)
    app_dir = cwd
    if rest and rest[0] not in ACTIONS:
        candidate = cwd / rest.pop(0)
        if not candidate.is_dir():
            raise CommandError(f"{candidate} is neither a folder nor one of {', '.join(ACTIONS)}")
        app_dir = candidate.resolve()
    if not rest or rest[0] not in ACTIONS:
        raise CommandError(f"say what to do: {' | '.join(ACTIONS)} (e.g. `python -m deploy cron list`)")
    action, rest = rest[0], rest[1:]
    if action == "run":
        if len(rest) != 1:
            raise CommandError("`run` takes the job's url, e.g. `python -m deploy cron run /cron/tick`")
    elif rest:
        raise CommandError(f"`{action}` takes no more words (got {' '.join(rest)!r})")
    project = _load(app_dir, [str(app_dir / f) if (app_dir / f).exists() else str((cwd / f).resolve()) for f in files])
    if action == "run":
        return _run_job(project, rest[0], python, out)
    declared, raw = _declarations(project, python)
    if action == "list":
        return _list(project, declared, raw, count, out)
    if action == "write":
        return _write(project, raw, declared, force, out)
    return _check(project, declared, raw, out)


def _load(app_dir: Path, files: Sequence[str]) -> Project:
    try:
        return load_project(app_dir, files)
    except ConfigError as exc:
        raise CommandError(f"the app's config has problems:\n{exc}", 1) from None


def _interpreters(project: Project, python: str | None) -> dict[str, str]:
    """Each service's interpreter: the one given, else the one the local runner runs the service with."""
    if python:
        return {svc.service: python for svc in project.services}
    from deploy.local.venvs import bin_dir_for  # cold start: the runner's modules only where they are used

    found = {}
    for svc in project.services:
        bin_dir = asyncio.run(bin_dir_for(svc.service, svc.root, project.app_dir, has_entrypoint=bool(svc.entrypoint)))
        found[svc.service] = str(bin_dir / "python")
    return found


def _declarations(project: Project, python: str | None) -> tuple[list[CronJob], list[Declared]]:
    try:
        return declared_jobs(project, _interpreters(project, python))
    except DeclarationError as exc:
        raise CommandError(str(exc), 1) from None
    except ConfigError as exc:
        raise CommandError(f"an @app.cron declaration is not valid in cron.yaml:\n{exc}", 1) from None


def _origin(job: CronJob, project: Project, raw: list[Declared]) -> str:
    if project.cron.path is not None and any(j is job for j in project.cron.jobs):
        return f"{_shown(project.cron.path, project.app_dir)}:{job.line}"
    for declared in raw:
        if any(entry["url"] == job.url for entry in declared.entries):
            return f"@app.cron in {declared.app_spec} ({declared.service})"
    return "@app.cron"


def _shown(path: Path, app_dir: Path) -> str:
    """`path` relative to the working folder when inside it, else to the app's folder, else absolute."""
    for base in (Path.cwd().resolve(), app_dir):
        if path.resolve().is_relative_to(base):
            return os.path.relpath(path.resolve(), base)
    return str(path)


def _list(project: Project, declared: list[CronJob], raw: list[Declared], count: int, out: Out) -> int:
    jobs = merge_jobs(project.cron, declared)
    if not jobs:
        out(f"no cron jobs in {project.app_dir} (no cron.yaml, no @app.cron declarations)")
        return 0
    now = datetime.now(UTC)
    for job in jobs:
        zone = f" ({job.schedule.timezone})" if job.schedule.timezone != "UTC" else ""
        target = f" -> {job.target}" if job.target else ""
        out(f"{job.url}{target}: {job.schedule.text}{zone}   [{_origin(job, project, raw)}]")
        if job.description:
            out(f"    {job.description}")
        runs = job.schedule.next_runs(now, max(1, count))
        out("    next: " + ", ".join(_when(run, job.schedule.timezone) for run in runs))
    return 0


def _when(moment: datetime, zone: str) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M UTC")
    if zone != "UTC":
        text += moment.astimezone(ZoneInfo(zone)).strftime(" (%H:%M %Z)")
    return text


def _write(project: Project, raw: list[Declared], declared: list[CronJob], force: bool, out: Out) -> int:
    entries = [entry for d in raw for entry in d.entries]
    path = project.cron.path or project.app_dir / "cron.yaml"
    if not entries:
        out(f"no @app.cron declarations in {project.app_dir}; {_shown(path, project.app_dir)} left as it is")
        return 0
    declared_urls = {job.url for job in declared}
    dropped = [job for job in project.cron.jobs if job.url not in declared_urls]
    if dropped and not force:
        where = ", ".join(f"{job.url} (line {job.line})" for job in dropped)
        raise CommandError(f"{_shown(path, project.app_dir)} has jobs no @app.cron declares: {where}. Declare them with "
                           "@app.cron, or pass --force to drop them", 1)
    text = jobs_to_yaml(entries, WRITTEN_HEADER)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    out(f"wrote {_shown(path, project.app_dir)}: {len(entries)} job{'s' * (len(entries) != 1)}")
    return 0


def differences(from_file: Cron, declared: list[CronJob]) -> list[str]:
    """How cron.yaml disagrees with the declarations: one `FILE:LINE: problem` (+ fix) per finding."""
    name = _shown(from_file.path, from_file.path.parent) if from_file.path else "cron.yaml"
    fix = "  fix: run `python -m deploy cron write` (or change the @app.cron declaration)"
    if from_file.path is None:
        return [f"cron.yaml: missing, but the app declares {len(declared)} cron job(s)\n{fix}"] if declared else []
    by_url = {job.url: job for job in from_file.jobs}
    found = []
    for want in declared:
        have = by_url.get(want.url)
        if have is None:
            found.append(f"{name}:1: no job for {want.url}, which @app.cron declares ({want.schedule.text!r})\n{fix}")
            continue
        for what, mine, theirs in (
            ("schedule", _schedule_text(have), _schedule_text(want)),
            ("target", have.target or "(none)", want.target or "(none)"),
            ("description", have.description or "(none)", want.description or "(none)"),
            ("retry_parameters", _retry_text(have), _retry_text(want)),
        ):
            if what == "schedule" and have.schedule.same_as(want.schedule):
                continue
            if mine != theirs:
                found.append(f"{name}:{have.line}: {want.url} has {what} {mine!s} but @app.cron declares "
                             f"{theirs!s}\n{fix}")
    return found


def _retry_text(job: CronJob) -> str:
    changed = [f"{f.name}={getattr(job.retry, f.name):g}" for f in fields(job.retry)
               if getattr(job.retry, f.name) != f.default]
    return "{" + ", ".join(changed) + "}" if changed else "(none)"


def _schedule_text(job: CronJob) -> str:
    zone = job.schedule.timezone
    return repr(job.schedule.text) + ("" if zone == "UTC" else f" in {zone}")


def _check(project: Project, declared: list[CronJob], raw: list[Declared], out: Out) -> int:
    found = differences(project.cron, declared)
    declared_urls = {job.url for job in declared}
    for line in found:
        out(line)
    extra = [job for job in project.cron.jobs if job.url not in declared_urls]
    for job in extra:
        out(f"note: {job.url} (line {job.line}) is in cron.yaml but not declared with @app.cron; kept as written")
    verdict = "FAILED" if found else "OK"
    out(f"{verdict}: {len(found)} disagreement{'s' * (len(found) != 1)} between "
        f"{_shown(project.cron.path, project.app_dir) if project.cron.path else 'cron.yaml (none)'} and "
        f"{len(declared)} @app.cron declaration{'s' * (len(declared) != 1)}")
    return 1 if found else 0


def _run_job(project: Project, url: str, python: str | None, out: Out) -> int:
    state_file = project.app_dir / RUNNER_STATE
    try:
        state = json.loads(state_file.read_text())
        front_end, token = state["front_end_url"], state["token"]
    except FileNotFoundError:
        raise CommandError(f"no local runner is running for {project.app_dir} ({_shown(state_file, project.app_dir)} is missing); "
                           "start it with `make run` or `python -m deploy.local_server`") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"cannot read {_shown(state_file, project.app_dir)} ({exc}); restart the local runner") from None
    jobs = list(project.cron.jobs)
    if not any(job.url == url for job in jobs):  # import the app only when cron.yaml does not have it
        declared, _ = _declarations(project, python)
        jobs = merge_jobs(project.cron, declared)
    from deploy.local.cron import CronScheduler  # cold start: the runner's modules only where they are used

    scheduler = CronScheduler(jobs, front_end, token, log=out, dispatch=project.dispatch)
    try:
        status = scheduler.run_now(url)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from None
    if status == 0:
        raise CommandError(f"the local runner at {front_end} did not answer; is it still running?", 1)
    return 0 if 200 <= status <= 299 else 1
