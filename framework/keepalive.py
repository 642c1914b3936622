"""Keeping a server's connection usable after the app's response: what the server must be told.

A response sent while the request body is still unread leaves that body on the connection. gunicorn
then announces keep-alive and drains at most 64 KiB before giving up and closing, so a keep-alive
client's next request fails. When the body is left unread (a 413 never reads it), the framework asks the
server to close after this response instead, through the server's own response object when it has one
(gunicorn's `force_close`, reached as the `start_response` bound method's owner). A WSGI app may not
send `Connection` itself (PEP 3333: hop-by-hop); werkzeug's development server closes every connection.
"""

from __future__ import annotations

import typing as t

from werkzeug.wsgi import LimitedStream

if t.TYPE_CHECKING:  # pragma: no cover
    from .wrappers import Request


def _server_response(start_response: t.Callable[..., t.Any]) -> t.Any:
    return getattr(start_response, "__self__", None)


def body_left_unread(request: Request) -> bool:
    """Whether the request declared a body that the app did not read to its end."""
    stream = request.__dict__.get("stream")
    if stream is None:  # never opened: unread unless the body is empty
        return request.content_length != 0
    if not isinstance(stream, LimitedStream):
        return False  # not ours to judge: the server's own stream
    return not (stream.is_exhausted or getattr(stream, "ended", False))


def close_if_body_unread(request: Request, status: int, start_response: t.Callable[..., t.Any]) -> None:
    """Ask the server to close the connection after this response when the request body was not all read."""
    force_close = getattr(_server_response(start_response), "force_close", None)
    if force_close is None:
        return
    if status == 413 or body_left_unread(request):
        force_close()


def forget_started_headers(start_response: t.Callable[..., t.Any]) -> None:
    """Before start_response is called again (with exc_info) for an error response: drop the headers a
    first call that raised may have left behind. PEP 3333 says the second call replaces them; gunicorn
    keeps the ones it had accepted, which would mix two responses' headers."""
    server_response = _server_response(start_response)
    headers = getattr(server_response, "headers", None)
    if isinstance(headers, list) and getattr(server_response, "headers_sent", None) is False:
        headers.clear()
