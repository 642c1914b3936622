"""When the gunicorn worker considers a request fully arrived (framework.adapters.gunicorn_worker)."""

from __future__ import annotations

import pytest

from framework.adapters.gunicorn_worker import BUFFER_MAX, request_complete

HEAD = b"POST /x HTTP/1.1\r\nHost: t\r\n"


@pytest.mark.parametrize(("data", "complete"), [
    (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: t\r\n", False),
    (b"G", False),
    (HEAD + b"Content-Length: 5\r\n\r\nabc", False),
    (HEAD + b"Content-Length: 5\r\n\r\nabcde", True),
    (HEAD + b"content-length:5\r\n\r\nabcdeGET / HTTP/1.1\r\n", True),  # pipelined: the rest is the next request
    (HEAD + b"Content-Length: 0\r\n\r\n", True),
    (HEAD + b"Content-Length: 99999999999\r\n\r\n" + b"a" * BUFFER_MAX, True),  # beyond the read-ahead: a thread reads on
    (HEAD + b"Content-Length: 99999999999\r\n\r\n" + b"a" * 10, False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", True),
    (b"x" * BUFFER_MAX, True),  # a head that long is the parser's to refuse
])
def test_request_complete(data: bytes, complete: bool) -> None:
    assert request_complete(data) is complete
