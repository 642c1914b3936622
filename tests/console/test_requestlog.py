"""The request log: requests as the front end reports them, lines tied by trace id or by time."""

from __future__ import annotations

import json
import time

from deploy.local.console.requestlog import RequestLog

TRACE = "0af7651916cd43dd8448eb211c80319c"


def record(log: RequestLog, path: str, *, trace: str | None = TRACE, headers: dict[str, str] | None = None,
           platform: bool = False, millis: float = 50.0, service: str = "default") -> int:
    log.record(method="GET", path=path, status=200, millis=millis, service=service, handler="app",
               trace_id=trace, headers=headers or {}, from_platform=platform)
    return log.requests(limit=1)[0].number


def test_structured_lines_are_tied_by_trace_even_when_they_arrive_late() -> None:
    log = RequestLog()
    number = record(log, "/a")
    time.sleep(0.3)  # after the request ended: only the trace ties it
    entry = {"severity": "WARNING", "message": "late but mine",
             "logging.googleapis.com/trace": f"projects/p/traces/{TRACE.upper()}"}
    log.line("default", json.dumps(entry))
    log.line("default", json.dumps({**entry, "message": "someone else's",
                                    "logging.googleapis.com/trace": "projects/p/traces/" + "1" * 32}))
    found = log.get(number)
    assert found is not None
    assert [(line.text, line.severity, how) for line, how in found.lines] == [("late but mine", "WARNING", "trace")]


def test_plain_lines_are_tied_by_time_and_service() -> None:
    log = RequestLog()
    log.line("default", "printed while it ran")
    log.line("worker", "another service")
    number = record(log, "/b", millis=200.0)
    log.line("default", "GET /b 200 200 ms app")  # the front end's access line is the request itself
    found = log.get(number)
    assert found is not None
    assert [(line.text, how) for line, how in found.lines] == [("printed while it ran", "time")]


def test_platform_origins_and_the_last_cron_run() -> None:
    log = RequestLog()
    record(log, "/cron/x", headers={"X-AppEngine-Cron": "true"}, platform=True)
    record(log, "/cron/x", headers={"X-AppEngine-Cron": "true"}, platform=False)  # a client's claim
    record(log, "/task", headers={"X-AppEngine-QueueName": "q"}, platform=True)
    origins = [entry.origin for entry in log.requests()]
    assert origins == ["task q", "", "cron"]
    last = log.last_cron_run("/cron/x")
    assert last is not None and last.number == 1


def test_the_log_keeps_the_newest_only() -> None:
    log = RequestLog(max_requests=3)
    for n in range(5):
        record(log, f"/{n}", service="default" if n % 2 else "api")
    assert [entry.path for entry in log.requests()] == ["/4", "/3", "/2"]
    assert [entry.path for entry in log.requests(service="api")] == ["/4", "/2"]
    assert log.get(1) is None and log.services() == ["api", "default"]
