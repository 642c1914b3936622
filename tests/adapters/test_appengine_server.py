"""A test app under real gunicorn with gunicorn.conf.py, as App Engine standard runs it, and off App Engine."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import REPO_ROOT, Server, free_port, get_until_closed, run_server, venv_tool

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

APP_SOURCE = '''
import dataclasses
import logging

from framework import App, request, url_for
from framework.adapters.appengine import cron_only, task_only

app = App(__name__)
app.config["SECRET_KEY_REQUIRED"] = False  # no sessions: on Google's hosts a key is otherwise required


@app.on_warmup
def warm():
    app.logger.info("warming up")


@app.get("/cron")
@cron_only
def cron():
    return "cron ok"


@app.post("/task")
@task_only
def task():
    info = request.appengine
    return {"queue": info.queue_name, "retries": info.task_retry_count, "eta": info.task_eta.isoformat()}


@app.get("/info")
def info():
    data = dataclasses.asdict(request.appengine)
    data["task_eta"] = None
    data["remote_addr"] = request.remote_addr
    data["scheme"] = request.scheme
    data["external"] = url_for("info", _external=True)
    data["platform"] = app.platform.kind
    return data


@app.get("/log")
def log():
    app.logger.warning("hello from the app")
    logging.getLogger("some.library").info("library line")
    return "logged"


@app.get("/boom")
def boom():
    raise ValueError("kaboom")
'''

APPENGINE_ENV = {
    "GAE_ENV": "standard",
    "GAE_SERVICE": "default",
    "GAE_VERSION": "20260817t142530",
    "GAE_INSTANCE": "00c61b117c0b",
    "GAE_RUNTIME": "python312",
    "GAE_MEMORY_MB": "384",
    "GAE_APPLICATION": "s~my-proj",
    "GOOGLE_CLOUD_PROJECT": "my-proj",
    "HOST": "127.0.0.1",  # tests bind loopback; on App Engine the config binds 0.0.0.0
}


def _gunicorn(tmp_path: Path, env: dict[str, str], worker: str) -> Any:
    (tmp_path / "gae_test_app.py").write_text(APP_SOURCE)
    port = free_port()
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "-k", worker,
           "--chdir", str(tmp_path), "gae_test_app:app"]
    return run_server(cmd, port=port, tmp_path=tmp_path, env={**env, "PORT": str(port)},
                      ready_path="/_ah/warmup")


def get(server: Server, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(server.url + path, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def json_lines(server: Server) -> list[dict[str, Any]]:
    entries = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))  # every JSON-looking line must be valid JSON
    return entries


def wait_for_entry(server: Server, message_part: str) -> dict[str, Any]:
    """The first structured log entry whose message contains `message_part` (waits for the write)."""
    deadline = time.monotonic() + 10
    while True:
        for entry in json_lines(server):
            if message_part in entry.get("message", ""):
                return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"no JSON log entry containing {message_part!r}:\n{server.log()}")
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["gthread", "sync"])
def appengine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _gunicorn(tmp_path_factory.mktemp(f"gae-{request.param}"), APPENGINE_ENV, request.param) as server:
        yield server


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same app under gunicorn with no platform variables (a laptop, or any other WSGI host)."""
    with _gunicorn(tmp_path_factory.mktemp("plain"), {"HOST": "127.0.0.1"}, "gthread") as server:
        yield server


# --- on App Engine (GAE_ENV=standard) --------------------------------------------------------------
def test_warmup_answers_200_and_logs_json(appengine: Server) -> None:
    status, body, _ = get(appengine, "/_ah/warmup")
    assert (status, body) == (200, "")
    entry = wait_for_entry(appengine, "warming up")
    assert entry["severity"] == "INFO"


def test_start_and_stop(appengine: Server) -> None:
    assert get(appengine, "/_ah/start")[0] == 200
    assert get(appengine, "/_ah/stop", {"X-Appengine-User-IP": "0.1.0.3"})[0] == 200
    assert get(appengine, "/_ah/stop", {"X-Appengine-User-IP": "203.0.113.9"})[0] == 403


def test_cron_only(appengine: Server) -> None:
    assert get(appengine, "/cron", {"X-Appengine-Cron": "true"})[:2] == (200, "cron ok")
    assert get(appengine, "/cron")[0] == 403
    assert get(appengine, "/cron", {"X-Appengine-Cron": "false"})[0] == 403
    assert get(appengine, "/cron", {"X-Appengine-QueueName": "default"})[0] == 403


def test_task_only(appengine: Server) -> None:
    headers = {"X-AppEngine-QueueName": "mail", "X-AppEngine-TaskName": "t1",
               "X-AppEngine-TaskRetryCount": "2", "X-AppEngine-TaskETA": "1234567890.5"}
    status, body, _ = get(appengine, "/task", headers, method="POST")
    assert status == 200
    assert json.loads(body) == {"queue": "mail", "retries": 2, "eta": "2009-02-13T23:31:30.500000+00:00"}
    assert get(appengine, "/task", {"X-Appengine-Cron": "true"}, method="POST")[0] == 403


def test_request_appengine_fields(appengine: Server) -> None:
    headers = {"X-Appengine-Country": "DE", "X-Appengine-Region": "be", "X-Appengine-City": "berlin",
               "X-Appengine-CityLatLong": "52.520008,13.404954", "X-Appengine-User-IP": "198.51.100.7",
               "X-Cloud-Trace-Context": f"{TRACE}/12345;o=1", "X-Forwarded-Proto": "https",
               "X-Forwarded-For": "198.51.100.7, 169.254.1.1", "Host": "my-proj.uc.r.appspot.com"}
    status, body, _ = get(appengine, "/info", headers)
    assert status == 200
    data = json.loads(body)
    assert data["trusted"] is True and data["platform"] == "appengine"
    assert (data["country"], data["region"], data["city"]) == ("DE", "be", "berlin")
    assert (data["latitude"], data["longitude"]) == (52.520008, 13.404954)
    assert (data["trace_id"], data["span_id"], data["trace_sampled"]) == (TRACE, format(12345, "016x"), True)
    assert data["remote_addr"] == "198.51.100.7"
    assert data["scheme"] == "https"
    assert data["external"] == "https://my-proj.uc.r.appspot.com/info"


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        ("198.51.100.7, 169.254.1.1", "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7, 169.254.1.1", "198.51.100.7"),  # a client-written entry is not believed
        ("169.254.1.1", "127.0.0.1"),  # too few hops: the socket address stays
    ],
)
def test_forwarded_for_trusts_exactly_googles_hop(appengine: Server, forwarded_for: str, client: str) -> None:
    data = json.loads(get(appengine, "/info", {"X-Forwarded-For": forwarded_for})[1])
    assert data["remote_addr"] == client
    assert data["user_ip"] is None


def test_structured_log_lines_carry_the_trace(appengine: Server) -> None:
    span = 987654321
    assert get(appengine, "/log", {"X-Cloud-Trace-Context": f"{TRACE}/{span};o=1"})[:2] == (200, "logged")
    entry = wait_for_entry(appengine, "hello from the app")
    assert entry["severity"] == "WARNING"
    assert entry["logging.googleapis.com/trace"] == f"projects/my-proj/traces/{TRACE}"
    assert entry["logging.googleapis.com/spanId"] == format(span, "016x")
    assert entry["logging.googleapis.com/trace_sampled"] is True
    location = entry["logging.googleapis.com/sourceLocation"]
    assert location["file"].endswith("gae_test_app.py") and location["function"] == "log"
    assert isinstance(location["line"], int)
    assert wait_for_entry(appengine, "library line")["severity"] == "INFO"  # root logger too


def test_traceparent_gives_the_trace_of_request_and_log_lines(appengine: Server) -> None:
    span = "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{TRACE}-{span}-01", "X-Cloud-Trace-Context": f"{'a' * 32}/1;o=0"}
    data = json.loads(get(appengine, "/info", headers)[1])
    assert (data["trace_id"], data["span_id"], data["trace_sampled"]) == (TRACE, span, True)
    assert get(appengine, "/log", headers)[0] == 200
    deadline = time.monotonic() + 10
    while not (entries := [e for e in json_lines(appengine) if e.get("logging.googleapis.com/spanId") == span]):
        assert time.monotonic() < deadline, appengine.log()
        time.sleep(0.05)
    assert {e["message"] for e in entries} >= {"hello from the app"}
    assert all(e["logging.googleapis.com/trace"] == f"projects/my-proj/traces/{TRACE}" for e in entries)


def test_unhandled_exception_logged_with_traceback(appengine: Server) -> None:
    assert get(appengine, "/boom")[0] == 500
    entry = wait_for_entry(appengine, "kaboom")
    assert entry["severity"] == "ERROR"
    assert "Traceback (most recent call last)" in entry["message"]
    assert "ValueError: kaboom" in entry["message"]


def test_no_access_log_and_no_plain_app_log_lines(appengine: Server) -> None:
    assert get_until_closed(appengine, "/log").startswith(b"HTTP/1.1 200")
    wait_for_entry(appengine, "hello from the app")
    text = appengine.log()
    assert '"GET /log HTTP/1.1"' not in text  # the platform writes the request log
    assert "WARNING in gae_test_app" not in text  # the readable default handler is off


def test_workers_sized_from_instance_memory(appengine: Server) -> None:
    # GAE_MEMORY_MB=384 is an F1 instance: Google's starting point is two workers. The server answers
    # once one worker is up, so give the second one time to boot, then make sure no third one does.
    deadline = time.monotonic() + 30
    while appengine.log().count("Booting worker with pid") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert appengine.log().count("Booting worker with pid") == 2
    assert "Control socket" not in appengine.log()


# --- anywhere else (no platform variables) ----------------------------------------------------------
def test_forged_platform_headers_are_ignored_off_appengine(plain: Server) -> None:
    assert get(plain, "/cron", {"X-Appengine-Cron": "true"})[0] == 403
    assert get(plain, "/task", {"X-AppEngine-QueueName": "q"}, method="POST")[0] == 403
    assert get(plain, "/_ah/stop")[0] == 403
    headers = {"X-Appengine-Country": "DE", "X-Appengine-User-IP": "198.51.100.7",
               "X-Forwarded-For": "198.51.100.7, 169.254.1.1", "X-Forwarded-Proto": "https"}
    data = json.loads(get(plain, "/info", headers)[1])
    assert data["trusted"] is False and data["country"] is None and data["platform"] == "local"
    assert data["remote_addr"] == "127.0.0.1"  # no proxy trusted off App Engine
    assert data["scheme"] == "http"


def test_access_line_is_written_before_the_connection_closes(plain: Server) -> None:
    """The control for test_no_access_log_...: where the access log is on, the line is already there
    when get_until_closed returns."""
    assert get_until_closed(plain, "/info?control=1").startswith(b"HTTP/1.1 200")
    assert '"GET /info?control=1 HTTP/1.1" 200' in plain.log()


def test_plain_text_logs_and_access_log_locally(plain: Server) -> None:
    get(plain, "/log")
    deadline = time.monotonic() + 10
    while not ("hello from the app" in plain.log() and "GET /log" in plain.log()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the access log line is written after the response
    text = plain.log()
    assert "WARNING in gae_test_app: hello from the app" in text
    assert not any("hello from the app" in e.get("message", "") for e in json_lines(plain))
    assert '"GET /log HTTP/1.1" 200' in text


ABSURD_HEADERS = {
    "X-Cloud-Trace-Context": f"{TRACE}/{'9' * 4000};o=1",
    "traceparent": f"00-{'g' * 32}-{'1' * 16}-01-" + "x" * 3000,
    "X-Appengine-CityLatLong": "1e400,-1e400",
    "X-Appengine-Country": "Z" * 5000,
    "X-AppEngine-QueueName": "q",
    "X-AppEngine-TaskRetryCount": "9" * 900,
    "X-AppEngine-TaskExecutionCount": "-1",
    "X-AppEngine-TaskETA": "9" * 400,
    "X-Appengine-User-IP": "not-an-ip\u00e9",
    "X-Forwarded-For": "garbage, , \u00ff",
}


@pytest.mark.parametrize("path", ["/info", "/log", "/_ah/warmup"])
def test_absurd_platform_header_values_are_ignored_not_500(appengine: Server, path: str) -> None:
    headers = {name: value.encode("utf-8").decode("latin-1") for name, value in ABSURD_HEADERS.items()}
    status, body, _ = get(appengine, path, headers)
    assert status == 200, body
    if path == "/info":
        data = json.loads(body)
        assert data["trace_id"] is None and data["latitude"] is None and data["country"] is None
        assert data["task_retry_count"] is None and data["task_execution_count"] is None
        assert data["is_cron"] is False and data["queue_name"] == "q"
        assert data["remote_addr"] == "127.0.0.1"  # neither header was a usable address
    task = get(appengine, "/task", {**headers, "X-AppEngine-TaskETA": "1"}, method="POST")
    assert task[0] == 200 and json.loads(task[1])["retries"] is None
