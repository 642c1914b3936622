"""RunAggregationQuery: count, sum and avg over the results of a nested query."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import pb
from .cursors import Window
from .errors import invalid
from .executor import UNBOUNDED, Pager, results
from .metadata import KINDS as METADATA_KINDS
from .query import Plan, plan_query
from .scans import Match
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


def _float_sum(values: list[float | int]) -> float:
    """The sum as a double: exactly rounded (fsum) where finite, else as IEEE addition gives it
    (inf + -inf = NaN, 1e308 + 1e308 = inf), where fsum raises instead."""
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return float(sum(float(v) for v in values))


@dataclass
class Aggregations:
    """A checked aggregation query: its plan and window, and per aggregation its alias, operator, property."""

    plan: Plan
    window: Window
    aliases: list[str]
    ops: list[str]
    props: list[str]  # the properties of the sum and avg aggregations
    aggs: Any


def plan_aggregation(aggregation_query: Any, partition: Any) -> Aggregations:
    """Validate the aggregations and plan the nested query (a count-only query scans index rows only)."""
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
    if props and plan.kind in METADATA_KINDS:
        # Metadata entities have no aggregatable properties. Production's answer is UNCONFIRMED; the safe
        # choice is a client error naming the kind rather than a silent 0/null.
        raise invalid(f"sum and avg aggregations are not supported on the metadata kind {plan.kind}.")
    if not props and not plan.projection:
        plan.keys_only = True  # counting needs no entity: the index rows the driver scans are enough
    up_tos = [a.count.up_to.value for a, op in zip(aggs, ops, strict=True) if op == "count" and a.count.HasField("up_to")]
    if any(n < 0 for n in up_tos):
        raise invalid("count up_to must not be negative.")
    window = Window.of(plan, query)  # the nested offset is honoured (count with offset: UNCONFIRMED)
    if not props and len(up_tos) == len(aggs):  # only bounded counts: stop scanning at the largest bound
        limit = max(up_tos) if window.limit is None else min(window.limit, max(up_tos))
        window = window._replace(limit=limit)
    return Aggregations(plan, window, aliases, ops, props, aggs)


def _having(storage: Storage, found: Iterator[Match], props: list[str]) -> Iterator[Match]:
    """Every result that has all the aggregated properties, their numbers as its `payload`.

    The aggregated properties act as filters (entities lacking one are left out, as the docs describe), so
    they apply before the nested query's offset and limit.
    """
    for m in found:
        if not props:
            m.payload = {}
            yield m
            continue
        entity = m.entity
        if entity is None:
            record = storage.get(m.skey)
            if record is None:
                continue
            entity = pb.Entity.FromString(record.data)
        if all(entity.properties.get(p) is not None for p in props):
            m.payload = {p: _number(entity, p) for p in props}
            yield m


def _fill(result: Any, spec: Aggregations, count: int, sums: dict[str, list[float | int]]) -> None:
    for alias, agg, op in zip(spec.aliases, spec.aggs, spec.ops, strict=True):
        out = result.aggregate_properties[alias]
        if op == "count":
            up_to = agg.count.up_to.value if agg.count.HasField("up_to") else None
            out.integer_value = count if up_to is None else min(count, up_to)
            continue
        values = sums[getattr(agg, op).property.name]
        if op == "avg":
            if values:
                out.double_value = _float_sum(values) / len(values)
            else:
                out.null_value = 0
        elif values and all(isinstance(v, int) for v in values) and -(2**63) <= sum(values) < 2**63:
            out.integer_value = sum(values)
        elif values:
            out.double_value = _float_sum(values)
        else:
            out.integer_value = 0


def run_aggregation(storage: Storage, spec: Aggregations, batch: Any) -> None:
    """Fill `batch` (an AggregationResultBatch) with the one result of a planned aggregation query."""
    sums: dict[str, list[float | int]] = {p: [] for p in spec.props}
    pager = Pager(spec.window, UNBOUNDED)
    found = _having(storage, results(storage, spec.plan, spec.window), spec.props)
    for m in pager.take(found):
        for p, number in m.payload.items():
            if number is not None:
                sums[p].append(number)
    _fill(batch.aggregation_results.add(), spec, pager.taken, sums)
