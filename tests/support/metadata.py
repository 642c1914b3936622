"""A stand-in for Google's metadata server, which cannot run here: it answers the project id on loopback."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class MetadataStandIn:
    """Where it listens (`host:port`, as GCE_METADATA_HOST takes it) and every (path, Metadata-Flavor) asked."""

    host: str = ""
    asked: list[tuple[str, str | None]] = field(default_factory=list)


@contextlib.contextmanager
def metadata_server(project: str) -> Iterator[MetadataStandIn]:
    """Serve `project` as the project id to any GET until the block ends."""
    stand_in = MetadataStandIn()
    body = project.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stand_in.asked.append((self.path, self.headers.get("Metadata-Flavor")))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
