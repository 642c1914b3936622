"""`start()`: run the emulator as a subprocess for Python callers and tests, stopped at interpreter exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from types import TracebackType

from .__main__ import DEFAULT_PROJECT, READY_LINE

_ROOT = str(Path(__file__).resolve().parents[3])


class Emulator:
    """A running emulator process: its address, the client `env`, `reset()`, `stop()`; a context manager."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], project: str, data_dir: str | None) -> None:
        self.proc = proc
        self.env = env
        self.project = project
        self.data_dir = data_dir
        self.host, port = env["DATASTORE_EMULATOR_HOST"].rsplit(":", 1)
        self.port = int(port)
        self.admin_url = env["DATASTORE_EMULATOR_ADMIN"]

    @property
    def address(self) -> str:
        """host:port, the value of DATASTORE_EMULATOR_HOST."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _post(self, path: str) -> str:
        request = urllib.request.Request(self.admin_url + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()

    def reset(self) -> None:
        """Delete all data (every project, database and namespace)."""
        self._post("/reset")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it; safe to call twice."""
        atexit.unregister(self.stop)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start(
    host: str = "127.0.0.1", port: int = 0, data_dir: str | os.PathLike[str] | None = None,
    project: str = DEFAULT_PROJECT, admin_port: int | None = None, timeout: float = 30.0,
    index_file: str | os.PathLike[str] | None = None, index_mode: str | None = None,
) -> Emulator:
    """Start an emulator subprocess and wait until it serves; it exits with this interpreter.

    The admin endpoints share `port` unless `admin_port` is given (0 = a free port): then gRPC is served
    directly on `port`, without the connection multiplexer, which is faster. `index_file` and `index_mode`
    (record, require, off) are the composite-index flags.
    """
    cmd = [sys.executable, "-m", "framework.emulators.datastore", "--host", host, "--port", str(port),
           "--project", project, "--exit-with-stdin"]
    cmd += ["--data-dir", os.fspath(data_dir)] if data_dir is not None else ["--in-memory"]
    cmd += ["--admin-port", str(admin_port)] if admin_port is not None else []
    cmd += ["--index-file", os.fspath(index_file)] if index_file is not None else []
    cmd += ["--index-mode", index_mode] if index_mode is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
    env.pop("DATASTORE_EMULATOR_HOST", None)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    found: dict[str, str] = {}
    lines: list[str] = []
    ready = False
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                found[name] = value
            if line.strip() == READY_LINE:
                ready = True
                break
    finally:
        timer.cancel()
    if not ready or "DATASTORE_EMULATOR_HOST" not in found:  # exited, or killed by the timer
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the emulator did not start (exit {proc.returncode}):\n{''.join(lines)}")
    emulator = Emulator(proc, found, project, os.fspath(data_dir) if data_dir is not None else None)
    atexit.register(emulator.stop)
    return emulator
