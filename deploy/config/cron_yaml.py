"""cron.yaml: jobs with App Engine's schedule grammar (parsed by framework.schedule), §5.4."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .problems import Problem
from .yaml_nodes import (
    Findings,
    Node,
    check_keys,
    expect_list,
    expect_map,
    get_str,
    read_retry_values,
    read_yaml,
)

if TYPE_CHECKING:
    from framework.schedule import Schedule

MAX_DESCRIPTION = 499
_TARGET = re.compile(r"((?!-)[a-z\d-]{1,63}:)?(?!-)[a-z\d-]{1,100}")  # [service:]version-or-service, as the SDK
_DEADLINE = re.compile(r"\d+(\.\d+)?s")
_JOB_KEYS = ("description", "url", "schedule", "timezone", "target", "retry_parameters", "attempt_deadline")
_RETRY_KEYS = ("job_retry_limit", "job_age_limit", "min_backoff_seconds", "max_backoff_seconds", "max_doublings")


@dataclass(frozen=True)
class CronRetry:
    job_retry_limit: int = 0
    job_age_limit: float | None = None  # seconds
    min_backoff_seconds: float = 2.5  # defaults unconfirmed (§5.4): the conservative values Cloud Scheduler documents
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 5


@dataclass(frozen=True)
class CronJob:
    url: str
    schedule: Schedule  # knows its own timezone
    line: int
    description: str = ""
    target: str | None = None  # service; None = default (a dispatch.yaml rule for the url overrides it)
    retry: CronRetry = CronRetry()
    attempt_deadline: float | None = None


@dataclass(frozen=True)
class Cron:
    path: Path | None
    jobs: tuple[CronJob, ...] = ()
    warnings: tuple[Problem, ...] = field(default=(), compare=False)


def _retry(node: Node | None, findings: Findings) -> CronRetry:
    block = expect_map(node, "retry_parameters", findings, "`retry_parameters:` with e.g. `job_retry_limit: 3`")
    if block is None:
        return CronRetry()
    check_keys(block, _RETRY_KEYS, "retry_parameters", findings)
    return CronRetry(**read_retry_values(block, "job", 5, findings))  # type: ignore[arg-type]  # 0-5: §5.4


def check_timezone(node: Node | None, findings: Findings) -> str:
    """An IANA time zone name known to zoneinfo (tzdata); UTC when unset or wrong."""
    if node is None:
        return "UTC"
    name = get_str(node, "timezone", findings, "write a zone name, e.g. `timezone: Europe/Berlin`") or ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        findings.error(node.key_line, f"timezone {name!r} is not a known time zone",
                       "use an IANA name such as Europe/Berlin, America/New_York or UTC")
        return "UTC"
    return name


def _schedule(node: Node | None, timezone: str, line: int, findings: Findings) -> Schedule | None:
    if node is None:
        findings.error(line, "this cron job has no schedule", "add e.g. `schedule: every 24 hours`")
        return None
    text = get_str(node, "schedule", findings, "write e.g. `schedule: every monday 09:00`")
    if text is None:
        return None
    from framework.schedule import Schedule, ScheduleError

    try:
        return Schedule.parse(text, timezone=timezone)
    except ScheduleError as exc:
        problem, _, fix = str(exc).partition("; ")
        findings.error(node.key_line, problem, fix or "write e.g. `every 24 hours` or `every monday 09:00`")
        return None


def _job(item: Node, findings: Findings) -> CronJob | None:
    entry = expect_map(item, "a cron job", findings, "`- url: /path` with `schedule:` below it")
    if entry is None:
        return None
    check_keys(entry, _JOB_KEYS, "a cron job", findings)
    url_node = entry.get("url")
    line = url_node.key_line if url_node else entry.line
    url = get_str(url_node, "url", findings, "write the handler's path, e.g. `url: /tasks/cleanup`")
    if url_node is None:
        findings.error(entry.line, "this cron job has no url", "add `url: /path` (the handler App Engine calls)")
    elif url is not None and not url.startswith("/"):
        findings.error(url_node.key_line, f"cron url {url!r} does not start with /",
                       "write a path on your app, e.g. /tasks/cleanup")
        url = None
    description = get_str(entry.get("description"), "description", findings, "write the description as text")
    if description is not None and "\n" in description.rstrip("\n"):
        findings.error(entry.entries["description"].key_line, "description spans several lines",
                       "write the description on one line")
    elif description is not None and len(description) > MAX_DESCRIPTION:
        findings.error(entry.entries["description"].key_line, f"description is {len(description)} characters; "
                       f"the limit is {MAX_DESCRIPTION}", "shorten it")
    timezone = check_timezone(entry.get("timezone"), findings)
    schedule = _schedule(entry.get("schedule"), timezone, line, findings)
    target_node = entry.get("target")
    target = get_str(target_node, "target", findings, "write a service name, e.g. `target: worker`")
    if target_node is not None and target is not None and not _TARGET.fullmatch(target):
        findings.error(target_node.key_line, f"target {target!r} is not a service (or version) id",
                       "use the `service:` name from that service's app.yaml")
    retry = _retry(entry.get("retry_parameters"), findings)
    deadline = None
    deadline_node = entry.get("attempt_deadline")
    if deadline_node is not None:
        if deadline_node.is_scalar and _DEADLINE.fullmatch(deadline_node.text.strip()):
            deadline = float(deadline_node.text.strip()[:-1])
        else:
            findings.error(deadline_node.key_line, f"attempt_deadline is {deadline_node.describe()}",
                           "write seconds with an s, e.g. `attempt_deadline: 600s`")
    if url is None or schedule is None:
        return None
    return CronJob(url, schedule, line, description or "", target, retry, deadline)


def read_cron_node(root: Node, path: Path, findings: Findings) -> Cron:
    check_keys(root, ("cron",), "cron.yaml", findings, handled=("application",))
    if "application" in root.entries:
        findings.error(root.entries["application"].key_line, "`application:` is not allowed in cron.yaml",
                       "remove it; pass --project to gcloud")
    if "cron" not in root.entries:
        findings.error(1, "cron.yaml has no `cron:` list",
                       "start with `cron:` and list jobs below it (`cron:` alone deletes every job)")
    items = expect_list(root.get("cron"), "cron", findings, "`- url: /path` entries")
    jobs = [_job(item, findings) for item in items]
    return Cron(path, tuple(j for j in jobs if j is not None))


def load_cron(path: Path | str) -> Cron:
    """Read and check cron.yaml; ConfigError lists every problem (FILE:LINE)."""
    path = Path(path)
    findings = Findings(path)
    root = expect_map(read_yaml(path, findings), "the top level of cron.yaml", findings,
                      "`cron:` followed by a list of jobs")
    cron = read_cron_node(root, path, findings) if root is not None else Cron(path)
    findings.raise_if_errors()
    return Cron(cron.path, cron.jobs, findings.warnings())
