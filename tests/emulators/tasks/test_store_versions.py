"""A `.cloudtasks` folder written by an earlier emulator is upgraded in place; one from a newer emulator, or a
file that is not a store, is refused with one line naming the folder and the fix, and left as it was."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.protobuf import timestamp_pb2

from framework.emulators.tasks import pb
from framework.emulators.tasks.launcher import start
from tests.support.procs import REPO_ROOT

from .conftest import PARENT, make_client

# The store as the first emulator wrote it: no tasks.named column and no user_version.
_FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, data BLOB NOT NULL, yaml INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (name TEXT PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL,
    data BLOB NOT NULL, prev_status INTEGER, reason TEXT);
CREATE INDEX IF NOT EXISTS tasks_by_queue ON tasks (queue);
CREATE TABLE IF NOT EXISTS tombstones (name TEXT PRIMARY KEY, until REAL NOT NULL);
"""
QUEUE = f"{PARENT}/queues/legacy"


def _first_version_store(folder: Path) -> Path:
    """A store with one paused queue and two tasks, written by hand with the first schema."""
    folder.mkdir()
    path = folder / "cloudtasks.sqlite3"
    queue = pb.Queue(name=QUEUE, state=pb.QUEUE_PAUSED)
    queue.rate_limits.max_dispatches_per_second = 5
    queue.rate_limits.max_concurrent_dispatches = 10
    queue.retry_config.max_attempts = 3
    db = sqlite3.connect(path)
    with db:
        db.executescript(_FIRST_SCHEMA)
        db.execute("INSERT INTO queues VALUES (?, ?, 0)", (QUEUE, queue.SerializeToString()))
        for seq, task_id in enumerate(("old-1", "old-2"), start=1):
            task = pb.Task(name=f"{QUEUE}/tasks/{task_id}", schedule_time=timestamp_pb2.Timestamp(seconds=1_700_000_000))
            task.app_engine_http_request.relative_uri = f"/work/{task_id}"
            task.app_engine_http_request.body = task_id.encode()
            db.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, NULL, NULL)",
                       (task.name, QUEUE, seq, task.SerializeToString()))
    db.close()
    return path


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    """The emulator as `make run` starts it on `folder`, for a refusal (it would otherwise keep running)."""
    return subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", "0", "--data-dir",
                           str(folder)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_a_first_version_store_is_upgraded_and_keeps_its_queues_and_tasks(tmp_path: Path) -> None:
    folder = tmp_path / ".cloudtasks"
    path = _first_version_store(folder)
    with start(data_dir=folder) as emulator:
        client = make_client(emulator.address)
        queue = client.get_queue(name=QUEUE)
        assert queue.state == queue.State.PAUSED and queue.retry_config.max_attempts == 3
        tasks = list(client.list_tasks(request={"parent": QUEUE, "response_view": "FULL"}))
        assert [t.name.rsplit("/", 1)[1] for t in tasks] == ["old-1", "old-2"]
        assert tasks[1].app_engine_http_request.body == b"old-2"
        client.delete_task(name=tasks[0].name)
        with pytest.raises(exceptions.AlreadyExists):  # a task of the old store counts as named: remembered
            client.create_task(parent=QUEUE, task={"name": tasks[0].name, "app_engine_http_request": {}})
        made = client.create_task(parent=QUEUE, task={"app_engine_http_request": {"relative_uri": "/new"}})
    assert _user_version(path) == 2
    with start(data_dir=folder) as again:  # the upgraded store opens as it is, with what was written to it
        names = [t.name for t in make_client(again.address).list_tasks(parent=QUEUE)]
        assert names == [tasks[1].name, made.name]


def test_a_store_from_a_newer_emulator_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".cloudtasks"
    path = _first_version_store(folder)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    before = path.read_bytes()
    result = _run(folder)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(folder) in result.stderr and "newer" in result.stderr and "upgrade the framework" in result.stderr
    assert "ready" not in result.stdout and "running" not in result.stdout
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_store_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / ".cloudtasks"
    folder.mkdir()
    (folder / "cloudtasks.sqlite3").write_bytes(b"this is not SQLite" * 100)
    other = tmp_path / "other"
    other.mkdir()
    db = sqlite3.connect(other / "cloudtasks.sqlite3")
    db.execute("CREATE TABLE unrelated (x)")
    db.close()
    for bad in (folder, other):
        result = _run(bad)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert str(bad) in result.stderr and "move" in result.stderr
