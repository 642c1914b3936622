"""CloudEvents over real HTTP: functions-framework serving `event_function` (binary and structured
modes) and the push route under gunicorn with App Engine's environment (GAE_ENV=standard) reach the
same handlers with the same results as in-process delivery. Handlers record what they saw in a file
per host ($CONFORMANCE_EVENTS_FILE)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.events import STORAGE_DELETED, Event
from framework.testing import events as ev
from tests.conformance import hosts
from tests.support.procs import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("conformance-events")]

TOPIC = "projects/conf-project/topics/conformance"
PUSH = "/_ah/push/conformance"


class Receiver:
    """A host plus the file its handlers record into."""

    def __init__(self, host: hosts.Host, records: Path) -> None:
        self.host, self.records = host, records

    def read(self) -> list[dict[str, Any]]:
        if not self.records.exists():
            return []
        lines = self.records.read_text().splitlines()
        self.records.write_text("")
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def ff_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp("ff-events")
    records = tmp / "events.jsonl"
    env = {"CONFORMANCE_EVENTS_FILE": str(records)}
    with hosts.functions_framework(tmp, free_port(), target="event_function", env=env) as host:
        yield Receiver(host, records)


@pytest.fixture(scope="module")
def gunicorn_push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    tmp = tmp_path_factory.mktemp("gunicorn-push")
    records = tmp / "events.jsonl"
    env = {"CONFORMANCE_EVENTS_FILE": str(records), "GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "conf-project"}
    with hosts.gunicorn(tmp, free_port(), env=env) as host:  # as on App Engine: its middleware, JSON logs
        yield Receiver(host, records)


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    records = tmp_path / "events.jsonl"
    monkeypatch.setenv("CONFORMANCE_EVENTS_FILE", str(records))
    return Receiver(hosts.in_process(), records)


def _deliver_in_process(event: Event) -> tuple[int, bytes]:
    from tests.conformance.app import app

    result = ev.deliver(app, event)
    return result.status, b"OK" if result.ok else b""


def test_pubsub_message_reaches_the_same_handler_everywhere(
    ff_events: Receiver, gunicorn_push: Receiver, in_process: Receiver
) -> None:
    event = ev.pubsub("héllo ✓", attributes={"kind": "greeting", "n": "1"}, topic=TOPIC,
                      publish_time="2024-03-04T05:06:07.123456789Z")
    outcomes = {
        "in-process": _deliver_in_process(event),
        "ff-binary": ev.post(ff_events.host.url, event, "binary")[:2],
        "ff-structured": ev.post(ff_events.host.url, event, "structured")[:2],
        "push": ev.post(gunicorn_push.host.url + PUSH, event, "push")[:2],
    }
    assert outcomes == dict.fromkeys(outcomes, (200, b"OK"))
    ff_records = ff_events.read()
    records = [*in_process.read(), *ff_records, *gunicorn_push.read()]
    assert len(records) == 4 and len(ff_records) == 2
    assert all(r == records[0] for r in records), records
    assert records[0] == {
        "handler": "on_message", "id": event.id, "type": event.type, "source": f"//pubsub.googleapis.com/{TOPIC}",
        "subject": None, "data": "héllo ✓", "attributes": {"kind": "greeting", "n": "1"},
        "message_id": event.id, "publish_time": "2024-03-04T05:06:07.123456+00:00",
        "subscription": "projects/test-project/subscriptions/test-subscription",
        "event_time": "2024-03-04T05:06:07.123456+00:00",
    }


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_storage_events_fan_out_to_matching_handlers(ff_events: Receiver, in_process: Receiver, mode: str) -> None:
    event = ev.storage("photos", "images/cat.png", size=2048, content_type="image/png")
    assert ev.post(ff_events.host.url, event, mode)[:2] == (200, b"OK")
    assert _deliver_in_process(event)[0] == 200
    over_http, local = ff_events.read(), in_process.read()
    assert over_http == local
    assert [r["handler"] for r in local] == ["on_image", "on_any_upload"]
    assert local[0]["size"] == 2048 and local[0]["generation"] == int(event.data["generation"])

    deleted = ev.storage("photos", "images/cat.png", event_type=STORAGE_DELETED)
    assert ev.post(ff_events.host.url, deleted, mode)[:2] == (200, b"OK")
    assert [r["handler"] for r in ff_events.read()] == ["on_image"]


def test_attributes_with_spaces_and_non_ascii_arrive_alike_in_both_modes(ff_events: Receiver, in_process: Receiver) -> None:
    """Binary mode percent-encodes such header values; the handlers still see the same subject in each mode."""
    event = ev.storage("photos", 'images/my "cat" ✓ 100%.png', size=1)
    recorded = {}
    for mode in ("binary", "structured"):
        assert ev.post(ff_events.host.url, event, mode)[:2] == (200, b"OK")
        recorded[mode] = ff_events.read()
    assert _deliver_in_process(event)[0] == 200
    local = in_process.read()
    assert recorded["binary"] == recorded["structured"] == local
    assert [r["handler"] for r in local] == ["on_image", "on_any_upload"]
    assert local[0]["subject"] == 'objects/images/my "cat" ✓ 100%.png'


def test_unhandled_events_are_acknowledged_and_record_nothing(ff_events: Receiver, gunicorn_push: Receiver) -> None:
    other = ev.pubsub(b"x", topic="projects/conf-project/topics/other")
    assert ev.post(ff_events.host.url, other, "binary")[:2] == (200, b"OK")
    assert ev.post(gunicorn_push.host.url + "/_ah/push/other", other, "push")[:2] == (200, b"OK")
    assert ff_events.read() == [] and gunicorn_push.read() == []
    assert "no event handler" in ff_events.host.log()
    warning = next(line for line in gunicorn_push.host.log().splitlines() if "no event handler" in line)
    assert json.loads(warning)["severity"] == "WARNING"  # App Engine's structured log line


def test_failing_handler_is_a_500_on_both_hosts(ff_events: Receiver, gunicorn_push: Receiver) -> None:
    event = ev.pubsub(b"x", attributes={"fail": "yes"}, topic=TOPIC)
    for reply in (ev.post(ff_events.host.url, event, "binary"), ev.post(gunicorn_push.host.url + PUSH, event, "push")):
        assert (reply.status, reply.body) == (500, b"Internal Server Error")
    assert "handler failed on purpose" in ff_events.host.log()
    assert "handler failed on purpose" in gunicorn_push.host.log()


def test_malformed_input_is_400_never_500(ff_events: Receiver, gunicorn_push: Receiver) -> None:
    bad_data = ev.pubsub(b"x", topic=TOPIC)
    bad_data.data["message"]["data"] = "%%% not base64"
    assert ev.post(ff_events.host.url, bad_data, "binary").status == 400
    assert ev.post(gunicorn_push.host.url + PUSH, bad_data, "push").status == 400
    for body in (b"{broken", b"[1, 2]", b'{"message": "text"}'):
        reply = gunicorn_push.host.request("POST", PUSH, {"Content-Type": "application/json"}, body)
        assert reply.status == 400, body
    not_an_event = ff_events.host.request("POST", "/", {"Content-Type": "application/json"}, b'{"no": "event"}')
    assert not_an_event.status == 400
    assert ff_events.read() == [] and gunicorn_push.read() == []


DEEP = b"[" * 100_000 + b"]" * 100_000  # nesting deeper than Python's JSON parser can recurse
STRUCTURED = {"Content-Type": "application/cloudevents+json"}
CE_HEADERS = {"ce-id": "1", "ce-source": f"//pubsub.googleapis.com/{TOPIC}", "ce-specversion": "1.0",
              "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "Content-Type": "application/json"}


def _structured(**attributes: object) -> bytes:
    document = {"specversion": "1.0", "type": "google.cloud.pubsub.topic.v1.messagePublished",
                "source": f"//pubsub.googleapis.com/{TOPIC}", "id": "1", "data": {"message": {"data": ""}}}
    return json.dumps({**document, **attributes}).encode()


BAD_CLOUD_EVENTS = {
    "binary-deep-json": (CE_HEADERS, DEEP),
    "binary-5000-digit-number": (CE_HEADERS, b'{"message": {"messageId": ' + b"9" * 5000 + b"}}"),
    "binary-bad-time": ({**CE_HEADERS, "ce-time": "yesterday"}, b'{"message": {"data": ""}}'),
    "binary-not-utf8": (CE_HEADERS, b'{"message": {"data": "\xff"}}'),
    "binary-octet-data": ({**CE_HEADERS, "Content-Type": "application/octet-stream"}, b"\xff\xfe"),
    "structured-deep-json": (STRUCTURED, _structured(data=None)[:-1] + b', "x": ' + DEEP + b"}"),
    "structured-not-utf8": (STRUCTURED, _structured().replace(b'"id": "1"', b'"id": "\xff"')),
    "structured-type-not-string": (STRUCTURED, _structured(type=5)),
    "structured-id-object": (STRUCTURED, _structured(id={"a": 1})),
    "structured-time-number": (STRUCTURED, _structured(time=5)),
    "structured-broken": (STRUCTURED, b"{broken"),
    "legacy-data-not-object": ({"Content-Type": "application/json"},
                               b'{"context": {"eventType": "google.pubsub.topic.publish"}, "data": 5}'),
    "legacy-context-not-object": ({"Content-Type": "application/json"}, b'{"context": 5, "data": {}}'),
}


@pytest.mark.parametrize("case", BAD_CLOUD_EVENTS, ids=list(BAD_CLOUD_EVENTS))
def test_malformed_cloud_events_in_both_modes_are_400(ff_events: Receiver, case: str) -> None:
    headers, body = BAD_CLOUD_EVENTS[case]
    reply = ff_events.host.request("POST", "/", headers, body)
    assert reply.status == 400, (reply.status, reply.body[:300])
    assert ff_events.read() == []


@pytest.mark.parametrize("body", [DEEP, b'{"message": {"messageId": ' + b"9" * 5000 + b"}}", b'{"message": {"data": "\xff"}}',
                                  b'{"message": {"publishTime": {}}}', b'{"message": {}, "deliveryAttempt": "x"}'])
def test_malformed_push_envelopes_are_400(gunicorn_push: Receiver, body: bytes) -> None:
    reply = gunicorn_push.host.request("POST", PUSH, {"Content-Type": "application/json"}, body)
    assert reply.status == 400, (reply.status, reply.body[:300])
    assert gunicorn_push.host.request("POST", PUSH, {"Content-Type": "text/plain"}, b"{}").status == 400
    assert "RecursionError" not in gunicorn_push.host.log()
