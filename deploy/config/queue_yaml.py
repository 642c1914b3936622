"""queue.yaml: push (and pull) queues with rate, bucket, concurrency, target and retry settings, §5.7."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class QueueRetry:
    task_retry_limit: int | None = None  # None = unlimited
    task_age_limit: float | None = None  # seconds
    min_backoff_seconds: float = 0.1
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 16


@dataclass(frozen=True)
class QueueDef:
    name: str
    line: int
    mode: Literal["push", "pull"] = "push"
    rate: float = 5.0  # tasks per second; 0 = paused
    bucket_size: int = 5
    max_concurrent_requests: int = 1000
    target: str | None = None
    retry: QueueRetry = QueueRetry()


@dataclass(frozen=True)
class Queues:
    path: Path | None
    queues: tuple[QueueDef, ...] = ()
    total_storage_limit: str | None = None
