"""RunAggregationQuery: count, sum and avg over the results of a nested query."""

from __future__ import annotations

import math
from typing import Any

from . import pb
from .errors import invalid
from .executor import query_bounds, results
from .query import plan_query
from .storage import Storage

MAX_AGGREGATIONS = 5


def _aliases(aggregations: Any) -> list[str]:
    names, n = [], 0
    for agg in aggregations:
        if agg.alias:
            names.append(agg.alias)
        else:
            n += 1
            names.append(f"property_{n}")
    if len(set(names)) != len(names):
        raise invalid("Aggregation aliases must be unique.")
    return names


def _number(entity: Any, name: str) -> float | int | None:
    value = entity.properties.get(name)
    if value is None:
        return None
    which = value.WhichOneof("value_type")
    if which == "integer_value":
        return value.integer_value
    if which == "double_value":
        return value.double_value
    return None


def run_aggregation(storage: Storage, aggregation_query: Any, partition: Any, batch: Any) -> None:
    """Fill `batch` (an AggregationResultBatch) with the one result of the aggregation query."""
    aggs = aggregation_query.aggregations
    if not 1 <= len(aggs) <= MAX_AGGREGATIONS:
        raise invalid(f"An aggregation query needs between 1 and {MAX_AGGREGATIONS} aggregations.")
    aliases = _aliases(aggs)
    query = aggregation_query.nested_query
    plan = plan_query(query, partition)
    ops = [a.WhichOneof("operator") for a in aggs]
    if None in ops:
        raise invalid("Every aggregation needs an operator: count, sum or avg.")
    props = [getattr(a, op).property.name for a, op in zip(aggs, ops, strict=True) if op != "count"]
    if "" in props:
        raise invalid("A sum or avg aggregation must name a property.")
    if props and plan.keys_only:
        raise invalid("Only projected properties can be aggregated.")
    if not props and not plan.projection:
        plan.keys_only = True  # counting needs no entity: the index rows the driver scans are enough
    up_tos = [a.count.up_to.value for a, op in zip(aggs, ops, strict=True) if op == "count" and a.count.HasField("up_to")]
    if any(n < 0 for n in up_tos):
        raise invalid("count up_to must not be negative.")
    offset, limit = query_bounds(query)  # the nested offset is honoured (count with offset: UNCONFIRMED)
    if not props and len(up_tos) == len(aggs):  # only bounded counts: stop scanning at the largest bound
        limit = max(up_tos) if limit is None else min(limit, max(up_tos))
    taken = 0
    count = 0
    sums: dict[str, list[float | int]] = {p: [] for p in props}
    for i, (m, _) in enumerate(results(storage, plan, query)):
        if i < offset:
            continue
        if limit is not None and taken >= limit:
            break
        taken += 1
        if props:
            entity = m.entity if m.entity is not None else pb.Entity.FromString(storage.get(m.skey).data)
            numbers = {p: _number(entity, p) for p in props}
            if any(entity.properties.get(p) is None for p in props):
                continue
            for p, number in numbers.items():
                if number is not None:
                    sums[p].append(number)
        count += 1
    result = batch.aggregation_results.add()
    for alias, agg, op in zip(aliases, aggs, ops, strict=True):
        out = result.aggregate_properties[alias]
        if op == "count":
            up_to = agg.count.up_to.value if agg.count.HasField("up_to") else None
            out.integer_value = count if up_to is None else min(count, up_to)
            continue
        values = sums[getattr(agg, op).property.name]
        if op == "avg":
            if values:
                out.double_value = math.fsum(values) / len(values)
            else:
                out.null_value = 0
        elif values and all(isinstance(v, int) for v in values) and -(2**63) <= sum(values) < 2**63:
            out.integer_value = sum(values)
        elif values:
            out.double_value = math.fsum(values)
        else:
            out.integer_value = 0
