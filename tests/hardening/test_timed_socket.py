"""framework.adapters.timed_socket on real socket pairs: blocking calls wait for a slow peer and give up on a
silent one, non-blocking calls never wait, and switching modes leaves the descriptor non-blocking."""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

from framework.adapters.timed_socket import TimedSocket

LIMIT = 0.4


@pytest.fixture()
def pair() -> Iterator[tuple[TimedSocket, socket.socket]]:
    ours, peer = socket.socketpair()
    timed = TimedSocket(ours, LIMIT)
    try:
        yield timed, peer
    finally:
        timed.close()
        peer.close()


def _nonblocking_in_kernel(sock: socket.socket) -> bool:
    return bool(fcntl.fcntl(sock.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK)


def _reader(peer: socket.socket, size: int, pause: float) -> tuple[threading.Thread, bytearray]:
    """A thread reading `size` bytes from `peer` in 256 KiB steps, `pause` seconds apart; what it read."""
    received = bytearray()

    def read() -> None:
        while len(received) < size:
            chunk = peer.recv(256 * 1024)
            if not chunk:
                return
            received.extend(chunk)
            time.sleep(pause)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, received


def _later(delay: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_modes_are_bookkeeping_the_descriptor_stays_nonblocking(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, _ = pair
    assert _nonblocking_in_kernel(timed) and timed.gettimeout() == 0.0
    timed.setblocking(True)
    assert timed.gettimeout() == LIMIT and _nonblocking_in_kernel(timed)
    timed.settimeout(2.5)
    assert timed.gettimeout() == 2.5 and _nonblocking_in_kernel(timed)
    timed.settimeout(None)  # "for ever" is capped at the limit
    assert timed.gettimeout() == LIMIT
    timed.settimeout(0)
    assert timed.gettimeout() == 0.0
    with pytest.raises(ValueError):
        timed.settimeout(-1)


def test_nonblocking_calls_never_wait(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, _ = pair
    timed.setblocking(False)
    with pytest.raises(BlockingIOError):
        timed.recv(10)
    with pytest.raises(BlockingIOError):
        timed.recv_into(bytearray(10))
    with pytest.raises(BlockingIOError):  # the peer reads nothing: the kernel buffer fills at once
        timed.sendall(b"x" * (16 * 1024 * 1024))


def test_a_blocking_read_waits_for_data_that_comes_later(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, peer = pair
    timed.setblocking(True)
    _later(0.1, lambda: peer.sendall(b"late"))
    assert timed.recv(10) == b"late"
    _later(0.1, lambda: peer.sendall(b"into"))
    buffer = bytearray(10)
    assert timed.recv_into(buffer) == 4 and bytes(buffer[:4]) == b"into"
    peer.sendall(b"ready")  # already there: answered at once
    assert timed.recv(10) == b"ready"


def test_a_blocking_read_from_a_silent_peer_gives_up_after_the_limit(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, _ = pair
    timed.setblocking(True)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        timed.recv(10)
    assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + 2


def test_a_closed_peer_ends_a_blocking_read(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, peer = pair
    timed.setblocking(True)
    _later(0.1, peer.close)
    assert timed.recv(10) == b""


def test_sendall_waits_for_a_slow_reader_and_delivers_every_byte(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, peer = pair
    payload = os.urandom(8 * 1024 * 1024)
    reader, received = _reader(peer, len(payload), pause=0.002)
    timed.settimeout(10)
    timed.sendall(payload)
    reader.join(10)
    assert bytes(received) == payload


def test_sendall_to_a_peer_that_reads_nothing_gives_up_after_the_limit(pair: tuple[TimedSocket, socket.socket]) -> None:
    timed, _ = pair
    timed.setblocking(True)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        timed.sendall(b"y" * (16 * 1024 * 1024))
    assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + 2


def test_sendfile_uses_the_blocking_limit(pair: tuple[TimedSocket, socket.socket]) -> None:
    """socket.sendfile refuses non-blocking sockets and waits with the socket's timeout: it sees the emulated one."""
    timed, peer = pair
    payload = os.urandom(4 * 1024 * 1024)
    with tempfile.TemporaryFile() as f:
        f.write(payload)
        f.seek(0)
        timed.setblocking(False)
        with pytest.raises(ValueError):
            timed.sendfile(f)
        timed.setblocking(True)
        reader, received = _reader(peer, len(payload), pause=0.001)
        assert timed.sendfile(f) == len(payload)
        reader.join(10)
    assert bytes(received) == payload
