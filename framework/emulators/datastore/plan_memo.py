"""Query plans memoised per query: a query seen before skips validation, planning and its index needs.

planning is a pure function of the serialized v1 Query and the request's partition fields, so the memo is
keyed on exactly those bytes (equal keys mean equal inputs; a query that fails to plan is never kept). A
memoised Plan is shared between requests and threads: callers treat it as read-only.
"""

from __future__ import annotations

import functools
from typing import Any

from . import pb
from .indexes import Need, needs
from .query import Plan, plan_query
from .validation import normalize_partition

MEMO_SIZE = 1024  # query shapes kept; paging (a new cursor per request) only churns the oldest entries


def request_partition(request: Any) -> Any:
    """The request's PartitionId, normalized and checked against its project and database (a copy)."""
    partition = pb.PartitionId()
    partition.CopyFrom(request.partition_id)
    normalize_partition(partition, request.project_id, request.database_id)
    return partition


class PlanMemo:
    """A bounded LRU of (Plan, composite-index needs) for RunQuery requests (functools' C cache: thread-safe)."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._planned = functools.lru_cache(maxsize=size)(self._plan_bytes)

    def plan(self, request: Any) -> tuple[Plan, list[Need]]:
        """The plan of a RunQuery request's query and the composite indexes it needs (memoised)."""
        return self._planned(request.query.SerializeToString(), request.partition_id.SerializeToString(),
                             request.project_id, request.database_id)

    @staticmethod
    def _plan_bytes(query: bytes, partition: bytes, project: str, database: str) -> tuple[Plan, list[Need]]:
        """Plan from the memo's key (a miss): the request rebuilt from its bytes plans exactly as it would."""
        request = pb.RunQueryRequest(project_id=project, database_id=database)
        request.query.ParseFromString(query)
        request.partition_id.ParseFromString(partition)
        plan = plan_query(request.query, request_partition(request))
        return plan, needs(plan)

    def __len__(self) -> int:
        return self._planned.cache_info().currsize
