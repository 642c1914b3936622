"""The console's cron side: the jobs the runner schedules (cron.yaml) and those declared with `@app.cron`.

Running a job now goes through the runner's CronScheduler (the same request, headers and retries as a
scheduled run). Jobs declared in code but missing from cron.yaml are listed too, read in the background
(each service is imported in its own interpreter), since App Engine deploys only cron.yaml's jobs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deploy.config.cron_yaml import CronJob
from deploy.config.project import Project
from deploy.local.console.requestlog import RequestLog, RequestRecord


@dataclass(frozen=True)
class JobRow:
    url: str
    description: str
    schedule: str
    timezone: str
    target: str
    next_run: datetime | None
    scheduled: bool  # False: declared with @app.cron only, not in cron.yaml
    last: RequestRecord | None
    running: bool


class Crons:
    """What the cron page shows, and "run now"."""

    def __init__(self, project: Project, log: RequestLog, front_end_url: str, token: str,
                 emit: Callable[[str], object]) -> None:
        self.project = project
        self.log = log
        self.front_end_url = front_end_url
        self.token = token
        self.emit = emit
        self.scheduler: Any = None  # the runner's CronScheduler, once started (None without cron.yaml jobs)
        self._declared: list[CronJob] | None = None
        self._declared_error = ""
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._reader: threading.Thread | None = None

    def read_declarations(self) -> None:
        """Start reading the `@app.cron` declarations in the background (once)."""
        with self._lock:
            if self._reader is not None:
                return
            self._reader = threading.Thread(target=self._read, name="console-cron-declarations", daemon=True)
            self._reader.start()

    def wait(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for a declaration read in progress: its subprocess ends with it."""
        if self._reader is not None:
            self._reader.join(timeout)

    def _read(self) -> None:
        try:
            from deploy.cron_declarations import declared_jobs

            jobs, _ = declared_jobs(self.project)
        except Exception as exc:  # the reason is shown on the page; the console keeps working
            self._declared_error = f"@app.cron declarations could not be read: {exc}"
            jobs = []
        self._declared = jobs

    @property
    def declarations_state(self) -> str:
        if self._declared_error:
            return self._declared_error
        return "" if self._declared is not None else "reading the @app.cron declarations…"

    def rows(self) -> list[JobRow]:
        scheduled: list[tuple[CronJob, datetime | None]] = (
            self.scheduler.next_runs() if self.scheduler is not None else [(job, None) for job in self.project.cron.jobs])
        urls = {job.url for job, _ in scheduled}
        extra = [(job, None) for job in (self._declared or ()) if job.url not in urls]
        rows = []
        for job, when in [*scheduled, *extra]:
            rows.append(JobRow(
                url=job.url, description=job.description or "", schedule=job.schedule.text,
                timezone=job.schedule.timezone, target=job.target or "default", next_run=when,
                scheduled=job.url in urls and self.scheduler is not None, last=self.log.last_cron_run(job.url),
                running=job.url in self._running))
        return rows

    def _job(self, url: str) -> CronJob | None:
        jobs = [job for job, _ in self.scheduler.next_runs()] if self.scheduler is not None else list(self.project.cron.jobs)
        jobs += list(self._declared or ())
        return next((job for job in jobs if job.url == url), None)

    def run_now(self, url: str) -> bool:
        """Deliver the job with `url` now, in the background; False when no job has that url."""
        job = self._job(url)
        if job is None:
            return False
        scheduler = self.scheduler
        if scheduler is None or url not in {j.url for j, _ in scheduler.next_runs()}:
            from deploy.local.cron import CronScheduler

            # A scheduler that is never started: it only delivers this run, like a scheduled one.
            scheduler = CronScheduler([job], self.front_end_url, self.token, log=self.emit,
                                      dispatch=self.project.dispatch)

        def work() -> None:
            try:
                scheduler.run_now(url)
            finally:
                with self._lock:
                    self._running.discard(url)

        with self._lock:
            self._running.add(url)
        threading.Thread(target=work, name=f"console-cron {url}", daemon=True).start()
        return True
