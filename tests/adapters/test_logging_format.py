"""Cloud Logging structured lines, format choice, and installing the handler on the root logger."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator

import pytest

from framework.adapters import cloud_logging
from framework.adapters.cloud_logging import CloudLoggingFormatter, choose_format, severity
from tests.support.metadata import MetadataStandIn, metadata_server


def _record(msg: str = "hello %s", args: tuple = ("world",), level: int = logging.WARNING,
            exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("my.logger", level, "/srv/main.py", 42, msg, args, exc_info, func="handler")


def test_line_is_one_json_object_with_cloud_logging_keys() -> None:
    line = CloudLoggingFormatter("my-proj").format(_record())
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello world"
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert entry["logger"] == "my.logger"
    assert entry["logging.googleapis.com/sourceLocation"] == {"file": "/srv/main.py", "line": 42, "function": "handler"}
    assert "logging.googleapis.com/trace" not in entry  # no request: no correlation


def test_exception_text_goes_into_the_message() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = _record("failed", (), logging.ERROR, sys.exc_info())
    line = CloudLoggingFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["severity"] == "ERROR"
    assert entry["message"].startswith("failed\nTraceback (most recent call last):")
    assert "ValueError: boom\nsecond line" in entry["message"]


@pytest.mark.parametrize(
    ("level", "name"),
    [(5, "DEFAULT"), (10, "DEBUG"), (15, "DEBUG"), (20, "INFO"), (30, "WARNING"), (40, "ERROR"), (50, "CRITICAL"), (60, "CRITICAL")],
)
def test_severity(level: int, name: str) -> None:
    assert severity(level) == name


def test_non_ascii_and_odd_args_stay_one_line() -> None:
    entry = json.loads(CloudLoggingFormatter().format(_record("Grüße %r", ({"a": b"\x00"},))))
    assert entry["message"] == "Grüße {'a': b'\\x00'}"


@pytest.mark.parametrize(
    ("config", "env", "on_google", "expected"),
    [
        (None, {}, True, "json"),
        (None, {}, False, "text"),
        ("text", {}, True, "text"),
        ("JSON", {}, False, "json"),
        (None, {"FRAMEWORK_LOG_FORMAT": "json"}, False, "json"),
        ("text", {"FRAMEWORK_LOG_FORMAT": "json"}, False, "text"),
        ("nonsense", {"FRAMEWORK_LOG_FORMAT": "also nonsense"}, True, "json"),
    ],
)
def test_choose_format(config: object, env: dict[str, str], on_google: bool, expected: str) -> None:
    assert choose_format(config, on_google, env) == expected


def test_install_is_idempotent_and_reversible() -> None:
    root = logging.getLogger()
    level = root.level
    try:
        cloud_logging.install("json", "p")
        cloud_logging.install("json", "p")
        handlers = [h for h in root.handlers if isinstance(h, cloud_logging.CloudLoggingHandler)]
        assert len(handlers) == 1
        stream = io.StringIO()
        handlers[0].setStream(stream)
        logging.getLogger("some.library").warning("from a library")
        assert json.loads(stream.getvalue())["message"] == "from a library"
        cloud_logging.install("text")
        assert cloud_logging.installed_handler() is None
    finally:
        cloud_logging.uninstall()
        root.setLevel(level)


def test_handler_follows_sys_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    handler = cloud_logging.CloudLoggingHandler("p")
    handler.emit(_record("to the current stderr", ()))
    assert json.loads(capsys.readouterr().err)["message"] == "to the current stderr"


@pytest.fixture
def fake_metadata() -> Iterator[MetadataStandIn]:
    with metadata_server("fake-proj") as stand_in:
        yield stand_in


def test_cloud_run_asks_the_metadata_server_once_for_the_trace_project(
    fake_metadata: MetadataStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from framework import App

    monkeypatch.setenv("K_SERVICE", "svc")  # Cloud Run sets no project variable
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.setenv(cloud_logging.METADATA_HOST_ENV, fake_metadata.host)
    app = App("on_cloud_run")

    @app.get("/")
    def index() -> str:
        app.logger.warning("traced line")
        return "ok"

    client = app.test_client()
    capsys.readouterr()
    for _ in range(2):
        assert client.get("/", headers={"X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1"}).status_code == 200
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    traced = [e for e in entries if e["message"] == "traced line"]
    assert len(traced) == 2
    assert {e["logging.googleapis.com/trace"] for e in traced} == {"projects/fake-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"}
    assert fake_metadata.asked == [("/computeMetadata/v1/project/project-id", "Google")]


def test_unreachable_metadata_server_means_no_trace_field_not_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening: connection refused
        assert cloud_logging.metadata_project({cloud_logging.METADATA_HOST_ENV: closed}, timeout=2) is None
    calls: list[int] = []
    formatter = CloudLoggingFormatter(lambda: calls.append(1))  # a lookup that finds nothing
    assert (formatter.project, formatter.project, calls) == (None, None, [1])  # asked once, not per line
