"""The production HTTP server behind app.yaml's entrypoint: `python -m framework.server main:app`.

Behind a front end that buffers each request (App Engine, Cloud Run, the local runner: GAE_ENV=localdev) it
runs granian's WSGI interface: a Rust HTTP server (connections, parsing, keep-alive and slow request heads
off the GIL) with the app in a pool of Python threads, sized from the instance: worker processes from the
instance class's memory (GAE_MEMORY_MB) capped by the CPUs, threads so the instance takes
`max_concurrent_requests` at once. Each worker checks SECRET_KEY before serving (framework.secrets) and runs
the app's `@app.on_stop` handlers as it exits on SIGTERM; granian's own lines are Cloud Logging JSON
wherever the app's are; a body cut short of its Content-Length is a 400 (`declared_length_checked`). Run
directly (no front end) it execs `gunicorn -c gunicorn.conf.py` instead: granian hands a thread a request
before its body is in, so a slow uploader holds that thread, and it ends a malformed chunked body as if it
were complete, where gunicorn's buffering worker answers 408/400.
FRAMEWORK_SERVER=granian|gunicorn overrides. Figures: `python -m bench server`, README "Server".
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server.mp import MPServer, WorkerProcess

from framework.instance import positive_int, workers_for_memory
from framework.platform import detect

# Worker processes per App Engine instance class, keyed by its memory (GAE_MEMORY_MB, platform-facts §1.4).
# A granian worker holds the app once (~50 MB) and runs many requests at once, so it needs fewer processes
# than gunicorn's per-class advice: F1/B1 (384 MB, 600 MHz) 1, F2/B2 (768 MB, 1.2 GHz) 2, larger classes 4.
_WORKERS_BY_MEMORY = ((384, 1), (768, 2))
_MAX_APPENGINE_WORKERS = 4
# App Engine's default max_concurrent_requests (automatic scaling) and Cloud Run's default concurrency.
APPENGINE_CONCURRENCY = 10
CLOUD_RUN_CONCURRENCY = 80
LOCAL_CONCURRENCY = 16
MIN_THREADS = 8  # per worker: a few spare threads cost little memory and absorb bursts
MAX_THREADS = 256
# App Engine kills the instance 2 s after SIGTERM (§1.5): in-flight requests and on_stop share 1 s of it.
_KILL_TIMEOUT = {"appengine": 1, "cloud_run": 8, "local": 5}
_CONCURRENCY_LINE = re.compile(r"^\s+max_concurrent_requests\s*:\s*(\d+)\s*(?:#.*)?$", re.MULTILINE)
# Request variables a process environment must not carry: granian copies os.environ into every request's environ.
_REQUEST_VARIABLES = re.compile(r"^(HTTP_.*|CONTENT_TYPE|CONTENT_LENGTH|SCRIPT_NAME|PATH_INFO|QUERY_STRING|"
                                r"REQUEST_METHOD|REQUEST_URI|RAW_URI|REMOTE_.*|SERVER_.*|wsgi\..*)$")


@dataclass(frozen=True)
class Settings:
    """Everything the server is started with; `compute_settings` derives it from the environment."""

    host: str
    port: int
    workers: int
    threads: int
    kill_timeout: int
    read_timeout_ms: int
    access_log: bool
    http2: bool
    json_logs: bool
    log_level: str
    project: str | None


def appengine_workers(memory_mb: int | None) -> int:
    """Worker processes for an App Engine instance with `memory_mb` (unknown: the default F1 class)."""
    return workers_for_memory(memory_mb, _WORKERS_BY_MEMORY, _MAX_APPENGINE_WORKERS)


def app_yaml_concurrency(app_dir: Path) -> int | None:
    """`max_concurrent_requests` from the app.yaml beside the app, if it is there and sets it.

    Whether App Engine leaves app.yaml in the deployed filesystem is unconfirmed, so a missing file just
    means the platform's default; the variable FRAMEWORK_MAX_CONCURRENT_REQUESTS overrides both.
    """
    try:
        text = (app_dir / "app.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = _CONCURRENCY_LINE.search(text)
    return positive_int(match.group(1)) if match else None


def compute_settings(env: Mapping[str, str], cpu_count: int | None, app_dir: Path | None = None) -> Settings:
    """The server settings for a process with environment `env` on a machine with `cpu_count` CPUs."""
    appengine = env.get("GAE_ENV") == "standard"
    cloud_run = not appengine and bool(env.get("K_SERVICE"))
    host_kind = "appengine" if appengine else "cloud_run" if cloud_run else "local"
    cpus = max(1, cpu_count or 1)

    if appengine:
        # The CPUs an instance may use are not published (§1.4 gives clock rates only): the class decides,
        # capped by what the sandbox reports.
        workers = min(appengine_workers(positive_int(env.get("GAE_MEMORY_MB"))), cpus)
        concurrency = APPENGINE_CONCURRENCY
    elif cloud_run:
        workers, concurrency = cpus, CLOUD_RUN_CONCURRENCY
    else:
        workers, concurrency = 1, LOCAL_CONCURRENCY  # one process: in-memory state behaves predictably
    concurrency = (positive_int(env.get("FRAMEWORK_MAX_CONCURRENT_REQUESTS"))
                   or (app_yaml_concurrency(app_dir) if app_dir is not None else None) or concurrency)
    workers = positive_int(env.get("WEB_CONCURRENCY")) or workers
    threads = positive_int(env.get("FRAMEWORK_SERVER_THREADS")) or min(
        MAX_THREADS, max(MIN_THREADS, math.ceil(concurrency / workers)))

    on_google = appengine or cloud_run
    host = env.get("HOST") or ("0.0.0.0" if on_google else "127.0.0.1")
    read_timeout = _positive_float(env.get("GUNICORN_READ_TIMEOUT"), 30.0)  # the same deadline under both servers
    project = detect(env).project
    return Settings(
        host=host.strip("[]"),
        port=positive_int(env.get("PORT")) or 8080,
        workers=workers,
        threads=threads,
        kill_timeout=_KILL_TIMEOUT[host_kind],
        # granian accepts 1..60000 ms for a request head to arrive; past it the connection is closed.
        read_timeout_ms=max(1, min(60_000, int(read_timeout * 1000))),
        # The platform, or the local runner's front end, writes a request log itself.
        access_log=not on_google and env.get("GAE_ENV") != "localdev",
        # App Engine hands the app HTTP/1.1 (§1.6); Cloud Run may be set to send HTTP/2 end to end (h2c).
        http2=cloud_run,
        json_logs=_json_logs(env, on_google),
        log_level=_log_level(env.get("GUNICORN_LOG_LEVEL")),
        project=project,
    )


def _positive_float(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


def _json_logs(env: Mapping[str, str], on_google: bool) -> bool:
    from framework.adapters.cloud_logging import choose_format  # cold start: the launcher only

    return choose_format(None, on_google, env) == "json"


def _log_level(value: str | None) -> str:
    level = (value or "info").lower()
    return level if level in ("critical", "error", "warning", "info", "debug") else "info"


def log_config(settings: Settings) -> dict[str, Any] | None:
    """granian's `log_dictconfig`: its own lines as Cloud Logging JSON on stderr, or None (its plain text)."""
    if not settings.json_logs:
        return None
    handler = {"()": "framework.adapters.cloud_logging.CloudLoggingHandler", "project": settings.project}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"cloud_logging": handler},
        "loggers": {
            "_granian": {"handlers": ["cloud_logging"], "level": settings.log_level.upper(), "propagate": False},
            "granian.access": {"handlers": ["cloud_logging"], "level": "INFO", "propagate": False},
        },
    }


def scrub_request_variables(environ: dict[str, str] | Any) -> list[str]:
    """Remove request-shaped variables (HTTP_*, CONTENT_TYPE, SCRIPT_NAME, ...) from a process environment.

    granian starts every request's WSGI environ from a copy of os.environ, so a variable like HTTP_PROXY
    would reach the app as a client header and SCRIPT_NAME as a mount point. HTTP_PROXY lives on as
    http_proxy, which urllib and requests honour too. Returns the names removed.
    """
    removed = [name for name in list(environ) if _REQUEST_VARIABLES.match(name)]
    for name in removed:
        value = environ.pop(name)
        if name == "HTTP_PROXY":
            environ.setdefault("http_proxy", value)
    return removed


def declared_length_checked(app: Any) -> Any:
    """`app`, told to read a body of declared length as exactly that many bytes.

    granian marks every body `wsgi.input_terminated` and ends one cut short by its client as if it were
    complete. Without the mark (werkzeug looks for the key, whatever its value) werkzeug reads CONTENT_LENGTH
    bytes and answers 400 when fewer arrive, so a truncated upload is never taken for a whole one. Bodies
    without a length (chunked) keep the mark.
    """

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        if "CONTENT_LENGTH" in environ:
            environ.pop("wsgi.input_terminated", None)
        return app(environ, start_response)

    return checked


def _worker_body(*args: Any, **kwargs: Any) -> None:
    """granian's WSGI worker (granian wraps it: args are worker id, the loaded app, ...), plus our start and exit."""
    app = args[1]
    _check_secret_key(app)
    scrub_request_variables(os.environ)
    served = (args[0], declared_length_checked(app), *args[2:])
    MPServer._spawn_wsgi_worker.__wrapped__(*served, **kwargs)
    from framework.lifecycle import run_at_exit  # cold start: only as the worker exits

    run_at_exit(app)  # SIGTERM: granian drained the worker's requests; now the app's on_stop handlers


# The worker as granian spawns it. A module-level name, so that it pickles by reference where granian spawns
# workers instead of forking them (Python 3.14 on Linux).
_worker = WorkerProcess.wrap_target(_worker_body)
_worker.__name__ = _worker.__qualname__ = "_worker"


def _check_secret_key(app: Any) -> None:
    """On Google's hosts a missing or weak SECRET_KEY stops the worker before any request."""
    if not hasattr(app, "config"):
        return
    from framework.secrets import SecretKeyError, check_app  # cold start: Google's hosts only need it

    try:
        check_app(app)
    except SecretKeyError as exc:
        logging.getLogger("_granian").critical("%s", exc)
        sys.stderr.flush()
        os._exit(3)  # the parent sees the worker fail and stops: no request is ever served


def choose_server(env: Mapping[str, str]) -> str:
    """"granian" behind a front end that buffers requests, else "gunicorn" (see the module docstring).

    App Engine's and Cloud Run's front ends terminate HTTP and hand the instance whole requests (HTTP/2 is
    converted to HTTP/1.1, §1.6; that they buffer every body is unconfirmed, as gunicorn_worker notes); the
    local runner's front end reads each body in full before it forwards it (deploy/local/frontend.py).
    """
    chosen = (env.get("FRAMEWORK_SERVER") or "").strip().lower()
    if chosen in SERVERS:
        return chosen
    behind_front_end = env.get("GAE_ENV") in ("standard", "localdev") or bool(env.get("K_SERVICE"))
    return "granian" if behind_front_end else "gunicorn"


SERVERS = ("granian", "gunicorn")


def gunicorn_command(target: str, app_dir: Path) -> list[str]:
    """The gunicorn command for a direct run: the app's gunicorn.conf.py, else the one shipped beside framework/."""
    for folder in (app_dir, Path(__file__).resolve().parent.parent):
        conf = folder / "gunicorn.conf.py"
        if conf.is_file():
            return [sys.executable, "-m", "gunicorn", "-c", str(conf), target]
    return [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "4", target]


class _SizedOnPurpose:
    """Drops granian's start-up warning about many threads per CPU: the threads wait on I/O, sized on purpose."""

    def filter(self, record: Any) -> bool:
        return not str(record.msg).startswith("Configuration allows spawning up to")


def serve(target: str, settings: Settings) -> None:
    """Run granian in this process until SIGTERM/SIGINT."""
    server = MPServer(
        target, address=settings.host, port=settings.port, interface=Interfaces.WSGI, workers=settings.workers,
        blocking_threads=settings.threads, backpressure=settings.threads,
        http=HTTPModes.auto if settings.http2 else HTTPModes.http1, websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=settings.read_timeout_ms),
        log_level=LogLevels(settings.log_level), log_dictconfig=log_config(settings),
        log_access=settings.access_log, workers_kill_timeout=settings.kill_timeout,
        working_dir=Path.cwd(),
    )
    logging.getLogger("_granian").addFilter(_SizedOnPurpose())
    server.serve(spawn_target=_worker)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m framework.server [--print-settings] MODULE:APP`."""
    parser = argparse.ArgumentParser(prog="python -m framework.server", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="the WSGI app as module:attribute, e.g. main:app")
    parser.add_argument("--print-settings", action="store_true", help="print the computed settings and exit")
    args = parser.parse_args(argv)
    if ":" not in args.target:
        parser.error(f"target {args.target!r} must be MODULE:ATTRIBUTE, e.g. main:app")
    if choose_server(os.environ) == "gunicorn":
        command = gunicorn_command(args.target, Path.cwd())
        if args.print_settings:
            print(" ".join(command))
            return 0
        os.execv(command[0], command)  # gunicorn takes over this process: signals reach it directly
    settings = compute_settings(os.environ, os.cpu_count(), Path.cwd())
    if args.print_settings:
        print(settings)
        return 0
    serve(args.target, settings)
    return 0


if __name__ == "__main__":
    from framework import server  # cycle: run as the importable module, whose _worker granian can pickle

    raise SystemExit(server.main())
