"""No full scan where an index can serve: count the rows each query reads from the real storage classes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.errors import DatastoreError
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage.memory import MemoryStorage
from framework.emulators.datastore.storage.sqlite import SqliteStorage

from .conftest import PROJECT, build_query, entity, key, prop_filter

N = 2000  # entities of kind "R"; another 2000 of kind "Other" share the store


def counting(base: type) -> type:
    """A subclass of a storage class that counts the rows its scans yield and the entities it gets."""

    class Counting(base):  # type: ignore[misc, valid-type]
        rows = 0

        def get(self, k: bytes):
            type(self).rows += 1
            return super().get(k)

        def _count(self, scan: Iterator) -> Iterator:
            for item in scan:
                type(self).rows += 1
                yield item

        def scan_entities(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator:
            return self._count(super().scan_entities(lo, hi, reverse))

        def scan_index(self, lo: bytes, hi: bytes, reverse: bool = False) -> Iterator:
            return self._count(super().scan_index(lo, hi, reverse))

    return Counting


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatastoreService]:
    if request.param == "memory":
        storage = counting(MemoryStorage)()
    else:
        storage = counting(SqliteStorage)(str(tmp_path_factory.mktemp("idx")))
    svc = DatastoreService(storage)
    for kind in ("R", "Other"):
        req = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
        for i in range(N):
            parent = ("G", i % 100 + 1)
            req.mutations.add().upsert.CopyFrom(
                entity(key(*parent, kind, i + 1), n=i, low=i % 100 < 50, high=i % 100 >= 49, group=i % 100)
            )
        svc.commit(req)
    yield svc
    storage.close()


def _run(service: DatastoreService, query: pb.Query, kindless: bool = False) -> tuple[int, int]:
    """(results, rows read) of one RunQuery."""
    if kindless:
        del query.kind[:]
    type(service.storage).rows = 0
    batch = service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch
    return len(batch.entity_results), type(service.storage).rows


def _rows(results: int) -> int:
    """An index row and an entity read per result, one more result looked at for more_results, and on a
    sorted scan one row read ahead to close the group of equal values."""
    return 2 * (results + 1) + 1


EQ, GT, LT, ANCESTOR = pb.OP.EQUAL, pb.OP.GREATER_THAN, pb.OP.LESS_THAN, pb.OP.HAS_ANCESTOR
CASES = {
    # name: (query, kindless, expected results, most rows it may read)
    "equality": (build_query(prop_filter("group", EQ, 7)), False, 20, _rows(20)),
    # low and high each match half the kind (1,000 rows); only one parent's 20 entities have both.
    "two equalities, zig-zag": (build_query(prop_filter("low", EQ, True), prop_filter("high", EQ, True)), False, 20, 3 * 20 + 6),
    "ancestor": (build_query(prop_filter("__key__", ANCESTOR, key("G", 5))), False, 20, _rows(20)),
    "kindless ancestor": (build_query(prop_filter("__key__", ANCESTOR, key("G", 5))), True, 40, 40 + 2),
    "ancestor + equality": (build_query(prop_filter("__key__", ANCESTOR, key("G", 5)), prop_filter("group", EQ, 4)), False, 20, 50),
    "key range": (build_query(prop_filter("__key__", LT, key("G", 2))), False, 20, _rows(20)),
    "inequality": (build_query(prop_filter("n", GT, N - 31)), False, 30, _rows(30)),
    "sorted, limit": (build_query(order="n", desc=True, limit=15), False, 15, _rows(15)),
    "kind, limit": (build_query(limit=25), False, 25, _rows(25)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_queries_read_only_the_index_range_they_need(service: DatastoreService, case: str) -> None:
    query, kindless, expected, most = CASES[case]
    found, rows = _run(service, query, kindless)
    assert found == expected
    assert rows <= most, f"{case}: read {rows} rows for {found} results (store holds {2 * N} entities)"


def test_a_cursor_resumes_by_seeking_not_by_rereading(service: DatastoreService) -> None:
    query = build_query(prop_filter("n", GT, 100), order="n", limit=10)
    first = service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch
    query.start_cursor = first.end_cursor
    for _ in range(50):  # page deep into the range: each page costs the same
        type(service.storage).rows = 0
        batch = service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch
        assert len(batch.entity_results) == 10 and type(service.storage).rows <= _rows(10)
        query.start_cursor = batch.end_cursor
    assert batch.entity_results[-1].entity.properties["n"].integer_value == 101 + 51 * 10 - 1


def test_the_counter_sees_a_full_scan(service: DatastoreService) -> None:
    """The counting is real: a range that covers the whole kind reads a full batch of rows."""
    found, rows = _run(service, build_query(prop_filter("n", GT, -1)))
    assert found == 1000 and rows >= 1000  # one batch is at most 1,000 results


def _count(service: DatastoreService, *up_tos: int | None) -> tuple[list[int], int]:
    """(count per aggregation, rows read) of counts over kind R, each bounded by its `up_to` (None = none)."""
    req = pb.RunAggregationQueryRequest(project_id=PROJECT)
    req.aggregation_query.nested_query.kind.add(name="R")
    for i, up_to in enumerate(up_tos):
        count = req.aggregation_query.aggregations.add(alias=f"c{i}").count
        count.SetInParent()
        if up_to is not None:
            count.up_to.value = up_to
    type(service.storage).rows = 0
    result = service.run_aggregation_query(req).batch.aggregation_results[0].aggregate_properties
    return [result[f"c{i}"].integer_value for i in range(len(up_tos))], type(service.storage).rows


def test_count_up_to_stops_scanning_at_its_bound(service: DatastoreService) -> None:
    """Counting reads index rows only (no entities), and no more of them than the largest bound needs."""
    counts, rows = _count(service, 5, 12)
    assert counts == [5, 12] and rows <= 12 + 1
    counts, rows = _count(service, 5, None)  # an unbounded count must see everything
    assert counts == [5, N] and N <= rows <= N + 1


def test_negative_count_up_to_is_refused_before_any_scan(service: DatastoreService) -> None:
    with pytest.raises(DatastoreError) as info:
        _count(service, -1)
    assert info.value.code == "INVALID_ARGUMENT" and type(service.storage).rows == 0
