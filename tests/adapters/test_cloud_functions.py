"""The Cloud Functions adapters inside the real functions-framework app (its Flask app, in-process)."""

from __future__ import annotations

import base64
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import functions_framework
import pytest

from framework.testing import events as ev
from tests.support.procs import REPO_ROOT

SOURCE = '''
from framework import App, Response, request, stream_with_context, url_for
from framework.adapters.cloud_functions import cloud_event, http

app = App("cf_test")
app.config["SECRET_KEY_REQUIRED"] = False  # no sessions: on Google's hosts a key is otherwise required
calls = []


@app.route("/where", methods=["GET", "POST"])
def where():
    return {"path": request.path, "script_root": request.script_root,
            "external": url_for("where", _external=True), "relative": url_for("where")}


@app.get("/appengine")
def appengine():
    info = request.appengine
    return {"trusted": info.trusted, "cron": info.is_cron, "country": info.country, "kind": app.platform.kind}


@app.post("/echo")
def echo():
    data = request.get_data()
    return {"size": len(data), "head": data[:20].decode("latin-1")}


@app.post("/ignore-body")
def ignore_body():
    return "ignored"


@app.get("/stream")
def stream():
    @stream_with_context
    def chunks():
        for i in range(3):
            calls.append(f"chunk {i}")
            yield f"{i}:{request.path};"
    return Response(chunks(), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("nope")


@app.teardown_request
def record_teardown(exc):
    calls.append("teardown")


@app.on_event("test.ok")
def ok(event):
    calls.append(("ok", event.id, event.data))


@app.on_event("test.fail")
def fail(event):
    raise RuntimeError("handler failed")


@app.on_event("google.cloud.pubsub.topic.v1.messagePublished")
def message(event):
    calls.append(("message", event.pubsub.json()))


class LazyStart:
    """A WSGI iterable that calls start_response only once iterated (each time it is iterated)."""

    def __init__(self, start_response):
        self.start_response = start_response

    def __iter__(self):
        self.start_response("201 Created", [("Content-Type", "text/plain")])
        yield b"one;"
        yield b"two"

    def close(self):
        calls.append("closed")


http_function = http(app)
mounted_function = http(app, script_name="/api")
lazy_function = http(lambda environ, start_response: LazyStart(start_response))


class NeverStarts(LazyStart):
    def __iter__(self):
        yield b"no status"


broken_function = http(lambda environ, start_response: NeverStarts(start_response))
event_function = cloud_event(app)


def users_own_event_function(cloud_event):
    raise ValueError("a bug in the user's own function")
'''


@pytest.fixture
def module_path(tmp_path: Path) -> Iterator[Path]:
    name = f"cf_source_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(SOURCE))
    yield path
    sys.modules.pop(name, None)


def _ff(path: Path, target: str, signature: str = "http") -> tuple[Any, ModuleType]:
    ff_app = functions_framework.create_app(target, str(path), signature)
    return ff_app.test_client(), sys.modules[path.stem]


def test_full_path_passes_through_locally(module_path: Path) -> None:
    client, _ = _ff(module_path, "http_function")
    body = client.get("/where", base_url="http://fn-abc.a.run.app").get_json()
    assert body == {"path": "/where", "script_root": "", "external": "http://fn-abc.a.run.app/where",
                    "relative": "/where"}


@pytest.mark.parametrize("path", ["/where", "/myfn/where"])
def test_gen1_host_gets_the_function_name_as_script_name(
    module_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setenv("K_SERVICE", "myfn")
    client, _ = _ff(module_path, "http_function")
    body = client.get(path, base_url="http://us-central1-proj.cloudfunctions.net").get_json()
    assert body["path"] == "/where" and body["script_root"] == "/myfn"
    assert body["external"] == "http://us-central1-proj.cloudfunctions.net/myfn/where"
    # Without a known function name nothing is guessed.
    monkeypatch.delenv("K_SERVICE")
    assert client.get("/where", base_url="http://x.cloudfunctions.net").get_json()["script_root"] == ""


def test_forwarded_proto_is_believed_only_on_google_hosts(module_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = _ff(module_path, "http_function")
    headers = {"X-Forwarded-Proto": "http, https"}
    assert client.get("/where", headers=headers).get_json()["external"] == "http://localhost/where"
    monkeypatch.setenv("K_SERVICE", "myfn")
    assert client.get("/where", headers=headers).get_json()["external"] == "https://localhost/where"
    assert client.get("/where", headers={"X-Forwarded-Proto": "https, gopher"}).get_json()["external"] == (
        "http://localhost/where"
    )


def test_appengine_headers_are_not_believed_on_cloud_functions(module_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "myfn")
    monkeypatch.setenv("FUNCTION_TARGET", "http_function")
    client, _ = _ff(module_path, "http_function")
    body = client.get("/appengine", headers={"X-Appengine-Cron": "true", "X-Appengine-Country": "DE"}).get_json()
    assert body == {"trusted": False, "cron": False, "country": None, "kind": "cloud_functions"}


def test_explicit_script_name(module_path: Path) -> None:
    client, _ = _ff(module_path, "mounted_function")
    body = client.get("/api/where").get_json()
    assert (body["path"], body["script_root"], body["relative"]) == ("/where", "/api", "/api/where")


def test_body_is_read_once_through_ff_and_unread_bodies_are_drained(module_path: Path) -> None:
    client, _ = _ff(module_path, "http_function")
    payload = b"0123456789" * 200_000
    response = client.post("/echo", data=payload, content_type="application/octet-stream")
    assert response.status_code == 200
    assert response.get_json() == {"size": len(payload), "head": "01234567890123456789"}
    response = client.post("/ignore-body", data=payload, content_type="application/octet-stream")
    assert (response.status_code, response.get_data()) == (200, b"ignored")


def test_streaming_and_teardown_after_the_stream(module_path: Path) -> None:
    client, module = _ff(module_path, "http_function")
    response = client.get("/stream")
    assert response.get_data() == b"0:/stream;1:/stream;2:/stream;"
    response.close()
    # As in Flask 3.1: teardown when the view returns, and again when the streamed context closes.
    assert module.calls == ["teardown", "chunk 0", "chunk 1", "chunk 2", "teardown"]
    assert response.headers.get("Content-Length") is None


def test_wsgi_app_that_starts_the_response_lazily(module_path: Path) -> None:
    client, module = _ff(module_path, "lazy_function")
    response = client.get("/")
    assert (response.status_code, response.get_data()) == (201, b"one;two")  # the first chunk once
    response.close()
    assert module.calls == ["closed"]
    client, module = _ff(module_path, "broken_function")
    assert client.get("/").status_code == 500  # a broken WSGI app is a server error; its iterable is closed
    assert module.calls == ["closed"]


def test_app_error_handling_not_ff_crash_handler(module_path: Path) -> None:
    client, _ = _ff(module_path, "http_function")
    response = client.get("/boom")
    assert response.status_code == 500
    assert "X-Google-Status" not in response.headers
    assert b"nope" not in response.get_data()
    assert client.get("/nowhere").status_code == 404
    assert client.head("/where").get_data() == b""
    # functions-framework answers these itself, before the app (documented).
    assert client.get("/favicon.ico").status_code == 404


def _post_event(client: Any, event: Any, mode: str = "binary") -> Any:
    headers, body = ev.encode(event, mode)
    return client.post("/", data=body, headers=headers)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_cloud_event_function_outcomes(module_path: Path, mode: str) -> None:
    client, module = _ff(module_path, "event_function", "cloudevent")
    event = ev.cloud_event("test.ok", "//test", {"n": 1})
    response = _post_event(client, event, mode)
    assert (response.status_code, response.get_data()) == (200, b"OK")
    assert module.calls == [("ok", event.id, {"n": 1})]

    response = _post_event(client, ev.cloud_event("test.fail", "//test", {}), mode)
    assert (response.status_code, response.get_data()) == (500, b"Internal Server Error")

    response = _post_event(client, ev.pubsub(b"not json"), mode)
    assert (response.status_code, response.get_data()) == (400, b"Bad Request")

    assert _post_event(client, ev.pubsub({"x": 1}), mode).status_code == 200
    assert module.calls[-1] == ("message", {"x": 1})

    assert _post_event(client, ev.cloud_event("nobody", "//test", {}), mode).status_code == 200
    module.app.config["UNHANDLED_EVENT_STATUS"] = 404
    response = _post_event(client, ev.cloud_event("nobody", "//test", {}), mode)
    assert (response.status_code, response.get_data()) == (404, b"Not Found")


def test_not_a_cloud_event_is_rejected_by_ff(module_path: Path) -> None:
    client, module = _ff(module_path, "event_function", "cloudevent")
    assert client.post("/", data=b"{}", content_type="application/json").status_code == 400
    assert module.calls == []


def test_parse_failures_are_400_only_for_our_event_function(module_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    headers, _ = ev.binary(ev.cloud_event("test.ok", "//test"))
    client, module = _ff(module_path, "event_function", "cloudevent")
    response = client.post("/", data=deep, headers=headers)
    assert (response.status_code, response.get_data()) == (400, b"Bad Request")
    assert module.calls == []
    # A plain CloudEvent function of the user's, in the same module: its own errors stay FF's 500s.
    client, _ = _ff(module_path, "users_own_event_function", "cloudevent")
    assert client.post("/", data=b"{}", headers=headers).status_code == 500


def test_legacy_background_pubsub_event_is_converted_by_ff_and_reaches_the_handler(module_path: Path) -> None:
    client, module = _ff(module_path, "event_function", "cloudevent")
    legacy = {
        "context": {"eventId": "1215011316659232", "timestamp": "2020-05-18T12:13:19.209Z",
                    "eventType": "google.pubsub.topic.publish",
                    "resource": {"service": "pubsub.googleapis.com", "name": "projects/p/topics/t",
                                 "type": "type.googleapis.com/google.pubsub.v1.PubsubMessage"}},
        "data": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
                 "data": base64.b64encode(b'{"legacy": true}').decode(), "attributes": {"a": "b"}},
    }
    response = client.post("/", json=legacy)
    assert (response.status_code, response.get_data()) == (200, b"OK")
    assert module.calls == [("message", {"legacy": True})]


def test_main_exports_app_http_function_and_event_function() -> None:
    """The sample main.py as functions-framework loads it: its routes and its event handlers."""
    saved = sys.modules.get("main")
    try:
        web = functions_framework.create_app("http_function", str(REPO_ROOT / "main.py"), "http").test_client()
        assert web.get("/hello/ann").get_json() == {"hello": "ann"}
        events = functions_framework.create_app("event_function", str(REPO_ROOT / "main.py"), "cloudevent")
        headers, body = ev.binary(ev.pubsub(b"hi"))
        assert events.test_client().post("/", data=body, headers=headers).status_code == 200
        module = sys.modules["main"]
        assert callable(module.app) and module.http_function.__name__ == "http_function"
        headers, body = ev.push(ev.pubsub(b"hi"))
        assert module.app.test_client().post("/_ah/push/messages", data=body, headers=headers).status_code == 200
    finally:
        if saved is None:
            sys.modules.pop("main", None)
        else:
            sys.modules["main"] = saved
