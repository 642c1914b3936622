"""The emulator process: the admin endpoints on the gRPC port, the web-page guard, a clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from framework.emulators.tasks.launcher import Emulator, start
from tests.support.procs import REPO_ROOT

from .conftest import PARENT, make_client, queue


def _post(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_admin_endpoints_share_the_port_and_refuse_web_pages(clean_cloud_tasks: Emulator) -> None:
    admin = clean_cloud_tasks.admin_url
    with urllib.request.urlopen(admin + "/", timeout=10) as response:
        assert response.read() == b"Ok\n"
    client = make_client(clean_cloud_tasks.address)
    queue(client, "before-reset")
    status, body = _post(admin + "/reset", {"Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in body
    assert _post(admin + "/reset", {"Host": "evil.example"})[0] == 403
    assert len(list(client.list_queues(parent=PARENT))) == 2  # nothing was reset
    assert _post(admin + "/reset") == (200, "Reset\n")
    assert [q.name for q in client.list_queues(parent=PARENT)] == [f"{PARENT}/queues/default"]
    assert _post(admin + "/nothing")[0] == 404


@pytest.mark.parametrize("how", ["sigterm", "shutdown"])
def test_stops_cleanly(how: str) -> None:
    emulator = start()
    try:
        if how == "sigterm":
            emulator.proc.send_signal(signal.SIGTERM)
        else:
            assert _post(emulator.admin_url + "/shutdown")[0] == 200
        assert emulator.proc.wait(15) == 0
        assert emulator.proc.stdout is not None
        assert "Cloud Tasks emulator stopped." in emulator.proc.stdout.read()
    finally:
        emulator.stop()


@pytest.mark.parametrize(("args", "message"), [
    (["--app-engine-url", "localhost:8080"], "must start with http://"),
    (["--dedup-window", "-1"], "--dedup-window"),
    (["--data-dir", "/proc/no/such/dir"], "cannot open the data directory"),
])
def test_bad_flags_are_clear_errors(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", "0", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", str(port)],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_a_corrupt_data_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cloudtasks.sqlite3").write_bytes(b"this is not a database" * 100)
    done = subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", "0", "--data-dir",
                           str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot open the data directory" in done.stderr and "Traceback" not in done.stderr
