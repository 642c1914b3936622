"""Order-preserving byte encodings of values, keys and partitions.

Comparing two encodings byte-wise gives Datastore's order (null < integers/timestamps < booleans < blobs <
strings < doubles < NaN < geo points < keys), so every filter, sort and cursor is a range scan.
Points the docs leave UNCONFIRMED, decided as they recommend: integers and timestamps interleave by their
int64 value (timestamps as µs); -0.0 equals 0.0; key values from different partitions order by partition
first (project, database, namespace), as the legacy service did.
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Any

# Type tags, in Datastore's cross-type order.
NULL, FIXED, BOOL, BLOB, STRING, DOUBLE, NAN, GEO, KEY = (bytes([t]) for t in range(0x10, 0xA0, 0x10))
_INT_SUB, _TIME_SUB = b"\x01", b"\x02"
_ELEMENT, _END = b"\x02", b"\x01"
_INCOMPLETE, _ID, _NAME = b"\x00", b"\x01", b"\x02"
_SIGN = 1 << 63


def escape(data: bytes) -> bytes:
    """Self-delimiting, order-preserving form of a byte string (0x00 -> 0x00 0xFF, then 0x00 0x01)."""
    return data.replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def unescape(data: bytes, pos: int) -> tuple[bytes, int]:
    """Read an escaped byte string starting at `pos`; return it and the position after it."""
    out = bytearray()
    while True:
        nul = data.index(b"\x00", pos)
        out += data[pos:nul]
        if data[nul + 1] == 0x01:
            return bytes(out), nul + 2
        out += b"\x00"
        pos = nul + 2


def encode_int(value: int) -> bytes:
    return struct.pack(">Q", value + _SIGN)


def decode_int(data: bytes, pos: int) -> int:
    return struct.unpack_from(">Q", data, pos)[0] - _SIGN


def encode_double(value: float) -> bytes:
    """Doubles in numeric order (−0.0 is stored as 0.0; NaN has its own tag)."""
    if value == 0.0:
        value = 0.0
    bits = struct.unpack(">Q", struct.pack(">d", value))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits & _SIGN else bits | _SIGN
    return struct.pack(">Q", bits)


@functools.lru_cache(maxsize=1024)
def partition_prefix(project: str, database: str, namespace: str) -> bytes:
    """The byte prefix under which everything of one (project, database, namespace) is stored."""
    return escape(project.encode()) + escape(database.encode()) + escape(namespace.encode())


def _element(element: Any) -> bytes:
    kind = _ELEMENT + escape(element.kind.encode())
    which = element.WhichOneof("id_type")
    if which == "id":
        return kind + _ID + encode_int(element.id)
    if which == "name":
        return kind + _NAME + escape(element.name.encode())
    return kind + _INCOMPLETE


def path_prefix(key: Any) -> bytes:
    """Encoding shared by a key and all its descendants (the key's path without the end marker)."""
    return b"".join(_element(e) for e in key.path)


def encode_path(key: Any) -> bytes:
    """A key's path in key order: element by element, ids before names, ancestors before descendants."""
    return path_prefix(key) + _END


def decode_path(data: bytes, pos: int = 0) -> list[tuple[str, int | None, str | None]]:
    """Parse an encoded path back into (kind, id, name) elements."""
    elements: list[tuple[str, int | None, str | None]] = []
    while data[pos:pos + 1] == _ELEMENT:
        kind, pos = unescape(data, pos + 1)
        tag = data[pos:pos + 1]
        pos += 1
        if tag == _ID:
            elements.append((kind.decode(), decode_int(data, pos), None))
            pos += 8
        elif tag == _NAME:
            name, pos = unescape(data, pos)
            elements.append((kind.decode(), None, name.decode()))
        else:
            elements.append((kind.decode(), None, None))
    return elements


def encode_key(key: Any) -> bytes:
    """A key with its partition, for keys used as property values (partition first, then path)."""
    p = key.partition_id
    return partition_prefix(p.project_id, p.database_id, p.namespace_id) + encode_path(key)


def timestamp_micros(ts: Any) -> int:
    """Datastore keeps microseconds: extra precision is rounded down."""
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def encode_value(value: Any) -> bytes | None:
    """Index encoding of a scalar value; None for arrays and entities (indexed per element / sub-property)."""
    which = value.WhichOneof("value_type")
    if which == "null_value" or which is None:
        return NULL
    if which == "integer_value":
        return FIXED + encode_int(value.integer_value) + _INT_SUB
    if which == "timestamp_value":
        return FIXED + encode_int(timestamp_micros(value.timestamp_value)) + _TIME_SUB
    if which == "boolean_value":
        return BOOL + (b"\x01" if value.boolean_value else b"\x00")
    if which == "blob_value":
        return BLOB + escape(value.blob_value)
    if which == "string_value":
        return STRING + escape(value.string_value.encode())
    if which == "double_value":
        d = value.double_value
        return NAN if math.isnan(d) else DOUBLE + encode_double(d)
    if which == "geo_point_value":
        g = value.geo_point_value
        return GEO + encode_double(g.latitude) + encode_double(g.longitude)
    if which == "key_value":
        return KEY + encode_key(value.key_value)
    return None


def _collect(props: Any, prefix: str, out: dict[str, set[bytes]]) -> None:
    for name, value in props.items():
        path = prefix + name
        which = value.WhichOneof("value_type")
        items = value.array_value.values if which == "array_value" else (value,)
        for item in items:
            if item.exclude_from_indexes:
                continue
            if item.WhichOneof("value_type") == "entity_value":
                _collect(item.entity_value.properties, path + ".", out)
                continue
            encoded = encode_value(item)
            if encoded is not None:
                out.setdefault(path, set()).add(encoded)


def index_values(entity: Any) -> dict[str, set[bytes]]:
    """Every indexed property path of an entity and its distinct encoded values.

    Arrays are indexed per element, entity values per sub-property ("a.b"); excluded values are skipped.
    """
    out: dict[str, set[bytes]] = {}
    _collect(entity.properties, "", out)
    return out


def _skip_escaped(data: bytes, pos: int) -> int:
    while True:
        nul = data.index(b"\x00", pos)
        if data[nul + 1] == 0x01:
            return nul + 2
        pos = nul + 2


def value_end(data: bytes, pos: int = 0) -> int:
    """Where the encoded value starting at `pos` ends (encodings are self-delimiting)."""
    tag = data[pos:pos + 1]
    if tag in (NULL, NAN):
        return pos + 1
    if tag == FIXED:
        return pos + 10
    if tag == BOOL:
        return pos + 2
    if tag in (BLOB, STRING):
        return _skip_escaped(data, pos + 1)
    if tag == DOUBLE:
        return pos + 9
    if tag == GEO:
        return pos + 17
    if tag == KEY:
        pos += 1
        for _ in range(3):
            pos = _skip_escaped(data, pos)
        while data[pos:pos + 1] == _ELEMENT:
            pos = _skip_escaped(data, pos + 1)
            kind = data[pos:pos + 1]
            pos = pos + 9 if kind == _ID else (_skip_escaped(data, pos + 1) if kind == _NAME else pos + 1)
        return pos + 1
    raise ValueError("not an encoded value")
