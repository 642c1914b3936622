"""`python -m framework.emulators.datastore`: run the Datastore emulator and print the variables clients need."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

DEFAULT_PROJECT = "local-project"
READY_LINE = "# Datastore emulator is running; stop it with Ctrl-C or SIGTERM."


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m framework.emulators.datastore", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="gRPC port; 0 picks a free one (default 8081)")
    parser.add_argument("--admin-port", type=int, default=None,
                        help="serve the HTTP admin endpoints (GET /, POST /reset, POST /shutdown) on this separate "
                             "port (0 = a free one) and gRPC directly on --port, which is fastest; by default "
                             "both share --port")
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--data-dir", help="keep data durably in SQLite under this directory")
    store.add_argument("--in-memory", action="store_true", help="keep data in memory only (the default)")
    parser.add_argument("--project", default=os.environ.get("DATASTORE_PROJECT_ID") or DEFAULT_PROJECT,
                        help="project id printed for clients (requests for any project are served)")
    parser.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def env_lines(host: str, port: int, admin_port: int, project: str) -> dict[str, str]:
    """The variables a client exports, as `gcloud beta emulators datastore env-init` prints them."""
    address = f"{host}:{port}"
    return {
        "DATASTORE_EMULATOR_HOST": address,
        "DATASTORE_PROJECT_ID": project,
        "DATASTORE_DATASET": project,
        "DATASTORE_HOST": f"http://{address}",
        "DATASTORE_EMULATOR_HOST_PATH": f"{address}/datastore",
        "DATASTORE_EMULATOR_ADMIN": f"http://{host}:{admin_port}",
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from ..mux import Multiplexer
    from .admin import build_admin, serve_admin
    from .server import build_server
    from .service import DatastoreService
    from .storage import open_storage

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        storage = open_storage(args.data_dir)
    except Exception as exc:
        print(f"error: cannot open the data directory {args.data_dir!r}: {exc}", file=sys.stderr)
        return 2
    service = DatastoreService(storage)
    admin = build_admin(service, stop.set)
    single = args.admin_port is None
    mux = None
    try:
        server, grpc_port = build_server(service, "127.0.0.1" if single else args.host, 0 if single else args.port)
        try:
            if single:
                mux = Multiplexer(args.host, args.port, grpc_port, admin)
                port = admin_port = mux.port
            else:
                port, admin_port = grpc_port, serve_admin(admin, args.host, args.admin_port)
        except OSError:
            server.stop(0)
            raise
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    for name, value in env_lines(args.host, port, admin_port, args.project).items():
        print(f"export {name}={value}")
    where = f"data in {os.path.abspath(args.data_dir)}" if args.data_dir else "data in memory"
    print(f"# API endpoint: http://{args.host}:{port} ({where}); health check: GET http://{args.host}:{admin_port}/")
    print(READY_LINE, flush=True)
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.wait(0.5):
        pass
    if mux is not None:
        mux.close()
    else:
        admin.shutdown()
    server.stop(grace=0.5).wait()
    with service.lock:
        storage.close()
    print("# Datastore emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
