"""A gRPC server for an emulator's service, registered by hand from the raw protobuf classes.

Shared by the emulators: a request whose bytes do not parse is INVALID_ARGUMENT (not a bare UNKNOWN), a
ServiceError becomes its status, and any other exception is INTERNAL, logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import Any, NamedTuple

import grpc

from .errors import ServiceError


class Method(NamedTuple):
    """One unary RPC: its gRPC method name, the service's callable and the request and response classes."""

    name: str
    call: Callable[[Any], Any]
    request: Any
    response: Any


class _Malformed:
    """Stands in for a request whose bytes did not parse, so the handler can answer INVALID_ARGUMENT."""


def _parser(message_class: Any) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except Exception:
            return _Malformed()

    return parse


def _handler(call: Callable[[Any], Any], log: logging.Logger) -> Callable[[Any, grpc.ServicerContext], Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The request is not a valid protocol buffer message.")
        try:
            return call(request)
        except ServiceError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        except Exception as exc:  # a bug: say so as INTERNAL rather than a bare UNKNOWN
            log.exception("internal error in %s", getattr(call, "__name__", call))
            context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error: {exc!r}")

    return handle


def build_grpc_server(service_name: str, methods: Iterable[Method], host: str, port: int, *, workers: int,
                      max_message: int, log: logging.Logger) -> tuple[grpc.Server, int]:
    """A started gRPC server of `service_name` on host:port (0 = any free port); returns it and its port."""
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            _handler(method.call, log),
            request_deserializer=_parser(method.request),
            response_serializer=method.response.SerializeToString,
        )
        for method in methods
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=service_name.rsplit(".", 1)[-1]),
        handlers=[grpc.method_handlers_generic_handler(service_name, handlers)],
        options=[
            ("grpc.max_receive_message_length", max_message),
            ("grpc.max_send_message_length", max_message),
            ("grpc.so_reuseport", 0),
        ],
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound
