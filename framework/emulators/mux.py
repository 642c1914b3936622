"""One public port for gRPC and the HTTP admin surface, like Google's emulators.

Each accepted connection is classified by its first bytes: the HTTP/2 preface ("PRI * HTTP/2.0") is relayed
byte for byte to the gRPC server on an internal loopback port; anything else is HTTP/1.x, handed to the admin
HTTP server (any `socketserver.BaseServer`) once its first request head has arrived.

One thread runs a selector loop that accepts, classifies and relays, so a connection costs no thread and no
work while it is quiet. The admin server gets a bounded pool of threads; past it a connection gets a 503.
Running out of file descriptors (EMFILE) pauses accepting briefly instead of ending the loop; the one
descriptor kept in reserve lets each waiting client be told why before it is closed.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import logging
import os
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("framework.emulators.mux")

_PREFACE = b"PRI "
_CHUNK = 256 * 1024
_HIGH_WATER = 1024 * 1024  # bytes queued for one side before reading from the other pauses
CLASSIFY_TIMEOUT = 10.0  # seconds a new connection may take to send the HTTP/2 preface or its first request head
_HTTP_HEAD_MAX = 64 * 1024  # a longer request head goes to the admin server as it is (which refuses it)
_REPEEK = 0.05  # a partial first message is looked at again after this long, then twice as long each time
_REPEEK_MAX = 1.0
ADMIN_THREADS = 64  # HTTP/1 connections served at once (REST clients keep theirs alive); more get a 503
_EMFILE_PAUSE = 0.1  # seconds accepting pauses when descriptors run out
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
         b"Content-Length: %d\r\n\r\n%s")


def _busy_reply(reason: str) -> bytes:
    body = f"Service Unavailable: {reason}\n".encode()
    return _BUSY % (len(body), body)


class _Side:
    """One socket of a relayed pair: what is waiting to be written to it, and whether its peer has ended."""

    __slots__ = ("sock", "peer", "out", "eof", "reading", "events")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.peer: _Side = self
        self.out = bytearray()
        self.eof = False  # this socket sent EOF
        self.reading = True
        self.events = 0


class Multiplexer:
    """Accepts on host:port and routes each connection to gRPC (internal port) or the admin server.

    With `grpc_port` None the port is the admin server's alone (an HTTP/2 preface is hung up on)."""

    def __init__(self, host: str, port: int, grpc_port: int | None, admin: socketserver.BaseServer,
                 *, admin_threads: int = ADMIN_THREADS) -> None:
        self.grpc_port = grpc_port
        self.admin = admin
        self.listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                             backlog=128)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._pending: dict[socket.socket, float] = {}  # connections not yet classified -> next re-peek delay
        self._sides: set[_Side] = set()
        self._admin_pool = ThreadPoolExecutor(max_workers=admin_threads, thread_name_prefix="emulator-admin")
        self._admin_limit = admin_threads
        self._admin_busy = 0
        self._admin_socks: set[socket.socket] = set()  # being served, cut at close() so no thread lingers
        self._lock = threading.Lock()
        self._reserve: int | None = _reserve_fd()
        self._accepting = False
        self._out_of_fds_since: float | None = None
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._listen(True)
        self._thread = threading.Thread(target=self._loop, name="emulator-mux", daemon=True)
        self._thread.start()

    # --- the loop -----------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closed:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                events = self._sel.select(timeout)
            except OSError:  # EINTR and the like: look again
                continue
            for key, mask in events:
                what, obj = key.data
                try:
                    if what == "accept":
                        self._accept()
                    elif what == "classify":
                        self._classify(obj)
                    elif what == "relay":
                        self._relay_event(obj, mask)
                    else:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                except Exception:  # never let one connection's surprise end the loop
                    log.exception("emulator port: unexpected error on a connection")
            self._run_timers()

    def _at(self, delay: float, func: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), func))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, func = heapq.heappop(self._timers)
            try:
                func()
            except Exception:
                log.exception("emulator port: unexpected error in a timer")

    def _listen(self, on: bool) -> None:
        if on and not self._accepting and not self._closed:
            self._sel.register(self.listener, selectors.EVENT_READ, ("accept", None))
        elif not on and self._accepting:
            self._sel.unregister(self.listener)
        self._accepting = on

    # --- accepting ------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(64):  # a burst at a time, so relays are not starved by a flood of connects
            try:
                conn, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_FDS:
                    self._out_of_fds(exc)
                # ECONNABORTED and similar: that client is gone; the next one may be fine
                return
            if self._out_of_fds_since is not None:
                log.warning("emulator port: file descriptors available again; accepting connections")
                self._out_of_fds_since = None
            conn.setblocking(False)
            self._pending[conn] = _REPEEK
            self._sel.register(conn, selectors.EVENT_READ, ("classify", conn))
            self._at(CLASSIFY_TIMEOUT, lambda conn=conn: self._expire(conn))  # type: ignore[misc]

    def _out_of_fds(self, exc: OSError) -> None:
        """No descriptor for a new connection: tell one waiting client why, pause accepting, try again soon."""
        if self._out_of_fds_since is None:
            self._out_of_fds_since = time.monotonic()
            log.error("emulator port: out of file descriptors (%s; %d open connections); refusing new connections "
                      "until some close. Raise the limit (ulimit -n) or use fewer client channels.",
                      os.strerror(exc.errno or 0), len(self._sides) + len(self._pending))
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
            with contextlib.suppress(OSError):
                conn, _ = self.listener.accept()
                with conn:
                    conn.setblocking(False)
                    with contextlib.suppress(OSError):
                        conn.send(_busy_reply("the emulator has run out of file descriptors; try again shortly"))
            self._reserve = _reserve_fd()
        self._listen(False)
        self._at(_EMFILE_PAUSE, lambda: self._listen(True))

    # --- classifying ----------------------------------------------------------------------------------------
    def _classify(self, conn: socket.socket) -> None:
        try:
            head = conn.recv(len(_PREFACE), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            head = b""
        if not head:
            self._drop_pending(conn)
            return
        partial = _PREFACE.startswith(head) and len(head) < len(_PREFACE)
        if not partial and head != _PREFACE:  # HTTP/1: a thread only once the request's headers are all in
            try:
                head = conn.recv(_HTTP_HEAD_MAX, socket.MSG_PEEK)
            except OSError:
                head = b""
            partial = b"\r\n\r\n" not in head and 0 < len(head) < _HTTP_HEAD_MAX
        if partial:
            # Part of the preface or of the request head so far: look again shortly, without spinning on the
            # readable socket; CLASSIFY_TIMEOUT bounds the wait.
            self._sel.unregister(conn)
            delay = self._pending[conn]
            self._pending[conn] = min(delay * 2, _REPEEK_MAX)
            self._at(delay, lambda: self._repeek(conn))
            return
        self._sel.unregister(conn)
        del self._pending[conn]
        if head == _PREFACE and self.grpc_port is not None:
            self._start_relay(conn)
        elif head == _PREFACE:  # an admin-only port: no gRPC here
            conn.close()
        else:
            self._to_admin(conn)

    def _repeek(self, conn: socket.socket) -> None:
        if conn in self._pending and conn.fileno() >= 0:
            self._sel.register(conn, selectors.EVENT_READ, ("classify", conn))

    def _expire(self, conn: socket.socket) -> None:
        """CLASSIFY_TIMEOUT passed: a connection still unclassified is closed."""
        if conn in self._pending:
            self._drop_pending(conn)

    def _drop_pending(self, conn: socket.socket) -> None:
        self._pending.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn)
        conn.close()

    # --- HTTP/1: the admin server ------------------------------------------------------------------------------
    def _to_admin(self, conn: socket.socket) -> None:
        with self._lock:
            busy = self._admin_busy >= self._admin_limit
            if not busy:
                self._admin_busy += 1
        if busy:
            with contextlib.suppress(OSError):
                conn.send(_busy_reply(f"all {self._admin_limit} admin connections are in use; try again shortly"))
            conn.close()
            return
        self._admin_pool.submit(self._serve_admin, conn)

    def _serve_admin(self, conn: socket.socket) -> None:
        with self._lock:
            self._admin_socks.add(conn)
        try:
            conn.setblocking(True)
            try:
                addr = conn.getpeername()
            except OSError:
                conn.close()
                return
            try:
                self.admin.finish_request(conn, addr)
            except Exception:
                self.admin.handle_error(conn, addr)
            finally:
                self.admin.shutdown_request(conn)
        finally:
            with self._lock:
                self._admin_busy -= 1
                self._admin_socks.discard(conn)

    # --- HTTP/2: relayed to the gRPC server ------------------------------------------------------------------
    def _start_relay(self, conn: socket.socket) -> None:
        assert self.grpc_port is not None
        try:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno in _OUT_OF_FDS:
                self._out_of_fds(exc)
            conn.close()
            return
        try:
            upstream.connect(("127.0.0.1", self.grpc_port))  # loopback: completes at once or fails
        except OSError:
            upstream.close()
            conn.close()
            return
        upstream.setblocking(False)
        down, up = _Side(conn), _Side(upstream)
        down.peer, up.peer = up, down
        for side in (down, up):
            side.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sides.add(side)
            self._update(side)

    def _update(self, side: _Side) -> None:
        """Register the events `side` waits for: readable while its peer's queue is short, writable while its own is not."""
        events = 0
        if side.reading and not side.eof:
            events |= selectors.EVENT_READ
        if side.out:
            events |= selectors.EVENT_WRITE
        if events == side.events:
            return
        if side.events == 0:
            self._sel.register(side.sock, events, ("relay", side))
        elif events == 0:
            self._sel.unregister(side.sock)
        else:
            self._sel.modify(side.sock, events, ("relay", side))
        side.events = events

    def _relay_event(self, side: _Side, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._flush(side)
            if mask & selectors.EVENT_READ and side.sock.fileno() >= 0:
                self._read(side)
        except OSError:
            self._close_pair(side)

    def _read(self, side: _Side) -> None:
        try:
            data = side.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        peer = side.peer
        if not data:
            side.eof = True
            self._update(side)
            if not peer.out:
                self._half_close(peer)
            return
        if peer.out:
            peer.out += data
        else:
            try:
                sent = peer.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent < len(data):
                peer.out += data[sent:]
        if len(peer.out) > _HIGH_WATER:
            side.reading = False
            self._update(side)
        self._update(peer)

    def _flush(self, side: _Side) -> None:
        if side.out:
            try:
                sent = side.sock.send(side.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            del side.out[:sent]
        peer = side.peer
        if len(side.out) <= _HIGH_WATER // 2 and not peer.reading:
            peer.reading = True
            self._update(peer)
        if not side.out and peer.eof:
            self._half_close(side)
        self._update(side)

    def _half_close(self, side: _Side) -> None:
        """The peer ended and everything it sent is delivered: pass the EOF on; close when both ends are done."""
        with contextlib.suppress(OSError):
            side.sock.shutdown(socket.SHUT_WR)
        if side.eof and side.peer.eof:
            self._close_pair(side)

    def _close_pair(self, side: _Side) -> None:
        for s in (side, side.peer):
            if s in self._sides:
                self._sides.discard(s)
                if s.events:
                    with contextlib.suppress(KeyError, ValueError):
                        self._sel.unregister(s.sock)
                    s.events = 0
                s.sock.close()

    # --- stopping ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop accepting and cut every connection (relayed and not yet classified)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self.listener.close()
        for side in list(self._sides):
            with contextlib.suppress(OSError):
                side.sock.shutdown(socket.SHUT_RDWR)
            side.sock.close()
        for conn in list(self._pending):
            conn.close()
        with self._lock:
            serving = list(self._admin_socks)
        for conn in serving:  # a kept-alive admin connection would hold its thread (and exit) for IDLE_TIMEOUT
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._admin_pool.shutdown(wait=False, cancel_futures=True)
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()


def _reserve_fd() -> int | None:
    """A descriptor held back so that, out of descriptors, one client can still be accepted and told why."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None

