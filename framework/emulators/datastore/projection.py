"""Projection results: one entity per combination of the projected properties' indexed values."""

from __future__ import annotations

import itertools
from typing import Any

from . import pb
from .encoding import encode_value, timestamp_micros
from .query import Plan
from .scans import Match


def _projected_values(entity: Any, name: str) -> list[tuple[bytes, Any]]:
    """Indexed values of a property (top-level or dotted path), de-duplicated, as (encoding, Value)."""
    found: dict[bytes, Any] = {}

    def walk(props: Any, parts: list[str], excluded: bool) -> None:
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head not in props:
                continue
            value = props[head]
            items = value.array_value.values if value.WhichOneof("value_type") == "array_value" else (value,)
            for item in items:
                if item.exclude_from_indexes or excluded:
                    continue
                if i < len(parts):
                    if item.WhichOneof("value_type") == "entity_value":
                        walk(item.entity_value.properties, parts[i:], False)
                    continue
                enc = encode_value(item)
                if enc is not None:
                    found.setdefault(enc, item)

    walk(entity.properties, name.split("."), False)
    return sorted(found.items())


def projection_rows(plan: Plan, m: Match) -> list[tuple[tuple[bytes, ...], Any]]:
    """The projection results of one match: one per combination of projected values."""
    columns = []
    for name in plan.projection:
        values = _projected_values(m.entity, name)
        if name == plan.order_prop and m.row_value is not None:
            values = [(e, v) for e, v in values if e == m.row_value]
        if not values:
            return []
        columns.append(values)
    rows = []
    for combo in itertools.product(*columns):
        entity = pb.Entity()
        entity.key.CopyFrom(m.entity.key)
        for name, (_, value) in zip(plan.projection, combo, strict=True):
            out = entity.properties[name]
            if value.WhichOneof("value_type") == "timestamp_value":
                out.integer_value = timestamp_micros(value.timestamp_value)
            else:
                out.CopyFrom(value)
                out.ClearField("exclude_from_indexes")
        rows.append((tuple(e for e, _ in combo), entity))
    return rows
