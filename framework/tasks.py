"""Background work on Cloud Tasks: `@app.task` marks a function, `defer(func, ...)` (or `func.defer(...)`)
enqueues a call of it; the call runs later in a request to the built-in `task_only` route
POST /_ah/tasks/<module:function>, inside an app context (and so ndb's context).

Arguments travel as JSON (never pickle) in the task body. Only functions declared with `@app.task` can be
run: the route never imports a name a task body chose. A function that wants to know about retries calls
`current_task()` (queue, name, retry count, execution count, ETA, previous response).

Where tasks go: with CLOUD_TASKS_EMULATOR_HOST set (the local runner exports it), the local emulator;
otherwise Google's Cloud Tasks API through google-cloud-tasks (imported on first enqueue, so cold start is
unchanged). Project: config TASKS_PROJECT, env GOOGLE_CLOUD_PROJECT ("local-project" against the emulator).
Location: config TASKS_LOCATION, env CLOUD_TASKS_LOCATION ("us-central1" against the emulator; required on
Google's hosts, where it is the App Engine app's region). Default queue: config TASKS_QUEUE, else "default".
Tests can record and run tasks in-process instead: framework.testing.tasks.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import BadRequest, NotFound

from framework.adapters.appengine import task_only
from framework.ctx import has_request_context
from framework.globals import current_app, request

if TYPE_CHECKING:
    from framework.app import App

__all__ = [
    "Enqueued", "TaskAlreadyExists", "TaskError", "TaskFunction", "TaskInfo", "client", "current_task", "declare",
    "defer", "task_functions",
]

EXTENSION_KEY = "framework.tasks"
QUEUE_EXTENSION_KEY = "framework.tasks.queue"  # a test double of the queue (framework.testing.tasks)
URL_PREFIX = "/_ah/tasks/"
ENDPOINT = "_framework_task"
EMULATOR_PROJECT = "local-project"
EMULATOR_LOCATION = "us-central1"
_TASK_NAME = re.compile(r"[A-Za-z0-9_-]{1,500}")  # Cloud Tasks' task and queue ids
_QUEUE_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


class TaskError(RuntimeError):
    """A task cannot be enqueued (unknown function, arguments that are not JSON, missing location)."""


class TaskAlreadyExists(TaskError):
    """A task with this name exists, or existed too recently (Cloud Tasks' de-duplication, ALREADY_EXISTS)."""


@dataclass(frozen=True)
class TaskInfo:
    """What App Engine said about the task being run (platform-facts §3.4)."""

    queue: str
    name: str
    retry_count: int
    execution_count: int
    eta: datetime | None
    previous_response: int | None
    retry_reason: str | None


@dataclass(frozen=True)
class Enqueued:
    """One task as `defer` built it: where it goes and what it carries."""

    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: str
    name: str | None
    schedule_time: datetime | None
    service: str | None
    relative_uri: str
    body: bytes


class QueueDouble(Protocol):
    """What a test double of the queue offers `defer` (framework.testing.tasks.TaskRecorder)."""

    def enqueue(self, task: Enqueued) -> str: ...


class TaskFunction:
    """A function declared with `@app.task`: call it to run it now, `.defer(...)` to run it in a task."""

    def __init__(self, app: App, func: Callable[..., Any], queue: str | None, service: str | None) -> None:
        functools.update_wrapper(self, func)
        self.app = app
        self.func = func
        self.queue = queue
        self.service = service
        self.path = f"{func.__module__}:{func.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def defer(self, *args: Any, **kwargs: Any) -> str:
        """Enqueue a call; takes `defer`'s keyword options (queue=, delay=, name=, service=, deadline=)."""
        return defer(self, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<TaskFunction {self.path}>"


def task_functions(app: App) -> dict[str, TaskFunction]:
    """The functions declared on `app` with `@app.task`, by path (`module:qualname`)."""
    registry: dict[str, TaskFunction] = app.extensions.setdefault(EXTENSION_KEY, {})
    return registry


def declare(app: App, func: Callable[..., Any] | None = None, *, queue: str | None = None,
            service: str | None = None) -> Any:
    """`@app.task` / `@app.task(queue="emails", service="worker")`: register `func` as a task function."""

    def decorator(func: Callable[..., Any]) -> TaskFunction:
        if "<locals>" in func.__qualname__ or not callable(func):
            raise TaskError(f"@app.task needs a module-level function, not {func.__qualname__!r}: the task "
                            "route finds it again by module and name")
        spec = TaskFunction(app, func, queue, service)
        registry = task_functions(app)
        if not registry:
            app.add_url_rule(URL_PREFIX + "<path:function>", ENDPOINT, _run_task, methods=["POST"])
        registry[spec.path] = spec
        return spec

    return decorator(func) if func is not None else decorator


def defer(func: TaskFunction | Callable[..., Any], *args: Any, queue: str | None = None,
          delay: float | timedelta | None = None, name: str | None = None, service: str | None = None,
          deadline: float | None = None, **kwargs: Any) -> str:
    """Enqueue `func(*args, **kwargs)` as a Cloud Task; returns the task's name.

    `queue` defaults to the function's queue, then config TASKS_QUEUE, then "default"; `delay` (seconds or
    a timedelta) sets the schedule time; `name` (letters, digits, - and _) makes the task de-duplicated by
    Cloud Tasks (a reused name raises TaskAlreadyExists); `service` routes it (default: the function's service, else this service, GAE_SERVICE);
    `deadline` is the dispatch deadline in seconds (15 s to 24 h).
    """
    if not isinstance(func, TaskFunction):
        raise TaskError(f"{getattr(func, '__qualname__', func)!r} is not a task function: declare it with "
                        "@app.task (only declared functions can run from a task)")
    if name is not None and not _TASK_NAME.fullmatch(name):
        raise TaskError(f"task name {name!r} is not valid: use 1-500 letters, digits, hyphens or underscores "
                        "(Cloud Tasks' task ids)")
    if queue is not None and not _QUEUE_NAME.fullmatch(queue):
        raise TaskError(f"queue name {queue!r} is not valid: use 1-100 letters, digits or hyphens")
    try:
        body = json.dumps({"args": list(args), "kwargs": kwargs}, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise TaskError(f"arguments of {func.path} must be JSON (str, int, float, bool, None, lists and "
                        f"dicts): {exc}") from None
    app = func.app
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    task = Enqueued(
        function=func.path, args=tuple(args), kwargs=dict(kwargs),
        queue=queue or func.queue or app.config.get("TASKS_QUEUE") or "default", name=name,
        schedule_time=datetime.now(UTC) + timedelta(seconds=delay) if delay else None,
        service=service or func.service or os.environ.get("GAE_SERVICE") or None,
        relative_uri=URL_PREFIX + func.path, body=body,
    )
    double: QueueDouble | None = app.extensions.get(QUEUE_EXTENSION_KEY)
    if double is not None:
        return double.enqueue(task)
    return _create_task(app.config, task, deadline)


def current_task() -> TaskInfo | None:
    """The task being run by this request, from App Engine's trusted headers; None outside a task
    (no request, or a request that App Engine did not deliver from a queue)."""
    if not has_request_context():
        return None
    info = request.appengine
    if not info.is_task:
        return None
    return TaskInfo(queue=info.queue_name or "", name=info.task_name or "", retry_count=info.task_retry_count or 0,
                    execution_count=info.task_execution_count or 0, eta=info.task_eta,
                    previous_response=info.task_previous_response, retry_reason=info.task_retry_reason)


@task_only
def _run_task(function: str) -> tuple[str, int]:
    """The built-in route: decode the JSON call and run the declared function (an exception is a 500: retry)."""
    spec = task_functions(current_app).get(function)
    if spec is None:
        raise NotFound(f"No task function {function!r} is declared with @app.task in this app.")
    try:
        call = json.loads(request.get_data(cache=False) or b"{}")
        args, kwargs = call.get("args", []), call.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError("args must be a list and kwargs an object")
    except (ValueError, AttributeError) as exc:
        raise BadRequest(f"The task body is not a JSON call of {function}: {exc}") from None
    current_app.ensure_sync(spec.func)(*args, **kwargs)
    return "", 204


# --- the Cloud Tasks client ---------------------------------------------------------------------------

_clients: dict[str | None, Any] = {}
_lock = threading.Lock()


def client() -> Any:
    """A google.cloud.tasks_v2.CloudTasksClient: the local emulator's when CLOUD_TASKS_EMULATOR_HOST is set.

    Against the emulator the unmodified client gets client_options.api_endpoint = the emulator's host:port
    and a gRPC transport over an insecure channel (no credentials needed); otherwise it is the default
    client (application default credentials, Google's endpoint). One client per process and endpoint.
    """
    host = os.environ.get("CLOUD_TASKS_EMULATOR_HOST") or None
    found = _clients.get(host)
    if found is not None:
        return found
    with _lock:
        if host not in _clients:
            from google.cloud import tasks_v2  # cold start: only apps that enqueue load the client

            if host:
                import grpc  # cold start
                from google.api_core.client_options import ClientOptions  # cold start
                from google.cloud.tasks_v2.services.cloud_tasks.transports import (  # cold start
                    CloudTasksGrpcTransport,
                )

                transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(host), host=host)
                _clients[host] = tasks_v2.CloudTasksClient(transport=transport,
                                                           client_options=ClientOptions(api_endpoint=host))
            else:
                _clients[host] = tasks_v2.CloudTasksClient()
        return _clients[host]


def queue_path(config: Mapping[str, Any], queue: str) -> str:
    """projects/P/locations/L/queues/Q from config and environment (see the module docstring)."""
    emulated = bool(os.environ.get("CLOUD_TASKS_EMULATOR_HOST"))
    project = config.get("TASKS_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT") or (
        EMULATOR_PROJECT if emulated else None)
    location = config.get("TASKS_LOCATION") or os.environ.get("CLOUD_TASKS_LOCATION") or (
        EMULATOR_LOCATION if emulated else None)
    if not project or not location:
        raise TaskError("Cloud Tasks needs a project and a location: set GOOGLE_CLOUD_PROJECT and "
                        "CLOUD_TASKS_LOCATION (app.yaml env_variables; the location is your App Engine region, "
                        "e.g. us-central1) or config TASKS_PROJECT / TASKS_LOCATION")
    return f"projects/{project}/locations/{location}/queues/{queue}"


def _create_task(config: Mapping[str, Any], task: Enqueued, deadline: float | None) -> str:
    parent = queue_path(config, task.queue)
    request: dict[str, Any] = {
        "http_method": "POST", "relative_uri": task.relative_uri, "body": task.body,
        "headers": {"Content-Type": "application/json"},
    }
    if task.service:
        request["app_engine_routing"] = {"service": task.service}
    body: dict[str, Any] = {"app_engine_http_request": request}
    if task.name:
        body["name"] = f"{parent}/tasks/{task.name}"
    if task.schedule_time is not None:
        body["schedule_time"] = task.schedule_time
    if deadline is not None:
        body["dispatch_deadline"] = timedelta(seconds=deadline)
    from google.api_core import exceptions  # cold start: loaded with the client

    try:
        created = client().create_task(parent=parent, task=body)
    except exceptions.AlreadyExists as exc:
        raise TaskAlreadyExists(f"task {task.name!r} on queue {task.queue!r}: {exc.message}") from exc
    except exceptions.FailedPrecondition as exc:
        raise TaskError(f"cannot enqueue on {parent}: {exc.message} Declare the queue in queue.yaml or create it "
                        f"with `gcloud tasks queues create {task.queue}`.") from exc
    return str(created.name)
