"""@app.task / defer() end to end with real processes: a gunicorn app as the local runner starts it
(GAE_ENV=localdev with the platform token), the Cloud Tasks emulator delivering to it, the Datastore
emulator behind ndb. Also: forged task headers from a client are refused by the app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.emulators.datastore.launcher import Emulator as DatastoreEmulator
from framework.emulators.tasks.launcher import Emulator, start
from tests.emulators.tasks.conftest import wait_until
from tests.support.procs import REPO_ROOT, Server, free_port, run_server, venv_tool

TOKEN = "e2e-platform-token"


def _call(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                     method="POST" if data is not None or headers else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw.startswith(b"{") else raw.decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def stack(datastore_emulator: DatastoreEmulator, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[Server, Emulator]]:
    port = free_port()
    with start(app_engine_url=f"http://127.0.0.1:{port}", token=TOKEN) as tasks:
        env = {**datastore_emulator.env, "CLOUD_TASKS_EMULATOR_HOST": tasks.address, "GAE_ENV": "localdev",
               "LOCAL_PLATFORM_TOKEN": TOKEN, "GOOGLE_CLOUD_PROJECT": "local-project"}
        cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
               "--worker-class", "gthread", "tests.tasks.apps.taskapp:app"]
        with run_server(cmd, port=port, tmp_path=tmp_path_factory.mktemp("taskapp"), env=env, cwd=REPO_ROOT,
                        ready_path="/notes/none") as server:
            yield server, tasks


def _wait_note(server: Server, key: str) -> dict[str, Any]:
    def found() -> Any:
        status, body = _call(f"{server.url}/notes/{key}")
        return body if status == 200 else None

    try:
        return dict(wait_until(found, timeout=20, what=f"note {key}"))
    except AssertionError:
        raise AssertionError(f"note {key} never written; app log:\n{server.log()}") from None


def test_defer_runs_the_function_through_the_emulator(stack: tuple[Server, Emulator]) -> None:
    server, _ = stack
    status, body = _call(f"{server.url}/enqueue/e1", {"text": "from a task", "upper": True})
    assert status == 200 and body["task"].startswith("projects/local-project/locations/us-central1/queues/default/")
    assert _wait_note(server, "e1") == {"text": "FROM A TASK", "retries": 0, "queue": "default"}


def test_a_failing_function_is_retried_and_sees_its_retry_count(stack: tuple[Server, Emulator]) -> None:
    server, tasks = stack
    from google.cloud import tasks_v2

    from tests.emulators.tasks.conftest import make_client

    client: tasks_v2.CloudTasksClient = make_client(tasks.address)
    client.create_queue(parent="projects/local-project/locations/us-central1", queue={
        "name": "projects/local-project/locations/us-central1/queues/flaky",
        "retry_config": {"min_backoff": {"nanos": 100_000_000}}})
    status, _ = _call(f"{server.url}/enqueue-flaky/e2", {"fail_times": 2})
    assert status == 200
    assert _wait_note(server, "e2") == {"text": "previous response 500", "retries": 2, "queue": "flaky"}


def test_forged_task_headers_are_refused(stack: tuple[Server, Emulator]) -> None:
    server, _ = stack
    forged = {"X-AppEngine-QueueName": "default", "X-AppEngine-TaskName": "forged",
              "X-AppEngine-TaskRetryCount": "0"}
    assert _call(f"{server.url}/guarded", headers=forged)[0] == 403
    wrong_token = {**forged, "X-Local-Platform-Token": "not-the-token"}
    assert _call(f"{server.url}/guarded", headers=wrong_token)[0] == 403
    url = f"{server.url}/_ah/tasks/tests.tasks.apps.taskapp:write_note"
    assert _call(url, {"args": ["forged", "x"]}, forged)[0] == 403
    assert _call(url, {"args": ["forged", "x"]}, wrong_token)[0] == 403
    assert _call(f"{server.url}/notes/forged")[0] == 404
    # The same request with the platform's token is believed (what the emulator and the runner send).
    assert _call(f"{server.url}/guarded", headers={**forged, "X-Local-Platform-Token": TOKEN})[0] == 200


def test_sample_app_enqueues_a_datastore_write(datastore_emulator: DatastoreEmulator, tmp_path: Path) -> None:
    port = free_port()
    with start(app_engine_url=f"http://127.0.0.1:{port}", token=TOKEN) as tasks:
        env = {**datastore_emulator.env, "CLOUD_TASKS_EMULATOR_HOST": tasks.address, "GAE_ENV": "localdev",
               "LOCAL_PLATFORM_TOKEN": TOKEN, "GOOGLE_CLOUD_PROJECT": "local-project"}
        cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "main:app"]
        with run_server(cmd, port=port, tmp_path=tmp_path, env=env, cwd=REPO_ROOT) as server:
            status, body = _call(f"{server.url}/tasks/demo", {"name": "task-demo"})
            assert status == 202, body

            def counted() -> Any:
                visits = _call(f"{server.url}/visits")[1]["visits"]
                return [v for v in visits if v["name"] == "task-demo"]

            assert wait_until(counted, timeout=20, what="the demo task's visit")[0]["count"] >= 1
