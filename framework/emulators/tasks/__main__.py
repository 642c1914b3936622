"""`python -m framework.emulators.tasks`: run the Cloud Tasks emulator and print the variables clients need."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from functools import partial

READY_LINE = "# Cloud Tasks emulator is running; stop it with Ctrl-C or SIGTERM."
DEFAULT_PORT = 8123
ADMIN_MAX_BODY = 64 * 1024  # the admin endpoints take no body worth the name


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m framework.emulators.tasks", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of the gRPC API and the HTTP admin endpoints; 0 picks a free one (default "
                             f"{DEFAULT_PORT})")
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--data-dir", help="keep queues and tasks durably in SQLite under this directory")
    store.add_argument("--in-memory", action="store_true", help="keep everything in memory only (the default)")
    parser.add_argument("--queue-yaml", help="create the push queues of this queue.yaml (and `default`)")
    parser.add_argument("--app-engine-url",
                        help="where App Engine tasks are sent: the local runner's front end or an app server "
                             "(without it they stay queued)")
    parser.add_argument("--dedup-window", type=float, default=None,
                        help="seconds a deleted or finished task's name stays taken (default: 1 h, 9 days for "
                             "queue.yaml queues, as in production)")
    parser.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def env_lines(host: str, port: int) -> dict[str, str]:
    """The variables a client exports: framework.tasks.client() reads CLOUD_TASKS_EMULATOR_HOST."""
    return {
        "CLOUD_TASKS_EMULATOR_HOST": f"{host}:{port}",
        "CLOUD_TASKS_EMULATOR_ADMIN": f"http://{host}:{port}",
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from ..sqlite_store import StoreError
    from .journal import Journal
    from .queue_yaml import DEFAULT_QUEUE, QueueYamlError, load_queue_yaml

    # Settings are checked before grpc and the protobuf types load, so a mistake is reported at once.
    if args.app_engine_url and not args.app_engine_url.startswith(("http://", "https://")):
        print(f"error: --app-engine-url {args.app_engine_url!r} must start with http:// or https:// "
              "(e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return 2
    if args.dedup_window is not None and not args.dedup_window >= 0:
        print("error: --dedup-window must be 0 or more seconds", file=sys.stderr)
        return 2
    try:
        specs = load_queue_yaml(args.queue_yaml) if args.queue_yaml else [DEFAULT_QUEUE]
    except QueueYamlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        journal = Journal(args.data_dir)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"error: cannot open the data directory {args.data_dir!r}: {exc}", file=sys.stderr)
        return 2
    from ..admin_http import build_admin
    from ..ports import open_ports
    from ..process import announce, stop_on_signals, wait_for_stop
    from .dispatcher import Dispatcher
    from .server import build_server
    from .service import CloudTasksService
    from .state import State

    stop = stop_on_signals()
    state = State(journal)
    try:
        state.load()
    except Exception as exc:
        print(f"error: cannot read the data in {args.data_dir!r}: {exc}", file=sys.stderr)
        return 2
    service = CloudTasksService(state, specs, args.dedup_window, from_yaml=bool(args.queue_yaml))
    dispatcher = Dispatcher(state, service, args.app_engine_url)
    admin = build_admin("CloudTasksEmulator", reset=service.reset, shutdown=stop.set, max_body=ADMIN_MAX_BODY,
                        hosts=(args.host,))
    try:
        ports = open_ports(partial(build_server, service), admin, args.host, args.port)
    except (OSError, RuntimeError) as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    dispatcher.start()
    where = f"data in {os.path.abspath(args.data_dir)}" if args.data_dir else "data in memory"
    target = args.app_engine_url or "nowhere (no --app-engine-url)"
    announce(env_lines(args.host, ports.port),
             f"API endpoint: {args.host}:{ports.port} ({where}); App Engine tasks go to {target}", READY_LINE)
    wait_for_stop(stop, args.exit_with_stdin)
    ports.close()
    dispatcher.stop()
    with state.lock:
        state.journal.close()
    print("# Cloud Tasks emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
