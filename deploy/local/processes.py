"""Child processes of the runner: each in its own process group, its output prefixed, always stopped.

Every child gets its own session (so Ctrl-C at the terminal reaches the runner alone, which then stops
each group: SIGTERM, then SIGKILL after a grace period, whatever state it is in) and, on Linux, a
parent-death signal, so even a runner killed with SIGKILL leaves no server behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deploy.local import output

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the runner's thread that started us ends."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One child process (a service instance, an emulator) and the task that prints its output."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path,
                 on_line: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.on_line = on_line
        self.proc: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=str(self.cwd), env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent, limit=1024 * 1024,
        )
        self._pump = asyncio.create_task(self._print_output())

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def _print_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stream = self.proc.stdout
        while True:
            try:
                line = await stream.readline()
            except (ValueError, asyncio.LimitOverrunError):  # a line over 1 MB: print what there is
                line = await stream.read(1024 * 1024)
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            output.emit(self.name, text)
            if self.on_line is not None:
                self.on_line(text)

    async def wait(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        if self._pump is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 2.0)
        return code

    def _signal_group(self, signum: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the whole group, now; `stop()` or `wait()` then returns at once."""
        self._signal_group(signal.SIGKILL)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after `grace` seconds."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                output.runner(f"{self.name} did not stop within {grace:g} s: killed")
        self._signal_group(signal.SIGKILL)  # workers the leader left behind, or the leader itself
        await self.proc.wait()
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):  # its last lines ("... stopped.") are still in the pipe
                await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
