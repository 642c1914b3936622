"""Settings computed by gunicorn.conf.py for each host."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.support.procs import REPO_ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", REPO_ROOT / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def conf() -> ModuleType:
    return _load()


@pytest.mark.parametrize(
    ("memory", "workers"),
    [(None, 2), (256, 2), (384, 2), (768, 4), (1536, 8), (3072, 8), (8192, 8)],
)
def test_appengine_workers_follow_instance_memory(conf: ModuleType, memory: int | None, workers: int) -> None:
    assert conf.appengine_workers(memory) == workers


def test_appengine(conf: ModuleType) -> None:
    s = conf.compute_settings({"GAE_ENV": "standard", "GAE_MEMORY_MB": "768", "PORT": "8081"}, 2)
    assert s["bind"] == ["0.0.0.0:8081"]
    assert (s["workers"], s["threads"]) == (4, 4)
    assert s["worker_class"] == "framework.adapters.gunicorn_worker.BufferingThreadWorker"  # gthread, buffering
    assert s["accesslog"] is None and s["errorlog"] == "-"
    assert s["timeout"] == 0
    assert s["graceful_timeout"] < 2  # inside App Engine's SIGTERM -> SIGKILL window
    assert s["secure_scheme_headers"] == {}
    assert s["control_socket_disable"] is True


def test_cloud_run_sizes_from_cpus(conf: ModuleType) -> None:
    s = conf.compute_settings({"K_SERVICE": "web", "PORT": "9000"}, 4)
    assert s["bind"] == ["0.0.0.0:9000"]
    assert (s["workers"], s["threads"]) == (4, 8)
    assert s["accesslog"] is None


def test_local_defaults(conf: ModuleType) -> None:
    s = conf.compute_settings({}, None)
    assert s["bind"] == ["127.0.0.1:8080"]
    assert s["workers"] == 1
    assert s["accesslog"] == "-"
    assert s["timeout"] > 0


def test_overrides(conf: ModuleType) -> None:
    env = {"GAE_ENV": "standard", "HOST": "::1", "PORT": "7000", "WEB_CONCURRENCY": "3",
           "GUNICORN_THREADS": "16", "GUNICORN_TIMEOUT": "30"}
    s = conf.compute_settings(env, 2)
    assert s["bind"] == ["[::1]:7000"]
    assert (s["workers"], s["threads"], s["timeout"]) == (3, 16, 30)
    bad = conf.compute_settings({"PORT": "http", "WEB_CONCURRENCY": "-2"}, 2)
    assert bad["bind"] == ["127.0.0.1:8080"] and bad["workers"] == 1


def test_module_level_settings_come_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "7123")
    monkeypatch.setenv("GAE_ENV", "standard")
    module = _load()
    assert module.bind == ["0.0.0.0:7123"]
    assert module.worker_class.endswith("BufferingThreadWorker") and module.accesslog is None


@pytest.mark.parametrize(
    ("env", "json_lines"),
    [
        ({"GAE_ENV": "standard"}, True),
        ({"K_SERVICE": "web"}, True),
        ({}, False),
        ({"GAE_ENV": "localdev"}, False),
        ({"GAE_ENV": "standard", "FRAMEWORK_LOG_FORMAT": "text"}, False),
        ({"FRAMEWORK_LOG_FORMAT": "json"}, True),
    ],
)
def test_gunicorn_lines_are_json_exactly_when_the_app_logs_json(
    conf: ModuleType, env: dict[str, str], json_lines: bool
) -> None:
    config = conf.compute_settings(env, 2)["logconfig_dict"]
    assert bool(config) is json_lines
    if json_lines:
        assert config["loggers"]["gunicorn.error"]["handlers"] == ["cloud_logging"]
        assert config["loggers"]["gunicorn.error"]["propagate"] is False  # not twice via the app's root handler
        assert config["loggers"]["gunicorn.access"]["handlers"] == []


def test_structured_log_config_level_and_project(conf: ModuleType) -> None:
    env = {"GAE_ENV": "standard", "GAE_APPLICATION": "s~from-app-id", "GUNICORN_LOG_LEVEL": "warning"}
    config = conf.structured_log_config(env, True)
    assert config["loggers"]["gunicorn.error"]["level"] == "WARNING"
    assert config["handlers"]["cloud_logging"]["project"] == "from-app-id"
    assert conf.structured_log_config({"GUNICORN_LOG_LEVEL": "loud"}, True)["loggers"]["gunicorn.error"]["level"] == "INFO"
