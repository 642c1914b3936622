"""The one table of the v1 RPCs: gRPC method name, REST verb, service method and message classes.

server.py registers the gRPC handlers from it and rest.py routes `POST /v1/projects/{p}:{verb}` with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import pb


@dataclass(frozen=True)
class Rpc:
    """One RPC: `name` on gRPC, `verb` in the REST path, `method` on DatastoreService, its messages."""

    name: str
    verb: str
    method: str
    request: Any
    response: Any


RPCS = (
    Rpc("Lookup", "lookup", "lookup", pb.LookupRequest, pb.LookupResponse),
    Rpc("RunQuery", "runQuery", "run_query", pb.RunQueryRequest, pb.RunQueryResponse),
    Rpc("RunAggregationQuery", "runAggregationQuery", "run_aggregation_query",
        pb.RunAggregationQueryRequest, pb.RunAggregationQueryResponse),
    Rpc("BeginTransaction", "beginTransaction", "begin_transaction",
        pb.BeginTransactionRequest, pb.BeginTransactionResponse),
    Rpc("Commit", "commit", "commit", pb.CommitRequest, pb.CommitResponse),
    Rpc("Rollback", "rollback", "rollback", pb.RollbackRequest, pb.RollbackResponse),
    Rpc("AllocateIds", "allocateIds", "allocate_ids", pb.AllocateIdsRequest, pb.AllocateIdsResponse),
    Rpc("ReserveIds", "reserveIds", "reserve_ids", pb.ReserveIdsRequest, pb.ReserveIdsResponse),
)
BY_VERB = {rpc.verb: rpc for rpc in RPCS}
