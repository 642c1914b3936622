"""Fixtures: the session emulator (no delivery), a delivering emulator in front of a recording gunicorn app,
and the unmodified google-cloud-tasks client bound to each."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.cloud import tasks_v2

from framework.emulators.tasks.launcher import Emulator, start
from framework.emulators.tasks.pytest_plugin import clean_cloud_tasks, cloud_tasks_emulator  # noqa: F401
from tests.support.procs import Server, free_port, run_server, venv_tool

PARENT = "projects/test-project/locations/us-central1"
TOKEN = "test-platform-token"
APPS = Path(__file__).parent / "apps"


def make_client(address: str) -> tasks_v2.CloudTasksClient:
    """The documented way to point the unmodified client at the emulator: api_endpoint + an insecure channel."""
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(address), host=address)
    return tasks_v2.CloudTasksClient(transport=transport, client_options=ClientOptions(api_endpoint=address))


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy (a readiness wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last value {value!r})")
        time.sleep(0.05)


@pytest.fixture
def client(clean_cloud_tasks: Emulator) -> tasks_v2.CloudTasksClient:  # noqa: F811
    return make_client(clean_cloud_tasks.address)


class Recorder:
    """The recording WSGI app under gunicorn: its URL and what it received."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url

    def requests(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/_log", timeout=10) as response:
            return list(json.loads(response.read()))

    def clear(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.url + "/_log", method="DELETE"), timeout=10).read()

    def wait_for(self, count: int, path_prefix: str = "/", timeout: float = 15.0) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            got = [r for r in self.requests() if r["path"].startswith(path_prefix)]
            return got if len(got) >= count else None

        return list(wait_until(enough, timeout, f"{count} requests to {path_prefix}"))


@pytest.fixture(scope="package")
def recorder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    port = free_port()
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "16",
           "--worker-class", "gthread", "--chdir", str(APPS), "recorder:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path_factory.mktemp("recorder"), ready_path="/_log") as server:
        yield Recorder(server)


@pytest.fixture(scope="package")
def delivering_emulator(recorder_server: Recorder) -> Iterator[Emulator]:
    with start(app_engine_url=recorder_server.url, token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def delivering(delivering_emulator: Emulator, recorder_server: Recorder) -> tuple[tasks_v2.CloudTasksClient, Recorder]:
    delivering_emulator.reset()
    recorder_server.clear()
    return make_client(delivering_emulator.address), recorder_server


def queue(client: tasks_v2.CloudTasksClient, name: str, **settings: Any) -> tasks_v2.Queue:
    return client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/{name}", **settings})


