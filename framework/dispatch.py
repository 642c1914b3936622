"""The request cycle of App: URL preprocessing, dispatch, responses, error routing, teardown, WSGI.

`RequestCycle` is the base class of App (framework.app) after Scaffold; it holds the per-request half
of the application object, in Flask's documented order (see flask-api-surface §17-§18). What it needs
from App is declared on the class below, so mypy checks both halves against each other.
"""

from __future__ import annotations

import collections.abc as cabc
import sys
import typing as t
from inspect import CO_COROUTINE
from types import FunctionType

from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, BadRequestKeyError, HTTPException, InternalServerError
from werkzeug.routing import RequestRedirect, RoutingException
from werkzeug.wrappers import Response as BaseResponse

from . import fast_path, keepalive, signals
from .ctx import _send
from .globals import _cv_app, _cv_request
from .input_checks import path_info_of
from .json.provider import DefaultJSONProvider
from .scaffold import Scaffold
from .wrappers import Response, set_status_code

if t.TYPE_CHECKING:  # pragma: no cover
    import logging
    from types import TracebackType

    from . import typing as ft
    from .config import Config
    from .ctx import RequestContext
    from .json.provider import JSONProvider
    from .sessions import SessionInterface
    from .wrappers import Request

_sentinel: t.Any = object()

# Hooks and views: `ensure_sync(f)` is `f` itself for a plain, non-coroutine function while App's own
# ensure_sync is in use (`_fast_path`, false once it is replaced); that test is made inline before calling.
ExcInfo = tuple[type[BaseException], BaseException, "TracebackType"] | tuple[None, None, None]


class RequestCycle(Scaffold):
    """What happens to one request, from matched URL to WSGI iterable (App's per-request half)."""

    # Provided by App (framework.app); declared here so both halves are checked against each other.
    config: Config
    json: JSONProvider
    response_class: type[Response]
    session_interface: SessionInterface
    teardown_appcontext_funcs: list[ft.TeardownCallable]
    _got_first_request: bool
    _fast_path: bool  # framework.fast_path.methods_untouched(app), kept current by App.__setattr__
    front_end: t.Callable[[dict[str, t.Any]], None] | None

    if t.TYPE_CHECKING:  # pragma: no cover - App defines these; stubs here would shadow Scaffold's

        @property
        def debug(self) -> bool: ...
        @property
        def testing(self) -> bool: ...
        @property
        def logger(self) -> logging.Logger: ...
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]: ...
        def request_context(self, environ: dict[str, t.Any]) -> RequestContext: ...
        def log_exception(self, exc_info: ExcInfo) -> None: ...

    def preprocess_request(self) -> ft.ResponseReturnValue | None:
        """url_value_preprocessors, then before_request functions (app first, then blueprints)."""
        req = _cv_request.get().request
        preprocessors = self.url_value_preprocessors
        befores = self.before_request_funcs
        if not preprocessors and not befores:
            return None
        names = req._hook_scopes()[1]
        fast = self._fast_path
        for name in names:
            if name in preprocessors:
                for url_func in preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in befores:
                for before_func in befores[name]:
                    call = before_func
                    if not (fast and type(call) is FunctionType and not call.__code__.co_flags & CO_COROUTINE):
                        call = self.ensure_sync(call)
                    rv = call()
                    if rv is not None:
                        return rv
        return None

    def raise_routing_exception(self, request: Request) -> t.NoReturn:
        """Re-raise the stored routing error (debug: refuse redirects that would drop a form body)."""
        exc = request.routing_exception
        assert exc is not None
        if (
            not self.debug
            or not isinstance(exc, RequestRedirect)
            or exc.code in {307, 308}
            or request.method in {"GET", "HEAD", "OPTIONS"}
        ):
            raise exc
        raise AssertionError(
            f"A request to {request.url!r} was redirected to {exc.new_url!r} with code {exc.code}; the"
            " browser would drop the form data. Fix the URL (e.g. the trailing slash) in the form."
        )

    def dispatch_request(self) -> ft.ResponseReturnValue:
        """Call the matched view with the URL values (or answer an automatic OPTIONS)."""
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        assert rule is not None and req.view_args is not None  # matched, since no routing exception
        if req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response()
        view = self.view_functions[rule.endpoint]
        if not (self._fast_path and type(view) is FunctionType and not view.__code__.co_flags & CO_COROUTINE):
            view = self.ensure_sync(view)
        return view(**req.view_args)

    def full_dispatch_request(self) -> Response:
        """Signals, preprocessing, the view, user-exception handling, then finalize."""
        rv, _ = self._run_request()
        return self.finalize_request(rv)

    def _run_request(self) -> tuple[t.Any, bool]:
        """request_started, preprocessing and the view; `(return value, ok)`, where `ok` is False when
        the value came from an error handler."""
        if not self._got_first_request:  # a plain read: App.__setattr__ is not run on every request
            self._got_first_request = True
        try:
            if signals.request_started.receivers:
                _send(signals.request_started, self)
            if self._fast_path and not self.before_request_funcs and not self.url_value_preprocessors:
                # App's own preprocess_request (nothing to run) and dispatch_request, for a matched plain
                # function view: the view is called here, one frame closer.
                req = _cv_request.get().request
                if req.routing_exception is None and req.method != "OPTIONS":
                    view = self.view_functions[req.url_rule.endpoint]  # type: ignore[union-attr]
                    if type(view) is FunctionType and not view.__code__.co_flags & CO_COROUTINE:
                        return view(**req.view_args), True  # type: ignore[arg-type]
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            return self.handle_user_exception(e), False
        return rv, True

    def finalize_request(self, rv: ft.ResponseReturnValue | HTTPException, from_error_handler: bool = False) -> Response:
        """make_response → process_response → request_finished (errors only logged when handling one)."""
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            if signals.request_finished.receivers:
                _send(signals.request_finished, self, response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def make_default_options_response(self) -> Response:
        """Empty 200 response whose Allow header lists the URL's methods."""
        ctx = _cv_request.get()
        adapter = ctx.url_adapter
        methods = adapter.allowed_methods(path_info_of(ctx.request.environ))  # type: ignore[union-attr]
        rv = self.response_class()
        rv.allow.update(methods)
        return rv

    def process_response(self, response: Response) -> Response:
        """after_this_request functions, after_request functions (inner to outer, reversed), session save."""
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        afters = self.after_request_funcs
        if afters:
            fast = self._fast_path
            for name in ctx.request._hook_scopes()[0]:
                if name in afters:
                    for func in reversed(afters[name]):
                        call = func
                        if not (fast and type(call) is FunctionType and not call.__code__.co_flags & CO_COROUTINE):
                            call = self.ensure_sync(call)
                        response = call(response)
        self._save_session(ctx, response)
        return response

    def _save_session(self, ctx: RequestContext, response: Response) -> None:
        """Save the session if it was opened, or if the request carries the session cookie."""
        sess = ctx._session
        if sess is None:
            if not ctx.session_cookie_sent():
                return
            sess = ctx._open_session()
        interface = self.session_interface
        if not interface.is_null_session(sess):
            interface.save_session(ctx.app, sess, response)

    def make_response(self, rv: ft.ResponseReturnValue | HTTPException) -> Response:
        """Convert a view's return value (str, bytes, dict, list, tuple, Response, WSGI app, iterator)."""
        status: t.Any = None
        headers: t.Any = None
        if isinstance(rv, tuple):
            items: tuple[t.Any, ...] = rv
            n = len(items)
            if n == 3:
                rv, status, headers = items
            elif n == 2:
                if isinstance(items[1], (Headers, dict, tuple, list)):
                    rv, headers = items
                else:
                    rv, status = items
            else:
                raise TypeError(
                    "The view returned a tuple of the wrong size. Return (body, status, headers),"
                    " (body, status) or (body, headers)."
                )
        if rv is None:
            req_ctx = _cv_request.get(None)
            endpoint = req_ctx.request.endpoint if req_ctx is not None else None
            raise TypeError(
                f"The view function for {endpoint!r} returned None (or reached its end without a return"
                " statement); it must return a response."
            )
        kind = type(rv)
        if kind is dict or kind is list:  # before the isinstance tests below (Iterator is an ABC)
            provider = self.json
            cls = type(provider)
            if (
                cls.response is DefaultJSONProvider.response and "response" not in provider.__dict__
                and cls._prepare_response_obj is DefaultJSONProvider._prepare_response_obj
            ):  # what its response() would do with one value
                rv = provider._app.response_class(provider.response_body(rv), mimetype=provider.mimetype)  # type: ignore[attr-defined]
            else:
                rv = provider.response(rv)
        elif not isinstance(rv, self.response_class):
            if isinstance(rv, (str, bytes, bytearray, cabc.Iterator)):
                rv = self.response_class(rv, status=status, headers=headers)
                status = headers = None
            elif isinstance(rv, (dict, list)):
                rv = self.json.response(rv)
            elif isinstance(rv, BaseResponse) or callable(rv):
                try:
                    rv = self.response_class.force_type(rv, _cv_request.get().request.environ)  # type: ignore[arg-type]
                except TypeError as e:
                    raise TypeError(
                        f"{e}\nThe view returned a value of type {type(rv).__name__!r} that could not be used as a response:"
                        " return a string, dict, list, (body, status/headers) tuple, Response or WSGI"
                        " callable."
                    ).with_traceback(sys.exc_info()[2]) from None
            else:
                raise TypeError(
                    f"The view returned a value of type {type(rv).__name__!r}, which is not a valid response: return a"
                    " string, dict, list, (body, status/headers) tuple, Response instance or WSGI callable."
                )
        response = t.cast(Response, rv)
        if status is not None:
            if isinstance(status, (str, bytes, bytearray)):
                response.status = status  # type: ignore[assignment]
            else:
                set_status_code(response, int(status))
        if headers:
            response.headers.update(headers)
        return response

    # --- errors --------------------------------------------------------------------------------------
    def _find_error_handler(self, e: Exception, blueprints: list[str]) -> ft.ErrorHandlerCallable | None:
        """Handler for `e`: code before class; innermost blueprint before the app; nearest class in MRO."""
        exc_class, code = self._get_exc_class_and_code(type(e))
        names = (*blueprints, None)
        spec = self.error_handler_spec
        for c in (code, None) if code is not None else (None,):
            for name in names:
                by_code = spec.get(name)
                if not by_code:
                    continue
                handler_map = by_code.get(c)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def trap_http_exception(self, e: Exception) -> bool:
        """Whether an HTTPException is treated like an ordinary unhandled error (TRAP_* config)."""
        if self.config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = self.config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None and self.debug and isinstance(e, BadRequestKeyError):
            return True
        if trap_bad_request:
            return isinstance(e, BadRequest)
        return False

    def handle_http_exception(self, e: HTTPException) -> HTTPException | ft.ResponseReturnValue:
        """The registered handler's result, or the exception itself as the response."""
        if e.code is None:
            return e
        if isinstance(e, RoutingException):
            return e
        handler = self._find_error_handler(e, _cv_request.get().request.blueprints)
        if handler is None:
            return e
        return self.ensure_sync(handler)(e)

    def handle_user_exception(self, e: Exception) -> HTTPException | ft.ResponseReturnValue:
        """Route an exception from dispatch to its handler; re-raise when none applies."""
        if isinstance(e, BadRequestKeyError) and (self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]):
            e.show_exception = True
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            return self.handle_http_exception(e)
        handler = self._find_error_handler(e, _cv_request.get().request.blueprints)
        if handler is None:
            raise
        return self.ensure_sync(handler)(e)

    def handle_exception(self, e: Exception) -> Response:
        """An unhandled exception: propagate (debug/testing) or log it and answer 500."""
        exc_info = sys.exc_info()
        _send(signals.got_request_exception, self, exception=e)
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
        if propagate:
            if exc_info[1] is e:
                raise
            raise e
        self.log_exception(exc_info)
        server_error: InternalServerError | ft.ResponseReturnValue = InternalServerError(original_exception=e)
        req_ctx = _cv_request.get(None)
        handler = self._find_error_handler(server_error, req_ctx.request.blueprints if req_ctx else [])  # type: ignore[arg-type]
        if handler is not None:
            server_error = self.ensure_sync(handler)(server_error)
        return self.finalize_request(server_error, from_error_handler=True)

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Return True to hide `error` from teardown functions (default: never)."""
        return False

    # --- teardown ------------------------------------------------------------------------------------
    def do_teardown_request(self, exc: BaseException | None = _sentinel) -> None:
        """teardown_request functions (innermost blueprint → app, each reversed), then the signal."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        funcs = self.teardown_request_funcs
        if funcs:
            for name in _cv_request.get().request._hook_scopes()[0]:
                if name in funcs:
                    for func in reversed(funcs[name]):
                        self.ensure_sync(func)(exc)
        if signals.request_tearing_down.receivers:
            _send(signals.request_tearing_down, self, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _sentinel) -> None:
        """teardown_appcontext functions in reverse, then the signal."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        if signals.appcontext_tearing_down.receivers:
            _send(signals.appcontext_tearing_down, self, exc=exc)

    # --- WSGI ----------------------------------------------------------------------------------------
    def _answer_late_error(self, e: Exception, environ: dict[str, t.Any], start_response: t.Any) -> cabc.Iterable[bytes]:
        """A failure while turning the response into status and headers (a Location werkzeug cannot
        encode, a header value the server refuses): logged and answered like an error in the view, through
        the app's error handlers; nothing of the failed response is sent."""
        response = self.handle_exception(e)
        exc_info = sys.exc_info()
        keepalive.forget_started_headers(start_response)

        def restart(status: str, headers: list[tuple[str, str]], _exc_info: t.Any = None) -> t.Any:
            return start_response(status, headers, exc_info)  # exc_info: start_response may run again

        return response(environ, restart)

    def wsgi_app(self, environ: dict[str, t.Any], start_response: t.Any) -> cabc.Iterable[bytes]:
        """The WSGI application: the host's front-end step, push contexts, dispatch, respond, pop contexts
        (teardown)."""
        front_end = self.front_end
        if front_end is not None:
            front_end(environ)
        ctx = self.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                if self._fast_path:
                    rv, ok = self._run_request()
                    if ok:
                        direct = fast_path.direct_response(self, ctx, rv, start_response)
                        if direct is not None:
                            if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
                                keepalive.close_if_body_unread(ctx.request, 200, start_response)
                            return direct
                    response = self.finalize_request(rv)
                else:
                    response = self.full_dispatch_request()
            except Exception as e:
                error = e
                response = self.handle_exception(e)
            except:  # BaseException passes through, but teardown must see it
                error = sys.exc_info()[1]
                raise
            try:
                if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ or response.status_code == 413:
                    keepalive.close_if_body_unread(ctx.request, response.status_code, start_response)
                return response(environ, start_response)
            except Exception as e:  # the response could not be built or started: the app's 500, as for the view
                error = e
                return self._answer_late_error(e, environ, start_response)
        finally:
            if "werkzeug.debug.preserve_context" in environ:
                environ["werkzeug.debug.preserve_context"](_cv_app.get())
                environ["werkzeug.debug.preserve_context"](_cv_request.get())
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)
