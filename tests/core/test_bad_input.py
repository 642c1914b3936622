"""Malformed requests get a 4xx, never a 500 (in-process and through a real gunicorn); async views and
per-request contexts under gunicorn's worker threads."""

from __future__ import annotations

import io
import socket
import sys
import textwrap

import pytest

from framework import App, request
from tests.support.procs import free_port, run_server, venv_tool


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
        ("/echo/%zz", "", 200),  # a literal '%zz' left by the server is just text
        ("/echo/ok", "a=%zz&b=%ff%fe&c=%", 200),  # bad escapes in the query stay percent-encoded
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


APP_SOURCE = textwrap.dedent(
    """
    import asyncio

    from framework import App, g, request

    app = App("bad_input_server")
    app.config["MAX_CONTENT_LENGTH"] = 1024

    @app.route("/echo/<name>")
    def echo(name):
        return {"name": name, "args": request.args.to_dict(flat=False)}

    @app.post("/json")
    def json_view():
        return {"got": request.get_json()}

    @app.before_request
    def remember():
        g.seen = request.path

    @app.route("/async/<name>")
    async def async_view(name):
        await asyncio.sleep(0.05)
        return {"name": name, "path": g.seen, "arg": request.args.get("n")}
    """
)


def _raw(port: int, payload: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.slow
def test_bad_input_through_gunicorn(tmp_path) -> None:
    (tmp_path / "badapp.py").write_text(APP_SOURCE)
    port = free_port()
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
           "--worker-class", "gthread", "--chdir", str(tmp_path), "badapp:app"]
    from tests.support.procs import REPO_ROOT

    env = {"PYTHONPATH": str(REPO_ROOT)}
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env, ready_path="/echo/ready"):
        host = b"Host: 127.0.0.1\r\nConnection: close\r\n"
        assert _raw(port, b"GET /echo/%zz HTTP/1.1\r\n" + host + b"\r\n") < 500
        assert _raw(port, b"GET /echo/%ff%fe HTTP/1.1\r\n" + host + b"\r\n") == 400
        assert _raw(port, b"GET /echo/ok?a=%zz&b=%ff HTTP/1.1\r\n" + host + b"\r\n") == 200
        body = b"{broken"
        req = (b"POST /json HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert _raw(port, req) == 400
        body = b"x" * 4096
        req = (b"POST /json HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert _raw(port, req) == 413
        assert _raw(port, b"DELETE /echo/x HTTP/1.1\r\n" + host + b"\r\n") == 405
        # async views under a threaded WSGI server: each concurrent request sees only its own context
        import json
        import urllib.request
        from concurrent.futures import ThreadPoolExecutor

        def fetch(i: int) -> dict:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/async/u{i}?n={i}", timeout=10) as resp:
                return json.loads(resp.read())

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(fetch, range(8)))
        assert results == [{"name": f"u{i}", "path": f"/async/u{i}", "arg": str(i)} for i in range(8)]
