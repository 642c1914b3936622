"""The direct-response fast path, in one place: a view returning a plain str, bytes, dict or list is
answered without building a Response object, when nothing registered could observe the difference.

What it skips is `make_response`, `process_response` (after-request functions, session save) and the
`request_finished` signal. Everything that decides whether it may is listed here, and
tests/core/test_fast_path.py fails when App gains a hook registry or framework.signals a signal that
is in neither list below, so a new one cannot be bypassed silently.
"""

from __future__ import annotations

import typing as t

from . import signals
from .wrappers import Response

if t.TYPE_CHECKING:  # pragma: no cover
    from blinker import NamedSignal

    from .app import App
    from .ctx import RequestContext
    from .dispatch import RequestCycle

#: App methods the direct response stands in for: replacing one (on a subclass or on the instance)
#: turns the fast path off for that app, so the replacement always runs.
REPLACED_METHODS: frozenset[str] = frozenset({
    "full_dispatch_request", "preprocess_request", "dispatch_request", "make_response",
    "process_response", "finalize_request", "ensure_sync",
})

#: Hook registries whose functions still run on the fast path (before the view, at teardown, or
#: outside the request cycle altogether).
HOOKS_KEPT: frozenset[str] = frozenset({
    "view_functions", "url_value_preprocessors", "before_request_funcs", "teardown_request_funcs",
    "teardown_appcontext_funcs", "url_default_functions", "template_context_processors",
    "error_handler_spec", "url_build_error_handlers", "shell_context_processors", "context_hooks",
    "warmup_funcs", "start_funcs", "stop_funcs",
})
#: Hook registries the fast path would skip: one registered function turns it off for the request.
HOOKS_SKIPPED: tuple[str, ...] = ("after_request_funcs",)

#: Signals still sent on the fast path.
SIGNALS_KEPT: frozenset[NamedSignal] = frozenset({
    signals.request_started, signals.got_request_exception, signals.request_tearing_down,
    signals.appcontext_tearing_down, signals.appcontext_pushed, signals.appcontext_popped,
    signals.template_rendered, signals.before_render_template, signals.message_flashed,
})
#: Signals the fast path would not send: a connected receiver turns it off.
SIGNALS_SKIPPED: tuple[NamedSignal, ...] = (signals.request_finished,)

_HTML = "text/html; charset=utf-8"


def methods_untouched(app: App) -> bool:
    """Whether none of REPLACED_METHODS is overridden by `app`'s class or set on the instance."""
    from .app import App  # cycle: app.py imports this module

    cls = type(app)
    return all(
        getattr(cls, name) is getattr(App, name) and name not in app.__dict__ for name in REPLACED_METHODS
    )


def direct_response(
    app: RequestCycle, ctx: RequestContext, rv: t.Any, start_response: t.Callable[..., t.Any]
) -> list[bytes] | None:
    """Start the response for a plain return value and give its body; None means "use the normal path"."""
    cls = rv.__class__
    if cls is not str and cls is not bytes and cls is not dict and cls is not list:
        return None
    # Would something see the skipped steps: the Response object, the session, a skipped hook or signal?
    if ctx._after_request_functions or ctx._session is not None or app.response_class is not Response:
        return None
    for signal in SIGNALS_SKIPPED:
        if signal.receivers:
            return None
    for name in HOOKS_SKIPPED:
        registry = getattr(app, name)
        if registry and any(registry.values()):
            return None
    # A session cookie may need refreshing (permanent sessions): that needs the normal path.
    if "HTTP_COOKIE" in ctx.request.environ and ctx.session_cookie_sent():
        return None
    if cls is str:
        body = rv.encode()
        ctype = _HTML
    elif cls is bytes:
        body = rv
        ctype = _HTML
    else:
        provider = app.json
        json_body = provider.direct_body(rv)
        if json_body is None:
            return None
        body = json_body
        ctype = provider.mimetype
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    if ctx.request.method == "HEAD":
        return []
    return [body]
