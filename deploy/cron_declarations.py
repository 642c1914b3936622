"""The `@app.cron` declarations of a project's services, read by importing each app in a subprocess.

deploy/ never imports the app itself: each service's WSGI app (its entrypoint's `module:attr`, App Engine's
default `main:app`) is imported by the service's own interpreter, which prints the declarations as JSON.
They become ordinary cron.yaml jobs (`CronJob`, checked by the same loader as cron.yaml), so the local
scheduler, `deploy cron list/run` and `deploy cron write/check` all see one kind of job. A job declared in
a service other than `default` targets that service unless it names a target itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy.config.app_yaml import AppYaml
from deploy.config.cron_yaml import Cron, CronJob, read_cron_node
from deploy.config.project import Project
from deploy.config.yaml_nodes import Findings, parse_yaml

__all__ = ["Declared", "DeclarationError", "app_target", "declared_jobs", "jobs_to_yaml", "merge_jobs",
           "project_cron_jobs", "read_declarations"]

DEFAULT_APP = "main:app"  # App Engine's default entrypoint is `gunicorn main:app` (§1.3)
IMPORT_TIMEOUT = 120.0
_MARKER = "@@framework-cron-declarations@@ "
_APP_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

# Runs in the service's interpreter, in the service's folder: import the app, print its declarations.
_PROBE = """
import importlib, json, sys
sys.path.insert(0, ".")
module, _, attr = sys.argv[1].partition(":")
app = getattr(importlib.import_module(module), attr)
jobs = [dict(job.to_yaml(), endpoint=job.endpoint) for job in getattr(app, "cron_jobs", None) or ()]
print(sys.argv[2] + json.dumps(jobs), flush=True)
"""


class DeclarationError(Exception):
    """A service's app could not be imported (or printed nonsense); the message says which and why."""


@dataclass(frozen=True)
class Declared:
    """One service's declarations: the jobs as cron.yaml entries, and where they came from."""

    service: str
    app_spec: str  # module:attr
    entries: tuple[dict[str, Any], ...]


def app_target(service: AppYaml) -> str | None:
    """The `module:attr` the service's entrypoint serves (`main:app` with no entrypoint); None if unknown."""
    if not service.entrypoint:
        return DEFAULT_APP if (service.root / "main.py").is_file() else None
    for word in reversed(service.entrypoint.split()):
        if _APP_SPEC.match(word):
            return word
    return None


def read_declarations(service: AppYaml, python: str | None = None, timeout: float = IMPORT_TIMEOUT) -> Declared:
    """Import `service`'s app with `python` (default: this interpreter) and return its cron declarations."""
    spec = app_target(service)
    if spec is None:
        return Declared(service.service, "", ())
    env = {**os.environ, **dict(service.env_variables), "PYTHONDONTWRITEBYTECODE": "1"}
    # The probe only imports the app: it must not start ndb/emulator clients meant for the runner.
    for key in ("GAE_ENV", "LOCAL_PLATFORM_TOKEN"):
        env.pop(key, None)
    try:
        done = subprocess.run([python or sys.executable, "-c", _PROBE, spec, _MARKER], cwd=service.root, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DeclarationError(f"importing {spec} in {service.root} took over {timeout:g} s; "
                               "does the module start work at import time?") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARKER)]
    if done.returncode != 0 or not lines:
        detail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise DeclarationError(f"could not import {spec} from {service.root} to read its @app.cron jobs: "
                               f"{detail}")
    try:
        entries = json.loads(lines[-1][len(_MARKER):])
    except ValueError as exc:
        raise DeclarationError(f"{spec} printed unreadable declarations: {exc}") from None
    if service.service != "default":
        for entry in entries:
            entry.setdefault("target", service.service)
    return Declared(service.service, spec, tuple(entries))


def jobs_to_yaml(entries: list[dict[str, Any]], header: str = "") -> str:
    """cron.yaml text for `entries` (cron.yaml job mappings), with an optional comment header."""
    body = [{k: v for k, v in entry.items() if k != "endpoint"} for entry in entries]
    text = yaml.safe_dump({"cron": body}, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return header + text


def declared_jobs(project: Project, python_for: dict[str, str] | None = None) -> tuple[list[CronJob], list[Declared]]:
    """Every service's declarations as CronJobs (checked by the cron.yaml loader), and the raw declarations.

    `python_for` maps a service name to the interpreter that runs it (default: this one).
    """
    declared = [read_declarations(svc, (python_for or {}).get(svc.service)) for svc in project.services]
    entries = [entry for d in declared for entry in d.entries]
    return list(_as_cron(entries).jobs), declared


def _as_cron(entries: list[dict[str, Any]]) -> Cron:
    origin = Path("<@app.cron declarations>")
    findings = Findings(origin)
    root = parse_yaml(jobs_to_yaml(entries), findings)
    cron = read_cron_node(root, origin, findings) if root is not None else Cron(origin)
    findings.raise_if_errors()
    return cron


def merge_jobs(from_file: Cron, declared: list[CronJob]) -> list[CronJob]:
    """What runs locally: cron.yaml's jobs (it is what gets deployed), then declared jobs it does not list."""
    urls = {job.url for job in from_file.jobs}
    return [*from_file.jobs, *(job for job in declared if job.url not in urls)]


def project_cron_jobs(project: Project, python_for: dict[str, str] | None = None) -> list[CronJob]:
    """cron.yaml plus the `@app.cron` declarations, for the local scheduler (raises DeclarationError,
    or ConfigError when a declaration is one cron.yaml would refuse)."""
    declared, _ = declared_jobs(project, python_for)
    return merge_jobs(project.cron, declared)
