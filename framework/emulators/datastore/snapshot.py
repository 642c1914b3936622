"""Read-only transactions read the data as of their start: a storage view that undoes later commits.

While a read-only transaction is open, every commit remembers the records it replaces (`History`). A
`SnapshotView` then answers gets and range scans as the store was at the transaction's begin version: the
current rows of changed entities are hidden and the rows of their earlier records merged back in, so
queries, aggregations and lookups inside the transaction all see one snapshot.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from . import pb
from .storage import Batch, Record, Storage

IndexRows = Callable[[bytes, Any, bytes], dict[bytes, bytes]]


class History:
    """Earlier records of entities changed since the oldest open read-only transaction began."""

    def __init__(self) -> None:
        # storage key -> (partition prefix, [(version that replaced it, the record before or None)]), oldest first
        self._changes: dict[bytes, tuple[bytes, list[tuple[int, Record | None]]]] = {}
        self._size = 0
        self._prune_at = 1024

    def remember(self, storage: Storage, version: int, final: dict[bytes, tuple[bytes, Any]], oldest: int) -> None:
        """Record what a commit at `version` is about to replace (call before applying it); `oldest` is the
        earliest begin version of the open read-only transactions."""
        for skey, (ns, _) in final.items():
            self._changes.setdefault(skey, (ns, []))[1].append((version, storage.get(skey)))
        self._size += len(final)
        if self._size > self._prune_at:  # amortized: overlapping read-only transactions never clear it
            self._prune(oldest)
            self._prune_at = max(1024, 2 * self._size)

    def _prune(self, oldest: int) -> None:
        """Drop what no open transaction can see: records replaced at or before `oldest`."""
        for skey in list(self._changes):
            ns, changes = self._changes[skey]
            kept = [change for change in changes if change[0] > oldest]
            self._size -= len(changes) - len(kept)
            if kept:
                self._changes[skey] = (ns, kept)
            else:
                del self._changes[skey]

    def clear(self) -> None:
        self._changes.clear()
        self._size = 0

    def as_of(self, version: int) -> dict[bytes, tuple[bytes, Record | None]]:
        """Storage key -> (prefix, record at `version`) for every entity changed after `version`."""
        out = {}
        for skey, (ns, changes) in self._changes.items():
            for replaced_at, before in changes:
                if replaced_at > version:
                    out[skey] = (ns, before)
                    break
        return out


def _rows(index_rows: IndexRows, ns: bytes, record: Record | None, skey: bytes) -> dict[bytes, bytes]:
    return index_rows(ns, pb.Entity.FromString(record.data), skey) if record is not None else {}


class SnapshotView(Storage):
    """The store as it was at `version`, read through `base`; writes are refused."""

    def __init__(self, base: Storage, version: int, history: History, index_rows: IndexRows) -> None:
        self.base, self.version = base, version
        self._old = history.as_of(version)
        self._hidden_rows: set[bytes] = set()
        old_rows: dict[bytes, bytes] = {}
        for skey, (ns, before) in self._old.items():
            self._hidden_rows.update(_rows(index_rows, ns, base.get(skey), skey))
            old_rows.update(_rows(index_rows, ns, before, skey))
        self._hidden_rows.update(old_rows)
        self._old_rows = sorted(old_rows.items())
        self._old_entities = sorted((k, r) for k, (_, r) in self._old.items() if r is not None)

    def get(self, key: bytes) -> Record | None:
        if key in self._old:
            return self._old[key][1]
        return self.base.get(key)

    @staticmethod
    def _merge(base: Iterator[tuple[bytes, Any]], hidden: Any, extra: list[tuple[bytes, Any]],
               lo: bytes, hi: bytes, reverse: bool) -> Iterator[tuple[bytes, Any]]:
        kept = (item for item in base if item[0] not in hidden)
        extra = [item for item in extra if lo <= item[0] < hi]
        if reverse:
            extra.reverse()
        return heapq.merge(kept, extra, key=lambda item: item[0], reverse=reverse)

    def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, Record]]:
        if not self._old:
            return self.base.scan_entities(lo, hi, reverse)
        return self._merge(self.base.scan_entities(lo, hi, reverse), self._old, self._old_entities, lo, hi, reverse)

    def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        if not self._old:
            return self.base.scan_index(lo, hi, reverse)
        return self._merge(self.base.scan_index(lo, hi, reverse), self._hidden_rows, self._old_rows, lo, hi, reverse)

    def has_id(self, key: bytes) -> bool:
        return self.base.has_id(key)

    def apply(self, batch: Batch) -> None:
        raise TypeError("a snapshot is read-only")

    def last_version(self) -> int:
        return self.version

    def reset(self) -> None:
        raise TypeError("a snapshot is read-only")
