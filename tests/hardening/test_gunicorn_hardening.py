"""Hostile HTTP against the shipped gunicorn configuration (gunicorn.conf.py, real gunicorn processes).

Malformed chunked bodies are 400s logged in one line; errors while building the response are the app's own
500 (handlers and teardown run); header injection is never sent; client-set SCRIPT_NAME/PATH_INFO headers
are dropped; slow clients do not stall normal requests; a 413 closes the connection it leaves unread.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, Server, free_port, run_server, venv_tool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

APPS = Path(__file__).parent / "apps"


def _gunicorn(app: str, tmp_path: Path) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), app]
    env = {"PORT": str(port), "PYTHONPATH": f"{APPS}:{REPO_ROOT}"}
    return run_server(cmd, port=port, tmp_path=tmp_path, env=env, cwd=APPS)


@pytest.fixture(scope="module")
def framework_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _gunicorn("framework_app:app", tmp_path_factory.mktemp("fw")) as server:
        yield server


@pytest.fixture(scope="module")
def flask_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _gunicorn("flask_app:app", tmp_path_factory.mktemp("flask")) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _gunicorn("plain_wsgi:app", tmp_path_factory.mktemp("plain")) as server:
        yield server


def _exchange(server: Server, data: bytes, *, half_close: bool = False, timeout: float = 10) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout` passes without a byte)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := s.recv(65536):
                out += chunk
        return out


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _head(response: bytes) -> str:
    return response.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()


def _log_since(server: Server, mark: int) -> str:
    return server.log()[mark:]


def _settled_log(server: Server, mark: int, needle: str) -> str:
    deadline = time.monotonic() + 10
    while needle not in _log_since(server, mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _log_since(server, mark)


CHUNKED = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
BAD_BODIES = [
    pytest.param(b"-1\r\nabc\r\n0\r\n\r\n", False, id="negative size"),
    pytest.param(b"zz\r\nabc\r\n0\r\n\r\n", False, id="not hex"),
    pytest.param(b"0x3\r\nabc\r\n0\r\n\r\n", False, id="0x prefix"),
    pytest.param(b"3\r\nabcXX0\r\n\r\n", False, id="bad terminator"),
    pytest.param(b"5\r\nab", True, id="cut short"),
    pytest.param(b"3\r\nabc\r\n", True, id="no last chunk"),
]


@pytest.mark.parametrize(("body", "half_close"), BAD_BODIES)
def test_malformed_chunked_bodies_are_400_logged_in_one_line(framework_server: Server, body: bytes,
                                                            half_close: bool) -> None:
    mark = len(framework_server.log())
    response = _exchange(framework_server, CHUNKED + body, half_close=half_close)
    assert _status(response) == 400, response
    log = _settled_log(framework_server, mark, '"POST /echo HTTP/1.1" 400')
    assert "Traceback" not in log and "Error handling request" not in log, log
    assert log.count("Request body could not be read") == 1, log


def test_a_well_formed_chunked_body_is_read(framework_server: Server) -> None:
    response = _exchange(framework_server, CHUNKED + b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    assert _status(response) == 200 and response.endswith(b"got 7 bytes"), response


# What both apps' /big and /big-file answer (importing an app module here would run its logging set-up in
# the test process).
BIG = bytes(range(256)) * (32 * 1024)


def _get(server: Server, path: str, timeout: float = 10) -> bytes:
    return _exchange(server, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(), timeout=timeout)


@pytest.mark.parametrize("target", ["http://[::1", "http://[zz]/", "http://x/\r\nSet-Cookie: evil=1"])
def test_bad_redirect_targets_are_the_apps_own_500(framework_server: Server, target: str) -> None:
    mark = len(framework_server.log())
    response = _get(framework_server, "/go?to=" + urllib.parse.quote(target, safe=""))
    assert _status(response) == 500 and response.endswith(b"the app's own 500 page"), response
    assert "set-cookie" not in _head(response)
    log = _settled_log(framework_server, mark, "teardown saw")
    assert "handler-500 saw" in log and "teardown saw" in log, log  # error handling and teardown both ran
    assert "Exception on /go [GET]" in log  # logged by the app
    assert "Error handling request" not in log  # nothing escaped to gunicorn


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: evil=1", "a\nX-Injected: 1", "a\x01b", "a\x00b"])
def test_header_values_with_control_characters_are_never_sent(framework_server: Server, value: str) -> None:
    mark = len(framework_server.log())
    response = _get(framework_server, "/header?v=" + urllib.parse.quote(value, safe=""))
    assert _status(response) == 500 and response.endswith(b"the app's own 500 page"), response
    head = _head(response)
    assert "x-echo" not in head and "set-cookie" not in head and "x-injected" not in head
    assert head.count("content-length") == 1  # only the 500's headers, nothing left of the refused response
    log = _settled_log(framework_server, mark, "teardown saw")
    assert "Exception on /header [GET]" in log and "Error handling request" not in log, log


def test_client_cannot_set_script_name_or_path_info(plain_server: Server) -> None:
    response = _exchange(plain_server, b"GET /evilprefix/page HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /evilprefix\r\n"
                                       b"PATH_INFO: /other\r\nConnection: close\r\n\r\n")
    assert response.endswith(b"|/evilprefix/page|0"), response  # mounted at the root, the real path


def test_pipelined_requests_are_all_answered(framework_server: Server) -> None:
    response = _exchange(framework_server, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                                           b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                                           b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert response.count(b"HTTP/1.1 200") == 3 and b"got 3 bytes" in response, response


@pytest.mark.parametrize("body", [
    b"Content-Length: 3\r\n\r\nabc",
    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
], ids=["length", "chunked"])
def test_a_body_read_in_full_keeps_the_connection_alive(framework_server: Server, body: bytes) -> None:
    with socket.create_connection((framework_server.host, framework_server.port), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\n" + body)
        first = b""
        while b"got 3 bytes" not in first:
            first += s.recv(65536)
        assert "connection: keep-alive" in _head(first)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rest = b""
        while chunk := s.recv(65536):
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200")


def test_413_closes_the_connection_it_leaves_unread(framework_server: Server) -> None:
    big = b"x" * 200_000
    with socket.create_connection((framework_server.host, framework_server.port), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(big))
        with contextlib.suppress(OSError):
            s.sendall(big)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(65536)
    assert _status(reply) == 413
    assert "connection: close" in _head(reply)  # said so: a keep-alive client opens a new connection
    assert _status(_get(framework_server, "/")) == 200


def test_unread_small_body_keeps_keepalive_honest(framework_server: Server) -> None:
    """A 413 with a small body, then a second request on the same connection: answered, or announced closed."""
    with socket.create_connection((framework_server.host, framework_server.port), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + b"y" * 5000)
        first = b""
        while b"\r\n\r\n" not in first:
            first += s.recv(65536)
        assert _status(first) == 413
        if "connection: close" not in _head(first):
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            rest = first.split(b"\r\n\r\n", 1)[1]
            with contextlib.suppress(OSError):
                while chunk := s.recv(65536):
                    rest += chunk
            assert b"HTTP/1.1 200" in rest


class _Tricklers:
    """Slow clients: each sends part of a request, then one more byte every `interval` seconds."""

    def __init__(self, server: Server, starts: list[tuple[bytes, bytes]], interval: float = 0.2) -> None:
        self.socks = []
        self.rests = []
        for start, rest in starts:
            s = socket.create_connection((server.host, server.port), timeout=10)
            if start:
                s.sendall(start)
            self.socks.append(s)
            self.rests.append(rest)
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(self.interval):
            for s, rest in zip(self.socks, self.rests, strict=True):
                if i < len(rest):
                    with contextlib.suppress(OSError):
                        s.send(rest[i:i + 1])
            i += 1

    def __enter__(self) -> _Tricklers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


@pytest.mark.parametrize("server_name", ["framework_server", "plain_server"])
def test_thirty_slow_or_silent_clients_leave_normal_requests_answered(request: pytest.FixtureRequest, server_name: str) -> None:
    server: Server = request.getfixturevalue(server_name)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: 500\r\n\r\n"
    starts = [(head[:5], head[5:] + b"z" * 500) for _ in range(10)]  # trickled headers
    starts += [(head + b"z", b"z" * 499) for _ in range(10)]  # headers in, body trickled
    starts += [(b"", b"") for _ in range(10)]  # connected, silent
    with _Tricklers(server, starts):
        time.sleep(0.5)  # every slow client has started; gthread alone would now have all 4 threads taken
        for _ in range(10):
            response = _get(server, "/", timeout=10)
            assert _status(response) == 200, response


@pytest.fixture(scope="module")
def short_timeout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "framework_app:app"]
    env = {"PORT": str(port), "PYTHONPATH": f"{APPS}:{REPO_ROOT}", "GUNICORN_READ_TIMEOUT": "1.5"}
    with run_server(cmd, port=port, tmp_path=tmp_path_factory.mktemp("short"), env=env, cwd=APPS) as server:
        yield server


def test_a_request_that_never_completes_gets_408(short_timeout_server: Server) -> None:
    server = short_timeout_server
    mark = len(server.log())
    response = _exchange(server, b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ", timeout=30)
    assert _status(response) == 408, response
    log = _settled_log(server, mark, "slow client")
    assert log.count("slow client") == 1 and "Traceback" not in log, log
    assert _status(_get(server, "/")) == 200


def test_a_big_body_that_stalls_frees_its_thread(short_timeout_server: Server) -> None:
    """A body longer than the worker reads ahead goes to a thread; if the client then stalls, the thread's
    read gives up (400, one log line) instead of waiting for ever."""
    server = short_timeout_server
    mark = len(server.log())
    size = 3 * 1024 * 1024
    with socket.create_connection((server.host, server.port), timeout=30) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size + b"u" * (size // 2))
        reply = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := s.recv(65536):
                reply += chunk
    assert _status(reply) == 400, reply
    log = _settled_log(server, mark, "could not be read")
    assert "Request body could not be read (timed out)" in log and "Traceback" not in log, log


@pytest.mark.parametrize("server_name", ["framework_server", "flask_server"])
@pytest.mark.parametrize("path", ["/big", "/big-file"])
def test_a_big_response_reaches_a_slow_reader_whole(request: pytest.FixtureRequest, server_name: str, path: str) -> None:
    """8 MiB, more than the socket buffers hold, written with send (/big) and with sendfile(2) (/big-file), by
    this framework and by a real Flask app: the thread waits for the reader instead of failing, and every
    byte arrives in order."""
    server: Server = request.getfixturevalue(server_name)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=20)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        time.sleep(0.3)  # the server fills the buffers and has to wait
        body = b""
        while chunk := response.read(256 * 1024):
            body += chunk
            time.sleep(0.001)
    finally:
        conn.close()
    assert response.status == 200 and body == BIG, len(body)


def test_responses_nobody_reads_free_their_threads(short_timeout_server: Server) -> None:
    """Four clients (as many as a worker has threads) ask for 8 MiB, written with send and with sendfile(2),
    and read none of it: each thread gives up after GUNICORN_READ_TIMEOUT with one log line, and the worker
    answers others again."""
    server = short_timeout_server
    mark = len(server.log())
    stalled = [socket.create_connection((server.host, server.port), timeout=30) for _ in range(4)]
    try:
        for s, path in zip(stalled, ["/big", "/big-file", "/big", "/big-file"], strict=True):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        time.sleep(0.5)
        assert _status(_get(server, "/", timeout=30)) == 200
        deadline = time.monotonic() + 15
        while _log_since(server, mark).count("did not take its response") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        log = _log_since(server, mark)
    finally:
        for s in stalled:
            s.close()
    assert log.count("did not take its response within 1 s (slow client)") == 4 and "Traceback" not in log, log


@pytest.mark.parametrize("server_name", ["framework_server", "flask_server", "plain_server"])
def test_clients_that_never_close_do_not_stall_the_worker(request: pytest.FixtureRequest, server_name: str) -> None:
    """gthread waits in its event loop for each closing client's FIN, up to 2 s: five clients that send
    "Connection: close" and then neither read nor close held a worker's every other connection for ~10 s.
    Closing connections now linger in the event loop."""
    server: Server = request.getfixturevalue(server_name)
    held = [socket.create_connection((server.host, server.port), timeout=10) for _ in range(5)]
    try:
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        assert _status(_get(server, "/", timeout=30)) == 200
        waited = time.monotonic() - started
        for s in held:  # each still got its whole answer, then the server's FIN
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            assert _status(reply) == 200, reply
    finally:
        for s in held:
            s.close()
    # Without lingering in the event loop this is about 10 s (5 x 2 s); any wait near that is the stall.
    assert waited < 5, f"a normal request waited {waited:.1f} s behind clients that never close"


def test_a_big_body_sent_in_pieces_is_read_whole(framework_server: Server) -> None:
    """3 MiB, more than the worker reads ahead, sent in pieces with pauses: the thread's own reads wait for
    each piece (TimedSocket's blocking mode) and the view gets every byte."""
    size = 3 * 1024 * 1024
    with socket.create_connection((framework_server.host, framework_server.port), timeout=30) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(12):
            s.sendall(b"v" * (size // 12))
            time.sleep(0.02)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert _status(reply) == 200 and reply.endswith(b"got %d bytes" % size), reply
