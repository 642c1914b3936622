"""`python -m deploy.local_server [--app-dir DIR] [--port N] [FILE.yaml ...]`: the local App Engine (`make run`).

Takes service files and dispatch/cron/queue/index files as `gcloud app deploy` does (by basename); with
none, app.yaml and the config files beside it. Every file is checked first: a problem stops the runner
before anything starts, printing FILE:LINE, the problem and the fix (exit status 1). Then it serves every
service behind a local App Engine front end on 127.0.0.1:PORT (default $PORT or 8080), with the Datastore
and Cloud Tasks emulators and cron, until Ctrl-C or SIGTERM. See deploy/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.config.problems import ConfigError
from deploy.config.project import load_project
from deploy.local.frontend import Limits
from deploy.local.runner import Runner

ROOT = Path(__file__).resolve().parent.parent


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number (1-65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.local_server", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", metavar="FILE.yaml",
                        help="service files and dispatch/cron/queue/index files (default: app.yaml and the "
                             "config files beside it)")
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the app's folder (default: this kit's)")
    parser.add_argument("--port", type=_port, default=None,
                        help="the front end's port on 127.0.0.1 (default $PORT, else 8080)")
    parser.add_argument("--request-timeout", type=_seconds, default=None,
                        help="seconds a request may take (default: the scaling type's, 10 min or 24 h)")
    parser.add_argument("--idle-timeout", type=_seconds, default=75.0,
                        help="seconds an idle or half-open client connection is kept (default 75)")
    parser.add_argument("--body-timeout", type=_seconds, default=60.0,
                        help="seconds a client may take to send its request body (default 60)")
    parser.add_argument("--no-reload", dest="reload", action="store_false",
                        help="keep instances running when their .py files change (default: restart them)")
    args = parser.parse_args(argv)
    if args.port is None:
        env_port = os.environ.get("PORT") or "8080"
        try:
            args.port = _port(env_port)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"PORT: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Check the config, then serve until stopped; the exit status (1: nothing could start)."""
    args = parse_args(argv)
    app_dir = args.app_dir.resolve()
    try:
        project = load_project(app_dir, args.files)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not project.services:
        print(f"{app_dir}: no service file given (app.yaml or another service's yaml)\n"
              "  fix: pass at least one service file, or run where app.yaml is", file=sys.stderr)
        return 1
    limits = Limits(request_timeout=args.request_timeout, body_timeout=args.body_timeout,
                    idle_timeout=args.idle_timeout)
    runner = Runner(project, args.port, limits, reload=args.reload)
    return asyncio.run(runner.run())


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the runner took over the signals
        sys.exit(130)
