"""sum/avg over infinities, NaN and overflowing doubles answer as IEEE arithmetic does; metadata kinds get a
client error. Never INTERNAL. The session emulator, through google-cloud-datastore."""

from __future__ import annotations

import math

import pytest
from google.api_core import exceptions

INF = math.inf


def _aggregate(client, kind: str, op: str, prop: str = "v") -> float | int | None:  # type: ignore[no-untyped-def]
    query = client.aggregation_query(client.query(kind=kind))
    if op == "count":
        query.count(alias="r")
    else:
        getattr(query, op)(prop, alias="r")
    results = list(query.fetch(retry=None, timeout=30))
    return {r.alias: r.value for r in results[0]}["r"]


@pytest.fixture
def client(clean_datastore):  # type: ignore[no-untyped-def]
    from google.cloud import datastore

    return datastore.Client(project=clean_datastore.project)


def _store(client, kind: str, *values: float | int) -> None:  # type: ignore[no-untyped-def]
    from google.cloud import datastore

    entities = []
    for i, value in enumerate(values):
        entity = datastore.Entity(client.key(kind, i + 1))
        entity["v"] = value
        entities.append(entity)
    client.put_multi(entities)


@pytest.mark.parametrize(("values", "total", "mean"), [
    ((INF, -INF), math.nan, math.nan),
    ((1e308, 1e308), INF, INF),
    ((-1e308, -1e308, 5), -INF, -INF),
    ((INF, INF, 1), INF, INF),
    ((math.nan, 1.0), math.nan, math.nan),
    ((0.1, 0.2, 0.3), 0.6, 0.2),  # finite sums stay exactly rounded
])
def test_sum_and_avg_follow_ieee(client, values, total, mean) -> None:  # type: ignore[no-untyped-def]
    _store(client, "Num", *values)
    for op, expected in (("sum", total), ("avg", mean)):
        got = _aggregate(client, "Num", op)
        assert isinstance(got, float), (op, got)
        if math.isnan(expected):
            assert math.isnan(got), (op, values, got)
        else:
            assert got == pytest.approx(expected) if math.isfinite(expected) else got == expected, (op, values, got)


@pytest.mark.parametrize("kind", ["__kind__", "__property__", "__namespace__"])
@pytest.mark.parametrize("op", ["sum", "avg"])
def test_sum_and_avg_on_metadata_kinds_are_client_errors(client, kind: str, op: str) -> None:  # type: ignore[no-untyped-def]
    _store(client, "Num", 1, 2)
    with pytest.raises(exceptions.InvalidArgument, match="metadata kind"):
        _aggregate(client, kind, op)
    assert _aggregate(client, kind, "count") >= 1  # counting metadata entities still works
