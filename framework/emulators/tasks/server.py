"""The gRPC server of google.cloud.tasks.v2.CloudTasks, registered by hand from the raw protobuf classes."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc

from . import pb
from .names import TasksError
from .service import CloudTasksService

SERVICE_NAME = "google.cloud.tasks.v2.CloudTasks"
MAX_MESSAGE = 8 * 1024 * 1024  # above the 1 MB task limit, so oversized tasks get the service's own error

_METHODS = {
    "ListQueues": ("list_queues", pb.ListQueuesRequest, pb.ListQueuesResponse),
    "GetQueue": ("get_queue", pb.GetQueueRequest, pb.Queue),
    "CreateQueue": ("create_queue", pb.CreateQueueRequest, pb.Queue),
    "UpdateQueue": ("update_queue", pb.UpdateQueueRequest, pb.Queue),
    "DeleteQueue": ("delete_queue", pb.DeleteQueueRequest, pb.Empty),
    "PurgeQueue": ("purge_queue", pb.PurgeQueueRequest, pb.Queue),
    "PauseQueue": ("pause_queue", pb.PauseQueueRequest, pb.Queue),
    "ResumeQueue": ("resume_queue", pb.ResumeQueueRequest, pb.Queue),
    "ListTasks": ("list_tasks", pb.ListTasksRequest, pb.ListTasksResponse),
    "GetTask": ("get_task", pb.GetTaskRequest, pb.Task),
    "CreateTask": ("create_task", pb.CreateTaskRequest, pb.Task),
    "DeleteTask": ("delete_task", pb.DeleteTaskRequest, pb.Empty),
    "RunTask": ("run_task", pb.RunTaskRequest, pb.Task),
}

log = logging.getLogger("framework.emulators.tasks")


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
        except TasksError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), exc.message)
        except Exception as exc:  # a bug: say so as INTERNAL rather than a bare UNKNOWN
            log.exception("internal error in %s", getattr(method, "__name__", method))
            context.abort(grpc.StatusCode.INTERNAL, f"internal emulator error: {exc!r}")

    return handle


def build_server(service: CloudTasksService, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0 = any free port); returns it and its port."""
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            _handler(getattr(service, attr)),
            request_deserializer=_parser(request),
            response_serializer=response.SerializeToString,
        )
        for name, (attr, request, response) in _METHODS.items()
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="cloudtasks"),
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
