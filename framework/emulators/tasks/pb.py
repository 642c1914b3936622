"""The raw protobuf classes of google.cloud.tasks.v2, taken from google-cloud-tasks' proto-plus types."""

from __future__ import annotations

from google.cloud.tasks_v2.types import cloudtasks as _ct
from google.cloud.tasks_v2.types import queue as _queue
from google.cloud.tasks_v2.types import target as _target
from google.cloud.tasks_v2.types import task as _task
from google.protobuf import empty_pb2

Queue = _queue.Queue.pb()
RateLimits = _queue.RateLimits.pb()
RetryConfig = _queue.RetryConfig.pb()
Task = _task.Task.pb()
Attempt = _task.Attempt.pb()
AppEngineHttpRequest = _target.AppEngineHttpRequest.pb()
AppEngineRouting = _target.AppEngineRouting.pb()
HttpRequest = _target.HttpRequest.pb()

QUEUE_RUNNING = int(_queue.Queue.State.RUNNING)
QUEUE_PAUSED = int(_queue.Queue.State.PAUSED)
QUEUE_DISABLED = int(_queue.Queue.State.DISABLED)
VIEW_BASIC = int(_task.Task.View.BASIC)
VIEW_FULL = int(_task.Task.View.FULL)
METHODS: dict[int, str] = {
    v.number: v.name for v in HttpRequest.DESCRIPTOR.fields_by_name["http_method"].enum_type.values if v.number
}
METHOD_POST = int(_target.HttpMethod.POST)

Empty = empty_pb2.Empty
ListQueuesRequest = _ct.ListQueuesRequest.pb()
ListQueuesResponse = _ct.ListQueuesResponse.pb()
GetQueueRequest = _ct.GetQueueRequest.pb()
CreateQueueRequest = _ct.CreateQueueRequest.pb()
UpdateQueueRequest = _ct.UpdateQueueRequest.pb()
DeleteQueueRequest = _ct.DeleteQueueRequest.pb()
PurgeQueueRequest = _ct.PurgeQueueRequest.pb()
PauseQueueRequest = _ct.PauseQueueRequest.pb()
ResumeQueueRequest = _ct.ResumeQueueRequest.pb()
ListTasksRequest = _ct.ListTasksRequest.pb()
ListTasksResponse = _ct.ListTasksResponse.pb()
GetTaskRequest = _ct.GetTaskRequest.pb()
CreateTaskRequest = _ct.CreateTaskRequest.pb()
DeleteTaskRequest = _ct.DeleteTaskRequest.pb()
RunTaskRequest = _ct.RunTaskRequest.pb()
