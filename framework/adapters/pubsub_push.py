"""Pub/Sub push deliveries on App Engine (or any WSGI host), turned into the same `Event` Eventarc sends.

The push body is `{"message": {"data": base64, "attributes", "messageId", "publishTime", ...},
"subscription": "projects/P/subscriptions/S"}`; anything else is answered with 400. The resulting
event has Eventarc's shape (type messagePublished, id = message id, time = publish time, data = the
envelope), so one set of `on_event` handlers serves Cloud Functions and App Engine unchanged.

Authentication boundary: a push subscription can attach a Google-signed OIDC token
(`Authorization: Bearer ...`). Checking it needs Google's public keys, so nothing here verifies it;
pass `verify=callable(request)` to do so, e.g. with google-auth's
`google.oauth2.id_token.verify_oauth2_token(token, google.auth.transport.requests.Request(), audience)`.
It returns False (→ 403) or raises an HTTPException to refuse. Without `verify`, restrict the route
another way (an unguessable path, ingress settings) or accept that anyone may post to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import BadRequest, Forbidden
from werkzeug.http import HTTP_STATUS_CODES

from framework.adapters.payloads import MalformedEventError, PubSubMessage
from framework.events import PUBSUB_MESSAGE_PUBLISHED, Event, EventResult

PUBSUB_SOURCE_PREFIX = "//pubsub.googleapis.com/"


def event_from_push(envelope: Any, topic: str | None = None) -> Event:
    """Validate a push envelope and build the CloudEvent Eventarc would deliver for it."""
    message = PubSubMessage.from_envelope(envelope)  # raises MalformedEventError on a bad shape
    resource = topic or message.subscription or "projects/_/topics/_"
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "type": PUBSUB_MESSAGE_PUBLISHED,
        "source": PUBSUB_SOURCE_PREFIX + resource,
        "id": message.message_id or "",
        "datacontenttype": "application/json",
    }
    raw = envelope["message"]
    publish_time = raw.get("publishTime") or raw.get("publish_time")
    if publish_time:
        attributes["time"] = publish_time
    return Event(attributes, dict(envelope))


def status_body(result: EventResult) -> str:
    """The body both event adapters answer with: "OK" on success, else the status phrase."""
    return "OK" if result.ok else HTTP_STATUS_CODES.get(result.status, "Error")


def _json_body(request: Any) -> Any:
    """The request body as JSON; MalformedEventError for another content type, invalid or too deeply nested JSON."""
    if not request.is_json:
        raise MalformedEventError("a Pub/Sub push body must be JSON (Content-Type: application/json)")
    try:
        return json.loads(request.get_data())
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise MalformedEventError("a Pub/Sub push body must be a JSON object") from None


def make_push_view(
    app: Any, *, topic: str | None, verify: Callable[[Any], bool | None] | None
) -> Callable[[], Any]:
    """The POST view behind `app.pubsub_push_route`."""

    def pubsub_push() -> Any:
        from framework.globals import request

        if verify is not None and verify(request) is False:
            raise Forbidden("push request refused by the verify hook")
        try:
            event = event_from_push(_json_body(request), topic)
        except MalformedEventError as exc:
            raise BadRequest(str(exc))
        result = app.dispatch_event(event)
        return app.response_class(status_body(result), status=result.status, mimetype="text/plain")

    return pubsub_push
