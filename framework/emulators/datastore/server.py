"""The gRPC server of google.datastore.v1.Datastore, registered by hand from the raw protobuf classes."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc

from .errors import DatastoreError
from .rpcs import RPCS
from .service import DatastoreService

SERVICE_NAME = "google.datastore.v1.Datastore"
MAX_MESSAGE = 64 * 1024 * 1024
WORKERS = 128  # read-write Lookups may wait for an entity lock; keep threads for the lock holders

log = logging.getLogger("framework.emulators.datastore")


class _Malformed:
    """Stands in for a request whose bytes did not parse, so the handler can answer INVALID_ARGUMENT."""


def _parser(message_class: Any) -> Any:
    def parse(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except Exception:
            return _Malformed()

    return parse


def _handler(method: Any) -> Any:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The request is not a valid protocol buffer message.")
        try:
            return method(request)
        except DatastoreError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        except Exception as exc:  # a bug: say so as INTERNAL rather than a bare UNKNOWN
            log.exception("internal error in %s", getattr(method, "__name__", method))
            context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error: {exc!r}")

    return handle


def build_server(service: DatastoreService, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0 = any free port); returns it and its port."""
    handlers = {
        rpc.name: grpc.unary_unary_rpc_method_handler(
            _handler(getattr(service, rpc.method)),
            request_deserializer=_parser(rpc.request),
            response_serializer=rpc.response.SerializeToString,
        )
        for rpc in RPCS
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="datastore"),
        handlers=[grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.so_reuseport", 0),
        ],
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound
