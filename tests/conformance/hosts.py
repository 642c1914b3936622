"""The hosts the conformance suite compares, behind one `request()` call, and how replies are normalised.

Normalised away (servers legitimately differ on them): Date and Server, and the hop-by-hop headers
Connection, Keep-Alive and Transfer-Encoding. `Allow` is compared as a set of methods: werkzeug
builds it from a set, so its order follows each process's string hash seed. Everything else (status,
body bytes, every other header with its value and count) must be identical on every host.
"""

from __future__ import annotations

import http.client
import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.procs import REPO_ROOT, run_server, venv_tool

IGNORED_HEADERS = frozenset({"date", "server", "connection", "keep-alive", "transfer-encoding"})
HOST_HEADER = "conf.example:8000"
APP_SOURCE = "tests/conformance/app.py"
# Keep the developer's shell from making a server believe it runs on Google's hosts.
# functions-framework runs from .venv/bin and only adds the source's own directory to sys.path, so the
# repository goes on PYTHONPATH (an editable install would also do).
CLEAN_ENV = {
    "GAE_ENV": "", "K_SERVICE": "", "FUNCTION_NAME": "", "GOOGLE_CLOUD_PROJECT": "", "SCRIPT_NAME": "",
    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
}


@dataclass
class Reply:
    """One HTTP answer, as comparable data."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def normalised(self) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = sorted(
            (k.lower(), ", ".join(sorted(v.split(", "))) if k.lower() == "allow" else v)
            for k, v in self.headers if k.lower() not in IGNORED_HEADERS
        )
        return self.status, headers, self.body


@dataclass
class Host:
    """Something that answers requests: the in-process client or a server over real HTTP."""

    name: str
    url: str | None = None
    client: Any = None
    log: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None,
        *, chunked: bool = False,
    ) -> Reply:
        """Send one request; `path` is the raw (percent-encoded) target, the Host header is fixed.

        With `chunked`, the body goes out with `Transfer-Encoding: chunked` (in-process: as a stream of
        unknown length, which is what a server hands the app after de-chunking).
        """
        all_headers = {"Host": HOST_HEADER, **(headers or {})}
        if self.client is not None:
            return self._in_process(method, path, all_headers, body, chunked)
        with self.open(method, path, all_headers, body, chunked) as response:
            return Reply(response.status, response.getheaders(), response.read())

    @contextmanager
    def open(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None, chunked: bool = False
    ) -> Iterator[http.client.HTTPResponse]:
        """Send a request over HTTP and yield the response unread (for streaming checks)."""
        assert self.url is not None
        host, port = self.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if chunked:
                headers = {**headers, "Transfer-Encoding": "chunked"}
            elif body is not None and "Content-Length" not in headers:
                headers = {**headers, "Content-Length": str(len(body))}
            for name, value in headers.items():
                conn.putheader(name, value.encode("utf-8"))
            conn.endheaders()
            if body is not None:
                conn.send(_chunks(body) if chunked else body)
            yield conn.getresponse()
        finally:
            conn.close()

    def _in_process(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, chunked: bool
    ) -> Reply:
        base_url = f"http://{headers['Host']}"
        if path.startswith("/mounted/"):
            base_url, path = base_url + "/mounted", path.removeprefix("/mounted")
        if chunked:
            response = self.client.open(
                path, method=method, headers=headers, input_stream=io.BytesIO(body or b""), base_url=base_url,
                environ_overrides={"wsgi.input_terminated": True},
            )
        else:
            response = self.client.open(path, method=method, headers=headers, data=body, base_url=base_url)
        try:
            return Reply(response.status_code, list(response.headers.items()), response.get_data())
        finally:
            response.close()


def _chunks(body: bytes, size: int = 65536) -> bytes:
    """`body` in HTTP/1.1 chunked transfer coding."""
    out = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + b"0\r\n\r\n"


@contextmanager
def gunicorn(
    tmp_path: Path, port: int, env: dict[str, str] | None = None, worker: str = "sync"
) -> Iterator[Host]:
    """gunicorn serving `application` (the app and its /mounted copy) with the repository's gunicorn.conf.py,
    as app.yaml's entrypoint runs it, but one worker of the given class (sync, or gthread with 4 threads)."""
    cmd = [venv_tool("gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
           "--worker-class", worker, "tests.conformance.app:application"]
    if worker == "gthread":
        cmd[-1:-1] = ["--threads", "4"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env={**CLEAN_ENV, **(env or {})}, ready_path="/text") as srv:
        yield Host(f"gunicorn-{worker}", url=srv.url, log=srv.log)


@contextmanager
def framework_server(tmp_path: Path, port: int, env: dict[str, str] | None = None) -> Iterator[Host]:
    """app.yaml's entrypoint, `python -m framework.server`, on the server it runs behind a front end
    (granian's WSGI interface), serving `application` with its local settings (one worker)."""
    cmd = [sys.executable, "-m", "framework.server", "tests.conformance.app:application"]
    env = {**CLEAN_ENV, "PORT": str(port), "FRAMEWORK_SERVER": "granian", **(env or {})}
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env,
                    ready_path="/text") as srv:
        yield Host("framework-server", url=srv.url, log=srv.log)


@contextmanager
def functions_framework(
    tmp_path: Path, port: int, target: str = "http_function", env: dict[str, str] | None = None
) -> Iterator[Host]:
    """functions-framework serving one of the app's Cloud Functions entry points."""
    cmd = [venv_tool("functions-framework"), "--target", target, "--source", APP_SOURCE,
           "--host", "127.0.0.1", "--port", str(port)]
    if target == "event_function":
        cmd += ["--signature-type", "cloudevent"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env={**CLEAN_ENV, **(env or {})}, ready_path="/text") as srv:
        yield Host("functions-framework", url=srv.url, log=srv.log)


@contextmanager
def werkzeug_dev_server(tmp_path: Path, port: int) -> Iterator[Host]:
    """werkzeug's development server (threaded) serving `application`."""
    code = ("import sys; from werkzeug.serving import run_simple; from tests.conformance.app import application; "
            "run_simple('127.0.0.1', int(sys.argv[1]), application, threaded=True)")
    cmd = [sys.executable, "-c", code, str(port)]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=CLEAN_ENV, ready_path="/text") as srv:
        yield Host("werkzeug", url=srv.url, log=srv.log)


def in_process() -> Host:
    """The framework's test client on the app (no cookie jar: cookies travel as explicit headers)."""
    from tests.conformance.app import app

    return Host("test-client", client=app.test_client(use_cookies=False))
