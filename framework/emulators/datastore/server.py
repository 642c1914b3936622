"""The gRPC server of google.datastore.v1.Datastore: the RPC table (rpcs.py) over the shared grpc_handlers.

Lookup and RunQuery take their request's bytes unparsed, so reads outside transactions and the common query answer
without a parse (fast_lookup.py, fast_query.py).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from ..grpc_handlers import Method, build_grpc_server
from .fast_lookup import FastLookups
from .fast_query import FastQueries
from .rpcs import RPCS
from .service import DatastoreService

SERVICE_NAME = "google.datastore.v1.Datastore"
MAX_MESSAGE = 64 * 1024 * 1024
WORKERS = 128  # read-write Lookups may wait for an entity lock; keep threads for the lock holders

log = logging.getLogger("framework.emulators.datastore")


class RawRequest:
    """In place of a request class: hands the handler the request's bytes as they came."""

    @staticmethod
    def FromString(data: bytes) -> bytes:
        return data


class EncodedOr:
    """In place of a response class: bytes already encoded go out as they are, messages are serialized."""

    @staticmethod
    def SerializeToString(response: Any) -> bytes:
        return response if response.__class__ is bytes else response.SerializeToString()


def build_server(service: DatastoreService, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0 = any free port); returns it and its port."""
    methods = [Method(rpc.name, getattr(service, rpc.method), rpc.request, rpc.response) for rpc in RPCS
               if rpc.name not in ("Lookup", "RunQuery")]
    methods.append(Method("Lookup", FastLookups(service).lookup, RawRequest, EncodedOr))
    methods.append(Method("RunQuery", FastQueries(service).run_query, RawRequest, EncodedOr))
    return build_grpc_server(SERVICE_NAME, methods, host, port, workers=WORKERS, max_message=MAX_MESSAGE, log=log)
