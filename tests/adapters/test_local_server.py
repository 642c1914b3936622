"""`python -m deploy.local_server` (make run): app.yaml checks, environment, and serving the sample app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from deploy.local_server import (
    DEFAULT_ENTRYPOINT,
    AppYamlError,
    local_environment,
    port_setting,
    read_app_yaml,
)
from tests.support.procs import REPO_ROOT, free_port, run_server


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("runtime: python312\nentrypoint: [gunicorn\n", 3, "not valid YAML"),
        ("runtime: python312\n  bad: indent\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "not a mapping"),
        ("service: web\nruntime: python27\n", 2, "not a Python 3 runtime"),
        ("service: web\n", 1, "not a Python 3 runtime"),
        ("runtime: python312\n\nentrypoint: 12\n", 3, "shell command string"),
        ("runtime: python312\nenv_variables:\n  GAE_X: 1\n", 3, "'GAE_X' is not allowed"),
        ("runtime: python312\nenv_variables:\n  A: [1]\n", 3, "not a plain value"),
        ("runtime: python312\nenv_variables: nope\n", 2, "must be a mapping"),
        ("runtime: python312\nbasic_scaling: {max_instances: 1}\nmanual_scaling: {instances: 1}\n", 3,
         "more than one scaling block"),
    ],
)
def test_bad_app_yaml_names_file_line_and_fix(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(AppYamlError) as caught:
        read_app_yaml(path)
    message = str(caught.value.code)
    assert message.startswith(f"{path}:{line}: ")
    assert words in message
    assert "\n  fix: " in message


def test_missing_app_yaml(tmp_path: Path) -> None:
    with pytest.raises(AppYamlError, match=r"app\.yaml:1: cannot read the file"):
        read_app_yaml(tmp_path / "app.yaml")


def test_repository_app_yaml_is_valid() -> None:
    data = read_app_yaml(REPO_ROOT / "app.yaml")
    assert data["entrypoint"].startswith("gunicorn")


def test_local_environment() -> None:
    config = {"runtime": "python311", "service": "api", "env_variables": {"MODE": "dev", "KEEP": "yaml"}}
    env = local_environment({"KEEP": "shell", "GAE_ENV": "standard", "PATH": "/usr/bin"}, config)
    assert env["GAE_ENV"] == "localdev"  # never "standard": the app must know it is not deployed
    assert (env["GAE_SERVICE"], env["GAE_RUNTIME"], env["GAE_VERSION"]) == ("api", "python311", "local")
    assert env["PORT"] == "8080" and env["GOOGLE_CLOUD_PROJECT"] == "local-project"
    assert env["MODE"] == "dev" and env["KEEP"] == "shell"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert "$PORT" in DEFAULT_ENTRYPOINT


def test_port_settings_are_checked() -> None:
    assert local_environment({"PORT": ""})["PORT"] == "8080"  # empty counts as unset
    assert port_setting({"PORT": "8081"}, "PORT") == 8081
    assert port_setting({"FRAMEWORK_DATASTORE_PORT": ""}, "FRAMEWORK_DATASTORE_PORT") is None
    for bad in ("http", "0", "65536", "\u00b2", "-1"):
        with pytest.raises(SystemExit, match="FRAMEWORK_DATASTORE_PORT is .*; set it to a free TCP port"):
            port_setting({"FRAMEWORK_DATASTORE_PORT": bad}, "FRAMEWORK_DATASTORE_PORT")


def test_bad_app_yaml_stops_the_runner_with_the_message(tmp_path: Path) -> None:
    _write(tmp_path, "runtime: python312\nentrypoint: [oops\n")
    result = subprocess.run(
        [sys.executable, "-m", "deploy.local_server", "--app-dir", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert f"{tmp_path / 'app.yaml'}:3: not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_runner_serves_the_sample_app_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    # The sample routes used here do not touch Datastore; an address nobody listens on keeps this test
    # independent of the embedded emulator (tested with the datastore work).
    env = {"PORT": str(port), "DATASTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}
    with run_server([sys.executable, "-m", "deploy.local_server"], port=port, tmp_path=tmp_path, env=env) as server:
        with urllib.request.urlopen(server.url + "/hello/runner", timeout=10) as resp:
            assert json.loads(resp.read()) == {"hello": "runner"}
        # The runner marks App Engine's headers as set by the platform, after dropping the client's.
        req = urllib.request.Request(server.url + "/_ah/stop", headers={"X-Appengine-User-IP": "203.0.113.9"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200  # loopback client, under the local runner
        assert f"http://127.0.0.1:{port}/" in server.log()
        server.proc.send_signal(signal.SIGTERM)  # the runner alone, as `kill PID` would
        assert server.proc.wait(timeout=30) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(server.url + "/", timeout=2)


def test_missing_entrypoint_program_names_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "runtime: python312\n# comment\nentrypoint: no-such-server-xyz -b :$PORT main:app\n")
    env = {**os.environ, "PORT": str(free_port()), "DATASTORE_EMULATOR_HOST": "127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "deploy.local_server", "--app-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 127
    assert f"{tmp_path / 'app.yaml'}:3: the entrypoint program 'no-such-server-xyz' was not found" in result.stderr
