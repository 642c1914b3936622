"""Delivery: one thread picks due tasks queue by queue within each queue's token bucket and concurrency
limit, a thread pool sends them over HTTP, and the outcome completes the task or schedules its retry.

App Engine tasks go to `--app-engine-url` (the local runner's front end, or an app server directly) with
the X-AppEngine-* headers of platform-facts §3.4, `Host: <service>.localhost[:port]` for a routed service
and the `X-Local-Platform-Token` that tells the front end the request comes from the platform. HTTP
tasks go to their URL with the X-CloudTasks-* headers (§3.5) and never carry the token.
"""

from __future__ import annotations

import heapq
import http.client
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import pb
from .config import backoff, exhausted
from .service import CloudTasksService
from .state import QueueState, State, TaskState, deadline_seconds, now_us, set_ts, task_age, ts_us

log = logging.getLogger("framework.emulators.tasks")

TOKEN_HEADER = "X-Local-Platform-Token"
APP_ENGINE_AGENT = "AppEngine-Google; (+http://code.google.com/appengine)"
HTTP_AGENT = "Google-Cloud-Tasks"
DEFAULT_DEADLINE = 600.0  # App Engine automatic scaling and HTTP targets both default to 10 minutes
MAX_RESPONSE = 1024 * 1024  # read at most this much of a worker's reply before hanging up
WORKERS = 64
PRUNE_EVERY = 60.0  # seconds between sweeps of expired task and queue names
# Headers a task cannot set: the service computes or reserves them (AppEngineHttpRequest/HttpRequest reference).
_RESERVED = ("host", "content-length", "x-google-", "x-appengine-", "x-cloudtasks-", TOKEN_HEADER.lower(),
             "connection", "transfer-encoding")
# HTTP status -> google.rpc.Code for Attempt.response_status (the usual HTTP/gRPC correspondence).
_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4}


@dataclass
class Outgoing:
    """One attempt, fixed under the lock and sent without it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float


@dataclass
class Outcome:
    status: int | None  # the HTTP status, None when no response came
    reason: str  # what X-AppEngine-TaskRetryReason says on the next attempt (wording UNCONFIRMED)


class Dispatcher:
    """Runs the delivery loop over `state` until `stop()`; the service's RunTask goes through `force`."""

    def __init__(self, state: State, service: CloudTasksService, app_engine_url: str | None,
                 token: str | None = None) -> None:
        self.state = state
        self.service = service
        self.app_engine_url = app_engine_url.rstrip("/") if app_engine_url else None
        self.token = token if token is not None else os.environ.get("LOCAL_PLATFORM_TOKEN")
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cloudtasks-deliver")
        self._stopped = False
        self._parked: set[str] = set()
        service.run_now = self.force
        self.thread = threading.Thread(target=self._loop, name="cloudtasks-dispatch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop dispatching; attempts still out are not recorded, so their tasks are delivered again later."""
        with self.state.lock:
            self._stopped = True
            self.state.wake.notify_all()
        self.thread.join(5)
        self.pool.shutdown(wait=False, cancel_futures=True)

    # --- choosing what to send ------------------------------------------------------------------

    def _loop(self) -> None:
        pruned = time.monotonic()
        with self.state.lock:
            while not self._stopped:
                try:
                    wait = self._dispatch_due()
                    if time.monotonic() - pruned > PRUNE_EVERY:
                        self.state.prune()
                        pruned = time.monotonic()
                except Exception:  # a bug must not end delivery for good
                    log.exception("cloudtasks: dispatch loop error")
                    wait = 1.0
                self.state.wake.wait(wait)

    def _dispatch_due(self) -> float:
        """Start every attempt that is due and allowed; return how long to sleep before looking again."""
        wait = 1.0
        now, clock = now_us(), time.monotonic()
        for queue in list(self.state.queues.values()):
            if queue.msg.state != pb.QUEUE_RUNNING:
                continue
            queue.refill(clock)
            rate = queue.msg.rate_limits
            while True:
                task = self.state.due(queue, now)
                if task is None:
                    upcoming = self.state.next_due_us(queue)
                    if upcoming is not None:
                        wait = min(wait, max(0.0, (upcoming - now) / 1e6))
                    break
                if not self._deliverable(queue, task):
                    continue
                if queue.in_flight >= rate.max_concurrent_dispatches:
                    break  # a finishing attempt wakes the loop
                if queue.tokens < 1:
                    wait = min(wait, (1 - queue.tokens) / max(rate.max_dispatches_per_second, 1e-6))
                    break
                queue.tokens -= 1
                self._begin(queue, task)
        return max(wait, 0.001)

    def _deliverable(self, queue: QueueState, task: TaskState) -> bool:
        """App Engine tasks wait (unscheduled, still listed) when no --app-engine-url was given."""
        if self.app_engine_url or not task.msg.HasField("app_engine_http_request"):
            return True
        heapq.heappop(queue.heap)  # `task` is the heap's first entry
        if task.msg.name not in self._parked:
            self._parked.add(task.msg.name)
            log.warning("cloudtasks: %s targets App Engine but the emulator has no --app-engine-url; it stays "
                        "queued", task.msg.name)
        return False

    def force(self, queue: QueueState, task: TaskState) -> None:
        """RunTask: send now, ignoring pause, rate and concurrency (called under the lock)."""
        if not self._stopped:
            self._begin(queue, task)

    # --- one attempt ----------------------------------------------------------------------------

    def _begin(self, queue: QueueState, task: TaskState) -> None:
        msg = task.msg
        retries, executions = msg.dispatch_count, msg.response_count
        now = now_us()
        msg.dispatch_count += 1
        if not msg.first_attempt.HasField("dispatch_time"):
            set_ts(msg.first_attempt.dispatch_time, now)
        msg.last_attempt.Clear()
        msg.last_attempt.schedule_time.CopyFrom(msg.schedule_time)
        set_ts(msg.last_attempt.dispatch_time, now)
        task.running += 1
        queue.in_flight += 1
        try:
            outgoing = self._request(queue, task, retries, executions)
        except ValueError as exc:  # e.g. an App Engine task forced by RunTask without --app-engine-url
            self.pool.submit(self._finish, queue, task, Outcome(None, str(exc)))
            return
        self.pool.submit(self._deliver, queue, task, outgoing)

    def _request(self, queue: QueueState, task: TaskState, retries: int, executions: int) -> Outgoing:
        msg = task.msg
        short_queue = queue.name.rsplit("/", 1)[-1]
        short_task = str(msg.name).rsplit("/", 1)[-1]
        info = {
            "QueueName": short_queue,
            "TaskName": short_task,
            "TaskRetryCount": str(retries),
            "TaskExecutionCount": str(executions),
            "TaskETA": f"{ts_us(msg.schedule_time) / 1e6:.6f}",
        }
        if retries:
            if task.prev_status is not None:
                info["TaskPreviousResponse"] = str(task.prev_status)
            if task.reason:
                info["TaskRetryReason"] = task.reason
        timeout = deadline_seconds(msg, DEFAULT_DEADLINE)
        if msg.HasField("app_engine_http_request"):
            request = msg.app_engine_http_request
            if not self.app_engine_url:
                raise ValueError("no --app-engine-url to deliver App Engine tasks to")
            headers = _user_headers(request.headers)
            agent = headers.pop("User-Agent", None)
            headers["User-Agent"] = f"{agent} {APP_ENGINE_AGENT}" if agent else APP_ENGINE_AGENT
            if request.body and "Content-Type" not in headers:
                headers["Content-Type"] = "application/octet-stream"
            headers.update({f"X-AppEngine-{key}": value for key, value in info.items()})
            host = urlsplit(self.app_engine_url).netloc
            service = request.app_engine_routing.service
            if service:
                port = urlsplit(self.app_engine_url).port
                host = f"{service}.localhost" + (f":{port}" if port else "")
            headers["Host"] = host
            if self.token:
                headers[TOKEN_HEADER] = self.token
            url = self.app_engine_url + request.relative_uri
            return Outgoing(pb.METHODS[request.http_method], url, headers, bytes(request.body), timeout)
        request = msg.http_request
        headers = _user_headers(request.headers)
        headers.pop("User-Agent", None)
        headers["User-Agent"] = HTTP_AGENT
        headers.update({f"X-CloudTasks-{key}": value for key, value in info.items()})
        if request.HasField("oidc_token") or request.HasField("oauth_token"):
            log.info("cloudtasks: %s asks for an OIDC/OAuth token, which cannot be minted locally; sent without "
                     "Authorization", msg.name)
        return Outgoing(pb.METHODS[request.http_method], request.url, headers, bytes(request.body), timeout)

    def _deliver(self, queue: QueueState, task: TaskState, outgoing: Outgoing) -> None:
        try:
            outcome = send(outgoing)
        except Exception as exc:  # whatever happens, the attempt must end, or the task stays "running"
            log.exception("cloudtasks: sending %s failed", task.msg.name)
            outcome = Outcome(None, f"UNAVAILABLE: {exc.__class__.__name__}: {exc}")
        self._finish(queue, task, outcome)

    def _finish(self, queue: QueueState, task: TaskState, outcome: Outcome) -> None:
        with self.state.lock:
            if self._stopped:
                return
            task.running -= 1
            queue.in_flight -= 1
            self.state.wake.notify_all()
            name = str(task.msg.name)
            if queue.tasks.get(name) is not task or self.state.queues.get(queue.name) is not queue:
                return  # deleted or purged while in flight
            now = now_us()
            attempt = task.msg.last_attempt
            status = outcome.status
            if status is not None:
                set_ts(attempt.response_time, now)
                task.msg.response_count += 1
            attempt.response_status.code = 4 if status is None and "DEADLINE" in outcome.reason else (
                14 if status is None else 0 if 200 <= status < 300 else _CODES.get(status, 9 if status < 500 else 13))
            attempt.response_status.message = outcome.reason
            if status is not None and 200 <= status < 300:
                self.state.drop_tasks(queue, [name], self.service._window(queue))
                log.debug("cloudtasks: %s done (%s)", name, status)
                return
            task.prev_status, task.reason = status, outcome.reason
            retry = queue.retry_config(task)
            attempts = task.msg.dispatch_count
            if exhausted(retry, attempts, task_age(task, now)):
                self.state.drop_tasks(queue, [name], self.service._window(queue))
                log.warning("cloudtasks: %s failed for good after %d attempts (%s)", name, attempts, outcome.reason)
                return
            if task.running:
                return  # a RunTask attempt is still out; its outcome schedules the next try
            delay = backoff(retry, attempts)
            set_ts(task.msg.schedule_time, now + int(delay * 1e6))
            self.state.save_task(queue, task)
            queue.push(task)
            log.info("cloudtasks: %s attempt %d failed (%s); retry in %.1fs", name, attempts, outcome.reason, delay)


def _user_headers(headers: Any) -> dict[str, str]:
    """The task's own headers minus those the service sets itself; names in canonical capitalization."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if any(lower == r or (r.endswith("-") and lower.startswith(r)) for r in _RESERVED):
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            continue
        kept["-".join(part.capitalize() for part in name.split("-"))] = value
    return kept


def send(outgoing: Outgoing) -> Outcome:
    """Send one attempt with http.client (no redirects followed: a 3xx is a failed attempt)."""
    parts = urlsplit(outgoing.url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=outgoing.timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.putrequest(outgoing.method, path, skip_host=True, skip_accept_encoding=True)
        headers = dict(outgoing.headers)
        conn.putheader("Host", headers.pop("Host", parts.netloc))
        for name, value in headers.items():
            conn.putheader(name, value)
        if outgoing.body or outgoing.method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(outgoing.body)))
        conn.endheaders(outgoing.body or None)
        response = conn.getresponse()
        response.read(MAX_RESPONSE)
        return Outcome(response.status, f"HTTP {response.status}")
    except TimeoutError:
        return Outcome(None, f"DEADLINE_EXCEEDED: no response within {outgoing.timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, f"UNAVAILABLE: {exc.__class__.__name__}: {exc}")
    finally:
        conn.close()
