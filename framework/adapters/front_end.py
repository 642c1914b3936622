"""WSGI middleware standing between App Engine's front end (or our local stand-in for it) and the App.

`AppEngineMiddleware` is installed only on App Engine standard: it trusts exactly the hops Google adds
and marks the environ so `request.appengine` believes the X-Appengine-* headers. `CloudRunMiddleware`
takes only the scheme from Cloud Run's front end. `LocalFrontEnd` is
installed only under the local runner (GAE_ENV=localdev): it believes App Engine's headers when the
runner's front end proves it sent them (the platform token), and otherwise drops any X-Appengine-* /
X-Google-* header a client sent, then adds the ones App Engine would.

Each middleware's work on the environ is also a plain step (`admit`): framework.lifecycle hands that step to
the App (`App.front_end`), which runs it first thing in `wsgi_app`, where the installed middleware would have
run it, without a middleware object's call on every request.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from framework.adapters.appengine import KNOWN_ADDRESSES, TRUSTED_ENVIRON_KEY, parse_ip

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# App Engine appends one hop of its own to X-Forwarded-For ("client, 169.254.1.1" observed), so the
# client is the second entry from the right; anything further left was written by the client and is
# not believed. The hop count is derived from observation (platform-facts §3.2, unconfirmed): if the
# header has fewer entries, REMOTE_ADDR stays the socket's, which is the safe failure.
# X-Forwarded-Proto is set by Google's load balancer: one trusted value, the last one.
# Google does not add X-Forwarded-Host/Port/Prefix; the Host header arrives as the client sent it.
XFF_TRUSTED_HOPS = 2
PROTO_TRUSTED_HOPS = 1


def trusted_entry(value: str | None, trusted: int) -> str | None:
    """The `trusted`-th item from the right of a comma-separated header, as werkzeug's ProxyFix reads it.

    This is ProxyFix's rule (tests/adapters/test_proxy_headers.py checks both middlewares against ProxyFix
    itself). It is written out because ProxyFix was a fifth of a hello request's time on App Engine, where
    every request carries two of these headers: werkzeug parses each a character at a time. A value without
    a double quote has no quoted or escaped part, so splitting at commas gives werkzeug's items; a quoted
    one is still parsed by werkzeug.
    """
    if not value:
        return None
    if '"' in value:
        from werkzeug.http import parse_list_header

        items = parse_list_header(value)
    elif "," not in value:  # one item: X-Forwarded-Proto's usual "https"
        return (value.strip(" \t") or None) if trusted == 1 else None
    else:
        items = [item for item in (part.strip(" \t") for part in value.split(",")) if item]
    return items[-trusted] if len(items) >= trusted else None


class AppEngineMiddleware:
    """Client address and scheme from Google's front end; marks App Engine's headers as trusted.

    REMOTE_ADDR and the scheme are the ones werkzeug's ProxyFix(x_for=2, x_proto=1) would set, except that
    X-Appengine-User-IP, when it holds an address, wins for REMOTE_ADDR, and an X-Forwarded-For entry that is
    not an address leaves the socket's. Unlike ProxyFix, the replaced values are not copied into
    `werkzeug.proxy_fix.orig`: nothing here reads them, and the copy was a tenth of a hello request.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    @staticmethod
    def admit(environ: dict[str, Any]) -> None:
        """Set REMOTE_ADDR and the scheme from Google's headers and mark the environ trusted."""
        get = environ.get
        # This runs on every request with cold CPU caches, where each new kind of string operation costs
        # more than the operation: the usual values take the shortest way, with trusted_entry's and
        # parse_ip's answers.
        proto = get("HTTP_X_FORWARDED_PROTO")
        if proto == "https" or proto == "http":
            environ["wsgi.url_scheme"] = proto
        else:
            scheme = trusted_entry(proto, PROTO_TRUSTED_HOPS)
            if scheme:
                environ["wsgi.url_scheme"] = scheme
        # X-Appengine-User-IP cannot be forged (the front end strips client copies) and is exactly the
        # address Google saw, so it wins over the X-Forwarded-For guess.
        raw_ip = get("HTTP_X_APPENGINE_USER_IP")
        user_ip = KNOWN_ADDRESSES.get(raw_ip) if raw_ip else None
        if user_ip is None:
            user_ip = parse_ip(raw_ip)
        if user_ip is not None:
            environ["REMOTE_ADDR"] = user_ip
        else:
            forwarded = trusted_entry(get("HTTP_X_FORWARDED_FOR"), XFF_TRUSTED_HOPS)
            if forwarded and parse_ip(forwarded) is not None:
                environ["REMOTE_ADDR"] = forwarded
        environ[TRUSTED_ENVIRON_KEY] = True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.admit(environ)
        return self.app(environ, start_response)


class CloudRunMiddleware:
    """The scheme clients used, behind Cloud Run's front end (`gunicorn main:app` with K_SERVICE set).

    TLS ends at Google's load balancer, which sets X-Forwarded-Proto: one trusted value, the last. How
    many X-Forwarded-For entries Cloud Run appends is unconfirmed, so REMOTE_ADDR is left as the socket
    address rather than believing a header a client could have written. Cloud Functions does not get
    this: its adapter sets the scheme itself (framework.adapters.cloud_functions). The scheme is the one
    werkzeug's ProxyFix(x_proto=1) would set.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    @staticmethod
    def admit(environ: dict[str, Any]) -> None:
        """Set the scheme from X-Forwarded-Proto."""
        scheme = trusted_entry(environ.get("HTTP_X_FORWARDED_PROTO"), PROTO_TRUSTED_HOPS)
        if scheme:
            environ["wsgi.url_scheme"] = scheme

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.admit(environ)
        return self.app(environ, start_response)


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

    def __init__(self, app: WSGIApp | None, token: str | None = None) -> None:
        self.app = app  # None when only `admit` is used (framework.lifecycle)
        self.token = (os.environ.get("LOCAL_PLATFORM_TOKEN", "") if token is None else token).encode()

    def _from_runner(self, environ: dict[str, Any]) -> bool:
        sent = environ.pop(TOKEN_ENVIRON_KEY, None)
        if not self.token or not isinstance(sent, str):
            return False
        return hmac.compare_digest(sent.encode("latin-1", "replace"), self.token)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.app is not None, "a LocalFrontEnd made without an app only admits environs"
        self.admit(environ)
        return self.app(environ, start_response)

    def admit(self, environ: dict[str, Any]) -> None:
        """Take the runner's headers as App Engine's, or replace a client's forged ones; mark the environ trusted."""
        if self._from_runner(environ):
            user_ip = parse_ip(environ.get("HTTP_X_APPENGINE_USER_IP"))
            if user_ip is not None:
                environ["REMOTE_ADDR"] = user_ip
            if environ.get("HTTP_X_FORWARDED_PROTO") in ("http", "https"):
                environ["wsgi.url_scheme"] = environ["HTTP_X_FORWARDED_PROTO"]
            environ[TRUSTED_ENVIRON_KEY] = True
            return
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
