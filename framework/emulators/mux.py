"""One public port for gRPC and the HTTP admin surface, like Google's emulator.

Each accepted connection is classified by its first bytes: the HTTP/2 preface ("PRI * HTTP/2.0") is relayed
byte for byte to the gRPC server on an internal loopback port; anything else is HTTP/1.x, handed to the admin
HTTP server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import HTTPServer

_PREFACE = b"PRI "
_CHUNK = 256 * 1024


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy until `src` ends, then end `dst`'s writing side (half-close) so the peer sees EOF."""
    try:
        while data := src.recv(_CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class Multiplexer:
    """Accepts on host:port and routes each connection to gRPC (internal port) or the admin server."""

    def __init__(self, host: str, port: int, grpc_port: int, admin: HTTPServer) -> None:
        self.grpc_port = grpc_port
        self.admin = admin
        self.listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.port = self.listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="datastore-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._route, args=(conn, addr), daemon=True).start()

    def _route(self, conn: socket.socket, addr: object) -> None:
        try:
            conn.settimeout(30)
            head = b""
            deadline = time.monotonic() + 30
            while len(head) < len(_PREFACE):
                peek = conn.recv(len(_PREFACE), socket.MSG_PEEK)
                if not peek or time.monotonic() > deadline:  # closed, or a preface that never completes
                    conn.close()
                    return
                if not _PREFACE.startswith(peek):
                    break
                if len(peek) == len(head):
                    time.sleep(0.001)  # part of the preface arrived; wait for the rest
                head = peek
            conn.settimeout(None)
        except OSError:
            conn.close()
            return
        if head.startswith(_PREFACE):
            self._relay(conn)
        else:
            self.admin.process_request(conn, addr)

    def _relay(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.grpc_port))
        except OSError:
            conn.close()
            return
        for s in (conn, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._closed:
                conn.close()
                upstream.close()
                return
            self._open.update((conn, upstream))
        back = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
        back.start()
        _pump(conn, upstream)
        back.join()
        with self._lock:
            self._open.difference_update((conn, upstream))
        conn.close()
        upstream.close()

    def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        with self._lock:
            self._closed = True
            sockets = list(self._open)
        self.listener.close()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
