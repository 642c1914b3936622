"""Resource names of Cloud Tasks (projects/P/locations/L/queues/Q/tasks/T) and the errors the service answers.

Name rules follow the google.cloud.tasks.v2 reference: project ids of letters, digits, `-`, `:` and `.`; queue
ids of letters, digits and `-` up to 100 characters; task ids of letters, digits, `-` and `_` up to 500.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ..errors import ServiceError

_PROJECT = r"[A-Za-z0-9\-:.]{1,100}"
_LOCATION = r"[A-Za-z0-9\-]{1,63}"
_QUEUE_ID = re.compile(r"[A-Za-z0-9\-]{1,100}")
_TASK_ID = re.compile(r"[A-Za-z0-9\-_]{1,500}")
# App Engine service and version ids (platform-facts §5.1): lowercase letters, digits and hyphens, no hyphen
# first or last, at most 63 characters.
_APP_ID = re.compile(r"(?!-)[a-z\d-]{0,62}[a-z\d]")
_PARENT = re.compile(rf"projects/({_PROJECT})/locations/({_LOCATION})")
_QUEUE = re.compile(rf"projects/({_PROJECT})/locations/({_LOCATION})/queues/([^/]*)")
_TASK = re.compile(rf"projects/({_PROJECT})/locations/({_LOCATION})/queues/([^/]*)/tasks/([^/]*)")

NOT_FOUND_MESSAGE = "Requested entity was not found."
EXISTS_MESSAGE = "Requested entity already exists"
# Wording the service answers, as reported by users of the real API (see the README's sources).
TASK_TOMBSTONE_MESSAGE = ("The task cannot be created because a task with this name existed too recently. For more "
                          "information about task de-duplication see https://cloud.google.com/tasks/docs/reference/"
                          "rest/v2/projects.locations.queues.tasks/create#body.request_body.FIELDS.task.")
QUEUE_TOMBSTONE_MESSAGE = "The queue cannot be created because a queue with this name existed too recently."
QUEUE_GONE_MESSAGE = "The queue no longer exists, though a queue with this name existed recently."
QUEUE_MISSING_MESSAGE = "Queue does not exist."


class TasksError(ServiceError):
    """A request failed with `code` (a grpc.StatusCode name such as "NOT_FOUND") and the service's message."""


def invalid(message: str) -> TasksError:
    return TasksError("INVALID_ARGUMENT", message)


def not_found(message: str = NOT_FOUND_MESSAGE) -> TasksError:
    return TasksError("NOT_FOUND", message)


class QueueName(NamedTuple):
    project: str
    location: str
    queue: str

    def __str__(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/queues/{self.queue}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


class TaskName(NamedTuple):
    queue: QueueName
    task: str

    def __str__(self) -> str:
        return f"{self.queue}/tasks/{self.task}"


def parse_parent(text: str) -> str:
    """A location name `projects/P/locations/L`, checked; INVALID_ARGUMENT otherwise."""
    if not _PARENT.fullmatch(text or ""):
        raise invalid(f"Invalid parent {text!r}: expected projects/PROJECT_ID/locations/LOCATION_ID.")
    return text


def parse_queue(text: str, field: str = "name") -> QueueName:
    """A queue name, checked; INVALID_ARGUMENT names the field and the expected form."""
    match = _QUEUE.fullmatch(text or "")
    if not match:
        raise invalid(f"Invalid {field} {text!r}: expected projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID.")
    if not _QUEUE_ID.fullmatch(match[3]):
        raise invalid(f"Invalid queue id {match[3]!r}: use 1-100 letters, digits or hyphens.")
    return QueueName(match[1], match[2], match[3])


def parse_task(text: str, field: str = "name") -> TaskName:
    """A task name, checked; INVALID_ARGUMENT names the field and the expected form."""
    match = _TASK.fullmatch(text or "")
    if not match:
        raise invalid(f"Invalid {field} {text!r}: expected "
                      "projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID/tasks/TASK_ID.")
    if not _QUEUE_ID.fullmatch(match[3]):
        raise invalid(f"Invalid queue id {match[3]!r}: use 1-100 letters, digits or hyphens.")
    if not _TASK_ID.fullmatch(match[4]):
        raise invalid(f"Invalid task id {match[4]!r}: use 1-500 letters, digits, hyphens or underscores.")
    return TaskName(QueueName(match[1], match[2], match[3]), match[4])


def valid_app_id(text: str) -> bool:
    """Whether `text` can be an App Engine service or version id."""
    return bool(_APP_ID.fullmatch(text)) and "-dot-" not in text


def check_routing(routing: Any, field: str) -> None:
    """An AppEngineRouting's service and version must be App Engine ids: INVALID_ARGUMENT otherwise.

    The reference leaves unsaid whether the service refuses them at creation (UNCONFIRMED); a name that
    cannot be a service would fail every delivery attempt, so it is refused at once here.
    """
    for part in ("service", "version"):
        value = getattr(routing, part)
        if value and not valid_app_id(value):
            raise invalid(f"{field}.{part} {value!r} is not a valid App Engine {part} id: use 1-63 lowercase "
                          "letters, digits or hyphens, not starting or ending with a hyphen (e.g. 'worker').")


def valid_queue_id(queue_id: str) -> bool:
    return bool(_QUEUE_ID.fullmatch(queue_id))
