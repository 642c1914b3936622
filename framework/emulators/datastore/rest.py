"""The REST transport of the v1 API: POST /v1/projects/{project}:{method} with protobuf or JSON bodies.

google-cloud-datastore uses it with GOOGLE_CLOUD_DISABLE_GRPC (application/x-protobuf; errors as a serialized
google.rpc.Status), other clients with JSON (proto3 JSON mapping; errors as {"error": {...}}).
"""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf import json_format
from google.rpc import status_pb2

from .errors import DatastoreError
from .rpcs import BY_VERB

PATH = re.compile(r"^(?:/emulator)?/v1/projects/([^/:]+):([A-Za-z]+)$")
_ADMIN_VERBS = ("export", "import")  # JSON only, on the whole store (export.py)
# google.rpc code numbers and HTTP statuses of the codes the service raises.
_CODES = {
    "INVALID_ARGUMENT": (3, 400), "NOT_FOUND": (5, 404), "ALREADY_EXISTS": (6, 409), "ABORTED": (10, 409),
    "FAILED_PRECONDITION": (9, 400), "UNIMPLEMENTED": (12, 501), "INTERNAL": (13, 500),
}


def handle(service: Any, path: str, content_type: str, body: bytes) -> tuple[int, str, bytes] | None:
    """(status, content type, body) of a REST call, or None when `path` is not an API path."""
    match = PATH.match(path)
    if match is None:
        return None
    project, method = match.groups()
    use_json = "json" in content_type or method in _ADMIN_VERBS
    try:
        if method in _ADMIN_VERBS:
            return _admin(service, project, method, body)
        rpc = BY_VERB.get(method)
        if rpc is None or path.startswith("/emulator/"):
            raise DatastoreError("NOT_FOUND", f"Unknown method {method}.")
        try:
            request = (json_format.Parse(body or b"{}", rpc.request()) if use_json
                       else rpc.request.FromString(body))
        except Exception:
            raise DatastoreError("INVALID_ARGUMENT", "The request body is not a valid request message.") from None
        if not request.project_id:
            request.project_id = project
        response = getattr(service, rpc.method)(request)
    except DatastoreError as exc:
        return _error(exc.code, exc.message, use_json)
    except Exception as exc:  # a bug: say so as INTERNAL
        return _error("INTERNAL", f"internal emulator error: {exc!r}", use_json)
    if use_json:
        return 200, "application/json", json_format.MessageToJson(response).encode()
    return 200, "application/x-protobuf", response.SerializeToString()


def _admin(service: Any, project: str, method: str, body: bytes) -> tuple[int, str, bytes]:
    """:export / :import of the whole store, JSON in and out."""
    from .export import export_store, import_store

    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = None
    if not isinstance(request, dict):
        raise DatastoreError("INVALID_ARGUMENT", "The request body must be a JSON object.")
    answer = (export_store if method == "export" else import_store)(service, project, request)
    return 200, "application/json", json.dumps(answer).encode()


def _error(code: str, message: str, use_json: bool) -> tuple[int, str, bytes]:
    number, http = _CODES.get(code, (2, 500))
    if use_json:
        body = json.dumps({"error": {"code": http, "message": message, "status": code}}).encode()
        return http, "application/json", body
    return http, "application/x-protobuf", status_pb2.Status(code=number, message=message).SerializeToString()
