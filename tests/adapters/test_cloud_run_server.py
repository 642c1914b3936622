"""A real gunicorn with gunicorn.conf.py in Cloud Run's environment (K_SERVICE, K_REVISION,
K_CONFIGURATION, PORT), as a container started with `gunicorn -c gunicorn.conf.py main:app` runs.

The metadata server cannot run here: a small HTTP stand-in on loopback answers the project id, reached
through GCE_METADATA_HOST exactly as Google's client libraries allow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _PLATFORM_VARS
from tests.support.metadata import MetadataStandIn, metadata_server
from tests.support.procs import REPO_ROOT, Server, free_port, get_until_closed, run_server, venv_tool

pytestmark = pytest.mark.slow

TRACE = "0af7651916cd43dd8448eb211c80319c"

APP_SOURCE = '''
import logging

from framework import App, request, url_for
from framework.adapters.appengine import cron_only

app = App(__name__)
app.config["SECRET_KEY_REQUIRED"] = False  # no sessions in this app


@app.get("/where")
def where():
    return {"kind": app.platform.kind, "service": app.platform.service, "version": app.platform.version,
            "scheme": request.scheme, "remote": request.remote_addr, "self": url_for("where", _external=True),
            "trusted": request.appengine.trusted}


@app.get("/log")
def log():
    app.logger.warning("hello from cloud run")
    return "logged"


@app.get("/cron")
@cron_only
def cron():
    return "ran"
'''


@pytest.fixture(scope="module")
def metadata() -> Iterator[MetadataStandIn]:
    with metadata_server("run-proj") as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def cloud_run(metadata: MetadataStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path: Path = tmp_path_factory.mktemp("cloud-run")
    (tmp_path / "run_test_app.py").write_text(APP_SOURCE)
    port = free_port()
    env = {
        "K_SERVICE": "orders", "K_REVISION": "orders-00007-xyz", "K_CONFIGURATION": "orders", "PORT": str(port),
        "HOST": "127.0.0.1",  # tests bind loopback; on Cloud Run the config binds 0.0.0.0
        "GCE_METADATA_HOST": metadata.host,
        "WEB_CONCURRENCY": "1",  # one worker: the metadata stand-in is asked once per process
    }
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--chdir", str(tmp_path),
           "run_test_app:app"]
    # A module fixture starts before the per-test clean-up of tests/conftest.py, and functions-framework
    # sets FUNCTION_TARGET in os.environ when a test of this worker loads a function: take them out.
    with pytest.MonkeyPatch.context() as clean:
        for name in _PLATFORM_VARS:
            clean.delenv(name, raising=False)
        with run_server(cmd, port=port, tmp_path=tmp_path, env=env, ready_path="/where") as server:
            yield server


def _reply(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _json_entries(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_platform_and_scheme_from_cloud_runs_front_end(cloud_run: Server) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6"}
    status, body = _reply(get_until_closed(cloud_run, "/where", headers))
    data = json.loads(body)
    assert status == 200
    assert (data["kind"], data["service"], data["version"]) == ("cloud_run", "orders", "orders-00007-xyz")
    assert data["scheme"] == "https" and data["self"] == "https://localhost/where"
    assert data["remote"] == "127.0.0.1"  # X-Forwarded-For is not believed on Cloud Run
    assert data["trusted"] is False  # App Engine's headers mean nothing here


def test_app_engine_headers_from_a_client_are_not_trusted(cloud_run: Server) -> None:
    status, _ = _reply(get_until_closed(cloud_run, "/cron", {"X-Appengine-Cron": "true"}))
    assert status == 403


def test_json_logs_with_the_trace_project_from_the_metadata_server(cloud_run: Server, metadata: MetadataStandIn) -> None:
    status, body = _reply(get_until_closed(cloud_run, "/log", {"X-Cloud-Trace-Context": f"{TRACE}/5;o=1"}))
    assert (status, body) == (200, b"logged")
    deadline = time.monotonic() + 10
    while not (entries := [e for e in _json_entries(cloud_run) if e.get("message") == "hello from cloud run"]):
        assert time.monotonic() < deadline, cloud_run.log()
        time.sleep(0.05)
    assert entries[0]["severity"] == "WARNING"
    assert entries[0]["logging.googleapis.com/trace"] == f"projects/run-proj/traces/{TRACE}"
    assert ("/computeMetadata/v1/project/project-id", "Google") in metadata.asked
    # Every line gunicorn and the app wrote is structured JSON: no plain-text line on Cloud Run.
    plain = [line for line in cloud_run.log().splitlines() if line.strip() and not line.startswith("{")]
    assert plain == []


def test_no_access_log_on_cloud_run(cloud_run: Server) -> None:
    """Cloud Run writes the request log itself; the line would be there once the connection closed."""
    assert _reply(get_until_closed(cloud_run, "/where?probe=access"))[0] == 200
    assert "/where?probe=access" not in cloud_run.log()
