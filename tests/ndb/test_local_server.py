"""`make run` equivalent: deploy.local_server with the emulator embedded, or an existing one reused."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.cloud import datastore

from tests.support.procs import Server, free_port, run_server

pytestmark = pytest.mark.slow
# --no-reload: other edits in this checkout must not restart the instance under test.
RUNNER = [sys.executable, "-m", "deploy.local_server", "--no-reload"]


def call(server: Server, method: str, path: str) -> dict[str, object]:
    req = urllib.request.Request(server.url + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_closed(port: int, timeout: float = 15.0) -> bool:
    """True once nothing accepts connections on `port` any more (polled, up to `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not listening(port):
            return True
        time.sleep(0.1)
    return False


def runner_env(data_dir: Path, **extra: str) -> dict[str, str]:
    # An address nobody listens on: no Cloud Tasks emulator (not used here, tested in tests/local).
    return {"FRAMEWORK_DATASTORE_DIR": str(data_dir), "GOOGLE_CLOUD_PROJECT": "local-test",
            "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9", **extra}


def test_embedded_emulator_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "datastore"
    for round_no, expected in ((1, 2), (2, 3)):
        port, store_port = free_port(), free_port()
        env = runner_env(data_dir, PORT=str(port), FRAMEWORK_DATASTORE_PORT=str(store_port))
        group = None
        try:
            with run_server(RUNNER, port=port, tmp_path=tmp_path, env=env, timeout=60) as server:
                group = server.proc.pid
                assert listening(store_port)
                if round_no == 1:
                    assert call(server, "POST", "/visits/alice")["count"] == 1
                assert call(server, "POST", "/visits/alice") == {"name": "alice", "count": expected}
                assert call(server, "GET", "/visits") == {"visits": [{"name": "alice", "count": expected}]}
                assert f"127.0.0.1:{store_port}" in server.log()
                if round_no == 1:
                    # Only the runner is told to stop (as `kill PID` would): the emulator stops with it.
                    server.proc.terminate()
                    server.proc.wait(30)
            # Round 2 ends like Ctrl-C: the whole process group gets the signal.
            assert wait_closed(store_port), "the embedded emulator outlived the runner"
        finally:
            if group is not None:  # whatever is left of the runner's process group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
    assert any(data_dir.iterdir())


def test_existing_emulator_host_is_used(tmp_path: Path, ndb_env: str, emulator: Server) -> None:
    port = free_port()
    env = runner_env(
        tmp_path / "unused", PORT=str(port), DATASTORE_EMULATOR_HOST=f"127.0.0.1:{emulator.port}",
        DATASTORE_PROJECT_ID=ndb_env,
    )
    with run_server(RUNNER, port=port, tmp_path=tmp_path, env=env, timeout=60) as server:
        assert call(server, "POST", "/visits/bob") == {"name": "bob", "count": 1}
        with pytest.raises(urllib.error.HTTPError) as info:
            call(server, "POST", "/visits/__kind__")
        assert info.value.code == 400
        # Concurrent requests on gunicorn's threads: one ndb context each, transactions retried on conflict.
        with ThreadPoolExecutor(8) as pool:
            counts = sorted(pool.map(lambda _: call(server, "POST", "/visits/carol")["count"], range(16)))
        assert counts == list(range(1, 17))
    raw = datastore.Client(project=ndb_env)
    assert raw.get(raw.key("Visit", "bob"))["count"] == 1
    assert not (tmp_path / "unused").exists()

