"""Sizing a server from what the instance offers: the settings both entrypoints (framework.server for granian,
gunicorn.conf.py for gunicorn) read the same way, each with its own table of workers per class."""

from __future__ import annotations

from collections.abc import Sequence


def positive_int(value: str | None) -> int | None:
    """A setting given as a positive whole number; None when unset, malformed or not positive."""
    try:
        number = int(value) if value else 0
    except ValueError:
        return None
    return number if number > 0 else None


def workers_for_memory(memory_mb: int | None, table: Sequence[tuple[int, int]], most: int) -> int:
    """Workers for an instance with `memory_mb` (GAE_MEMORY_MB): the first `(limit, workers)` row whose limit
    it fits, `most` above them all, the smallest class's figure when the memory is unknown."""
    if memory_mb is None:
        return table[0][1]
    for limit, workers in table:
        if memory_mb <= limit:
            return workers
    return most
