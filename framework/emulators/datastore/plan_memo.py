"""Query plans memoised per query: a query seen before skips validation, planning and its index needs.

planning is a pure function of the serialized v1 Query and the request's partition fields, so the memo is
keyed on exactly those bytes (equal keys mean equal inputs; a query that fails to plan is never kept). A
memoised Plan is shared between requests and threads: callers treat it as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from . import pb
from .indexes import Need, needs
from .query import Plan, plan_query
from .validation import normalize_partition

MEMO_SIZE = 1024  # query shapes kept; paging (a new cursor per request) only churns the oldest entries

_Key = tuple[bytes, bytes, str, str]


def request_partition(request: Any) -> Any:
    """The request's PartitionId, normalized and checked against its project and database (a copy)."""
    partition = pb.PartitionId()
    partition.CopyFrom(request.partition_id)
    normalize_partition(partition, request.project_id, request.database_id)
    return partition


class PlanMemo:
    """A bounded, thread-safe LRU of (Plan, composite-index needs) for RunQuery requests."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[_Key, tuple[Plan, list[Need]]] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, request: Any) -> tuple[Plan, list[Need]]:
        """The plan of a RunQuery request's query and the composite indexes it needs (memoised)."""
        key = (request.query.SerializeToString(), request.partition_id.SerializeToString(), request.project_id,
               request.database_id)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
        plan = plan_query(request.query, request_partition(request))
        planned = (plan, needs(plan))
        with self._lock:
            self._plans[key] = planned
            if len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return planned

    def __len__(self) -> int:
        return len(self._plans)
