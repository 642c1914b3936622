"""Event handlers shared by Cloud Functions and App Engine: `@app.on_event`, the router, `Event`.

Matching rules (documented behaviour):
- `@app.on_event(event_type, **filters)`: `event_type` and every filter value match the CloudEvent
  attribute of that name (`source`, `subject`, `id`, or any extension attribute). A value containing
  `*`, `?` or `[` is a shell-style glob (`fnmatch.fnmatchcase`: case-sensitive, `*` also crosses `/`);
  any other value must be equal. An attribute the event lacks never matches.
- Every handler that matches runs, in registration order, inside an app context. Handlers should be
  idempotent: both Pub/Sub and Eventarc deliver at least once.
- Outcome (`EventResult.status`): 200 when at least one handler ran and none raised; when no handler
  matches, the event is logged and answered with `app.config["UNHANDLED_EVENT_STATUS"]` (default 200,
  so Pub/Sub does not redeliver it forever; set e.g. 404 to have it retried or dead-lettered); a
  handler raising `MalformedEventError` (a payload without the documented shape) gives 400; any other
  exception is logged and gives 500, so the platform retries (Eventarc with `--retry`, Pub/Sub push).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import logging
    from datetime import datetime

    from framework.adapters.payloads import PubSubMessage, StorageObject
    from framework.config import Config
    from framework.ctx import AppContext

# The typed payloads (framework.adapters.payloads) are imported on first use: App imports this module,
# and apps without events should not pay for them at cold start.

PUBSUB_MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
STORAGE_DELETED = "google.cloud.storage.object.v1.deleted"
STORAGE_ARCHIVED = "google.cloud.storage.object.v1.archived"
STORAGE_METADATA_UPDATED = "google.cloud.storage.object.v1.metadataUpdated"

EventHandler = Callable[["Event"], Any]
H = TypeVar("H", bound=EventHandler)

_GLOB_CHARS = frozenset("*?[")


class MalformedEventError(ValueError):
    """An event or push envelope that does not have the shape its type promises (a client error: 400)."""


class Event:
    """A CloudEvent as handlers see it: its context attributes and its `data` (parsed JSON or bytes)."""

    __slots__ = ("attributes", "data")

    def __init__(self, attributes: Mapping[str, Any], data: Any = None) -> None:
        self.attributes: dict[str, Any] = dict(attributes)
        self.data = data

    def __getitem__(self, name: str) -> Any:
        return self.attributes[name]

    def get(self, name: str, default: Any = None) -> Any:
        """A context attribute (standard or extension), or `default`."""
        return self.attributes.get(name, default)

    @property
    def id(self) -> str | None:
        return self.attributes.get("id")

    @property
    def type(self) -> str | None:
        return self.attributes.get("type")

    @property
    def source(self) -> str | None:
        return self.attributes.get("source")

    @property
    def subject(self) -> str | None:
        return self.attributes.get("subject")

    @property
    def specversion(self) -> str:
        return self.attributes.get("specversion", "1.0")

    @property
    def time(self) -> datetime | None:
        """The `time` attribute as an aware datetime (None when absent)."""
        from framework.adapters.payloads import parse_timestamp  # cold start: payload types load on first use

        return parse_timestamp(self.attributes.get("time"), "time")

    def json(self) -> Any:
        """The data as JSON: already-parsed data as is, bytes or text parsed (MalformedEventError if not JSON)."""
        if isinstance(self.data, bytes | bytearray | str):
            try:
                return json.loads(self.data)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
                raise MalformedEventError("event data is not valid JSON")
        return self.data

    @property
    def pubsub(self) -> PubSubMessage:
        """The Pub/Sub message this event carries (messagePublished events and push deliveries)."""
        from framework.adapters.payloads import PubSubMessage  # cold start: payload types load on first use

        return PubSubMessage.from_envelope(self.json())

    @property
    def storage(self) -> StorageObject:
        """The Cloud Storage object this event describes (object.v1.* events)."""
        from framework.adapters.payloads import StorageObject  # cold start: payload types load on first use

        return StorageObject.from_dict(self.json())

    def __repr__(self) -> str:
        return f"<Event type={self.type!r} source={self.source!r} id={self.id!r}>"


def _matches(pattern: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if _GLOB_CHARS.isdisjoint(pattern):
        return pattern == value
    return fnmatch.fnmatchcase(value, pattern)


class HandlerRule:
    """One registered handler and the attribute patterns an event must match to reach it."""

    __slots__ = ("handler", "event_type", "filters")

    def __init__(self, handler: EventHandler, event_type: str, filters: tuple[tuple[str, str], ...]) -> None:
        self.handler, self.event_type, self.filters = handler, event_type, filters

    def accepts(self, event: Event) -> bool:
        if not _matches(self.event_type, event.type):
            return False
        return all(_matches(pattern, event.get(name)) for name, pattern in self.filters)


class EventResult(NamedTuple):
    """What a dispatch did: the HTTP status to answer, how many handlers ran, and the error if one raised."""

    status: int
    handled: int
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class EventRouter:
    """The handlers of one app, matched against each event in registration order."""

    def __init__(self) -> None:
        self.rules: list[HandlerRule] = []

    @staticmethod
    def check(event_type: str, filters: Mapping[str, str]) -> None:
        """Refuse non-string patterns at registration time, not when the first event arrives."""
        if not isinstance(event_type, str):
            raise TypeError("the event type must be a string (exact value or glob)")
        for name, pattern in filters.items():
            if not isinstance(pattern, str):
                raise TypeError(f"event filter {name}= must be a string (exact value or glob)")

    def add(self, handler: EventHandler, event_type: str, filters: Mapping[str, str]) -> None:
        self.check(event_type, filters)
        self.rules.append(HandlerRule(handler, event_type, tuple(filters.items())))

    def match(self, event: Event) -> list[HandlerRule]:
        return [rule for rule in self.rules if rule.accepts(event)]


def unhandled_status(app: EventsMixin) -> int:
    """`UNHANDLED_EVENT_STATUS` from the app's config (default 200), checked to be an HTTP status."""
    value = app.config.get("UNHANDLED_EVENT_STATUS", 200)
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise ValueError(f"UNHANDLED_EVENT_STATUS must be an HTTP status code from 200 to 599, got {value!r}")
    return value


def _name(handler: EventHandler) -> str:
    """How logs name a handler (a partial or callable object has no __qualname__)."""
    return getattr(handler, "__qualname__", None) or repr(handler)


def dispatch(app: EventsMixin, event: Event) -> EventResult:
    """Run every handler of `app` that accepts `event`, inside an app context, and say how it went."""
    rules = app.event_router.match(event)
    if not rules:
        status = unhandled_status(app)
        app.logger.warning(
            "no event handler for type=%s source=%s subject=%s id=%s; answering %d",
            event.type, event.source, event.subject, event.id, status,
        )
        return EventResult(status, 0)
    done = 0
    with app.app_context():
        for rule in rules:
            try:
                rule.handler(event)
            except MalformedEventError as exc:
                app.logger.warning("malformed event %r for %s: %s", event, _name(rule.handler), exc)
                return EventResult(400, done, exc)
            except Exception as exc:
                app.logger.exception("event handler %s failed on %r", _name(rule.handler), event)
                return EventResult(500, done, exc)
            done += 1
    return EventResult(200, done)


class EventsMixin:
    """What App gains for events: `on_event`, `dispatch_event`, `pubsub_push_route`."""

    if TYPE_CHECKING:  # pragma: no cover - provided by App (framework.app), declared for the checker
        config: Config

        @property
        def logger(self) -> logging.Logger: ...
        def app_context(self) -> AppContext: ...
        def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Any = None,
                         **options: Any) -> None: ...

    @property
    def event_router(self) -> EventRouter:
        """This app's handlers (created on first use so apps without events pay nothing)."""
        router = self.__dict__.get("_event_router")
        if router is None:
            router = self.__dict__["_event_router"] = EventRouter()
        return router

    def on_event(self, event_type: str, **filters: str) -> Callable[[H], H]:
        """Register the decorated function for CloudEvents of `event_type` whose attributes match `filters`."""
        EventRouter.check(event_type, filters)

        def decorator(handler: H) -> H:
            self.event_router.add(handler, event_type, filters)
            return handler

        return decorator

    def dispatch_event(self, event: Event) -> EventResult:
        """Deliver `event` to the matching handlers (see the module docstring for the status rule)."""
        return dispatch(self, event)

    def pubsub_push_route(
        self,
        rule: str,
        *,
        topic: str | None = None,
        verify: Callable[[Any], bool | None] | None = None,
        endpoint: str = "pubsub_push",
    ) -> None:
        """Accept Pub/Sub push deliveries on POST `rule` and dispatch them to the `on_event` handlers.

        `topic` (`projects/P/topics/T`) becomes the event source, as Eventarc would set it; `verify`
        is called with the request first (False → 403) — see `framework.adapters.pubsub_push`.
        """
        from framework.adapters.pubsub_push import make_push_view  # cold start: only for push routes

        view = make_push_view(self, topic=topic, verify=verify)
        self.add_url_rule(rule, endpoint, view, methods=["POST"])
