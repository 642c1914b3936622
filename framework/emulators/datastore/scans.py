"""Driver scans: the range scans that produce a query's candidates in result order.

E: the entity table (kindless); K: the kind index; Z: a zig-zag merge join of equality index ranges (all
three in key order); S: one property's index, grouped by value and ordered by further sort orders; M:
metadata entities. Each yields Matches whose `pos` is the position a cursor records.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import pb
from .encoding import index_values, value_end
from .errors import invalid
from .query import EQ, OP, RANGE_OPS, Cond, Driver, Plan
from .storage import Record, Storage

_TOP = b"\xff"


@dataclass(slots=True)
class Match:
    """One entity a query matched: its driver position, storage key and (when loaded) record and entity."""

    pos: bytes
    skey: bytes
    record: Record | None
    entity: Any = None
    row_value: bytes | None = None  # the sorted property's value on the S driver
    payload: Any = None  # what a consumer attaches: a projection row's entity, an aggregation's numbers


def _key_range(plan: Plan, served: list[Cond]) -> tuple[bytes, bytes]:
    lo, hi = b"", _TOP
    if plan.ancestor is not None:
        lo, hi = plan.ancestor, plan.ancestor + _TOP
    for c in plan.key_conds:
        v = c.values[0]
        if c.op == EQ:
            bounds = (v, v + b"\x00")
        elif c.op in RANGE_OPS:
            bounds = {
                OP.GREATER_THAN: (v + b"\x00", _TOP), OP.GREATER_THAN_OR_EQUAL: (v, _TOP),
                OP.LESS_THAN: (b"", v), OP.LESS_THAN_OR_EQUAL: (b"", v + b"\x00"),
            }[c.op]
        else:
            continue
        served.append(c)
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return lo, hi


def _value_range(plan: Plan, served: list[Cond]) -> tuple[bytes, bytes]:
    """Index bounds of the sorted property's range filters: a pure scan over the total order, so `p > 5`
    also matches strings and doubles (whether the real service restricts to the type group is
    UNCONFIRMED; the legacy index scanned like this)."""
    lo, hi = b"", _TOP
    for c in plan.conds:
        if c.prop != plan.order_prop or c.op not in RANGE_OPS:
            continue
        v = c.values[0]
        bounds = {
            OP.GREATER_THAN: (v + _TOP, _TOP), OP.GREATER_THAN_OR_EQUAL: (v, _TOP),
            OP.LESS_THAN: (b"", v), OP.LESS_THAN_OR_EQUAL: (b"", v + _TOP),
        }[c.op]
        served.append(c)
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return lo, hi


def bounded(lo: bytes, hi: bytes, start: bytes | None, end: bytes | None, reverse: bool) -> tuple[bytes, bytes]:
    """Narrow [lo, hi) to what lies after the start cursor and up to the end cursor."""
    if start is not None:
        if reverse:
            hi = min(hi, start)
        else:
            lo = max(lo, start + b"\x00")
    if end is not None:
        if reverse:
            lo = max(lo, end)
        else:
            hi = min(hi, end + b"\x00")
    return lo, hi


def _split(pos: bytes, parts: int) -> tuple[list[bytes], bytes]:
    """Cut a sorted-driver position into its `parts` encoded sort values and the path."""
    values, at = [], 0
    try:
        for _ in range(parts):
            end = value_end(pos, at)
            values.append(pos[at:end])
            at = end
    except (ValueError, IndexError):
        raise invalid("Invalid query cursor.") from None
    return values, pos[at:]


def _after(a: tuple[tuple[bytes, ...], bytes], b: tuple[tuple[bytes, ...], bytes], desc: list[bool],
           key_desc: bool) -> bool:
    """Whether (secondary sort values, path) `a` comes after `b` in result order."""
    for x, y, d in zip(a[0], b[0], desc, strict=True):
        if x != y:
            return (x > y) != d
    return a[1] != b[1] and (a[1] > b[1]) != key_desc


@dataclass
class _SortedScan:
    """A sorted-driver scan with further sort orders: its bounds, and the start/end cursor split into
    (first sort value, (further sort values, path)) so a cursor can resume inside a group of equal values."""

    plan: Plan
    storage: Storage
    lo: bytes
    hi: bytes
    first: tuple[bytes, tuple[tuple[bytes, ...], bytes]] | None = None
    last: tuple[bytes, tuple[tuple[bytes, ...], bytes]] | None = None

    def __post_init__(self) -> None:
        self.desc = [d for _, d in self.plan.then_by]
        self.ns_len = len(self.plan.ns)

    def narrow(self, start: bytes | None, end: bytes | None) -> None:
        """Bound the first sort value by the cursors; the rest of each cursor is checked per group."""
        parts = 1 + len(self.plan.then_by)
        descending = self.plan.descending
        if start is not None:
            values, path = _split(start, parts)
            self.first = (values[0], (tuple(values[1:]), path))
            if descending:
                self.hi = min(self.hi, values[0] + _TOP)
            else:
                self.lo = max(self.lo, values[0])
        if end is not None:
            values, path = _split(end, parts)
            self.last = (values[0], (tuple(values[1:]), path))
            if descending:
                self.lo = max(self.lo, values[0])
            else:
                self.hi = min(self.hi, values[0] + _TOP)

    def _rank(self, skey: bytes) -> tuple[tuple[bytes, ...], bytes] | None:
        """(further sort values, path) of an entity; None when it lacks a sorted property."""
        sort_values: list[bytes] = []
        if self.plan.then_by:
            record = self.storage.get(skey)
            indexed = index_values(pb.Entity.FromString(record.data)) if record is not None else {}
            for prop, d in self.plan.then_by:
                found = indexed.get(prop)
                if not found:
                    return None
                sort_values.append(max(found) if d else min(found))
        return tuple(sort_values), skey[self.ns_len:]

    def group(self, value: bytes, skeys: list[bytes]) -> Iterator[tuple[bytes, bytes, bytes]]:
        """The rows of one first-sort value in result order, cut by the cursors."""
        items = [(rank, skey) for skey in skeys if (rank := self._rank(skey)) is not None]
        items.sort(key=lambda item: item[0][1], reverse=self.plan.key_descending)
        for i in range(len(self.desc) - 1, -1, -1):
            items.sort(key=functools.partial(_sort_value, i), reverse=self.desc[i])
        for rank, skey in items:
            key_desc = self.plan.key_descending
            if self.first is not None and value == self.first[0] and not _after(rank, self.first[1], self.desc, key_desc):
                continue
            if self.last is not None and value == self.last[0] and _after(rank, self.last[1], self.desc, key_desc):
                return
            yield value, value + b"".join(rank[0]) + rank[1], skey


def _sort_value(i: int, item: tuple[tuple[tuple[bytes, ...], bytes], bytes]) -> bytes:
    return item[0][0][i]


def _sorted_rows(
    storage: Storage, plan: Plan, base: bytes, bounds: tuple[bytes, bytes], start: bytes | None, end: bytes | None,
) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(value, position, storage key) of the first sort property's index rows, in full result order.

    Rows are read in groups of equal first values (backwards for a descending sort); a group is ordered by
    the further sort orders (from the entities) and then by key ascending. Positions are the first value,
    the further sort values and the path, so cursors resume inside a group.
    """
    ns_len = len(plan.ns)
    if not plan.descending and not plan.then_by and not plan.key_descending:
        lo, hi = bounded(*bounds, start, end, False)
        for row, skey in storage.scan_index(base + lo, base + hi):
            pos = row[len(base):]
            yield pos[: len(pos) - (len(skey) - ns_len)], pos, skey
        return
    scan = _SortedScan(plan, storage, *bounds)
    scan.narrow(start, end)
    group: list[bytes] = []
    current = b""
    for row, skey in storage.scan_index(base + scan.lo, base + scan.hi, plan.descending):
        pos = row[len(base):]
        value = pos[: len(pos) - (len(skey) - ns_len)]
        if group and value != current:
            yield from scan.group(current, group)
            group = []
        current = value
        group.append(skey)
    if group:
        yield from scan.group(current, group)


def _zigzag(storage: Storage, prefixes: list[bytes], lo: bytes, hi: bytes, reverse: bool) -> Iterator[bytes]:
    """Paths present in every index range `prefix + path`, merged by seeking (a zig-zag merge join)."""
    n = len(prefixes)
    if n == 1:
        p = prefixes[0]
        for row, _ in storage.scan_index(p + lo, p + hi, reverse):
            yield row[len(p):]
        return
    bound = hi if reverse else lo
    cand: bytes | None = None
    agreed, i = 0, 0
    while True:
        p = prefixes[i % n]
        i += 1
        scan = storage.scan_index(p + lo, p + bound, True) if reverse else storage.scan_index(p + bound, p + hi)
        found = next(scan, None)
        if found is None:
            return
        path = found[0][len(p):]
        if path == cand:
            agreed += 1
        else:
            cand, agreed = path, 1
        bound = path + b"\x00" if reverse else path
        if agreed == n:
            yield path
            bound = path if reverse else path + b"\x00"
            cand, agreed = None, 0


def driver_ranges(plan: Plan) -> tuple[tuple[bytes, bytes], list[Cond]]:
    """The driver's bounds (before cursors) and the conditions its scan guarantees; kept on the plan (read-only)."""
    found = plan.memo.get("ranges")
    if found is None:
        served: list[Cond] = []
        if plan.driver == Driver.SORTED:
            bounds = _value_range(plan, served)
        else:
            bounds = _key_range(plan, served)
            if plan.driver == Driver.ZIGZAG:
                served.extend(c for c in plan.conds if c.op == EQ)
        found = plan.memo["ranges"] = (bounds, served)
    return found


def driver_scan(storage: Storage, plan: Plan, start: bytes | None, end: bytes | None) -> tuple[Iterator[Match], list[Cond]]:
    """The driver's candidates in result order, and the conditions the scan already guarantees (not to be changed)."""
    bounds, served = driver_ranges(plan)
    rev = plan.descending
    ns = plan.ns
    if plan.driver == Driver.SORTED:
        base = plan.property_prefix(plan.order_prop or "")
        rows = _sorted_rows(storage, plan, base, bounds, start, end)

        def gen_s() -> Iterator[Match]:
            seen: set[bytes] = set()
            projecting = bool(plan.projection)
            for value, pos, skey in rows:
                if not projecting:
                    if skey in seen:
                        continue
                    seen.add(skey)
                yield Match(pos, skey, None, row_value=value)

        return gen_s(), served
    lo, hi = bounded(*bounds, start, end, rev)
    if plan.driver == Driver.METADATA:
        from .metadata import metadata_rows

        meta = metadata_rows(storage, plan.kind or "", plan.partition, ns)
        return (Match(pos, skey, record) for pos, skey, record in meta if lo <= pos < hi), served
    if plan.driver == Driver.ENTITIES:
        return (Match(k[len(ns):], k, r) for k, r in storage.scan_entities(ns + lo, ns + hi, rev)), served
    if plan.driver == Driver.KIND:
        base = b"K" + plan.kind_prefix()
        return (Match(row[len(base):], skey, None) for row, skey in storage.scan_index(base + lo, base + hi, rev)), served
    prefixes = plan.eq_prefixes
    if len(prefixes) == 1:  # one equality: its index range is the answer (rows point at their entity's key)
        p = prefixes[0]
        cut = len(p)
        return (Match(row[cut:], skey, None) for row, skey in storage.scan_index(p + lo, p + hi, rev)), served
    return (Match(path, ns + path, None) for path in _zigzag(storage, prefixes, lo, hi, rev)), served


