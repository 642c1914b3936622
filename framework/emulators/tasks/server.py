"""The gRPC server of google.cloud.tasks.v2.CloudTasks: its method table over the shared grpc_handlers."""

from __future__ import annotations

import logging

import grpc

from ..grpc_handlers import Method, build_grpc_server
from . import pb
from .service import CloudTasksService

SERVICE_NAME = "google.cloud.tasks.v2.CloudTasks"
MAX_MESSAGE = 8 * 1024 * 1024  # above the 1 MB task limit, so oversized tasks get the service's own error
WORKERS = 32

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


def build_server(service: CloudTasksService, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0 = any free port); returns it and its port."""
    methods = [Method(name, getattr(service, attr), request, response)
               for name, (attr, request, response) in _METHODS.items()]
    return build_grpc_server(SERVICE_NAME, methods, host, port, workers=WORKERS, max_message=MAX_MESSAGE, log=log)
