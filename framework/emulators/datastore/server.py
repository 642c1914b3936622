"""The gRPC server of google.datastore.v1.Datastore, registered by hand from the raw protobuf classes."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc

from . import pb
from .errors import DatastoreError
from .service import DatastoreService

SERVICE_NAME = "google.datastore.v1.Datastore"
MAX_MESSAGE = 64 * 1024 * 1024
WORKERS = 128  # read-write Lookups may wait for an entity lock; keep threads for the lock holders

_METHODS = {
    "Lookup": ("lookup", pb.LookupRequest, pb.LookupResponse),
    "RunQuery": ("run_query", pb.RunQueryRequest, pb.RunQueryResponse),
    "RunAggregationQuery": ("run_aggregation_query", pb.RunAggregationQueryRequest, pb.RunAggregationQueryResponse),
    "BeginTransaction": ("begin_transaction", pb.BeginTransactionRequest, pb.BeginTransactionResponse),
    "Commit": ("commit", pb.CommitRequest, pb.CommitResponse),
    "Rollback": ("rollback", pb.RollbackRequest, pb.RollbackResponse),
    "AllocateIds": ("allocate_ids", pb.AllocateIdsRequest, pb.AllocateIdsResponse),
    "ReserveIds": ("reserve_ids", pb.ReserveIdsRequest, pb.ReserveIdsResponse),
}

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
        name: grpc.unary_unary_rpc_method_handler(
            _handler(getattr(service, attr)),
            request_deserializer=_parser(req),
            response_serializer=resp.SerializeToString,
        )
        for name, (attr, req, resp) in _METHODS.items()
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
