"""Testing helpers: the test client, EnvironBuilder with the app's defaults, and the CLI runner.

`FrameworkCliRunner` lives in framework.testing.cli (click is imported only when it is used).
"""

from __future__ import annotations

import importlib.metadata
import typing as t
from contextlib import ExitStack, contextmanager
from copy import copy
from functools import cache
from urllib.parse import urlsplit

import werkzeug.test
from werkzeug.test import Client
from werkzeug.wrappers import Request as BaseRequest

if t.TYPE_CHECKING:  # pragma: no cover
    from werkzeug.test import TestResponse

    from ..app import App
    from ..sessions import SessionMixin

__all__ = ["EnvironBuilder", "FlaskClient", "FrameworkCliRunner", "FrameworkClient"]


class EnvironBuilder(werkzeug.test.EnvironBuilder):
    """werkzeug's EnvironBuilder whose base URL follows SERVER_NAME, APPLICATION_ROOT and PREFERRED_URL_SCHEME."""

    def __init__(
        self,
        app: App,
        path: str = "/",
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        *args: t.Any,
        **kwargs: t.Any,
    ) -> None:
        assert not ((subdomain or url_scheme) and base_url is not None), (
            "Pass either 'base_url' or 'subdomain'/'url_scheme', not both."
        )
        if base_url is None:
            host = app.config.get("SERVER_NAME") or "localhost"
            if subdomain:
                host = f"{subdomain}.{host}"
            scheme = url_scheme or app.config["PREFERRED_URL_SCHEME"]
            root = app.config["APPLICATION_ROOT"]
            parts = urlsplit(path)
            base_url = f"{parts.scheme or scheme}://{parts.netloc or host}/{root.lstrip('/')}"
            path = parts.path
            if parts.query:
                path = f"{path}?{parts.query}"
        self.app = app
        super().__init__(path, base_url, *args, **kwargs)

    def json_dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize `json=` data with the app's JSON provider."""
        return self.app.json.dumps(obj, **kwargs)


@cache  # a metadata lookup costs about a quarter of a millisecond; every client needs it
def _werkzeug_version() -> str:
    try:
        return importlib.metadata.version("werkzeug")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


class FrameworkClient(Client):
    """werkzeug's test Client for an App: app JSON in responses, `with client:` keeps contexts,
    and `session_transaction()` to read or edit the session between requests."""

    application: App

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.preserve_context = False
        self._new_contexts: list[t.ContextManager[t.Any]] = []
        self._context_stack = ExitStack()
        self.environ_base = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": f"Werkzeug/{_werkzeug_version()}"}

    @contextmanager
    def session_transaction(self, *args: t.Any, **kwargs: t.Any) -> t.Iterator[SessionMixin]:
        """Yield the session for a request built from the arguments; save it to the cookie jar after."""
        if self._cookies is None:
            raise TypeError("Cookies are disabled for this client; create it with use_cookies=True.")
        app = self.application
        interface = app.session_interface
        ctx = app.test_request_context(*args, **kwargs)
        self._add_cookies_to_wsgi(ctx.request.environ)
        with ctx:
            sess = interface.open_session(app, ctx.request)
        if sess is None:
            raise RuntimeError("The session interface returned no session (is SECRET_KEY set?).")
        yield sess
        if interface.is_null_session(sess):
            return
        resp = app.response_class()
        with ctx:
            interface.save_session(app, sess, resp)
        self._update_cookies_from_response(
            ctx.request.host.partition(":")[0], ctx.request.path, resp.headers.getlist("Set-Cookie")
        )

    def _copy_environ(self, other: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        out = {**self.environ_base, **other}
        if self.preserve_context:
            out["werkzeug.debug.preserve_context"] = self._new_contexts.append
        return out

    def _request_from_builder_args(self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> BaseRequest:
        kwargs["environ_base"] = self._copy_environ(kwargs.get("environ_base", {}))
        builder = EnvironBuilder(self.application, *args, **kwargs)
        try:
            return builder.get_request()
        finally:
            builder.close()

    def open(
        self, *args: t.Any, buffered: bool = False, follow_redirects: bool = False, **kwargs: t.Any
    ) -> TestResponse:
        """Send a request (builder args, an EnvironBuilder, an environ dict or a Request)."""
        first = args[0] if args else None
        if isinstance(first, werkzeug.test.EnvironBuilder):
            builder = copy(first)
            builder.environ_base = self._copy_environ(builder.environ_base or {})
            request = builder.get_request()
        elif isinstance(first, dict):
            request = werkzeug.test.EnvironBuilder.from_environ(
                first, environ_base=self._copy_environ({})
            ).get_request()
        elif isinstance(first, BaseRequest):
            request = copy(first)
            request.environ = self._copy_environ(request.environ)
        else:
            request = self._request_from_builder_args(args, kwargs)
        self._context_stack.close()
        response = super().open(request, buffered=buffered, follow_redirects=follow_redirects)
        response.json_module = self.application.json  # type: ignore[assignment]
        while self._new_contexts:
            self._context_stack.enter_context(self._new_contexts.pop(0))
        return response

    def __enter__(self) -> FrameworkClient:
        if self.preserve_context:
            raise RuntimeError("The test client is already in a 'with' block; nesting is not supported.")
        self.preserve_context = True
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.preserve_context = False
        self._context_stack.close()


FlaskClient = FrameworkClient


def __getattr__(name: str) -> t.Any:
    if name in ("FrameworkCliRunner", "FlaskCliRunner"):
        from .cli import FrameworkCliRunner  # cold start: click

        return FrameworkCliRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
