"""app.yaml's entrypoint (`python -m framework.server`) as real processes, on the server it runs on Google's hosts.

SIGTERM runs @app.on_stop in every worker and drains in-flight requests; every line (the server's and the
app's) is Cloud Logging JSON, the app's tied to the trace; $PORT; a weak SECRET_KEY stops it before any
request; no client header or process variable becomes SCRIPT_NAME or a header; slow request heads hold
nothing; a real Flask app and a plain WSGI callable are served, streams unbuffered; run directly it is gunicorn.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, Server, free_port, run_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

APPS = Path(__file__).parent / "apps"
APPENGINE = {"GAE_ENV": "standard", "GAE_MEMORY_MB": "768", "GOOGLE_CLOUD_PROJECT": "my-proj", "HOST": "127.0.0.1",
             "GAE_SERVICE": "default", "GAE_VERSION": "v1", "GAE_INSTANCE": "i1", "GAE_RUNTIME": "python312"}
STRONG_KEY = "k3Jq9vX2mP7tR4wZ8yB1nC6fH0sL5gD2aE9uQ"


@contextlib.contextmanager
def entrypoint(app: str, tmp_path: Path, env: dict[str, str]) -> Iterator[Server]:
    """`python -m framework.server app` from the test apps' folder, on a free $PORT."""
    port = free_port()
    cmd = [sys.executable, "-m", "framework.server", app]
    full_env = {"PORT": str(port), "PYTHONPATH": f"{APPS}:{REPO_ROOT}", "GAE_ENV": "", "K_SERVICE": "",
                "FRAMEWORK_SERVER": "", **env}
    with run_server(cmd, port=port, tmp_path=tmp_path, env=full_env, cwd=APPS) as server:
        yield server


def _get(server: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_for(predicate: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigterm_runs_on_stop_in_every_worker_and_every_line_is_json(tmp_path: Path) -> None:
    record = tmp_path / "stops.txt"
    env = {**APPENGINE, "STOP_RECORD": str(record), "TEST_SECRET_KEY": STRONG_KEY}
    with entrypoint("fw_app:app", tmp_path, env) as server:
        trace = "0123456789abcdef0123456789abcdef/42;o=1"
        assert _get(server, "/logged", {"X-Cloud-Trace-Context": trace}) == (200, b"logged")
        _wait_for(lambda: server.log().count("Started worker-") == 2, "both workers (F2: 2)")
        assert not record.exists()
        server.proc.send_signal(signal.SIGTERM)  # what App Engine sends, 2 s before SIGKILL
        assert server.proc.wait(timeout=30) == 0
        log = server.log()

    entries = [json.loads(line) for line in log.splitlines() if line.strip()]  # no plain-text line at all
    messages = [e["message"] for e in entries]
    workers = sorted(m.rsplit(" ", 1)[1] for m in messages if m.startswith("Spawning worker-"))
    assert len(workers) == 2
    assert sorted(record.read_text().split()) == workers  # each worker ran the handler once
    assert sorted(m.rsplit(" ", 1)[1] for m in messages if m.startswith("stop handler ran in ")) == workers
    assert not any("refused to gracefully stop" in m for m in messages)  # done inside the kill timeout (1 s)
    view_line = next(e for e in entries if e["message"] == "a line from the view")
    assert view_line["severity"] == "WARNING"
    assert view_line["logging.googleapis.com/trace"] == "projects/my-proj/traces/0123456789abcdef0123456789abcdef"
    server_lines = [e for e in entries if e["logger"].startswith("_granian")]
    assert any(e["message"].startswith("Listening at: http://127.0.0.1:") for e in server_lines)
    assert all(e["severity"] in ("INFO", "DEBUG") for e in server_lines)  # its thread-count warning is dropped
    assert not any("GET /logged" in m for m in messages)  # no access log: the platform writes the request log


def test_sigterm_drains_a_request_in_flight(tmp_path: Path) -> None:
    """The answer to a request that is running when SIGTERM arrives still reaches its client whole."""
    gate = tmp_path / "gate"
    record = tmp_path / "stops.txt"
    # Cloud Run's settings: the same shutdown path, with room (8 s) for a loaded test machine.
    env = {"K_SERVICE": "web", "HOST": "127.0.0.1", "STOP_RECORD": str(record), "WEB_CONCURRENCY": "1",
           "FRAMEWORK_LOG_FORMAT": "text"}
    answers: list[tuple[int, bytes]] = []
    with entrypoint("fw_app:app", tmp_path, env) as server:
        client = threading.Thread(target=lambda: answers.append(_get(server, f"/wait?gate={gate}")))
        client.start()
        _wait_for(Path(str(gate) + ".started").exists, "the request to start")
        server.proc.send_signal(signal.SIGTERM)
        _wait_for(lambda: "Shutting down granian" in server.log(), "the shutdown to begin")
        assert answers == []  # still in flight while the worker drains
        gate.touch()
        client.join(30)
        assert server.proc.wait(timeout=30) == 0
    assert answers == [(200, b"finished after the gate opened")]
    assert len(record.read_text().split()) == 1  # and then on_stop ran


def test_a_weak_secret_key_stops_it_before_any_request(tmp_path: Path) -> None:
    port = free_port()
    env = {**APPENGINE, "PORT": str(port), "PYTHONPATH": f"{APPS}:{REPO_ROOT}", "STOP_RECORD": str(tmp_path / "s"),
           "TEST_SECRET_KEY": "dev", "TEST_SECRET_KEY_REQUIRED": "1"}
    done = subprocess.run([sys.executable, "-m", "framework.server", "fw_app:app"], cwd=APPS, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    critical = [json.loads(line) for line in done.stderr.splitlines() + done.stdout.splitlines()
                if '"CRITICAL"' in line]
    assert critical and "SECRET_KEY" in critical[0]["message"], done.stderr + done.stdout


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"GAE_ENV": "localdev", "SCRIPT_NAME": "/from-env", "HTTP_X_FROM_ENV": "1", "CONTENT_TYPE": "text/evil",
           "GUNICORN_READ_TIMEOUT": "1.5"}
    with entrypoint("plain_wsgi:app", tmp_path_factory.mktemp("plain"), env) as server:
        yield server


def test_no_client_header_or_process_variable_becomes_script_name_or_a_header(plain: Server) -> None:
    status, body = _get(plain, "/evil/page", {"SCRIPT_NAME": "/evil", "PATH_INFO": "/other"})
    report = json.loads(body)
    assert status == 200 and (report["script_name"], report["path_info"]) == ("", "/evil/page")
    assert "HTTP_X_FROM_ENV" not in report["http_keys"] and report["content_type"] is None
    assert "SERVER_SOFTWARE" not in report["http_keys"]


def test_slow_request_heads_hold_no_thread_and_time_out(plain: Server) -> None:
    """Forty clients trickling or withholding their request heads, against 16 threads: others are answered,
    and a head that never completes is dropped after GUNICORN_READ_TIMEOUT."""
    socks = []
    try:
        for i in range(40):
            sock = socket.create_connection((plain.host, plain.port), timeout=10)
            if i % 2:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            socks.append(sock)
        for _ in range(10):
            status, body = _get(plain, "/fine")
            assert status == 200 and json.loads(body)["path_info"] == "/fine"
        closed = socks[1].recv(100)  # blocks until the server gives up on this head
        assert closed == b""
    finally:
        for sock in socks:
            sock.close()


def test_a_real_flask_app_with_a_streamed_response(tmp_path: Path) -> None:
    with entrypoint("flask_app:app", tmp_path, {"GAE_ENV": "localdev"}) as server:
        status, body = _get(server, "/", {"User-Agent": "probe"})
        assert status == 200 and json.loads(body) == {"framework": "flask", "agent": "probe"}
        assert _get(server, "/page") == (200, b"<p>a, b</p>")
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.request("GET", "/stream")
        response = conn.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"  # sent as produced, not buffered whole
        assert response.read() == b"part 0\npart 1\npart 2\n"
        conn.close()


def test_run_directly_it_is_gunicorn_with_the_buffering_worker(tmp_path: Path) -> None:
    with entrypoint("plain_wsgi:app", tmp_path, {}) as server:
        assert _get(server, "/")[0] == 200
        log = server.log()
    assert "Using worker: framework.adapters.gunicorn_worker.BufferingThreadWorker" in log


def test_workers_started_by_spawn_serve_and_stop_alike(tmp_path: Path) -> None:
    """Where granian spawns its workers instead of forking them (Python 3.14's default on Linux), they load
    the app, serve it and run on_stop the same way."""
    record = tmp_path / "stops.txt"
    port = free_port()
    code = ("import multiprocessing, sys; multiprocessing.set_start_method('spawn'); "
            "from framework.server import main; sys.exit(main(['fw_app:app']))")
    env = {"PORT": str(port), "PYTHONPATH": f"{APPS}:{REPO_ROOT}", "GAE_ENV": "localdev", "K_SERVICE": "",
           "FRAMEWORK_SERVER": "", "STOP_RECORD": str(record)}
    with run_server([sys.executable, "-c", code], port=port, tmp_path=tmp_path, env=env, cwd=APPS) as server:
        status, body = _get(server, "/")
        assert status == 200 and json.loads(body)["pid"] != server.proc.pid  # answered by a worker process
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
    assert record.read_text().split() == [str(json.loads(body)["pid"])]


def _exchange(server: Server, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes (then, with `half_close`, close our sending side), read the whole answer."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_a_body_cut_short_is_a_400_not_a_shorter_body(tmp_path: Path) -> None:
    """granian ends a body whose client stopped early as if it were complete; the framework's app still answers
    400 (its declared length is enforced), while whole bodies, declared or chunked, arrive whole."""
    env = {"GAE_ENV": "localdev", "STOP_RECORD": str(tmp_path / "stops.txt")}
    with entrypoint("fw_app:app", tmp_path, env) as server:
        head = b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        cut = _exchange(server, head + b"Content-Length: 10\r\n\r\nabcde", half_close=True)
        assert cut.startswith(b"HTTP/1.1 400 "), cut
        whole = _exchange(server, head + b"Content-Length: 5\r\n\r\nabcde")
        assert whole.startswith(b"HTTP/1.1 200 ") and whole.endswith(b"got 5 bytes"), whole
        chunked = _exchange(server, head + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        assert chunked.startswith(b"HTTP/1.1 200 ") and chunked.endswith(b"got 5 bytes"), chunked
        assert "the body ended before its Content-Length" in server.log()
