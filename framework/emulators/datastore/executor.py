"""Query execution: per-entity conditions, offsets, limits, batches and cursors over a driver scan.

A cursor is b"\\x01" + driver tag + (b"\\x00" for "before everything" | b"\\x01" + position), where the
position is the driver's scan key of a result relative to the driver's prefix; resuming is a range scan
strictly after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import pb
from .encoding import decode_path, index_values
from .errors import invalid
from .projection import projection_rows
from .query import EQ, IN, NE, NOT_IN, OP, Cond, Plan
from .scans import Match, driver_scan
from .storage import Record, Storage

BATCH_SIZE = 1000


def encode_cursor(tag: str, pos: bytes | None) -> bytes:
    return b"\x01" + tag.encode() + (b"\x00" if pos is None else b"\x01" + pos)


def decode_cursor(tag: str, cursor: bytes) -> bytes | None:
    """The position in a cursor made for a query with this driver; INVALID_ARGUMENT otherwise."""
    if len(cursor) < 3 or cursor[:1] != b"\x01" or cursor[1:2] != tag.encode() or cursor[2] not in (0, 1):
        raise invalid("Invalid query cursor.")
    return None if cursor[2] == 0 else cursor[3:]


def _satisfies(values: set[bytes], conds: list[Cond]) -> bool:
    ranges = []
    for c in conds:
        if c.op == EQ:
            if c.values[0] not in values:
                return False
        elif c.op == IN:
            if not values.intersection(c.values):
                return False
        elif c.op in (NE, NOT_IN):  # arrays: some element is not excluded (index semantics; UNCONFIRMED)
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


def timestamp(micros: int, out: Any) -> None:
    """Set a protobuf Timestamp from microseconds since the epoch."""
    out.seconds, rem = divmod(micros, 1_000_000)
    out.nanos = rem * 1000


def set_times(result: Any, record: Record) -> None:
    """Version, create and update time of an EntityResult."""
    result.version = record.version
    timestamp(record.create_us, result.create_time)
    timestamp(record.update_us, result.update_time)


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
        # MORE_RESULTS_AFTER_LIMIT only when another result exists (looked ahead above); with exactly
        # `limit` results left the real answer is UNCONFIRMED, NO_MORE_RESULTS ends clients' paging.
        more = pb.MORE_RESULTS_AFTER_CURSOR if end_given else pb.NO_MORE_RESULTS
    batch.skipped_results = skipped
    batch.end_cursor = encode_cursor(tag, last)
    batch.more_results = more
    batch.snapshot_version = storage.last_version()
    return batch
