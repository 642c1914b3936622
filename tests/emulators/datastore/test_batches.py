"""Batches as production cuts them: RunQuery by size, count and skip budget (NOT_FINISHED), Lookup with `deferred`.

The unmodified clients must page to the end without a message-size error: google-cloud-datastore's channel keeps
gRPC's default 4 MiB receive limit, so a response over it fails in the client.
"""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.executor import BATCH_BYTES, BATCH_SIZE, SKIP_BUDGET
from framework.emulators.datastore.service import LOOKUP_FOUND

from .conftest import PROJECT, entity, key, prop_filter

pytestmark = pytest.mark.slow

GRPC_DEFAULT_MAX = 4 * 1024 * 1024


def load(raw, kind: str, count: int, payload: int, per_commit: int = 4000) -> None:
    """`count` entities `kind`/1..count with an indexed `n` and an unindexed blob of `payload` bytes, in big commits."""
    for low in range(0, count, per_commit):
        req = pb.CommitRequest(mode=pb.NON_TRANSACTIONAL)
        for i in range(low, min(count, low + per_commit)):
            e = entity(key(kind, i + 1), n=i)
            blob = e.properties["blob"]
            blob.blob_value = bytes([i % 251]) * payload
            blob.exclude_from_indexes = True
            req.mutations.add().upsert.CopyFrom(e)
        raw("Commit", req)


def loaded_model(kind: str):
    """The ndb model of what `load` writes to `kind`: its indexed `n` and its blob."""
    from google.cloud import ndb

    return type(kind, (ndb.Model,), {"n": ndb.IntegerProperty(), "blob": ndb.BlobProperty()})


def run(raw, query):
    return raw("RunQuery", pb.RunQueryRequest(query=query)).batch


def kind_query(kind: str) -> pb.Query:
    q = pb.Query()
    q.kind.add(name=kind)
    return q


@pytest.mark.timeout(240)
def test_fifty_thousand_entities_page_to_the_end_through_both_clients(raw, ds_client, ndb_client):
    total, payload = 50_000, 1200  # ~870 results fill a batch's bytes before its count
    load(raw, "Big", total, payload, per_commit=5000)

    first = raw("RunQuery", pb.RunQueryRequest(query=kind_query("Big")))
    assert first.batch.more_results == pb.NOT_FINISHED
    assert 0 < len(first.batch.entity_results) < BATCH_SIZE  # cut by size, not by count
    assert first.ByteSize() < BATCH_BYTES + 64 * 1024

    pages = seen = 0
    expected = 0
    iterator = ds_client.query(kind="Big").fetch()
    for page in iterator.pages:
        pages += 1
        for e in page:
            assert e.key.id == expected + 1 and len(e["blob"]) == payload
            expected += 1
            seen += 1
    assert seen == total and pages >= total // BATCH_SIZE

    Big = loaded_model("Big")

    with ndb_client.context(cache_policy=False):
        # ndb decodes ~5,000 results a second: every key to the end, and whole entities over the last 5,000
        assert sum(1 for _ in Big.query().iter(keys_only=True)) == total
        tail = [big.n for big in Big.query(Big.n >= total - 5000)]
        assert tail == list(range(total - 5000, total))


def test_big_entities_come_in_several_batches_each_under_the_client_limit(raw, ds_client):
    load(raw, "Huge", 60, 200_000, per_commit=30)  # 12 MB in all: one batch would exceed 4 MiB
    q = kind_query("Huge")
    sizes, ids = [], []
    while True:
        response = raw("RunQuery", pb.RunQueryRequest(query=q))
        sizes.append(response.ByteSize())
        ids += [r.entity.key.path[0].id for r in response.batch.entity_results]
        if response.batch.more_results != pb.NOT_FINISHED:
            break
        q.start_cursor = response.batch.end_cursor
    assert ids == list(range(1, 61)) and len(sizes) > 3 and max(sizes) < GRPC_DEFAULT_MAX
    assert [e.key.id for e in ds_client.query(kind="Huge").fetch()] == list(range(1, 61))


def test_lookup_defers_keys_past_its_size_and_both_clients_ask_again(raw, ds_client, ndb_client):
    load(raw, "Huge", 40, 200_000, per_commit=20)
    req = pb.LookupRequest()
    for i in range(40):
        req.keys.add().CopyFrom(key("Huge", i + 1))
    response = raw("Lookup", req)
    assert response.deferred and response.found and response.ByteSize() < GRPC_DEFAULT_MAX
    assert len(response.found) + len(response.deferred) == 40 and not response.missing
    assert {k.path[0].id for k in response.deferred}.isdisjoint(r.entity.key.path[0].id for r in response.found)

    got = ds_client.get_multi([ds_client.key("Huge", i + 1) for i in range(40)])
    assert sorted(e.key.id for e in got) == list(range(1, 41))

    from google.cloud import ndb

    loaded_model("Huge")  # ndb decodes the kind into its model

    with ndb_client.context(cache_policy=False):
        found = ndb.get_multi([ndb.Key("Huge", i + 1) for i in range(40)])
        assert [h.n for h in found] == list(range(40))


def test_lookup_defers_found_entities_past_a_count_and_both_clients_get_all_thousand(raw, ds_client, ndb_client):
    load(raw, "Many", 1000, 8, per_commit=1000)
    absent = [2001 + i for i in range(100)]  # missing keys first: they do not count against the found bound
    req = pb.LookupRequest()
    for ident in absent + list(range(1, 901)):
        req.keys.add().CopyFrom(key("Many", ident))
    response = raw("Lookup", req)
    assert len(response.found) == LOOKUP_FOUND and len(response.missing) == 100
    assert [k.path[0].id for k in response.deferred] == list(range(LOOKUP_FOUND + 1, 901))
    assert [r.entity.key.path[0].id for r in response.found] == list(range(1, LOOKUP_FOUND + 1))

    keys = [ds_client.key("Many", i + 1) for i in range(1000)]
    deferred: list = []
    first = ds_client.get_multi(keys, deferred=deferred)  # one round trip, the deferred keys handed back
    assert len(first) == LOOKUP_FOUND and len(deferred) == 1000 - LOOKUP_FOUND
    got = ds_client.get_multi(keys)
    assert sorted(e.key.id for e in got) == list(range(1, 1001)) and all(e["n"] == e.key.id - 1 for e in got)
    missing: list = []
    got = ds_client.get_multi([ds_client.key("Many", i) for i in absent] + keys[:900], missing=missing)
    assert sorted(e.key.id for e in got) == list(range(1, 901)) and sorted(m.key.id for m in missing) == absent

    from google.cloud import ndb

    loaded_model("Many")  # ndb decodes the kind into its model

    with ndb_client.context(cache_policy=False):
        found = ndb.get_multi([ndb.Key("Many", i + 1) for i in range(1000)])
        assert [m.n for m in found] == list(range(1000))
        found = ndb.get_multi([ndb.Key("Many", i) for i in absent[:5]] + [ndb.Key("Many", i + 1) for i in range(995)])
        assert found[:5] == [None] * 5 and [m.n for m in found[5:]] == list(range(995))


def test_offset_is_skipped_with_a_budget_per_batch(raw, ds_client, ndb_client):
    load(raw, "Skip", 2600, 10, per_commit=2600)
    q = kind_query("Skip")
    q.offset = 2500
    q.limit.value = 5
    batch = run(raw, q)
    assert batch.more_results == pb.NOT_FINISHED and batch.skipped_results == SKIP_BUDGET
    assert not batch.entity_results and batch.skipped_cursor == batch.end_cursor
    skipped, results = batch.skipped_results, []
    while batch.more_results == pb.NOT_FINISHED:  # what both clients do: offset -= skipped, resume at end_cursor
        q.offset = 2500 - skipped
        q.limit.value = 5 - len(results)
        q.start_cursor = batch.end_cursor
        batch = run(raw, q)
        skipped += batch.skipped_results
        results += [r.entity.key.path[0].id for r in batch.entity_results]
    assert skipped == 2500 and results == [2501, 2502, 2503, 2504, 2505]
    assert batch.more_results == pb.MORE_RESULTS_AFTER_LIMIT

    assert [e.key.id for e in ds_client.query(kind="Skip").fetch(offset=2500, limit=5)] == results
    from google.cloud import ndb

    class Skip(ndb.Model):
        n = ndb.IntegerProperty()

    with ndb_client.context(cache_policy=False):
        assert [k.id() for k in Skip.query().fetch(5, offset=2500, keys_only=True)] == results
        assert [s.n for s in Skip.query().order(-Skip.n).fetch(3, offset=2590)] == [9, 8, 7]


def test_exactly_a_batch_left_ends_with_no_more_results(raw):
    load(raw, "Even", BATCH_SIZE, 1, per_commit=BATCH_SIZE)
    batch = run(raw, kind_query("Even"))
    assert len(batch.entity_results) == BATCH_SIZE and batch.more_results == pb.NO_MORE_RESULTS


def _paged(svc, query, limit=None, offset=0):
    """Page a query the way both clients do; returns (ids, batches as (results, skipped, more_results))."""
    ids, batches = [], []
    query = pb.Query.FromString(query.SerializeToString())  # a copy: cursor, offset and limit change per request
    while True:
        query.offset = offset
        if limit is not None:
            query.limit.value = limit - len(ids)
        batch = svc.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch
        batches.append((len(batch.entity_results), batch.skipped_results, batch.more_results))
        ids += [r.entity.key.path[0].id for r in batch.entity_results]
        offset -= batch.skipped_results
        if batch.more_results != pb.NOT_FINISHED:
            return ids, batches
        query.start_cursor = batch.end_cursor


def _time_service(ticks):
    from framework.emulators.datastore.executor import Budget
    from framework.emulators.datastore.service import DatastoreService
    from framework.emulators.datastore.storage.memory import MemoryStorage

    svc = DatastoreService(MemoryStorage())
    req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for i in range(12):
        req.mutations.add().upsert.CopyFrom(entity(key("T", i + 1), n=i % 3))
    svc.commit(req)
    svc.budget = Budget(seconds=0.5, clock=lambda: next(ticks))
    return svc


def test_a_batch_out_of_time_is_cut_after_at_least_one_result_and_paging_ends():
    import itertools

    svc = _time_service(itertools.count())  # every look at the clock after the first finds the time spent
    ids, batches = _paged(svc, kind_query("T"))
    assert ids == list(range(1, 13))
    assert [b[0] for b in batches] == [1] * 12 and all(b[2] == pb.NOT_FINISHED for b in batches[:-1])
    assert batches[-1][2] == pb.NO_MORE_RESULTS
    ids, batches = _paged(svc, kind_query("T"), limit=5, offset=4)  # skipped results count as progress too
    assert ids == [5, 6, 7, 8, 9] and [b[1] for b in batches[:4]] == [1, 1, 1, 1]
    assert batches[-1][2] == pb.MORE_RESULTS_AFTER_LIMIT
    q = kind_query("T")
    q.filter.CopyFrom(prop_filter("n", pb.OP.EQUAL, 2))
    assert _paged(svc, q)[0] == [3, 6, 9, 12]


def test_a_clock_that_stands_still_never_cuts_a_batch():
    import itertools

    svc = _time_service(itertools.repeat(0.0))
    ids, batches = _paged(svc, kind_query("T"))
    assert ids == list(range(1, 13)) and batches == [(12, 0, pb.NO_MORE_RESULTS)]
