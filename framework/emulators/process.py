"""Running an emulator as a child process: start it, read its `export NAME=VALUE` lines up to its ready line.

Shared by the emulators' `start()` helpers (parent side: `spawn`, `terminate`, `EmulatorProcess`) and their
`__main__` (child side: `announce`, `stop_on_signals`, `wait_for_stop`). The child runs in its own session with `--exit-with-stdin`, so it
exits when its parent dies (the pipe closes) as well as on `stop()`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

_ROOT = str(Path(__file__).resolve().parents[2])


def spawn(module: str, args: Sequence[str], ready_line: str, *, timeout: float = 30.0,
          drop_env: Sequence[str] = (), extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start `python -m module args --exit-with-stdin`; return the process and the variables it exported."""
    cmd = [sys.executable, "-m", module, *args, "--exit-with-stdin"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
    for name in drop_env:
        env.pop(name, None)
    env.update(extra_env or {})
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
            if line.strip() == ready_line:
                ready = True
                break
    finally:
        timer.cancel()
    if not ready:  # exited, or killed by the timer
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{module} did not start (exit {proc.returncode}):\n{''.join(lines)}")
    return proc, found


def terminate(proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; close the pipes. Safe to call twice."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class EmulatorProcess:
    """A running emulator started by `spawn`: `address`, client `env`, `admin_url`, `stop()`; a context manager.

    `host_var` and `admin_var` name the exported variables that hold its gRPC host:port and its admin URL.
    """

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], data_dir: str | None, *,
                 host_var: str, admin_var: str) -> None:
        self.proc = proc
        self.env = env
        self.data_dir = data_dir
        self.host, port = env[host_var].rsplit(":", 1)
        self.port = int(port)
        self.admin_url = env[admin_var]

    @property
    def address(self) -> str:
        """host:port, the value clients put in the emulator's *_EMULATOR_HOST variable."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _post(self, path: str) -> str:
        request = urllib.request.Request(self.admin_url + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it; safe to call twice."""
        atexit.unregister(self.stop)
        terminate(self.proc, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def stop_on_signals() -> threading.Event:
    """In the emulator's own process: an event set on SIGTERM and SIGINT (and by POST /shutdown)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def wait_for_stop(stop: threading.Event, exit_with_stdin: bool) -> None:
    """Return once `stop` is set or, with `exit_with_stdin`, when the parent closes the pipe (or dies)."""
    if exit_with_stdin:
        def wait_for_parent() -> None:
            sys.stdin.read()
            stop.set()

        threading.Thread(target=wait_for_parent, daemon=True).start()
    while not stop.wait(0.5):
        pass


def announce(env: dict[str, str], endpoint_line: str, ready_line: str) -> None:
    """In the emulator's own process: print the `export NAME=VALUE` lines `spawn` and shells read, a `# ...`
    line saying where it serves, and the ready line last."""
    for name, value in env.items():
        print(f"export {name}={value}")
    print(f"# {endpoint_line}")
    print(ready_line, flush=True)
