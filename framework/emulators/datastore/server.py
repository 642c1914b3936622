"""The gRPC server of google.datastore.v1.Datastore: the RPC table (rpcs.py) over the shared grpc_handlers."""

from __future__ import annotations

import logging

import grpc

from ..grpc_handlers import Method, build_grpc_server
from .rpcs import RPCS
from .service import DatastoreService

SERVICE_NAME = "google.datastore.v1.Datastore"
MAX_MESSAGE = 64 * 1024 * 1024
WORKERS = 128  # read-write Lookups may wait for an entity lock; keep threads for the lock holders

log = logging.getLogger("framework.emulators.datastore")


def build_server(service: DatastoreService, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0 = any free port); returns it and its port."""
    methods = [Method(rpc.name, getattr(service, rpc.method), rpc.request, rpc.response) for rpc in RPCS]
    return build_grpc_server(SERVICE_NAME, methods, host, port, workers=WORKERS, max_message=MAX_MESSAGE, log=log)
