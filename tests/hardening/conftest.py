"""Helpers for the hardening tests: an emulator subprocess with optional limits, and /proc readings of it."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework.emulators.datastore.__main__ import READY_LINE
from tests.support.procs import REPO_ROOT, stop_process


@dataclass
class EmulatorProc:
    """An emulator process on one port (gRPC and HTTP/1 multiplexed), its address and its stderr log."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    admin_port: int = 0

    @property
    def admin(self) -> tuple[str, int]:
        """host and port of the HTTP/1 admin surface (the shared port unless started with a separate one)."""
        return self.host, self.admin_port or self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _limit_fds(nofile: int) -> Callable[[], None]:
    def apply() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    return apply


@pytest.fixture
def spawn_emulator(tmp_path: Path) -> Iterator[object]:
    """`spawn_emulator(nofile=None)` starts `python -m framework.emulators.datastore` on a free port; stopped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(nofile: int | None = None, separate_admin: bool = False) -> EmulatorProc:
        log_path = tmp_path / f"emulator-{len(procs)}.log"
        cmd = [sys.executable, "-m", "framework.emulators.datastore", "--host", "127.0.0.1", "--port", "0",
               "--in-memory", "--project", "local-project"] + (["--admin-port", "0"] if separate_admin else [])
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DATASTORE_EMULATOR_HOST", None)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=_limit_fds(nofile) if nofile else None)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while READY_LINE not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        address = re.search(r"^export DATASTORE_EMULATOR_HOST=(\S+)$", log_path.read_text(), re.M)
        assert address is not None
        address = address.group(1)
        host, port = address.rsplit(":", 1)
        admin = re.search(r"^export DATASTORE_EMULATOR_ADMIN=http://\S+:(\d+)$", log_path.read_text(), re.M)
        assert admin is not None
        return EmulatorProc(proc, host, int(port), log_path, int(admin.group(1)) if separate_admin else 0)

    yield spawn
    for proc in procs:
        stop_process(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_count(pid: int) -> int:
    """Number of threads of the process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads: line")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
