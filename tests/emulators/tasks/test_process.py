"""The emulator process: the admin endpoints on the gRPC port, the web-page guard, a clean stop."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request

import pytest

from framework.emulators.tasks.launcher import Emulator, start

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
