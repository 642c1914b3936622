"""google.cloud.tasks.v2.CloudTasks: the queue and task RPCs over `State`, with the service's errors.

Behaviour taken from the google.cloud.tasks.v2 reference and the Cloud Tasks quotas page (cited inline);
where they are silent the safer choice is made and marked UNCONFIRMED.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import pb
from .config import normalize, normalize_retry, queue_from_spec, seconds
from .names import (
    EXISTS_MESSAGE,
    QUEUE_GONE_MESSAGE,
    QUEUE_MISSING_MESSAGE,
    QUEUE_TOMBSTONE_MESSAGE,
    TASK_TOMBSTONE_MESSAGE,
    QueueName,
    TasksError,
    check_routing,
    invalid,
    not_found,
    parse_parent,
    parse_queue,
    parse_task,
)
from .queue_yaml import QueueSpec
from .state import QueueState, State, TaskState, has_retry_config, now_us, set_ts, ts_us

MAX_TASK_BYTES = 1024 * 1024  # quotas page: "Maximum task size 1 MB" (an older CreateTask doc said 100 KB)
MAX_SCHEDULE_AHEAD = 30 * 86400  # quotas page: tasks can be scheduled at most 30 days ahead
MAX_URI = 2083
QUEUE_TOMBSTONE = 7 * 86400  # quotas page: 7 days before a deleted queue's name can be reused
TASK_DEDUP_API = 3600.0  # quotas page: ~1 hour for queues made through the API
TASK_DEDUP_YAML = 9 * 86400.0  # CreateTask reference: ~9 days for queue.yaml queues
MAX_QUEUE_PAGE = 9800
MAX_TASK_PAGE = 1000
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field names
_URI_TEXT = re.compile(r"[^\x00-\x20\x7f]+")  # a URL that an HTTP request line can carry as it is
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_FILTER = re.compile(r"\s*state\s*(?::|=)\s*\"?([A-Z_]+)\"?\s*")
_STATES = {"RUNNING": pb.QUEUE_RUNNING, "PAUSED": pb.QUEUE_PAUSED, "DISABLED": pb.QUEUE_DISABLED}
_MUTABLE = {"app_engine_routing_override", "http_target", "rate_limits", "retry_config", "stackdriver_logging_config"}
_OUTPUT_ONLY = {"name", "state", "purge_time", "rate_limits.max_burst_size"}
# App Engine deadlines: [15 s, 24 h 15 s]; HTTP targets: [15 s, 30 min] (Task.dispatch_deadline reference).
_DEADLINES = {"app": (15.0, 86415.0), "http": (15.0, 1800.0)}


class CloudTasksService:
    """Every RPC takes the raw request message and returns the raw response, or raises TasksError."""

    def __init__(self, state: State, specs: list[QueueSpec], dedup_window: float | None = None, *,
                 from_yaml: bool = True) -> None:
        self.state = state
        self.specs = {spec.name: spec for spec in specs}
        self.from_yaml = from_yaml  # False: the only spec is the built-in `default` (no queue.yaml given)
        self.dedup_window = dedup_window
        self.run_now: Callable[[QueueState, TaskState], None] | None = None  # set by the dispatcher

    # --- queues -----------------------------------------------------------------------------------

    def _materialize(self, name: QueueName) -> QueueState | None:
        """queue.yaml queues (and `default`) exist in every project and location until deleted there."""
        spec = self.specs.get(name.queue)
        key = str(name)
        if spec is None or key in self.state.queues or self.state.tombstoned(key):
            return self.state.queues.get(key)
        queue = QueueState(queue_from_spec(key, spec), from_yaml=self.from_yaml)
        self.state.queues[key] = queue
        self.state.journal.put_queue(key, queue.msg.SerializeToString(), self.from_yaml)
        return queue

    def _queue(self, text: str, field: str = "name") -> QueueState:
        queue = self._materialize(parse_queue(text, field))
        if queue is None:
            raise not_found()
        return queue

    def _save_queue(self, queue: QueueState) -> None:
        self.state.journal.put_queue(queue.name, queue.msg.SerializeToString(), queue.from_yaml)
        self.state.wake.notify_all()

    def create_queue(self, request: Any) -> Any:
        parent = parse_parent(request.parent)
        name = parse_queue(request.queue.name, "queue.name")
        if name.parent != parent:
            raise invalid(f"Queue name {request.queue.name!r} is not in the parent location {parent!r}.")
        with self.state.lock:
            if self._materialize(name) is not None:
                raise TasksError("ALREADY_EXISTS", EXISTS_MESSAGE)
            if self.state.tombstoned(str(name)):
                raise TasksError("FAILED_PRECONDITION", QUEUE_TOMBSTONE_MESSAGE)
            msg = pb.Queue()
            msg.CopyFrom(request.queue)
            for output_only in ("state", "purge_time"):  # AIP-203: output-only input is ignored
                msg.ClearField(output_only)
            normalize(msg)
            msg.state = pb.QUEUE_RUNNING
            queue = QueueState(msg)
            self.state.queues[str(name)] = queue
            self._save_queue(queue)
            return _copy(msg)

    def get_queue(self, request: Any) -> Any:
        with self.state.lock:
            return _copy(self._queue(request.name).msg)

    def list_queues(self, request: Any) -> Any:
        parent = parse_parent(request.parent)
        wanted = None
        if request.filter.strip():
            match = _FILTER.fullmatch(request.filter)
            if not match or match[1] not in _STATES:
                raise invalid(f"Unsupported filter {request.filter!r}: the emulator understands "
                              "'state: RUNNING|PAUSED|DISABLED'.")
            wanted = _STATES[match[1]]
        size = _page_size(request.page_size, MAX_QUEUE_PAGE)
        start = _page_start(request.page_token)
        with self.state.lock:
            project, location = parent.split("/")[1], parent.split("/")[3]
            for queue_id in self.specs:
                self._materialize(QueueName(project, location, queue_id))
            names = sorted(n for n, q in self.state.queues.items()
                           if n.startswith(parent + "/queues/") and n > start
                           and (wanted is None or q.msg.state == wanted))
            response = pb.ListQueuesResponse()
            for n in names[:size]:
                response.queues.add().CopyFrom(self.state.queues[n].msg)
            if len(names) > size:
                response.next_page_token = _token(names[size - 1])
            return response

    def update_queue(self, request: Any) -> Any:
        """UpdateQueue creates the queue when it does not exist (per the reference), else applies the mask."""
        name = parse_queue(request.queue.name, "queue.name")
        paths = list(request.update_mask.paths)
        for path in paths:
            if path in _OUTPUT_ONLY or path.startswith("state"):
                raise invalid(f"update_mask path {path!r} is output only and cannot be updated.")
            if path.split(".")[0] not in _MUTABLE:
                raise invalid(f"update_mask path {path!r} is not a field of Queue.")
        with self.state.lock:
            queue = self._materialize(name)
            if queue is None:
                if self.state.tombstoned(str(name)):
                    raise TasksError("FAILED_PRECONDITION", QUEUE_TOMBSTONE_MESSAGE)
                return self.create_queue(pb.CreateQueueRequest(parent=name.parent, queue=request.queue))
            msg = pb.Queue()
            msg.CopyFrom(queue.msg)
            if paths:
                for path in paths:
                    _copy_path(request.queue, msg, path)
            else:  # no mask: every mutable field that is set in the request
                for top in _MUTABLE:
                    if request.queue.HasField(top):
                        getattr(msg, top).CopyFrom(getattr(request.queue, top))
            normalize(msg)
            queue.msg = msg
            # An update through the API makes a queue.yaml queue an API queue from now on (UNCONFIRMED).
            queue.from_yaml = False
            queue.tokens = min(queue.tokens, float(msg.rate_limits.max_burst_size))
            self._save_queue(queue)
            return _copy(msg)

    def delete_queue(self, request: Any) -> Any:
        with self.state.lock:
            queue = self._queue(request.name)
            until = time.time() + QUEUE_TOMBSTONE
            self.state.journal.delete_queue(queue.name, until)
            del self.state.queues[queue.name]
            self.state.tombstones[queue.name] = until
            return pb.Empty()

    def purge_queue(self, request: Any) -> Any:
        with self.state.lock:
            queue = self._queue(request.name)
            self.state.drop_tasks(queue, list(queue.tasks), self._window(queue))
            set_ts(queue.msg.purge_time, now_us())
            self._save_queue(queue)
            return _copy(queue.msg)

    def _set_state(self, request: Any, state: int) -> Any:
        with self.state.lock:
            queue = self._queue(request.name)
            queue.msg.state = state
            self._save_queue(queue)
            return _copy(queue.msg)

    def pause_queue(self, request: Any) -> Any:
        return self._set_state(request, pb.QUEUE_PAUSED)

    def resume_queue(self, request: Any) -> Any:
        return self._set_state(request, pb.QUEUE_RUNNING)

    # --- tasks ------------------------------------------------------------------------------------

    def _window(self, queue: QueueState) -> float:
        if self.dedup_window is not None:
            return self.dedup_window
        return TASK_DEDUP_YAML if queue.from_yaml else TASK_DEDUP_API

    def _task_queue(self, parent: str) -> QueueState:
        """The queue a new task goes to: a missing queue is FAILED_PRECONDITION, as the service answers."""
        name = parse_queue(parent, "parent")
        queue = self._materialize(name)
        if queue is None:
            gone = self.state.tombstoned(str(name))
            raise TasksError("FAILED_PRECONDITION", QUEUE_GONE_MESSAGE if gone else QUEUE_MISSING_MESSAGE)
        return queue

    def create_task(self, request: Any) -> Any:
        msg = pb.Task()
        msg.CopyFrom(request.task)
        _check_task(msg)
        with self.state.lock:
            queue = self._task_queue(request.parent)
            if msg.name:
                name = parse_task(msg.name, "task.name")
                if str(name.queue) != queue.name:
                    raise invalid(f"Task name {msg.name!r} is not in the queue {queue.name!r}.")
                if msg.name in queue.tasks:
                    raise TasksError("ALREADY_EXISTS", EXISTS_MESSAGE)
                if self.state.tombstoned(msg.name):
                    raise TasksError("ALREADY_EXISTS", TASK_TOMBSTONE_MESSAGE)
            else:
                msg.name = f"{queue.name}/tasks/{secrets.randbits(63)}"
            now = now_us()
            if not msg.HasField("schedule_time") or ts_us(msg.schedule_time) < now:
                set_ts(msg.schedule_time, now)
            elif ts_us(msg.schedule_time) > now + MAX_SCHEDULE_AHEAD * 1_000_000:
                raise invalid("The task's schedule_time is more than 30 days in the future.")
            set_ts(msg.create_time, now // 1_000_000 * 1_000_000)  # create_time is truncated to the second
            if msg.HasField("app_engine_http_request"):
                _set_routing(queue, msg)
            msg.view = pb.VIEW_BASIC
            task = TaskState(msg, self.state.next_seq(), named=bool(request.task.name))
            self.state.save_task(queue, task)  # durable before the answer: an acknowledged task is kept
            queue.tasks[msg.name] = task
            queue.push(task)
            self.state.wake.notify_all()
            return _view(msg, request.response_view)

    def get_task(self, request: Any) -> Any:
        with self.state.lock:
            queue, task = self._task(request.name)
            return _view(task.msg, request.response_view)

    def _task(self, text: str) -> tuple[QueueState, TaskState]:
        name = parse_task(text)
        queue = self._materialize(name.queue)
        task = queue.tasks.get(text) if queue is not None else None
        if queue is None or task is None:
            raise not_found()
        return queue, task

    def list_tasks(self, request: Any) -> Any:
        size = _page_size(request.page_size, MAX_TASK_PAGE)
        start = _page_start(request.page_token)
        with self.state.lock:
            queue = self._queue(request.parent, "parent")
            ordered = sorted(queue.tasks.values(), key=lambda t: (t.due_us, t.seq))
            keys = [f"{t.due_us:020d}/{t.seq:020d}" for t in ordered]
            chosen = [(k, t) for k, t in zip(keys, ordered, strict=True) if k > start]
            response = pb.ListTasksResponse()
            for _, task in chosen[:size]:
                response.tasks.add().CopyFrom(_view(task.msg, request.response_view))
            if len(chosen) > size:
                response.next_page_token = _token(chosen[size - 1][0])
            return response

    def delete_task(self, request: Any) -> Any:
        with self.state.lock:
            queue, task = self._task(request.name)
            self.state.drop_tasks(queue, [str(task.msg.name)], self._window(queue))
            return pb.Empty()

    def run_task(self, request: Any) -> Any:
        """Dispatch now, even on a paused queue or beyond its rate limits (RunTask reference)."""
        with self.state.lock:
            queue, task = self._task(request.name)
            set_ts(task.msg.schedule_time, now_us())
            if self.run_now is not None:
                self.run_now(queue, task)
            return _view(task.msg, request.response_view)

    # --- admin ------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every queue, task and tombstone; queue.yaml queues come back empty on next use."""
        with self.state.lock:
            self.state.journal.clear()
            for queue in self.state.queues.values():
                queue.tasks.clear()
            self.state.queues.clear()
            self.state.tombstones.clear()
            self.state.wake.notify_all()


def _copy(msg: Any) -> Any:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


def _view(task: Any, view: int) -> Any:
    """BASIC (the default) leaves out the body of App Engine tasks; FULL shows everything."""
    out = _copy(task)
    out.view = pb.VIEW_FULL if view == pb.VIEW_FULL else pb.VIEW_BASIC
    if out.view == pb.VIEW_BASIC and out.HasField("app_engine_http_request"):
        out.app_engine_http_request.ClearField("body")
    return out


def _copy_path(source: Any, target: Any, path: str) -> None:
    *parents, leaf = path.split(".")
    src, dst = source, target
    for part in parents:
        src, dst = getattr(src, part), getattr(dst, part)
    field = src.DESCRIPTOR.fields_by_name.get(leaf)
    if field is None:
        raise invalid(f"update_mask path {path!r} is not a field of Queue.")
    if field.message_type is not None:
        if src.HasField(leaf):
            getattr(dst, leaf).CopyFrom(getattr(src, leaf))
        else:
            dst.ClearField(leaf)
    else:
        setattr(dst, leaf, getattr(src, leaf))


def _check_task(msg: Any) -> None:
    """Target, URI, body, deadline, retry config and size checks of CreateTask (INVALID_ARGUMENT)."""
    for output_only in ("create_time", "dispatch_count", "response_count", "first_attempt", "last_attempt", "view"):
        msg.ClearField(output_only)  # AIP-203: output-only fields in a request are ignored
    kind = msg.WhichOneof("message_type")
    if kind is None:
        raise invalid("The task needs a target: set app_engine_http_request or http_request.")
    if kind == "app_engine_http_request":
        request = msg.app_engine_http_request
        uri = request.relative_uri or "/"
        if not uri.startswith("/") or not _URI_TEXT.fullmatch(uri) or len(uri) > MAX_URI:
            raise invalid(f"relative_uri {uri!r} must start with '/', contain no spaces or control characters and "
                          f"be at most {MAX_URI} characters.")
        request.relative_uri = uri
        check_routing(request.app_engine_routing, "app_engine_http_request.app_engine_routing")
        allowed = {"POST", "PUT"}
    else:
        request = msg.http_request
        url = request.url
        if (not url.startswith(("http://", "https://")) or not _URI_TEXT.fullmatch(url) or len(url) > MAX_URI
                or not urlsplit(url).hostname):
            raise invalid(f"http_request.url {url!r} must begin with http:// or https:// and a host name, contain "
                          f"no spaces or control characters and be at most {MAX_URI} characters.")
        allowed = {"POST", "PUT", "PATCH"}
    for header, value in request.headers.items():
        if not _TOKEN.fullmatch(header) or not _FIELD_VALUE.fullmatch(value):
            raise invalid(f"Header {header!r}: {value!r} is not a valid HTTP header (a token name and a "
                          "printable Latin-1 value without line breaks).")
    if request.http_method == 0:
        request.http_method = pb.METHOD_POST
    method = pb.METHODS.get(request.http_method)
    if method is None:
        raise invalid(f"Unknown http_method {request.http_method}.")
    if request.body and method not in allowed:
        raise invalid(f"A body is allowed only with {' or '.join(sorted(allowed))}, not {method}.")
    if msg.HasField("dispatch_deadline"):
        low, high = _DEADLINES["app" if kind == "app_engine_http_request" else "http"]
        deadline = seconds(msg.dispatch_deadline)
        if not low <= deadline <= high:
            raise invalid(f"dispatch_deadline must be between {low:g}s and {high:g}s (got {deadline:g}s).")
    if has_retry_config(msg):
        normalize_retry(msg.retry_config, "task.retry_config")
    if msg.ByteSize() > MAX_TASK_BYTES:
        raise invalid(f"Task size {msg.ByteSize()} bytes is above the limit of {MAX_TASK_BYTES} bytes (1 MB).")


def _set_routing(queue: QueueState, msg: Any) -> None:
    """The queue's app_engine_routing_override wins over the task's routing (AppEngineHttpRequest reference)."""
    if queue.msg.HasField("app_engine_routing_override"):
        msg.app_engine_http_request.app_engine_routing.CopyFrom(queue.msg.app_engine_routing_override)


def _page_size(size: int, largest: int) -> int:
    if size < 0:
        raise invalid("page_size must not be negative.")
    return min(size or largest, largest)


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _page_start(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"Invalid page_token {token!r}.") from None
