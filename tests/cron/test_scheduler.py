"""deploy.local.cron.CronScheduler delivering to real gunicorn apps: headers, retries, skips, schedule.

The scheduler talks to the app server directly here (the runner's front end is tested end to end in
test_runner_cron.py); what it sends is what the front end receives. Schedules run on an injected clock
120 times faster than real time, so a per-minute job comes every half second without waiting minutes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.config.cron_yaml import CronJob, CronRetry
from deploy.config.dispatch_yaml import Dispatch, DispatchRule, compile_dispatch_url
from deploy.local.cron import CronScheduler, backoff_seconds, may_retry
from framework.schedule import Schedule
from tests.support.procs import Server, free_port, run_server, venv_tool

TOKEN = "test-platform-token"


@dataclass
class Recorder:
    server: Server
    record: Path

    def requests(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.requests()
            if len(seen) >= count:
                return seen
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.requests())} of {count} requests arrived; log:\n{self.server.log()}")


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    port = free_port()
    record = tmp_path / "requests.jsonl"
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--threads", "4", "--workers", "1",
           "tests.cron.apps.recorder:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env={"RECORD_FILE": str(record)}, ready_path=None) as server:
        yield Recorder(server, record)


def job(url: str, schedule: str = "every 24 hours", **kwargs: object) -> CronJob:
    return CronJob(url=url, schedule=Schedule.parse(schedule), line=1, **kwargs)  # type: ignore[arg-type]


def fast_clock(speed: float = 120.0) -> Callable[[], datetime]:
    base, started = datetime(2026, 3, 28, 12, 0, 5, tzinfo=UTC), time.monotonic()
    return lambda: base + timedelta(seconds=(time.monotonic() - started) * speed)


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def test_delivery_headers_and_log_line(recorder: Recorder) -> None:
    log = Lines()
    scheduler = CronScheduler([job("/ok")], recorder.server.url, TOKEN, log=log)
    assert scheduler.run_now("/ok") == 200
    [seen] = recorder.requests()
    assert seen["method"] == "GET" and seen["path"] == "/ok"
    assert seen["headers"]["x-appengine-cron"] == "true"
    assert seen["headers"]["x-local-platform-token"] == TOKEN
    assert seen["headers"]["host"] == f"127.0.0.1:{recorder.server.port}"
    assert seen["headers"]["user-agent"].startswith("AppEngine-Google")
    assert re.fullmatch(r"cron GET /ok -> 200 in \d+ ms", log[-1]), log


def test_target_goes_in_the_host_unless_dispatch_routes_the_url(recorder: Recorder) -> None:
    host, path = compile_dispatch_url("*/reports/*")  # type: ignore[misc]
    dispatch = Dispatch(None, (DispatchRule("*/reports/*", "reports", 1, host, path),))
    jobs = [job("/ok", target="worker"), job("/reports/daily", target="worker"), job("/always-fail", target="batch:v2")]
    scheduler = CronScheduler(jobs, recorder.server.url, TOKEN, log=Lines(), dispatch=dispatch)
    assert scheduler.run_now("/ok") == 200
    assert scheduler.run_now("/reports/daily") == 404
    assert scheduler.run_now("/always-fail") == 500
    hosts = [r["headers"]["host"] for r in recorder.requests()]
    port = recorder.server.port
    assert hosts == [f"worker.localhost:{port}", f"127.0.0.1:{port}", f"batch.localhost:{port}"]


def test_failing_job_is_retried_with_growing_backoff(recorder: Recorder) -> None:
    log = Lines()
    retry = CronRetry(job_retry_limit=3, min_backoff_seconds=0.05, max_backoff_seconds=10, max_doublings=5)
    scheduler = CronScheduler([job("/fail-twice", retry=retry)], recorder.server.url, TOKEN, log=log)
    assert scheduler.run_now("/fail-twice") == 200
    assert [r["path"] for r in recorder.requests()] == ["/fail-twice"] * 3
    assert [line for line in log if "retry" in line and "in" in line and "->" not in line] == [
        "cron GET /fail-twice retry 1 in 0.05 s", "cron GET /fail-twice retry 2 in 0.1 s"]
    assert re.fullmatch(r"cron GET /fail-twice -> 200 in \d+ ms \(retry 2\)", log[-1]), log


def test_retry_limit_reached(recorder: Recorder) -> None:
    log = Lines()
    retry = CronRetry(job_retry_limit=2, min_backoff_seconds=0.01, max_doublings=1)
    scheduler = CronScheduler([job("/always-fail", retry=retry)], recorder.server.url, TOKEN, log=log)
    assert scheduler.run_now("/always-fail") == 500
    assert len(recorder.requests()) == 3
    assert "cron GET /always-fail retry 2 in 0.01 s" in log  # max_doublings=1: the wait stays constant
    assert log[-1] == "cron GET /always-fail failed after 3 attempts; next run on schedule"


def test_no_retry_parameters_means_no_retry(recorder: Recorder) -> None:
    scheduler = CronScheduler([job("/always-fail")], recorder.server.url, TOKEN, log=Lines())
    assert scheduler.run_now("/always-fail") == 500
    assert len(recorder.requests()) == 1


def test_unknown_url_and_unreachable_app() -> None:
    scheduler = CronScheduler([job("/ok")], f"http://127.0.0.1:{free_port()}", TOKEN, log=Lines())
    with pytest.raises(KeyError, match="no cron job has the url '/nope'.*jobs: /ok"):
        scheduler.run_now("/nope")
    assert scheduler.run_now("/ok") == 0  # nothing listens: no HTTP answer
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        CronScheduler([], "https://example.com", TOKEN)


def test_per_minute_job_runs_on_schedule(recorder: Recorder) -> None:
    log = Lines()
    scheduler = CronScheduler([job("/ok", "every 1 minutes")], recorder.server.url, TOKEN, log=log,
                              clock=fast_clock(), tick=0.05)
    scheduler.start()
    try:
        assert re.fullmatch(r"cron /ok: every 1 minutes; next run 2026-03-28 12:\d\d:00 UTC", log[0]), log
        seen = recorder.wait_for(3)
    finally:
        scheduler.stop()
    assert all(r["headers"]["x-appengine-cron"] == "true" for r in seen)
    (_, upcoming), = scheduler.next_runs()
    assert upcoming is None or upcoming > datetime(2026, 3, 28, 12, 3, tzinfo=UTC)


def test_start_colliding_with_a_running_job_is_skipped(recorder: Recorder) -> None:
    log = Lines()
    # a grid start every (fast) minute, i.e. every 0.5 s, while each run takes 1.5 s
    scheduler = CronScheduler([job("/slow", "every 1 minutes from 00:00 to 23:59")], recorder.server.url, TOKEN,
                              log=log, clock=fast_clock(), tick=0.05)
    scheduler.start()
    try:
        recorder.wait_for(2)
    finally:
        scheduler.stop()
    assert all(r["in_flight"] == 1 for r in recorder.requests())  # never two runs at once
    assert "cron GET /slow skipped: its previous run is still going" in log


@pytest.mark.parametrize(("retry", "waits"), [
    (CronRetry(min_backoff_seconds=2.5, max_doublings=5), [2.5, 5, 10, 20, 40, 40]),
    (CronRetry(min_backoff_seconds=1, max_backoff_seconds=6, max_doublings=5), [1, 2, 4, 6, 6]),
    (CronRetry(min_backoff_seconds=3, max_doublings=0), [3, 3, 3]),
    (CronRetry(min_backoff_seconds=3, max_doublings=2), [3, 6, 6]),
])
def test_backoff(retry: CronRetry, waits: list[float]) -> None:
    assert [backoff_seconds(retry, n) for n in range(1, len(waits) + 1)] == waits


def test_retry_limits_both_must_be_reached() -> None:
    assert not may_retry(CronRetry(), 0, 0)  # no retry_parameters: never
    assert may_retry(CronRetry(job_retry_limit=2), 1, 10_000)
    assert not may_retry(CronRetry(job_retry_limit=2), 2, 0)
    assert may_retry(CronRetry(job_age_limit=60), 50, 59)  # age alone: no count limit
    assert not may_retry(CronRetry(job_age_limit=60), 0, 61)
    both = CronRetry(job_retry_limit=2, job_age_limit=60)
    assert may_retry(both, 5, 30) and may_retry(both, 1, 90) and not may_retry(both, 2, 60)


def test_age_limit_alone_keeps_retrying_until_the_job_is_that_old(recorder: Recorder) -> None:
    log = Lines()
    retry = CronRetry(job_age_limit=0.5, min_backoff_seconds=0.05, max_doublings=1)
    scheduler = CronScheduler([job("/always-fail", retry=retry)], recorder.server.url, TOKEN, log=log)
    assert scheduler.run_now("/always-fail") == 500
    attempts = len(recorder.requests())
    assert attempts >= 2  # no count limit: retried until the run was half a second old, then given up
    assert log[-1] == f"cron GET /always-fail failed after {attempts} attempts; next run on schedule"
