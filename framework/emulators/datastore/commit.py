"""Commit: apply a list of mutations to one batch, with the real service's per-mutation rules."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from . import pb
from .encoding import encode_path, escape, index_values, partition_prefix, timestamp_micros
from .errors import DatastoreError, already_exists, invalid, not_found, unimplemented
from .ids import IdAllocator
from .storage import Batch, Record, Storage
from .validation import check_entity, check_entity_body, check_key, is_complete

# Datastore mode has no mutation-count limit (the legacy service's 500 is gone; ndb still batches
# non-transactional puts by 500); what it limits is the size of a transaction's writes: 10 MiB.
MAX_COMMIT_BYTES = 10 * 1024 * 1024
_FAIL = pb.Mutation.ConflictResolutionStrategy.Value("FAIL")
_FORBIDDEN = {("insert", "insert"), ("update", "insert"), ("upsert", "insert"), ("delete", "update")}


def storage_key(key: Any) -> tuple[bytes, bytes]:
    """(partition prefix, storage key) of a complete, normalized key."""
    ns = storage_key_prefix(key)
    return ns, ns + encode_path(key)


def index_rows(ns: bytes, entity: Any, skey: bytes) -> dict[bytes, bytes]:
    """The kind-index row and property-index rows of an entity, each pointing at its storage key."""
    path = skey[len(ns):]
    kind_prefix = ns + escape(entity.key.path[-1].kind.encode())
    rows = {b"K" + kind_prefix + path: skey}
    for prop, values in index_values(entity).items():
        prefix = b"P" + kind_prefix + escape(prop.encode())
        for value in values:
            rows[prefix + value + path] = skey
    return rows


@functools.lru_cache(maxsize=4096)
def _complete_key(key: bytes, project: str, database: str) -> tuple[bytes, bytes, bytes | None, bool]:
    """(partition prefix, storage key, used-id key or None, whether the partition takes the request's project)
    of a serialized complete key, checked once per distinct key and request partition (a key failing its checks
    raises and is never kept)."""
    parsed = pb.Key.FromString(key)
    fill = not parsed.partition_id.project_id
    check_key(parsed, project, database)
    ns, skey = storage_key(parsed)
    last = parsed.path[-1]
    return ns, skey, IdAllocator.id_key(ns, last.id) if last.WhichOneof("id_type") == "id" else None, fill


def _checked_key(key: Any, project: str, database: str) -> tuple[bytes, bytes, bytes | None]:
    """check_key, storage_key and the used-id key of a complete key in a mutation, memoised by its bytes."""
    ns, skey, id_key, fill = _complete_key(key.SerializeToString(), project, database)
    if fill:  # as check_key normalizes: an empty partition project takes the request's
        key.partition_id.project_id, key.partition_id.database_id = project, database
    return ns, skey, id_key


def _describe(key: Any) -> str:
    """The legacy text form of a key used in error messages."""
    parts = []
    for e in key.path:
        ident = f"id: {e.id}" if e.WhichOneof("id_type") == "id" else f'name: "{e.name}"'
        parts.append(f'Element {{ type: "{e.kind}" {ident} }}')
    return f'app: "{key.partition_id.project_id}"\npath <\n  {" ".join(parts)}\n>\n'


@dataclass
class PendingCommit:
    """The state of a commit being built: final entity per touched key, results, ids to remember."""

    storage: Storage
    version: int
    final: dict[bytes, tuple[bytes, Any]] = field(default_factory=dict)  # skey -> (ns, entity or None)
    ops: dict[bytes, str] = field(default_factory=dict)
    results: list[tuple[Any, bytes | None]] = field(default_factory=list)  # (MutationResult, written key)
    results_out: Any = None  # the response's mutation_results, filled in place (else results are new messages)
    ids: set[bytes] = field(default_factory=set)
    before: dict[bytes, Record | None] = field(default_factory=dict)  # stored records read so far (read once)

    def stored(self, skey: bytes) -> Record | None:
        """The record stored under `skey` before this commit (the store does not change while it is built)."""
        if skey in self.before:
            return self.before[skey]
        record = self.before[skey] = self.storage.get(skey)
        return record

    def current(self, skey: bytes) -> tuple[Any, int]:
        """(entity-or-None, version) of a key as this commit sees it so far."""
        if skey in self.final:
            entity = self.final[skey][1]
            return entity, (self.version if entity is not None else 0)
        record = self.stored(skey)
        return (True, record.version) if record is not None else (None, 0)


def apply_mutations(
    pending: PendingCommit, mutations: Any, project: str, database: str, transactional: bool, ids: IdAllocator,
) -> None:
    """Check each mutation and record its effect in `pending` (nothing is written yet)."""
    if sum(m.ByteSize() for m in mutations) > MAX_COMMIT_BYTES:
        raise invalid("Transaction or write too big: the mutations of one commit may total at most 10 MiB.")
    for mutation in mutations:
        op = mutation.WhichOneof("operation")
        if op is None:
            raise invalid("A mutation must have an operation.")
        if mutation.HasField("property_mask") or len(mutation.property_transforms):
            raise unimplemented("Property masks and transforms in mutations are not supported by this emulator yet.")
        result = pb.MutationResult() if pending.results_out is None else pending.results_out.add()
        entity = None if op == "delete" else getattr(mutation, op)
        key = mutation.delete if entity is None else entity.key
        if entity is not None and not entity.HasField("key"):
            raise invalid("The entity is missing its key.")
        if is_complete(key):
            ns, skey, id_key = _checked_key(key, project, database)
            if entity is not None:
                check_entity_body(entity, project, database)
        else:  # refused (delete, update), or given an id here
            if entity is None:
                check_key(key, project, database)
            else:
                check_entity(entity, project, database, incomplete_ok=op != "update")
            ns = storage_key_prefix(key)
            key.path[-1].id = ids.allocate(ns, pending.ids)
            result.key.CopyFrom(key)
            ns, skey = storage_key(key)
            id_key = IdAllocator.id_key(ns, key.path[-1].id)
        previous = pending.ops.get(skey)
        if previous is not None:
            if not transactional:
                raise invalid("A non-transactional commit may not contain multiple mutations affecting the same entity.")
            if (previous, op) in _FORBIDDEN:
                raise invalid(f"A transaction may not {op} an entity after a {previous} of the same entity.")
        pending.ops[skey] = op
        exists, version = pending.current(skey)
        strategy = mutation.WhichOneof("conflict_detection_strategy")
        if strategy is None and mutation.conflict_resolution_strategy:
            raise invalid("A conflict resolution strategy needs base_version or update_time.")
        stored = None if skey in pending.final else pending.stored(skey)
        if strategy is not None and _conflicts(mutation, strategy, exists, version, stored):
            if mutation.conflict_resolution_strategy == _FAIL:  # its status code is UNCONFIRMED
                raise DatastoreError("FAILED_PRECONDITION", f"The entity changed since the given version: {_describe(key)}")
            result.conflict_detected = True
            result.version = version or pending.version
            pending.results.append((result, None))
            continue
        if op == "insert" and exists is not None:
            raise already_exists(f"entity already exists: {_describe(key)}")
        if op == "update" and exists is None:
            raise not_found(f"no entity to update: {_describe(key)}")
        pending.final[skey] = (ns, entity)
        if id_key is not None:
            pending.ids.add(id_key)
        result.version = pending.version
        pending.results.append((result, skey if entity is not None else None))


def storage_key_prefix(key: Any) -> bytes:
    """The partition prefix of a key (complete or not)."""
    p = key.partition_id
    return partition_prefix(p.project_id, p.database_id, p.namespace_id)


def _conflicts(mutation: Any, strategy: str, exists: Any, version: int, record: Record | None) -> bool:
    if strategy == "base_version":
        return mutation.base_version != version
    expected = mutation.update_time
    if exists is None:
        return expected.seconds != 0 or expected.nanos != 0
    if record is None:  # changed earlier in this commit: its update time is this commit's
        return True
    return timestamp_micros(expected) != record.update_us


Replaced = dict[bytes, tuple[bytes, Record | None]]


def build_batch(pending: PendingCommit) -> tuple[Batch, dict[bytes, Record], Replaced]:
    """The storage batch of a checked commit, the new record of every written key, and what it replaces
    (storage key -> (partition prefix, record before or None))."""
    batch = Batch(version=pending.version, ids=set(pending.ids))
    written: dict[bytes, Record] = {}
    replaced: Replaced = {}
    for skey, (ns, entity) in pending.final.items():
        old = pending.stored(skey)
        replaced[skey] = (ns, old)
        if entity is None:
            if old is not None:
                batch.deletes.add(skey)
                batch.index_del.update(index_rows(ns, pb.Entity.FromString(old.data), skey))
            continue
        data = entity.SerializeToString()
        record = Record(pending.version, old.create_us if old is not None else pending.version, pending.version, data)
        batch.puts[skey] = record
        written[skey] = record
        if old is not None and old.data == data:
            continue  # the same entity written again: its index rows are the ones stored
        old_rows = index_rows(ns, pb.Entity.FromString(old.data), skey) if old is not None else {}
        new_rows = index_rows(ns, entity, skey)
        batch.index_del.update(k for k in old_rows if k not in new_rows)
        batch.index_add.update((k, v) for k, v in new_rows.items() if k not in old_rows)
    return batch, written, replaced
