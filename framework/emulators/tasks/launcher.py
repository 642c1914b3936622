"""`start()`: run the Cloud Tasks emulator as a subprocess for Python callers and tests."""

from __future__ import annotations

import atexit
import os
import subprocess

from ..process import EmulatorProcess, spawn
from .__main__ import READY_LINE


class Emulator(EmulatorProcess):
    """A running Cloud Tasks emulator: `address`, client `env`, `reset()`, `stop()`; a context manager."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], data_dir: str | None) -> None:
        super().__init__(proc, env, data_dir, host_var="CLOUD_TASKS_EMULATOR_HOST",
                         admin_var="CLOUD_TASKS_EMULATOR_ADMIN")

    def reset(self) -> None:
        """Delete every queue, task and remembered name; queue.yaml queues come back empty."""
        self._post("/reset")


def start(host: str = "127.0.0.1", port: int = 0, data_dir: str | os.PathLike[str] | None = None, *,
          queue_yaml: str | os.PathLike[str] | None = None, app_engine_url: str | None = None,
          dedup_window: float | None = None, token: str | None = None, timeout: float = 30.0) -> Emulator:
    """Start an emulator subprocess and wait until it serves; it exits with this interpreter.

    The subprocess inherits the environment; `token` sets its LOCAL_PLATFORM_TOKEN, the token App Engine
    deliveries carry (the local runner's and its apps' token).
    """
    args = ["--host", host, "--port", str(port)]
    args += ["--data-dir", os.fspath(data_dir)] if data_dir is not None else ["--in-memory"]
    args += ["--queue-yaml", os.fspath(queue_yaml)] if queue_yaml is not None else []
    args += ["--app-engine-url", app_engine_url] if app_engine_url else []
    args += ["--dedup-window", str(dedup_window)] if dedup_window is not None else []
    proc, found = spawn("framework.emulators.tasks", args, READY_LINE, timeout=timeout,
                        drop_env=("CLOUD_TASKS_EMULATOR_HOST",),
                        extra_env={"LOCAL_PLATFORM_TOKEN": token} if token is not None else None)
    emulator = Emulator(proc, found, os.fspath(data_dir) if data_dir is not None else None)
    atexit.register(emulator.stop)
    return emulator
