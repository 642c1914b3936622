"""Durable copy of the emulator's state in SQLite (WAL, synchronous=FULL), or nothing when in memory.

The service keeps queues and tasks in memory and writes every change here before it answers, so an
acknowledged CreateTask survives kill -9 and power loss. A task is deleted only after its target answered
2xx (or it ran out of retries), so a task in flight at a crash is delivered again: at least once.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..sqlite_store import columns, open_store

FILENAME = "cloudtasks.sqlite3"
# Store versions: 1 had no tasks.named column (before generated names were remembered for 1 h at most);
# 2 adds it. Version 1's tasks count as named (their names are kept for the whole window, the cautious side).
VERSION = 2
_UPGRADES = {1: "ALTER TABLE tasks ADD COLUMN named INTEGER NOT NULL DEFAULT 1;"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, data BLOB NOT NULL, yaml INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (name TEXT PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL,
    data BLOB NOT NULL, prev_status INTEGER, reason TEXT, named INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_by_queue ON tasks (queue);
CREATE TABLE IF NOT EXISTS tombstones (name TEXT PRIMARY KEY, until REAL NOT NULL);
"""


def _detect(db: sqlite3.Connection) -> int | None:
    """The version of a store written before versions were kept, from its tasks table."""
    found = columns(db, "tasks")
    if {"name", "queue", "seq", "data", "prev_status", "reason"} <= found and columns(db, "queues"):
        return 2 if "named" in found else 1
    return None


@dataclass
class TaskRow:
    """A stored task: its serialized Task message and what the next attempt's headers need."""

    name: str
    queue: str
    seq: int
    data: bytes
    prev_status: int | None
    reason: str | None
    named: bool  # the caller chose the name (only such names are de-duplicated for long)


class Journal:
    """Write-through persistence; every method is a no-op when `data_dir` is None (in-memory emulator)."""

    def __init__(self, data_dir: str | None) -> None:
        self._db: sqlite3.Connection | None = None
        if data_dir is None:
            return
        self.path = os.path.join(data_dir, FILENAME)
        self._db = open_store(data_dir, FILENAME, what="Cloud Tasks emulator", schema=_SCHEMA, version=VERSION,
                              upgrades=_UPGRADES, detect=_detect)

    @property
    def durable(self) -> bool:
        return self._db is not None

    def _run(self, statements: Iterable[tuple[str, tuple[object, ...]]]) -> None:
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def queues(self) -> Iterator[tuple[bytes, bool]]:
        if self._db is not None:
            for data, yaml in self._db.execute("SELECT data, yaml FROM queues ORDER BY name"):
                yield data, bool(yaml)

    def tasks(self) -> Iterator[TaskRow]:
        if self._db is not None:
            for name, queue, seq, data, prev_status, reason, named in self._db.execute(
                    "SELECT name, queue, seq, data, prev_status, reason, named FROM tasks ORDER BY seq"):
                yield TaskRow(name, queue, seq, data, prev_status, reason, bool(named))

    def tombstones(self) -> Iterator[tuple[str, float]]:
        if self._db is not None:
            yield from self._db.execute("SELECT name, until FROM tombstones")

    def put_queue(self, name: str, data: bytes, yaml: bool) -> None:
        self._run([("INSERT OR REPLACE INTO queues VALUES (?, ?, ?)", (name, data, int(yaml))),
                   ("DELETE FROM tombstones WHERE name = ?", (name,))])

    def delete_queue(self, name: str, until: float) -> None:
        self._run([("DELETE FROM queues WHERE name = ?", (name,)),
                   ("DELETE FROM tasks WHERE queue = ?", (name,)),
                   ("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (name, until))])

    def put_task(self, row: TaskRow) -> None:
        self._run([("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row.name, row.queue, row.seq, row.data, row.prev_status, row.reason, int(row.named)))])

    def delete_tasks(self, tombstones: Iterable[tuple[str, float]]) -> None:
        """Delete tasks, keeping each name as a tombstone until its time (task de-duplication)."""
        statements: list[tuple[str, tuple[object, ...]]] = []
        for name, until in tombstones:
            statements.append(("DELETE FROM tasks WHERE name = ?", (name,)))
            statements.append(("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (name, until)))
        self._run(statements)

    def forget_tombstones(self, now: float) -> None:
        self._run([("DELETE FROM tombstones WHERE until <= ?", (now,))])

    def clear(self) -> None:
        self._run([("DELETE FROM queues", ()), ("DELETE FROM tasks", ()), ("DELETE FROM tombstones", ())])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
