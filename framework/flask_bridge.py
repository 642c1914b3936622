"""The bridge that lets unmodified Flask extensions run on `framework.App`.

Extensions import `flask` and reach the request through Flask's own context variables, helpers and
signals. Once `flask` is imported in the process (before or after framework, in any order), this
module binds them to ours:

- contexts: every framework context push also sets Flask's `_cv_app` / `_cv_request` to the framework
  context object (framework.ctx reads `flask_context_vars`), and every pop resets them; so
  `flask.current_app`, `request`, `session`, `g`, `has_request_context`, `url_for`, `abort`,
  `redirect`, `render_template`, `jsonify`, `flash`, `flask.globals.app_ctx` ... see the framework
  app while it handles something, and a real Flask app's own contexts are untouched;
- signals: a framework app's signals reach receivers connected to Flask's signals of the same name,
  and Flask's signals sent for a framework app (by `flask.flash`, `flask.render_template`) reach
  framework's receivers. A forwarder is connected only while the other side has receivers of its own.

Until flask is imported nothing here runs but a finder that waits for it on `sys.meta_path`, so apps
that use no extension pay nothing per request. `import framework` never imports flask.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import typing as t
import warnings

if t.TYPE_CHECKING:  # pragma: no cover
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

_lock = threading.RLock()
_state: dict[str, t.Any] = {"active": False, "finder": None}
_pairs: list[_SignalPair] = []


def is_active() -> bool:
    """Whether flask has been imported and bound to framework's contexts and signals."""
    return bool(_state["active"])


def watch_flask_import() -> None:
    """Bind flask now if it is already imported, else as soon as its import finishes."""
    if _flask_loaded():
        activate()
        return
    with _lock:
        if _state["finder"] is None and not _state["active"]:
            finder = _FlaskImportFinder()
            _state["finder"] = finder
            sys.meta_path.insert(0, finder)


def _flask_loaded() -> bool:
    """Whether flask's context variables and signals exist (a package's submodule attribute is set
    only once that submodule has finished importing)."""
    flask = sys.modules.get("flask")
    return flask is not None and hasattr(flask, "globals") and hasattr(flask, "signals")


class _FlaskImportFinder:
    """First on `sys.meta_path` until flask is imported; finds nothing itself. Every import asks it
    first, so the first import after `flask.globals` and `flask.signals` exist (flask's own `__init__`
    imports more right after them) binds flask, whoever imports it and in whatever order."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if _flask_loaded():
            activate()
        return None


def _remove_finder() -> None:
    finder = _state["finder"]
    _state["finder"] = None
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)


def activate() -> None:
    """Bind the imported flask to framework's contexts and signals (idempotent)."""
    with _lock:
        if _state["active"]:
            return
        _remove_finder()
        import flask.globals
        import flask.signals

        app_var = getattr(flask.globals, "_cv_app", None)
        request_var = getattr(flask.globals, "_cv_request", None)
        if not isinstance(app_var, contextvars.ContextVar) or not isinstance(request_var, contextvars.ContextVar):
            # Unconfirmed for Flask releases after 3.1 (3.2 merges the two contexts): do nothing rather
            # than guess, and say so once.
            warnings.warn(
                f"framework cannot bind this Flask version ({_flask_version()}) to its contexts, so Flask"
                " extensions will not see framework's request; install flask>=3.0,<3.2.",
                RuntimeWarning,
                stacklevel=2,
            )
            _state["active"] = True
            return
        from . import ctx
        from . import signals as ours

        for name in SIGNAL_NAMES:
            theirs = getattr(flask.signals, name, None)
            if theirs is not None:
                _pairs.append(_SignalPair(getattr(ours, name), theirs))
        ctx.flask_context_vars = (app_var, request_var)
        _state["active"] = True


def _flask_version() -> str:
    from importlib import metadata  # only on the warning path

    try:
        return metadata.version("flask")
    except metadata.PackageNotFoundError:
        return "unknown"


# Which pair is forwarding right now in this thread/task: its own forwarder on the other side must
# not send the signal back.
_forwarding: contextvars.ContextVar[_SignalPair | None] = contextvars.ContextVar(
    "framework.flask_bridge.forwarding", default=None
)


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
    from .app import App  # cycle: framework.app imports framework.ctx, which this module feeds

    return isinstance(sender, App)


def bound_signals() -> list[tuple[NamedSignal, NamedSignal]]:
    """The (framework, flask) signal pairs bound so far (empty until flask is imported)."""
    return [(pair.ours, pair.theirs) for pair in _pairs]
