"""The debugger and reloader are refused on Google's hosts, whatever the configuration says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework import App
from framework.debug import DebuggerRefused, check_debug_allowed
from tests.support.procs import REPO_ROOT

GOOGLE_ENVS = [{"GAE_ENV": "standard"}, {"K_SERVICE": "my-service"}]


@pytest.mark.parametrize("env", GOOGLE_ENVS)
def test_check_refuses_on_google_hosts(env: dict[str, str]) -> None:
    with pytest.raises(DebuggerRefused, match="debugger"):
        check_debug_allowed(True, False, env)
    with pytest.raises(DebuggerRefused, match="reloader"):
        check_debug_allowed(False, True, env)
    check_debug_allowed(False, False, env)


def test_check_allows_locally() -> None:
    check_debug_allowed(True, True, {})
    check_debug_allowed(True, True, {"GAE_ENV": "localdev"})


@pytest.mark.parametrize("env", GOOGLE_ENVS)
@pytest.mark.parametrize(
    ("config_debug", "kwargs"),
    [(False, {"debug": True}), (True, {}), (False, {"use_debugger": True}), (False, {"use_reloader": True})],
)
def test_app_run_refused(monkeypatch: pytest.MonkeyPatch, env: dict, config_debug: bool, kwargs: dict) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FRAMEWORK_RUN_FROM_CLI", raising=False)
    app = App(__name__)
    app.config["DEBUG"] = config_debug
    with pytest.raises(DebuggerRefused, match="Google"):
        app.run(port=1, load_dotenv=False, **kwargs)  # refused before anything binds


@pytest.mark.parametrize("args", [["--debug", "run"], ["run", "--debug"], ["run", "--debugger"], ["run", "--reload"]])
def test_cli_run_refused(tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FRAMEWORK_APP", "FRAMEWORK_DEBUG")}
    env.update(K_SERVICE="svc", FRAMEWORK_SKIP_DOTENV="1", PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "framework", "--app", "main:app", *args, "--port", "1"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Refusing to start" in done.stderr and "Google" in done.stderr
    assert "Serving" not in done.stdout
