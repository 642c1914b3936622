"""`python -m deploy.local_server` (make run): its command line, the services' environment, the sample app.

app.yaml's own checks live with the config loaders (tests/deploy/config); the front end's behaviour is
tested on fixture apps in tests/local.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deploy.config.app_yaml import load_app_yaml
from deploy.local.services import DEFAULT_ENTRYPOINT, loopback_entrypoint, service_environment
from deploy.local.venvs import KIT_BIN
from tests.support.procs import REPO_ROOT, free_port, run_server


def test_service_environment(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(
        "runtime: python311\nservice: api\ninstance_class: F2\nenv_variables:\n  MODE: dev\n  KEEP: yaml\n")
    config = load_app_yaml(tmp_path / "api.yaml")
    base = {"KEEP": "shell", "GAE_ENV": "standard", "GAE_SERVICE": "leaked", "PATH": "/usr/bin"}
    env = service_environment(config, base, port=4321, bin_dir=KIT_BIN,
                              shared={"DATASTORE_EMULATOR_HOST": "127.0.0.1:1", "LOCAL_PLATFORM_TOKEN": "t"})
    assert env["GAE_ENV"] == "localdev"  # never "standard": the app must know it is not deployed
    assert (env["GAE_SERVICE"], env["GAE_RUNTIME"], env["GAE_VERSION"]) == ("api", "python311", "local")
    assert env["GAE_MEMORY_MB"] == "768" and env["PORT"] == "4321" and env["HOST"] == "127.0.0.1"
    assert env["GOOGLE_CLOUD_PROJECT"] == "local-project" and env["GAE_APPLICATION"] == "dev~local-project"
    assert env["MODE"] == "dev" and env["KEEP"] == "shell"  # the shell wins over env_variables
    assert env["DATASTORE_EMULATOR_HOST"] == "127.0.0.1:1" and env["LOCAL_PLATFORM_TOKEN"] == "t"
    assert env["PATH"].split(os.pathsep)[0] == str(KIT_BIN)
    other = service_environment(config, base, port=1, bin_dir=KIT_BIN, shared={})
    assert other["GAE_INSTANCE"] != env["GAE_INSTANCE"]


@pytest.mark.parametrize(
    ("entrypoint", "expected"),
    [
        ("gunicorn -b :$PORT main:app", "gunicorn -b 127.0.0.1:$PORT main:app"),
        ("gunicorn --bind=0.0.0.0:${PORT} main:app", "gunicorn --bind=127.0.0.1:${PORT} main:app"),
        ("gunicorn -b [::]:$PORT -w 2 main:app", "gunicorn -b 127.0.0.1:$PORT -w 2 main:app"),
        ("gunicorn -c gunicorn.conf.py main:app", "gunicorn -c gunicorn.conf.py main:app"),
        ("python serve.py --port $PORT", "python serve.py --port $PORT"),
    ],
)
def test_entrypoints_bind_loopback_only(entrypoint: str, expected: str) -> None:
    assert loopback_entrypoint(entrypoint) == expected
    assert "$PORT" in DEFAULT_ENTRYPOINT


@pytest.mark.parametrize("argv", [["--port", "http"], ["--port", "0"], ["--port", "65536"], ["--request-timeout", "-1"]])
def test_bad_command_line_is_a_usage_error(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.local_server", *argv], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


def test_bad_port_variable_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.local_server"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "PORT": "x"})
    assert result.returncode == 2 and "PORT: 'x' is not a TCP port number" in result.stderr


def test_bad_app_yaml_stops_the_runner_with_the_message(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\nentrypoint: [oops\n")
    result = subprocess.run(
        [sys.executable, "-m", "deploy.local_server", "--app-dir", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert f"{tmp_path / 'app.yaml'}:" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_runner_serves_the_sample_app_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    # The sample routes used here do not touch Datastore; an address nobody listens on keeps this test
    # independent of the embedded emulators (tested in tests/ndb and tests/local).
    env = {"DATASTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9"}
    cmd = [sys.executable, "-m", "deploy.local_server", "--no-reload", "--port", str(port)]  # edits elsewhere must not restart it
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env, timeout=90) as server:
        with urllib.request.urlopen(server.url + "/hello/runner", timeout=30) as resp:
            assert json.loads(resp.read()) == {"hello": "runner"}
        # /_ah/stop is accepted from the platform only; through the front end a loopback client counts.
        req = urllib.request.Request(server.url + "/_ah/stop", headers={"X-Appengine-User-IP": "203.0.113.9"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        deadline = time.monotonic() + 30  # printed once the front end answered its own probe
        while f"Serving on http://127.0.0.1:{port}/" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGTERM)  # the runner alone, as `kill PID` would
        assert server.proc.wait(timeout=30) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(server.url + "/", timeout=2)
