"""Opening an emulator's SQLite store (WAL, synchronous=FULL) at a known schema version.

The version is SQLite's `user_version`. A store from before versions were written (0 with tables) is
recognised by its tables and upgraded in one transaction, like any older version; a store from a newer
emulator, or a file that is not such a store, is refused with one line naming the folder and the fix.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping


class StoreError(Exception):
    """The store cannot be used as it is; the message is one line naming the folder and the fix."""


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    """The column names of `table` (empty when there is no such table)."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def open_store(data_dir: str, filename: str, *, what: str, schema: str, version: int,
               upgrades: Mapping[int, str], detect: Callable[[sqlite3.Connection], int | None]) -> sqlite3.Connection:
    """Connect to `data_dir/filename`, creating or upgrading it to `version`.

    `schema` is the current CREATE ... IF NOT EXISTS script; `upgrades[v]` the SQL that takes version v to
    v + 1 before `schema` runs again (missing tables are then created); `detect` tells the version of an
    unversioned store from its tables, or None when they are not this emulator's. `what` names the emulator.
    """
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, filename)
    folder = os.path.abspath(data_dir)
    where = f"cannot open the data directory {folder}: "
    fix = f"move {folder} away (or delete it) to start with an empty store"
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        stored = found = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if found == 0 and tables:
            detected = detect(db)
            if detected is None:
                raise StoreError(f"{where}{filename} is not a store of the {what}: {fix}")
            found = detected
        elif found == 0:
            found = version  # a new store: the schema below creates it
        if found > version:
            raise StoreError(f"{where}it was written by a newer {what} (store version {found}; this one reads "
                             f"up to {version}): upgrade the framework, or {fix}")
        db.execute("PRAGMA journal_mode=WAL")  # after the checks: it rewrites the file's header
        db.execute("PRAGMA synchronous=FULL")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{where}{filename} cannot be read ({exc}): {fix}") from None
    except BaseException:
        db.close()
        raise
    if stored == version:
        return db
    steps = "".join(upgrades.get(step, "") for step in range(found, version))
    try:
        # One transaction: a crash mid-upgrade leaves the store as it was (user_version is part of it).
        db.executescript(f"BEGIN IMMEDIATE;\n{steps}\n{schema}\nPRAGMA user_version = {version};\nCOMMIT;")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        raise StoreError(f"{where}its store cannot be upgraded from version {found} to {version} ({exc}): {fix}") from None
    return db
