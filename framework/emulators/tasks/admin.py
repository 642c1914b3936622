"""The HTTP/1 side of the Cloud Tasks emulator's port: GET / (health, "Ok"), POST /reset, POST /shutdown.

The shared multiplexer (framework/emulators/mux.py) hands it the HTTP/1 connections; the shared guard
(framework/emulators/http_guard.py) refuses requests from web pages (foreign Host or Origin) with a 403.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..http_guard import HttpGuard

IDLE_TIMEOUT = 10.0
MAX_BODY = 64 * 1024


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply is routine, not worth a traceback on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def build_admin(reset: Callable[[], None], shutdown: Callable[[], None],
                hosts: Iterable[str] = ("127.0.0.1",)) -> ThreadingHTTPServer:
    """An unbound admin server; connections arrive through the multiplexer's `process_request`."""
    guard = HttpGuard(hosts)

    class Handler(BaseHTTPRequestHandler):
        server_version = "CloudTasksEmulator"
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT

        def _reply(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
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
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._reply(413 if length > MAX_BODY else 400, "Bad Content-Length\n")
                return
            self.rfile.read(length)
            if self.path == "/reset":
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
