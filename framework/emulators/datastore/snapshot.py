"""Read-only transactions read the data as of their start: a storage view that undoes later commits.

Every commit remembers the records it replaces (`History`, the last hour and whatever open read-only transactions
need). A `SnapshotView` then answers gets and range scans as the store was at a version (a read-only
transaction's begin, or a read_time): the current rows of changed entities are hidden and the rows of their
earlier records merged back in, so queries, aggregations and lookups all see one snapshot.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from . import pb
from .storage import Batch, HistoryEntry, Record, Storage

IndexRows = Callable[[bytes, Any, bytes], dict[bytes, bytes]]


RETENTION_US = 3600 * 1_000_000  # production keeps the versions of the last hour for read_time reads


class History:
    """What commits replaced, oldest first: kept for the last hour (reads at a read_time) and for as long as an
    open read-only transaction may need it, pruned from the front as both move on."""

    def __init__(self, complete_since: int = 0, entries: list[HistoryEntry] | None = None) -> None:
        # (version that replaced it, storage key, partition prefix, the record before or None), by version
        self._log: list[HistoryEntry] = list(entries or [])
        self._head = 0  # entries before it are pruned (dropped from the list in chunks)
        self.complete_since = complete_since  # snapshots at or after this version can be rebuilt

    def __len__(self) -> int:
        return len(self._log) - self._head

    @staticmethod
    def entries(version: int, replaced: dict[bytes, tuple[bytes, Record | None]]) -> list[HistoryEntry]:
        """The entries of a commit at `version` replacing `replaced` (skey -> (prefix, record before))."""
        return [(version, skey, ns, before) for skey, (ns, before) in replaced.items()]

    def remember(self, entries: list[HistoryEntry], keep_from: int) -> None:
        """Record a commit's entries; drop what no read at or after `keep_from` (a version) can need."""
        self._log.extend(entries)
        log = self._log
        while self._head < len(log) and log[self._head][0] <= keep_from:
            self.complete_since = max(self.complete_since, log[self._head][0])
            self._head += 1
        if self._head > 1024 and self._head * 2 > len(log):
            del log[:self._head]
            self._head = 0

    def clear(self, complete_since: int) -> None:
        self._log.clear()
        self._head = 0
        self.complete_since = complete_since

    def as_of(self, version: int) -> dict[bytes, tuple[bytes, Record | None]]:
        """Storage key -> (prefix, record at `version`) for every entity changed after `version`."""
        out: dict[bytes, tuple[bytes, Record | None]] = {}
        log = self._log
        lo, hi = self._head, len(log)
        while lo < hi:  # the first entry after `version` (versions only grow along the log)
            mid = (lo + hi) // 2
            if log[mid][0] <= version:
                lo = mid + 1
            else:
                hi = mid
        for i in range(lo, len(log)):
            _, skey, ns, before = log[i]
            out.setdefault(skey, (ns, before))
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
