"""Tasks through the real local runner: the runner starts the emulator, which delivers App Engine tasks
through the front end (token, Host routing to a service); client-forged task headers never reach a task.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.tasks.conftest import wait_until
from tests.local.conftest import Running, start_runner
from tests.support.procs import REPO_ROOT

APP = Path(__file__).parent / "apps" / "runner_two"
FILES = ["default/app.yaml", "worker/app.yaml", "queue.yaml"]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp_path = tmp_path_factory.mktemp("runner_two")
    app_dir = tmp_path / "app"
    shutil.copytree(APP, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    for service in ("default", "worker"):
        shutil.copy(REPO_ROOT / "requirements.txt", app_dir / service / "requirements.txt")
    with start_runner(app_dir, tmp_path, FILES, env={"DATASTORE_EMULATOR_HOST": "127.0.0.1:9"}) as running:
        yield running


def _notes(runner: Running) -> list[str]:
    path = runner.app_dir / "notes.log"
    return path.read_text().splitlines() if path.exists() else []


def test_tasks_reach_the_service_their_queue_targets(runner: Running) -> None:
    assert runner.request("POST", "/enqueue/default?text=here")[0] == 200
    assert runner.request("POST", "/enqueue/to-worker?text=there")[0] == 200
    notes = wait_until(lambda: len(_notes(runner)) >= 2, timeout=30, what="both tasks to run") and _notes(runner)
    assert sorted(notes) == ["default default 0 here", "worker to-worker 0 there"]


def test_forged_task_headers_do_not_run_a_task(runner: Running) -> None:
    forged = {"X-AppEngine-QueueName": "default", "X-AppEngine-TaskName": "forged", "Content-Type": "application/json",
              "X-Local-Platform-Token": "guessed"}
    status, _, _ = runner.request("POST", "/_ah/tasks/main:note", headers=forged,
                                  body=b'{"args": ["forged"], "kwargs": {}}')
    assert status == 403
    assert not any(line.endswith(" forged") for line in _notes(runner))
