"""Request.get_data reads a body of known size from wsgi.input directly: every outcome (bytes, errors
with their messages, the stream left behind, form parsing after it, the keep-alive verdict) must be
what werkzeug's own get_data over the same guarded stream gives."""

from __future__ import annotations

import io
import logging
import typing as t

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as WerkzeugRequest

from framework import App, request
from framework.keepalive import body_left_unread
from framework.wrappers import Request

BODY = b'{"name": "Ada", "tags": ["math", "engines"], "age": 36}'


class Trickle(io.RawIOBase):
    """A server input handing out at most `step` bytes per read (a slow client)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        size = len(self._data) if size is None or size < 0 else size
        chunk = self._data[self._pos:self._pos + min(size, self._step)]
        self._pos += len(chunk)
        return chunk


class Broken:
    """A server input whose read fails the way servers fail on a malformed body."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


class ByteArrayInput(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        return bytearray(super().read(size))  # type: ignore[return-value]


def _environ(body: t.Any, length: str | None, **extra: t.Any) -> dict[str, t.Any]:
    environ: dict[str, t.Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body) if isinstance(body, bytes) else body,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    environ.update(extra)
    return environ


def _outcome(read: t.Callable[[], t.Any]) -> tuple[t.Any, ...]:
    try:
        return ("ok", read())
    except HTTPException as e:
        return (type(e), e.code, e.description)
    except Exception as e:
        return (type(e), str(e))


INPUTS: dict[str, t.Callable[[], tuple[t.Any, str | None, dict[str, t.Any]]]] = {
    "whole": lambda: (BODY, str(len(BODY)), {}),
    "empty": lambda: (b"", "0", {}),
    "shorter than declared": lambda: (BODY, str(len(BODY) + 10), {}),
    "nothing though declared": lambda: (b"", "12", {}),
    "longer than declared": lambda: (BODY, "10", {}),
    "in small pieces": lambda: (Trickle(BODY, 7), str(len(BODY)), {}),
    "bytearray reads": lambda: (ByteArrayInput(BODY), str(len(BODY)), {}),
    "os error": lambda: (Broken(ConnectionResetError("reset by peer")), str(len(BODY)), {}),
    "value error": lambda: (Broken(ValueError("I/O operation on closed file")), str(len(BODY)), {}),
    "server's own error": lambda: (Broken(RuntimeError("bad chunk size")), str(len(BODY)), {}),
    "over the limit": lambda: (BODY, str(len(BODY)), {"limit": 10}),
    "at the limit": lambda: (BODY, str(len(BODY)), {"limit": len(BODY)}),
    "bad length": lambda: (BODY, "abc", {}),
    "negative length": lambda: (BODY, "-5", {}),
    "spaced length": lambda: (BODY, f" {len(BODY)}", {}),
    "no length": lambda: (BODY, None, {}),
    "chunked": lambda: (BODY, None, {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}),
    "big": lambda: (b"x" * 200_000, "200000", {}),
}


def _pair(app: App, name: str) -> tuple[Request, Request]:
    requests = []
    for _ in range(2):
        body, length, extra = INPUTS[name]()
        limit = extra.pop("limit", None)
        request = Request(_environ(body, length, **extra))
        if limit is not None:
            request.max_content_length = limit
        requests.append(request)
    return requests[0], requests[1]


@pytest.mark.parametrize("name", sorted(INPUTS))
@pytest.mark.parametrize("cache", [True, False])
def test_get_data_as_werkzeug_reads_it(app: App, name: str, cache: bool, caplog: pytest.LogCaptureFixture) -> None:
    with app.app_context():
        ours, theirs = _pair(app, name)
        caplog.set_level(logging.WARNING)
        got = _outcome(lambda: ours.get_data(cache=cache))
        our_logs = [r.getMessage() for r in caplog.records if r.name == app.logger.name]
        caplog.clear()
        expected = _outcome(lambda: WerkzeugRequest.get_data(theirs, cache=cache))
        assert got == expected
        assert our_logs == [r.getMessage() for r in caplog.records if r.name == app.logger.name]
        if got[0] == "ok":
            assert type(got[1]) is bytes
            # what is left behind: a second read, the stream, form parsing, the keep-alive verdict
            assert _outcome(ours.get_data) == _outcome(lambda: WerkzeugRequest.get_data(theirs))
            assert ours.stream.read() == theirs.stream.read() == b""
            assert ours.form == theirs.form
            assert body_left_unread(ours) == body_left_unread(theirs)


def test_the_server_is_asked_for_what_werkzeug_asks(app: App) -> None:
    with app.app_context():
        ours, theirs = _pair(app, "in small pieces")
        assert ours.get_data() == WerkzeugRequest.get_data(theirs) == BODY
        assert ours.environ["wsgi.input"].asked == theirs.environ["wsgi.input"].asked


def test_as_text(app: App) -> None:
    with app.app_context():
        request = Request(_environ(b"caf\xc3\xa9 \xff", "7"))
        assert request.get_data(as_text=True) == "café \ufffd"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"a": 1}', {}, 200),
        (b'{"a": ', {}, 400),
        (b"[" * 4_000 + b"]" * 4_000, {}, 400),
        (b"x" * 50, {"Content-Type": "text/plain"}, 415),
        (b'{"a": "' + b"x" * 10_000 + b'"}', {}, 413),
    ],
)
def test_get_json_statuses(app: App, body: bytes, headers: dict[str, str], status: int) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000

    @app.post("/j")
    def j() -> dict[str, t.Any]:
        return {"got": request.get_json()}

    rv = app.test_client().post("/j", data=body, headers={"Content-Type": "application/json", **headers})
    assert rv.status_code == status


def test_is_json_agrees_with_werkzeug() -> None:
    for ctype in ["application/json", "application/JSON", "application/json; charset=utf-8",
                  "application/problem+json", "text/json", "", None]:
        extra = {} if ctype is None else {"CONTENT_TYPE": ctype}
        environ = _environ(b"", "0", **extra)
        if ctype is None:
            del environ["CONTENT_TYPE"]
        assert Request(environ).is_json == WerkzeugRequest(dict(environ)).is_json, ctype
