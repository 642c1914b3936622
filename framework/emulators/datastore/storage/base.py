"""The storage interface: entities by encoded key, index rows, used ids, all changed in atomic batches.

Key spaces (all byte strings compared byte-wise):
- entities: partition prefix + encoded path -> Record
- index rows: b"K" + partition + kind + path (kind index), b"P" + partition + kind + property + value + path
  (property index) -> the entity's storage key
- ids: partition prefix + encoded id: numeric ids that must never be auto-allocated
- history: what each commit replaced (version, storage key, partition prefix, record before or None), kept for
  point-in-time reads and pruned by version
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Record:
    """A stored entity: serialized Entity protobuf, its version and create/update times (µs)."""

    version: int
    create_us: int
    update_us: int
    data: bytes


@dataclass
class Batch:
    """Everything one commit changes, applied atomically."""

    version: int
    puts: dict[bytes, Record] = field(default_factory=dict)
    deletes: set[bytes] = field(default_factory=set)
    index_add: dict[bytes, bytes] = field(default_factory=dict)
    index_del: set[bytes] = field(default_factory=set)
    ids: set[bytes] = field(default_factory=set)
    history: list[HistoryEntry] = field(default_factory=list)  # what this commit replaces
    prune_history_to: int | None = None  # drop history entries of versions up to this one


HistoryEntry = tuple[int, bytes, bytes, "Record | None"]  # (version that replaced it, storage key, prefix, before)


class Storage(abc.ABC):
    """Ordered tables; callers serialize access (the server holds one lock around every call)."""

    @abc.abstractmethod
    def get(self, key: bytes) -> Record | None:
        """The entity stored under `key`, or None."""

    @abc.abstractmethod
    def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, Record]]:
        """Entities with lo <= key < hi in key order (or reversed)."""

    @abc.abstractmethod
    def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Index rows (row, entity key) with lo <= row < hi in row order (or reversed)."""

    @abc.abstractmethod
    def has_id(self, key: bytes) -> bool:
        """Whether a numeric id (encoded with its partition) was used, allocated or reserved."""

    @abc.abstractmethod
    def apply(self, batch: Batch) -> None:
        """Apply a batch atomically and durably (for durable stores) before returning."""

    @abc.abstractmethod
    def last_version(self) -> int:
        """The highest version ever committed (versions never go back, even across restarts)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Delete everything."""

    def load_history(self) -> tuple[int, list[HistoryEntry]]:
        """(version since which the history is complete, its entries by version) as stored; a store that keeps
        no history has none and is complete from its last version on."""
        return self.last_version(), []

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release in memory
        """Release files and connections."""
