"""cron.yaml: jobs with App Engine's schedule grammar (parsed by framework.schedule), §5.4."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from framework.schedule import Schedule


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
