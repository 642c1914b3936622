"""Typed views of the event payloads Google sends: Pub/Sub messages and Cloud Storage objects.

Both accept the camelCase names of the JSON APIs and the snake_case duplicates some senders add.
Anything that does not have the documented shape raises `MalformedEventError` (answered with 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from framework.events import MalformedEventError

__all__ = ["MalformedEventError", "PubSubMessage", "StorageObject", "decode_base64", "parse_timestamp"]


def parse_timestamp(value: Any, what: str = "timestamp") -> datetime | None:
    """RFC 3339 text (any number of fraction digits, `Z` or an offset) to an aware datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise MalformedEventError(f"{what} must be an RFC 3339 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedEventError(f"{what} is not an RFC 3339 timestamp: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int64(value: Any, what: str) -> int | None:
    """JSON int64 fields arrive as numbers or as decimal strings; both become int."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedEventError(f"{what} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    # ASCII only: str.isdigit() also accepts "²", which int() refuses; 19 digits reach 2**63.
    if isinstance(value, str) and value.isascii() and value.removeprefix("-").isdigit() and len(value) <= 20:
        return int(value)
    raise MalformedEventError(f"{what} must be an integer, got {value!r}")


def _pick(data: Mapping[str, Any], camel: str, snake: str | None = None) -> Any:
    """The value under the camelCase key, else under its snake_case twin."""
    value = data.get(camel)
    if value is None and snake is not None:
        value = data.get(snake)
    return value


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise MalformedEventError(f"{what} must be an object of strings")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _optional_str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MalformedEventError(f"{what} must be a string")


def decode_base64(value: Any, what: str = "data") -> bytes:
    """Strict standard base64 (padding optional); URL-safe alphabet accepted too."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise MalformedEventError(f"{what} must be a base64 string")
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEventError(f"{what} is not valid base64")


@dataclass(frozen=True)
class PubSubMessage:
    """One Pub/Sub message: `data` as bytes, `.text` and `.json()` views, attributes and delivery facts."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    publish_time: datetime | None = None
    ordering_key: str | None = None
    subscription: str | None = None
    delivery_attempt: int | None = None

    @property
    def text(self) -> str:
        """The data decoded as UTF-8 (MalformedEventError if it is not UTF-8)."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEventError("Pub/Sub message data is not UTF-8 text")

    def json(self) -> Any:
        """The data parsed as JSON (MalformedEventError if it is not JSON)."""
        try:
            return json.loads(self.data)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
            raise MalformedEventError("Pub/Sub message data is not valid JSON")

    @classmethod
    def from_envelope(cls, envelope: Any) -> PubSubMessage:
        """Build from `{"message": {...}, "subscription": ...}` (push body and CloudEvent data alike)."""
        if not isinstance(envelope, Mapping):
            raise MalformedEventError("a Pub/Sub envelope must be a JSON object")
        message = envelope.get("message")
        if not isinstance(message, Mapping):
            raise MalformedEventError('a Pub/Sub envelope needs a "message" object')
        subscription = _optional_str(envelope.get("subscription"), "subscription")
        attempt = _int64(_pick(envelope, "deliveryAttempt", "delivery_attempt"), "deliveryAttempt")
        return cls.from_message(message, subscription=subscription, delivery_attempt=attempt)

    @classmethod
    def from_message(
        cls, message: Mapping[str, Any], *, subscription: str | None = None, delivery_attempt: int | None = None
    ) -> PubSubMessage:
        """Build from the `message` object alone (base64 data, camelCase or snake_case keys)."""
        return cls(
            data=decode_base64(message.get("data"), "message.data"),
            attributes=_string_map(message.get("attributes"), "message.attributes"),
            message_id=_optional_str(_pick(message, "messageId", "message_id"), "message.messageId"),
            publish_time=parse_timestamp(_pick(message, "publishTime", "publish_time"), "message.publishTime"),
            ordering_key=_optional_str(_pick(message, "orderingKey", "ordering_key"), "message.orderingKey"),
            subscription=subscription,
            delivery_attempt=delivery_attempt,
        )


@dataclass(frozen=True)
class StorageObject:
    """A Cloud Storage object resource as sent with storage events (ints and datetimes already parsed)."""

    bucket: str
    name: str
    generation: int | None = None
    metageneration: int | None = None
    size: int | None = None
    content_type: str | None = None
    storage_class: str | None = None
    time_created: datetime | None = None
    updated: datetime | None = None
    time_deleted: datetime | None = None
    md5_hash: str | None = None
    crc32c: str | None = None
    etag: str | None = None
    id: str | None = None
    media_link: str | None = None
    self_link: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> StorageObject:
        """Build from the object resource JSON (camelCase as the API sends it; snake_case accepted)."""
        if not isinstance(data, Mapping):
            raise MalformedEventError("a Cloud Storage event needs an object resource as data")
        bucket, name = data.get("bucket"), data.get("name")
        if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
            raise MalformedEventError('a Cloud Storage object needs string "bucket" and "name"')
        text = {
            attr: _optional_str(_pick(data, camel, snake), camel)
            for attr, camel, snake in (
                ("content_type", "contentType", "content_type"),
                ("storage_class", "storageClass", "storage_class"),
                ("md5_hash", "md5Hash", "md5_hash"),
                ("crc32c", "crc32c", None),
                ("etag", "etag", None),
                ("id", "id", None),
                ("media_link", "mediaLink", "media_link"),
                ("self_link", "selfLink", "self_link"),
            )
        }
        return cls(
            bucket=bucket,
            name=name,
            generation=_int64(data.get("generation"), "generation"),
            metageneration=_int64(data.get("metageneration"), "metageneration"),
            size=_int64(data.get("size"), "size"),
            time_created=parse_timestamp(_pick(data, "timeCreated", "time_created"), "timeCreated"),
            updated=parse_timestamp(data.get("updated"), "updated"),
            time_deleted=parse_timestamp(_pick(data, "timeDeleted", "time_deleted"), "timeDeleted"),
            metadata=_string_map(data.get("metadata"), "metadata"),
            raw=dict(data),
            **text,
        )
