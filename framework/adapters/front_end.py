"""WSGI middleware standing between App Engine's front end (or our local stand-in for it) and the App.

`AppEngineMiddleware` is installed only on App Engine standard: it trusts exactly the hops Google adds
and marks the environ so `request.appengine` believes the X-Appengine-* headers. `CloudRunMiddleware`
takes only the scheme from Cloud Run's front end. `LocalFrontEnd` is
installed only under the local runner (GAE_ENV=localdev): it believes App Engine's headers when the
runner's front end proves it sent them (the platform token), and otherwise drops any X-Appengine-* /
X-Google-* header a client sent, then adds the ones App Engine would.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from framework.adapters.appengine import TRUSTED_ENVIRON_KEY, parse_ip

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# App Engine appends one hop of its own to X-Forwarded-For ("client, 169.254.1.1" observed), so the
# client is the second entry from the right; anything further left was written by the client and is
# not believed. The hop count is derived from observation (platform-facts §3.2, unconfirmed): if the
# header has fewer entries, ProxyFix leaves REMOTE_ADDR alone, which is the safe failure.
# X-Forwarded-Proto is set by Google's load balancer: one trusted value, the last one.
# Google does not add X-Forwarded-Host/Port/Prefix; the Host header arrives as the client sent it.
XFF_TRUSTED_HOPS = 2
PROTO_TRUSTED_HOPS = 1


@functools.cache
def proxy_fix_class() -> type:
    """werkzeug's ProxyFix, reading unquoted list headers with `str.split` (imported on first use: cold start).

    Every request on App Engine carries X-Forwarded-For and X-Forwarded-Proto, and werkzeug parses each a
    character at a time in Python, which was a third of a hello request's time. Without a double quote a
    list header has no quoted or escaped part, so splitting at commas and dropping empty items gives
    werkzeug's own answer (tests/adapters/test_proxy_headers.py checks it against werkzeug's parser); any
    value with a quote still goes to werkzeug.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    class QuickProxyFix(ProxyFix):
        def _get_real_value(self, trusted: int, value: str | None) -> str | None:
            if not (trusted and value):
                return None
            if '"' in value:
                return ProxyFix._get_real_value(self, trusted, value)
            if "," not in value:  # one item (X-Forwarded-Proto's usual "https")
                return (value.strip(" \t") or None) if trusted == 1 else None
            items = [item for item in (part.strip(" \t") for part in value.split(",")) if item]
            return items[-trusted] if len(items) >= trusted else None

    return QuickProxyFix


class AppEngineMiddleware:
    """Client address and scheme from Google's front end; marks App Engine's headers as trusted."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._proxy_fix = proxy_fix_class()(
            self._inner, x_for=XFF_TRUSTED_HOPS, x_proto=PROTO_TRUSTED_HOPS, x_host=0, x_port=0, x_prefix=0
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._proxy_fix(environ, start_response)

    def _inner(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # X-Appengine-User-IP cannot be forged (the front end strips client copies) and is exactly the
        # address Google saw, so it wins over the X-Forwarded-For guess.
        user_ip = parse_ip(environ.get("HTTP_X_APPENGINE_USER_IP"))
        if user_ip is not None:
            environ["REMOTE_ADDR"] = user_ip
        elif parse_ip(environ.get("REMOTE_ADDR")) is None:  # X-Forwarded-For held no address: keep the socket's
            environ["REMOTE_ADDR"] = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
        environ[TRUSTED_ENVIRON_KEY] = True
        return self.app(environ, start_response)


class CloudRunMiddleware:
    """The scheme clients used, behind Cloud Run's front end (`gunicorn main:app` with K_SERVICE set).

    TLS ends at Google's load balancer, which sets X-Forwarded-Proto: one trusted value, the last. How
    many X-Forwarded-For entries Cloud Run appends is unconfirmed, so REMOTE_ADDR is left as the socket
    address rather than believing a header a client could have written. Cloud Functions does not get
    this: its adapter sets the scheme itself (framework.adapters.cloud_functions).
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._proxy_fix = proxy_fix_class()(app, x_for=0, x_proto=PROTO_TRUSTED_HOPS, x_host=0, x_port=0, x_prefix=0)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._proxy_fix(environ, start_response)


_STRIPPED_PREFIXES = ("HTTP_X_APPENGINE_", "HTTP_X_GOOGLE_", "HTTP_X_CLOUDTASKS_", "HTTP_X_CLOUDSCHEDULER_")
TOKEN_ENVIRON_KEY = "HTTP_X_LOCAL_PLATFORM_TOKEN"


class LocalFrontEnd:
    """Under the local runner (GAE_ENV=localdev): believe App Engine's headers only when the runner sent them.

    The runner's front end forwards every request with `X-Local-Platform-Token` equal to this process's
    LOCAL_PLATFORM_TOKEN, after stripping what clients sent and adding App Engine's headers (contract 3):
    those requests are taken as App Engine's, with the client address and scheme it set. Anything else
    (gunicorn run by hand, a client calling the instance's port directly) gets the old stand-in: client-sent
    platform headers dropped, local ones added. The token header never reaches the app.
    """

    def __init__(self, app: WSGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = (os.environ.get("LOCAL_PLATFORM_TOKEN", "") if token is None else token).encode()

    def _from_runner(self, environ: dict[str, Any]) -> bool:
        sent = environ.pop(TOKEN_ENVIRON_KEY, None)
        if not self.token or not isinstance(sent, str):
            return False
        return hmac.compare_digest(sent.encode("latin-1", "replace"), self.token)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._from_runner(environ):
            user_ip = parse_ip(environ.get("HTTP_X_APPENGINE_USER_IP"))
            if user_ip is not None:
                environ["REMOTE_ADDR"] = user_ip
            if environ.get("HTTP_X_FORWARDED_PROTO") in ("http", "https"):
                environ["wsgi.url_scheme"] = environ["HTTP_X_FORWARDED_PROTO"]
            environ[TRUSTED_ENVIRON_KEY] = True
            return self.app(environ, start_response)
        for key in [k for k in environ if k.startswith(_STRIPPED_PREFIXES)]:
            del environ[key]
        environ["HTTP_X_APPENGINE_USER_IP"] = environ.get("REMOTE_ADDR") or "127.0.0.1"
        environ["HTTP_X_APPENGINE_COUNTRY"] = "ZZ"
        environ["HTTP_X_APPENGINE_CITY"] = "?"
        environ["HTTP_X_APPENGINE_CITYLATLONG"] = "0.000000,0.000000"
        environ["HTTP_X_APPENGINE_HTTPS"] = "on" if environ.get("wsgi.url_scheme") == "https" else "off"
        environ["HTTP_X_APPENGINE_REQUEST_LOG_ID"] = secrets.token_hex(24)
        if environ.get("HTTP_HOST"):
            environ["HTTP_X_APPENGINE_DEFAULT_VERSION_HOSTNAME"] = environ["HTTP_HOST"]
        # Like Google's front end, keep a trace context the client sent and start one otherwise.
        if "HTTP_TRACEPARENT" not in environ and "HTTP_X_CLOUD_TRACE_CONTEXT" not in environ:
            span = secrets.randbits(63) + 1
            environ["HTTP_X_CLOUD_TRACE_CONTEXT"] = f"{secrets.token_hex(16)}/{span};o=0"
        environ[TRUSTED_ENVIRON_KEY] = True
        return self.app(environ, start_response)
