"""framework: a Flask-compatible microframework for App Engine, Cloud Functions and plain WSGI.

Public names resolve lazily (module `__getattr__`), so `import framework` stays cheap: jinja2,
itsdangerous, click, grpc and google.cloud are imported only by the features that need them.
Environment: `FRAMEWORK_DEBUG` seeds `app.debug`; `Config.from_prefixed_env()` reads `FRAMEWORK_*`.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import typing as t
import warnings
from importlib.machinery import PathFinder
from importlib.util import module_from_spec

from .deferred import defer_stdlib
from .flags import env_flag
from .flask_bridge import watch_flask_import


def _defer_werkzeug_package_init() -> None:
    """Import werkzeug's package without running its `__init__` until someone needs it.

    `werkzeug/__init__.py` only re-exports `run_simple`, `Client`, `Request` and `Response`, but
    doing so imports werkzeug.serving and werkzeug.test (http.server, socket, ssl, http.client):
    about a quarter of the import time of a small app, for a dev server and a test client that a
    production worker never uses. So, when werkzeug is not imported yet, we register the package
    module with its real spec (path, file, loader) but defer executing `__init__`: the first lookup
    of one of its names (`werkzeug.Client`, `from werkzeug import run_simple`, ...) runs the real
    `__init__` in place, after which the module is exactly what a normal import gives. A lookup of a
    submodule (`werkzeug.test`, even if nobody imported it yet) imports that submodule, as the full
    import would have made it available. `import werkzeug.routing` works as usual.
    Set FRAMEWORK_EAGER_WERKZEUG=1 to turn this off.
    """
    if "werkzeug" in sys.modules or env_flag("FRAMEWORK_EAGER_WERKZEUG"):
        return
    spec = PathFinder.find_spec("werkzeug")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = module_from_spec(spec)

    lock = threading.RLock()
    state = {"done": False, "running": False}

    def run_real_init(name: str) -> t.Any:
        if name.startswith("__"):  # dunder probes (copy, inspect, pickle) never need __init__
            raise AttributeError(f"module 'werkzeug' has no attribute {name!r}")
        fullname = f"werkzeug.{name}"
        if fullname in sys.modules or PathFinder.find_spec(fullname, module.__path__) is not None:
            # A submodule: what `from werkzeug import x` / `werkzeug.x` would give after a full import.
            return importlib.import_module(fullname)
        with lock:  # other threads wait here until the names exist
            if not state["done"] and not state["running"]:
                state["running"] = True
                try:
                    spec.loader.exec_module(module)  # type: ignore[union-attr]
                finally:
                    state["running"] = False
                state["done"] = True
                module.__dict__.pop("__getattr__", None)
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'werkzeug' has no attribute {name!r}") from None

    module.__getattr__ = run_real_init  # type: ignore[method-assign]
    sys.modules["werkzeug"] = module


_defer_werkzeug_package_init()
if not env_flag("FRAMEWORK_EAGER_WERKZEUG"):
    defer_stdlib()

# public name -> (submodule, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    "App": ("app", "App"),
    "Flask": ("app", "App"),
    "Blueprint": ("blueprints", "Blueprint"),
    "Config": ("config", "Config"),
    "Request": ("wrappers", "Request"),
    "Response": ("wrappers", "Response"),
    "jsonify": ("json", "jsonify"),
    "current_app": ("globals", "current_app"),
    "g": ("globals", "g"),
    "request": ("globals", "request"),
    "session": ("globals", "session"),
    "after_this_request": ("ctx", "after_this_request"),
    "copy_current_request_context": ("ctx", "copy_current_request_context"),
    "has_app_context": ("ctx", "has_app_context"),
    "has_request_context": ("ctx", "has_request_context"),
    "abort": ("helpers", "abort"),
    "make_response": ("helpers", "make_response"),
    "redirect": ("helpers", "redirect"),
    "stream_with_context": ("helpers", "stream_with_context"),
    "url_for": ("helpers", "url_for"),
    "flash": ("flashing", "flash"),
    "get_flashed_messages": ("flashing", "get_flashed_messages"),
    "send_file": ("files", "send_file"),
    "send_from_directory": ("files", "send_from_directory"),
    "get_template_attribute": ("templating", "get_template_attribute"),
    "render_template": ("templating", "render_template"),
    "render_template_string": ("templating", "render_template_string"),
    "stream_template": ("templating", "stream_template"),
    "stream_template_string": ("templating", "stream_template_string"),
    "appcontext_popped": ("signals", "appcontext_popped"),
    "appcontext_pushed": ("signals", "appcontext_pushed"),
    "appcontext_tearing_down": ("signals", "appcontext_tearing_down"),
    "before_render_template": ("signals", "before_render_template"),
    "got_request_exception": ("signals", "got_request_exception"),
    "message_flashed": ("signals", "message_flashed"),
    "request_finished": ("signals", "request_finished"),
    "request_started": ("signals", "request_started"),
    "request_tearing_down": ("signals", "request_tearing_down"),
    "template_rendered": ("signals", "template_rendered"),
    # App Engine view guards (not in Flask): 403 unless App Engine marked the request as cron / task.
    "cron_only": ("adapters.appengine", "cron_only"),
    "task_only": ("adapters.appengine", "task_only"),
}
# Submodules reachable as attributes after a plain `import framework` (as `import flask` gives
# `flask.sessions`, `flask.ctx`, ...), imported on first access.
_SUBMODULES = frozenset({
    "app", "blueprints", "cli", "config", "ctx", "debug", "dispatch", "files", "flashing", "globals",
    "helpers", "lifecycle", "events", "json", "logging", "platform", "routing", "scaffold", "sessions", "signals",
    "templating", "testing", "typing", "views", "wrappers", "adapters", "ndb", "emulators",
})
# Captured now: once framework.globals is imported, the name `globals` here refers to that submodule.
_namespace = globals()

# Flask extensions: binds flask's contexts and signals to ours once flask is imported (now or later;
# after the line above, since binding imports framework.globals).
watch_flask_import()

__all__ = sorted([*_EXPORTS, "json"])

if t.TYPE_CHECKING:  # pragma: no cover
    from . import json as json
    from .adapters.appengine import cron_only as cron_only
    from .adapters.appengine import task_only as task_only
    from .app import App as App
    from .app import Flask as Flask
    from .blueprints import Blueprint as Blueprint
    from .config import Config as Config
    from .ctx import after_this_request as after_this_request
    from .ctx import copy_current_request_context as copy_current_request_context
    from .ctx import has_app_context as has_app_context
    from .ctx import has_request_context as has_request_context
    from .files import send_file as send_file
    from .files import send_from_directory as send_from_directory
    from .flashing import flash as flash
    from .flashing import get_flashed_messages as get_flashed_messages
    from .globals import current_app as current_app
    from .globals import g as g
    from .globals import request as request
    from .globals import session as session
    from .helpers import abort as abort
    from .helpers import make_response as make_response
    from .helpers import redirect as redirect
    from .helpers import stream_with_context as stream_with_context
    from .helpers import url_for as url_for
    from .json import jsonify as jsonify
    from .signals import appcontext_popped as appcontext_popped
    from .signals import appcontext_pushed as appcontext_pushed
    from .signals import appcontext_tearing_down as appcontext_tearing_down
    from .signals import before_render_template as before_render_template
    from .signals import got_request_exception as got_request_exception
    from .signals import message_flashed as message_flashed
    from .signals import request_finished as request_finished
    from .signals import request_started as request_started
    from .signals import request_tearing_down as request_tearing_down
    from .signals import template_rendered as template_rendered
    from .templating import get_template_attribute as get_template_attribute
    from .templating import render_template as render_template
    from .templating import render_template_string as render_template_string
    from .templating import stream_template as stream_template
    from .templating import stream_template_string as stream_template_string
    from .wrappers import Request as Request
    from .wrappers import Response as Response


def __getattr__(name: str) -> t.Any:
    target = _EXPORTS.get(name)
    if target is not None:
        module = importlib.import_module(f"{__name__}.{target[0]}")
        value = getattr(module, target[1])
        _namespace[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "__version__":
        from importlib import metadata  # cold start: importlib.metadata is slow to import

        warnings.warn(
            "'framework.__version__' is deprecated; use importlib.metadata.version('gae-framework').",
            DeprecationWarning,
            stacklevel=2,
        )
        return _version(metadata)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version(metadata: t.Any) -> str:
    """Installed distribution version, else the one in the source tree's pyproject.toml."""
    try:
        return str(metadata.version("gae-framework"))
    except metadata.PackageNotFoundError:
        import tomllib  # cold start: only in a source checkout

        path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "pyproject.toml")
        with open(path, "rb") as f:
            return str(tomllib.load(f)["project"]["version"])


def __dir__() -> list[str]:
    return sorted({*_namespace, *__all__, *_SUBMODULES})
