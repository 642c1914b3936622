"""In-memory storage: sorted lists of byte keys searched with bisect, the same layout as SQLite."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Generic, TypeVar

from .base import Batch, Record, Storage

V = TypeVar("V")


class SortedTable(Generic[V]):
    """A dict with its keys also kept in a sorted list, for range scans."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self.values: dict[bytes, V] = {}

    def put(self, key: bytes, value: V) -> None:
        if key not in self.values:
            bisect.insort(self.keys, key)
        self.values[key] = value

    def delete(self, key: bytes) -> None:
        if self.values.pop(key, None) is not None:
            del self.keys[bisect.bisect_left(self.keys, key)]

    def scan(self, lo: bytes, hi: bytes, reverse: bool) -> Iterator[tuple[bytes, V]]:
        start = bisect.bisect_left(self.keys, lo)
        end = bisect.bisect_left(self.keys, hi)
        order = range(end - 1, start - 1, -1) if reverse else range(start, end)
        keys, values = self.keys, self.values
        for i in order:
            key = keys[i]
            yield key, values[key]


class MemoryStorage(Storage):
    """Nothing survives the process; `reset()` is instant."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._entities: SortedTable[Record] = SortedTable()
        self._index: SortedTable[bytes] = SortedTable()
        self._ids: set[bytes] = set()
        self._version = getattr(self, "_version", 0)

    def get(self, key: bytes) -> Record | None:
        return self._entities.values.get(key)

    def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, Record]]:
        return self._entities.scan(lo, hi, reverse)

    def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return self._index.scan(lo, hi, reverse)

    def has_id(self, key: bytes) -> bool:
        return key in self._ids

    def apply(self, batch: Batch) -> None:
        for key in batch.index_del:
            self._index.delete(key)
        for key, value in batch.index_add.items():
            self._index.put(key, value)
        for key in batch.deletes:
            self._entities.delete(key)
        for key, record in batch.puts.items():
            self._entities.put(key, record)
        self._ids |= batch.ids  # history lives in the service's memory for this store: nothing to keep here
        self._version = max(self._version, batch.version)

    def last_version(self) -> int:
        return self._version
