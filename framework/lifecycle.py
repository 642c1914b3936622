"""Host-specific features of App (platform info, warmup/start/stop, front-end middleware, log format).

`App` inherits `HostingMixin`, and `App.__init__` calls `init_app(app)` last. Nothing heavy is
imported here: middleware and logging modules load only on the hosts that need them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from framework import platform as _platform
from framework.globals import request

if TYPE_CHECKING:  # pragma: no cover
    from framework.app import App

F = TypeVar("F", bound=Callable[[], Any])

WARMUP_PATH = "/_ah/warmup"
START_PATH = "/_ah/start"
STOP_PATH = "/_ah/stop"


class HostingMixin:
    """Methods App gains for Google's hosts: `platform`, `on_warmup`, `on_start`, `on_stop`."""

    platform: _platform.Platform
    warmup_funcs: list[Callable[[], Any]]
    start_funcs: list[Callable[[], Any]]
    stop_funcs: list[Callable[[], Any]]

    def on_warmup(self, func: F) -> F:
        """Register `func()` to run for App Engine's warmup request (GET /_ah/warmup), once per process."""
        self.warmup_funcs.append(func)
        return func

    def on_start(self, func: F) -> F:
        """Register `func()` to run for /_ah/start (basic and manual scaling: the instance starts)."""
        self.start_funcs.append(func)
        return func

    def on_stop(self, func: F) -> F:
        """Register `func()` to run when the instance stops: for /_ah/stop (basic and manual scaling), and as
        each worker of `gunicorn -c gunicorn.conf.py` exits (SIGTERM, e.g. automatic scaling; see run_at_exit)."""
        self.stop_funcs.append(func)
        return func


def _run_all(app: App, funcs: list[Callable[[], Any]], what: str) -> bool:
    """Call each function; log and stop at the first that raises. True when all succeeded."""
    for func in list(funcs):
        try:
            func()
        except Exception:
            name = getattr(func, "__qualname__", repr(func))
            app.logger.exception("%s handler %s failed", what, name)
            return False
    return True


def run_at_exit(app: Any) -> bool | None:
    """Run `app`'s on_stop handlers as its process exits, unless /_ah/stop already ran them; None if not an App.

    gunicorn.conf.py's `worker_exit` hook calls this in each worker. On automatic scaling App Engine sends
    SIGTERM and kills the instance 2 s later; gunicorn first lets in-flight requests finish (at most
    `graceful_timeout`, 1 s there), so stop handlers must be quick. They run inside an app context.
    """
    funcs = getattr(app, "stop_funcs", None)
    if not isinstance(funcs, list) or not hasattr(app, "app_context"):
        return None
    if app.__dict__.get("_stopped_by_request") or not funcs:
        return True
    _setup_logging(app)  # a worker that never served a request has not chosen its log format yet
    with app.app_context():
        return _run_all(app, funcs, "stop")


def _plain(body: str, status: int) -> tuple[str, int, dict[str, str]]:
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


def _from_platform(request: Any) -> bool:
    """Whether a trusted request came from inside Google (or this machine under the local runner).

    The bundled SDK accepts /_ah/stop only from 0.1.0.3 (platform-facts §4, an SDK detail); we accept
    any 0.0.0.0/8 address (no external client can have one), loopback (only possible locally), or no
    user address at all (the front end adds X-Appengine-User-IP to every external request).
    """
    info = request.appengine
    if not info.trusted:
        return False
    if info.user_ip is None:
        return "X-Appengine-User-IP" not in request.headers  # present but malformed: not believed
    address = ipaddress.ip_address(info.user_ip)  # parse_ip already checked it
    return address.is_loopback or (address.version == 4 and address in ipaddress.ip_network("0.0.0.0/8"))


def _user_view(app: App, path: str, own_endpoint: str) -> Callable[[], Any] | None:
    """A GET view the app registered itself for an /_ah/ path (a ported Flask app's own warmup route, say).

    Ours is registered first, so routing always picks it; it then hands over to this view, which would
    otherwise never run.
    """
    for rule in app.url_map.iter_rules():
        if rule.rule == path and rule.endpoint != own_endpoint and "GET" in (rule.methods or ()):
            return app.view_functions.get(rule.endpoint)
    return None


def _done(app: App, path: str, endpoint: str) -> Any:
    """The response once our handlers succeeded: the app's own view for `path` if it has one, else an empty 200."""
    view = _user_view(app, path, endpoint)
    return app.ensure_sync(view)() if view is not None else _plain("", 200)


def _add_lifecycle_routes(app: App) -> None:
    app_ref = weakref.ref(app)  # the views live in the app's own tables: no reference cycle

    def live() -> App:
        current = app_ref()
        assert current is not None  # the views are reached only through the app
        return current
    warmup_lock = threading.Lock()
    warmed = False

    def appengine_warmup() -> Any:
        nonlocal warmed
        current = live()
        with warmup_lock:
            if not warmed:
                warmed = _run_all(current, current.warmup_funcs, "warmup")
                if not warmed:
                    return _plain("warmup failed\n", 500)
        return _done(current, WARMUP_PATH, "_ah_warmup")

    def appengine_start() -> Any:
        # 2xx (or 404) tells App Engine the instance started; anything else gets it killed and retried.
        current = live()
        if not _run_all(current, current.start_funcs, "start"):
            return _plain("start failed\n", 500)
        return _done(current, START_PATH, "_ah_start")

    def appengine_stop() -> Any:
        if not _from_platform(request):
            return _plain("Forbidden: only App Engine stops instances.\n", 403)
        current = live()
        if not _run_all(current, current.stop_funcs, "stop"):
            return _plain("stop failed\n", 500)
        current.__dict__["_stopped_by_request"] = True  # the exit hook need not run them again
        return _done(current, STOP_PATH, "_ah_stop")

    app.add_url_rule(WARMUP_PATH, "_ah_warmup", appengine_warmup, methods=["GET"])
    app.add_url_rule(START_PATH, "_ah_start", appengine_start, methods=["GET"])
    app.add_url_rule(STOP_PATH, "_ah_stop", appengine_stop, methods=["GET"])


class _FirstRequest:
    """WSGI wrapper that runs `setup()` before the first request, then takes itself out of `app.wsgi_app`."""

    def __init__(self, app: App, setup: Callable[[], None]) -> None:
        self.app = app
        self.wrapped = app.wsgi_app
        self.wrapped_is_method = "wsgi_app" not in app.__dict__
        self.setup = setup
        self.done = False
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.done:
            with self.lock:
                if not self.done:
                    self.setup()
                    self.done = True
            if self.app.__dict__.get("wsgi_app") is self:
                if self.wrapped_is_method:
                    self.app.__dict__.pop("wsgi_app", None)
                else:
                    self.app.wsgi_app = self.wrapped
        return self.wrapped(environ, start_response)


def _setup_logging(app: App) -> None:
    if app.platform.is_local_appengine and not app.logger.level:
        # App Engine keeps the app's INFO records; under the local runner they are shown too.
        app.logger.setLevel(logging.INFO)
    if (
        not app.platform.on_google
        and app.config.get("LOG_FORMAT") is None
        and "FRAMEWORK_LOG_FORMAT" not in os.environ
        and "framework.adapters.cloud_logging" not in sys.modules
    ):
        return  # local default: keep the core's readable handler; nothing to import before the first response
    from framework.adapters import cloud_logging  # cold start: only where JSON logs are wanted

    fmt = cloud_logging.choose_format(app.config.get(cloud_logging.CONFIG_KEY), app.platform.on_google)
    project: cloud_logging.ProjectSource = app.platform.project
    if project is None and app.platform.kind in (_platform.CLOUD_RUN, _platform.CLOUD_FUNCTIONS):
        project = cloud_logging.metadata_project  # these hosts set no project variable
    cloud_logging.install(fmt, project)
    if fmt == "json":
        cloud_logging.drop_default_handler(app)


def _wrap(app: App, middleware: Callable[[Any], Any]) -> None:
    """Put `middleware` around `app.wsgi_app`, the way Flask documents (the instance attribute shadows
    the method)."""
    app.wsgi_app = middleware(app.wsgi_app)  # type: ignore[method-assign]


def init_app(app: App) -> None:
    """Adapt a new App to the host it runs on: routes under /_ah/, front-end middleware, log format."""
    app.platform = _platform.detect()
    app.warmup_funcs = []
    app.start_funcs = []
    app.stop_funcs = []
    _add_lifecycle_routes(app)
    # The front end's middleware is innermost (installed before any wrapper the app adds), so its step runs
    # where the middleware would: first in wsgi_app (see framework.adapters.front_end).
    if app.platform.is_appengine:
        from framework.adapters.front_end import AppEngineMiddleware  # cold start: only on its host

        app.front_end = AppEngineMiddleware.admit
    elif app.platform.is_local_appengine:
        from framework.adapters.front_end import LocalFrontEnd  # cold start: only on its host

        app.front_end = LocalFrontEnd(None).admit
    elif app.platform.kind == _platform.CLOUD_RUN:
        from framework.adapters.front_end import CloudRunMiddleware  # cold start: only on its host

        app.front_end = CloudRunMiddleware.admit
    _wrap(app, lambda wrapped: _FirstRequest(app, lambda: _setup_logging(app)))
