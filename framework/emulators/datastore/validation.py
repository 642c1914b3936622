"""Key, partition, value and entity rules of the real service, with its status codes and messages."""

from __future__ import annotations

import functools
import re
from typing import Any

from .errors import invalid

MAX_PATH = 100
MAX_KEY_BYTES = 6 * 1024
MAX_NAME_BYTES = 1500
MAX_INDEXED_BYTES = 1500
MAX_UNINDEXED_BYTES = 1_048_487
MAX_ENTITY_BYTES = 1_048_572
MAX_DEPTH = 20
INDEX_VALUE_MEANING = 18

_PARTITION_RE = re.compile(r"[A-Za-z\d.\-_]{1,100}")
_RESERVED_RE = re.compile(r"__.*__", re.DOTALL)


def is_reserved(name: str) -> bool:
    """Names like `__kind__` are reserved for the service."""
    return bool(_RESERVED_RE.fullmatch(name))


@functools.lru_cache(maxsize=256)  # every request checks these; a name that fails raises and is never cached
def check_request_partition(project: str, database: str) -> None:
    """The project and database of a request."""
    if not project:
        raise invalid("The project_id field is required.")
    if database == "(default)":
        raise invalid('The database_id "(default)" is not allowed; use "" for the default database.')
    for label, value in (("project id", project), ("database id", database)):
        if value and not _PARTITION_RE.fullmatch(value):
            raise invalid(f'The {label} "{value}" is invalid.')


def normalize_partition(partition: Any, project: str, database: str) -> None:
    """Fill an empty partition project with the request's, then require it to match the request."""
    _fill_partition(partition, project, database)
    if partition.project_id != project:
        raise invalid(f'mismatched project: the key\'s project "{partition.project_id}" is not "{project}".')
    if partition.database_id != database:
        raise invalid(
            f'mismatched database: the key\'s database "{partition.database_id}" is not "{database}".'
        )
    ns = partition.namespace_id
    if ns and not _PARTITION_RE.fullmatch(ns):
        raise invalid(f'Namespace "{ns}" is not a valid namespace name.')


def _fill_partition(partition: Any, project: str, database: str) -> None:
    """Keys stored as values may point anywhere; only an empty project is filled in."""
    if not partition.project_id:
        partition.project_id = project
        partition.database_id = database


def _check_name(label: str, name: str, reserved_ok: bool) -> None:
    if not name:
        raise invalid(f"The key path element {label} is the empty string.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise invalid(f"The key path element {label} is longer than {MAX_NAME_BYTES} bytes.")
    # Names match `__.*__`; for kinds the docs reserve every name starting with `__` (the safe reading).
    if not reserved_ok and (is_reserved(name) or (label == "kind" and name.startswith("__"))):
        raise invalid(f'The key path element {label} "{name}" is reserved.')


def check_key(
    key: Any, project: str, database: str, *, incomplete_ok: bool = False, reserved_ok: bool = False,
) -> None:
    """Validate (and normalize the partition of) a key used by a request."""
    normalize_partition(key.partition_id, project, database)
    check_path(key, incomplete_ok=incomplete_ok, reserved_ok=reserved_ok)
    if not reserved_ok and is_reserved(key.partition_id.namespace_id):
        raise invalid(f'The namespace "{key.partition_id.namespace_id}" is reserved and read-only.')


def check_path(key: Any, *, incomplete_ok: bool, reserved_ok: bool) -> None:
    """Path rules: 1..100 elements, kinds and names valid, ids non-zero, only the last one incomplete."""
    path = key.path
    if not path:
        raise invalid("A key must have at least one path element.")
    if len(path) > MAX_PATH:
        raise invalid(f"A key path cannot have more than {MAX_PATH} elements.")
    last = len(path) - 1
    for i, element in enumerate(path):
        _check_name("kind", element.kind, reserved_ok)
        which = element.WhichOneof("id_type")
        if which == "name":
            _check_name("name", element.name, reserved_ok)
        elif which == "id":
            if element.id == 0:
                raise invalid("Key path id is invalid. Must not be zero.")
        elif i != last:
            raise invalid("Key path element must not be incomplete except for the last element.")
        elif not incomplete_ok:
            raise invalid(f"Key path element must not be incomplete: [{element.kind}: ]")
    if key.ByteSize() > MAX_KEY_BYTES:
        raise invalid(f"The key is longer than {MAX_KEY_BYTES} bytes.")


def is_complete(key: Any) -> bool:
    return bool(key.path) and key.path[-1].WhichOneof("id_type") is not None


def _value_size(value: Any, which: str) -> int:
    if which == "string_value":
        return len(value.string_value.encode())
    if which == "blob_value":
        return len(value.blob_value)
    return 0


def _check_value(
    name: str, value: Any, project: str, database: str, depth: int, excluded: bool, in_array: bool,
) -> None:
    which = value.WhichOneof("value_type")
    if which is None:
        raise invalid(f'The value of property "{name}" has no value type set.')
    if value.meaning == INDEX_VALUE_MEANING:
        raise invalid(f'The value of property "{name}" has meaning {INDEX_VALUE_MEANING}, which is reserved.')
    # An excluded entity value excludes everything inside it (docs); whether the real service still applies
    # the 1,500-byte check to inner values not marked excluded is UNCONFIRMED: we accept them, so no
    # write the service may take is refused here.
    excluded = excluded or value.exclude_from_indexes
    size = _value_size(value, which)
    if not excluded and size > MAX_INDEXED_BYTES:
        raise invalid(f'The value of property "{name}" is longer than {MAX_INDEXED_BYTES} bytes.')
    if size > MAX_UNINDEXED_BYTES:
        raise invalid(f'The value of property "{name}" is longer than {MAX_UNINDEXED_BYTES} bytes.')
    if which == "array_value":
        if in_array:
            raise invalid(f'The property "{name}" contains an array value inside an array value.')
        if value.exclude_from_indexes:
            raise invalid(f'The array value of property "{name}" cannot set exclude_from_indexes; set it on '
                          "the elements.")
        for item in value.array_value.values:
            _check_value(name, item, project, database, depth, excluded, True)
    elif which == "entity_value":
        if depth >= MAX_DEPTH:
            raise invalid(f'The entity value of property "{name}" is nested more than {MAX_DEPTH} levels deep.')
        inner = value.entity_value
        if inner.HasField("key"):
            _fill_partition(inner.key.partition_id, project, database)
        _check_properties(inner, project, database, depth + 1, excluded)
    elif which == "key_value":
        _fill_partition(value.key_value.partition_id, project, database)
        check_path(value.key_value, incomplete_ok=True, reserved_ok=True)
    elif which == "timestamp_value":
        value.timestamp_value.nanos -= value.timestamp_value.nanos % 1000  # kept to the µs, rounded down
    elif which == "geo_point_value":
        # Range check UNCONFIRMED for the real service; rejecting is the safe side (ndb's GeoPt and
        # google-cloud-datastore refuse such points client-side too).
        point = value.geo_point_value
        if not (-90.0 <= point.latitude <= 90.0 and -180.0 <= point.longitude <= 180.0):
            raise invalid(f'The geo point value of property "{name}" is out of range.')


@functools.lru_cache(maxsize=4096)  # an app writes the same few names again and again; refusals raise, never kept
def _check_property_name(name: str) -> None:
    if not name:
        raise invalid("A property name must not be empty.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise invalid(f"The property name is longer than {MAX_NAME_BYTES} bytes.")
    if is_reserved(name):
        raise invalid(f'The property name "{name}" is reserved.')


def _check_properties(entity: Any, project: str, database: str, depth: int, excluded: bool) -> None:
    properties = entity.properties
    for name in properties:
        _check_property_name(name)
        _check_value(name, properties[name], project, database, depth, excluded, False)


def check_entity(entity: Any, project: str, database: str, *, incomplete_ok: bool) -> None:
    """Validate an entity being written: its key, property names, values and total size."""
    if not entity.HasField("key"):
        raise invalid("The entity is missing its key.")
    check_key(entity.key, project, database, incomplete_ok=incomplete_ok)
    check_entity_body(entity, project, database)


def check_entity_body(entity: Any, project: str, database: str) -> None:
    """Validate an entity's property names, values and total size (its key checked already)."""
    _check_properties(entity, project, database, 1, False)
    if entity.ByteSize() > MAX_ENTITY_BYTES:
        raise invalid(f"entity is too big: {entity.ByteSize()} bytes (the limit is {MAX_ENTITY_BYTES}).")
