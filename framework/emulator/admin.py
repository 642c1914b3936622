"""The HTTP admin surface, like Google's emulator: GET / (health, "Ok"), POST /reset, POST /shutdown.

The server is not bound to a port of its own: the multiplexer (mux.py) hands it the HTTP/1 connections
that arrive on the emulator's single port.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def build_admin(reset: Callable[[], None], shutdown: Callable[[], None]) -> ThreadingHTTPServer:
    """An unbound admin server; connections are given to it with `process_request(conn, address)`."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "DatastoreEmulator"

        def _reply(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/":
                self._reply(200, "Ok\n")
            else:
                self._reply(404, "Not found\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 20))
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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.daemon_threads = True
    return server
