"""The console's cron side: the jobs the runner schedules (cron.yaml's and the `@app.cron` declarations).

Running a job now goes through the runner's CronScheduler: the same request, headers and retries as a
scheduled run. The last run and its result come from the request log (the scheduler's requests pass the
front end like any other).
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
    origin: str  # "cron.yaml" or "@app.cron"
    scheduled: bool
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
        self.scheduler: Any = None  # the runner's CronScheduler, once started (None: no job at all)
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._workers: set[threading.Thread] = set()

    def _jobs(self) -> list[tuple[CronJob, datetime | None]]:
        if self.scheduler is not None:
            return list(self.scheduler.next_runs())
        return [(job, None) for job in self.project.cron.jobs]

    def rows(self) -> list[JobRow]:
        in_file = {job.url for job in self.project.cron.jobs}
        return [JobRow(url=job.url, description=job.description or "", schedule=job.schedule.text,
                       timezone=job.schedule.timezone, target=job.target or "default", next_run=when,
                       origin="cron.yaml" if job.url in in_file else "@app.cron",
                       scheduled=self.scheduler is not None, last=self.log.last_cron_run(job.url),
                       running=job.url in self._running)
                for job, when in self._jobs()]

    def run_now(self, url: str) -> bool:
        """Deliver the job with `url` now, in the background; False when no job has that url."""
        job = next((job for job, _ in self._jobs() if job.url == url), None)
        if job is None:
            return False
        scheduler = self.scheduler
        if scheduler is None:
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
                    self._workers.discard(threading.current_thread())

        worker = threading.Thread(target=work, name=f"console-cron {url}", daemon=True)
        with self._lock:
            self._running.add(url)
            self._workers.add(worker)
        worker.start()
        return True

    def wait(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for runs started from the console."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
