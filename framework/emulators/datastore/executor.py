"""Query execution: per-entity conditions, then the one offset/limit loop (`Pager`) queries and aggregations share,
and the batches RunQuery answers with (cut by count, size, skips and time with NOT_FINISHED; cursors in cursors.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import pb
from .cursors import Window, encode_cursor
from .encoding import decode_path, index_values
from .projection import projection_rows
from .query import EQ, IN, NE, NOT_IN, OP, Cond, Driver, Plan
from .scans import Match, driver_scan
from .storage import Record, Storage

BATCH_SIZE = 1000  # results per RunQuery batch at most
# Bytes of results after which a batch is cut: with entities of at most 1 MiB a response stays under 2 MiB, well
# under the 4 MiB a default gRPC client accepts (production's exact cut points are UNCONFIRMED).
BATCH_BYTES = 1024 * 1024
SKIP_BUDGET = 1000  # results one batch skips for `offset` at most; production skips ~1,000 per batch
# Seconds after which a batch is cut (datastore-semantics.md §1.5: production cuts by "size/time/skip budget"; its
# time bound is UNCONFIRMED). Only a scan that is slow to find its results reaches it; a batch cut so still holds at
# least one result or skipped result, so its end_cursor moves on and clients' paging ends.
BATCH_SECONDS = 1.0


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
    if plan.driver == Driver.SORTED and plan.ancestor is not None and not path.startswith(plan.ancestor):
        return False
    values = index_values(match.entity) if conds or plan.branches else {}
    if not _conjunction(values, path, conds, key_conds):
        return False
    return not plan.branches or any(_conjunction(values, path, c, k) for c, k in plan.branches)


Residual = tuple[list[Cond], list[Cond], bool, bool, bool]


def residual(plan: Plan, served: list[Cond]) -> Residual:
    """What the driver leaves to check per entity (conditions, key conditions) and what that needs (the entity,
    a check, the record): derived from the plan alone, kept on it."""
    found: Residual | None = plan.memo.get("residual")
    if found is None:
        conds = [c for c in plan.conds if c not in served]
        key_conds = [c for c in plan.key_conds if c not in served]
        need_entity = bool(conds) or bool(plan.branches) or plan.result_type == pb.PROJECTION
        need_check = need_entity or bool(key_conds) or (plan.driver == Driver.SORTED and plan.ancestor is not None)
        need_record = need_check or plan.result_type != pb.KEY_ONLY
        found = plan.memo["residual"] = (conds, key_conds, need_entity, need_check, need_record)
    return found


def matches(storage: Storage, plan: Plan, start: bytes | None, end: bytes | None) -> Iterator[Match]:
    """Every matching entity from the start position on, in result order."""
    scan, served = driver_scan(storage, plan, start, end)
    conds, key_conds, need_entity, need_check, need_record = residual(plan, served)
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
    created, updated = result.create_time, result.update_time
    created.seconds, rem = divmod(record.create_us, 1_000_000)
    created.nanos = rem * 1000
    updated.seconds, rem = divmod(record.update_us, 1_000_000)
    updated.nanos = rem * 1000


def results(storage: Storage, plan: Plan, window: Window) -> Iterator[Match]:
    """The results after cursors and distinct_on, before offset/limit: matches, or for a projection one match per
    projection row with the row's entity as its `payload`."""
    found = matches(storage, plan, window.start, window.end)
    if not plan.projection:
        return found
    return _projected(plan, found)


def _projected(plan: Plan, found: Iterable[Match]) -> Iterator[Match]:
    """The projection rows of each match, without repeats (and one per distinct_on group)."""
    seen: set[tuple[bytes, ...]] = set()
    dedupe: set[tuple[bytes, tuple[bytes, ...]]] = set()
    distinct_idx = [plan.projection.index(p) for p in plan.distinct_on if p in plan.projection]
    for m in found:
        for values, entity in projection_rows(plan, m):
            if (m.skey, values) in dedupe:
                continue
            dedupe.add((m.skey, values))
            if distinct_idx:
                group = tuple(values[i] for i in distinct_idx)
                if group in seen:
                    continue
                seen.add(group)
            yield Match(m.pos, m.skey, m.record, m.entity, m.row_value, entity)


@dataclass(frozen=True)
class Budget:
    """How much one batch may hold before it is cut with NOT_FINISHED (None = no bound)."""

    results: int | None = BATCH_SIZE
    bytes: int | None = BATCH_BYTES
    skips: int | None = SKIP_BUDGET
    seconds: float | None = BATCH_SECONDS
    clock: Callable[[], float] = time.monotonic  # injectable: tests cut batches by a clock they drive


UNBOUNDED = Budget(results=None, bytes=None, skips=None, seconds=None)


class Pager:
    """The one offset/limit loop: skip `offset` results, take up to `limit`, stop early when the budget is spent.

    `take` yields the results to return; afterwards `skipped`, `taken`, `last` (the position after the last
    result or skipped result), `skipped_pos` and `more` (a QueryResultBatch.MoreResultsType) say how it ended.
    A result past the limit or budget is looked at before stopping, so MORE_RESULTS_AFTER_LIMIT and
    NOT_FINISHED are only answered when another result exists.
    """

    def __init__(self, window: Window, budget: Budget) -> None:
        self.window, self.budget = window, budget
        self.skipped = self.taken = self.bytes = 0
        self.last: bytes | None = window.start
        self.skipped_pos: bytes | None = None
        self.more = pb.NO_MORE_RESULTS
        self.deadline = budget.clock() + budget.seconds if budget.seconds is not None else None

    def _late(self) -> bool:
        """The time budget is spent, and this batch already moved on by a result or a skipped result."""
        return (self.deadline is not None and (self.taken or self.skipped) > 0
                and self.budget.clock() >= self.deadline)

    def _full(self) -> bool:
        budget = self.budget
        return ((budget.results is not None and self.taken >= budget.results)
                or (budget.bytes is not None and self.bytes >= budget.bytes))

    def spent(self, size: int) -> None:
        """Count `size` bytes of the result just taken against the byte budget."""
        self.bytes += size

    def take(self, items: Iterable[Match]) -> Iterator[Match]:
        window = self.window
        for item in items:
            if self.skipped < window.offset:
                if (self.budget.skips is not None and self.skipped >= self.budget.skips) or self._late():
                    self.more = pb.NOT_FINISHED  # clients re-ask with offset - skipped_results
                    return
                self.skipped += 1
                self.last = self.skipped_pos = item.pos
                continue
            if window.limit is not None and self.taken >= window.limit:
                self.more = pb.MORE_RESULTS_AFTER_LIMIT
                return
            if self._full() or self._late():
                self.more = pb.NOT_FINISHED
                return
            self.taken += 1
            self.last = item.pos
            yield item
        # With exactly `limit` results left the real answer is UNCONFIRMED; NO_MORE_RESULTS ends clients' paging.
        self.more = pb.MORE_RESULTS_AFTER_CURSOR if window.end_given else pb.NO_MORE_RESULTS


OnRead = Callable[[bytes, Record | None], None]


def _result(plan: Plan, keys_only: bool, m: Match, projected: Any, out: Any) -> None:
    """Fill an EntityResult (without its cursor) for a match."""
    if keys_only:
        out.entity.key.CopyFrom(m.entity.key if m.entity is not None else key_of(plan, m.skey))
        return
    record = m.record
    if projected is not None:
        out.entity.CopyFrom(projected)
    elif record is not None:
        out.entity.ParseFromString(record.data)
    if record is not None:
        set_times(out, record)


DEFAULT_BUDGET = Budget()


def run_batch(storage: Storage, plan: Plan, window: Window, batch: Any, on_read: OnRead | None = None,
              budget: Budget = DEFAULT_BUDGET) -> None:
    """Fill `batch` (a QueryResultBatch): skip `offset`, return up to `limit` results, cut when the budget is spent."""
    result_type = plan.result_type
    batch.entity_result_type = result_type
    keys_only, driver = result_type == pb.KEY_ONLY, plan.driver
    pager = Pager(window, budget)
    add = batch.entity_results.add
    for m in pager.take(results(storage, plan, window)):
        er = add()
        _result(plan, keys_only, m, m.payload, er)
        er.cursor = encode_cursor(driver, m.pos)
        pager.spent(er.ByteSize())
        if on_read is not None:
            on_read(m.skey, m.record)
    batch.skipped_results = pager.skipped
    if pager.skipped:
        batch.skipped_cursor = encode_cursor(driver, pager.skipped_pos)
    batch.end_cursor = encode_cursor(driver, pager.last)
    batch.more_results = pager.more
    batch.snapshot_version = storage.last_version()
