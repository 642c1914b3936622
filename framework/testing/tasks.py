"""Testing tasks: a test double of the Cloud Tasks queue for the framework's own test client.

`TaskRecorder(app)` (a context manager) makes `defer()` / `func.defer()` record tasks instead of calling
Cloud Tasks; `recorder.tasks` shows what was enqueued, `recorder.run_all()` runs them synchronously through
the app's test client, as POSTs to the real task route with App Engine's task headers marked trusted, so
the `task_only` guard, the app context and ndb's context are all the real ones. It is a double: no rate
limits, no backoff, no schedule times (delayed tasks run at once). For the real thing, use the Cloud Tasks
emulator and its pytest fixtures (framework.emulators.tasks.pytest_plugin).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from framework.adapters.appengine import TRUSTED_ENVIRON_KEY
from framework.tasks import QUEUE_EXTENSION_KEY, Enqueued, TaskAlreadyExists

if TYPE_CHECKING:
    from werkzeug.test import TestResponse

    from framework.app import App

__all__ = ["RecordedTask", "TaskFailed", "TaskRecorder"]


class TaskFailed(AssertionError):
    """A recorded task answered something other than 2xx when run."""


@dataclass
class RecordedTask:
    """A task `defer` enqueued: what it calls, where it was going, and how often it ran."""

    task_name: str
    enqueued: Enqueued
    retry_count: int = 0
    eta: float = field(default_factory=time.time)  # the schedule time, else when it was enqueued (as Cloud Tasks)
    previous_response: int | None = None  # the status of the last failed run

    @property
    def function(self) -> str:
        return self.enqueued.function

    @property
    def args(self) -> tuple[Any, ...]:
        return self.enqueued.args

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.enqueued.kwargs

    @property
    def queue(self) -> str:
        return self.enqueued.queue


class TaskRecorder:
    """Records what `defer` enqueues on `app` and runs it on demand (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.tasks: list[RecordedTask] = []
        self._names: set[str] = set()

    def __enter__(self) -> TaskRecorder:
        self.app.extensions[QUEUE_EXTENSION_KEY] = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.app.extensions.get(QUEUE_EXTENSION_KEY) is self:
            del self.app.extensions[QUEUE_EXTENSION_KEY]

    def enqueue(self, task: Enqueued) -> str:
        """Called by `defer`: keep the task; a reused name fails as Cloud Tasks' de-duplication does."""
        name = task.name or str(secrets.randbits(63))
        key = f"{task.queue}/{name}"
        if key in self._names:
            raise TaskAlreadyExists(f"a task named {name!r} was already enqueued on {task.queue!r}")
        self._names.add(key)
        recorded = RecordedTask(name, task)
        if task.schedule_time is not None:
            recorded.eta = task.schedule_time.timestamp()
        self.tasks.append(recorded)
        return name

    def enqueued(self, function: str | None = None, queue: str | None = None) -> list[RecordedTask]:
        """Tasks waiting to run, optionally only those of one function (`module:qualname` or its end) or queue."""
        return [t for t in self.tasks
                if (function is None or t.function == function or t.function.endswith(":" + function))
                and (queue is None or t.queue == queue)]

    def run(self, task: RecordedTask) -> TestResponse:
        """Run one task now through the test client; it leaves the queue when it answers 2xx."""
        headers = {
            "X-AppEngine-QueueName": task.queue,
            "X-AppEngine-TaskName": task.task_name,
            "X-AppEngine-TaskRetryCount": str(task.retry_count),
            "X-AppEngine-TaskExecutionCount": str(task.retry_count),
            "X-AppEngine-TaskETA": f"{task.eta:.6f}",
            "Content-Type": "application/json",
        }
        if task.previous_response is not None:
            headers["X-AppEngine-TaskPreviousResponse"] = str(task.previous_response)
        if task.enqueued.service:
            headers["Host"] = f"{task.enqueued.service}.localhost"
        response = self.app.test_client().post(task.enqueued.relative_uri, data=task.enqueued.body, headers=headers,
                                               environ_overrides={TRUSTED_ENVIRON_KEY: True})
        if 200 <= response.status_code < 300:
            self.tasks.remove(task)
        else:
            task.retry_count += 1
            task.previous_response = response.status_code
        return response

    def run_all(self, *, raise_on_failure: bool = True, max_runs: int = 1000) -> list[TestResponse]:
        """Run queued tasks in order until none is left, including tasks that tasks enqueue.

        A failing task raises TaskFailed (or, with raise_on_failure=False, stays queued with its retry count
        raised and the run goes on with the next one).
        """
        responses: list[TestResponse] = []
        failed: set[int] = set()
        while len(responses) < max_runs:
            pending = [t for t in self.tasks if id(t) not in failed]
            if not pending:
                return responses
            task = pending[0]
            response = self.run(task)
            responses.append(response)
            if not 200 <= response.status_code < 300:
                if raise_on_failure:
                    raise TaskFailed(f"task {task.task_name} ({task.function}) answered {response.status}: "
                                     f"{response.get_data(as_text=True)[:500]}")
                failed.add(id(task))
        raise TaskFailed(f"more than {max_runs} task runs: do tasks keep enqueuing tasks?")

    def clear(self) -> None:
        self.tasks.clear()
        self._names.clear()
