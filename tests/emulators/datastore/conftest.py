"""Fixtures for the emulator tests: the session emulator, clients bound to it, a raw gRPC caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from framework.emulators.datastore import pb
from framework.emulators.datastore.launcher import Emulator

PROJECT = "local-project"
_RESPONSES = {
    "Lookup": pb.LookupResponse, "RunQuery": pb.RunQueryResponse,
    "RunAggregationQuery": pb.RunAggregationQueryResponse, "BeginTransaction": pb.BeginTransactionResponse,
    "Commit": pb.CommitResponse, "Rollback": pb.RollbackResponse, "AllocateIds": pb.AllocateIdsResponse,
    "ReserveIds": pb.ReserveIdsResponse,
}


class Raw:
    """Calls the emulator's RPCs with raw protobuf messages (a real gRPC client, no library in between)."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)

    def __call__(self, method: str, request: Any) -> Any:
        call = self.channel.unary_unary(
            f"/google.datastore.v1.Datastore/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=_RESPONSES[method].FromString,
        )
        if not request.project_id:
            request.project_id = PROJECT
        return call(request, timeout=30)

    def error(self, method: str, request: Any) -> grpc.RpcError:
        """Call and return the RpcError the call must raise."""
        with pytest.raises(grpc.RpcError) as info:
            self(method, request)
        return info.value


@pytest.fixture
def emulator(clean_datastore: Emulator) -> Emulator:
    """The session emulator, emptied, with the client environment variables set for this test."""
    return clean_datastore


@pytest.fixture
def raw(emulator: Emulator) -> Iterator[Raw]:
    caller = Raw(emulator.address)
    yield caller
    caller.channel.close()


@pytest.fixture
def ndb_client(emulator: Emulator) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import ndb

    return ndb.Client(project=PROJECT, credentials=AnonymousCredentials())


@pytest.fixture
def ds_client(emulator: Emulator) -> Any:
    from google.cloud import datastore

    return datastore.Client(project=PROJECT)


def key(*path: Any, namespace: str = "", database: str = "", project: str = PROJECT) -> Any:
    """A raw Key from alternating kind, id-or-name arguments (a trailing kind alone = incomplete)."""
    k = pb.Key()
    k.partition_id.project_id = project
    k.partition_id.database_id = database
    k.partition_id.namespace_id = namespace
    for i in range(0, len(path), 2):
        element = k.path.add(kind=path[i])
        if i + 1 < len(path):
            ident = path[i + 1]
            if isinstance(ident, int):
                element.id = ident
            else:
                element.name = ident
    return k


def entity(k: Any, **props: Any) -> Any:
    """A raw Entity with simple values (int, str, bool, float, bytes, None)."""
    e = pb.Entity()
    e.key.CopyFrom(k)
    for name, value in props.items():
        set_value(e.properties[name], value)
    return e


def set_value(out: Any, value: Any) -> None:
    if value is None:
        out.null_value = 0
    elif isinstance(value, bool):
        out.boolean_value = value
    elif isinstance(value, int):
        out.integer_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, bytes):
        out.blob_value = value
    elif isinstance(value, list):
        out.array_value.SetInParent()
        for item in value:
            set_value(out.array_value.values.add(), item)
    elif isinstance(value, pb.Key):
        out.key_value.CopyFrom(value)
    else:
        out.CopyFrom(value)


def prop_filter(name: str, op: int, value: Any) -> Any:
    """A property filter `name op value` (value converted like `set_value`)."""
    f = pb.Filter()
    f.property_filter.property.name = name
    f.property_filter.op = op
    set_value(f.property_filter.value, value)
    return f


def build_query(
    *filters: Any, kind: str = "R", order: str | None = None, desc: bool = False,
    then: Any = (), keys_only: bool = False, limit: int | None = None,
) -> Any:
    """A query of `kind` with AND-ed `filters`, an order (plus `then` as (name, desc) pairs), keys-only, limit."""
    query = pb.Query()
    query.kind.add(name=kind)
    if filters:
        query.filter.composite_filter.op = pb.AND
        query.filter.composite_filter.filters.extend(filters)
    for name, descending in ([(order, desc)] if order else []) + list(then):
        query.order.add(direction=pb.DESCENDING if descending else pb.ASCENDING).property.name = name
    if keys_only:
        query.projection.add().property.name = "__key__"
    if limit is not None:
        query.limit.value = limit
    return query


def commit(raw: Raw, *mutations: tuple[str, Any], txn: bytes | None = None) -> Any:
    """Commit (op, entity-or-key) mutations, non-transactionally unless `txn` is given."""
    req = pb.CommitRequest(mode=pb.TRANSACTIONAL if txn else pb.NON_TRANSACTIONAL)
    if txn:
        req.transaction = txn
    for op, target in mutations:
        getattr(req.mutations.add(), op).CopyFrom(target)
    return raw("Commit", req)


def code(error: grpc.RpcError) -> str:
    return error.code().name


def filled_service(store: str, folder: Path, fill: Callable[[Any], None]) -> Iterator[Any]:
    """A DatastoreService over the memory or the SQLite store (in `folder`), filled by `fill`; closed after."""
    from framework.emulators.datastore.service import DatastoreService
    from framework.emulators.datastore.storage.memory import MemoryStorage
    from framework.emulators.datastore.storage.sqlite import SqliteStorage

    storage = MemoryStorage() if store == "memory" else SqliteStorage(str(folder))
    service = DatastoreService(storage)
    try:
        fill(service)
        yield service
    finally:
        storage.close()


def short_and_full(answer: Any, normal: Any, holder: Callable[[Any], Any], results: Callable[[Any], Any]) -> Any:
    """(the short path's `answer` parsed, the full path's response `normal` given the short path's read_time).

    `holder(response)` is the message carrying read_time, `results(response)` the entity results. Read times
    must be within 5 s; with at most one property per entity (no map ordering in play) the bytes must match.
    """
    assert isinstance(answer, bytes), "the short path declined a request it should answer"
    short = type(normal).FromString(answer)
    assert abs(holder(short).read_time.seconds - holder(normal).read_time.seconds) <= 5
    holder(normal).read_time.CopyFrom(holder(short).read_time)
    if all(len(r.entity.properties) <= 1 for r in results(normal)):  # maps aside, the very same bytes
        assert answer == normal.SerializeToString()
    return short, normal
