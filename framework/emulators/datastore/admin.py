"""The Datastore emulator's HTTP/1 side, like Google's emulator: the shared admin surface (admin_http.py) plus
the REST API (rest.py) at POST /v1/projects/{project}:{method}.

By default the multiplexer (mux.py) hands it the HTTP/1 connections that arrive on the emulator's single
port; with `--admin-port` it listens on a port of its own (ports.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from typing import Any

from ..admin_http import build_admin as build_admin_http

MAX_BODY = 64 * 1024 * 1024


def build_admin(service: Any, shutdown: Callable[[], None], hosts: Iterable[str] = ("127.0.0.1",)) -> ThreadingHTTPServer:
    """An unbound admin server (also serving the REST API); connections come via `process_request`.

    Requests from web pages (a foreign Host or Origin, see http_guard) are refused with a 403."""

    def rest(path: str, content_type: str, body: bytes) -> tuple[int, str, bytes] | None:
        if not path.startswith(("/v1/", "/emulator/v1/")):
            return None
        from .rest import handle  # protobuf's json_format only once a REST client calls

        return handle(service, path, content_type, body)

    return build_admin_http("DatastoreEmulator", reset=service.reset, shutdown=shutdown, max_body=MAX_BODY,
                            hosts=hosts, extra_post=rest)
