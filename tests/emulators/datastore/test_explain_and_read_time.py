"""Query explain (plan only, and analyze with statistics) and point-in-time reads at a read_time."""

from __future__ import annotations

import datetime
import time

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.errors import DatastoreError
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.snapshot import History
from framework.emulators.datastore.storage.memory import MemoryStorage

from .conftest import PROJECT, build_query, code, commit, entity, key, prop_filter

pytestmark = pytest.mark.slow


@pytest.fixture
def rows(raw):
    commit(raw, *[("upsert", entity(key("E", i + 1), n=i, even=i % 2 == 0)) for i in range(10)])


def test_datastore_client_explain_plan_only_and_analyze(ds_client, rows):
    from google.cloud.datastore import ExplainOptions
    from google.cloud.datastore.query import PropertyFilter

    query = ds_client.query(kind="E", explain_options=ExplainOptions(analyze=False))
    query.add_filter(filter=PropertyFilter("n", ">", 6))
    iterator = query.fetch()
    assert list(iterator) == []  # plan only: no results
    summary = iterator.explain_metrics.plan_summary
    assert summary.indexes_used == [{"query_scope": "Collection", "properties": "(n ASC, __name__ ASC)"}]

    query = ds_client.query(kind="E", explain_options=ExplainOptions(analyze=True), order=["-n"])
    query.add_filter(filter=PropertyFilter("even", "=", True))
    iterator = query.fetch()
    assert [e["n"] for e in iterator] == [8, 6, 4, 2, 0]
    metrics = iterator.explain_metrics
    assert metrics.plan_summary.indexes_used == [
        {"query_scope": "Collection", "properties": "(even ASC, n DESC, __name__ ASC)"}]
    stats = metrics.execution_stats
    assert stats.results_returned == 5 and stats.read_operations == 5
    assert int(stats.debug_stats["documents_scanned"]) >= 5 and int(stats.debug_stats["index_entries_scanned"]) >= 5
    assert stats.execution_duration.total_seconds() >= 0


def test_datastore_client_explain_of_aggregations(ds_client, rows):
    from google.cloud.datastore import ExplainOptions

    query = ds_client.query(kind="E")
    agg = ds_client.aggregation_query(query, explain_options=ExplainOptions(analyze=True)).count(alias="c")
    iterator = agg.fetch()
    assert [r.value for r in list(iterator)[0]] == [10]
    stats = iterator.explain_metrics.execution_stats
    assert stats.results_returned == 1 and stats.read_operations == 1
    assert stats.debug_stats["index_entries_scanned"] == "10" and stats.debug_stats["documents_scanned"] == "0"
    agg = ds_client.aggregation_query(query, explain_options=ExplainOptions(analyze=False)).sum("n", alias="s")
    iterator = agg.fetch()
    assert list(iterator) == []
    assert iterator.explain_metrics.plan_summary.indexes_used == [
        {"query_scope": "Collection", "properties": "(__name__ ASC)"}]


def test_explain_in_a_transaction_and_with_an_ancestor(raw, rows):
    txn = raw("BeginTransaction", pb.BeginTransactionRequest()).transaction
    query = build_query(prop_filter("__key__", pb.OP.HAS_ANCESTOR, key("E", 3)), kind="E", order="n")
    req = pb.RunQueryRequest(query=query, read_options=pb.ReadOptions(transaction=txn))
    req.explain_options.analyze = True
    response = raw("RunQuery", req)
    assert len(response.batch.entity_results) == 1
    used = response.explain_metrics.plan_summary.indexes_used[0]
    assert dict(used) == {"query_scope": "Includes Ancestors", "properties": "(n ASC, __name__ ASC)"}
    req.explain_options.analyze = False
    plan_only = raw("RunQuery", req)
    assert not plan_only.HasField("batch") and plan_only.explain_metrics.HasField("plan_summary")
    assert not plan_only.explain_metrics.HasField("execution_stats")


def micros_of(ts) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def at(raw, k, read_time):
    req = pb.LookupRequest(keys=[k])
    req.read_options.read_time.CopyFrom(read_time)
    return raw("Lookup", req)


def test_reads_at_a_read_time_see_that_version(raw):
    first = commit(raw, ("upsert", entity(key("V", 1), v=1)), ("upsert", entity(key("V", 2), v=1)))
    then = first.mutation_results[0].update_time
    commit(raw, ("upsert", entity(key("V", 1), v=2)), ("delete", key("V", 2)), ("upsert", entity(key("V", 3), v=2)))

    old = at(raw, key("V", 1), then)
    assert old.found[0].entity.properties["v"].integer_value == 1 and old.read_time == then
    assert len(at(raw, key("V", 2), then).found) == 1 and len(at(raw, key("V", 3), then).missing) == 1

    req = pb.RunQueryRequest(query=build_query(kind="V"))
    req.read_options.read_time.CopyFrom(then)
    batch = raw("RunQuery", req).batch
    assert [(r.entity.key.path[0].id, r.entity.properties["v"].integer_value) for r in batch.entity_results] == [
        (1, 1), (2, 1)]
    assert batch.read_time == then and batch.snapshot_version == micros_of(then)

    agg = pb.RunAggregationQueryRequest()
    agg.aggregation_query.nested_query.CopyFrom(build_query(prop_filter("v", pb.OP.EQUAL, 1), kind="V"))
    agg.aggregation_query.aggregations.add(alias="c").count.SetInParent()
    agg.read_options.read_time.CopyFrom(then)
    assert raw("RunAggregationQuery", agg).batch.aggregation_results[0].aggregate_properties["c"].integer_value == 2

    begin = pb.BeginTransactionRequest()
    begin.transaction_options.read_only.read_time.CopyFrom(then)
    txn = raw("BeginTransaction", begin).transaction
    req = pb.LookupRequest(keys=[key("V", 1), key("V", 3)], read_options=pb.ReadOptions(transaction=txn))
    found = raw("Lookup", req)
    assert [f.entity.properties["v"].integer_value for f in found.found] == [1] and len(found.missing) == 1
    now = raw("Lookup", pb.LookupRequest(keys=[key("V", 1)]))
    assert now.found[0].entity.properties["v"].integer_value == 2


def test_datastore_client_read_time(ds_client):
    from google.cloud import datastore

    k = ds_client.key("Doc", "d")
    doc = datastore.Entity(k)
    doc["rev"] = 1
    ds_client.put(doc)
    then = datetime.datetime.now(datetime.UTC)
    time.sleep(0.002)
    doc["rev"] = 2
    ds_client.put(doc)
    assert ds_client.get(k, read_time=then)["rev"] == 1 and ds_client.get(k)["rev"] == 2
    assert [e["rev"] for e in ds_client.query(kind="Doc").fetch(read_time=then)] == [1]


def test_read_times_outside_the_window_are_refused(raw):
    k = key("V", 1)
    hour_ago = pb.LookupRequest(keys=[k]).read_options.read_time
    hour_ago.seconds = int(time.time()) - 3601
    err = raw.error("Lookup", pb.LookupRequest(keys=[k], read_options=pb.ReadOptions(read_time=hour_ago)))
    assert code(err) == "FAILED_PRECONDITION" and err.details() == "The requested snapshot version is too old."
    future = type(hour_ago)(seconds=int(time.time()) + 60)
    assert code(raw.error("Lookup", pb.LookupRequest(keys=[k], read_options=pb.ReadOptions(read_time=future)))) == (
        "INVALID_ARGUMENT")
    begin = pb.BeginTransactionRequest()
    begin.transaction_options.read_only.read_time.CopyFrom(hour_ago)
    assert code(raw.error("BeginTransaction", begin)) == "FAILED_PRECONDITION"


def test_history_keeps_what_reads_need_and_prunes_the_rest(tmp_path):
    history = History(complete_since=100)
    history.remember(History.entries(200, {b"a": (b"", None)}), keep_from=0)
    history.remember(History.entries(300, {b"a": (b"", "r200"), b"b": (b"", None)}), keep_from=0)  # type: ignore[dict-item]
    assert history.as_of(250) == {b"a": (b"", "r200"), b"b": (b"", None)}
    assert history.as_of(150) == {b"a": (b"", None), b"b": (b"", None)}
    history.remember(History.entries(400, {b"c": (b"", None)}), keep_from=250)  # versions up to 250: not needed
    assert len(history) == 3 and history.complete_since == 200  # the change at 200 is gone
    assert history.as_of(300) == {b"c": (b"", None)}

    from framework.emulators.datastore.storage.sqlite import FILENAME, SqliteStorage

    def put(service, v):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        req.mutations.add().upsert.CopyFrom(entity(key("V", 1), v=v))
        return service.commit(req).mutation_results[0].update_time

    def read(service, read_time):
        lookup = pb.LookupRequest(project_id=PROJECT, keys=[key("V", 1)])
        lookup.read_options.read_time.CopyFrom(read_time)
        found = service.lookup(lookup).found
        return found[0].entity.properties["v"].integer_value if found else None

    storage = SqliteStorage(str(tmp_path))
    service = DatastoreService(storage)
    then = put(service, 1)
    put(service, 2)
    storage.close()
    restarted = DatastoreService(SqliteStorage(str(tmp_path)))  # the durable store keeps its history
    before = type(then)(seconds=then.seconds - 1)
    assert read(restarted, then) == 1 and read(restarted, before) is None
    restarted.storage.close()

    import sqlite3

    with sqlite3.connect(tmp_path / FILENAME) as db:  # a store written before history was kept (its meta had the
        db.execute("DELETE FROM meta WHERE name = 'history_since'")  # version, which history rows now carry)
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('version', (SELECT MAX(version) FROM history))")
        db.execute("DELETE FROM history")
    older = DatastoreService(SqliteStorage(str(tmp_path)))
    with pytest.raises(DatastoreError, match="too old"):
        read(older, then)
    older.storage.close()
    assert DatastoreService(MemoryStorage())._history.complete_since == 0


def test_the_durable_store_prunes_its_history_with_the_memory_one(tmp_path, monkeypatch):
    import sqlite3

    from framework.emulators.datastore import service as service_module
    from framework.emulators.datastore.storage.sqlite import FILENAME, SqliteStorage

    service = DatastoreService(SqliteStorage(str(tmp_path)))
    for v in range(3):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        req.mutations.add().upsert.CopyFrom(entity(key("V", 1), v=v))
        service.commit(req)
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 3 == len(service._history)
    monkeypatch.setattr(service_module, "RETENTION_US", 0)  # nothing is needed any more: all of it goes
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(entity(key("V", 2), v=0))
    service.commit(req)
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 0 == len(service._history)
    service.storage.close()
