"""The HTTP/1 admin surface of an emulator's port: GET / (health, "Ok"), POST /reset, POST /shutdown.

The multiplexer (mux.py) hands it the HTTP/1 connections of the emulator's port, or `serve_admin` gives it a
port of its own. The guard (http_guard.py) refuses requests from web pages (foreign Host or Origin) with a
403. An emulator may answer more POST paths through `extra_post` (the Datastore emulator's REST API).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .http_guard import HttpGuard
from .mux import Multiplexer

IDLE_TIMEOUT = 10.0  # seconds a connection may sit idle or half-sent before it is closed

# (path, Content-Type, body) -> (status, Content-Type, body), or None when the path is not its own.
ExtraPost = Callable[[str, str, bytes], "tuple[int, str, bytes] | None"]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply is routine, not worth a traceback on the emulator's stderr."""

    mux: Multiplexer | None = None  # set by serve_admin

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def shutdown(self) -> None:
        """Stop serving the port of its own (serve_admin); nothing to do when mux.py's port serves it."""
        if self.mux is not None:
            self.mux.close()


def build_admin(name: str, *, reset: Callable[[], None], shutdown: Callable[[], None], max_body: int,
                hosts: Iterable[str] = ("127.0.0.1",), extra_post: ExtraPost | None = None) -> ThreadingHTTPServer:
    """An unbound admin server named `name` (its Server header); connections come via `process_request`."""
    guard = HttpGuard(hosts)

    class Handler(BaseHTTPRequestHandler):
        server_version = name
        protocol_version = "HTTP/1.1"  # keep-alive for REST clients; every reply has a Content-Length
        timeout = IDLE_TIMEOUT

        def _reply(self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refused(self) -> bool:
            why = guard.refusal(self.headers)
            if why is not None:
                self.close_connection = True
                self._reply(403, f"Forbidden: {why}\n")
            return why is not None

        def do_GET(self) -> None:
            if not self._refused():
                self._reply(200, "Ok\n") if self.path == "/" else self._reply(404, "Not found\n")

        def do_POST(self) -> None:
            if self._refused():
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= max_body:
                self.close_connection = True  # the body is left unread: the connection cannot go on
                self._reply(413 if length > max_body else 400, "Bad Content-Length\n")
                return
            body = self.rfile.read(length)
            answer = extra_post(self.path, self.headers.get("Content-Type", ""), body) if extra_post else None
            if answer is not None:
                self._reply(answer[0], answer[2], answer[1])
            elif self.path == "/reset":
                reset()
                self._reply(200, "Reset\n")
            elif self.path == "/shutdown":
                self._reply(200, "Shutting down\n")
                shutdown()
            else:
                self._reply(404, "Not found\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.daemon_threads = True
    return server


def serve_admin(server: ThreadingHTTPServer, host: str, port: int) -> int:
    """Serve the admin server alone on host:port (0 = a free port); return the port. It goes through mux.py's
    connection loop without a gRPC side, for the same limits: bounded threads, timeouts, EMFILE survived."""
    mux = Multiplexer(host, port, None, server)
    if isinstance(server, _QuietServer):
        server.mux = mux
    return mux.port
