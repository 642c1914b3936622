"""gunicorn's gthread worker, with each request read in the event loop before a thread takes it.

gthread gives a connection to a thread as soon as its first byte arrives; the thread then reads the rest
of the request blocking, with no deadline. A handful of clients trickling their headers or body hold every
thread (4 in the shipped configuration) and the app stops answering. Here the worker's own event loop
(gthread's poller, one thread) collects the request head and a body of up to BUFFER_MAX bytes without
blocking, and hands the connection to a thread only once they are all in. A client that has not sent them
within READ_TIMEOUT gets a 408 and is closed; the number of such connections is bounded by gunicorn's
`worker_connections`. A thread's own blocking reads and writes (a body beyond BUFFER_MAX, a response the
client does not take) give up after READ_TIMEOUT of silence. GUNICORN_READ_TIMEOUT sets it (seconds). App Engine's and Cloud Run's front ends buffer requests the same way;
this protects direct runs (`make run` without the local runner, tests, other hosts).
"""

from __future__ import annotations

import collections
import errno
import os
import re
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker


def _seconds(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


READ_TIMEOUT = _seconds(os.environ.get("GUNICORN_READ_TIMEOUT"), 30.0)  # seconds; see the module docstring
BUFFER_MAX = 1024 * 1024  # bytes read ahead per connection; a longer body is read by the thread itself
_END_OF_HEAD = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)
_TIMED_OUT_BODY = b"The request did not arrive in time; send it again.\n"
_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(_TIMED_OUT_BODY), _TIMED_OUT_BODY))


def request_complete(data: bytes) -> bool:
    """Whether `data` (the start of a connection's next request) holds its whole head and its body, or
    enough that a thread should take over: a head or body beyond BUFFER_MAX is not waited for."""
    end = data.find(_END_OF_HEAD)
    if end < 0:
        return len(data) >= BUFFER_MAX
    head = data[:end + 2]
    body = len(data) - end - 4
    match = _CONTENT_LENGTH.search(head)
    if match is not None:
        return body >= min(int(match.group(1)), BUFFER_MAX)
    if _CHUNKED.search(head) is not None:
        # The last chunk is "0\r\n\r\n" (no trailers): a body merely containing those bytes is handed
        # over early, and its thread reads the rest itself.
        return data.find(b"0\r\n\r\n", end + 4) >= 0 or body >= BUFFER_MAX
    return True


class BufferingThreadWorker(ThreadWorker):
    """ThreadWorker that reads each request in its event loop and only then gives it to a thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading_conns: collections.deque[Any] = collections.deque()  # in deadline order

    def _buffering(self, conn: Any) -> bool:
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            return False  # TLS and HTTP/2 preface sniffing need the socket itself: gthread's own path
        parser = conn.parser
        return parser is None or not parser.unreader.buf.getvalue()  # read-ahead held: the request is in

    def enqueue_req(self, conn: Any) -> None:
        if not self._buffering(conn):
            super().enqueue_req(conn)
            return
        if type(conn.sock) is socket.socket:
            conn.sock = _TimedSocket(conn.sock)
        conn.sock.setblocking(False)
        conn.prebuffer = b""
        conn.read_deadline = time.monotonic() + READ_TIMEOUT
        if self._read_some(conn):  # usually the whole request is already there
            return
        self.reading_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        if self._read_some(conn):
            self.poller.unregister(conn.sock)
            self.reading_conns.remove(conn)

    def _read_some(self, conn: Any) -> bool:
        """Read what has arrived; True once the connection left the loop (handed to a thread or closed)."""
        try:
            data = conn.sock.recv(BUFFER_MAX)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                self.log.debug("Error reading a request: %s", e)
            data = b""
        if not data and not conn.prebuffer:  # the client left without a word: nothing to answer
            self._drop(conn)
            return True
        conn.prebuffer += data
        if not data or request_complete(conn.prebuffer):  # complete, or cut short: the thread answers it
            super().enqueue_req(conn)
            return True
        return False

    def handle(self, conn: Any) -> Any:
        data = conn.__dict__.pop("prebuffer", b"")
        if data:
            conn.data_ready = True
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(data)
        return super().handle(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.reading_conns and self.reading_conns[0].read_deadline <= now:
            conn = self.reading_conns.popleft()
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.log.info("Closed a connection from %s: its request did not arrive within %d s (slow client).",
                          _peer(conn), READ_TIMEOUT)
            try:
                conn.sock.send(_TIMED_OUT)
            except OSError:
                pass
            self._drop(conn)

    def _drop(self, conn: Any) -> None:
        conn.__dict__.pop("prebuffer", None)
        self.nr_conns -= 1
        conn.close()


class _TimedSocket(socket.socket):
    """A client connection whose blocking mode has a timeout: gthread switches sockets to blocking for its
    threads, where a silent client would otherwise hold one for good."""

    __slots__ = ()

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(READ_TIMEOUT)
        else:
            super().setblocking(False)


def _peer(conn: Any) -> str:
    client = conn.client
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client)

