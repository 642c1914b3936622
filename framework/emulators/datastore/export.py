"""Export and import of a whole store to and from a directory, on the admin surface as Google's emulators offer.

`POST /v1/projects/{p}:export` with `{"output_url_prefix": DIR}` (or the Firestore emulator's
`/emulator/v1/projects/{p}:export` with `{"export_directory": DIR}`) writes `DIR/<name>.overall_export_metadata`
(JSON: format, project, counts, data file) and `DIR/<name>.entities`: every entity of the project, each a 4-byte
big-endian length and the serialized Entity protobuf with its full key, so every value, meaning and index flag
round-trips exactly. `:import` with `{"input_url": FILE.overall_export_metadata}` (or `export_directory`)
upserts them all. Optional `entity_filter{kinds, namespace_ids}` narrows either. The files are this emulator's
own format, not the managed export's LevelDB files.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator
from typing import Any

from . import pb
from .encoding import escape
from .errors import invalid

FORMAT = "framework-datastore-export/1"
SUFFIX = ".overall_export_metadata"
_LENGTH = struct.Struct(">I")
_COMMIT_BYTES = 8 * 1024 * 1024  # under the 10 MiB a commit may carry


def _field(body: dict[str, Any], *names: str) -> Any:
    for name in names:
        if body.get(name):
            return body[name]
    return None


def _wanted(body: dict[str, Any]) -> tuple[set[str] | None, set[str] | None]:
    """The kinds and namespaces an entity_filter keeps (None = all)."""
    flt = _field(body, "entity_filter", "entityFilter") or {}
    if not isinstance(flt, dict):
        raise invalid("entity_filter must be an object with kinds and namespace_ids.")
    kinds = flt.get("kinds")
    namespaces = _field(flt, "namespace_ids", "namespaceIds")
    return (set(kinds) if kinds else None), (set(namespaces) if namespaces else None)


def _keep(entity: Any, kinds: set[str] | None, namespaces: set[str] | None) -> bool:
    return ((kinds is None or entity.key.path[-1].kind in kinds)
            and (namespaces is None or entity.key.partition_id.namespace_id in namespaces))


def export_store(service: Any, project: str, body: dict[str, Any]) -> dict[str, Any]:
    """Write the project's entities under the requested directory; the answer names the metadata file."""
    directory = _field(body, "output_url_prefix", "outputUrlPrefix", "export_directory", "exportDirectory")
    if not isinstance(directory, str):
        raise invalid("Give the directory to export to as output_url_prefix (or export_directory).")
    kinds, namespaces = _wanted(body)
    name = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime()) + f"_{time.time_ns() % 1_000_000:06d}"
    data_path = os.path.join(directory, name + ".entities")
    try:
        os.makedirs(directory, exist_ok=True)
        out = open(data_path, "wb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise invalid(f"Cannot write the export to {directory}: {exc}") from None
    count = 0
    with service.lock, out:
        lo = escape(project.encode())
        for _, record in service.storage.scan_entities(lo, lo + b"\xff"):
            entity = pb.Entity.FromString(record.data)
            if _keep(entity, kinds, namespaces):
                out.write(_LENGTH.pack(len(record.data)) + record.data)
                count += 1
        out.flush()
        os.fsync(out.fileno())
    metadata = {"format": FORMAT, "project": project, "entities": count, "data": os.path.basename(data_path)}
    meta_path = os.path.join(directory, name + SUFFIX)
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
    return {"done": True, "response": {"outputUrl": os.path.abspath(meta_path), "entities": count}}


def _metadata_file(location: str) -> str:
    """The metadata file named, or the newest one in the directory named."""
    if os.path.isdir(location):
        found = sorted(n for n in os.listdir(location) if n.endswith(SUFFIX))
        if not found:
            raise invalid(f"No {SUFFIX} file in {location}.")
        return os.path.join(location, found[-1])
    return location


def _records(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while head := f.read(_LENGTH.size):
            if len(head) != _LENGTH.size:
                raise invalid(f"{path} is truncated.")
            (size,) = _LENGTH.unpack(head)
            data = f.read(size)
            if len(data) != size:
                raise invalid(f"{path} is truncated.")
            yield data


def import_store(service: Any, project: str, body: dict[str, Any]) -> dict[str, Any]:
    """Upsert every entity of an export (into `project`, whatever project it came from)."""
    location = _field(body, "input_url", "inputUrl", "export_directory", "exportDirectory")
    if not isinstance(location, str):
        raise invalid("Give the export to import as input_url (its .overall_export_metadata file).")
    meta_path = _metadata_file(location)
    try:
        with open(meta_path, encoding="utf-8") as f:
            metadata = json.load(f)
    except (OSError, ValueError) as exc:
        raise invalid(f"Cannot read the export metadata {meta_path}: {exc}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise invalid(f"{meta_path} is not an export of this emulator (format {FORMAT}).")
    kinds, namespaces = _wanted(body)
    data_path = os.path.join(os.path.dirname(meta_path), str(metadata.get("data")))
    request, size, count = _commit_request(project, ""), 0, 0
    try:
        for data in _records(data_path):
            entity = pb.Entity()
            try:
                entity.ParseFromString(data)
            except Exception:  # protobuf's DecodeError: not an entity written by export
                raise invalid(f"{data_path} holds a record that is not an entity.") from None
            if not _keep(entity, kinds, namespaces):
                continue
            entity.key.partition_id.project_id = project
            database = entity.key.partition_id.database_id
            if request.mutations and (size + len(data) > _COMMIT_BYTES or database != request.database_id):
                service.commit(request)  # commits are per database; an export lists each database's together
                request, size = _commit_request(project, database), 0
            request.database_id = database
            request.mutations.add().upsert.CopyFrom(entity)
            size += len(data)
            count += 1
    except OSError as exc:
        raise invalid(f"Cannot read the export data {data_path}: {exc}") from None
    if request.mutations:
        service.commit(request)
    return {"done": True, "response": {"entities": count}}


def _commit_request(project: str, database: str) -> Any:
    return pb.CommitRequest(project_id=project, database_id=database, mode=pb.NON_TRANSACTIONAL)
