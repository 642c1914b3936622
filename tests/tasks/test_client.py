"""framework.tasks.client() and where tasks go: the emulator from one variable, or Google's API with settings."""

from __future__ import annotations

import pytest
from google.cloud import tasks_v2

from framework.emulators.tasks.launcher import Emulator
from framework.emulators.tasks.pytest_plugin import clean_cloud_tasks, cloud_tasks_emulator  # noqa: F401
from framework.tasks import TaskAlreadyExists, TaskError, client, defer, queue_path
from tests.support.procs import REPO_ROOT

from .apps import taskapp


def test_client_talks_to_the_emulator_from_one_variable(clean_cloud_tasks: Emulator) -> None:  # noqa: F811
    made = client()
    assert isinstance(made, tasks_v2.CloudTasksClient)
    assert client() is made  # one per process and endpoint
    names = [q.name for q in made.list_queues(parent="projects/local-project/locations/us-central1")]
    assert names == ["projects/local-project/locations/us-central1/queues/default"]


def test_defer_creates_a_real_task_in_the_emulator(clean_cloud_tasks: Emulator) -> None:  # noqa: F811
    name = defer(taskapp.write_note, "k", "text", name="named-1", delay=3600, service="worker")
    assert name == "projects/local-project/locations/us-central1/queues/default/tasks/named-1"
    task = client().get_task(request={"name": name, "response_view": tasks_v2.Task.View.FULL})
    request = task.app_engine_http_request
    assert request.relative_uri == "/_ah/tasks/tests.tasks.apps.taskapp:write_note"
    assert request.body == b'{"args":["k","text"],"kwargs":{}}'
    assert request.headers["Content-Type"] == "application/json"
    assert request.app_engine_routing.service == "worker"
    assert task.schedule_time.timestamp() > task.create_time.timestamp() + 3500
    with pytest.raises(TaskAlreadyExists, match="named-1"):
        defer(taskapp.write_note, "k", "text", name="named-1")
    with pytest.raises(TaskError, match="queue.yaml"):
        defer(taskapp.write_note, "k", "text", queue="no-such-queue")


def test_queue_path_needs_a_location_off_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUD_TASKS_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("CLOUD_TASKS_LOCATION", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    with pytest.raises(TaskError, match="CLOUD_TASKS_LOCATION"):
        queue_path({}, "default")
    monkeypatch.setenv("CLOUD_TASKS_LOCATION", "europe-west1")
    assert queue_path({}, "mail") == "projects/my-proj/locations/europe-west1/queues/mail"
    assert queue_path({"TASKS_PROJECT": "p", "TASKS_LOCATION": "l"}, "q") == "projects/p/locations/l/queues/q"


def test_declaring_a_task_does_not_import_google_cloud() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom framework import App\napp = App('x')\n@app.task\ndef f(): pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('google.cloud.tasks', 'grpc'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          cwd=REPO_ROOT)
    assert done.stdout.strip() == "[]"
