"""A `.datastore` folder written before the store kept read_time history (and a schema version) is upgraded
in place; one from a newer emulator is refused with one line naming the folder and the fix, left as it was."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from framework.emulators.datastore import pb, start
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage import open_storage
from tests.support.procs import REPO_ROOT

from .conftest import PROJECT, Raw, build_query, entity, key

# The store as the first emulator wrote it: no history table, no history_since row, no user_version.
_FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (k BLOB PRIMARY KEY, version INTEGER NOT NULL, ctime INTEGER NOT NULL,
    utime INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx (k BLOB PRIMARY KEY, ek BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ids (k BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _first_version_store(tmp_path: Path) -> Path:
    """A first-schema store holding three entities: the rows are what today's encoder writes (unchanged since),
    copied into tables made with the first CREATE statements."""
    source = tmp_path / "source"
    service = DatastoreService(open_storage(str(source)))
    request = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in (1, 2, 3):
        request.mutations.add().upsert.CopyFrom(entity(key("Old", i), n=i * 10))
    service.commit(request)
    service.storage.close()
    folder = tmp_path / ".datastore"
    folder.mkdir()
    path = folder / "datastore.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_FIRST_SCHEMA)
    db.execute("ATTACH DATABASE ? AS source", (str(source / "datastore.sqlite3"),))
    with db:
        for table in ("entities", "idx", "ids"):
            db.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
        db.execute("INSERT INTO main.meta SELECT * FROM source.meta WHERE name = 'version'")
    db.execute("DETACH DATABASE source")
    db.close()
    return path


def test_a_first_version_store_is_upgraded_and_keeps_its_entities(tmp_path: Path) -> None:
    path = _first_version_store(tmp_path)
    with start(data_dir=path.parent) as emulator:
        raw = Raw(emulator.address)
        try:
            found = raw("Lookup", pb.LookupRequest(keys=[key("Old", 2)])).found
            assert found[0].entity.properties["n"].integer_value == 20
            old_version = found[0].version
            batch = raw("RunQuery", pb.RunQueryRequest(query=build_query(kind="Old", order="n", desc=True))).batch
            assert [r.entity.key.path[0].id for r in batch.entity_results] == [3, 2, 1]
            request = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
            request.mutations.add().upsert.CopyFrom(entity(key("Old", 4), n=40))
            assert raw("Commit", request).mutation_results[0].version > old_version  # versions never go back
        finally:
            raw.channel.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM entities").fetchone()[0] == 4
        assert db.execute("SELECT count(*) FROM history").fetchone()[0] >= 1  # the new put was recorded
    finally:
        db.close()


def test_a_store_from_a_newer_emulator_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    path = _first_version_store(tmp_path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-m", "framework.emulators.datastore", "--port", "0", "--data-dir",
                             str(path.parent)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(path.parent) in result.stderr and "newer" in result.stderr and "upgrade the framework" in result.stderr
    assert path.read_bytes() == before
