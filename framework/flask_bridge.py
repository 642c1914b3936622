"""The bridge that lets unmodified Flask extensions run on `framework.App`.

Extensions import `flask` and reach the request through Flask's context variables, proxies, helpers
and signals. Once `flask` is imported in the process (before or after framework, in any order):

- contexts: framework and Flask keep their contexts in the same two context variables. When flask is
  imported first, framework.globals takes Flask's (`shared_context_vars`); when framework.globals is
  imported first, Flask's `flask.globals` is pointed at ours right after it runs, before any other
  module reads it. So `flask.current_app`, `request`, `session`, `g`, `has_request_context`,
  `url_for`, `abort`, `redirect`, `render_template`, `jsonify`, `flash`, `flask.globals.app_ctx` ...
  see whichever context was pushed last, a framework app's or a Flask app's, as Flask does with two
  Flask apps; nothing extra runs per request.
- signals: a framework app's signals reach receivers connected to Flask's signals of the same name,
  and Flask's signals sent for a framework app (by `flask.flash`, `flask.render_template`) reach
  framework's receivers. A forwarder is connected only while the other side has receivers of its own.

Until flask is imported nothing here runs but a finder on `sys.meta_path` waiting for it (one name
check per import); `import framework` never imports flask. Only Flask's 3.0/3.1 layout of
`flask.globals` is bound, after checking it; anything else leaves the two apart with a warning.
"""

from __future__ import annotations

import sys
import threading
import typing as t
import warnings

if t.TYPE_CHECKING:  # pragma: no cover
    import contextvars
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from blinker import NamedSignal

#: The signals both frameworks define, by their attribute name in `flask.signals` / `framework.signals`.
SIGNAL_NAMES: tuple[str, ...] = (
    "template_rendered", "before_render_template", "request_started", "request_finished",
    "request_tearing_down", "got_request_exception", "appcontext_tearing_down", "appcontext_pushed",
    "appcontext_popped", "message_flashed",
)

#: flask.globals' proxies: (name, context variable it reads, attribute it takes from the context).
_PROXIES: tuple[tuple[str, str, str | None], ...] = (
    ("app_ctx", "_cv_app", None), ("current_app", "_cv_app", "app"), ("g", "_cv_app", "g"),
    ("request_ctx", "_cv_request", None), ("request", "_cv_request", "request"),
    ("session", "_cv_request", "session"),
)
_MESSAGES = {"_cv_app": "_no_app_msg", "_cv_request": "_no_req_msg"}

_lock = threading.RLock()
_state: dict[str, t.Any] = {"signals": False, "finder": None, "warned": False}
_pairs: list[_SignalPair] = []


# --- contexts --------------------------------------------------------------------------------------
def shared_context_vars() -> tuple[contextvars.ContextVar[t.Any], contextvars.ContextVar[t.Any]] | None:
    """Flask's (app, request) context variables, for framework.globals to use as its own, when flask
    is already imported with the layout this bridge knows; else None (framework makes its own)."""
    module = sys.modules.get("flask.globals")
    if module is None:
        return None
    if not _layout_matches(module):
        _warn_unbound()
        return None
    return module._cv_app, module._cv_request


def _layout_matches(module: ModuleType) -> bool:
    """Whether flask.globals is laid out as in Flask 3.0/3.1: two ContextVars, and each proxy of
    `_PROXIES` returning the expected attribute of what its own variable holds (checked with a
    distinct probe object in each variable, inside a throwaway context)."""
    import contextvars  # cold start: only once flask is imported

    class Probe:
        def __init__(self) -> None:
            self.app, self.g, self.request, self.session = object(), object(), object(), object()

    def check() -> bool:
        probes: dict[str, Probe] = {}
        for var_name in _MESSAGES:
            var = getattr(module, var_name, None)
            if not isinstance(var, contextvars.ContextVar):
                return False
            probes[var_name] = Probe()
            var.set(probes[var_name])
        for name, var_name, attr in _PROXIES:
            proxy = getattr(module, name, None)
            probe = probes[var_name]
            try:
                got = proxy._get_current_object()  # type: ignore[union-attr]
            except Exception:
                return False
            if got is not (probe if attr is None else getattr(probe, attr)):
                return False
        return True

    return contextvars.copy_context().run(check)


def _point_flask_at(module: ModuleType, ours: ModuleType) -> None:
    """Make a just-executed flask.globals use framework's context variables (its proxies too)."""
    from werkzeug.local import LocalProxy  # cold start: only once flask is imported

    if not _layout_matches(module):
        _warn_unbound()
        return
    variables = {"_cv_app": ours._cv_app, "_cv_request": ours._cv_request}
    for name, var_name, attr in _PROXIES:
        message = getattr(module, _MESSAGES[var_name], None)
        LocalProxy.__init__(getattr(module, name), variables[var_name], attr, unbound_message=message)
    for var_name, variable in variables.items():
        setattr(module, var_name, variable)


def contexts_shared() -> bool:
    """Whether Flask and framework keep their contexts in the same variables (flask imported)."""
    theirs = sys.modules.get("flask.globals")
    ours = sys.modules.get("framework.globals")
    if theirs is None or ours is None:
        return False
    return getattr(theirs, "_cv_app", None) is ours._cv_app and getattr(theirs, "_cv_request", None) is ours._cv_request


def _warn_unbound() -> None:
    if _state["warned"]:
        return
    _state["warned"] = True
    # Unconfirmed for Flask releases after 3.1 (3.2 merges the app and request contexts): leave the two
    # apart rather than guess, and say so once.
    warnings.warn(
        f"framework cannot share its contexts with this Flask ({_flask_version()}), so Flask extensions"
        " will not see framework's requests; flask>=3.0,<3.2 is supported.",
        RuntimeWarning,
        stacklevel=3,
    )


def _flask_version() -> str:
    from importlib import metadata  # cold start: only on the warning path

    try:
        return metadata.version("flask")
    except metadata.PackageNotFoundError:
        return "unknown version"


# --- waiting for flask -----------------------------------------------------------------------------
def watch_flask_import() -> None:
    """Bind flask now if it is already imported, else as its import happens (called by `import framework`)."""
    if _flask_loaded():
        bind_signals()
        return
    with _lock:
        if _state["finder"] is None and not _state["signals"]:
            finder = _FlaskImportFinder()
            _state["finder"] = finder
            sys.meta_path.insert(0, finder)


def _flask_loaded() -> bool:
    """Whether flask's context variables and signals exist (a package's submodule attribute is set
    only once that submodule has finished importing)."""
    flask = sys.modules.get("flask")
    return flask is not None and hasattr(flask, "globals") and hasattr(flask, "signals")


class _FlaskImportFinder:
    """First on `sys.meta_path` until flask is imported; finds nothing of its own.

    For `flask.globals`, when framework.globals already exists, it hands back the spec the other
    finders give with the loader's `exec_module` wrapped for that one call, so Flask's module is
    pointed at framework's context variables before any other module imports from it. The first
    import after flask's signals exist binds the signals and removes the finder.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "flask.globals" and "framework.globals" in sys.modules:
            return self._spec_pointing_flask_at_ours(fullname, path, target)
        if _flask_loaded():
            bind_signals()
        return None

    def _spec_pointing_flask_at_ours(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        loader = spec.loader if spec is not None else None
        real_exec = getattr(loader, "exec_module", None)
        if loader is None or real_exec is None:
            return spec

        def exec_module(module: ModuleType) -> None:
            if module.__name__ != fullname:  # a loader shared by several modules (a zip): not ours to touch
                real_exec(module)
                return
            try:
                real_exec(module)
            finally:
                vars(loader).pop("exec_module", None)
            _point_flask_at(module, sys.modules["framework.globals"])

        try:
            loader.exec_module = exec_module
        except AttributeError:  # a loader with __slots__: Flask keeps its own variables (warned at binding)
            pass
        return spec


def _remove_finder() -> None:
    finder = _state["finder"]
    _state["finder"] = None
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)


# --- signals ---------------------------------------------------------------------------------------
def bind_signals() -> None:
    """Pair framework's signals with the imported flask's (idempotent); stop watching imports."""
    with _lock:
        if _state["signals"]:
            return
        _state["signals"] = True
        _remove_finder()
        import contextvars  # cold start: from here on flask is imported

        import flask.signals  # cold start: already imported by now; framework never imports it first

        global _forwarding
        _forwarding = contextvars.ContextVar("framework.flask_bridge.forwarding", default=None)

        from . import signals as ours  # cold start: `import framework` alone does not load blinker

        for name in SIGNAL_NAMES:
            theirs = getattr(flask.signals, name, None)
            if theirs is not None:
                _pairs.append(_SignalPair(getattr(ours, name), theirs))
        if "framework.globals" in sys.modules and not contexts_shared():
            _warn_unbound()  # flask.globals was imported where the finder could not see it


def is_active() -> bool:
    """Whether flask is imported and bound: contexts shared and signals paired."""
    return bool(_state["signals"]) and (contexts_shared() or "framework.globals" not in sys.modules)


# Which pair is forwarding right now in this thread/task: its own forwarder on the other side must
# not send the signal back. Created by bind_signals (cold start: contextvars only once flask is here).
_forwarding: contextvars.ContextVar[_SignalPair | None]


class _SignalPair:
    """One framework signal and Flask's signal of the same name, forwarding to each other on demand.

    `to_flask` hangs on framework's signal while Flask's has receivers of its own; `to_framework` hangs
    on Flask's signal while framework's has receivers of its own, and forwards only what was sent for a
    framework app. Each forwarder is connected when a receiver connects to the other side (blinker's
    `receiver_connected`) and disconnects itself on the first send after the other side's own
    receivers are gone, so an idle pair costs nothing per request.
    """

    def __init__(self, ours: NamedSignal, theirs: NamedSignal) -> None:
        self.ours = ours
        self.theirs = theirs
        self.to_flask = self._forwarder(theirs, ours, only_framework_senders=False)
        self.to_framework = self._forwarder(ours, theirs, only_framework_senders=True)
        theirs.receiver_connected.connect(self._theirs_connected, weak=False)
        ours.receiver_connected.connect(self._ours_connected, weak=False)
        if self._has_own(theirs, self.to_framework):
            ours.connect(self.to_flask, weak=False)
        if self._has_own(ours, self.to_flask):
            theirs.connect(self.to_framework, weak=False)

    @staticmethod
    def _has_own(signal: NamedSignal, forwarder: t.Callable[..., None]) -> bool:
        """Whether `signal` has a receiver other than the pair's forwarder connected to it."""
        receivers = signal.receivers
        return len(receivers) > (1 if id(forwarder) in receivers else 0)

    def _theirs_connected(self, signal: NamedSignal, *, receiver: t.Any, **_: t.Any) -> None:
        if receiver is not self.to_framework and id(self.to_flask) not in self.ours.receivers:
            self.ours.connect(self.to_flask, weak=False)

    def _ours_connected(self, signal: NamedSignal, *, receiver: t.Any, **_: t.Any) -> None:
        if receiver is not self.to_flask and id(self.to_framework) not in self.theirs.receivers:
            self.theirs.connect(self.to_framework, weak=False)

    def _forwarder(
        self, target: NamedSignal, source: NamedSignal, *, only_framework_senders: bool
    ) -> t.Callable[..., None]:
        pair = self

        def forward(sender: t.Any, **kwargs: t.Any) -> None:
            if _forwarding.get() is pair:
                return  # the other forwarder of this pair is sending: do not send it back
            if only_framework_senders and not _is_framework_app(sender):
                return
            back = pair.to_framework if target is pair.theirs else pair.to_flask
            if not pair._has_own(target, back):
                source.disconnect(forward)
                return
            token = _forwarding.set(pair)
            try:
                target.send(sender, _async_wrapper=getattr(sender, "ensure_sync", None), **kwargs)
            finally:
                _forwarding.reset(token)

        forward.__name__ = forward.__qualname__ = f"forward_{source.name.replace('-', '_')}"
        return forward


def _is_framework_app(sender: t.Any) -> bool:
    from .app import App  # cycle: framework.app imports framework.globals, which imports this module

    return isinstance(sender, App)


def bound_signals() -> list[tuple[NamedSignal, NamedSignal]]:
    """The (framework, flask) signal pairs bound so far (empty until flask is imported)."""
    return [(pair.ours, pair.theirs) for pair in _pairs]
