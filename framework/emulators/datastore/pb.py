"""The raw protobuf classes of google.datastore.v1, taken from google-cloud-datastore's proto-plus types."""

from __future__ import annotations

from google.cloud.datastore_v1.types import aggregation_result as _agg
from google.cloud.datastore_v1.types import datastore as _ds
from google.cloud.datastore_v1.types import entity as _entity
from google.cloud.datastore_v1.types import query as _query

Key = _entity.Key.pb()
PartitionId = _entity.PartitionId.pb()
Entity = _entity.Entity.pb()
Value = _entity.Value.pb()
ArrayValue = _entity.ArrayValue.pb()

Query = _query.Query.pb()
Filter = _query.Filter.pb()
PropertyFilter = _query.PropertyFilter.pb()
CompositeFilter = _query.CompositeFilter.pb()
PropertyOrder = _query.PropertyOrder.pb()
EntityResult = _query.EntityResult.pb()
QueryResultBatch = _query.QueryResultBatch.pb()
AggregationQuery = _query.AggregationQuery.pb()
AggregationResult = _agg.AggregationResult.pb()
AggregationResultBatch = _agg.AggregationResultBatch.pb()

LookupRequest = _ds.LookupRequest.pb()
LookupResponse = _ds.LookupResponse.pb()
RunQueryRequest = _ds.RunQueryRequest.pb()
RunQueryResponse = _ds.RunQueryResponse.pb()
RunAggregationQueryRequest = _ds.RunAggregationQueryRequest.pb()
RunAggregationQueryResponse = _ds.RunAggregationQueryResponse.pb()
BeginTransactionRequest = _ds.BeginTransactionRequest.pb()
BeginTransactionResponse = _ds.BeginTransactionResponse.pb()
CommitRequest = _ds.CommitRequest.pb()
CommitResponse = _ds.CommitResponse.pb()
RollbackRequest = _ds.RollbackRequest.pb()
RollbackResponse = _ds.RollbackResponse.pb()
AllocateIdsRequest = _ds.AllocateIdsRequest.pb()
AllocateIdsResponse = _ds.AllocateIdsResponse.pb()
ReserveIdsRequest = _ds.ReserveIdsRequest.pb()
ReserveIdsResponse = _ds.ReserveIdsResponse.pb()
Mutation = _ds.Mutation.pb()
MutationResult = _ds.MutationResult.pb()
ReadOptions = _ds.ReadOptions.pb()
TransactionOptions = _ds.TransactionOptions.pb()

# Enum values used by the server.
OP = PropertyFilter.Operator
AND = CompositeFilter.Operator.Value("AND")
OR = CompositeFilter.Operator.Value("OR")
ASCENDING = PropertyOrder.Direction.Value("ASCENDING")
DESCENDING = PropertyOrder.Direction.Value("DESCENDING")
NOT_FINISHED = QueryResultBatch.MoreResultsType.Value("NOT_FINISHED")
MORE_RESULTS_AFTER_LIMIT = QueryResultBatch.MoreResultsType.Value("MORE_RESULTS_AFTER_LIMIT")
MORE_RESULTS_AFTER_CURSOR = QueryResultBatch.MoreResultsType.Value("MORE_RESULTS_AFTER_CURSOR")
NO_MORE_RESULTS = QueryResultBatch.MoreResultsType.Value("NO_MORE_RESULTS")
FULL = EntityResult.ResultType.Value("FULL")
PROJECTION = EntityResult.ResultType.Value("PROJECTION")
KEY_ONLY = EntityResult.ResultType.Value("KEY_ONLY")
TRANSACTIONAL = CommitRequest.Mode.Value("TRANSACTIONAL")
NON_TRANSACTIONAL = CommitRequest.Mode.Value("NON_TRANSACTIONAL")
EVENTUAL = ReadOptions.ReadConsistency.Value("EVENTUAL")
