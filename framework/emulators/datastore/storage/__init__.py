"""Storage back ends: ordered byte-keyed tables in memory or in SQLite, behind one interface."""

from __future__ import annotations

from .base import Batch, HistoryEntry, Record, Storage


def open_storage(data_dir: str | None) -> Storage:
    """SQLite under `data_dir` when given, else memory."""
    if data_dir:
        from .sqlite import SqliteStorage

        return SqliteStorage(data_dir)
    from .memory import MemoryStorage

    return MemoryStorage()


__all__ = ["Batch", "HistoryEntry", "Record", "Storage", "open_storage"]
