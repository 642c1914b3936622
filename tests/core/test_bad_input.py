"""Malformed requests get a 4xx, never a 500 (in-process and through a real gunicorn); async views,
hooks and error handlers, and per-request contexts, under gunicorn's worker threads."""

from __future__ import annotations

import io
import socket
import sys
import textwrap
from collections.abc import Iterator
from typing import TypeVar

import pytest

from framework import App, request
from tests.support.procs import REPO_ROOT, Server, free_port, run_server, venv_tool

T = TypeVar("T")


def _app() -> App:
    app = App("bad_input")
    app.config["MAX_CONTENT_LENGTH"] = 1024

    @app.route("/echo/<name>")
    def echo(name: str) -> dict:
        return {"name": name, "args": request.args.to_dict(flat=False)}

    @app.post("/json")
    def json_view() -> dict:
        return {"got": request.get_json()}

    @app.post("/form")
    def form_view() -> dict:
        return {"form": request.form.to_dict()}

    return app


def _call(app: App, path: str, query: str = "", method: str = "GET", body: bytes = b"",
          content_type: str | None = None) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
    }
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    status: list[str] = []
    chunks = app(environ, lambda s, h, e=None: status.append(s))
    data = b"".join(chunks)
    return int(status[0].split()[0]), data


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/echo/\xff\xfe", "", 400),  # invalid UTF-8 bytes in the path (WSGI strings are latin-1)
        ("/\xc3", "", 400),  # truncated UTF-8 sequence
        ("/echo/ok", "\xff\xfe=\xff", 400),  # raw non-UTF-8 bytes in the query
        ("/echo/caf\xc3\xa9", "", 200),  # valid UTF-8 is fine
        ("/echo/ok", "a=%zz", 400),  # a '%' that starts no escape in the query
        ("/echo/ok", "c=%", 400),  # a '%' at the very end
        ("/echo/ok", "a=%25zz&b=%41", 200),  # a literal '%' written as %25 is fine
        ("/echo/ok", "a=%ff%fe", 400),  # escaped bytes that are not UTF-8
        ("/echo/ok", "a=caf%C3%A9", 200),  # escaped UTF-8 is fine
    ],
)
def test_bad_path_or_query_never_500(path: str, query: str, expected: int) -> None:
    status, _ = _call(_app(), path, query)
    assert status == expected


def test_bad_bodies_are_4xx() -> None:
    app = _app()
    assert _call(app, "/json", method="POST", body=b"{oops", content_type="application/json")[0] == 400
    assert _call(app, "/json", method="POST", body=b"\xff", content_type="application/json")[0] == 400
    assert _call(app, "/json", method="POST", body=b"x" * 2000, content_type="application/json")[0] == 413
    assert _call(app, "/json", method="POST", body=b"{}", content_type="text/plain")[0] == 415
    status, _ = _call(app, "/form", method="POST", body=b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
    assert status < 500
    assert _call(app, "/echo/ok", method="BREW")[0] == 405


def _terminated(app: App, path: str, body: bytes, content_type: str | None = None) -> int:
    """POST a body the way a server that de-chunks it (gunicorn) does: no Content-Length, input terminated."""
    rv = app.test_client().open(path, method="POST", input_stream=io.BytesIO(body), content_type=content_type,
                                environ_overrides={"wsgi.input_terminated": True})
    return rv.status_code


def test_streamed_body_over_the_limit_is_413_not_truncated() -> None:
    app = _app()

    @app.post("/data")
    def data() -> dict:
        return {"n": len(request.get_data())}

    assert _terminated(app, "/data", b"x" * 1024) == 200
    assert app.test_client().open("/data", method="POST", input_stream=io.BytesIO(b"x" * 1024),
                                  environ_overrides={"wsgi.input_terminated": True}).json == {"n": 1024}
    assert _terminated(app, "/data", b"x" * 1025) == 413
    assert _terminated(app, "/json", b"[" + b"1," * 600 + b"1]", "application/json") == 413
    assert _terminated(app, "/form", b"a=" + b"b" * 2000, "application/x-www-form-urlencoded") == 413
    assert _terminated(app, "/form", b"a=b", "application/x-www-form-urlencoded") == 200


def test_streamed_body_read_in_pieces_up_to_the_limit() -> None:
    """Exactly `MAX_CONTENT_LENGTH` bytes read piece by piece end normally; one more byte is a 413."""
    app = _app()

    @app.post("/pieces")
    def pieces() -> dict:
        total = 0
        while chunk := request.stream.read(300):
            total += len(chunk)
        return {"n": total}

    client = app.test_client()
    for size, expected in ((1000, 200), (1024, 200), (1025, 413), (5000, 413)):
        rv = client.open("/pieces", method="POST", input_stream=io.BytesIO(b"x" * size),
                         environ_overrides={"wsgi.input_terminated": True})
        assert rv.status_code == expected, size
        if expected == 200:
            assert rv.json == {"n": size}


def test_json_nested_too_deeply_is_400() -> None:
    app = _app()
    app.config["MAX_CONTENT_LENGTH"] = None

    @app.post("/silent")
    def silent() -> dict:
        return {"got": request.get_json(silent=True)}

    deep = b"[" * 100_000 + b"]" * 100_000
    assert _call(app, "/json", method="POST", body=deep, content_type="application/json")[0] == 400
    assert _call(app, "/silent", method="POST", body=deep, content_type="application/json") == (200, b'{"got":null}\n')
    fine = b"[" * 50 + b"]" * 50
    assert _call(app, "/json", method="POST", body=fine, content_type="application/json")[0] == 200


APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import io
    from urllib.parse import quote

    from framework import App, g, request, send_file, session

    app = App("bad_input_server")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    app.secret_key = "a test secret key of some length"

    @app.route("/echo/<name>", methods=["GET", "POST"])
    def echo(name):
        return {"name": name, "args": request.args.to_dict(flat=False), "host": request.host,
                "since": str(request.if_modified_since), "range": str(request.range), "cookies": len(request.cookies)}

    @app.post("/json")
    def json_view():
        return {"got": request.get_json()}

    @app.post("/data")
    def data_view():
        return {"n": len(request.get_data())}

    @app.post("/form")
    def form_view():
        return {"form": request.form.to_dict(), "files": sorted(request.files)}

    @app.post("/pieces")
    def pieces_view():
        total = 0
        while chunk := request.stream.read(300):
            total += len(chunk)
        return {"n": total}

    @app.route("/file")
    def file_view():
        return send_file(io.BytesIO(b"0123456789"), mimetype="text/plain", conditional=True)

    @app.route("/session")
    def session_view():
        return {"keys": sorted(session)}

    @app.before_request
    async def remember():
        await asyncio.sleep(0)
        g.seen = request.path

    @app.after_request
    async def mark(response):
        await asyncio.sleep(0)
        response.headers["X-Async-After"] = quote(g.seen)
        return response

    @app.route("/async/<name>")
    async def async_view(name):
        await asyncio.sleep(0.05)
        return {"name": name, "path": g.seen, "arg": request.args.get("n")}

    @app.route("/async-fail")
    async def async_fail():
        await asyncio.sleep(0)
        raise KeyError("missing")

    @app.route("/crash")
    def crash():
        return 1 / 0

    @app.errorhandler(KeyError)
    async def on_key_error(e):
        await asyncio.sleep(0)
        return {"handled": str(e.args[0]), "path": request.path}, 409
    """
)


def _raw(port: int, payload: bytes) -> tuple[int, bytes]:
    """Send raw bytes on a fresh connection; return the status code and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One gunicorn (gthread) serving APP_SOURCE for the whole module."""
    tmp_path = tmp_path_factory.mktemp("bad_input")
    (tmp_path / "badapp.py").write_text(APP_SOURCE)
    port = free_port()
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
           "--worker-class", "gthread", "--chdir", str(tmp_path), "badapp:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env={"PYTHONPATH": str(REPO_ROOT)},
                    ready_path="/echo/ready") as server:
        yield server
        log = server.log()
    # The only tracebacks are those of /crash, logged by app.logger through the server's error stream.
    assert log.count("Traceback") == log.count("ZeroDivisionError: division by zero"), log


_H = b"Host: 127.0.0.1\r\nConnection: close\r\n"


def _post(path: bytes, body: bytes, headers: bytes = b"") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\n" + _H + headers + b"Content-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


def _chunked(path: bytes, chunks: list[bytes], headers: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    return b"POST " + path + b" HTTP/1.1\r\n" + _H + headers + b"Transfer-Encoding: chunked\r\n\r\n" + body


def _get(target: bytes, headers: bytes = b"", host: bytes = b"127.0.0.1", method: bytes = b"GET") -> bytes:
    return method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n" + headers + b"\r\n"


_JSON = b"Content-Type: application/json\r\n"
_FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"
_MULTI = b"Content-Type: multipart/form-data; boundary=xyz\r\n"
_PART = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n'

BAD_REQUESTS: list[tuple[str, bytes, int]] = [
    ("malformed JSON", _post(b"/json", b"{broken", _JSON), 400),
    ("JSON not UTF-8", _post(b"/json", b"\xff\xfe{\x00", _JSON), 400),
    ("JSON nested too deeply", _post(b"/json", b"[" * 1000, _JSON), 400),
    ("oversized body with Content-Length", _post(b"/json", b"x" * 4096, _JSON), 413),
    ("oversized raw body with Content-Length", _post(b"/data", b"x" * 4096), 413),
    ("chunked body over the limit", _chunked(b"/data", [b"x" * 800] * 3), 413),
    ("chunked JSON over the limit", _chunked(b"/json", [b"[" + b"1," * 400, b"1," * 400 + b"1]"], _JSON), 413),
    ("chunked form over the limit", _chunked(b"/form", [b"a=" + b"b" * 800, b"b" * 800], _FORM), 413),
    ("chunked multipart over the limit", _chunked(b"/form", [_PART + b"a" * 1500], _MULTI), 413),
    ("chunked body within the limit", _chunked(b"/data", [b"hello"]), 200),
    ("invalid Content-Length", _get(b"/data", b"Content-Length: abc\r\n", method=b"POST"), 400),
    ("unknown method", _get(b"/echo/x", method=b"BREW"), 405),
    ("method the route lacks", _get(b"/echo/x", method=b"DELETE"), 405),
    ("invalid percent-encoding in the path", _get(b"/echo/%zz"), 400),
    ("a literal percent sign escaped as %25 in the path", _get(b"/echo/100%25"), 200),
    ("percent-encoded bytes that are not UTF-8 in the path", _get(b"/echo/%ff%fe"), 400),
    ("raw bytes that are not UTF-8 in the path", _get(b"/echo/\xff\xfe"), 400),
    ("invalid percent-encoding in the query", _get(b"/echo/ok?a=%zz&b=%ff&c=%"), 400),
    ("raw bytes that are not UTF-8 in the query", _get(b"/echo/ok?a=\xff\xfe"), 400),
    ("Host with odd characters", _get(b"/echo/ok", host=b"ex\xffample..com:99999<x>"), 200),
    ("Host with spaces and separators", _get(b"/echo/ok", host=b"a b@c/d?e"), 200),
    ("Host with a non-numeric port", _get(b"/echo/ok", host=b"localhost:abc"), 200),
    ("empty Host", _get(b"/echo/ok", host=b""), 200),
    ("huge cookie", _get(b"/echo/ok", b"Cookie: a=" + b"x" * 7000 + b"\r\n"), 200),
    ("huge session cookie", _get(b"/session", b"Cookie: session=" + b"x" * 7000 + b"\r\n"), 200),
    ("garbage session cookie", _get(b"/session", b"Cookie: session=\xff\xfe;;==;\r\n"), 200),
    ("invalid If-Modified-Since", _get(b"/echo/ok", b"If-Modified-Since: not a date 99:99\r\n"), 200),
    ("invalid If-Modified-Since on a file", _get(b"/file", b"If-Modified-Since: Mon, 99 Foo 99999 GMT\r\n"), 200),
    ("invalid Range", _get(b"/echo/ok", b"Range: bytes=zz-\r\n"), 200),
    ("backwards Range on a file", _get(b"/file", b"Range: bytes=9-2\r\n"), 416),
    ("unsatisfiable Range on a file", _get(b"/file", b"Range: bytes=100-200\r\n"), 416),
    ("invalid If-Range on a file", _get(b"/file", b"Range: bytes=0-2\r\nIf-Range: garbage\r\n"), 200),
    ("garbage Accept headers", _get(b"/echo/ok", b"Accept: ;;;q=zz,\xff\r\nAccept-Language: ;;q=\r\n"), 200),
    ("malformed multipart", _post(b"/form", b"--xyz\r\nbroken", _MULTI), 200),
    ("multipart without a boundary", _post(b"/form", b"hello", b"Content-Type: multipart/form-data\r\n"), 200),
    ("multipart part header not UTF-8", _post(b"/form", b"--xyz\r\nContent-Disposition: \xff\r\n\r\na\r\n--xyz--\r\n",
                                                _MULTI), 200),
    ("form body not UTF-8", _post(b"/form", b"a=%ff\xff\xfe", _FORM), 200),
]


def _server_test(func: T) -> T:
    """Mark a test that uses the module's gunicorn (kept on one xdist worker, so one server)."""
    return pytest.mark.slow(pytest.mark.xdist_group("core_bad_input_gunicorn")(func))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("case", "payload", "expected"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
@_server_test
def test_bad_input_through_gunicorn(server: Server, case: str, payload: bytes, expected: int) -> None:
    status, answer = _raw(server.port, payload)
    assert status == expected, answer[:300]
    assert b"Traceback" not in answer


@_server_test
def test_chunked_body_within_limit_arrives_whole(server: Server) -> None:
    for path in (b"/data", b"/pieces"):
        status, answer = _raw(server.port, _chunked(path, [b"x" * 600, b"y" * 424]))
        assert (status, answer.rsplit(b"\r\n\r\n", 1)[1]) == (200, b'{"n":1024}\n')
    assert _raw(server.port, _chunked(b"/pieces", [b"x" * 600, b"y" * 425]))[0] == 413


@_server_test
def test_async_view_hooks_and_handlers_under_gunicorn_threads(server: Server) -> None:
    import json
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def fetch(i: int) -> tuple[dict, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/async/u{i}?n={i}", timeout=10) as resp:
            return json.loads(resp.read()), resp.headers["X-Async-After"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(8)))
    assert results == [({"name": f"u{i}", "path": f"/async/u{i}", "arg": str(i)}, f"/async/u{i}") for i in range(8)]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/async-fail", timeout=10)
    assert info.value.code == 409
    assert json.loads(info.value.read()) == {"handled": "missing", "path": "/async-fail"}
    assert info.value.headers["X-Async-After"] == "/async-fail"


@_server_test
def test_unhandled_error_is_a_plain_500_with_the_traceback_in_the_log(server: Server) -> None:
    status, answer = _raw(server.port, _get(b"/crash"))
    assert status == 500
    assert b"Internal Server Error" in answer
    assert b"ZeroDivisionError" not in answer and b"Traceback" not in answer
    log = server.log()
    assert "Exception on /crash [GET]" in log and "ZeroDivisionError: division by zero" in log


def _server_cmd(host: str, port: int, folder: str) -> list[str]:
    if host == "gunicorn-sync":
        return [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--chdir", folder, "badapp:app"]
    code = ("import badapp; from werkzeug.serving import run_simple;"
            f" run_simple('127.0.0.1', {port}, badapp.app, threaded=True)")
    return [sys.executable, "-c", code]


@pytest.mark.slow
@pytest.mark.parametrize("host", ["gunicorn-sync", "werkzeug-threaded"])
def test_async_view_hooks_and_handlers_under_other_servers(tmp_path, host: str) -> None:
    """The same async app under a sync gunicorn worker and werkzeug's threaded server."""
    import json
    import urllib.error
    import urllib.request

    (tmp_path / "badapp.py").write_text(APP_SOURCE)
    port = free_port()
    env = {"PYTHONPATH": f"{tmp_path}:{REPO_ROOT}"}
    with run_server(_server_cmd(host, port, str(tmp_path)), port=port, tmp_path=tmp_path, env=env,
                    cwd=tmp_path, ready_path="/echo/ready") as server:
        with urllib.request.urlopen(f"{server.url}/async/a?n=1", timeout=10) as resp:
            assert json.loads(resp.read()) == {"name": "a", "path": "/async/a", "arg": "1"}
            assert resp.headers["X-Async-After"] == "/async/a"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.url}/async-fail", timeout=10)
        assert info.value.code == 409
        assert json.loads(info.value.read()) == {"handled": "missing", "path": "/async-fail"}


@_server_test
def test_body_without_length_or_chunking_is_not_read(server: Server) -> None:
    """HTTP/1.1: a request with neither Content-Length nor chunked encoding has no body (nothing to 413)."""
    payload = b"POST /data HTTP/1.1\r\n" + _H + b"\r\n" + b"x" * 5000
    status, answer = _raw(server.port, payload)
    assert (status, answer.split(b"\r\n\r\n", 1)[1]) == (200, b'{"n":0}\n')


def test_body_without_length_in_process_is_empty() -> None:
    app = _app()

    @app.post("/data")
    def data() -> dict:
        return {"n": len(request.get_data())}

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/data", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"x" * 5000), "wsgi.errors": sys.stderr}
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    assert (status, body) == (["200 OK"], b'{"n":0}\n')
