"""Work memoised per request shape: RunQuery plans (plan_memo.py) and Lookup keys. A repeated query is planned once,
yet sees every write and keeps to its partition; a refused query or key is refused every time."""

from __future__ import annotations

import grpc
import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.errors import DatastoreError
from framework.emulators.datastore.plan_memo import PlanMemo
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage.memory import MemoryStorage

from .conftest import PROJECT, build_query, entity, key, prop_filter

OP = pb.OP


def request(query, namespace: str = "", project: str = PROJECT) -> pb.RunQueryRequest:
    req = pb.RunQueryRequest(project_id=project, query=query)
    req.partition_id.namespace_id = namespace
    return req


def test_a_repeated_query_is_planned_once_and_other_partitions_get_their_own_plan():
    memo = PlanMemo()
    query = build_query(prop_filter("n", OP.EQUAL, 1))
    plan, needs = memo.plan(request(query))
    assert memo.plan(request(query))[0] is plan and needs == [] and len(memo) == 1
    other = memo.plan(request(query, namespace="other"))[0]
    assert other is not plan and other.partition.namespace_id == "other" and other.ns != plan.ns
    assert memo.plan(request(query, project="elsewhere"))[0].partition.project_id == "elsewhere"
    assert memo.plan(request(build_query(prop_filter("n", OP.EQUAL, 2))))[0] is not plan
    assert len(memo) == 4


def test_the_memo_keeps_at_most_its_size_dropping_the_least_recently_used():
    memo = PlanMemo(size=3)
    queries = [build_query(prop_filter("n", OP.EQUAL, i)) for i in range(4)]
    first = memo.plan(request(queries[0]))[0]
    for query in queries[1:3]:
        memo.plan(request(query))
    assert memo.plan(request(queries[0]))[0] is first  # used again: now the most recent
    memo.plan(request(queries[3]))  # drops queries[1]
    assert len(memo) == 3 and memo.plan(request(queries[0]))[0] is first


def test_a_refused_query_is_refused_every_time_and_not_kept():
    memo = PlanMemo()
    bad = build_query(prop_filter("a", OP.NOT_EQUAL, 1), prop_filter("b", OP.NOT_EQUAL, 2))
    for _ in range(2):
        with pytest.raises(DatastoreError) as info:
            memo.plan(request(bad))
        assert info.value.code == "INVALID_ARGUMENT" and "at most one NOT_EQUAL" in info.value.message
    with pytest.raises(DatastoreError):
        memo.plan(request(build_query(prop_filter("n", OP.EQUAL, 1)), namespace="not a namespace!"))
    assert len(memo) == 0


def test_a_memoised_plan_serves_queries_with_cursors_and_limits_alike():
    svc = DatastoreService(MemoryStorage())
    commit = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(5):
        commit.mutations.add().upsert.CopyFrom(entity(key("R", i + 1), tag="t"))
    svc.commit(commit)
    query = build_query(prop_filter("tag", OP.EQUAL, "t"), limit=2)
    ids = []
    while True:
        batch = svc.run_query(request(query)).batch
        ids += [r.entity.key.path[0].id for r in batch.entity_results]
        if not batch.entity_results:
            break
        query.start_cursor = batch.end_cursor
    assert ids == [1, 2, 3, 4, 5]


def test_a_repeated_query_sees_each_write_and_keeps_to_its_namespace(raw):
    def tags(namespace: str) -> list[str]:
        req = request(build_query(prop_filter("tag", OP.EQUAL, "x")), namespace=namespace)
        return [r.entity.key.path[0].name for r in raw("RunQuery", req).batch.entity_results]

    def put(namespace: str, name: str, tag: str) -> None:
        commit = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
        commit.mutations.add().upsert.CopyFrom(entity(key("R", name, namespace=namespace), tag=tag))
        raw("Commit", commit)

    put("", "a", "x")
    put("ns2", "b", "x")
    assert tags("") == ["a"] and tags("ns2") == ["b"]
    put("", "c", "x")
    put("", "a", "y")  # no longer matches
    assert tags("") == ["c"] and tags("ns2") == ["b"]
    delete = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    delete.mutations.add().delete.CopyFrom(key("R", "b", namespace="ns2"))
    raw("Commit", delete)
    assert tags("ns2") == []


def test_a_query_refused_over_grpc_stays_refused(raw):
    bad = build_query(prop_filter("a", OP.NOT_EQUAL, 1), prop_filter("b", OP.NOT_EQUAL, 2))
    for _ in range(2):
        assert raw.error("RunQuery", request(bad)).code() == grpc.StatusCode.INVALID_ARGUMENT


def test_lookup_keys_checked_once_still_take_the_request_project_and_refusals_repeat():
    svc = DatastoreService(MemoryStorage())
    commit = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    commit.mutations.add().upsert.CopyFrom(entity(key("L", 1), n=1))
    svc.commit(commit)
    for _ in range(2):  # the second time the key's checks and encoding come from the memo
        bare = key("L", 1, project="")
        found = svc.lookup(pb.LookupRequest(project_id=PROJECT, keys=[bare])).found
        assert len(found) == 1 and found[0].entity.key == key("L", 1)
        assert found[0].entity.key.partition_id.project_id == PROJECT
    for _ in range(2):
        with pytest.raises(DatastoreError) as info:
            svc.lookup(pb.LookupRequest(project_id=PROJECT, keys=[key("L", 1, project="other")]))
        assert info.value.code == "INVALID_ARGUMENT" and "mismatched project" in info.value.message


def test_mutation_keys_checked_once_still_take_the_request_project_and_refusals_repeat():
    svc = DatastoreService(MemoryStorage())
    for project in (PROJECT, "second-project", PROJECT):  # the same key bytes, checked for each request project
        commit = pb.CommitRequest(project_id=project, mode=pb.NON_TRANSACTIONAL)
        commit.mutations.add().upsert.CopyFrom(entity(key("W", 1, project=""), n=len(project)))
        svc.commit(commit)
        query = pb.RunQueryRequest(project_id=project)
        query.query.kind.add(name="W")
        found = svc.run_query(query).batch.entity_results  # the entity as stored (Lookup answers the asked key)
        assert found[0].entity.key == key("W", 1, project=project)  # with the request's project filled in
        assert found[0].entity.properties["n"].integer_value == len(project)
    for bad, words in ((key("W", 1, project="other"), "mismatched project"), (key("__W__", 1), "reserved"),
                       (key("W", 0), "zero"), (key("W", 1, namespace="__x__"), "reserved")):
        for op in ("upsert", "delete", "upsert"):  # refused every time, never kept
            commit = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
            mutation = commit.mutations.add()
            if op == "delete":
                mutation.delete.CopyFrom(bad)
            else:
                mutation.upsert.CopyFrom(entity(bad, n=1))
            with pytest.raises(DatastoreError) as info:
                svc.commit(commit)
            assert info.value.code == "INVALID_ARGUMENT" and words in info.value.message
    bad_value = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    bad_value.mutations.add().upsert.CopyFrom(entity(key("W", 1), n=1, __n__=1))  # a known key, a refused name
    for _ in range(2):  # property names are checked once too; a refused one every time
        with pytest.raises(DatastoreError, match="reserved"):
            svc.commit(bad_value)
    gone = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    gone.mutations.add().delete.CopyFrom(key("W", 1, project=""))
    svc.commit(gone)
    assert not svc.lookup(pb.LookupRequest(project_id=PROJECT, keys=[key("W", 1)])).found
