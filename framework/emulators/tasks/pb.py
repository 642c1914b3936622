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

QUEUE_RUNNING = _queue.Queue.State.RUNNING.value
QUEUE_PAUSED = _queue.Queue.State.PAUSED.value
QUEUE_DISABLED = _queue.Queue.State.DISABLED.value
VIEW_BASIC = _task.Task.View.BASIC.value
VIEW_FULL = _task.Task.View.FULL.value
METHODS = {m.value: m.name for m in _target.HttpMethod if m.value}
METHOD_POST = _target.HttpMethod.POST.value

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
