"""Durable storage in SQLite (WAL, synchronous=FULL): an acknowledged commit survives kill -9 and power loss."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator

from ...sqlite_store import columns, open_store
from .base import Batch, HistoryEntry, Record, Storage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (k BLOB PRIMARY KEY, version INTEGER NOT NULL, ctime INTEGER NOT NULL,
    utime INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx (k BLOB PRIMARY KEY, ek BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ids (k BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (version INTEGER NOT NULL, k BLOB NOT NULL, ns BLOB NOT NULL, rversion INTEGER,
    ctime INTEGER, utime INTEGER, data BLOB, PRIMARY KEY (version, k)) WITHOUT ROWID;
"""
# Store versions: 1 had no history table (read_time reads reached only back to the restart); 2 adds it.
VERSION = 2
_UPGRADES = {1: ""}  # the schema's CREATE TABLE IF NOT EXISTS adds the history table
_CHUNK = 1024  # rows per SELECT once a scan goes on (the first reads are small, for seeks)
_FIRST = 8  # rows of the first SELECT
FILENAME = "datastore.sqlite3"
# Entities read by key are kept in memory, up to this many bytes of entity data (oldest dropped first) and as many
# keys (absent ones included): a read by key then costs no SQL. Every applied batch updates the copies.
CACHE_BYTES = 16 * 1024 * 1024
CACHE_KEYS = 20_000
# Index ranges whose rows all came in a scan's first read (a repeated query's few results) are kept too, up to this
# many ranges, until a batch changes any index row or the store is reset: a repeated small query then costs no SQL.
RANGES = 1024


def _detect(db: sqlite3.Connection) -> int | None:
    """The version of a store written before versions were kept, from its tables."""
    if not {"k", "version", "data"} <= columns(db, "entities") or not columns(db, "meta"):
        return None
    return 2 if columns(db, "history") else 1


class SqliteStorage(Storage):
    """One connection, used under the server's lock; reads see every applied batch."""

    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, FILENAME)
        self._db = open_store(data_dir, FILENAME, what="Datastore emulator", schema=_SCHEMA, version=VERSION,
                              upgrades=_UPGRADES, detect=_detect)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
        newest = self._db.execute("SELECT MAX(version) FROM history").fetchone()[0]
        # A commit that writes history rows records its version in them (the newest survives every prune, which
        # runs in a later commit); meta's version is written by the batches that leave no history row.
        self._version = max(row[0] if row else 0, newest or 0)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'history_since'").fetchone()
        # A store written before history was kept knows nothing of its past: complete from its last version.
        self._history_since = row[0] if row else self._version
        self._since_saved = row is not None
        # The oldest history version stored (None: no history): a commit prunes only when some is old enough, so
        # most commits skip the pruning query.
        self._oldest: int | None = self._db.execute("SELECT MIN(version) FROM history").fetchone()[0]
        self._cache: dict[bytes, Record | None] = {}  # in insertion order: the first is the oldest
        self._ranges: dict[tuple[bytes, bytes, bool], list[tuple[bytes, bytes]]] = {}  # (lo, hi, reverse) -> rows
        self._cached_bytes = 0

    def get(self, key: bytes) -> Record | None:
        cache = self._cache
        if key in cache:
            return cache[key]
        row = self._db.execute("SELECT version, ctime, utime, data FROM entities WHERE k = ?", (key,)).fetchone()
        record = Record(*row) if row else None
        self._remember(key, record)
        return record

    def _remember(self, key: bytes, record: Record | None) -> None:
        """Keep `record` as the copy of `key` (None: known absent), dropping the oldest copies past the bounds."""
        cache = self._cache
        old = cache.pop(key, None)
        if old is not None:
            self._cached_bytes -= len(old.data)
        size = len(record.data) if record is not None else 0
        if size > CACHE_BYTES // 4:
            return  # a huge entity would push out many small ones
        cache[key] = record
        self._cached_bytes += size
        while self._cached_bytes > CACHE_BYTES or len(cache) > CACHE_KEYS:
            dropped = cache.pop(next(iter(cache)))
            if dropped is not None:
                self._cached_bytes -= len(dropped.data)

    def _scan(self, table: str, cols: str, lo: bytes, hi: bytes, reverse: bool, keep: bool = False) -> Iterator[tuple]:
        """Rows with lo <= k < hi in k order (or reversed), read in growing chunks; with `keep`, a range read
        whole by the first chunk is kept in the index range copies."""
        order = "DESC" if reverse else "ASC"
        cond, chunk = "k >= ? AND k < ?", _FIRST
        while True:
            rows = self._db.execute(
                f"SELECT k, {cols} FROM {table} WHERE {cond} ORDER BY k {order} LIMIT {chunk}", (lo, hi)
            ).fetchall()
            if keep:
                keep = False
                if len(rows) < chunk:
                    ranges = self._ranges
                    if len(ranges) >= RANGES:
                        del ranges[next(iter(ranges))]
                    ranges[(lo, hi, reverse)] = rows
            yield from rows
            if len(rows) < chunk:
                return
            chunk = min(chunk * 4, _CHUNK)
            if reverse:
                hi = rows[-1][0]
            else:
                lo, cond = rows[-1][0], "k > ? AND k < ?"

    def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, Record]]:
        for k, version, ctime, utime, data in self._scan("entities", "version, ctime, utime, data", lo, hi, reverse):
            yield k, Record(version, ctime, utime, data)

    def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        rows = self._ranges.get((lo, hi, reverse))
        if rows is not None:
            return iter(rows)
        return self._scan("idx", "ek", lo, hi, reverse, keep=True)

    def has_id(self, key: bytes) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE k = ?", (key,)).fetchone() is not None

    def apply(self, batch: Batch) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # Empty parts are skipped: a one-entity commit (the common case) runs two statements, not six.
            if batch.index_del:
                db.executemany("DELETE FROM idx WHERE k = ?", [(k,) for k in batch.index_del])
            if batch.index_add:
                db.executemany("INSERT OR REPLACE INTO idx (k, ek) VALUES (?, ?)", list(batch.index_add.items()))
            if batch.deletes:
                db.executemany("DELETE FROM entities WHERE k = ?", [(k,) for k in batch.deletes])
            if batch.puts:
                db.executemany(
                    "INSERT OR REPLACE INTO entities (k, version, ctime, utime, data) VALUES (?, ?, ?, ?, ?)",
                    [(k, r.version, r.create_us, r.update_us, r.data) for k, r in batch.puts.items()],
                )
            if batch.ids:
                db.executemany("INSERT OR IGNORE INTO ids (k) VALUES (?)", [(k,) for k in batch.ids])
            since, oldest = self._write_history(batch)
            version = max(self._version, batch.version)
            if not batch.history:  # otherwise the history rows written above carry the version (one page less)
                db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('version', ?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._version = version
        self._history_since, self._since_saved, self._oldest = since, True, oldest
        if batch.index_add or batch.index_del:
            self._ranges.clear()
        for key in batch.deletes:  # committed: the copies follow (a batch never both puts and deletes a key)
            self._remember(key, None)
        for key, record in batch.puts.items():
            self._remember(key, record)

    def _write_history(self, batch: Batch) -> tuple[int, int | None]:
        """Write the batch's history and prune it; return the version since which history is now complete and
        the oldest version left."""
        db = self._db
        since, oldest = self._history_since, self._oldest
        if batch.history:
            first = min(entry[0] for entry in batch.history)
            oldest = first if oldest is None else min(oldest, first)
            db.executemany(
                "INSERT OR REPLACE INTO history (version, k, ns, rversion, ctime, utime, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(v, k, ns, *((r.version, r.create_us, r.update_us, r.data) if r is not None else (None,) * 4))
                 for v, k, ns, r in batch.history],
            )
        prune_to = batch.prune_history_to
        if prune_to is not None and prune_to > since and oldest is not None and oldest <= prune_to:
            row = db.execute("SELECT MAX(version) FROM history WHERE version <= ?", (prune_to,)).fetchone()
            if row[0] is not None:
                db.execute("DELETE FROM history WHERE version <= ?", (row[0],))
                since = max(since, row[0])
                oldest = db.execute("SELECT MIN(version) FROM history").fetchone()[0]
        if since != self._history_since or not self._since_saved:  # not rewritten by every commit
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('history_since', ?)", (since,))
        return since, oldest

    def load_history(self) -> tuple[int, list[HistoryEntry]]:
        rows = self._db.execute("SELECT version, k, ns, rversion, ctime, utime, data FROM history ORDER BY version, k")
        entries: list[HistoryEntry] = [
            (v, k, ns, Record(rv, ct, ut, data) if data is not None else None) for v, k, ns, rv, ct, ut, data in rows
        ]
        return self._history_since, entries

    def last_version(self) -> int:
        return self._version

    def reset(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("entities", "idx", "ids", "history"):
                db.execute(f"DELETE FROM {table}")
            self._history_since, self._oldest = self._version, None
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('history_since', ?)", (self._version,))
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('version', ?)", (self._version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            self._cache.clear()
            self._ranges.clear()
            self._cached_bytes = 0

    def close(self) -> None:
        self._db.close()
