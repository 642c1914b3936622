"""Realistic CloudEvents for tests, and ways to deliver them: in-process, over HTTP, or as a Pub/Sub push.

    event = pubsub({"order": 7}, attributes={"kind": "new"}, topic="projects/p/topics/orders")
    deliver(app, event)                             # straight to the handlers (an EventResult)
    post(url, event, mode="binary")                 # to functions-framework, as Eventarc sends it
    post(url, event, mode="structured")             # application/cloudevents+json
    post(url + "/push", event, mode="push")         # to app.pubsub_push_route, as a push subscription

Binary mode percent-encodes spaces, double quotes, percent signs and non-ASCII characters in header
values, as the CloudEvents HTTP binding requires; `framework.adapters.cloud_functions` decodes them
(the cloudevents SDK inside functions-framework does not), so both modes deliver the same attributes.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from framework.events import (
    PUBSUB_MESSAGE_PUBLISHED,
    STORAGE_FINALIZED,
    Event,
    EventResult,
)

if TYPE_CHECKING:  # pragma: no cover
    from framework.app import App

_CORE_ATTRIBUTES = ("specversion", "type", "source", "id", "time", "subject", "datacontenttype")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id() -> str:
    return str(random.randrange(10**15, 10**16))


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def cloud_event(
    event_type: str,
    source: str,
    data: Any = None,
    *,
    id: str | None = None,
    subject: str | None = None,
    time: str | None = None,
    datacontenttype: str = "application/json",
    **extensions: str,
) -> Event:
    """Any CloudEvent (specversion 1.0); `time` defaults to now, `id` to a random number."""
    attributes: dict[str, Any] = {
        "specversion": "1.0", "type": event_type, "source": source, "id": id or _new_id(),
        "time": time or _now(), "datacontenttype": datacontenttype,
    }
    if subject is not None:
        attributes["subject"] = subject
    attributes.update(extensions)
    return Event(attributes, data)


def pubsub(
    data: Any = b"",
    *,
    attributes: Mapping[str, str] | None = None,
    topic: str = "projects/test-project/topics/test-topic",
    subscription: str = "projects/test-project/subscriptions/test-subscription",
    message_id: str | None = None,
    publish_time: str | None = None,
    ordering_key: str | None = None,
) -> Event:
    """A messagePublished event as Eventarc sends it (both camelCase and snake_case id/time keys).

    `data` may be bytes, text (UTF-8) or any JSON value (serialised).
    """
    message_id = message_id or _new_id()
    publish_time = publish_time or _now()
    message: dict[str, Any] = {
        "data": base64.b64encode(_as_bytes(data)).decode("ascii"),
        "messageId": message_id, "message_id": message_id,
        "publishTime": publish_time, "publish_time": publish_time,
    }
    if attributes:
        message["attributes"] = dict(attributes)
    if ordering_key:
        message["orderingKey"] = ordering_key
    return cloud_event(
        PUBSUB_MESSAGE_PUBLISHED, "//pubsub.googleapis.com/" + topic,
        {"message": message, "subscription": subscription}, id=message_id, time=publish_time,
    )


def storage(
    bucket: str = "test-bucket",
    name: str = "test-object.txt",
    *,
    event_type: str = STORAGE_FINALIZED,
    size: int = 0,
    content_type: str = "text/plain",
    generation: int | None = None,
    metadata: Mapping[str, str] | None = None,
    time: str | None = None,
) -> Event:
    """A Cloud Storage object event; int64 fields are JSON strings, as the Storage JSON API writes them."""
    generation = generation or random.randrange(10**15, 10**16)
    time = time or _now()
    resource: dict[str, Any] = {
        "kind": "storage#object", "id": f"{bucket}/{name}/{generation}", "bucket": bucket, "name": name,
        "generation": str(generation), "metageneration": "1", "contentType": content_type,
        "size": str(size), "timeCreated": time, "updated": time, "storageClass": "STANDARD",
        "md5Hash": "1B2M2Y8AsgTpgAmY7PhCfg==", "crc32c": "AAAAAA==", "etag": "CKih16GjycICEAE=",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{quote(name, safe='')}",
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/"
                     f"{quote(name, safe='')}?generation={generation}&alt=media",
    }
    if metadata:
        resource["metadata"] = dict(metadata)
    return cloud_event(
        event_type, f"//storage.googleapis.com/projects/_/buckets/{bucket}", resource,
        subject=f"objects/{name}", time=time,
    )


def deliver(app: App, event: Event) -> EventResult:
    """Dispatch `event` to `app`'s handlers in-process, exactly as the adapters do."""
    return app.dispatch_event(event)


_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '%"')


def _header_value(value: Any) -> str:
    """Percent-encode space, `"`, `%` and everything outside printable ASCII (CloudEvents HTTP binding 3.1.3.2)."""
    return quote(str(value), safe=_HEADER_SAFE)


def binary(event: Event) -> tuple[dict[str, str], bytes]:
    """Headers and body of the binary content mode (attributes as `ce-*` headers)."""
    headers = {"Content-Type": event.get("datacontenttype") or "application/json"}
    for name, value in event.attributes.items():
        if name != "datacontenttype" and value is not None:
            headers[f"ce-{name}"] = _header_value(value)
    return headers, _as_bytes(event.data)


def structured(event: Event) -> tuple[dict[str, str], bytes]:
    """Headers and body of the structured content mode (the whole event as JSON)."""
    document = {k: v for k, v in event.attributes.items() if v is not None}
    if isinstance(event.data, bytes | bytearray):
        document["data_base64"] = base64.b64encode(event.data).decode("ascii")
    elif event.data is not None:
        document["data"] = event.data
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return {"Content-Type": "application/cloudevents+json; charset=utf-8"}, body


def push(event: Event) -> tuple[dict[str, str], bytes]:
    """Headers and body of a Pub/Sub push delivery of a messagePublished event (the envelope)."""
    envelope = event.json()
    if event.type != PUBSUB_MESSAGE_PUBLISHED or not isinstance(envelope, dict) or "message" not in envelope:
        raise ValueError("only Pub/Sub messagePublished events can be pushed")
    return {"Content-Type": "application/json"}, json.dumps(envelope).encode("utf-8")


_ENCODERS = {"binary": binary, "structured": structured, "push": push}


def encode(event: Event, mode: str) -> tuple[dict[str, str], bytes]:
    """Headers and body for `mode` ("binary", "structured" or "push")."""
    try:
        return _ENCODERS[mode](event)
    except KeyError:
        raise ValueError(f"unknown delivery mode {mode!r}; choose binary, structured or push") from None


class Delivery(NamedTuple):
    """What the receiver answered."""

    status: int
    body: bytes
    headers: dict[str, str]


def post(url: str, event: Event, mode: str = "binary", *, timeout: float = 30.0) -> Delivery:
    """POST `event` to `url` over real HTTP in the given mode; any status is returned, not raised."""
    headers, body = encode(event, mode)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Delivery(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        with exc:
            return Delivery(exc.code, exc.read(), dict(exc.headers))


def send(client: Any, path: str, event: Event, mode: str = "push") -> Any:
    """POST `event` through a test client (e.g. to an in-process `pubsub_push_route`); the client's response."""
    headers, body = encode(event, mode)
    return client.post(path, data=body, headers=headers)
