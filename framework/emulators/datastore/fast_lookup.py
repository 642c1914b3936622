"""Lookup's short path over gRPC: a read of keys outside a transaction answered as bytes.

The request's bytes pick a memoised `FastLookup` (each key checked and encoded once, as `DatastoreService.lookup`
does), and the response is written from the stored records: each found entity as stored with the asked key in
place of its own. Transactions, read_time, property masks and any request the full path refuses go through
`DatastoreService.lookup` unchanged. tests/emulators/datastore/test_fast_lookup.py checks both answer alike.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from . import pb
from .errors import invalid
from .service import LOOKUP_BYTES, LOOKUP_FOUND, MAX_LOOKUP_KEYS, lookup_key
from .validation import check_request_partition
from .wire import MALFORMED, field, result_tail, timestamp, varint

if TYPE_CHECKING:
    from .service import DatastoreService

MEMO_SIZE = 1024  # distinct request bytes remembered


class FastLookup(NamedTuple):
    """A request this path answers: per key, its storage key and its bytes as the response gives it back."""

    keys: tuple[tuple[bytes, bytes], ...]
    eventual: bool


def classify(data: bytes) -> FastLookup | None:
    """The FastLookup of a serialized LookupRequest, or None when it needs the full path (anything else, or a
    request the full path refuses: it then answers with its own error)."""
    try:
        request = pb.LookupRequest.FromString(data)
    except Exception:
        return None
    options = request.read_options
    if request.HasField("property_mask") or options.WhichOneof("consistency_type") not in (None, "read_consistency"):
        return None  # masks, transactions and read_time
    project, database = request.project_id, request.database_id
    try:
        check_request_partition(project, database)
        if len(request.keys) > MAX_LOOKUP_KEYS:
            return None
        keys = []
        for key in request.keys:
            skey, fill = lookup_key(key.SerializeToString(), project, database)
            if fill:  # as the full path normalizes it
                key.partition_id.project_id, key.partition_id.database_id = project, database
            keys.append((skey, key.SerializeToString()))
    except Exception:
        return None
    return FastLookup(tuple(keys), options.read_consistency == pb.EVENTUAL)


def _entity(data: bytes, key: bytes) -> bytes:
    """A stored entity's bytes with `key` in place of its own (protobuf writes the key, field 1, first)."""
    if data[:1] == b"\x0a":
        at, length, shift = 1, 0, 0
        while True:  # the stored key's length, a varint
            byte = data[at]
            length |= (byte & 0x7F) << shift
            at += 1
            if byte < 0x80:
                break
            shift += 7
        data = data[at + length:]
    else:  # stored without a key (never written so): let protobuf merge
        entity = pb.Entity.FromString(data)
        entity.ClearField("key")
        data = entity.SerializeToString()
    return field(b"\x0a", key) + data


class FastLookups:
    """Lookup for the gRPC server: takes the request's bytes, answers reads outside transactions as bytes and
    hands every other request, parsed, to `service.lookup`."""

    def __init__(self, service: DatastoreService, size: int = MEMO_SIZE) -> None:
        self.service = service
        self._classify = functools.lru_cache(maxsize=size)(classify)

    def lookup(self, data: bytes) -> Any:
        """The response to a serialized LookupRequest: bytes (short path) or a LookupResponse."""
        fast = self._classify(data)
        if fast is not None:
            return self._answer(fast)
        try:
            request = pb.LookupRequest.FromString(data)
        except Exception:
            raise invalid(MALFORMED) from None
        return self.service.lookup(request)

    def _answer(self, fast: FastLookup) -> bytes:
        """Found, missing and deferred in request order, cut as DatastoreService._lookup_locked cuts them."""
        service = self.service
        storage = service.storage
        found: list[bytes] = []
        missing: list[bytes] = []
        deferred: list[bytes] = []
        size = count = 0
        with service.lock:
            snapshot = 0 if fast.eventual else storage.last_version()
            get = storage.get
            for skey, key in fast.keys:
                if size >= LOOKUP_BYTES or count >= LOOKUP_FOUND:
                    deferred += (b"\x1a", varint(len(key)), key)
                    continue
                record = get(skey)
                if record is None:
                    result = field(b"\x0a", field(b"\x0a", key)) + (b"\x20" + varint(snapshot) if snapshot else b"")
                    missing += (b"\x12", varint(len(result)), result)
                    continue
                result = field(b"\x0a", _entity(record.data, key)) + result_tail(
                    record.version, record.update_us, record.create_us)
                found += (b"\x0a", varint(len(result)), result)
                size += len(record.data)
                count += 1
        found += missing
        found += deferred
        found += (b"\x3a", timestamp(time.time_ns() // 1000))
        return b"".join(found)

