"""Aggregations over the first N results: count, sum and avg honour the nested query's limit, offset, filters,
orders and cursors (the reference is the same query run with RunQuery)."""

from __future__ import annotations

import pytest

from framework.emulators.datastore import pb

from .conftest import build_query, commit, entity, key, prop_filter

pytestmark = pytest.mark.slow


@pytest.fixture
def numbers(raw):
    """26 entities n = 0..25 (w = n * 10); every third one has no `w`."""
    rows = []
    for i in range(26):
        props = {"n": i, "odd": i % 2 == 1}
        if i % 3:
            props["w"] = i * 10
        rows.append(("upsert", entity(key("Num", i + 1), **props)))
    commit(raw, *rows)


def aggregate(raw, query, *specs):
    """Run count/sum/avg specs ((op, property or None, alias)) over `query`; the result as a dict."""
    req = pb.RunAggregationQueryRequest()
    req.aggregation_query.nested_query.CopyFrom(query)
    for op, prop, alias in specs:
        agg = req.aggregation_query.aggregations.add(alias=alias)
        if op == "count":
            agg.count.SetInParent()
        else:
            getattr(agg, op).property.name = prop
    batch = raw("RunAggregationQuery", req).batch
    assert batch.more_results == pb.NO_MORE_RESULTS and len(batch.aggregation_results) == 1
    values = batch.aggregation_results[0].aggregate_properties
    return {k: getattr(v, v.WhichOneof("value_type")) for k, v in values.items()}


def ns_of(raw, query):
    batch = raw("RunQuery", pb.RunQueryRequest(query=query)).batch
    return [r.entity.properties["n"].integer_value for r in batch.entity_results]


ALL = (("count", None, "c"), ("sum", "n", "s"), ("avg", "n", "a"))


def test_limit_caps_count_sum_and_avg(raw, numbers):
    q = build_query(kind="Num", limit=9)
    assert aggregate(raw, q, *ALL) == {"c": 9, "s": sum(range(9)), "a": sum(range(9)) / 9}


def test_limit_with_filter_order_and_offset(raw, numbers):
    q = build_query(prop_filter("n", pb.OP.GREATER_THAN_OR_EQUAL, 5), kind="Num", order="n", desc=True, limit=4)
    q.offset = 2
    expected = ns_of(raw, q)
    assert expected == [23, 22, 21, 20]
    assert aggregate(raw, q, *ALL) == {"c": 4, "s": sum(expected), "a": sum(expected) / 4}
    q = build_query(prop_filter("odd", pb.OP.EQUAL, True), kind="Num", limit=3)
    assert aggregate(raw, q, *ALL) == {"c": 3, "s": 1 + 3 + 5, "a": 3.0}


def test_cursors_bound_the_aggregated_results(raw, numbers):
    first = raw("RunQuery", pb.RunQueryRequest(query=build_query(kind="Num", order="n", limit=10))).batch
    q = build_query(kind="Num", order="n", limit=5)
    q.start_cursor = first.end_cursor  # after n = 9
    assert aggregate(raw, q, *ALL) == {"c": 5, "s": 10 + 11 + 12 + 13 + 14, "a": 12.0}
    q = build_query(kind="Num", order="n")
    q.start_cursor = first.entity_results[1].cursor  # after n = 1
    q.end_cursor = first.end_cursor  # up to n = 9
    assert aggregate(raw, q, *ALL) == {"c": 8, "s": sum(range(2, 10)), "a": sum(range(2, 10)) / 8}


def test_entities_lacking_an_aggregated_property_do_not_use_up_the_limit(raw, numbers):
    q = build_query(kind="Num", order="n", limit=4)
    with_w = [i for i in range(26) if i % 3][:4]  # 1, 2, 4, 5: the aggregated property acts as a filter
    result = aggregate(raw, q, ("count", None, "c"), ("sum", "w", "s"), ("avg", "w", "a"))
    assert result == {"c": 4, "s": sum(i * 10 for i in with_w), "a": sum(i * 10 for i in with_w) / 4}
    assert aggregate(raw, q, ("count", None, "c")) == {"c": 4}


def test_count_up_to_and_limit_together(raw, numbers):
    q = build_query(kind="Num", limit=7)
    req_specs = (("count", None, "c"),)
    assert aggregate(raw, q, *req_specs) == {"c": 7}
    req = pb.RunAggregationQueryRequest()
    req.aggregation_query.nested_query.CopyFrom(q)
    agg = req.aggregation_query.aggregations.add(alias="c")
    agg.count.up_to.value = 3
    assert raw("RunAggregationQuery", req).batch.aggregation_results[0].aggregate_properties["c"].integer_value == 3


def test_datastore_client_aggregations_with_limit(ds_client, numbers):
    from google.cloud import datastore

    query = ds_client.query(kind="Num")
    agg = ds_client.aggregation_query(query).count(alias="c").sum("n", alias="s").avg("n", alias="a")
    result = {r.alias: r.value for r in list(agg.fetch(limit=9))[0]}
    assert result == {"c": 9, "s": 36, "a": 4.0}
    query = ds_client.query(kind="Num", order=["-n"])
    query.add_filter(filter=datastore.query.PropertyFilter("odd", "=", False))
    agg = ds_client.aggregation_query(query).sum("n", alias="s").count(alias="c")
    result = {r.alias: r.value for r in list(agg.fetch(limit=3))[0]}
    assert result == {"s": 24 + 22 + 20, "c": 3}
