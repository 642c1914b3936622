"""Cloud Functions entry points: the whole app as an HTTP function, and `on_event` handlers as a CloudEvent function.

    http_function = http(app)          # functions-framework --target http_function
    event_function = cloud_event(app)  # functions-framework --target event_function --signature-type cloudevent

HTTP: functions-framework (FF) routes every path and method to the function with its flask.Request;
the app then runs as a WSGI application on that request's environ (routing, hooks, sessions, error
handlers, streaming) and the function hands back a plain werkzeug Response wrapping the app's own
iterable, which Flask passes through. The body is read once, through FF's own input stream, so FF's
after-request drain only consumes what the app left unread. FF itself answers `/robots.txt` and
`/favicon.ico` with 404 before the app sees them.

Paths: gen2 (`*.run.app`) and the local FF pass the full path. Gen1 (`REGION-PROJECT.cloudfunctions.net/NAME/...`)
strips the function name; whether it sets SCRIPT_NAME is unconfirmed, so on a `*.cloudfunctions.net`
host with an empty SCRIPT_NAME the name becomes SCRIPT_NAME (taken off PATH_INFO if still there), and
`url_for(..., _external=True)` builds the public URL. `http(app, script_name="/x")` forces a prefix.
On Google's hosts the scheme comes from the last X-Forwarded-Proto value (TLS ends in front of the
container); locally it is http whatever the client claims.

CloudEvents: the event goes to `app.dispatch_event`; on a 2xx outcome FF answers 200 "OK", otherwise
the status of the outcome (see framework.events) with its phrase as the body. Binary-mode
attribute headers are percent-decoded (the SDK does not), so both modes give handlers the same values.
An event whose required attributes are not strings, or whose `time` is not RFC 3339, is answered 400.
FF parses the request before calling the function and lets some malformed bodies escape as exceptions
(deeply nested JSON, non-UTF-8 structured events, 5000-digit numbers, legacy events of the wrong
shape), which it would answer 500; `cloud_event(app)` registers an error handler on FF's app that
answers those 400.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from framework.adapters.pubsub_push import status_body
from framework.events import Event, EventResult, MalformedEventError

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_GEN1_HOST_SUFFIX = ".cloudfunctions.net"


def function_name(environ: Mapping[str, str] | None = None) -> str | None:
    """The deployed function's name: K_SERVICE (gen2 and newer gen1), else FUNCTION_NAME (python37 gen1)."""
    env = os.environ if environ is None else environ
    return env.get("K_SERVICE") or env.get("FUNCTION_NAME") or None


def _mount(environ: dict[str, Any], prefix: str) -> None:
    """Make `prefix` the SCRIPT_NAME, removing it from PATH_INFO when the server left it there."""
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    path = environ.get("PATH_INFO", "")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix):]
    environ["SCRIPT_NAME"] = prefix
    environ["PATH_INFO"] = path


def resolve_script_name(environ: dict[str, Any], script_name: str | None = None) -> None:
    """Set SCRIPT_NAME/PATH_INFO for the function's public URL (see the module docstring)."""
    if script_name is not None:
        _mount(environ, script_name)
        return
    if environ.get("SCRIPT_NAME"):
        return
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()
    name = function_name()
    if name and host.endswith(_GEN1_HOST_SUFFIX):
        _mount(environ, name)


def resolve_scheme(environ: dict[str, Any]) -> None:
    """Set the scheme the client really used: the last X-Forwarded-Proto value on Google's hosts, else http.

    functions-framework never terminates TLS itself, so locally the connection is plain http, even
    though its gunicorn believes X-Forwarded-Proto from loopback clients (gunicorn's default
    forwarded_allow_ips). On Cloud Run / Cloud Functions TLS ends in Google's front end; whether it
    appends to or replaces the header is unconfirmed, so only the last value is believed.
    """
    scheme = "http"
    if function_name():
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").rsplit(",", 1)[-1].strip().lower()
        if proto in ("http", "https"):
            scheme = proto
    environ["wsgi.url_scheme"] = scheme


class _Started:
    """start_response for an app run inside another framework: records status and headers."""

    __slots__ = ("status", "headers")

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and self.status is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, list(headers)
        return _no_write


def _no_write(data: bytes) -> None:
    raise RuntimeError("the legacy WSGI write() callable is not supported under functions-framework")


def _prepend(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


class _Chained:
    """The rest of `iterator` with an already-pulled first chunk in front; close() reaches the app's iterable."""

    def __init__(self, first: bytes, iterator: Iterator[bytes], app_iter: Iterable[bytes]) -> None:
        self._iter = _prepend(first, iterator)  # not app_iter: iterating that again could restart it
        self._app_iter = app_iter

    def __iter__(self) -> Iterator[bytes]:
        return self._iter

    def close(self) -> None:
        _close(self._app_iter)


def _close(app_iter: Iterable[bytes]) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


def run_wsgi(app: WSGIApp, environ: dict[str, Any]) -> Response:
    """Run a WSGI app and wrap its status, headers and (unconsumed) iterable in a passthrough Response."""
    started = _Started()
    app_iter = app(environ, started)
    body: Iterable[bytes] = app_iter
    if started.status is None:  # an app that calls start_response lazily, on first iteration
        try:
            iterator = iter(app_iter)
            first = next(iterator, b"")
            if started.status is None:
                raise RuntimeError("the WSGI application never called start_response")
        except BaseException:
            _close(app_iter)  # WSGI: the app's iterable is closed whatever happens
            raise
        body = _Chained(first, iterator, app_iter)
    return Response(body, status=started.status, headers=started.headers, direct_passthrough=True)


def _check_secrets_at_load(app: Any) -> None:
    """Under functions-framework on Google's hosts, refuse a missing or weak SECRET_KEY while main.py loads.

    FF has no start hook; creating the entry point is the moment the module is imported, so the revision
    fails to start with the fix in its log instead of refusing sessions at the first request.
    """
    if "functions_framework" not in sys.modules or not hasattr(app, "config"):
        return
    from framework.platform import on_google_host

    if not on_google_host():
        return
    import flask

    if flask.has_app_context():  # FF's app is current while it imports the source
        from framework.secrets import check_app

        check_app(app)


def http(app: WSGIApp, *, script_name: str | None = None) -> Callable[[Any], Response]:
    """A functions-framework HTTP function running `app` (an App or any WSGI callable) on each request."""
    _check_secrets_at_load(app)

    def http_function(request: Any) -> Response:
        environ = dict(request.environ)
        # Read the body through FF's own stream: one read, and FF's drain afterwards sees the true position.
        cached = getattr(request, "_cached_data", None)
        if cached is not None:
            environ["wsgi.input"] = io.BytesIO(cached)
            environ["CONTENT_LENGTH"] = str(len(cached))
        else:
            environ["wsgi.input"] = request.stream
        environ["wsgi.input_terminated"] = True
        resolve_script_name(environ, script_name)
        resolve_scheme(environ)
        return run_wsgi(app, environ)

    return http_function


_REQUIRED_ATTRIBUTES = ("id", "source", "type", "specversion")


def _percent_decoded(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes that arrived as `ce-*` headers, percent-decoded as the CloudEvents HTTP binding requires.

    The cloudevents SDK inside functions-framework leaves them encoded, so without this a binary-mode
    event would reach handlers with other values (`objects/my%20cat.png`) than the same event in
    structured mode. Only values of headers present on the current request are touched.
    """
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return attributes
    from urllib.parse import unquote

    headers = flask.request.headers
    for name, value in attributes.items():
        if isinstance(value, str) and "%" in value and f"ce-{name}" in headers:
            attributes[name] = unquote(value)
    return attributes


def event_from_cloudevent(cloud_event: Any) -> Event:
    """Our `Event` from the cloudevents SDK's CloudEvent that functions-framework passes in.

    Raises MalformedEventError when a required attribute is not a non-empty string or `time` is not
    RFC 3339 (the SDK accepts any JSON value for them in structured mode).
    """
    from framework.adapters.payloads import parse_timestamp

    attributes = _percent_decoded(dict(cloud_event.get_attributes()))
    for name in _REQUIRED_ATTRIBUTES:
        if not isinstance(attributes.get(name), str) or not attributes[name]:
            raise MalformedEventError(f"the CloudEvent attribute {name!r} must be a non-empty string")
    parse_timestamp(attributes.get("time"), "the CloudEvent attribute 'time'")
    return Event(attributes, cloud_event.get_data())


def _answer(result: EventResult) -> None:
    """Return normally for a 2xx outcome (FF answers "OK"), else raise the outcome's status."""
    if result.ok:
        return
    response = Response(status_body(result), status=result.status, mimetype="text/plain")
    raise HTTPException(response=response)


def cloud_event(app: Any) -> Callable[[Any], None]:
    """A functions-framework CloudEvent function that dispatches each event to `app`'s `on_event` handlers."""
    _check_secrets_at_load(app)

    def event_function(cloud_event: Any) -> None:
        try:
            event = event_from_cloudevent(cloud_event)
        except MalformedEventError as exc:
            app.logger.warning("malformed CloudEvent: %s", exc)
            _answer(EventResult(400, 0, exc))
            return
        try:
            result = app.dispatch_event(event)
        except Exception as exc:  # e.g. a bad UNHANDLED_EVENT_STATUS: ours, not the client's
            app.logger.exception("dispatching %r failed", event)
            result = EventResult(500, 0, exc)
        _answer(result)

    _refuse_unparsable_events(event_function)
    return event_function


def _serves(target: str, function: Callable[..., Any]) -> bool:
    """Whether the module functions-framework loaded binds `target` to `function`."""
    modules = [m for m in list(sys.modules.values()) if isinstance(m, ModuleType)]
    return any(m.__dict__.get(target) is function for m in modules)


def _refuse_unparsable_events(function: Callable[..., Any]) -> None:
    """Under functions-framework, answer 400 for bodies its own CloudEvent parsing fails on with a crash.

    Registered on FF's Flask app (current while FF imports the source module); applies only to requests
    routed to FF's CloudEvent view when the served target is `function`. `function` itself lets no
    exception but HTTPException escape, so anything else raised there comes from parsing the request.
    """
    if "functions_framework" not in sys.modules:
        return  # not loaded by functions-framework (gunicorn, tests in process): nothing to adapt
    import flask
    from cloudevents.exceptions import GenericException

    if not flask.has_app_context():
        return
    ff_app = flask.current_app._get_current_object()  # type: ignore[attr-defined]

    def unparsable_event(exc: Exception) -> Any:
        rule = flask.request.url_rule
        if rule is None or rule.endpoint != "cloudevent" or not _serves(ff_app.name, function):
            raise exc
        ff_app.logger.warning("malformed CloudEvent request: %s: %s", type(exc).__name__, str(exc)[:200])
        return status_body(EventResult(400, 0, exc)), 400, {"Content-Type": "text/plain; charset=utf-8"}

    for kind in (GenericException, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        ff_app.register_error_handler(kind, unparsable_event)
