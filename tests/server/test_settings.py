"""framework.server's choices, computed from the environment: which server, its size, its logging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework import server
from tests.support.procs import REPO_ROOT


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({"GAE_ENV": "standard"}, "granian"),
        ({"K_SERVICE": "web"}, "granian"),
        ({"GAE_ENV": "localdev"}, "granian"),  # behind the local runner's front end
        ({}, "gunicorn"),  # a direct run: clients reach the server itself
        ({"GAE_ENV": "standard", "FRAMEWORK_SERVER": "gunicorn"}, "gunicorn"),
        ({"FRAMEWORK_SERVER": " Granian "}, "granian"),
        ({"FRAMEWORK_SERVER": "nginx"}, "gunicorn"),  # unknown: the automatic choice
    ],
)
def test_server_choice(env: dict[str, str], chosen: str) -> None:
    assert server.choose_server(env) == chosen


@pytest.mark.parametrize(("memory", "workers"), [(None, 1), (256, 1), (384, 1), (768, 2), (1536, 4), (3072, 4)])
def test_appengine_workers_follow_the_class_memory(memory: int | None, workers: int) -> None:
    assert server.appengine_workers(memory) == workers


def test_f2_instance() -> None:
    s = server.compute_settings({"GAE_ENV": "standard", "GAE_MEMORY_MB": "768", "PORT": "8081",
                                 "GOOGLE_CLOUD_PROJECT": "proj"}, 8)
    assert (s.host, s.port) == ("0.0.0.0", 8081)
    # App Engine's default max_concurrent_requests (10) over 2 workers, never below the per-worker floor.
    assert (s.workers, s.threads) == (2, server.MIN_THREADS)
    assert s.kill_timeout < 2  # in-flight requests and on_stop fit App Engine's SIGTERM -> SIGKILL window
    assert s.access_log is False and s.json_logs is True and s.project == "proj"
    assert s.http2 is False  # App Engine's front end speaks HTTP/1.1 to the app


def test_workers_never_exceed_the_cpus() -> None:
    s = server.compute_settings({"GAE_ENV": "standard", "GAE_MEMORY_MB": "3072"}, 2)
    assert s.workers == 2


def test_threads_cover_max_concurrent_requests(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("runtime: python312\nautomatic_scaling:\n  max_concurrent_requests: 80  # io\n")
    assert server.app_yaml_concurrency(tmp_path) == 80
    s = server.compute_settings({"GAE_ENV": "standard", "GAE_MEMORY_MB": "768"}, 2, tmp_path)
    assert (s.workers, s.threads) == (2, 40)
    env = {"GAE_ENV": "standard", "GAE_MEMORY_MB": "768", "FRAMEWORK_MAX_CONCURRENT_REQUESTS": "1000"}
    assert server.compute_settings(env, 2, tmp_path).threads == server.MAX_THREADS  # the variable wins, capped


def test_app_yaml_without_the_setting_or_missing(tmp_path: Path) -> None:
    assert server.app_yaml_concurrency(tmp_path) is None
    (tmp_path / "app.yaml").write_text("runtime: python312\n# max_concurrent_requests: 50\n")
    assert server.app_yaml_concurrency(tmp_path) is None


def test_cloud_run_and_local() -> None:
    run = server.compute_settings({"K_SERVICE": "web", "PORT": "9000"}, 4)
    assert (run.host, run.port, run.workers, run.threads) == ("0.0.0.0", 9000, 4, 20)  # 80 concurrent over 4 CPUs
    assert run.kill_timeout > 2 and run.access_log is False and run.http2 is True  # h2c when asked end to end
    local = server.compute_settings({}, 8)
    assert (local.host, local.port, local.workers) == ("127.0.0.1", 8080, 1)
    assert local.access_log is True and local.json_logs is False
    assert server.compute_settings({"GAE_ENV": "localdev"}, 8).access_log is False  # the runner logs requests


def test_overrides_and_bad_values() -> None:
    env = {"GAE_ENV": "standard", "HOST": "[::1]", "PORT": "7000", "WEB_CONCURRENCY": "3",
           "FRAMEWORK_SERVER_THREADS": "5", "GUNICORN_READ_TIMEOUT": "2.5", "GUNICORN_LOG_LEVEL": "warning"}
    s = server.compute_settings(env, 2)
    assert (s.host, s.port, s.workers, s.threads, s.read_timeout_ms, s.log_level) == ("::1", 7000, 3, 5, 2500,
                                                                                     "warning")
    bad = server.compute_settings({"PORT": "http", "WEB_CONCURRENCY": "-2", "GUNICORN_READ_TIMEOUT": "soon",
                                   "GUNICORN_LOG_LEVEL": "loud"}, 2)
    assert (bad.port, bad.workers, bad.read_timeout_ms, bad.log_level) == (8080, 1, 30_000, "info")
    assert server.compute_settings({"GUNICORN_READ_TIMEOUT": "600"}, 2).read_timeout_ms == 60_000  # granian's max


def test_log_config_is_cloud_logging_json_exactly_when_the_app_logs_json() -> None:
    on_google = server.compute_settings({"GAE_ENV": "standard", "GOOGLE_CLOUD_PROJECT": "p"}, 2)
    config = server.log_config(on_google)
    assert config is not None
    assert config["handlers"]["cloud_logging"]["project"] == "p"
    assert config["loggers"]["_granian"]["handlers"] == ["cloud_logging"]
    assert config["loggers"]["_granian"]["propagate"] is False  # not twice through the app's root handler
    assert server.log_config(server.compute_settings({}, 2)) is None
    assert server.log_config(server.compute_settings({"FRAMEWORK_LOG_FORMAT": "json"}, 2)) is not None


def test_request_shaped_variables_leave_the_process_environment() -> None:
    env = {"HTTP_PROXY": "http://proxy:3128", "HTTP_X_APPENGINE_USER_IP": "1.2.3.4", "SCRIPT_NAME": "/x",
           "CONTENT_LENGTH": "5", "PORT": "8080", "PATH": "/bin", "http_proxy": "http://mine:1"}
    removed = server.scrub_request_variables(env)
    assert sorted(removed) == ["CONTENT_LENGTH", "HTTP_PROXY", "HTTP_X_APPENGINE_USER_IP", "SCRIPT_NAME"]
    assert env == {"PORT": "8080", "PATH": "/bin", "http_proxy": "http://mine:1"}  # a set lower-case one is kept
    moved = {"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "http://p:2"}  # HTTPS_ is no header's name
    server.scrub_request_variables(moved)
    assert moved == {"http_proxy": "http://p:1", "HTTPS_PROXY": "http://p:2"}


def test_gunicorn_command_uses_the_apps_config(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text("workers = 1\n")
    assert server.gunicorn_command("main:app", tmp_path)[-3:] == ["-c", str(tmp_path / "gunicorn.conf.py"), "main:app"]
    shipped = server.gunicorn_command("main:app", tmp_path / "elsewhere")
    assert shipped[-3:] == ["-c", str(REPO_ROOT / "gunicorn.conf.py"), "main:app"]


def test_command_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FRAMEWORK_SERVER"}
    direct = subprocess.run([sys.executable, "-m", "framework.server", "--print-settings", "main:app"],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert direct.returncode == 0 and "-m gunicorn -c" in direct.stdout, direct.stderr
    bad = subprocess.run([sys.executable, "-m", "framework.server", "main"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "must be MODULE:ATTRIBUTE, e.g. main:app" in bad.stderr
