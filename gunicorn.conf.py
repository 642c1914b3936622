"""gunicorn settings: `gunicorn -c gunicorn.conf.py main:app`, and what app.yaml's entrypoint
(`python -m framework.server main:app`) runs when no front end buffers requests for it (direct runs).

Binds $PORT, sizes workers and threads from the instance (platform-facts §1.3/§1.4), leaves request
deadlines to the platform, keeps shutdown inside App Engine's 2 s SIGTERM window, and writes no access
log on Google's hosts (the platform logs every request itself). There gunicorn's own lines are Cloud
Logging JSON like the app's (FRAMEWORK_LOG_FORMAT overrides). As each worker exits it runs the app's
`@app.on_stop` handlers (`worker_exit`). Each request is read in the worker's event loop before a thread
takes it, so slow clients cannot hold the threads (framework.adapters.gunicorn_worker; a request must
arrive within GUNICORN_READ_TIMEOUT, default 30 s), and no client header may set SCRIPT_NAME or PATH_INFO. Command-line flags still win.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import gunicorn

from framework.instance import positive_int, workers_for_memory

# Google's recommended workers per instance class, keyed by the class's memory (GAE_MEMORY_MB):
# F1/B1 384 MB -> 2, F2/B2 768 MB -> 4, F4/B4 and up -> 8.
_WORKERS_BY_MEMORY = ((384, 2), (768, 4))
_MAX_WORKERS = 8


def appengine_workers(memory_mb: int | None) -> int:
    """Workers for an App Engine instance with `memory_mb` (unknown: the default F1 class)."""
    return workers_for_memory(memory_mb, _WORKERS_BY_MEMORY, _MAX_WORKERS)


def compute_settings(env: Mapping[str, str], cpu_count: int | None) -> dict[str, Any]:
    """The gunicorn settings for a process with environment `env` on a machine with `cpu_count` CPUs."""
    appengine = env.get("GAE_ENV") == "standard"
    cloud_run = not appengine and bool(env.get("K_SERVICE"))
    on_google = appengine or cloud_run
    cpus = max(1, cpu_count or 1)

    if appengine:
        workers, threads = appengine_workers(positive_int(env.get("GAE_MEMORY_MB"))), 4
    elif cloud_run:
        workers, threads = cpus, 8  # Cloud Run's advice: one worker per CPU, threads for I/O waits
    else:
        workers, threads = 1, 4  # local: one process, so in-memory state behaves predictably
    workers = positive_int(env.get("WEB_CONCURRENCY")) or workers
    threads = positive_int(env.get("GUNICORN_THREADS")) or threads

    host = env.get("HOST") or ("0.0.0.0" if on_google else "127.0.0.1")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = positive_int(env.get("PORT")) or 8080

    # App Engine (10 min automatic, 24 h basic/manual) and Cloud Run enforce request deadlines
    # themselves; a gunicorn timeout would only cut legitimate long requests on those hosts.
    timeout = positive_int(env.get("GUNICORN_TIMEOUT")) or (0 if on_google else 120)
    # App Engine sends SIGKILL 2 s after SIGTERM; Cloud Run allows 10 s.
    graceful_timeout = 1 if appengine else 8 if cloud_run else 5

    return {
        "bind": [f"{host}:{port}"],
        "workers": workers,
        "threads": threads,
        # gthread, reading each request in its event loop first: slow clients hold no thread (the module says how).
        "worker_class": buffering_worker(),
        "worker_connections": 1000,  # open connections per worker, slow ones included; more wait in the backlog
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": 5,
        # The platform writes a request log for every request; a gunicorn access log would double it.
        "accesslog": None if on_google else "-",
        "errorlog": "-",
        "loglevel": env.get("GUNICORN_LOG_LEVEL", "info"),
        # Scheme and client address come from framework.adapters.front_end, on App Engine only, trusting
        # exactly Google's hops; gunicorn must not believe X-Forwarded-* headers from loopback clients.
        "secure_scheme_headers": {},
        # gunicorn maps SCRIPT_NAME/PATH_INFO request headers into the environ for forwarded_allow_ips peers
        # (loopback by default), so any local client could remount the app. Nothing forwards them here:
        # no header may, and header names with "_" are dropped rather than mapped.
        "forwarder_headers": "",
        "header_map": "drop",
        # gunicorn >= 24 opens a control socket under $HOME by default: one shared path for every
        # server on the machine, and App Engine's filesystem is read-only outside /tmp. Not needed.
        "control_socket_disable": True,
        "proc_name": env.get("GAE_SERVICE") or env.get("K_SERVICE") or "framework",
        "logconfig_dict": structured_log_config(env, on_google),
    }


def buffering_worker() -> str:
    """The worker class: framework's buffering gthread where the installed gunicorn is the one it is built on
    (27.x: it extends gthread's internals), else gunicorn's own gthread."""
    if tuple(gunicorn.version_info[:1]) == (27,):
        return "framework.adapters.gunicorn_worker.BufferingThreadWorker"
    return "gthread"


def structured_log_config(env: Mapping[str, str], on_google: bool) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own lines as Cloud Logging JSON on stderr, or {} (its plain text).

    gunicorn turns its access logger on whenever this dict is set, so that logger gets no handler here.
    Its error logger does not propagate, so an app that installs JSON logging on the root logger does
    not write gunicorn's lines twice.
    """
    from framework.adapters.cloud_logging import choose_format
    from framework.platform import detect

    if choose_format(None, on_google, env) != "json":
        return {}
    project = detect(env).project
    level = env.get("GUNICORN_LOG_LEVEL", "info").upper()
    level = level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["cloud_logging"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
        "handlers": {
            "cloud_logging": {"()": "framework.adapters.cloud_logging.CloudLoggingHandler", "project": project},
        },
        "formatters": {},
    }


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, once the worker loaded the app: on Google's hosts a missing or weak SECRET_KEY stops it
    here, before any request (the worker fails to boot, so gunicorn exits with the reason and the fix)."""
    from framework.secrets import SecretKeyError, check_app

    app = getattr(worker, "wsgi", None)
    if not hasattr(app, "config"):
        return
    try:
        check_app(app)
    except SecretKeyError as exc:
        from gunicorn.arbiter import Arbiter

        worker.log.critical("%s", exc)
        sys.exit(Arbiter.WORKER_BOOT_ERROR)  # the arbiter halts: "Worker failed to boot."


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in each worker process as it exits (SIGTERM included): the app's `@app.on_stop` handlers."""
    if getattr(worker, "pid", None) != os.getpid():
        return  # gunicorn also calls this in the arbiter for a worker that vanished: nothing to run there
    from framework.lifecycle import run_at_exit

    run_at_exit(getattr(worker, "wsgi", None))


globals().update(compute_settings(os.environ, os.cpu_count()))
