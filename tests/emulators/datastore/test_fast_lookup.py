"""Lookup's short path (fast_lookup.py) answers exactly as the full path does, and declines what it cannot answer.

Each request is answered both ways by one service: the short path's bytes (as the gRPC server sends them) and
`DatastoreService.lookup`'s message, for found, missing, repeated and deferred keys, partitions and consistency
options, in memory and on SQLite; over the wire, google-cloud-datastore reads through it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.errors import DatastoreError
from framework.emulators.datastore.fast_lookup import FastLookups, classify
from framework.emulators.datastore.service import LOOKUP_FOUND, DatastoreService
from framework.emulators.datastore.wire import MALFORMED

from .conftest import PROJECT, entity, filled_service, key, set_value, short_and_full


def _store(svc: DatastoreService) -> None:
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(1, LOOKUP_FOUND + 11):
        e = entity(key("Item", i), n=i, tag=f"t{i}", ratio=i / 3)
        set_value(e.properties["tags"], ["a", "b"])
        e.properties["when"].timestamp_value.seconds = 1_700_000_000 + i
        e.properties["ref"].key_value.CopyFrom(key("Other", i))
        req.mutations.add().upsert.CopyFrom(e)
    req.mutations.add().upsert.CopyFrom(entity(key("Item", "named"), n=0))
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 1, "Child", "c"), n=1))
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 1, namespace="ns1"), tag="other ns"))
    for i in range(1, 8):  # more than a response's bytes
        e = entity(key("Heavy", i))
        e.properties["blob"].blob_value = bytes([i]) * 200_000
        e.properties["blob"].exclude_from_indexes = True
        req.mutations.add().upsert.CopyFrom(e)
    svc.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, database_id="db2", mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 1, database="db2"), tag="other database"))
    svc.commit(req)
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    req.mutations.add().upsert.CopyFrom(entity(key("Item", 2), n=22))  # a later version
    req.mutations.add().delete.CopyFrom(key("Item", 3))
    svc.commit(req)


KEY_SETS = [
    [key("Item", 1)],
    [key("Item", 1, project="")],  # the request's project filled in
    [key("Item", "named")],
    [key("Item", 3)],  # deleted: missing
    [key("Nothing", 9)],
    [key("Item", 1, "Child", "c"), key("Item", 2), key("Item", 3), key("Item", 2)],  # found, missing, repeated
    [key("Item", 1, namespace="ns1"), key("Item", 1)],
    [key("Item", i) for i in range(1, LOOKUP_FOUND + 11)],  # past the count: deferred
    [key("Heavy", i) for i in range(1, 8)] + [key("Item", 3), key("Item", 4)],  # past the bytes: deferred
    [],
]


@pytest.fixture(params=["memory", "sqlite"])
def svc(request: Any, tmp_path: Any) -> Any:
    yield from filled_service(request.param, tmp_path, _store)


def _both(svc: DatastoreService, fast: FastLookups, request: Any) -> tuple[Any, Any]:
    data = request.SerializeToString()
    normal = svc.lookup(pb.LookupRequest.FromString(data))
    return short_and_full(fast.lookup(data), normal, lambda r: r, lambda r: r.found)


@pytest.mark.parametrize("index", range(len(KEY_SETS)))
def test_the_short_path_answers_as_the_full_path(svc, index):
    fast = FastLookups(svc)
    for options in ("none", "empty", "strong", "eventual"):
        request = pb.LookupRequest(project_id=PROJECT, keys=KEY_SETS[index])
        if options == "empty":
            request.read_options.SetInParent()
        elif options != "none":
            request.read_options.read_consistency = pb.EVENTUAL if options == "eventual" else 1
        assert classify(request.SerializeToString()) is not None
        for _ in range(2):  # the second time from the memo
            short, normal = _both(svc, fast, request)
            assert short == normal
    named = pb.LookupRequest(project_id=PROJECT, database_id="db2", keys=[key("Item", 1, database="db2")])
    short, _ = _both(svc, fast, named)
    assert short.found[0].entity.properties["tag"].string_value == "other database"


def test_deferred_keys_and_writes_in_between_read_alike(svc):
    fast = FastLookups(svc)
    request = pb.LookupRequest(project_id=PROJECT, keys=KEY_SETS[7])
    short, _ = _both(svc, fast, request)
    assert len(short.found) == LOOKUP_FOUND and len(short.missing) == 1 and len(short.deferred) == 9  # 3 is gone
    heavy, _ = _both(svc, fast, pb.LookupRequest(project_id=PROJECT, keys=KEY_SETS[8]))
    assert 0 < len(heavy.found) < 7 and heavy.deferred and len(heavy.found) + len(heavy.deferred) == 9
    one = pb.LookupRequest(project_id=PROJECT, keys=[key("Item", 5)])
    before, _ = _both(svc, fast, one)
    write = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    write.mutations.add().upsert.CopyFrom(entity(key("Item", 5), n=555))
    svc.commit(write)
    after, _ = _both(svc, fast, one)  # the same request bytes: the memo holds keys, never records
    assert after.found[0].entity.properties["n"].integer_value == 555 and after.found[0].version > before.found[0].version
    gone = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    gone.mutations.add().delete.CopyFrom(key("Item", 5))
    svc.commit(gone)
    missing, _ = _both(svc, fast, one)
    assert not missing.found and missing.missing[0].version == svc.storage.last_version()


def test_the_short_path_declines_what_it_cannot_answer(svc):
    fast = FastLookups(svc)
    declined = []
    for change in ("mask", "transaction", "new transaction", "read_time"):
        request = pb.LookupRequest(project_id=PROJECT, keys=[key("Item", 1)])
        if change == "mask":
            request.property_mask.paths.append("n")
        elif change == "transaction":
            request.read_options.transaction = svc.begin_transaction(
                pb.BeginTransactionRequest(project_id=PROJECT)).transaction
        elif change == "new transaction":
            request.read_options.new_transaction.read_only.SetInParent()
        else:
            request.read_options.read_time.seconds = int(time.time()) - 1
        declined.append(request)
        data = request.SerializeToString()
        assert classify(data) is None
        answer = fast.lookup(data)
        assert not isinstance(answer, bytes)
        assert len(answer.found) == (0 if change == "read_time" else 1)  # a second ago, before the store was filled
    masked = fast.lookup(declined[0].SerializeToString())  # the mask applied by the full path
    assert set(masked.found[0].entity.properties) == {"n"}


def test_errors_and_malformed_bytes_get_the_full_paths_answers(svc):
    fast = FastLookups(svc)
    with pytest.raises(DatastoreError) as info:
        fast.lookup(b"\xff\xff\xff")
    assert info.value.code == "INVALID_ARGUMENT"
    for keys, project in (([key("Item", 1, project="other")], PROJECT), ([key("Item", 0)], PROJECT),
                          ([key("Item", 1)], ""), ([key("Item", i) for i in range(1, 1002)], PROJECT)):
        request = pb.LookupRequest(project_id=project, keys=keys)
        with pytest.raises(DatastoreError) as expected:
            svc.lookup(pb.LookupRequest.FromString(request.SerializeToString()))
        for _ in range(2):  # refused every time, never kept
            with pytest.raises(DatastoreError) as got:
                fast.lookup(request.SerializeToString())
            assert (got.value.code, got.value.message) == (expected.value.code, expected.value.message)


def test_over_grpc_clients_read_through_the_short_path(raw, ds_client):
    req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
    for i in range(1, 6):
        req.mutations.add().upsert.CopyFrom(entity(key("WireL", i), n=i, s=f"v{i}"))
    raw("Commit", req)
    short = raw("Lookup", pb.LookupRequest(keys=[key("WireL", 2), key("WireL", 9)]))
    txn = raw("BeginTransaction", pb.BeginTransactionRequest()).transaction
    full = raw("Lookup", pb.LookupRequest(keys=[key("WireL", 2), key("WireL", 9)],
                                          read_options=pb.ReadOptions(transaction=txn)))  # declined: full path
    raw("Rollback", pb.RollbackRequest(transaction=txn))
    short.ClearField("read_time")
    full.ClearField("read_time")
    full.ClearField("transaction")
    assert short == full and len(short.found) == 1 and len(short.missing) == 1
    found = ds_client.get_multi([ds_client.key("WireL", i) for i in (1, 3, 7)])
    assert sorted(e["s"] for e in found) == ["v1", "v3"]
    assert ds_client.get(ds_client.key("WireL", 4))["n"] == 4


def test_mutated_request_bytes_get_the_same_answer_both_ways(svc):
    """Random byte flips of requests both short paths answer: whatever either path says, the other says too."""
    import random

    from framework.emulators.datastore.fast_query import FastQueries

    from .conftest import prop_filter

    query = pb.Query()
    query.kind.add(name="Item")
    query.filter.CopyFrom(prop_filter("tags", pb.OP.EQUAL, "a"))
    query.limit.value = 5
    cases = [
        (FastLookups(svc).lookup, svc.lookup, pb.LookupRequest, pb.LookupResponse,
         pb.LookupRequest(project_id=PROJECT, keys=[key("Item", 1), key("Item", 3), key("Item", "named")])),
        (FastQueries(svc).run_query, svc.run_query, pb.RunQueryRequest, pb.RunQueryResponse,
         pb.RunQueryRequest(project_id=PROJECT, query=query)),
    ]
    kind_only = pb.RunQueryRequest(project_id=PROJECT, read_options=pb.ReadOptions(read_consistency=pb.EVENTUAL))
    kind_only.query.kind.add(name="Item")
    kind_only.query.start_cursor = svc.run_query(pb.RunQueryRequest(
        project_id=PROJECT, query=query)).batch.entity_results[1].cursor.replace(b"\x01Z", b"\x01K", 1)
    cases.append((FastQueries(svc).run_query, svc.run_query, pb.RunQueryRequest, pb.RunQueryResponse, kind_only))
    rng = random.Random(5)
    answered = 0
    for fast, full, request_class, response_class, request in cases:
        data = request.SerializeToString()
        assert isinstance(fast(data), bytes)  # each base request takes its short path
        for _ in range(300):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 2)):
                mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
            try:
                answer = fast(bytes(mutated))
            except DatastoreError as exc:
                try:
                    parsed = request_class.FromString(bytes(mutated))
                except Exception:  # as grpc_handlers answers bytes that do not parse
                    assert (exc.code, exc.message) == ("INVALID_ARGUMENT", MALFORMED)
                    continue
                with pytest.raises(DatastoreError) as info:
                    full(parsed)
                assert (info.value.code, info.value.message) == (exc.code, exc.message)
                continue
            if not isinstance(answer, bytes):
                continue  # declined: the full path answered
            answered += 1
            short, normal = response_class.FromString(answer), full(request_class.FromString(bytes(mutated)))
            read_time = short.batch.read_time if response_class is pb.RunQueryResponse else short.read_time
            (normal.batch.read_time if response_class is pb.RunQueryResponse else normal.read_time).CopyFrom(read_time)
            assert short == normal, bytes(mutated)
    assert answered > 50
