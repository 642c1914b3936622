"""`start()`: run the emulator as a subprocess for Python callers and tests, stopped at interpreter exit."""

from __future__ import annotations

import atexit
import os
import subprocess

from ..process import EmulatorProcess, spawn
from .__main__ import DEFAULT_PROJECT, READY_LINE


class Emulator(EmulatorProcess):
    """A running emulator process: its address, the client `env`, `reset()`, `stop()`; a context manager."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], project: str, data_dir: str | None) -> None:
        super().__init__(proc, env, data_dir, host_var="DATASTORE_EMULATOR_HOST", admin_var="DATASTORE_EMULATOR_ADMIN")
        self.project = project

    def reset(self) -> None:
        """Delete all data (every project, database and namespace)."""
        self._post("/reset")


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
    args = ["--host", host, "--port", str(port), "--project", project]
    args += ["--data-dir", os.fspath(data_dir)] if data_dir is not None else ["--in-memory"]
    args += ["--admin-port", str(admin_port)] if admin_port is not None else []
    args += ["--index-file", os.fspath(index_file)] if index_file is not None else []
    args += ["--index-mode", index_mode] if index_mode is not None else []
    proc, found = spawn("framework.emulators.datastore", args, READY_LINE, timeout=timeout,
                        drop_env=("DATASTORE_EMULATOR_HOST",))
    emulator = Emulator(proc, found, project, os.fspath(data_dir) if data_dir is not None else None)
    atexit.register(emulator.stop)
    return emulator
