"""The local cron scheduler: delivers cron.yaml's (and `@app.cron`'s) jobs as App Engine does (§3.3, §5.4).

Each run is a GET of the job's url through the local front end with `X-AppEngine-Cron: true` and the
runner's `X-Local-Platform-Token` (contract 3), so the front end keeps the cron header and sets the
platform's source address. A `target` goes in the Host (`<service>.localhost`) unless a dispatch.yaml
rule matches the url, which overrides it as in production. Success is a 2xx; a failure is retried only
under `retry_parameters`, with doubling backoff. A start that falls while the job's previous run (with
its retries) is still going is skipped and logged, as App Engine skips it.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from deploy.config.cron_yaml import CronJob, CronRetry
from deploy.config.dispatch_yaml import Dispatch
from framework.schedule import END_TIME_INTERVAL

__all__ = ["CronScheduler", "backoff_seconds", "may_retry"]

TOKEN_HEADER = "X-Local-Platform-Token"
USER_AGENT = "AppEngine-Google; (+http://code.google.com/appengine)"
# Standard's cron timeout follows the scaling type (unconfirmed, platform-facts §3.3); 10 minutes is the
# automatic-scaling request timeout, the shortest of them, so a job that passes here passes there.
DEFAULT_DEADLINE = 600.0
NO_RESPONSE = 0  # the status run_now reports when the app gave no HTTP answer at all


def backoff_seconds(retry: CronRetry, retry_number: int) -> float:
    """The wait before retry `retry_number` (1 = first retry): doubling from min_backoff_seconds.

    After `max_doublings` doublings the wait stays at 2**(max_doublings-1) * min_backoff_seconds
    (platform-facts §5.4), and never exceeds max_backoff_seconds.
    """
    doublings = max(0, min(retry_number - 1, retry.max_doublings - 1))
    return float(min(retry.min_backoff_seconds * 2**doublings, retry.max_backoff_seconds))


def may_retry(retry: CronRetry, retries_done: int, age_seconds: float) -> bool:
    """Whether a failed run is retried: until job_retry_limit AND job_age_limit are both reached (§5.4)."""
    under_count = retries_done < retry.job_retry_limit
    under_age = retry.job_age_limit is not None and age_seconds < retry.job_age_limit
    return under_count or under_age


@dataclass
class _State:
    job: CronJob
    next_run: datetime | None
    running: bool = False


class CronScheduler:
    """Runs `jobs` on their schedules in a background thread until `stop()`."""

    def __init__(
        self,
        jobs: Sequence[CronJob],
        front_end_url: str,
        token: str,
        log: Callable[[str], object] = print,
        *,
        dispatch: Dispatch | None = None,
        clock: Callable[[], datetime] | None = None,
        tick: float = 1.0,
    ) -> None:
        """`clock` (aware now) and `tick` (longest sleep, real seconds) exist so tests can speed time up."""
        self.front_end_url = front_end_url.rstrip("/")
        self.token = token
        self.log = log
        self.dispatch = dispatch
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tick = tick
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        self._states = [_State(job, None) for job in jobs]
        split = urlsplit(self.front_end_url)
        if split.scheme != "http" or not split.hostname:
            raise ValueError(f"front end url {front_end_url!r} must be http://HOST:PORT")
        self._host, self._port = split.hostname, split.port or 80

    # --- control ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute each job's first run, print them, and start delivering."""
        now = self._clock()
        with self._lock:
            for state in self._states:
                state.next_run = state.job.schedule.next_run(now)
        for line in self.describe():
            self.log(line)
        self._thread = threading.Thread(target=self._loop, name="cron-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop scheduling; runs in flight are abandoned after `timeout` (their retries are not sent)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))

    def next_runs(self) -> list[tuple[CronJob, datetime | None]]:
        """Each job with its next run (None while an end-time interval job runs: it counts from the end)."""
        with self._lock:
            return [(state.job, state.next_run) for state in self._states]

    def describe(self) -> list[str]:
        """One line per job: url, schedule, target and next run (what the runner prints at start)."""
        if not self._states:
            return ["cron: no jobs"]
        lines = []
        for job, when in self.next_runs():
            target = f" -> {job.target}" if job.target else ""
            zone = f" ({job.schedule.timezone})" if job.schedule.timezone != "UTC" else ""
            nxt = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "after the current run"
            lines.append(f"cron {job.url}{target}: {job.schedule.text}{zone}; next run {nxt}")
        return lines

    def run_now(self, url: str) -> int:
        """Deliver the job whose url is `url` now, with its retries; the final status (0: no answer).

        Raises KeyError naming the known urls when no job has `url`.
        """
        job = next((s.job for s in self._states if s.job.url == url), None)
        if job is None:
            known = ", ".join(s.job.url for s in self._states) or "none"
            raise KeyError(f"no cron job has the url {url!r} (jobs: {known})")
        return self._run(job, self._clock())

    # --- scheduling ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            now = self._clock()
            soonest: datetime | None = None
            for state in self._states:
                with self._lock:
                    due = state.next_run
                    if due is None:
                        continue
                    if due > now:
                        soonest = due if soonest is None or due < soonest else soonest
                        continue
                    if state.running:  # a start colliding with a run still going is skipped
                        state.next_run = state.job.schedule.next_run(now)
                        skipped = True
                    else:
                        state.running = True
                        state.next_run = None if self._counts_from_end(state) else state.job.schedule.next_run(now)
                        skipped = False
                if skipped:
                    self.log(f"cron GET {state.job.url} skipped: its previous run is still going")
                else:
                    self._spawn(state, due)
                if state.next_run is not None and (soonest is None or state.next_run < soonest):
                    soonest = state.next_run
            wait = self._tick if soonest is None else min(self._tick, (soonest - self._clock()).total_seconds())
            self._wake.wait(max(0.0, wait))
            self._wake.clear()

    @staticmethod
    def _counts_from_end(state: _State) -> bool:
        return state.job.schedule.kind == END_TIME_INTERVAL

    def _spawn(self, state: _State, due: datetime) -> None:
        def work() -> None:
            try:
                self._run(state.job, due)
            finally:
                with self._lock:
                    state.running = False
                    if self._counts_from_end(state):
                        state.next_run = state.job.schedule.next_run(self._clock(), last_finished=self._clock())
                self._workers.discard(threading.current_thread())
                self._wake.set()

        worker = threading.Thread(target=work, name=f"cron {state.job.url}", daemon=True)
        self._workers.add(worker)
        worker.start()

    # --- delivery --------------------------------------------------------------------------------
    def _run(self, job: CronJob, scheduled: datetime) -> int:
        """One scheduled run: the first attempt and the retries retry_parameters allow."""
        retries = 0
        while True:
            status = self._attempt(job, retries)
            if 200 <= status <= 299:
                return status
            age = (self._clock() - scheduled).total_seconds()
            if self._stopping.is_set() or not may_retry(job.retry, retries, age):
                if retries or job.retry.job_retry_limit or job.retry.job_age_limit is not None:
                    self.log(f"cron GET {job.url} failed after {retries + 1} attempts; next run on schedule")
                return status
            retries += 1
            delay = backoff_seconds(job.retry, retries)
            self.log(f"cron GET {job.url} retry {retries} in {delay:g} s")
            if self._stopping.wait(delay):
                return status

    def _attempt(self, job: CronJob, retries: int) -> int:
        path = job.url
        headers = {
            "X-AppEngine-Cron": "true",
            TOKEN_HEADER: self.token,
            "User-Agent": USER_AGENT,
            "Host": self._host_for(job),
        }
        timeout = job.attempt_deadline or DEFAULT_DEADLINE
        started = time.monotonic()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            outcome = str(status)
        except (OSError, http.client.HTTPException) as exc:
            status, outcome = NO_RESPONSE, f"no answer ({exc.__class__.__name__}: {exc})"
        finally:
            conn.close()
        elapsed_ms = (time.monotonic() - started) * 1000
        target = f" [{self._service_for(job)}]" if self._service_for(job) else ""
        attempt = f" (retry {retries})" if retries else ""
        self.log(f"cron GET {path}{target} -> {outcome} in {elapsed_ms:.0f} ms{attempt}")
        return status

    def _service_for(self, job: CronJob) -> str | None:
        """The service a target names (`worker:v2` is service `worker`; one version runs locally), unless
        dispatch.yaml routes the url, which overrides the target (platform-facts §3.3)."""
        if not job.target:
            return None
        if self.dispatch is not None and self.dispatch.service_for(self._front_host(), job.url.split("?")[0]):
            return None
        return job.target.split(":", 1)[0]

    def _front_host(self) -> str:
        return f"{self._host}:{self._port}"

    def _host_for(self, job: CronJob) -> str:
        service = self._service_for(job)
        return f"{service}.localhost:{self._port}" if service else self._front_host()
