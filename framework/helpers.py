"""Helpers for views: url_for, redirect, abort, make_response, stream_with_context, debug flags."""

from __future__ import annotations

import typing as t
from functools import update_wrapper

from werkzeug.exceptions import abort as _wz_abort
from werkzeug.utils import redirect as _wz_redirect

from .flags import env_flag
from .globals import _cv_app, _cv_request, current_app

if t.TYPE_CHECKING:  # pragma: no cover
    from werkzeug.wrappers import Response as BaseResponse

    from .wrappers import Response


def get_debug_flag() -> bool:
    """Debug mode from `FRAMEWORK_DEBUG` (or Flask's `FLASK_DEBUG` when ours is unset); framework.flags' rule."""
    return env_flag("FRAMEWORK_DEBUG", "FLASK_DEBUG")


def get_load_dotenv(default: bool = True) -> bool:
    """False when `FRAMEWORK_SKIP_DOTENV` (or `FLASK_SKIP_DOTENV`) is on; `default` when neither is set."""
    return not env_flag("FRAMEWORK_SKIP_DOTENV", "FLASK_SKIP_DOTENV", default=not default)


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: t.Any,
) -> str:
    """URL of `endpoint` with `values` (see `App.url_for`); needs an app context."""
    return current_app.url_for(
        endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
    )


def redirect(location: str, code: int = 302, Response: type[BaseResponse] | None = None) -> BaseResponse:
    """A redirect response (the app's `response_class` when an app is active)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.redirect(location, code=code)
    return _wz_redirect(location, code=code, Response=Response)


def abort(code: int | BaseResponse, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    """Raise the HTTPException for `code` (or wrap a Response) via the app's aborter."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.aborter(code, *args, **kwargs)
    _wz_abort(code, *args, **kwargs)


def make_response(*args: t.Any) -> Response:
    """Turn view-style return values into a Response (no args → empty response)."""
    if not args:
        return current_app.response_class()
    return current_app.make_response(args[0] if len(args) == 1 else args)


def stream_with_context(generator_or_function: t.Any) -> t.Any:
    """Keep the current app and request contexts active while a streamed response is iterated."""
    try:
        gen = iter(generator_or_function)
    except TypeError:

        def decorator(*args: t.Any, **kwargs: t.Any) -> t.Any:
            return stream_with_context(generator_or_function(*args, **kwargs))

        return update_wrapper(decorator, generator_or_function)

    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'stream_with_context' needs an active request context; use it inside a view."
        )
    app_ctx = _cv_app.get()

    def generator() -> t.Iterator[t.Any]:
        with app_ctx, req_ctx:
            try:
                yield from gen
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

    return generator()
