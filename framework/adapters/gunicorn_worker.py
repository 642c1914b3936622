"""gunicorn's gthread worker, with each request read in the event loop before a thread takes it.

gthread gives a connection to a thread as soon as its first byte arrives; the thread then reads the rest
of the request blocking, with no deadline. A handful of clients trickling their headers or body hold every
thread (4 in the shipped configuration) and the app stops answering. Here the worker's own event loop
(gthread's poller, one thread) collects the request head and a body of up to BUFFER_MAX bytes without
blocking, and hands the connection to a thread only once they are all in. A client that has not sent them
within READ_TIMEOUT gets a 408 and is closed; the number of such connections is bounded by gunicorn's
`worker_connections`. A thread's own blocking reads and writes (a body beyond BUFFER_MAX, a response the
client does not take) give up after READ_TIMEOUT: each connection becomes a framework.adapters.timed_socket
`TimedSocket`, which also spares gthread's per-request switches between blocking and non-blocking mode.
GUNICORN_READ_TIMEOUT sets it (seconds). A connection being closed waits for the client's FIN in the event
loop too (at most LINGER seconds), where gthread waits for it blocking that loop: a few clients that never
close stalled every other connection of the worker. Requests run on `RequestThreads`, a lighter stand-in
for gthread's ThreadPoolExecutor. App Engine's and Cloud Run's front ends buffer requests the same way;
this protects direct runs (`make run` without the local runner, tests, other hosts).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

from .timed_socket import PeerTimeout, TimedSocket


def _seconds(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


READ_TIMEOUT = _seconds(os.environ.get("GUNICORN_READ_TIMEOUT"), 30.0)  # seconds; see the module docstring
BUFFER_MAX = 1024 * 1024  # bytes read ahead per connection; a longer body is read by the thread itself
LINGER = 2.0  # seconds a closing connection waits for the client's FIN (gunicorn's own graceful-close figure)
LINGER_MAX = 64 * 1024  # bytes of late request data drained from a closing connection before it is just closed
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
        self.lingering_conns: collections.deque[Any] = collections.deque()  # closing, in deadline order

    def _buffering(self, conn: Any) -> bool:
        if self.cfg.is_ssl or negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            return False  # TLS and HTTP/2 preface sniffing need the socket itself: gthread's own path
        parser = conn.parser
        return parser is None or not parser.unreader.buf.getvalue()  # read-ahead held: the request is in

    def get_thread_pool(self) -> RequestThreads:
        return RequestThreads(self.cfg.threads, self.handle, self._finished)

    def _finished(self, conn: Any, outcome: Outcome) -> None:
        self.method_queue.defer(self.finish_request, conn, outcome)

    def enqueue_req(self, conn: Any) -> None:
        if not self._buffering(conn):
            self.tpool.submit(conn)
            return
        if type(conn.sock) is socket.socket:
            conn.sock = TimedSocket(conn.sock, READ_TIMEOUT)
        conn.sock.setblocking(False)  # TimedSocket: no system call
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
            self.tpool.submit(conn)
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

    def handle_request(self, req: Any, conn: Any) -> bool:
        try:
            return bool(super().handle_request(req, conn))
        except PeerTimeout:  # not the app's own TimeoutError: the client stopped taking the response
            self.log.info("Closed a connection from %s: it did not take its response within %d s (slow client).",
                          _peer(conn), READ_TIMEOUT)
            return False

    def finish_request(self, conn: Any, fs: Any) -> None:
        """gthread's, except that a connection it would close gracefully lingers in the event loop instead:
        gthread waits up to 2 s for the client's FIN right there, so a few clients that never close would
        stall every other connection of the worker."""
        if type(conn.sock) is not TimedSocket or fs.cancelled():
            super().finish_request(conn, fs)
            return
        try:
            keep_alive = fs.result()
        except Exception:
            keep_alive = None  # gthread closes it at once
        if keep_alive is not False:
            super().finish_request(conn, fs)
            return
        self._linger(conn)

    def _linger(self, conn: Any) -> None:
        """Close `conn` without losing what it was sent: FIN now, then drain late request bytes (which would
        otherwise make the kernel reset the connection) until the client closes too, or for LINGER seconds."""
        sock = conn.sock
        sock.setblocking(False)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(conn)
            return
        conn.linger_deadline = time.monotonic() + LINGER
        conn.lingered = 0
        self.lingering_conns.append(conn)
        self.poller.register(sock, selectors.EVENT_READ, partial(self._on_lingering, conn))

    def _on_lingering(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(LINGER_MAX)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.lingered += len(data)
        if data and conn.lingered < LINGER_MAX:
            return
        self.poller.unregister(conn.sock)
        self.lingering_conns.remove(conn)
        self._drop(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.lingering_conns and self.lingering_conns[0].linger_deadline <= now:
            conn = self.lingering_conns.popleft()
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self._drop(conn)
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
                self._drop(conn)
            else:
                self._linger(conn)  # the 408 reaches the client even though its request is still in the buffer

    def _drop(self, conn: Any) -> None:
        conn.__dict__.pop("prebuffer", None)
        self.nr_conns -= 1
        conn.close()


class Outcome:
    """How a thread's `handle(conn)` ended, read by gthread's `finish_request` as it reads a Future."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: Any, error: BaseException | None = None) -> None:
        self._value = value
        self._error = error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def cancelled(self) -> bool:
        return False


class RequestThreads:
    """The worker's request threads, in place of gthread's ThreadPoolExecutor: `count` threads take connections
    from one queue, run `handle(conn)` and pass each outcome to `finished`, with no future, lock or condition
    made per request. Like the executor's, the threads start with the first request (a worker that fails to
    boot has none to wait for) and are not daemons: an exiting worker lets them finish what they hold."""

    def __init__(self, count: int, handle: Callable[[Any], Any], finished: Callable[[Any, Outcome], None]) -> None:
        self._count = count
        self._handle = handle
        self._finished = finished
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, conn: Any) -> None:
        if self._stopped:
            raise RuntimeError("the worker's request threads have stopped")
        if not self._threads:
            self._threads = [threading.Thread(target=self._serve, name=f"request-{n}") for n in range(self._count)]
            for thread in self._threads:
                thread.start()
        self._queue.put(conn)

    def shutdown(self, wait: bool = True) -> None:
        """Let each thread finish its request and stop (and, with `wait`, wait for them)."""
        self._stopped = True
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _serve(self) -> None:
        get, handle, finished = self._queue.get, self._handle, self._finished
        while (conn := get()) is not None:
            try:
                outcome = Outcome(handle(conn))
            except BaseException as exc:  # handle() answers the client itself; this is what escaped it
                outcome = Outcome(None, exc)
            finished(conn, outcome)
            del conn, outcome


def _peer(conn: Any) -> str:
    client = conn.client
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client)

