"""The Datastore service: the eight v1 RPCs on raw protobuf messages, over one storage and one lock."""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from . import pb
from .aggregation import plan_aggregation, run_aggregation
from .commit import (
    PendingCommit,
    apply_mutations,
    build_batch,
    index_rows,
    storage_key,
    storage_key_prefix,
)
from .cursors import Window
from .encoding import timestamp_micros
from .errors import DatastoreError, aborted, invalid, unimplemented
from .executor import DEFAULT_BUDGET, OnRead, run_batch, set_times, timestamp
from .explain import CountingReader, execution_stats, plan_summary
from .ids import IdAllocator
from .index_file import IndexFile
from .indexes import needs
from .plan_memo import PlanMemo, request_partition
from .query import Plan
from .snapshot import RETENTION_US, History, SnapshotView
from .storage import Batch, Record, Storage
from .transactions import Transaction, TransactionManager
from .validation import check_key, check_request_partition, is_complete

MAX_LOOKUP_KEYS = 1000
# Keys past either bound are answered as `deferred` (clients ask again for them). By size: found entities past
# this many bytes, so a Lookup response stays well under a default client's 4 MiB.
LOOKUP_BYTES = 1024 * 1024
# By count: production answers a few hundred found entities and defers the rest (datastore-semantics.md §1.4:
# "~300 observed"; its exact rule is UNCONFIRMED). Cutting at the observed count makes clients' deferred loops run
# locally as they will in production (the safe side: google-cloud-datastore's get_multi of over 300 entities as the
# first read of a begin_later transaction re-sends new_transaction and fails "Transaction already begun" here too).
LOOKUP_FOUND = 300


def _apply_mask(entity: Any, paths: set[str]) -> None:
    """Keep only the masked properties (top-level names, or dotted paths into entity values)."""
    tops = {p.split(".", 1)[0] for p in paths}
    for name in list(entity.properties):
        if name in paths:
            continue
        if name not in tops:
            del entity.properties[name]
            continue
        value = entity.properties[name]
        if value.WhichOneof("value_type") == "entity_value":
            _apply_mask(value.entity_value, {p.split(".", 1)[1] for p in paths if p.startswith(name + ".")})


@functools.lru_cache(maxsize=4096)
def lookup_key(key: bytes, project: str, database: str) -> tuple[bytes, bool]:
    """(storage key, whether its partition takes the request's project) of a serialized Lookup key, checked once
    per distinct key and request partition (a key that fails its checks raises and is never kept)."""
    parsed = pb.Key.FromString(key)
    fill = not parsed.partition_id.project_id
    check_key(parsed, project, database, reserved_ok=True)
    return storage_key(parsed)[1], fill


def _eventual(options: Any) -> bool:
    return options.WhichOneof("consistency_type") == "read_consistency" and options.read_consistency == pb.EVENTUAL


class DatastoreService:
    """Every method takes a request message and returns a response message or raises DatastoreError."""

    def __init__(self, storage: Storage, index_file: IndexFile | None = None) -> None:
        self.storage = storage
        self.index_file = index_file or IndexFile(None, "off")
        self.lock = threading.RLock()
        self.txns = TransactionManager(threading.Condition(self.lock))
        self.ids = IdAllocator(storage)
        self.plans = PlanMemo()
        self.budget = DEFAULT_BUDGET  # where RunQuery cuts a batch (tests put a smaller one, or a clock they drive)
        self._history = History(*storage.load_history())  # what commits replaced: the last hour, and more for
        # open read-only transactions (kept durably by a durable store)

    # -- helpers -------------------------------------------------------------------------------------

    def _next_version(self) -> int:
        """Commit versions are commit times in µs, strictly increasing."""
        return max(self.storage.last_version() + 1, time.time_ns() // 1000)

    def _read_context(self, options: Any, response: Any) -> tuple[Transaction | None, Storage]:
        """The transaction a read runs in (begun here for `new_transaction`) and what it sees: the live
        store, or the snapshot of a read-only transaction or a read_time."""
        which = options.WhichOneof("consistency_type")
        txn = None
        if which == "transaction":
            txn = self.txns.get(options.transaction)
        elif which == "new_transaction":
            txn = self._begin(options.new_transaction)
            response.transaction = txn.id
        elif which == "read_time":
            return None, self._snapshot(self._read_version(options.read_time))
        if txn is not None and txn.read_only:
            return txn, self._snapshot(txn.begin_version)
        return txn, self.storage

    def _snapshot(self, version: int) -> Storage:
        return SnapshotView(self.storage, version, self._history, index_rows)

    def _read_version(self, read_time: Any) -> int:
        """The version a read_time reads: within the last hour and not in the future."""
        micros = timestamp_micros(read_time)
        now = time.time_ns() // 1000
        if micros > now:  # production's answer to a future read_time is UNCONFIRMED; refusing is the safe side
            raise invalid("The read_time must not be in the future.")
        if micros < now - RETENTION_US or micros < self._history.complete_since:
            # Versions older than an hour are gone in production too; here also those before a reset (or, for
            # a store written before history was kept, before it was opened).
            raise DatastoreError("FAILED_PRECONDITION", "The requested snapshot version is too old.")
        return micros

    def _begin(self, options: Any) -> Transaction:
        read_only = options.WhichOneof("mode") == "read_only"
        if read_only and options.read_only.HasField("read_time"):
            return self.txns.begin(True, self._read_version(options.read_only.read_time))
        return self.txns.begin(read_only, self.storage.last_version())

    def _check_indexes(self, plan: Plan, aggregated: tuple[str, ...] = ()) -> None:
        """Composite indexes: refused (require mode) or recorded in index.yaml (record mode) when missing."""
        self.index_file.check(needs(plan, aggregated))

    # -- RPCs ----------------------------------------------------------------------------------------

    def lookup(self, request: Any) -> Any:
        """Lookup: the entities of up to 1,000 keys (found, or missing with the snapshot version)."""
        check_request_partition(request.project_id, request.database_id)
        if len(request.keys) > MAX_LOOKUP_KEYS:
            raise invalid(f"cannot get more than {MAX_LOOKUP_KEYS} keys in a single call")
        skeys = []
        project, database = request.project_id, request.database_id
        for key in request.keys:
            skey, fill = lookup_key(key.SerializeToString(), project, database)
            if fill:  # as check_key normalizes: an empty partition project takes the request's
                key.partition_id.project_id, key.partition_id.database_id = project, database
            skeys.append(skey)
        response = pb.LookupResponse()
        with self.lock:
            txn, reader = self._read_context(request.read_options, response)
            if txn is not None and not txn.read_only:
                self.txns.lock(txn, sorted(set(skeys)))
            snapshot = 0 if _eventual(request.read_options) else reader.last_version()  # not set for eventual reads
            self._lookup_locked(request, skeys, reader, txn, snapshot, response)
        self._set_read_time(request.read_options, response.read_time)
        return response

    @staticmethod
    def _set_read_time(options: Any, out: Any) -> None:
        """A response's read_time: the one asked for, else now."""
        if options.WhichOneof("consistency_type") == "read_time":
            out.CopyFrom(options.read_time)
        else:
            timestamp(time.time_ns() // 1000, out)

    @staticmethod
    def _lookup_locked(request: Any, skeys: list[bytes], reader: Storage, txn: Transaction | None, snapshot: int,
                       response: Any) -> None:
        """Fill found and missing (and deferred past LOOKUP_BYTES or LOOKUP_FOUND) in request order."""
        mask = set(request.property_mask.paths)
        size = found = 0
        for key, skey in zip(request.keys, skeys, strict=True):
            if size >= LOOKUP_BYTES or found >= LOOKUP_FOUND:
                response.deferred.add().CopyFrom(key)
                continue
            record = reader.get(skey)
            if txn is not None and not txn.read_only:
                txn.record_read(skey, record.version if record is not None else 0)
            if record is None:
                result = response.missing.add()
                result.entity.key.CopyFrom(key)
                result.version = snapshot
                continue
            result = response.found.add()
            result.entity.ParseFromString(record.data)
            result.entity.key.CopyFrom(key)
            if mask:
                _apply_mask(result.entity, mask)
            set_times(result, record)
            size += len(record.data)
            found += 1

    @staticmethod
    def _check_query_request(request: Any, query_type: str) -> None:
        """The checks RunQuery and RunAggregationQuery share: partition, no GQL."""
        check_request_partition(request.project_id, request.database_id)
        if request.WhichOneof("query_type") != query_type:
            raise unimplemented("GQL queries are not supported by this emulator yet.")

    def run_query(self, request: Any) -> Any:
        """RunQuery: one batch of a query's results, with cursors to resume from; with explain_options, the
        plan instead (analyze false) or as well, with execution statistics (analyze true)."""
        self._check_query_request(request, "query")
        plan, needed = self.plans.plan(request)
        self.index_file.check(needed)
        mask = set(request.property_mask.paths) if request.HasField("property_mask") else None
        if mask and plan.projection:
            raise invalid("A property mask cannot be combined with a projection.")
        window = Window.of(plan, request.query)
        response = pb.RunQueryResponse()
        explain = request.explain_options if request.HasField("explain_options") else None
        started = 0.0
        if explain is not None:
            plan_summary(plan, response.explain_metrics.plan_summary)
            started = time.perf_counter()
        with self.lock:
            txn, reader = self._read_context(request.read_options, response)
            if explain is not None and not explain.analyze:
                return response  # plan only: no batch
            counted = CountingReader(reader) if explain is not None else None
            on_read = self._on_read(txn)
            run_batch(counted or reader, plan, window, response.batch, on_read, self.budget)
            if _eventual(request.read_options):
                response.batch.snapshot_version = 0
        if counted is not None:
            execution_stats(response.explain_metrics.execution_stats, counted, len(response.batch.entity_results),
                            started, plan.keys_only)
        if mask:
            for result in response.batch.entity_results:
                _apply_mask(result.entity, mask)
        self._set_read_time(request.read_options, response.batch.read_time)
        return response

    def _on_read(self, txn: Transaction | None) -> OnRead | None:
        """What a read-write transaction does with each query result: remember its version (validated at
        commit) and lock it."""
        if txn is None or txn.read_only:
            return None

        def on_read(skey: bytes, record: Record | None) -> None:
            record = record if record is not None else self.storage.get(skey)
            txn.record_read(skey, record.version if record is not None else 0)
            self.txns.lock_if_free(txn, skey)

        return on_read

    def run_aggregation_query(self, request: Any) -> Any:
        """RunAggregationQuery: count, sum and avg over a nested query, in one NO_MORE_RESULTS batch (with
        explain_options: the plan, and with analyze the statistics too)."""
        self._check_query_request(request, "aggregation_query")
        spec = plan_aggregation(request.aggregation_query, request_partition(request))
        self._check_indexes(spec.plan, tuple(spec.props))
        response = pb.RunAggregationQueryResponse()
        explain = request.explain_options if request.HasField("explain_options") else None
        if explain is not None:
            plan_summary(spec.plan, response.explain_metrics.plan_summary, tuple(spec.props))
        started = time.perf_counter()
        with self.lock:
            _, reader = self._read_context(request.read_options, response)
            if explain is not None and not explain.analyze:
                return response
            counted = CountingReader(reader) if explain is not None else None
            run_aggregation(counted or reader, spec, response.batch)
        if counted is not None:
            execution_stats(response.explain_metrics.execution_stats, counted, 1, started, not spec.props)
        response.batch.more_results = pb.NO_MORE_RESULTS
        self._set_read_time(request.read_options, response.batch.read_time)
        return response

    def begin_transaction(self, request: Any) -> Any:
        """BeginTransaction: a new read-write or read-only transaction id."""
        check_request_partition(request.project_id, request.database_id)
        with self.lock:
            txn = self._begin(request.transaction_options)
        return pb.BeginTransactionResponse(transaction=txn.id)

    def rollback(self, request: Any) -> Any:
        """Rollback: end a transaction without writing (an unknown id is a silent success)."""
        check_request_partition(request.project_id, request.database_id)
        with self.lock:
            self.txns.discard(request.transaction)
        return pb.RollbackResponse()

    def commit(self, request: Any) -> Any:
        """Commit: apply mutations, transactionally (validated, all or nothing) or not."""
        project, database = request.project_id, request.database_id
        check_request_partition(project, database)
        selector = request.WhichOneof("transaction_selector")
        mode = request.mode
        if mode == 0:  # UNCONFIRMED: MODE_UNSPECIFIED is taken as TRANSACTIONAL when a transaction is named
            if selector is None:
                raise invalid("The commit mode must be set (TRANSACTIONAL or NON_TRANSACTIONAL).")
            mode = pb.TRANSACTIONAL
        if mode == pb.TRANSACTIONAL and selector is None:
            raise invalid("A transactional commit needs a transaction.")
        if mode == pb.NON_TRANSACTIONAL and selector is not None:
            raise invalid("A non-transactional commit cannot name a transaction.")
        response = pb.CommitResponse()
        with self.lock:
            txn = None
            if selector == "transaction":
                txn = self.txns.get(request.transaction)
            elif selector == "single_use_transaction":
                if request.single_use_transaction.WhichOneof("mode") == "read_only":
                    raise invalid("A single-use transaction must be read-write.")
                txn = self._begin(request.single_use_transaction)
            try:
                self._commit_locked(request, txn, mode == pb.TRANSACTIONAL, response)
            finally:
                if txn is not None:
                    self.txns.finish(txn)
        return response

    def _commit_locked(self, request: Any, txn: Transaction | None, transactional: bool, response: Any) -> None:
        if txn is not None and txn.read_only and len(request.mutations):
            raise invalid("Cannot modify entities in a read-only transaction.")  # code per docs; text UNCONFIRMED
        pending = PendingCommit(self.storage, self._next_version(), results_out=response.mutation_results)
        apply_mutations(pending, request.mutations, request.project_id, request.database_id, transactional, self.ids)
        self.txns.check_writable(list(pending.ops), txn)
        if txn is not None and not txn.read_only:
            self._validate(txn, pending)
        batch, written, replaced = build_batch(pending)
        keep_from = self._keep_history_from()
        batch.history = History.entries(pending.version, replaced)
        batch.prune_history_to = keep_from
        self.storage.apply(batch)
        self._history.remember(batch.history, keep_from)
        for result, skey in pending.results:
            record = written.get(skey) if skey is not None else None
            if record is not None:
                timestamp(record.create_us, result.create_time)
                timestamp(record.update_us, result.update_time)
        response.index_updates = len(batch.index_add) + len(batch.index_del)
        if transactional:
            timestamp(pending.version, response.commit_time)

    def _keep_history_from(self) -> int:
        """The oldest version reads may still ask for: an hour ago, or an open read-only transaction's begin."""
        keep_from = time.time_ns() // 1000 - RETENTION_US
        oldest = self.txns.oldest_read_only()
        return keep_from if oldest is None else min(keep_from, oldest)

    def _validate(self, txn: Transaction, pending: PendingCommit) -> None:
        """ABORTED when anything read changed since it was read, or anything written since the begin."""
        for skey, seen in txn.reads.items():
            record = pending.stored(skey)
            if (record.version if record is not None else 0) != seen:
                raise aborted()
        for skey in pending.ops:
            if skey in txn.reads:
                continue
            record = pending.stored(skey)
            if record is not None and record.version > txn.begin_version:
                raise aborted()

    def allocate_ids(self, request: Any) -> Any:
        """AllocateIds: complete incomplete keys with scattered ids never used in their partition."""
        check_request_partition(request.project_id, request.database_id)
        response = pb.AllocateIdsResponse()
        with self.lock:
            pending: set[bytes] = set()
            for key in request.keys:
                check_key(key, request.project_id, request.database_id, incomplete_ok=True)
                if is_complete(key):
                    raise invalid("Key path is complete: AllocateIds needs incomplete keys.")
                out = response.keys.add()
                out.CopyFrom(key)
                out.path[-1].id = self.ids.allocate(storage_key_prefix(key), pending)
            self.storage.apply(Batch(version=self.storage.last_version(), ids=pending))
        return response

    def reserve_ids(self, request: Any) -> Any:
        """ReserveIds: numeric ids that must never be allocated."""
        check_request_partition(request.project_id, request.database_id)
        with self.lock:
            ids: set[bytes] = set()
            for key in request.keys:
                check_key(key, request.project_id, request.database_id)
                last = key.path[-1]
                if last.WhichOneof("id_type") == "id":
                    ids.add(IdAllocator.id_key(storage_key_prefix(key), last.id))
            self.storage.apply(Batch(version=self.storage.last_version(), ids=ids))
        return pb.ReserveIdsResponse()

    def reset(self) -> None:
        """Forget every entity, id and open transaction."""
        with self.lock:
            self.txns.clear()
            self.storage.reset()
            self._history.clear(self.storage.last_version())

