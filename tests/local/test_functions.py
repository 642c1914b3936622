"""`python -m deploy.local.functions`: a function under the real functions-framework, ndb on the local Datastore."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.local.conftest import copy_app
from tests.support.procs import free_port, run_server

pytestmark = pytest.mark.slow


def call(url: str, method: str = "GET") -> dict[str, object]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_function_routes_use_the_local_datastore(tmp_path: Path) -> None:
    app_dir = copy_app("function", tmp_path)
    port = free_port()
    cmd = [sys.executable, "-m", "deploy.local.functions", "handler", "--app-dir", str(app_dir), "--port", str(port)]
    env = {"DATASTORE_EMULATOR_HOST": "", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9"}
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env, ready_path=None, timeout=90) as server:
        saved = call(server.url + "/notes/first", "POST")
        assert saved["saved"] == "first" and str(saved["datastore"]).startswith("127.0.0.1:")
        assert call(server.url + "/notes/first") == {"text": "note first", "count": 1}
        deadline = time.monotonic() + 30
        while "Serving function handler on" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
    assert any((app_dir / ".datastore").iterdir())  # the emulator kept its data in the app folder
