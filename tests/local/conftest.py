"""Start the real local runner (`python -m deploy.local_server`) on fixture apps, and always stop it."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import Server, free_port, run_server

APPS = Path(__file__).parent / "apps"
RUNNER = [sys.executable, "-m", "deploy.local_server"]
# An address nobody listens on: the runner then starts no emulator (tests that need one leave this out).
NO_EMULATORS = {"DATASTORE_EMULATOR_HOST": "127.0.0.1:9", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9"}


@dataclass
class Running:
    """A started runner: its process, its runner.json and its output."""

    server: Server
    app_dir: Path
    state: dict[str, object]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def log(self) -> str:
        return self.server.log()

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The output once it contains `text` (lines are written as requests end, so poll a little)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the runner's output:\n{log}")
            time.sleep(0.05)
        return log

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                port: int | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: (status, headers with lower-case names, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json(self, path: str, **kwargs: object) -> dict[str, object]:
        status, _, data = self.request("GET", path, **kwargs)  # type: ignore[arg-type]
        assert status == 200, (status, data)
        return json.loads(data)


def copy_app(name: str, tmp_path: Path) -> Path:
    """A private copy of a fixture app (the runner writes .local/ and .datastore/ into the app folder)."""
    target = tmp_path / name
    shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns("__pycache__", ".local", ".datastore"))
    return target


def wait_for_state(app_dir: Path, server: Server, timeout: float = 90.0) -> dict[str, object]:
    """runner.json, written once the runner printed "Serving on" (every service started and warmed up)."""
    path = app_dir / ".local" / "runner.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the runner exited with {server.proc.returncode}\n{server.log()}")
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(path.read_text())
            if "Serving on" in server.log():
                return state
        time.sleep(0.05)
    raise TimeoutError(f"the runner did not start within {timeout} s\n{server.log()}")


@contextlib.contextmanager
def start_runner(app_dir: Path, tmp_path: Path, files: Sequence[str] = (), *, args: Sequence[str] = (),
                 env: dict[str, str] | None = None, port: int | None = None) -> Iterator[Running]:
    """The runner serving `app_dir`, stopped (its whole process group) when the block ends."""
    port = port or free_port()
    cmd = [*RUNNER, "--app-dir", str(app_dir), "--port", str(port), *args, *files]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env, ready_path=None, timeout=90) as server:
        yield Running(server, app_dir, wait_for_state(app_dir, server))
