"""Query execution: driver range scans, per-entity conditions, batches, offsets, limits and cursors.

A cursor is b"\\x01" + driver tag + (b"\\x00" for "before everything" | b"\\x01" + position), where the
position is the driver's scan key of a result relative to the driver's prefix; resuming is a range scan
strictly after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import pb
from .encoding import decode_path, encode_value, index_values, value_end
from .errors import invalid
from .query import EQ, IN, NE, NOT_IN, OP, RANGE_OPS, Cond, Plan
from .storage import Record, Storage

BATCH_SIZE = 1000
_TOP = b"\xff"


@dataclass
class Match:
    """One entity a query matched: its driver position, storage key and (when loaded) record and entity."""

    pos: bytes
    skey: bytes
    record: Record | None
    entity: Any = None
    row_value: bytes | None = None  # the sorted property's value on the S driver


def encode_cursor(tag: str, pos: bytes | None) -> bytes:
    return b"\x01" + tag.encode() + (b"\x00" if pos is None else b"\x01" + pos)


def decode_cursor(tag: str, cursor: bytes) -> bytes | None:
    """The position in a cursor made for a query with this driver; INVALID_ARGUMENT otherwise."""
    if len(cursor) < 3 or cursor[:1] != b"\x01" or cursor[1:2] != tag.encode() or cursor[2] not in (0, 1):
        raise invalid("Invalid query cursor.")
    return None if cursor[2] == 0 else cursor[3:]


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


def _bounded(lo: bytes, hi: bytes, start: bytes | None, end: bytes | None, reverse: bool) -> tuple[bytes, bytes]:
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


def _after(a: tuple[tuple[bytes, ...], bytes], b: tuple[tuple[bytes, ...], bytes], desc: list[bool]) -> bool:
    """Whether (secondary sort values, path) `a` comes after `b` in result order."""
    for x, y, d in zip(a[0], b[0], desc, strict=True):
        if x != y:
            return (x > y) != d
    return a[1] > b[1]


def _sorted_rows(
    storage: Storage, plan: Plan, base: bytes, bounds: tuple[bytes, bytes], start: bytes | None, end: bytes | None,
) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(value, position, storage key) of the first sort property's index rows, in full result order.

    Rows are read in groups of equal first values (backwards for a descending sort); a group is ordered by
    the further sort orders (from the entities) and then by key ascending. Positions are the first value,
    the further sort values and the path, so cursors resume inside a group.
    """
    ns_len = len(plan.ns)
    lo, hi = bounds
    if not plan.descending and not plan.then_by:
        lo, hi = _bounded(lo, hi, start, end, False)
        for row, skey in storage.scan_index(base + lo, base + hi):
            pos = row[len(base):]
            yield pos[: len(pos) - (len(skey) - ns_len)], pos, skey
        return
    parts = 1 + len(plan.then_by)
    desc = [d for _, d in plan.then_by]
    first = last = None
    if start is not None:
        values, path = _split(start, parts)
        first = (values[0], (tuple(values[1:]), path))
        lo, hi = (lo, min(hi, values[0] + _TOP)) if plan.descending else (max(lo, values[0]), hi)
    if end is not None:
        values, path = _split(end, parts)
        last = (values[0], (tuple(values[1:]), path))
        lo, hi = (max(lo, values[0]), hi) if plan.descending else (lo, min(hi, values[0] + _TOP))

    def group_order(value: bytes, skeys: list[bytes]) -> Iterator[tuple[bytes, bytes, bytes]]:
        items = []
        for skey in skeys:
            sort_values: list[bytes] = []
            if plan.then_by:
                record = storage.get(skey)
                indexed = index_values(pb.Entity.FromString(record.data)) if record is not None else {}
                for prop, d in plan.then_by:
                    found = indexed.get(prop)
                    if not found:
                        break
                    sort_values.append(max(found) if d else min(found))
                else:
                    items.append(((tuple(sort_values), skey[ns_len:]), skey))
            else:
                items.append(((tuple(sort_values), skey[ns_len:]), skey))
        items.sort(key=lambda item: item[0][1])
        for i in range(len(desc) - 1, -1, -1):
            items.sort(key=lambda item, i=i: item[0][0][i], reverse=desc[i])
        for rank, skey in items:
            if first is not None and value == first[0] and not _after(rank, first[1], desc):
                continue
            if last is not None and value == last[0] and _after(rank, last[1], desc):
                return
            yield value, value + b"".join(rank[0]) + rank[1], skey

    group: list[bytes] = []
    current = None
    for row, skey in storage.scan_index(base + lo, base + hi, plan.descending):
        pos = row[len(base):]
        value = pos[: len(pos) - (len(skey) - ns_len)]
        if group and value != current:
            yield from group_order(current, group)
            group = []
        current = value
        group.append(skey)
    if group:
        yield from group_order(current, group)


def _zigzag(storage: Storage, prefixes: list[bytes], lo: bytes, hi: bytes, reverse: bool) -> Iterator[bytes]:
    """Paths present in every index range `prefix + path`, merged by seeking (a zig-zag merge join)."""
    n = len(prefixes)
    bound = hi if reverse else lo
    cand, agreed, i = None, 0, 0
    while True:
        p = prefixes[i % n]
        i += 1
        scan = storage.scan_index(p + lo, p + bound, True) if reverse else storage.scan_index(p + bound, p + hi)
        row = next(scan, None)
        if row is None:
            return
        path = row[0][len(p):]
        if path == cand:
            agreed += 1
        else:
            cand, agreed = path, 1
        bound = path + b"\x00" if reverse else path
        if agreed == n:
            yield path
            bound = path if reverse else path + b"\x00"
            cand, agreed = None, 0


def driver_scan(storage: Storage, plan: Plan, start: bytes | None, end: bytes | None) -> tuple[Iterator[Match], list[Cond]]:
    """The driver's candidates in result order, and the conditions the scan already guarantees."""
    served: list[Cond] = []
    rev = plan.descending
    ns = plan.ns
    if plan.driver == "S":
        base = plan.property_prefix(plan.order_prop or "")
        rows = _sorted_rows(storage, plan, base, _value_range(plan, served), start, end)

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
    lo, hi = _bounded(*_key_range(plan, served), start, end, rev)
    if plan.driver == "M":
        from .metadata import metadata_rows

        rows = metadata_rows(storage, plan.kind or "", plan.partition)
        return (Match(pos, skey, record) for pos, skey, record in rows if lo <= pos < hi), served
    if plan.driver == "E":
        return (Match(k[len(ns):], k, r) for k, r in storage.scan_entities(ns + lo, ns + hi, rev)), served
    if plan.driver == "K":
        base = b"K" + plan.kind_prefix()
        return (Match(row[len(base):], skey, None) for row, skey in storage.scan_index(base + lo, base + hi, rev)), served
    eq_conds = [c for c in plan.conds if c.op == EQ]
    served.extend(eq_conds)
    prefixes = [plan.property_prefix(prop) + value for prop, value in plan.eq]
    return (Match(path, ns + path, None) for path in _zigzag(storage, prefixes, lo, hi, rev)), served


def _satisfies(values: set[bytes], conds: list[Cond]) -> bool:
    ranges = []
    for c in conds:
        if c.op == EQ:
            if c.values[0] not in values:
                return False
        elif c.op == IN:
            if not values.intersection(c.values):
                return False
        elif c.op in (NE, NOT_IN):
            if not values.difference(c.values):
                return False
        else:
            ranges.append(c)
    return not ranges or any(all(_in_range(v, c) for c in ranges) for v in values)


def _in_range(v: bytes, c: Cond) -> bool:
    w = c.values[0]
    return {
        OP.LESS_THAN: v < w, OP.LESS_THAN_OR_EQUAL: v <= w, OP.GREATER_THAN: v > w, OP.GREATER_THAN_OR_EQUAL: v >= w,
    }[c.op]


def _conjunction(values: dict[str, set[bytes]], path: bytes, conds: list[Cond], key_conds: list[Cond]) -> bool:
    if key_conds and not _satisfies({path}, key_conds):
        return False
    by_prop: dict[str, list[Cond]] = {}
    for c in conds:
        by_prop.setdefault(c.prop, []).append(c)
    return all(prop in values and _satisfies(values[prop], cs) for prop, cs in by_prop.items())


def check_entity(plan: Plan, match: Match, conds: list[Cond], key_conds: list[Cond]) -> bool:
    """Whether the entity satisfies the conditions the driver did not already guarantee."""
    path = match.skey[len(plan.ns):]
    if plan.driver == "S" and plan.ancestor is not None and not path.startswith(plan.ancestor):
        return False
    values = index_values(match.entity) if conds or plan.branches else {}
    if not _conjunction(values, path, conds, key_conds):
        return False
    return not plan.branches or any(_conjunction(values, path, c, k) for c, k in plan.branches)


def matches(storage: Storage, plan: Plan, start: bytes | None, end: bytes | None) -> Iterator[Match]:
    """Every matching entity from the start position on, in result order."""
    scan, served = driver_scan(storage, plan, start, end)
    conds = [c for c in plan.conds if c not in served]
    key_conds = [c for c in plan.key_conds if c not in served]
    need_entity = bool(conds) or bool(plan.branches) or plan.result_type == pb.PROJECTION
    need_check = need_entity or bool(key_conds) or (plan.driver == "S" and plan.ancestor is not None)
    need_record = need_check or plan.result_type != pb.KEY_ONLY
    for m in scan:
        if need_record:
            if m.record is None:
                m.record = storage.get(m.skey)  # metadata rows carry their own synthetic record
                if m.record is None:
                    continue
            if need_entity:
                m.entity = pb.Entity.FromString(m.record.data)
            if need_check and not check_entity(plan, m, conds, key_conds):
                continue
        yield m


def key_of(plan: Plan, skey: bytes) -> Any:
    """The Key of a stored entity, rebuilt from its storage key."""
    key = pb.Key()
    key.partition_id.CopyFrom(plan.partition)
    for kind, id_, name in decode_path(skey, len(plan.ns)):
        element = key.path.add(kind=kind)
        if id_ is not None:
            element.id = id_
        elif name is not None:
            element.name = name
    return key


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
                ts = value.timestamp_value
                out.integer_value = ts.seconds * 1_000_000 + ts.nanos // 1000
            else:
                out.CopyFrom(value)
                out.ClearField("exclude_from_indexes")
        rows.append((tuple(e for e, _ in combo), entity))
    return rows


def _timestamp(micros: int, out: Any) -> None:
    out.seconds, rem = divmod(micros, 1_000_000)
    out.nanos = rem * 1000


def set_times(result: Any, record: Record) -> None:
    """Version, create and update time of an EntityResult."""
    result.version = record.version
    _timestamp(record.create_us, result.create_time)
    _timestamp(record.update_us, result.update_time)


def query_bounds(query: Any) -> tuple[int, int | None]:
    """Offset and limit (None = no limit) of a query, checked."""
    limit = query.limit.value if query.HasField("limit") else None
    if query.offset < 0 or (limit is not None and limit < 0):
        raise invalid("A query offset and limit must not be negative.")
    return query.offset, limit


def results(storage: Storage, plan: Plan, query: Any) -> Iterator[tuple[Match, Any]]:
    """(match, projection entity or None) pairs after cursors and distinct_on, before offset/limit."""
    start = decode_cursor(plan.driver, query.start_cursor) if query.start_cursor else None
    end = decode_cursor(plan.driver, query.end_cursor) if query.end_cursor else None
    seen: set[tuple[bytes, ...]] = set()
    dedupe: set[tuple[bytes, tuple[bytes, ...]]] = set()
    distinct_idx = [plan.projection.index(p) for p in plan.distinct_on if p in plan.projection]
    for m in matches(storage, plan, start, end):
        if not plan.projection:
            yield m, None
            continue
        for values, entity in projection_rows(plan, m):
            if (m.skey, values) in dedupe:
                continue
            dedupe.add((m.skey, values))
            if distinct_idx:
                group = tuple(values[i] for i in distinct_idx)
                if group in seen:
                    continue
                seen.add(group)
            yield m, entity


def run_batch(storage: Storage, plan: Plan, query: Any, on_read: Any = None, batch_size: int = BATCH_SIZE) -> Any:
    """One QueryResultBatch: skip `offset`, return up to `limit` (and at most `batch_size`) results."""
    offset, limit = query_bounds(query)
    start = decode_cursor(plan.driver, query.start_cursor) if query.start_cursor else None
    end_given = bool(query.end_cursor)
    batch = pb.QueryResultBatch(entity_result_type=plan.result_type)
    last, skipped, count, more = start, 0, 0, None
    tag = plan.driver
    for m, projected in results(storage, plan, query):
        if skipped < offset:
            skipped += 1
            last = m.pos
            batch.skipped_cursor = encode_cursor(tag, last)
            continue
        if limit is not None and count >= limit:
            more = pb.MORE_RESULTS_AFTER_LIMIT
            break
        if count >= batch_size:
            more = pb.NOT_FINISHED
            break
        er = batch.entity_results.add()
        if plan.result_type == pb.KEY_ONLY:
            er.entity.key.CopyFrom(m.entity.key if m.entity is not None else key_of(plan, m.skey))
        elif projected is not None:
            er.entity.CopyFrom(projected)
        else:
            er.entity.ParseFromString(m.record.data)
        if m.record is not None and plan.result_type != pb.KEY_ONLY:
            set_times(er, m.record)
        if on_read is not None:
            on_read(m.skey, m.record)
        count += 1
        last = m.pos
        er.cursor = encode_cursor(tag, last)
    if more is None:
        more = pb.MORE_RESULTS_AFTER_CURSOR if end_given else pb.NO_MORE_RESULTS
    batch.skipped_results = skipped
    batch.end_cursor = encode_cursor(tag, last)
    batch.more_results = more
    batch.snapshot_version = storage.last_version()
    return batch
