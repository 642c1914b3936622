"""Metadata queries: __namespace__, __kind__ and __property__, read from the indexes by skip scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import encoding as enc
from . import pb
from .encoding import encode_path, escape, unescape
from .storage import Record, Storage

KINDS = ("__namespace__", "__kind__", "__property__")
_TOP = b"\xff"
_REPRESENTATION = {
    enc.NULL: "NULL", enc.FIXED: "INT64", enc.BOOL: "BOOLEAN", enc.BLOB: "STRING", enc.STRING: "STRING",
    enc.DOUBLE: "DOUBLE", enc.NAN: "DOUBLE", enc.GEO: "POINT", enc.KEY: "REFERENCE",
}


def _distinct(storage: Storage, prefix: bytes, index: bool) -> Iterator[bytes]:
    """Distinct escaped strings that follow `prefix` in the index (or entity table), by seeking past each."""
    scan = storage.scan_index if index else storage.scan_entities
    lo = prefix
    while True:
        row = next(scan(lo, prefix + _TOP), None)
        if row is None:
            return
        name, end = unescape(row[0], len(prefix))
        yield name
        lo = row[0][:end] + _TOP


def _key(partition: Any, *path: tuple[str, str | int]) -> Any:
    key = pb.Key()
    key.partition_id.CopyFrom(partition)
    for kind, ident in path:
        element = key.path.add(kind=kind)
        if isinstance(ident, int):
            element.id = ident
        else:
            element.name = ident
    return key


def metadata_entities(storage: Storage, kind: str, partition: Any, ns: bytes) -> list[Any]:
    """The entities of a metadata kind, in key order."""
    out = []
    if kind == "__namespace__":
        db_prefix = escape(partition.project_id.encode()) + escape(partition.database_id.encode())
        for name in _distinct(storage, db_prefix, False):
            e = pb.Entity()
            ident: str | int = name.decode() if name else 1
            e.key.CopyFrom(_key(_default_ns(partition), ("__namespace__", ident)))
            out.append(e)
    elif kind == "__kind__":
        for name in _distinct(storage, b"K" + ns, True):
            e = pb.Entity()
            e.key.CopyFrom(_key(partition, ("__kind__", name.decode())))
            out.append(e)
    else:
        for kind_name in _distinct(storage, b"K" + ns, True):
            kind_prefix = b"P" + ns + escape(kind_name)
            for prop in _distinct(storage, kind_prefix, True):
                e = pb.Entity()
                e.key.CopyFrom(_key(partition, ("__kind__", kind_name.decode()), ("__property__", prop.decode())))
                reps = []
                value_prefix = kind_prefix + escape(prop)
                lo = value_prefix
                while (row := next(storage.scan_index(lo, value_prefix + _TOP), None)) is not None:
                    tag = row[0][len(value_prefix):len(value_prefix) + 1]
                    rep = _REPRESENTATION.get(tag)
                    if rep and rep not in reps:
                        reps.append(rep)
                    lo = value_prefix + bytes([tag[0] + 1])
                arr = e.properties["property_representation"].array_value
                for rep in reps:
                    arr.values.add().string_value = rep
                out.append(e)
    out.sort(key=lambda e: encode_path(e.key))
    return out


def _default_ns(partition: Any) -> Any:
    p = pb.PartitionId()
    p.CopyFrom(partition)
    p.namespace_id = ""
    return p


def metadata_rows(storage: Storage, kind: str, partition: Any, ns: bytes) -> Iterator[tuple[bytes, bytes, Record]]:
    """(path position, storage key, synthetic record) per metadata entity; `ns` is the partition's prefix."""
    for e in metadata_entities(storage, kind, partition, ns):
        path = encode_path(e.key)
        yield path, ns + path, Record(1, 0, 0, e.SerializeToString())
