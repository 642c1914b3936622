"""One contextvar per context kind, and the proxies (current_app, g, request, session) that read them."""

from __future__ import annotations

import typing as t
from contextvars import ContextVar

from werkzeug.local import LocalProxy as _WerkzeugLocalProxy

from .flask_bridge import shared_context_vars

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App
    from .ctx import AppContext, RequestContext, _AppCtxGlobals
    from .sessions import SessionMixin
    from .wrappers import Request

_no_app_msg = """\
Working outside of application context.

This code needs the active application (current_app, g, url_for, ...). Push an
application context first, e.g. `with app.app_context(): ...`.\
"""
_no_req_msg = """\
Working outside of request context.

This code needs an active HTTP request (request, session, ...). In tests, use
`with app.test_request_context(): ...` or the test client.\
"""


class LocalProxy(_WerkzeugLocalProxy[t.Any]):
    """werkzeug's LocalProxy (named the same, as Flask's proxies are werkzeug's), with the operations
    views use most on `g`, `request` and `session` (attribute get and set, item get and set, `in`) as
    plain methods on the proxied object instead of werkzeug's per-operation descriptors: the same
    results, the same RuntimeError when unbound."""

    __slots__ = ()

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: t.Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __getitem__(self, key: t.Any) -> t.Any:
        return self._get_current_object()[key]

    def __setitem__(self, key: t.Any, value: t.Any) -> None:
        self._get_current_object()[key] = value

    def __contains__(self, key: t.Any) -> bool:
        return key in self._get_current_object()


# With flask already imported, its two variables are ours too (Flask extensions see our contexts);
# flask imported later is pointed at these instead (framework.flask_bridge).
_shared = shared_context_vars()
_cv_app: ContextVar[AppContext] = _shared[0] if _shared else ContextVar("framework.app_ctx")
_cv_request: ContextVar[RequestContext] = _shared[1] if _shared else ContextVar("framework.request_ctx")

app_ctx: AppContext = LocalProxy(_cv_app, unbound_message=_no_app_msg)  # type: ignore[assignment]
current_app: App = LocalProxy(_cv_app, "app", unbound_message=_no_app_msg)  # type: ignore[assignment]
g: _AppCtxGlobals = LocalProxy(_cv_app, "g", unbound_message=_no_app_msg)  # type: ignore[assignment]

request_ctx: RequestContext = LocalProxy(_cv_request, unbound_message=_no_req_msg)  # type: ignore[assignment]
request: Request = LocalProxy(_cv_request, "request", unbound_message=_no_req_msg)  # type: ignore[assignment]
session: SessionMixin = LocalProxy(_cv_request, "session", unbound_message=_no_req_msg)  # type: ignore[assignment]
