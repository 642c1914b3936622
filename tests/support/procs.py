"""Start real server processes on loopback for tests, and make sure they are always stopped."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# Test servers take ports below Linux's ephemeral range (32768-60999 by default), so no outgoing
# connection is ever given one, split into one slice per pytest-xdist worker (the last slice for runs
# without xdist, e.g. bench), so parallel workers never pick the same port between choosing and binding.
_PORT_LOW, _PORT_HIGH, _SLICES = 20000, 32000, 16
_handed_out: set[int] = set()


def port_slice(worker: str | None = None) -> range:
    """The ports free_port may hand out in this process (`worker`: an xdist worker id like "gw3")."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    number = worker[2:]
    index = int(number) % (_SLICES - 1) if worker.startswith("gw") and number.isdigit() else _SLICES - 1
    size = (_PORT_HIGH - _PORT_LOW) // _SLICES
    return range(_PORT_LOW + index * size, _PORT_LOW + (index + 1) * size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, from this worker's own slice, never handed out before
    by this process (a server given the previous one may not have bound it yet)."""
    ports = port_slice()
    start = random.randrange(len(ports))
    for step in range(len(ports)):
        port = ports[(start + step) % len(ports)]
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (or in TIME_WAIT): try the next one
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {ports}")


def venv_tool(name: str) -> str:
    """Path of a console script installed next to the running interpreter (gunicorn, functions-framework)."""
    path = VENV_BIN / name
    return str(path) if path.exists() else name


@dataclass
class Server:
    """A running subprocess and the base URL it answers on."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        """Everything the process wrote so far (stdout and stderr together)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop a process and its whole process group: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_for_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll `url` until it answers with any HTTP status; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    raise TimeoutError(f"no answer from {url} within {timeout}s")


def get_until_closed(server: Server, path: str, headers: dict[str, str] | None = None) -> bytes:
    """GET `path` with `Connection: close` and read until the server closes the socket; the raw reply.

    gunicorn writes its access log line before it closes the connection, so once this returns that
    line is in the server's log if it ever will be: no waiting, no race.
    """
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} within {timeout}s")


@contextlib.contextmanager
def run_server(
    cmd: Sequence[str],
    *,
    port: int,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | str = REPO_ROOT,
    ready_path: str | None = "/",
    timeout: float = 30.0,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Run `cmd` in its own process group until the block ends, waiting until it answers.

    With `ready_path` the server counts as up once an HTTP GET of that path gets any status; with
    None it is up once the port accepts connections. The process is stopped whatever happens.
    """
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(cmd), cwd=str(cwd), env=full_env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Server(proc=proc, host=host, port=port, log_path=log_path)
    try:
        try:
            if ready_path is None:
                wait_for_port(host, port, proc, timeout)
            else:
                wait_for_http(server.url + ready_path, proc, timeout)
        except Exception as exc:
            log_text = server.log()
            if "Address already in use" in log_text or "EADDRINUSE" in log_text:
                exc = RuntimeError(f"port {port} was taken by another process before the server bound it: {exc}")
            raise RuntimeError(f"{exc}\n--- server log ---\n{log_text}") from exc
        yield server
    finally:
        stop_process(proc)
