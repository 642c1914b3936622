"""RunQuery's short path (fast_query.py) answers exactly as the full path does, and declines what it cannot answer.

Each request is answered both ways by one service: the short path's bytes (as the gRPC server sends them) and
`DatastoreService.run_query`'s message, over a spread of entities, partitions, windows and batch cuts, in memory
and on SQLite. Over the wire, the same query with and without explain (which the short path declines) agrees.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.executor import BATCH_SIZE, Budget
from framework.emulators.datastore.fast_query import FastQueries, classify
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage.memory import MemoryStorage

from .conftest import PROJECT, entity, filled_service, key, prop_filter, set_value, short_and_full


def _store(svc: DatastoreService) -> None:
    """Entities of several shapes: names and ids, children, namespaces, arrays, unindexed and big values."""
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(1, 31):
        e = entity(key("Item", i), n=i % 4, tag="odd" if i % 2 else "even", ratio=i / 7, flag=i % 3 == 0)
        set_value(e.properties["tags"], ["a", "b"] if i % 5 else ["a", "a", "c"])
        e.properties["note"].string_value = "x" * (i * 10)
        e.properties["note"].exclude_from_indexes = True
        e.properties["when"].timestamp_value.seconds = 1_700_000_000 + i
        e.properties["ref"].key_value.CopyFrom(key("Other", i % 3 + 1))
        e.properties["nothing"].null_value = 0
        e.properties["sub"].entity_value.properties["inner"].integer_value = i
        e.properties["meaning"].meaning = 15
        e.properties["meaning"].integer_value = i
        req.mutations.add().upsert.CopyFrom(e)
    for name in ("alpha", "beta", "gamma"):
        req.mutations.add().upsert.CopyFrom(entity(key("Item", name), n=1, tag="named"))
        req.mutations.add().upsert.CopyFrom(entity(key("Item", 3, "Child", name), n=2, tag="child"))
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 1, namespace="ns1"), n=1, tag="other ns"))
    req.mutations.add().upsert.CopyFrom(entity(key("Bare", 1)))
    svc.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, database_id="db2", mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 1, database="db2"), n=1, tag="other database"))
    svc.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(1, BATCH_SIZE + 8):  # more than a batch holds
        req.mutations.add().upsert.CopyFrom(entity(key("Many", i), g=i % 2))
    for i in range(1, 15):  # more than a batch's bytes
        e = entity(key("Heavy", i), g=1)
        e.properties["blob"].blob_value = bytes([i]) * 200_000
        e.properties["blob"].exclude_from_indexes = True
        req.mutations.add().upsert.CopyFrom(e)
    svc.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)  # a later version for some
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 2), n=2, tag="even", rewritten=True))
    req.mutations.add().delete.CopyFrom(key("Item", 4))
    svc.commit(req)


def _query(kind: str, *filters: Any, limit: int | None = None, desc_key: bool = False) -> Any:
    q = pb.Query()
    q.kind.add(name=kind)
    if len(filters) == 1:
        q.filter.CopyFrom(filters[0])
    elif filters:
        q.filter.composite_filter.op = pb.AND
        for f in filters:
            q.filter.composite_filter.filters.add().CopyFrom(f)
    if limit is not None:
        q.limit.value = limit
    if desc_key:
        order = q.order.add(direction=pb.DESCENDING)
        order.property.name = "__key__"
    return q


def _and(f: Any) -> Any:
    """A one-filter AND, as google-cloud-datastore wraps its filters."""
    out = pb.Filter()
    out.composite_filter.op = pb.AND
    out.composite_filter.filters.add().CopyFrom(f)
    return out


EQ = pb.OP.EQUAL
SHORT = [  # queries the short path answers
    _query("Item"),
    _query("Item", limit=0),
    _query("Item", limit=1),
    _query("Item", limit=7),
    _query("Item", limit=500),
    _query("Item", desc_key=True),
    _query("Item", limit=3, desc_key=True),
    _query("Item", prop_filter("n", EQ, 1)),
    _query("Item", _and(prop_filter("n", EQ, 2))),
    _query("Item", prop_filter("tag", EQ, "odd"), limit=4),
    _query("Item", prop_filter("tags", EQ, "a")),
    _query("Item", prop_filter("tags", EQ, "c"), desc_key=True),
    _query("Item", prop_filter("flag", EQ, True)),
    _query("Item", prop_filter("ratio", EQ, 3 / 7)),
    _query("Item", prop_filter("nothing", EQ, None)),
    _query("Item", prop_filter("ref", EQ, key("Other", 2))),
    _query("Item", prop_filter("meaning", EQ, 5)),
    _query("Item", prop_filter("n", EQ, 99)),
    _query("Item", prop_filter("note", EQ, "x" * 10)),  # unindexed: no results
    _query("Item", prop_filter("__key__", EQ, key("Item", "beta"))),
    _query("Child", prop_filter("__key__", pb.OP.HAS_ANCESTOR, key("Item", 3))),
    _query("Child", prop_filter("__key__", pb.OP.HAS_ANCESTOR, key("Item", 3)), prop_filter("n", EQ, 2)),
    _query("Nothing"),
    _query("Bare"),
    _query("Many"),
    _query("Many", prop_filter("g", EQ, 1), limit=BATCH_SIZE + 1),
    _query("Heavy"),
    _query("Heavy", prop_filter("g", EQ, 1), desc_key=True),
]


def _declined() -> list[Any]:
    """Requests the full path must answer."""
    out = []
    for change in ("offset", "two equalities", "inequality", "order", "keys only", "projection", "kindless",
                   "explain", "mask", "new transaction", "read_time", "OR", "IN"):
        q = _query("Item")
        req = pb.RunQueryRequest(project_id=PROJECT)
        if change == "offset":
            q.offset = 2
        elif change == "two equalities":
            q.filter.CopyFrom(_query("I", prop_filter("n", EQ, 1), prop_filter("tag", EQ, "odd")).filter)
        elif change == "inequality":
            q.filter.CopyFrom(prop_filter("n", pb.OP.GREATER_THAN, 1))
        elif change == "order":
            q.order.add().property.name = "n"
        elif change == "keys only":
            q.projection.add().property.name = "__key__"
        elif change == "projection":
            q.projection.add().property.name = "n"
        elif change == "kindless":
            del q.kind[:]
        elif change == "explain":
            req.explain_options.analyze = True
        elif change == "mask":
            req.property_mask.paths.append("n")
        elif change == "new transaction":
            req.read_options.new_transaction.read_only.SetInParent()
        elif change == "read_time":
            req.read_options.read_time.seconds = int(time.time()) - 1
        elif change == "OR":
            q.filter.composite_filter.op = pb.OR
            q.filter.composite_filter.filters.add().CopyFrom(prop_filter("n", EQ, 1))
            q.filter.composite_filter.filters.add().CopyFrom(prop_filter("n", EQ, 2))
        elif change == "IN":
            q.filter.CopyFrom(prop_filter("n", pb.OP.IN, [1, 2]))
        req.query.CopyFrom(q)
        out.append(req)
    return out


@pytest.fixture(params=["memory", "sqlite"])
def svc(request: Any, tmp_path: Any) -> Any:
    yield from filled_service(request.param, tmp_path, _store)


def _both(svc: DatastoreService, fast: FastQueries, request: Any) -> tuple[Any, Any]:
    """(short path's answer parsed, full path's answer with the short path's read_time)."""
    data = request.SerializeToString()
    normal = svc.run_query(pb.RunQueryRequest.FromString(data))
    return short_and_full(
        fast.run_query(data), normal, lambda r: r.batch, lambda r: r.batch.entity_results)


def _pages(svc: DatastoreService, fast: FastQueries, request: Any) -> int:
    """Page to the end with both paths side by side; the number of results seen."""
    seen = 0
    while True:
        short, normal = _both(svc, fast, request)
        assert short == normal
        seen += len(short.batch.entity_results)
        if short.batch.more_results != pb.NOT_FINISHED:
            return seen
        request.query.start_cursor = short.batch.end_cursor


@pytest.mark.parametrize("index", range(len(SHORT)))
def test_the_short_path_answers_as_the_full_path(svc, index):
    fast = FastQueries(svc)
    query = SHORT[index]
    for options in ("none", "empty", "strong", "eventual"):
        request = pb.RunQueryRequest(project_id=PROJECT, query=query)
        request.partition_id.project_id = PROJECT if options == "empty" else ""
        if options == "empty":
            request.read_options.SetInParent()
        elif options != "none":
            request.read_options.read_consistency = pb.EVENTUAL if options == "eventual" else 1
        assert classify(svc, request.SerializeToString()) is not None
        _pages(svc, fast, request)
        if index % 4 == 0:  # resuming and stopping at cursors taken from the results
            full = svc.run_query(request).batch
            if len(full.entity_results) >= 3:
                request.query.start_cursor = full.entity_results[0].cursor
                request.query.end_cursor = full.entity_results[2].cursor
                assert _pages(svc, fast, request) == 2
                request.query.ClearField("end_cursor")
                request.query.start_cursor = full.end_cursor
                _pages(svc, fast, request)


def test_batches_cut_alike_and_namespaces_stay_apart(svc):
    fast = FastQueries(svc)
    request = pb.RunQueryRequest(project_id=PROJECT, query=_query("Many"))
    first = pb.RunQueryResponse.FromString(fast.run_query(request.SerializeToString())).batch
    assert len(first.entity_results) == BATCH_SIZE and first.more_results == pb.NOT_FINISHED
    assert _pages(svc, fast, request) == BATCH_SIZE + 7
    heavy = pb.RunQueryResponse.FromString(fast.run_query(
        pb.RunQueryRequest(project_id=PROJECT, query=_query("Heavy")).SerializeToString())).batch
    assert 0 < len(heavy.entity_results) < 14 and heavy.more_results == pb.NOT_FINISHED  # cut by bytes
    other = pb.RunQueryRequest(project_id=PROJECT, query=_query("Item"))
    other.partition_id.namespace_id = "ns1"
    short, _ = _both(svc, fast, other)
    assert [r.entity.properties["tag"].string_value for r in short.batch.entity_results] == ["other ns"]
    named = pb.RunQueryRequest(project_id=PROJECT, database_id="db2", query=_query("Item", prop_filter("n", EQ, 1)))
    short, _ = _both(svc, fast, named)
    assert [r.entity.properties["tag"].string_value for r in short.batch.entity_results] == ["other database"]


def test_the_short_path_declines_what_it_cannot_answer_and_the_full_path_answers(svc):
    fast = FastQueries(svc)
    for request in _declined():
        data = request.SerializeToString()
        assert classify(svc, data) is None, request
        answer = fast.run_query(data)
        assert not isinstance(answer, bytes)
        if not request.read_options.HasField("new_transaction"):
            expected = svc.run_query(pb.RunQueryRequest.FromString(data))
            expected.batch.read_time.CopyFrom(answer.batch.read_time)
            if request.HasField("explain_options"):
                expected.explain_metrics.execution_stats.CopyFrom(answer.explain_metrics.execution_stats)
            assert answer == expected
    svc.budget = Budget(results=2)  # a budget of the test's own: the full path cuts by it
    answer = fast.run_query(pb.RunQueryRequest(project_id=PROJECT, query=_query("Item")).SerializeToString())
    assert not isinstance(answer, bytes) and len(answer.batch.entity_results) == 2


def test_errors_and_malformed_bytes_get_the_full_paths_answers(svc):
    from framework.emulators.datastore.errors import DatastoreError

    fast = FastQueries(svc)
    with pytest.raises(DatastoreError) as info:
        fast.run_query(b"\xff\xff\xff")
    assert info.value.code == "INVALID_ARGUMENT"
    bad_cursor = pb.RunQueryRequest(project_id=PROJECT, query=_query("Item"))
    bad_cursor.query.start_cursor = b"nonsense"
    wrong_project = pb.RunQueryRequest(project_id=PROJECT, query=_query("Item"))
    wrong_project.partition_id.project_id = "another"
    for request in (bad_cursor, wrong_project):
        with pytest.raises(DatastoreError) as expected:
            svc.run_query(request)
        with pytest.raises(DatastoreError) as got:
            fast.run_query(request.SerializeToString())
        assert (got.value.code, got.value.message) == (expected.value.code, expected.value.message)


def test_over_grpc_the_short_path_agrees_with_the_full_path_and_clients_read_it(raw, ds_client):
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    for i in range(1, 13):
        req.mutations.add().upsert.CopyFrom(entity(key("Wire", i), n=i % 3, s=f"v{i}"))
    raw("Commit", req)
    for query in (_query("Wire"), _query("Wire", prop_filter("n", EQ, 1)), _query("Wire", limit=2)):
        short = raw("RunQuery", pb.RunQueryRequest(query=query)).batch
        explained = pb.RunQueryRequest(query=query)
        explained.explain_options.analyze = True  # the short path declines it
        full = raw("RunQuery", explained).batch
        short.ClearField("read_time")
        full.ClearField("read_time")
        assert short == full and len(short.entity_results) > 0
    from google.cloud import datastore

    q = ds_client.query(kind="Wire")
    q.add_filter(filter=datastore.query.PropertyFilter("n", "=", 1))
    assert sorted(e.key.id for e in q.fetch()) == [1, 4, 7, 10]
    assert [e["s"] for e in ds_client.query(kind="Wire").fetch(limit=3)] == ["v1", "v2", "v3"]


def test_composite_index_needs_are_checked_per_request(tmp_path):
    from framework.emulators.datastore.errors import DatastoreError
    from framework.emulators.datastore.index_file import IndexFile

    path = tmp_path / "index.yaml"
    path.write_text("indexes:\n")
    svc = DatastoreService(MemoryStorage(), IndexFile(str(path), "require"))
    fast = FastQueries(svc)
    data = pb.RunQueryRequest(project_id=PROJECT, query=_query("Item", desc_key=True)).SerializeToString()
    with pytest.raises(DatastoreError) as info:
        fast.run_query(data)
    assert info.value.code == "FAILED_PRECONDITION" and "__key__" in info.value.message
    path.write_text("indexes:\n- kind: Item\n  properties:\n  - name: __key__\n    direction: desc\n")
    assert isinstance(fast.run_query(data), bytes)  # the same request, now served by the declared index
