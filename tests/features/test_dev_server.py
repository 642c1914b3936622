"""`framework run --debug` and `App.run` on the example blog, with the real werkzeug server on loopback."""

from __future__ import annotations

import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, Server, free_port, run_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dev_server")]

EXAMPLE = REPO_ROOT / "examples" / "blog" / "blogapp"
CRASHY = '''
from blogapp import create_app

app = create_app()


@app.get("/boom")
def boom():
    raise RuntimeError("boom from the example")
'''


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FRAMEWORK_APP", "FRAMEWORK_DEBUG", "FRAMEWORK_RUN_FROM_CLI", "GAE_ENV", "K_SERVICE")}
    env.update(PYTHONPATH=str(REPO_ROOT), FRAMEWORK_SKIP_DOTENV="1")
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the example, plus a module adding a failing route."""
    root = tmp_path_factory.mktemp("blog")
    shutil.copytree(EXAMPLE, root / "blogapp", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "crashy.py").write_text(CRASHY)
    (root / "settings.cfg").write_text("version = 1\n")
    return root


@pytest.fixture(scope="module")
def debug_server(project: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [sys.executable, "-m", "framework", "--app", "crashy", "run", "--debug", "--port", str(port),
           "--extra-files", str(project / "settings.cfg")]
    with run_server(cmd, port=port, tmp_path=project, env=server_env(), cwd=project) as server:
        yield server


def test_debugger_page_for_an_error(debug_server: Server) -> None:
    status, body = fetch(debug_server.url + "/boom")
    assert status == 500
    assert "RuntimeError: boom from the example" in body
    assert "__debugger__" in body and "Werkzeug Debugger" in body and 'class="traceback"' in body
    log = debug_server.log()
    assert "Debugger PIN" in log and "Debug mode: on" in log and "Serving Framework app 'crashy'" in log


def test_reloads_on_code_change(debug_server: Server, project: Path) -> None:
    status, body = fetch(debug_server.url + "/")
    assert status == 200 and "<title>Posts - Framework Blog</title>" in body
    source = project / "blogapp" / "__init__.py"
    source.write_text(source.read_text().replace('BLOG_TITLE="Framework Blog"', 'BLOG_TITLE="Reloaded Blog"'))
    deadline = time.monotonic() + 40
    body = ""
    while time.monotonic() < deadline:
        try:
            status, body = fetch(debug_server.url + "/")
        except (urllib.error.URLError, ConnectionError, OSError):
            status = 0  # the server is restarting
        if status == 200 and "Reloaded Blog" in body:
            break
        time.sleep(0.2)
    assert "<title>Posts - Reloaded Blog</title>" in body, debug_server.log()
    assert "Restarting" in debug_server.log() or "Detected change" in debug_server.log()


def test_extra_files_trigger_a_reload(debug_server: Server, project: Path) -> None:
    extra = project / "settings.cfg"
    wanted = f"Detected change in '{extra}'"
    assert wanted not in debug_server.log()
    deadline = time.monotonic() + 40
    version = 2
    while wanted not in debug_server.log() and time.monotonic() < deadline:
        extra.write_text(f"version = {version}\n")  # rewritten until seen: the poller compares mtimes
        version += 1
        time.sleep(0.5)
    assert wanted in debug_server.log(), debug_server.log()


def test_app_run_without_debug_has_no_debugger(project: Path) -> None:
    port = free_port()
    code = f"from crashy import app; app.run(port={port})"
    with run_server([sys.executable, "-c", code], port=port, tmp_path=project, env=server_env(), cwd=project) as server:
        status, body = fetch(server.url + "/boom")
        assert status == 500
        assert "Internal Server Error" in body and "__debugger__" not in body
        assert "Debug mode: off" in server.log()


def test_run_serves_https_with_adhoc_cert(project: Path) -> None:
    import ssl

    port = free_port()
    cmd = [sys.executable, "-m", "framework", "--app", "crashy", "run", "--cert", "adhoc", "--port", str(port),
           "--no-reload", "--without-threads"]
    with run_server(cmd, port=port, tmp_path=project, env=server_env(), cwd=project, ready_path=None) as server:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/", timeout=10, context=context) as response:
            assert response.status == 200 and "<title>Posts - " in response.read().decode()
        assert "Debug mode: off" in server.log()


def test_watchdog_reloader_restarts_on_change(tmp_path: Path) -> None:
    """`--reloader-type watchdog` (inotify events instead of polling) is used and reloads changed code."""
    app_file = tmp_path / "wapp.py"
    app_file.write_text("from framework import App\napp = App(__name__)\napp.add_url_rule('/', 'i', lambda: 'one')\n")
    port = free_port()
    cmd = [sys.executable, "-m", "framework", "--app", "wapp", "run", "--reload", "--reloader-type", "watchdog",
           "--port", str(port)]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=server_env(), cwd=tmp_path) as server:
        assert fetch(server.url + "/") == (200, "one")
        assert "Restarting with watchdog" in server.log(), server.log()
        app_file.write_text(app_file.read_text().replace("'one'", "'two'"))
        deadline = time.monotonic() + 40
        reply: tuple[int, str] = (0, "")
        while time.monotonic() < deadline:
            try:
                reply = fetch(server.url + "/")
            except (urllib.error.URLError, ConnectionError, OSError):
                reply = (0, "")  # restarting
            if reply == (200, "two"):
                break
            time.sleep(0.2)
        assert reply == (200, "two"), server.log()
        assert f"Detected change in '{app_file}'" in server.log()
