"""Running an emulator as a child process: start it, read its `export NAME=VALUE` lines up to its ready line.

Shared by the emulators' `start()` helpers. The child runs in its own session with `--exit-with-stdin`, so
it exits when its parent dies (the pipe closes) as well as on `stop()`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

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
