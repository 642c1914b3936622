"""An emulator's listening ports: gRPC and the admin surface on one port through the multiplexer (mux.py), or
each on its own port (the Datastore emulator's `--admin-port`, which spares gRPC the relay)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from .admin_http import serve_admin
from .mux import Multiplexer

if TYPE_CHECKING:
    import grpc


@dataclass
class Ports:
    """The started servers and the ports clients use; `close()` stops them all."""

    grpc_server: grpc.Server
    port: int
    admin_port: int
    _mux: Multiplexer | None
    _admin: ThreadingHTTPServer

    def close(self) -> None:
        if self._mux is not None:
            self._mux.close()
        else:
            self._admin.shutdown()
        self.grpc_server.stop(grace=0.5).wait()


def open_ports(start_grpc: Callable[[str, int], tuple[grpc.Server, int]], admin: ThreadingHTTPServer, host: str,
               port: int, admin_port: int | None = None) -> Ports:
    """Start gRPC (`start_grpc(host, port)` returns the server and its port) and the admin server on host:port,
    or on host:port and host:admin_port; raises OSError (nothing left running) when a port is taken."""
    single = admin_port is None
    server, grpc_port = start_grpc("127.0.0.1" if single else host, 0 if single else port)
    try:
        if admin_port is None:
            mux = Multiplexer(host, port, grpc_port, admin)
            return Ports(server, mux.port, mux.port, mux, admin)
        return Ports(server, grpc_port, serve_admin(admin, host, admin_port), None, admin)
    except OSError:
        server.stop(0)
        raise
