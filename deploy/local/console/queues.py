"""The console's Cloud Tasks side: queues with settings and state, their tasks, and the actions on them.

Through the real google-cloud-tasks client against the local emulator (host from the runner's environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core.retry import Retry

MAX_TASKS = 1000
DEFAULT_PROJECT = "local-project"  # framework.tasks.EMULATOR_PROJECT / EMULATOR_LOCATION
DEFAULT_LOCATION = "us-central1"
# Each call gives up after this long and is not retried: an emulator that is down is said at once.
CALL: dict[str, Any] = {"retry": Retry(predicate=lambda exc: False), "timeout": 15.0}


class QueueError(Exception):
    """A Cloud Tasks request the console cannot make; a readable reason."""


@dataclass(frozen=True)
class QueueRow:
    name: str
    short: str
    state: str
    rate: float
    burst: int
    concurrent: int
    max_attempts: int
    retry: str
    target: str
    tasks: int


@dataclass(frozen=True)
class TaskRow:
    name: str
    short: str
    eta: datetime | None
    attempts: int
    responses: int
    last_response: str
    target: str


def _when(stamp: Any) -> datetime | None:
    """A proto-plus timestamp (DatetimeWithNanoseconds) or None when unset."""
    if stamp is None or not getattr(stamp, "year", None) or stamp.year <= 1970:
        return None
    return stamp.astimezone(UTC)


def _seconds(duration: Any) -> str:
    seconds = duration.total_seconds() if hasattr(duration, "total_seconds") else float(duration or 0)
    return f"{seconds:g} s"


class Queues:
    """The Cloud Tasks emulator, reached lazily (the emulator starts after the console object exists)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._client: Any = None
        self._client_host: str | None = None

    @property
    def host(self) -> str | None:
        return self._env.get("CLOUD_TASKS_EMULATOR_HOST") or None

    @property
    def default_parent(self) -> str:
        project = self._env.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_PROJECT
        location = self._env.get("CLOUD_TASKS_LOCATION") or DEFAULT_LOCATION
        return f"projects/{project}/locations/{location}"

    def client(self) -> Any:
        host = self.host
        if host is None:
            raise QueueError("no Cloud Tasks emulator is running (CLOUD_TASKS_EMULATOR_HOST is not set)")
        if self._client is None or self._client_host != host:
            import grpc
            from google.api_core.client_options import ClientOptions
            from google.cloud import tasks_v2
            from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

            transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(host), host=host)
            self._client = tasks_v2.CloudTasksClient(transport=transport,
                                                     client_options=ClientOptions(api_endpoint=host))
            self._client_host = host
        return self._client

    def queues(self, parent: str) -> list[QueueRow]:
        client = self.client()
        rows = []
        for queue in client.list_queues(parent=parent, **CALL):
            rows.append(self._row(queue, len(self._tasks(queue.name))))
        return rows

    def queue(self, name: str) -> QueueRow:
        return self._row(self.client().get_queue(name=name, **CALL), len(self._tasks(name)))

    def _row(self, queue: Any, tasks: int) -> QueueRow:
        limits, retry = queue.rate_limits, queue.retry_config
        target = ""
        override = queue.app_engine_routing_override
        if override and (override.service or override.version):
            target = ".".join(p for p in (override.version, override.service) if p)
        retry_text = (f"backoff {_seconds(retry.min_backoff)}–{_seconds(retry.max_backoff)}, "
                      f"{retry.max_doublings} doublings")
        if retry.max_retry_duration and retry.max_retry_duration.total_seconds():
            retry_text += f", for at most {_seconds(retry.max_retry_duration)}"
        return QueueRow(
            name=queue.name, short=queue.name.rsplit("/", 1)[-1], state=queue.state.name,
            rate=limits.max_dispatches_per_second, burst=limits.max_burst_size,
            concurrent=limits.max_concurrent_dispatches, max_attempts=retry.max_attempts,
            retry=retry_text, target=target, tasks=tasks)

    def _tasks(self, queue: str) -> list[Any]:
        from google.cloud import tasks_v2

        request = tasks_v2.ListTasksRequest(parent=queue, response_view=tasks_v2.Task.View.BASIC, page_size=MAX_TASKS)
        found = []
        for task in self.client().list_tasks(request=request, **CALL):
            found.append(task)
            if len(found) >= MAX_TASKS:
                break
        return found

    def tasks(self, queue: str) -> list[TaskRow]:
        rows = []
        for task in self._tasks(queue):
            last = task.last_attempt
            response = ""
            if last and last.dispatch_time and _when(last.dispatch_time) is not None:
                status = last.response_status
                response = (status.message or f"code {status.code}") if status.code or status.message else "OK"
            request = task.app_engine_http_request
            if request and request.relative_uri:
                service = request.app_engine_routing.service if request.app_engine_routing else ""
                target = f"{request.http_method.name} {request.relative_uri}" + (f" → {service}" if service else "")
            else:
                target = f"{task.http_request.http_method.name} {task.http_request.url}"
            rows.append(TaskRow(name=task.name, short=task.name.rsplit("/", 1)[-1], eta=_when(task.schedule_time),
                                attempts=task.dispatch_count, responses=task.response_count,
                                last_response=response, target=target))
        return rows

    def run(self, task: str) -> None:
        self.client().run_task(name=task, **CALL)

    def delete(self, task: str) -> None:
        self.client().delete_task(name=task, **CALL)

    def purge(self, queue: str) -> None:
        self.client().purge_queue(name=queue, **CALL)

    def pause(self, queue: str) -> None:
        self.client().pause_queue(name=queue, **CALL)

    def resume(self, queue: str) -> None:
        self.client().resume_queue(name=queue, **CALL)
