"""--data-dir: queues, tasks and remembered names survive a restart and kill -9; delivery is at least once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2

from framework.emulators.tasks.launcher import start

from .conftest import PARENT, TOKEN, Recorder, make_client, queue, wait_until

AE = {"app_engine_http_request": {"relative_uri": "/ok/kept", "body": b"data"}}


def _names(client: tasks_v2.CloudTasksClient, queue_name: str) -> list[str]:
    return [t.name for t in client.list_tasks(parent=queue_name)]


def test_restart_keeps_queues_tasks_and_tombstones(tmp_path: Path) -> None:
    with start(data_dir=tmp_path) as first:
        client = make_client(first.address)
        made = queue(client, "kept", retry_config={"max_attempts": 7})
        client.pause_queue(name=made.name)
        names = [client.create_task(parent=made.name, task={**AE, "name": f"{made.name}/tasks/k{i}"}).name
                 for i in range(3)]
        client.delete_task(name=names.pop())
    with start(data_dir=tmp_path) as second:
        client = make_client(second.address)
        again = client.get_queue(name=made.name)
        assert again.state == tasks_v2.Queue.State.PAUSED
        assert again.retry_config.max_attempts == 7
        assert _names(client, made.name) == names
        full = client.get_task(request={"name": names[0], "response_view": tasks_v2.Task.View.FULL})
        assert full.app_engine_http_request.body == b"data"
        with pytest.raises(exceptions.AlreadyExists):  # the deleted name is still remembered
            client.create_task(parent=made.name, task={**AE, "name": f"{made.name}/tasks/k2"})


def test_acknowledged_tasks_survive_kill_9(tmp_path: Path) -> None:
    emulator = start(data_dir=tmp_path)
    try:
        client = make_client(emulator.address)
        made = queue(client, "crash")
        client.pause_queue(name=made.name)
        created = [client.create_task(parent=made.name, task=AE).name for _ in range(20)]
        os.kill(emulator.pid, signal.SIGKILL)  # right after the last acknowledgement
        emulator.proc.wait(10)
    finally:
        emulator.stop()
    with start(data_dir=tmp_path) as second:
        assert sorted(_names(make_client(second.address), made.name)) == sorted(created)


def test_task_in_flight_at_a_crash_is_delivered_again(tmp_path: Path, recorder_server: Recorder) -> None:
    recorder_server.clear()
    emulator = start(data_dir=tmp_path, app_engine_url=recorder_server.url, token=TOKEN)
    try:
        client = make_client(emulator.address)
        made = queue(client, "inflight")
        task = client.create_task(parent=made.name, task={
            "name": f"{made.name}/tasks/once", "app_engine_http_request": {"relative_uri": "/slow/1.5/inflight"}})
        recorder_server.wait_for(1, "/slow/1.5/inflight")  # arrived; the handler is still sleeping
        os.kill(emulator.pid, signal.SIGKILL)
        emulator.proc.wait(10)
    finally:
        emulator.stop()
    with start(data_dir=tmp_path, app_engine_url=recorder_server.url, token=TOKEN) as second:
        client = make_client(second.address)
        got = recorder_server.wait_for(2, "/slow/1.5/inflight")
        assert {g["headers"]["X-Appengine-Taskname"] for g in got} == {"once"}

        def finished() -> bool:
            try:
                client.get_task(name=task.name)
            except exceptions.NotFound:
                return True
            return False

        wait_until(finished, what="the redelivered task to complete")
    assert PARENT in made.name
