"""`@app.on_event` matching, dispatch outcomes, and the Pub/Sub push route, all in-process."""

from __future__ import annotations

import base64
import functools
import json
import logging
from typing import Any

import pytest

from framework import App, current_app
from framework.events import STORAGE_DELETED, STORAGE_FINALIZED, Event
from framework.testing import events as ev

TOPIC = "projects/p/topics/orders"


@pytest.fixture
def app() -> App:
    return App(__name__)


def _recorder(app: App, event_type: str, name: str, seen: list[tuple[str, Any]], **filters: str) -> None:
    @app.on_event(event_type, **filters)
    def handler(event: Event) -> None:
        seen.append((name, event))

    handler.__qualname__ = name


def test_exact_and_glob_filters_and_registration_order(app: App) -> None:
    seen: list[tuple[str, Any]] = []
    _recorder(app, "google.cloud.storage.object.v1.*", "images", seen, subject="objects/images/*")
    _recorder(app, STORAGE_FINALIZED, "uploads-bucket", seen,
              source="//storage.googleapis.com/projects/_/buckets/uploads")
    _recorder(app, STORAGE_FINALIZED, "other-bucket", seen, source="//storage.googleapis.com/projects/_/buckets/o")
    _recorder(app, STORAGE_FINALIZED, "needs-extension", seen, bucket="uploads")

    result = ev.deliver(app, ev.storage("uploads", "images/cat.png"))
    assert [name for name, _ in seen] == ["images", "uploads-bucket"]
    assert (result.status, result.handled, result.ok) == (200, 2, True)

    seen.clear()
    ev.deliver(app, ev.storage("uploads", "images/cat.png", event_type=STORAGE_DELETED))
    assert [name for name, _ in seen] == ["images"]

    seen.clear()
    ev.deliver(app, ev.storage("uploads", "docs/images/x"))  # glob anchors at the start
    assert [name for name, _ in seen] == ["uploads-bucket"]

    seen.clear()
    ev.deliver(app, ev.cloud_event(STORAGE_FINALIZED, "//storage.googleapis.com/projects/_/buckets/x",
                                   {}, bucket="uploads"))
    assert [name for name, _ in seen] == ["needs-extension"]


def test_handlers_run_in_an_app_context(app: App) -> None:
    names: list[str] = []

    @app.on_event("t")
    def handler(event: Event) -> None:
        names.append(current_app.name)

    assert ev.deliver(app, ev.cloud_event("t", "s")).status == 200
    assert names == [app.name]


def test_unhandled_event_is_logged_and_answered_by_config(app: App, caplog: pytest.LogCaptureFixture) -> None:
    event = ev.cloud_event("nobody.listens", "//src")
    with caplog.at_level(logging.WARNING):
        result = ev.deliver(app, event)
    assert (result.status, result.handled, result.error) == (200, 0, None)
    assert any("no event handler" in r.getMessage() and event.id in r.getMessage() for r in caplog.records)

    app.config["UNHANDLED_EVENT_STATUS"] = 404
    assert ev.deliver(app, event).status == 404
    app.config["UNHANDLED_EVENT_STATUS"] = "404"
    with pytest.raises(ValueError, match="UNHANDLED_EVENT_STATUS"):
        ev.deliver(app, event)


def test_failing_handler_is_500_and_logged_and_stops_later_handlers(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @app.on_event("t")
    def first(event: Event) -> None:
        ran.append("first")

    @app.on_event("t")
    def broken(event: Event) -> None:
        raise KeyError("boom")

    @app.on_event("t")
    def last(event: Event) -> None:
        ran.append("last")

    with caplog.at_level(logging.ERROR):
        result = ev.deliver(app, ev.cloud_event("t", "s"))
    assert (result.status, result.handled) == (500, 1)
    assert isinstance(result.error, KeyError)
    assert ran == ["first"]
    assert any(r.exc_info and "broken" in r.getMessage() for r in caplog.records)


def test_malformed_payload_in_handler_is_400(app: App) -> None:
    @app.on_event("google.cloud.pubsub.topic.v1.messagePublished")
    def handler(event: Event) -> None:
        event.pubsub.json()

    assert ev.deliver(app, ev.pubsub(b"not json")).status == 400
    assert ev.deliver(app, ev.pubsub({"ok": True})).status == 200


def test_handlers_without_a_qualname_get_the_same_outcomes(app: App) -> None:
    class Strict:
        def __call__(self, event: Event) -> None:
            event.json()

    app.on_event("t")(functools.partial(Strict()))
    assert ev.deliver(app, ev.cloud_event("t", "s", b"not json")).status == 400  # not a crash while logging
    assert ev.deliver(app, ev.cloud_event("t", "s", 7)).status == 200


def test_filters_must_be_strings(app: App) -> None:
    with pytest.raises(TypeError):
        app.on_event("t", source=3)  # type: ignore[arg-type]


# --- Pub/Sub push route ------------------------------------------------------------------------
def _push_app(app: App, seen: list[dict[str, Any]], **kwargs: Any) -> None:
    @app.on_event("google.cloud.pubsub.topic.v1.messagePublished", source=f"//pubsub.googleapis.com/{TOPIC}")
    def on_order(event: Event) -> None:
        message = event.pubsub
        seen.append({"id": event.id, "time": event.time, "type": event.type, "source": event.source,
                     "data": message.data, "attributes": message.attributes, "message_id": message.message_id,
                     "publish_time": message.publish_time, "subscription": message.subscription})
        if message.attributes.get("fail"):
            raise RuntimeError("failed on purpose")

    app.pubsub_push_route("/push", topic=TOPIC, **kwargs)


def test_push_route_reaches_the_same_handler_with_the_same_event(app: App) -> None:
    seen: list[dict[str, Any]] = []
    _push_app(app, seen)
    event = ev.pubsub(b"\x00\x01payload", attributes={"k": "v"}, topic=TOPIC)

    response = ev.send(app.test_client(), "/push", event, mode="push")
    assert (response.status_code, response.get_data()) == (200, b"OK")
    assert ev.deliver(app, event).status == 200
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0]["data"] == b"\x00\x01payload" and seen[0]["attributes"] == {"k": "v"}
    assert seen[0]["id"] == event.id and seen[0]["time"] is not None


def test_push_route_statuses(app: App) -> None:
    seen: list[dict[str, Any]] = []
    _push_app(app, seen)
    client = app.test_client()
    good = {"message": {"data": base64.b64encode(b"x").decode(), "messageId": "1"}, "subscription": "s"}
    assert client.post("/push", json=good).status_code == 200
    failing = {"message": {**good["message"], "attributes": {"fail": "1"}}}
    response = client.post("/push", json=failing)
    assert (response.status_code, response.get_data()) == (500, b"Internal Server Error")
    for body in (b"{not json", b"[]", b'"text"', b"{}", b'{"message": []}',
                 json.dumps({"message": {"data": "***"}}).encode()):
        response = client.post("/push", data=body, content_type="application/json")
        assert response.status_code == 400, body
    assert client.get("/push").status_code == 405
    assert len(seen) == 2


def test_push_route_without_matching_handler_uses_the_unhandled_rule(app: App) -> None:
    app.pubsub_push_route("/push", topic="projects/p/topics/nobody")
    app.config["UNHANDLED_EVENT_STATUS"] = 404
    response = ev.send(app.test_client(), "/push", ev.pubsub(b"x"))
    assert (response.status_code, response.get_data()) == (404, b"Not Found")


def test_push_route_verify_hook(app: App) -> None:
    seen: list[dict[str, Any]] = []
    tokens: list[str | None] = []

    def verify(request: Any) -> bool:
        tokens.append(request.headers.get("Authorization"))
        return request.headers.get("Authorization") == "Bearer good"

    _push_app(app, seen, verify=verify)
    headers, body = ev.push(ev.pubsub(b"x", topic=TOPIC))
    client = app.test_client()
    assert client.post("/push", data=body, headers={**headers, "Authorization": "Bearer bad"}).status_code == 403
    assert client.post("/push", data=body, headers=headers).status_code == 403
    assert seen == []
    assert client.post("/push", data=body, headers={**headers, "Authorization": "Bearer good"}).status_code == 200
    assert tokens == ["Bearer bad", None, "Bearer good"] and len(seen) == 1
