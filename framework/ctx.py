"""Application and request contexts on contextvars, `g`, and the helpers that capture or extend them."""

from __future__ import annotations

import contextlib
import contextvars
import sys
import typing as t
from functools import update_wrapper

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as _WRequest

from . import signals
from .globals import _cv_app, _cv_request
from .lazy import first_read
from .wrappers import request_cookie

if t.TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

    from blinker import NamedSignal
    from werkzeug.routing import MapAdapter, Rule

    from .app import App
    from .sessions import SessionMixin
    from .typing import AfterRequestCallable
    from .wrappers import Request

_sentinel = object()
_base_close = _WRequest.close  # closing a request only matters once its body was parsed (form_loaded)
F = t.TypeVar("F", bound=t.Callable[..., t.Any])


class _AppCtxGlobals:
    """The `g` namespace: free attributes that live as long as the application context."""

    def __getattr__(self, name: str) -> t.Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: t.Any) -> None:
        self.__dict__[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: t.Any | None = None) -> t.Any:
        """The attribute, or `default`."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: t.Any = _sentinel) -> t.Any:
        """Remove and return the attribute; KeyError if missing and no default."""
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: t.Any = None) -> t.Any:
        """The attribute, set to `default` first if missing."""
        return self.__dict__.setdefault(name, default)

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_app.get(None)
        if ctx is not None:
            return f"<framework.g of {ctx.app.name!r}>"
        return object.__repr__(self)


class _Sender(t.Protocol):
    """What sending a signal needs of its sender (the app)."""

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]: ...


def _send(signal: NamedSignal, sender: _Sender, **kwargs: t.Any) -> None:
    """Send a signal only when it has receivers (coroutine receivers run through `ensure_sync`).

    The per-request callers test `receivers` themselves first: the call costs more than the test."""
    if signal.receivers:
        signal.send(sender, _async_wrapper=sender.ensure_sync, **kwargs)


def _default_template_ctx_processor() -> dict[str, t.Any]:
    """Put the real `g` and `request` objects into template contexts when those contexts are active.

    `session` stays a template global (a proxy): reading it there marks the session accessed.
    """
    rv: dict[str, t.Any] = {}
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        rv["g"] = app_ctx.g
    req_ctx = _cv_request.get(None)
    if req_ctx is not None:
        rv["request"] = req_ctx.request
    return rv


def has_app_context() -> bool:
    """True inside an application context."""
    return _cv_app.get(None) is not None


def has_request_context() -> bool:
    """True inside a request context."""
    return _cv_request.get(None) is not None


def after_this_request(f: AfterRequestCallable[t.Any]) -> AfterRequestCallable[t.Any]:
    """Run `f(response)` after the current request's view, before the after_request functions."""
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'after_this_request' needs an active request context; call it from a view or a"
            " before_request function."
        )
    ctx._after_request_functions.append(f)
    return f


def copy_current_request_context(f: F) -> F:
    """Wrap `f` so it runs inside a copy of the current request context (e.g. in another thread)."""
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'copy_current_request_context' needs an active request context; call it where a request"
            " is being handled."
        )
    copied = ctx.copy()

    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        with copied:
            return copied.app.ensure_sync(f)(*args, **kwargs)

    return update_wrapper(wrapper, f)  # type: ignore[return-value]


class AppContext:
    """Binds an app to the current thread/task: `current_app`, `g`, URL building without a request."""

    # Made on first use: a request that never reads `g` or builds a URL outside a request skips both.
    url_adapter: first_read[MapAdapter | None] = first_read(lambda self: self.app.create_url_adapter(None))
    g: first_read[_AppCtxGlobals] = first_read(lambda self: self.app.app_ctx_globals_class())

    def __init__(self, app: App) -> None:
        self.app = app
        self._cv_tokens: list[contextvars.Token[AppContext]] = []
        self._hooks: list[t.ContextManager[t.Any]] | None = None

    def push(self) -> None:
        """Make this the active app context (may be pushed several times; popped as many)."""
        self._cv_tokens.append(_cv_app.set(self))
        hooks = self.app.context_hooks
        if hooks and len(self._cv_tokens) == 1:
            entered: list[t.ContextManager[t.Any]] = []
            try:
                for factory in hooks:
                    cm = factory()
                    if type(cm) is contextlib.nullcontext:
                        continue  # entering and leaving it does nothing (framework.ndb's "no context")
                    cm.__enter__()
                    entered.append(cm)
            except BaseException:
                self._hooks = entered
                self._exit_hooks(*sys.exc_info())
                _cv_app.reset(self._cv_tokens.pop())
                raise
            self._hooks = entered or None
        if signals.appcontext_pushed.receivers:
            _send(signals.appcontext_pushed, self.app)

    def _exit_hooks(self, typ: t.Any = None, exc: t.Any = None, tb: t.Any = None) -> None:
        hooks, self._hooks = self._hooks, None
        while hooks:
            hooks.pop().__exit__(typ, exc, tb)

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Leave the context; the outermost pop runs teardown_appcontext with `exc`."""
        try:
            if len(self._cv_tokens) == 1:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                try:
                    app = self.app
                    if not app._plain_teardown or app.teardown_appcontext_funcs or signals.appcontext_tearing_down.receivers:
                        app.do_teardown_appcontext(exc)
                finally:
                    if self._hooks is not None:
                        self._exit_hooks(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        finally:
            ctx = _cv_app.get()
            _cv_app.reset(self._cv_tokens.pop())
        if ctx is not self:
            raise AssertionError(f"Popped the wrong app context ({ctx!r} instead of {self!r}).")
        if signals.appcontext_popped.receivers:
            _send(signals.appcontext_popped, self.app)

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self, exc_type: type | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pop(exc_value)


class RequestContext:
    """Everything about one request: the Request, its URL adapter, the session (opened lazily)."""

    def __init__(
        self,
        app: App,
        environ: dict[str, t.Any],
        request: Request | None = None,
        session: SessionMixin | None = None,
    ) -> None:
        self.app = app
        if request is None:
            request = app.request_class(environ)
        request.json_module = app.json
        self.request: Request = request
        self.url_adapter: MapAdapter | None = None
        # The static rule the route cache already knows for this request line, and the line's key when the
        # route cache may remember what match_request finds (framework.routing.RouteCache.bind_line).
        self._static_rule: Rule | None = None
        self._line: tuple[t.Any, ...] | None = None
        try:
            if app._own_url_adapter and app.config["TRUSTED_HOSTS"] is None:
                # App's own create_url_adapter would only bind.
                self.url_adapter, self._static_rule, self._line = app._routes.bind_line(request.environ)
            else:
                self.url_adapter = app.create_url_adapter(request)
        except HTTPException as e:
            request.routing_exception = e
        self.flashes: list[tuple[str, str]] | None = None
        self._session: SessionMixin | None = session
        self._after_request_functions: list[AfterRequestCallable[t.Any]] = []
        self._cv_tokens: list[tuple[contextvars.Token[RequestContext], AppContext | None]] = []

    def _open_session(self) -> SessionMixin:
        sess = self._session
        if sess is None:
            app = self.app
            interface = app.session_interface
            sess = interface.open_session(app, self.request)
            if sess is None:
                sess = interface.make_null_session(app)
            self._session = sess
        return sess

    def session_cookie_sent(self) -> bool:
        """Whether the request carries the session cookie (then the session is saved even if unused,
        so a permanent one is refreshed)."""
        environ = self.request.environ
        if "HTTP_COOKIE" not in environ:
            return False
        return request_cookie(self.request, self.app.session_interface.get_cookie_name(self.app)) is not None

    @property
    def session(self) -> SessionMixin:
        """The session, opened on first use through `app.session_interface`; marks it accessed."""
        sess = self._session
        if sess is None:
            sess = self._open_session()
        sess.accessed = True
        return sess

    @session.setter
    def session(self, value: SessionMixin | None) -> None:
        self._session = value

    def copy(self) -> RequestContext:
        """A new context sharing this request and session (to hand to another thread or greenlet)."""
        return self.__class__(
            self.app, environ=self.request.environ, request=self.request, session=self._open_session()
        )

    def match_request(self) -> None:
        """Match the URL: set `request.url_rule` / `view_args`, or store the routing exception."""
        rule = self._static_rule
        if rule is not None:
            request = self.request
            request.url_rule = rule
            request.view_args = dict(rule.defaults) if rule.defaults else {}
            return
        try:
            self.request.url_rule, self.request.view_args = self.app._routes.match(self)
        except HTTPException as e:
            self.request.routing_exception = e

    def push(self) -> None:
        """Activate the request (and, if needed, a new app context) and match its URL."""
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not self.app:
            app_ctx = self.app.app_context()
            app_ctx.push()
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        if self.url_adapter is not None and self.request.url_rule is None and len(self._cv_tokens) == 1:
            self.match_request()

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Leave the request; the outermost pop runs teardown_request and closes the request."""
        if self._pop_plain():
            return
        clear_request = len(self._cv_tokens) == 1
        try:
            if clear_request:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                app = self.app
                if not app._plain_teardown or app.teardown_request_funcs or signals.request_tearing_down.receivers:
                    app.do_teardown_request(exc)
                request = self.request
                if request.form_loaded or type(request).close is not _base_close:
                    request.close()
        finally:
            ctx = _cv_request.get()
            token, app_ctx = self._cv_tokens.pop()
            _cv_request.reset(token)
            if clear_request:
                ctx.request.environ["werkzeug.request"] = None
            if app_ctx is not None:
                app_ctx.pop(exc)
            if ctx is not self:
                raise AssertionError(f"Popped the wrong request context ({ctx!r} instead of {self!r}).")

    def _pop_plain(self) -> bool:
        """The outermost pop of a request and its own app context when nothing observes it (no teardown
        function, hook, receiver or parsed file): both context variables reset, and True. Else False, and
        `pop` takes the long way."""
        tokens = self._cv_tokens
        if len(tokens) != 1:
            return False
        app_ctx = tokens[0][1]
        app = self.app
        request = self.request
        if (
            app_ctx is None
            or len(app_ctx._cv_tokens) != 1
            or app_ctx._hooks is not None
            or not app._plain_teardown
            or app.teardown_request_funcs
            or app.teardown_appcontext_funcs
            or signals.request_tearing_down.receivers
            or signals.appcontext_tearing_down.receivers
            or signals.appcontext_popped.receivers
            or request.form_loaded
            or type(request).close is not _base_close
            or _cv_request.get() is not self
            or _cv_app.get() is not app_ctx
        ):
            return False
        _cv_request.reset(tokens.pop()[0])
        request.environ["werkzeug.request"] = None
        _cv_app.reset(app_ctx._cv_tokens.pop())
        return True

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(
        self, exc_type: type | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.url!r} [{self.request.method}] of {self.app.name}>"
