"""The emulator's in-memory state: queues, their tasks in schedule order, tombstones, rate buckets.

Everything here is used under `State.lock`; the journal (journal.py) gets every change before an RPC
answers. Task order inside a queue is a heap of (schedule time, sequence, name) with stale entries skipped.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import pb
from .config import seconds
from .journal import Journal, TaskRow

GENERATED_NAME_WINDOW = 3600.0


def now_us() -> int:
    return time.time_ns() // 1000


def ts_us(timestamp: Any) -> int:
    return timestamp.seconds * 1_000_000 + timestamp.nanos // 1000


def set_ts(timestamp: Any, micros: int) -> None:
    timestamp.seconds, rest = divmod(micros, 1_000_000)
    timestamp.nanos = rest * 1000


@dataclass
class TaskState:
    """A queued task: its message, insertion order, and the previous attempt's outcome for the headers."""

    msg: Any
    seq: int
    named: bool = False  # the caller chose the name
    prev_status: int | None = None
    reason: str | None = None
    running: int = 0  # attempts in flight (RunTask may add one to a running task)

    @property
    def due_us(self) -> int:
        return ts_us(self.msg.schedule_time)


@dataclass
class QueueState:
    """A queue, its tasks and its dispatch bookkeeping (token bucket, dispatches in flight)."""

    msg: Any
    from_yaml: bool = False
    tasks: dict[str, TaskState] = field(default_factory=dict)
    heap: list[tuple[int, int, str]] = field(default_factory=list)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    in_flight: int = 0

    def __post_init__(self) -> None:
        self.tokens = float(self.msg.rate_limits.max_burst_size or 1)

    @property
    def name(self) -> str:
        return str(self.msg.name)

    def push(self, task: TaskState) -> None:
        heapq.heappush(self.heap, (task.due_us, task.seq, str(task.msg.name)))

    def refill(self, now: float) -> None:
        rate = self.msg.rate_limits
        self.tokens = min(float(rate.max_burst_size or 1), self.tokens + (now - self.refilled) * rate.max_dispatches_per_second)
        self.refilled = now

    def retry_config(self, task: TaskState) -> Any:
        """The task's own RetryConfig when it has one, else the queue's."""
        return task.msg.retry_config if has_retry_config(task.msg) else self.msg.retry_config


@dataclass
class State:
    """All queues by full name, tombstones of deleted names, the journal, and one lock with a wake-up."""

    journal: Journal
    queues: dict[str, QueueState] = field(default_factory=dict)
    tombstones: dict[str, float] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    seq: int = 0

    def __post_init__(self) -> None:
        self.wake = threading.Condition(self.lock)

    def load(self) -> None:
        """Read back what the journal holds (a restart after a stop or a crash)."""
        for data, yaml in self.journal.queues():
            msg = pb.Queue.FromString(data)
            self.queues[msg.name] = QueueState(msg, yaml)
        for row in self.journal.tasks():
            queue = self.queues.get(row.queue)
            if queue is None:
                continue
            task = TaskState(pb.Task.FromString(row.data), row.seq, row.named, row.prev_status, row.reason)
            queue.tasks[row.name] = task
            queue.push(task)
            self.seq = max(self.seq, row.seq)
        now = time.time()
        self.tombstones = {name: until for name, until in self.journal.tombstones() if until > now}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def tombstoned(self, name: str) -> bool:
        until = self.tombstones.get(name)
        if until is None:
            return False
        if until > time.time():
            return True
        del self.tombstones[name]
        return False

    def save_task(self, queue: QueueState, task: TaskState) -> None:
        self.journal.put_task(TaskRow(str(task.msg.name), queue.name, task.seq, task.msg.SerializeToString(),
                                      task.prev_status, task.reason, task.named))

    def drop_tasks(self, queue: QueueState, names: list[str], window: float) -> None:
        """Remove tasks and keep their names for `window` seconds (de-duplication).

        Names the service generated are random 63-bit ids a caller never picks, so they are kept only for
        GENERATED_NAME_WINDOW: the table of remembered names stays small under a steady flow of tasks.
        """
        now = time.time()
        tombstones = []
        for name in names:
            task = queue.tasks.pop(name, None)
            named = task.named if task is not None else True
            tombstones.append((name, now + (window if named else min(window, GENERATED_NAME_WINDOW))))
        self.journal.delete_tasks(tombstones)
        self.tombstones.update(tombstones)
        if not queue.tasks:
            queue.heap.clear()

    def prune(self) -> None:
        """Forget tombstones whose time is up (called now and then by the dispatcher)."""
        now = time.time()
        expired = [name for name, until in self.tombstones.items() if until <= now]
        if expired:
            for name in expired:
                del self.tombstones[name]
            self.journal.forget_tombstones(now)

    def due(self, queue: QueueState, now: int) -> TaskState | None:
        """The next task of `queue` due at `now` (µs) that is not being dispatched, without removing it."""
        heap = queue.heap
        while heap:
            due_us, seq, name = heap[0]
            task = queue.tasks.get(name)
            if task is None or task.seq != seq or task.due_us != due_us or task.running:
                heapq.heappop(heap)  # deleted, rescheduled (a newer entry exists) or in flight
                continue
            return task if due_us <= now else None
        return None

    def next_due_us(self, queue: QueueState) -> int | None:
        return queue.heap[0][0] if queue.heap else None


def has_retry_config(task: Any) -> bool:
    """Whether a task sets its own RetryConfig (a field newer google-cloud-tasks releases have)."""
    return "retry_config" in task.DESCRIPTOR.fields_by_name and task.HasField("retry_config")


def task_age(task: TaskState, now: int) -> float:
    """Seconds since the task's first attempt (0 before it)."""
    first = task.msg.first_attempt
    return (now - ts_us(first.dispatch_time)) / 1e6 if first.HasField("dispatch_time") else 0.0


def deadline_seconds(task: Any, default: float) -> float:
    return seconds(task.dispatch_deadline) if task.HasField("dispatch_deadline") else default
