"""Typed Pub/Sub and Cloud Storage payloads, and the realistic events the test helpers build."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from framework.adapters.payloads import MalformedEventError, PubSubMessage, StorageObject, parse_timestamp
from framework.events import PUBSUB_MESSAGE_PUBLISHED, STORAGE_DELETED, Event
from framework.testing import events as ev


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_pubsub_message_from_camel_case_envelope() -> None:
    message = PubSubMessage.from_envelope({
        "subscription": "projects/p/subscriptions/s",
        "deliveryAttempt": 3,
        "message": {
            "data": _b64(b'{"n": 1}'), "attributes": {"k": "v"}, "messageId": "123",
            "publishTime": "2021-02-05T04:06:14.109Z", "orderingKey": "ok-1",
        },
    })
    assert message.data == b'{"n": 1}'
    assert message.text == '{"n": 1}'
    assert message.json() == {"n": 1}
    assert message.attributes == {"k": "v"}
    assert message.message_id == "123"
    assert message.publish_time == datetime(2021, 2, 5, 4, 6, 14, 109000, tzinfo=UTC)
    assert message.subscription == "projects/p/subscriptions/s"
    assert message.ordering_key == "ok-1"
    assert message.delivery_attempt == 3


def test_pubsub_message_snake_case_and_missing_attributes() -> None:
    message = PubSubMessage.from_message(
        {"data": _b64(b"hi"), "message_id": "9", "publish_time": "2024-01-01T00:00:00.123456789Z"}
    )
    assert message.message_id == "9"
    assert message.attributes == {}
    assert message.publish_time == datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert message.subscription is None


@pytest.mark.parametrize(
    "envelope",
    [
        [], "text", {}, {"message": "x"}, {"message": {"data": "not base64!!"}},
        {"message": {"data": _b64(b"x"), "attributes": ["a"]}},
        {"message": {"data": _b64(b"x"), "publishTime": "yesterday"}},
        {"message": {"data": 12}},
    ],
)
def test_malformed_pubsub_envelopes_raise(envelope: object) -> None:
    with pytest.raises(MalformedEventError):
        PubSubMessage.from_envelope(envelope)


def test_pubsub_text_and_json_errors_are_malformed_event_errors() -> None:
    message = PubSubMessage(data=b"\xff\xfe")
    with pytest.raises(MalformedEventError):
        _ = message.text
    with pytest.raises(MalformedEventError):
        message.json()
    deep = b"[" * 100_000  # deeper than the JSON parser's stack: still the sender's fault, not ours
    with pytest.raises(MalformedEventError):
        PubSubMessage(data=deep).json()
    with pytest.raises(MalformedEventError):
        Event({"type": "t"}, deep).json()


def test_storage_object_ints_from_strings_or_numbers_and_datetimes() -> None:
    obj = StorageObject.from_dict({
        "bucket": "b", "name": "dir/file.png", "generation": "1700000000000001", "metageneration": 2,
        "size": "2048", "contentType": "image/png", "timeCreated": "2024-05-06T07:08:09.5Z",
        "updated": "2024-05-06T07:08:10Z", "metadata": {"owner": "ann"}, "storageClass": "STANDARD",
    })
    assert (obj.bucket, obj.name, obj.content_type) == ("b", "dir/file.png", "image/png")
    assert obj.generation == 1700000000000001 and obj.metageneration == 2 and obj.size == 2048
    assert obj.time_created == datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)
    assert obj.updated == datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
    assert obj.metadata == {"owner": "ann"}
    assert obj.storage_class == "STANDARD"
    assert obj.raw["contentType"] == "image/png"


@pytest.mark.parametrize(
    "data",
    [None, [], {"name": "x"}, {"bucket": "b"}, {"bucket": "b", "name": "n", "size": "big"},
     {"bucket": "b", "name": "n", "size": True}, {"bucket": "b", "name": "n", "updated": 5},
     {"bucket": "b", "name": "n", "size": "--5"}, {"bucket": "b", "name": "n", "generation": "\u00b2"},
     {"bucket": "b", "name": "n", "size": "9" * 5000}],
)
def test_malformed_storage_objects_raise(data: object) -> None:
    with pytest.raises(MalformedEventError):
        StorageObject.from_dict(data)


def test_parse_timestamp_offsets_and_naive() -> None:
    assert parse_timestamp("2024-01-01T02:00:00+02:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_timestamp("2024-01-01T00:00:00").tzinfo is UTC
    assert parse_timestamp(None) is None


def test_pubsub_builder_matches_eventarc_shape() -> None:
    event = ev.pubsub({"order": 7}, attributes={"kind": "new"}, topic="projects/p/topics/orders")
    assert event.type == PUBSUB_MESSAGE_PUBLISHED
    assert event.source == "//pubsub.googleapis.com/projects/p/topics/orders"
    message = event.data["message"]
    assert message["messageId"] == message["message_id"] == event.id
    assert message["publishTime"] == message["publish_time"] == event["time"]
    assert event.pubsub.json() == {"order": 7}
    assert event.pubsub.attributes == {"kind": "new"}
    assert event.pubsub.publish_time == event.time


def test_storage_builder_round_trips_through_the_typed_payload() -> None:
    event = ev.storage("uploads", "a b/c.txt", event_type=STORAGE_DELETED, size=5, metadata={"m": "1"})
    assert event.type == STORAGE_DELETED
    assert event.subject == "objects/a b/c.txt"
    assert event.source == "//storage.googleapis.com/projects/_/buckets/uploads"
    obj = event.storage
    assert (obj.bucket, obj.name, obj.size, obj.metadata) == ("uploads", "a b/c.txt", 5, {"m": "1"})
    assert obj.generation == int(event.data["generation"])
    assert "a%20b%2Fc.txt" in (obj.media_link or "")


def test_encodings() -> None:
    event = ev.pubsub(b"\x00raw", attributes={"a": "1"})
    headers, body = ev.binary(event)
    assert headers["ce-type"] == PUBSUB_MESSAGE_PUBLISHED and headers["ce-id"] == event.id
    assert headers["Content-Type"] == "application/json"
    assert Event({}, body).pubsub.data == b"\x00raw"

    headers, body = ev.structured(ev.cloud_event("t", "s", b"\x01\x02", subject="é"))
    assert headers["Content-Type"].startswith("application/cloudevents+json")
    document = Event({}, body).json()
    assert base64.b64decode(document["data_base64"]) == b"\x01\x02"
    assert document["subject"] == "é"

    headers, _ = ev.binary(ev.cloud_event("t", "s", {}, subject='50% "é"'))
    assert headers["ce-subject"] == "50%25%20%22%C3%A9%22"

    with pytest.raises(ValueError):
        ev.push(ev.storage())
    with pytest.raises(ValueError):
        ev.encode(event, "carrier-pigeon")
