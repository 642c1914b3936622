"""framework.tasks in-process: @app.task, defer() checks, the task route's guard, and the TaskRecorder double.

Task functions write through ndb to the real Datastore emulator (clean_datastore).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from framework import App
from framework.adapters.appengine import TRUSTED_ENVIRON_KEY
from framework.emulators.datastore.launcher import Emulator
from framework.tasks import TaskAlreadyExists, TaskError, defer, task_functions
from framework.testing.tasks import TaskFailed, TaskRecorder

from .apps import taskapp


@pytest.fixture
def recorder(clean_datastore: Emulator) -> Iterator[TaskRecorder]:
    with TaskRecorder(taskapp.app) as recording:
        yield recording


def _note(key: str) -> dict[str, object] | None:
    response = taskapp.app.test_client().get(f"/notes/{key}")
    return response.get_json() if response.status_code == 200 else None


def test_defer_records_and_run_all_writes_through_ndb(recorder: TaskRecorder) -> None:
    client = taskapp.app.test_client()
    answer = client.post("/enqueue/n1", json={"text": "hello", "upper": True}).get_json()
    [task] = recorder.enqueued("write_note")
    assert task.task_name == answer["task"]
    assert task.args == ("n1", "hello") and task.kwargs == {"upper": True}
    assert task.queue == "default"
    assert task.enqueued.relative_uri == "/_ah/tasks/tests.tasks.apps.taskapp:write_note"
    assert _note("n1") is None  # nothing runs until the test says so
    [response] = recorder.run_all()
    assert response.status_code == 204
    assert _note("n1") == {"text": "HELLO", "retries": 0, "queue": "default"}
    assert recorder.tasks == []


def test_retries_are_visible_through_current_task(recorder: TaskRecorder) -> None:
    taskapp.flaky.defer("f1", 1)
    [task] = recorder.enqueued(queue="flaky")
    assert recorder.run(task).status_code == 500
    assert task.retry_count == 1 and recorder.tasks == [task]
    assert recorder.run(task).status_code == 204
    # As on the platform (§3.4): a retry says how the previous attempt answered.
    assert _note("f1") == {"text": "previous response 500", "retries": 1, "queue": "flaky"}


def test_the_eta_is_the_schedule_time_else_the_enqueue_time(recorder: TaskRecorder) -> None:
    before = time.time()
    taskapp.flaky.defer("e1", 0)
    taskapp.flaky.defer("e2", 0, delay=60)
    now, later = recorder.enqueued(queue="flaky")
    assert before <= now.eta <= time.time()  # not 0 (1970), which a task comparing ETAs would misread
    assert later.eta == later.enqueued.schedule_time.timestamp() and later.eta >= before + 60


def test_run_all_raises_on_a_failing_task(recorder: TaskRecorder) -> None:
    taskapp.flaky.defer("f2", 5)
    with pytest.raises(TaskFailed, match="500"):
        recorder.run_all()
    responses = recorder.run_all(raise_on_failure=False)
    assert [r.status_code for r in responses] == [500]
    assert recorder.tasks[0].retry_count == 2


def test_async_task_function(recorder: TaskRecorder) -> None:
    taskapp.write_later.defer("a1")
    recorder.run_all()
    assert _note("a1") == {"text": "async", "retries": None, "queue": None}


def test_defer_refuses_what_cannot_be_a_task(recorder: TaskRecorder) -> None:
    with pytest.raises(TaskError, match="must be JSON"):
        defer(taskapp.write_note, "k", object())
    with pytest.raises(TaskError, match="declare it with @app.task"):
        defer(print, "k")
    # Names Cloud Tasks would refuse are refused by defer itself, as TaskError, on every backend.
    with pytest.raises(TaskError, match="task name 'has space' is not valid"):
        taskapp.write_note.defer("k", "x", name="has space")
    with pytest.raises(TaskError, match="queue name 'no/slash' is not valid"):
        taskapp.write_note.defer("k", "x", queue="no/slash")
    assert recorder.tasks == []
    taskapp.write_note.defer("dup", "x", name="only-once")
    with pytest.raises(TaskAlreadyExists, match="already enqueued"):
        taskapp.write_note.defer("dup", "x", name="only-once")

    def nested() -> None:
        pass

    with pytest.raises(TaskError, match="module-level function"):
        App("elsewhere").task(nested)


def test_task_function_still_runs_directly(clean_datastore: Emulator) -> None:
    with taskapp.app.app_context():
        taskapp.write_note("direct", "called")  # outside a task: current_task() is None
    assert _note("direct") == {"text": "called", "retries": -1, "queue": None}
    assert taskapp.flaky.path == "tests.tasks.apps.taskapp:flaky"
    assert task_functions(taskapp.app)["tests.tasks.apps.taskapp:flaky"] is taskapp.flaky
    assert taskapp.flaky.__name__ == "flaky" and taskapp.flaky.queue == "flaky"


def test_task_route_refuses_requests_not_from_the_platform(recorder: TaskRecorder) -> None:
    client = taskapp.app.test_client()
    url = "/_ah/tasks/tests.tasks.apps.taskapp:write_note"
    body = {"args": ["forged", "x"], "kwargs": {}}
    # A client-sent X-AppEngine-QueueName is not believed without the platform's mark.
    response = client.post(url, json=body, headers={"X-AppEngine-QueueName": "default",
                                                   "X-AppEngine-TaskName": "t"})
    assert response.status_code == 403
    assert client.post("/guarded", headers={"X-AppEngine-QueueName": "default"}).status_code == 403
    assert _note("forged") is None
    trusted = {"X-AppEngine-QueueName": "default", "X-AppEngine-TaskName": "t"}
    marked = {TRUSTED_ENVIRON_KEY: True}
    assert client.post("/_ah/tasks/os:system", json=body, headers=trusted,
                       environ_overrides=marked).status_code == 404  # never imports a name from the request
    bad = client.post(url, data=b"{not json", headers=trusted, environ_overrides=marked)
    assert bad.status_code == 400
    assert client.post(url, json={"args": "x"}, headers=trusted, environ_overrides=marked).status_code == 400
