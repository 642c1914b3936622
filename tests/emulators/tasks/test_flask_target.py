"""The emulator delivering to a real Flask app under gunicorn: JSON body, retry after a 503, headers read by Flask."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from google.protobuf import duration_pb2

from framework.emulators.tasks.launcher import start
from tests.support.procs import free_port, run_server, venv_tool

from .conftest import APPS, make_client, queue, wait_until


def test_flask_app_gets_the_task_and_its_retry(tmp_path: Path) -> None:
    port = free_port()
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--chdir", str(APPS),
           "flask_worker:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, ready_path="/done") as server, \
            start(app_engine_url=server.url) as emulator:
        client = make_client(emulator.address)
        made = queue(client, "images", retry_config={"min_backoff": duration_pb2.Duration(nanos=100_000_000)})
        client.create_task(parent=made.name, task={"app_engine_http_request": {
            "relative_uri": "/tasks/resize", "body": json.dumps({"image": "cat.png"}).encode(),
            "headers": {"Content-Type": "application/json"}}})

        def finished() -> list[dict[str, object]]:
            with urllib.request.urlopen(server.url + "/done", timeout=10) as response:
                return list(json.loads(response.read()))

        assert wait_until(finished, what="the Flask task") == [
            {"image": "cat.png", "retries": 1, "queue": "images", "previous": "503"}]
