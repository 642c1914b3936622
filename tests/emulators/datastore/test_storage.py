"""Memory and SQLite storage behave identically: the same commits give the same query answers."""

from __future__ import annotations

import random

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage import open_storage

from .conftest import PROJECT, build_query, entity, key, prop_filter


def _service(kind: str, tmp_path):
    return DatastoreService(open_storage(str(tmp_path / "db") if kind == "sqlite" else None))


def _fill(service):
    rng = random.Random(7)
    for chunk in range(4):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        for i in range(chunk * 100, chunk * 100 + 100):
            parent = ("G", i % 3 + 1)
            e = entity(key(*parent, "R", i + 1), n=rng.randint(0, 20), s=rng.choice("abc"), tags=[i % 2, i % 5])
            req.mutations.add().upsert.CopyFrom(e)
        service.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(0, 400, 7):
        req.mutations.add().delete.CopyFrom(key("G", i % 3 + 1, "R", i + 1))
    service.commit(req)


def _queries():
    anc = prop_filter("__key__", pb.OP.HAS_ANCESTOR, key("G", 2))
    return [
        build_query(),
        build_query(keys_only=True),
        build_query(prop_filter("s", pb.OP.EQUAL, "a")),
        build_query(prop_filter("s", pb.OP.EQUAL, "b"), prop_filter("tags", pb.OP.EQUAL, 0)),
        build_query(anc, prop_filter("s", pb.OP.EQUAL, "c")),
        build_query(order="n"),
        build_query(order="n", desc=True),
        build_query(order="tags", desc=True),
        build_query(prop_filter("n", pb.OP.GREATER_THAN, 10)),
        build_query(prop_filter("n", pb.OP.LESS_THAN_OR_EQUAL, 3), anc, keys_only=True),
        build_query(prop_filter("s", pb.OP.EQUAL, "a"), desc=True, order="__key__"),
        build_query(limit=7, order="n", desc=True),
        build_query(prop_filter("__key__", pb.OP.GREATER_THAN, key("G", 2, "R", 50)), limit=30),
        build_query(order="s", then=[("n", True)]),
        build_query(order="n", desc=True, then=[("s", False)]),
        build_query(prop_filter("n", pb.OP.GREATER_THAN_OR_EQUAL, 5), order="n", then=[("s", True)], keys_only=True),
    ]


def _answers(service, txn=b""):
    out = []
    for query in _queries():
        pages, cursor = [], b""
        while True:
            query.start_cursor = cursor
            request = pb.RunQueryRequest(project_id=PROJECT, query=query)
            if txn:
                request.read_options.transaction = txn
            batch = service.run_query(request).batch
            pages.append([r.entity.SerializeToString() for r in batch.entity_results])
            if batch.more_results != pb.NOT_FINISHED or not batch.entity_results or query.HasField("limit"):
                break
            cursor = batch.end_cursor
        out.append(pages)
    return out


def test_memory_and_sqlite_agree(tmp_path):
    answers = []
    for kind in ("memory", "sqlite"):
        service = _service(kind, tmp_path)
        _fill(service)
        answers.append(_answers(service))
        service.storage.close()
    assert answers[0] == answers[1]
    assert all(any(page for page in pages) for pages in answers[0])


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_paging_with_cursors_equals_one_full_run(kind, tmp_path):
    service = _service(kind, tmp_path)
    _fill(service)
    for query in _queries():
        if query.HasField("limit"):
            continue
        full = [r.entity.key.SerializeToString()
                for r in service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch.entity_results]
        paged, cursor = [], b""
        query.limit.value = 9
        while True:
            query.start_cursor = cursor
            batch = service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch
            paged += [r.entity.key.SerializeToString() for r in batch.entity_results]
            if batch.more_results == pb.NO_MORE_RESULTS:
                break
            cursor = batch.end_cursor
        if query.order and query.order[0].property.name == "tags":
            assert set(paged) == set(full)  # multi-valued sort: a resumed run may re-return an entity
        else:
            assert paged == full
    service.storage.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_read_only_transaction_answers_every_query_from_its_snapshot(kind, tmp_path):
    """The answers inside a read-only transaction equal the answers given when it began, whatever was
    committed since (updates, deletes, inserts, index changes)."""
    service = _service(kind, tmp_path)
    _fill(service)
    txn = service.begin_transaction(pb.BeginTransactionRequest(
        project_id=PROJECT, transaction_options=pb.TransactionOptions(read_only={}))).transaction
    before = _answers(service)
    rng = random.Random(3)
    for _ in range(5):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        for i in rng.sample(range(500), 60):
            k = key("G", i % 3 + 1, "R", i + 1)
            if rng.random() < 0.3:
                req.mutations.add().delete.CopyFrom(k)
            else:
                req.mutations.add().upsert.CopyFrom(entity(k, n=rng.randint(0, 20), s=rng.choice("abcd"), tags=[i % 7]))
        service.commit(req)
    assert _answers(service) != before
    assert _answers(service, txn) == before
    service.storage.close()


def test_overlapping_read_only_transactions_keep_their_snapshots_while_history_is_pruned(monkeypatch):
    """Read-only transactions that always overlap never let the history clear; pruning drops only what
    no open one can see (with no read_time retention, so only the transactions keep history)."""
    from framework.emulators.datastore import service as service_module

    monkeypatch.setattr(service_module, "RETENTION_US", 0)
    service = _service("memory", None)
    ro = pb.TransactionOptions(read_only={})

    def begin():
        return service.begin_transaction(pb.BeginTransactionRequest(project_id=PROJECT, transaction_options=ro)).transaction

    def put(v):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        for i in range(100):
            req.mutations.add().upsert.CopyFrom(entity(key("H", i + 1), v=v))
        service.commit(req)

    def seen(txn):
        query = pb.Query()
        query.kind.add(name="H")
        request = pb.RunQueryRequest(project_id=PROJECT, query=query)
        request.read_options.transaction = txn
        return {r.entity.properties["v"].integer_value for r in service.run_query(request).batch.entity_results}

    put(0)
    older = begin()
    for round_no in range(1, 40):
        put(round_no)
        newer = begin()  # sees `round_no`
        assert seen(older) == {round_no - 1}
        service.commit(pb.CommitRequest(project_id=PROJECT, mode=pb.TRANSACTIONAL, transaction=older))
        older = newer
    assert seen(older) == {39}
    assert len(service._history) <= 200  # 39 rounds x 100 changes were pruned along the way


def _record(version: int, data: bytes):
    from framework.emulators.datastore.storage import Record

    return Record(version, version, version, data)


def test_sqlite_read_copies_follow_every_commit_and_stay_bounded(tmp_path, monkeypatch):
    from framework.emulators.datastore.storage import Batch
    from framework.emulators.datastore.storage import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "CACHE_KEYS", 5)
    monkeypatch.setattr(sqlite_store, "CACHE_BYTES", 400)
    store = sqlite_store.SqliteStorage(str(tmp_path))
    assert store.get(b"a") is None  # known absent now
    store.apply(Batch(version=1, puts={b"a": _record(1, b"one")}))
    assert store.get(b"a").data == b"one"
    store.apply(Batch(version=2, puts={b"a": _record(2, b"two")}))
    assert store.get(b"a").data == b"two"
    store.apply(Batch(version=3, deletes={b"a"}))
    assert store.get(b"a") is None
    store.apply(Batch(version=4, puts={bytes([i]): _record(4, b"x" * 90) for i in range(10)}))
    assert len(store._cache) <= 5 and store._cached_bytes <= 400
    assert [store.get(bytes([i])).data for i in range(10)] == [b"x" * 90] * 10  # dropped copies are read again
    with pytest.raises(Exception):  # a batch that fails is rolled back: the copies keep what is stored
        store.apply(Batch(version=5, puts={b"\x01": _record(5, b"new")}, history=[(5, b"\x01", None, None)]))
    assert store.get(b"\x01").data == b"x" * 90
    store.reset()
    assert store.get(b"\x01") is None
    store.close()
    reopened = sqlite_store.SqliteStorage(str(tmp_path))
    assert reopened.get(b"\x01") is None and reopened.last_version() == 5 - 1
    reopened.close()


def test_sqlite_last_version_survives_restarts_whichever_batch_wrote_it(tmp_path):
    from framework.emulators.datastore.storage.sqlite import SqliteStorage

    def reopened(expected: int) -> DatastoreService:
        service = DatastoreService(SqliteStorage(str(tmp_path)))
        assert service.storage.last_version() == expected
        return service

    service = DatastoreService(SqliteStorage(str(tmp_path)))
    for i in range(3):  # commits with history rows carry their version there (meta is not rewritten)
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        req.mutations.add().upsert.CopyFrom(entity(key("V", 1), n=i))
        service.commit(req)
    version = service.storage.last_version()
    service.storage.close()
    service = reopened(version)
    empty = service.commit(pb.CommitRequest(project_id=PROJECT, mode=pb.TRANSACTIONAL,
                                            single_use_transaction=pb.TransactionOptions()))
    version = service.storage.last_version()  # an empty transactional commit leaves no history row
    assert version > 0 and empty.commit_time.seconds == version // 1_000_000
    service.storage.close()
    service = reopened(version)
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().delete.CopyFrom(key("V", 1))
    service.commit(req)
    version = service.storage.last_version()
    service.reset()  # the history rows that carried the version are gone: reset keeps it
    service.storage.close()
    reopened(version).storage.close()


def test_sqlite_prunes_history_exactly_when_some_is_old_enough_also_after_a_restart(tmp_path):
    import sqlite3

    from framework.emulators.datastore.storage import Batch, Record
    from framework.emulators.datastore.storage.sqlite import FILENAME, SqliteStorage

    def stored_versions() -> list[int]:
        with sqlite3.connect(tmp_path / FILENAME) as db:
            return [row[0] for row in db.execute("SELECT version FROM history ORDER BY version")]

    def commit(store: SqliteStorage, version: int, prune_to: int | None = None) -> None:
        before = Record(version - 1, 1, version - 1, b"old")
        store.apply(Batch(version=version, puts={b"k": Record(version, 1, version, b"new")},
                          history=[(version, b"k", b"", before)], prune_history_to=prune_to))

    store = SqliteStorage(str(tmp_path))
    for version in (10, 20, 30):
        commit(store, version, prune_to=5)  # nothing that old: nothing pruned
    assert stored_versions() == [10, 20, 30] and store.load_history()[0] == 0
    commit(store, 40, prune_to=25)
    assert stored_versions() == [30, 40] and store.load_history()[0] == 20
    commit(store, 50, prune_to=25)  # already pruned to there
    assert stored_versions() == [30, 40, 50]
    store.close()
    store = SqliteStorage(str(tmp_path))  # what is stored is known again after a restart
    commit(store, 60, prune_to=45)
    assert stored_versions() == [50, 60] and store.load_history()[0] == 40
    store.reset()
    commit(store, 70, prune_to=65)
    assert stored_versions() == [70]
    commit(store, 80, prune_to=75)
    assert stored_versions() == [80] and store.load_history()[0] == 70
    store.close()


def test_sqlite_index_range_copies_follow_every_batch_as_memory_does(tmp_path):
    from framework.emulators.datastore.storage import Batch
    from framework.emulators.datastore.storage.memory import MemoryStorage
    from framework.emulators.datastore.storage.sqlite import SqliteStorage

    rng = random.Random(11)
    memory, sqlite = MemoryStorage(), SqliteStorage(str(tmp_path))
    ranges = [(bytes([a]), bytes([b]), reverse) for a in range(0, 40, 5) for b in (a + 3, a + 12) for reverse in (False, True)]
    rows: set[bytes] = set()
    kept = 0
    for version in range(1, 120):
        for _ in range(2):  # each range twice: the second scan may come from the copies
            for lo, hi, reverse in ranges:
                assert list(sqlite.scan_index(lo, hi, reverse)) == list(memory.scan_index(lo, hi, reverse))
        kept += len(sqlite._ranges)
        batch = Batch(version=version)
        if version % 3:  # some batches leave the index alone (entities only)
            for _ in range(rng.randint(1, 3)):
                row = bytes([rng.randrange(45), rng.randrange(3)])
                if row in rows and rng.random() < 0.5:
                    batch.index_del.add(row)
                    rows.discard(row)
                else:
                    batch.index_add[row] = b"e" + row
                    rows.add(row)
        if version == 60:
            memory.reset()
            sqlite.reset()
            rows.clear()
            continue
        for store in (memory, sqlite):
            store.apply(Batch(version=batch.version, index_add=dict(batch.index_add), index_del=set(batch.index_del)))
    assert kept  # the copies were used
    sqlite.close()
