"""An app's whole configuration as `gcloud app deploy` sees it: service files plus dispatch/cron/queue/index.

`load_project(app_dir, files)` picks files by basename as gcloud does (§5.8); with no files, app.yaml and
the config files beside it. Every problem in every file is collected before raising one ConfigError.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from .app_yaml import AppYaml, read_app_yaml_node
from .cron_yaml import Cron, read_cron_node
from .dispatch_yaml import Dispatch, read_dispatch_node
from .index_yaml import Indexes, read_index_node
from .problems import ConfigError, Problem
from .queue_yaml import Queues, read_queue_node
from .requirements import check_service_files
from .yaml_nodes import Findings, Node, expect_map, read_yaml

CONFIG_KINDS = ("cron", "dispatch", "index", "queue")
REFUSED_FILES = {"dos": "dos.yaml is no longer deployed by gcloud; use `gcloud app firewall-rules` instead"}


@dataclass(frozen=True)
class Project:
    app_dir: Path
    services: tuple[AppYaml, ...]  # the default service first
    dispatch: Dispatch
    cron: Cron
    queues: Queues
    indexes: Indexes
    warnings: tuple[Problem, ...] = ()

    def service(self, name: str) -> AppYaml:
        for svc in self.services:
            if svc.service == name:
                return svc
        raise KeyError(name)

    @property
    def config_files(self) -> tuple[Path, ...]:
        """The dispatch/cron/queue/index files in this deploy (for `gcloud app deploy`'s positional list)."""
        found = (self.dispatch.path, self.cron.path, self.queues.path, self.indexes.path)
        return tuple(p for p in found if p is not None)


def config_kind(path: Path) -> str | None:
    """"cron", "dispatch", "index", "queue" or "dos" for such a file (by basename, as gcloud); None = a service."""
    if path.suffix not in (".yaml", ".yml"):
        return None
    stem = path.name[: -len(path.suffix)]
    return stem if stem in CONFIG_KINDS or stem in REFUSED_FILES else None


def pick_files(app_dir: Path, files: Sequence[Path | str] = ()) -> list[Path]:
    """The files of one deploy: as given (relative to app_dir), or app.yaml and the config files beside it."""
    if files:
        return [(app_dir / f) if not Path(f).is_absolute() else Path(f) for f in files]
    picked = [app_dir / "app.yaml"]
    for kind in (*CONFIG_KINDS, *REFUSED_FILES):
        for suffix in (".yaml", ".yml"):
            if (app_dir / f"{kind}{suffix}").is_file():
                picked.append(app_dir / f"{kind}{suffix}")
                break
    return picked


def _root(path: Path, findings: Findings, what: str, example: str) -> Node | None:
    return expect_map(read_yaml(path, findings), f"the top level of {what}", findings, example)


def _cross_checks(project: Project, findings: Findings) -> None:
    """Warnings where one file names a service that is not part of this deploy."""
    names = {svc.service for svc in project.services}

    def check(owner: Path | None, line: int, service: str, what: str) -> None:
        if owner is not None and service not in names:
            findings.for_file(owner).warn(line, f"{what} names service {service!r}, which is not among the "
                                          f"services deployed now ({', '.join(sorted(names))})",
                                          "make sure it is already deployed, or add its app.yaml to the deploy")

    for rule in project.dispatch.rules:
        check(project.dispatch.path, rule.line, rule.service, "this dispatch rule")
    for job in project.cron.jobs:
        if job.target:  # [service:]version-or-service
            check(project.cron.path, job.line, job.target.split(":")[0], "this cron job's target")
    for queue in project.queues.queues:
        if queue.target:  # [version.]service
            check(project.queues.path, queue.line, queue.target.rsplit(".", 1)[-1], "this queue's target")


def load_project(app_dir: Path | str, files: Iterable[Path | str] = (), *, today: date | None = None) -> Project:
    """Every file of one deploy, checked; ConfigError carries every problem of every file (warnings too)."""
    app_dir = Path(app_dir).resolve()
    problems: list[Problem] = []
    services: list[AppYaml] = []
    dispatch, cron, queues, indexes = Dispatch(None), Cron(None), Queues(None), Indexes(None)
    seen_kinds: dict[str, Path] = {}
    for path in pick_files(app_dir, list(files)):
        findings = Findings(path, problems)
        kind = config_kind(path)
        if kind in REFUSED_FILES:
            findings.error(1, REFUSED_FILES[kind], f"remove {path.name} from the deploy")
            continue
        if kind is not None and kind in seen_kinds:
            findings.error(1, f"a second {kind} file in one deploy (also {seen_kinds[kind]})", "pass only one")
            continue
        if kind is not None:
            seen_kinds[kind] = path
        if kind == "dispatch":
            root = _root(path, findings, "dispatch.yaml", "`dispatch:` followed by a list of rules")
            dispatch = read_dispatch_node(root, path, findings) if root is not None else Dispatch(path)
        elif kind == "cron":
            root = _root(path, findings, "cron.yaml", "`cron:` followed by a list of jobs")
            cron = read_cron_node(root, path, findings) if root is not None else Cron(path)
        elif kind == "queue":
            root = _root(path, findings, "queue.yaml", "`queue:` followed by a list of queues")
            queues = read_queue_node(root, path, findings) if root is not None else Queues(path)
        elif kind == "index":
            root = _root(path, findings, "index.yaml", "`indexes:` followed by a list of indexes")
            indexes = read_index_node(root, path, findings) if root is not None else Indexes(path)
        else:
            root = _root(path, findings, path.name, "`runtime: python313` and other `key: value` lines")
            if root is None:
                continue
            service = read_app_yaml_node(root, path, findings, today or date.today())
            clash = next((s for s in services if s.service == service.service), None)
            if clash is not None:
                findings.error(service.line("service"), f"service {service.service!r} is also defined by "
                               f"{clash.path}", "give each service file its own `service:` name")
                continue
            check_service_files(service, findings)
            services.append(service)
    services.sort(key=lambda s: s.service != "default")
    project = Project(app_dir, tuple(services), dispatch, cron, queues, indexes)
    _cross_checks(project, Findings(app_dir, problems))
    if any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    warnings = tuple(p for p in problems if p.severity == "warning")
    return replace(project, warnings=warnings)
