"""A client connection that never blocks in the kernel, with "blocking" calls bounded by a time limit.

gunicorn's gthread worker switches each connection between non-blocking (its event loop) and blocking (its
threads) several times per request, and bounds its body drain with `settimeout`. Each switch is a system
call that drops the GIL, and a socket with a timeout polls before every read and write. `TimedSocket` keeps
the descriptor non-blocking once and for all: switching modes only sets an attribute, and a call in
blocking mode first simply tries, waiting with `poll` only when the kernel says it would block. A blocking
call never waits longer than its limit (`limit` for `setblocking(True)` and `settimeout(None)`), so a
silent client cannot hold a thread; it then raises PeerTimeout, a TimeoutError as a socket with a timeout
raises.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer


T = TypeVar("T")


class PeerTimeout(TimeoutError):
    """A blocking call on a TimedSocket ran out of time: the peer sent nothing, or took nothing."""


class TimedSocket(socket.socket):
    """A connected stream socket whose blocking calls wait at most `limit` seconds (see the module docstring)."""

    __slots__ = ("_limit", "_wait")

    def __init__(self, sock: socket.socket, limit: float) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        super().settimeout(0.0)  # the kernel side, once: O_NONBLOCK
        self._limit = limit
        self._wait = 0.0  # how long one call may wait for the peer; 0 is non-blocking

    def setblocking(self, flag: bool) -> None:
        self._wait = self._limit if flag else 0.0

    def settimeout(self, value: float | None) -> None:
        if value is None:
            self._wait = self._limit
            return
        seconds = float(value)
        if seconds < 0:
            raise ValueError("Timeout value out of range")
        self._wait = seconds

    def gettimeout(self) -> float:
        return self._wait

    def _await(self, events: int, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        poller = select.poll()
        poller.register(self, events)
        # An error or hang-up also ends the wait: the retried call then reports it.
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise PeerTimeout("timed out")

    def _once(self, call: Callable[..., T], events: int, *args: Any) -> T:
        """Run `call(*args)`; in blocking mode, when it would block, wait for `events` (at most the timeout) and run
        it again."""
        while True:
            try:
                return call(*args)
            except BlockingIOError:
                if not self._wait:
                    raise
            self._await(events, time.monotonic() + self._wait)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._once(super().recv, select.POLLIN, bufsize, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        return self._once(super().recv_into, select.POLLIN, buffer, nbytes, flags)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        return self._once(super().send, select.POLLOUT, data, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        """Send all of `data`; in blocking mode the whole call may take at most the timeout, as for a socket
        with a timeout."""
        with memoryview(data) as whole, whole.cast("B") as view:
            total = len(view)
            sent = 0
            deadline = 0.0
            while True:
                try:
                    sent += super().send(view[sent:], flags)
                except BlockingIOError:
                    if not self._wait:
                        raise
                    if not deadline:
                        deadline = time.monotonic() + self._wait
                    self._await(select.POLLOUT, deadline)
                    continue
                if sent >= total:
                    return

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """socket.sendfile, which waits with `gettimeout()`: its timeout is a PeerTimeout like the others."""
        try:
            return super().sendfile(file, offset, count)
        except PeerTimeout:
            raise
        except TimeoutError as exc:  # raised by socket.sendfile's own wait for the peer
            raise PeerTimeout("timed out") from exc
