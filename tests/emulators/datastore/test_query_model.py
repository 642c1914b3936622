"""This issue's queries against a naive model of the documented semantics, on random data.

The model knows nothing of the emulator's encodings or indexes: it filters and sorts plain Python values
by the rules of datastore-semantics.md (§3.3 order, §3.4 arrays, §4.3-4.6), so any disagreement is a bug
in the index-based engine. Every query is also paged with cursors and must give the same results.
"""

from __future__ import annotations

import math
import random

import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.service import DatastoreService
from framework.emulators.datastore.storage import open_storage

from .conftest import PROJECT, entity, key

_TYPE_RANK = {type(None): 0, int: 1, bool: 2, str: 4, float: 5}  # §3.3: null < integers < booleans < strings < doubles


def _rank(v: object) -> tuple:
    if isinstance(v, float) and math.isnan(v):
        return (6,)
    return (_TYPE_RANK[type(v)], v)


def _key_order(path: tuple) -> tuple:
    """§3.3 keys: element by element; ids before names; an ancestor before its descendants."""
    return tuple((kind, (0, ident) if isinstance(ident, int) else (1, ident.encode())) for kind, ident in path)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def _random_data(rng: random.Random) -> list[tuple[tuple, dict, set]]:
    """(path, properties, excluded property names) of random entities of kinds R and S."""
    rows, used = [], set()
    values = [None, 0, 1, 2, 3, -4, True, False, "a", "b", "c", "ab", 1.5, -0.5, float("nan")]
    while len(rows) < 250:
        kind = rng.choice("RRRS")
        ident = rng.choice([rng.randint(1, 40), rng.choice(["x", "y", "z", "w"]) + str(rng.randint(0, 9))])
        parent = rng.choice([(), (("G", 1),), (("G", 2),), (("G", "p"),)])
        path = (*parent, (kind, ident))
        if path in used:
            continue
        used.add(path)
        props: dict = {}
        for name in ("n", "s", "t"):
            roll = rng.random()
            if roll < 0.15:
                continue  # missing
            if roll < 0.35:
                props[name] = [rng.choice(values) for _ in range(rng.randint(0, 3))]
            else:
                props[name] = rng.choice(values)
        excluded = {"t"} if rng.random() < 0.3 and "t" in props and not isinstance(props["t"], list) else set()
        rows.append((path, props, excluded))
    return rows


def _indexed(props: dict, excluded: set, name: str) -> list:
    if name not in props or name in excluded:
        return []
    value = props[name]
    return list(value) if isinstance(value, list) else [value]


def _model(rows: list, kind: str | None, ancestor: tuple | None, eqs: list, order: tuple | None) -> list[tuple]:
    """The paths a query must return, in order."""
    out = []
    for path, props, excluded in rows:
        if kind is not None and path[-1][0] != kind:
            continue
        if ancestor is not None and path[:len(ancestor)] != ancestor:
            continue
        if not all(any(_same(v, want) for v in _indexed(props, excluded, name)) for name, want in eqs):
            continue
        out.append((path, props, excluded))
    eq_names = {name for name, _ in eqs}
    if order is None or order[0] in eq_names:  # a sort on an equality-filtered property is moot (§3.4)
        return [path for path, _, _ in sorted(out, key=lambda r: _key_order(r[0]))]
    name, descending = order
    if name == "__key__":
        return [path for path, _, _ in sorted(out, key=lambda r: _key_order(r[0]), reverse=descending)]
    ranked = []
    for path, props, excluded in out:
        values = [_rank(v) for v in _indexed(props, excluded, name)]
        if values:  # entities without an indexed value of the sort property are not returned
            ranked.append((max(values) if descending else min(values), path))
    ranked.sort(key=lambda r: _key_order(r[1]))  # ties: key ascending
    ranked.sort(key=lambda r: r[0], reverse=descending)
    return [path for _, path in ranked]


def _pb_key(path: tuple) -> pb.Key:
    return key(*[part for element in path for part in element])


def _random_query(rng: random.Random) -> tuple[pb.Query, tuple]:
    kindless = rng.random() < 0.15
    kind = None if kindless else rng.choice("RRS")
    ancestor = rng.choice([None, None, (("G", 1),), (("G", "p"),)]) if not kindless else rng.choice(
        [(("G", 1),), (("G", 2),)])
    eqs = [] if kindless else [(n, rng.choice([0, 1, "a", "b", True, None, 1.5]))
                               for n in rng.sample(["n", "s", "t"], rng.choice([0, 0, 1, 1, 2]))]
    if kindless:
        order = rng.choice([None, ("__key__", False)])
    else:
        order = rng.choice([None, ("n", False), ("n", True), ("s", False), ("s", True), ("t", True),
                            ("__key__", True), ("__key__", False)])
    query = pb.Query()
    if kind:
        query.kind.add(name=kind)
    filters = []
    for name, want in eqs:
        f = pb.Filter()
        f.property_filter.property.name, f.property_filter.op = name, pb.OP.EQUAL
        f.property_filter.value.CopyFrom(entity(key("X", 1), v=want).properties["v"])
        filters.append(f)
    if ancestor:
        f = pb.Filter()
        f.property_filter.property.name, f.property_filter.op = "__key__", pb.OP.HAS_ANCESTOR
        f.property_filter.value.key_value.CopyFrom(_pb_key(ancestor))
        filters.append(f)
    if len(filters) == 1 and rng.random() < 0.5:
        query.filter.CopyFrom(filters[0])  # ndb sends a single filter bare
    elif filters:
        query.filter.composite_filter.op = pb.AND
        query.filter.composite_filter.filters.extend(filters)
    if order:
        query.order.add(direction=pb.DESCENDING if order[1] else pb.ASCENDING).property.name = order[0]
    if rng.random() < 0.3:
        query.projection.add().property.name = "__key__"
    return query, (kind, ancestor, eqs, order)


def _path_of(result: pb.EntityResult) -> tuple:
    return tuple((e.kind, e.id if e.WhichOneof("id_type") == "id" else e.name) for e in result.entity.key.path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queries_match_the_documented_semantics_and_page_identically(seed: int) -> None:
    rng = random.Random(seed)
    rows = _random_data(rng)
    service = DatastoreService(open_storage(None))
    request = pb.CommitRequest(project_id=PROJECT, mode=pb.NON_TRANSACTIONAL)
    for path, props, excluded in rows:
        e = entity(_pb_key(path), **props)
        for name in excluded:
            e.properties[name].exclude_from_indexes = True
        request.mutations.add().upsert.CopyFrom(e)
    service.commit(request)

    def run(query: pb.Query) -> pb.QueryResultBatch:
        return service.run_query(pb.RunQueryRequest(project_id=PROJECT, query=query)).batch

    nonempty = 0
    for _ in range(120):
        query, spec = _random_query(rng)
        want = _model(rows, *spec)
        batch = run(query)
        assert [_path_of(r) for r in batch.entity_results] == want, (query, spec)
        assert batch.more_results == pb.NO_MORE_RESULTS
        nonempty += bool(want)
        offset, limit = rng.randint(0, 3), rng.randint(1, 4)
        query.offset, query.limit.value = offset, limit
        batch = run(query)
        assert [_path_of(r) for r in batch.entity_results] == want[offset:offset + limit]
        assert batch.skipped_results == min(offset, len(want))
        more = len(want) > offset + limit
        assert batch.more_results == (pb.MORE_RESULTS_AFTER_LIMIT if more else pb.NO_MORE_RESULTS)
        query.offset, paged, cursor = 0, [], b""
        while True:
            query.start_cursor = cursor
            batch = run(query)
            paged += [_path_of(r) for r in batch.entity_results]
            if batch.more_results == pb.NO_MORE_RESULTS:
                break
            cursor = batch.end_cursor
        # A sort on an array property may re-return an entity on a later page (§3.4): keep first sightings.
        assert list(dict.fromkeys(paged)) == want
    assert nonempty > 40  # the random queries are not trivially empty
