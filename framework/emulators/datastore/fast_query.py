"""RunQuery's short path over gRPC: the common query (one kind, no filter or one equality) answered as bytes.

Most queries an app sends again and again read one kind, unfiltered or with one equality, outside a
transaction. Their results are one index range in key order with nothing left to check per entity, so their
response can be written straight from the stored records: the request's bytes pick a memoised `FastQuery`
(no parse, no planning), and the response is encoded here rather than built as protobuf objects. Everything
else, and every request this path declines, goes through `DatastoreService.run_query` unchanged.
tests/emulators/datastore/test_fast_query.py checks that both paths answer alike.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from . import pb
from .cursors import Window, cursor_head
from .errors import invalid
from .executor import BATCH_BYTES, BATCH_SECONDS, BATCH_SIZE, DEFAULT_BUDGET, residual
from .indexes import Need
from .query import Driver
from .scans import bounded, driver_ranges
from .storage import Record
from .validation import check_request_partition
from .wire import MALFORMED, SMALL, result_tail, timestamp, varint

if TYPE_CHECKING:
    from .service import DatastoreService

MEMO_SIZE = 1024  # distinct request bytes remembered (the plan memo's size; a cursor per page only churns the oldest)
def _entity_result(record: Record, cursor: bytes) -> bytes:
    """An EntityResult of a stored entity, as executor._result and set_times build it, in field order:
    entity (1), cursor (3), version (4), update_time (5), create_time (6)."""
    data = record.data
    return b"".join((b"\x0a", varint(len(data)), data, b"\x1a", varint(len(cursor)), cursor,
                     result_tail(record.version, record.update_us, record.create_us)))


class FastQuery(NamedTuple):
    """A request this path answers: its index range, where positions start in a row, and its window."""

    lo: bytes
    hi: bytes
    reverse: bool
    cut: int  # bytes of an index row before the position its cursor records
    head: bytes  # cursor bytes before a position (format, driver, "at")
    start: bytes | None
    end_given: bool
    limit: int | None
    eventual: bool
    needed: list[Need]  # composite indexes, checked per request as the index file may change


def classify(service: DatastoreService, data: bytes) -> FastQuery | None:
    """The FastQuery of a serialized RunQueryRequest, or None when it needs the full path (anything else, or a
    request the full path refuses: it then answers with its own error)."""
    try:
        request = pb.RunQueryRequest.FromString(data)
    except Exception:
        return None
    if (request.WhichOneof("query_type") != "query" or request.HasField("explain_options")
            or request.HasField("property_mask")):
        return None
    options = request.read_options
    if options.WhichOneof("consistency_type") not in (None, "read_consistency"):
        return None  # transactions and read_time
    try:
        check_request_partition(request.project_id, request.database_id)  # as run_query checks first
        plan, needed = service.plans.plan(request)
        window = Window.of(plan, request.query)
    except Exception:
        return None
    if window.offset or plan.result_type != pb.FULL:
        return None
    if plan.driver == Driver.KIND:
        base = b"K" + plan.kind_prefix()
    elif plan.driver == Driver.ZIGZAG and len(plan.eq_prefixes) == 1:
        base = plan.eq_prefixes[0]
    else:
        return None
    bounds, served = driver_ranges(plan)
    if residual(plan, served)[3]:  # something is left to check per entity
        return None
    lo, hi = bounded(*bounds, window.start, window.end, plan.descending)
    return FastQuery(base + lo, base + hi, plan.descending, len(base), cursor_head(plan.driver),
                     window.start, window.end_given, window.limit, options.read_consistency == pb.EVENTUAL, needed)


class FastQueries:
    """RunQuery for the gRPC server: takes the request's bytes, answers the common query as bytes and hands
    every other request, parsed, to `service.run_query`."""

    def __init__(self, service: DatastoreService, size: int = MEMO_SIZE) -> None:
        self.service = service
        self._classify = functools.lru_cache(maxsize=size)(functools.partial(classify, service))

    def run_query(self, data: bytes) -> Any:
        """The response to a serialized RunQueryRequest: bytes (short path) or a RunQueryResponse."""
        service = self.service
        fast = self._classify(data)
        if fast is not None and service.budget is DEFAULT_BUDGET:  # tests cut batches with budgets of their own
            return self._answer(fast)
        try:
            request = pb.RunQueryRequest.FromString(data)
        except Exception:
            raise invalid(MALFORMED) from None
        return service.run_query(request)

    def _answer(self, fast: FastQuery) -> bytes:
        """The response, cut as executor.Pager cuts a batch (no offset here: nothing is skipped)."""
        service = self.service
        if fast.needed:
            service.index_file.check(fast.needed)
        storage = service.storage
        head, cut, limit = fast.head, fast.cut, fast.limit
        parts: list[bytes] = [b"\x08", SMALL[pb.FULL]]  # entity_result_type
        taken = size = 0
        last = fast.start
        more = pb.MORE_RESULTS_AFTER_CURSOR if fast.end_given else pb.NO_MORE_RESULTS
        with service.lock:
            deadline = time.monotonic() + BATCH_SECONDS
            get = storage.get
            for row, skey in storage.scan_index(fast.lo, fast.hi, fast.reverse):
                record = get(skey)
                if record is None:
                    continue
                if limit is not None and taken >= limit:
                    more = pb.MORE_RESULTS_AFTER_LIMIT
                    break
                if taken >= BATCH_SIZE or size >= BATCH_BYTES or (taken and time.monotonic() >= deadline):
                    more = pb.NOT_FINISHED
                    break
                last = row[cut:]
                result = _entity_result(record, head + b"\x01" + last)
                parts += (b"\x12", varint(len(result)), result)
                size += len(result)
                taken += 1
            snapshot = 0 if fast.eventual else storage.last_version()
        end = head + (b"\x00" if last is None else b"\x01" + last)
        parts += (b"\x22", varint(len(end)), end, b"\x28", SMALL[more])
        if snapshot:
            parts += (b"\x38", varint(snapshot))
        parts += (b"\x42", timestamp(time.time_ns() // 1000))
        batch = b"".join(parts)
        return b"\x0a" + varint(len(batch)) + batch
