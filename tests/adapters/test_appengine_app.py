"""App-level App Engine features in process: platform, /_ah/ routes, cron_only/task_only, middleware choice."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from framework import App, request
from framework.adapters import cloud_logging
from framework.adapters.appengine import TRUSTED_ENVIRON_KEY, cron_only, task_only
from framework.adapters.front_end import AppEngineMiddleware, CloudRunMiddleware, LocalFrontEnd

TRUSTED = {TRUSTED_ENVIRON_KEY: True}


@pytest.fixture(autouse=True)
def _restore_root_logging() -> object:
    root = logging.getLogger()
    level = root.level
    yield
    cloud_logging.uninstall()
    root.setLevel(level)


def make_app() -> App:
    app = App(__name__)

    @app.get("/cron")
    @cron_only
    def cron() -> str:
        return "cron ok"

    @app.get("/task")
    @task_only
    def task() -> dict[str, object]:
        return {"queue": request.appengine.queue_name, "retries": request.appengine.task_retry_count}

    @app.get("/async-cron")
    @cron_only
    async def async_cron() -> str:
        return "async cron ok"

    return app


def test_platform_is_detected_once_per_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_SERVICE", "api")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    app = App(__name__)
    assert (app.platform.kind, app.platform.service, app.platform.project) == ("appengine", "api", "p")
    monkeypatch.setenv("GAE_SERVICE", "changed")
    assert app.platform.service == "api"


def _front_end_kind(app: App) -> type | None:
    """The class whose front-end step the app runs first in wsgi_app (None: no step)."""
    step = app.front_end
    if step is None:
        return None
    owner = getattr(step, "__self__", None)
    if owner is not None:
        return type(owner)
    return {AppEngineMiddleware.admit: AppEngineMiddleware, CloudRunMiddleware.admit: CloudRunMiddleware}[step]


def test_front_end_step_only_on_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _front_end_kind(App(__name__)) is None
    monkeypatch.setenv("K_SERVICE", "run")
    assert _front_end_kind(App(__name__)) is CloudRunMiddleware
    monkeypatch.delenv("K_SERVICE")
    monkeypatch.setenv("GAE_ENV", "standard")
    assert _front_end_kind(App(__name__)) is AppEngineMiddleware
    monkeypatch.setenv("GAE_ENV", "localdev")
    assert _front_end_kind(App(__name__)) is LocalFrontEnd


def test_front_end_step_runs_where_its_middleware_did(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step runs inside any wrapper the app adds (as the middleware installed at construction did), before
    the request exists: a wrapper sees the socket's address, the view and the hooks see the client's."""
    monkeypatch.setenv("GAE_ENV", "standard")
    app = App(__name__)
    outside: list[str] = []
    inside: list[tuple[str, str, str]] = []

    @app.before_request
    def note() -> None:
        inside.append(("before", request.remote_addr or "", request.scheme))

    @app.route("/")
    def index() -> str:
        inside.append(("view", request.remote_addr or "", request.scheme))
        return "ok"

    wrapped = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        outside.append(environ["REMOTE_ADDR"])
        return wrapped(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]
    headers = {"X-Appengine-User-IP": "203.0.113.7", "X-Forwarded-Proto": "https"}
    assert app.test_client().get("/", headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"}).text == "ok"
    assert outside == ["10.1.2.3"]
    assert inside == [("before", "203.0.113.7", "https"), ("view", "203.0.113.7", "https")]


def test_first_request_wrapper_removes_itself() -> None:
    app = App(__name__)
    assert "wsgi_app" in app.__dict__
    assert app.test_client().get("/nothing-here").status_code == 404
    assert "wsgi_app" not in app.__dict__  # requests now go straight to App.wsgi_app


def test_cron_only_and_task_only_need_trusted_marks() -> None:
    client = make_app().test_client()
    assert client.get("/cron", headers={"X-Appengine-Cron": "true"}).status_code == 403  # untrusted
    assert client.get("/cron", environ_base=TRUSTED).status_code == 403  # trusted, not cron
    ok = client.get("/cron", headers={"X-Appengine-Cron": "true"}, environ_base=TRUSTED)
    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "cron ok")
    assert client.get("/async-cron", headers={"X-Appengine-Cron": "true"}, environ_base=TRUSTED).status_code == 200
    assert client.get("/async-cron").status_code == 403
    assert client.get("/task", headers={"X-AppEngine-QueueName": "q"}).status_code == 403
    task = client.get("/task", headers={"X-AppEngine-QueueName": "q", "X-AppEngine-TaskRetryCount": "x"},
                      environ_base=TRUSTED)
    assert (task.status_code, task.get_json()) == (200, {"queue": "q", "retries": None})


def test_local_runner_strips_forged_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "localdev")
    app = make_app()

    @app.get("/info")
    def info() -> dict[str, object]:
        data = request.appengine
        return {"trusted": data.trusted, "ip": data.user_ip, "country": data.country, "trace": data.trace_id}

    client = app.test_client()
    assert client.get("/cron", headers={"X-Appengine-Cron": "true"}).status_code == 403
    assert client.get("/task", headers={"X-AppEngine-QueueName": "q"}).status_code == 403
    body = client.get("/info", headers={"X-Appengine-User-IP": "6.6.6.6", "X-Appengine-Country": "DE"},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert body["trusted"] is True and body["ip"] == "127.0.0.1" and body["country"] is None
    assert len(body["trace"]) == 32  # the stand-in front end starts a trace like Google's does


def test_warmup_runs_handlers_once_per_process() -> None:
    app = App(__name__)
    calls: list[str] = []
    app.on_warmup(lambda: calls.append("a"))

    @app.on_warmup
    def second() -> None:
        calls.append("b")

    client = app.test_client()
    first = client.get("/_ah/warmup")
    assert (first.status_code, first.get_data()) == (200, b"")
    assert client.get("/_ah/warmup").status_code == 200
    assert calls == ["a", "b"]
    assert client.post("/_ah/warmup").status_code == 405


def test_failing_warmup_is_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = App(__name__)
    attempts: list[int] = []

    @app.on_warmup
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("cache server unreachable")

    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        assert client.get("/_ah/warmup").status_code == 500
    failures = [r for r in caplog.records if "warmup handler" in r.getMessage()]
    assert failures and failures[0].exc_info is not None
    assert "cache server unreachable" in str(failures[0].exc_info[1])
    assert client.get("/_ah/warmup").status_code == 200  # retried on the next warmup, then done
    assert len(attempts) == 2


def test_start_and_stop_handlers() -> None:
    app = App(__name__)
    events: list[str] = []
    app.on_start(lambda: events.append("start"))
    app.on_stop(lambda: events.append("stop"))
    client = app.test_client()
    assert client.get("/_ah/start").status_code == 200
    assert client.get("/_ah/stop").status_code == 403  # nothing marks this request as the platform's
    assert client.get("/_ah/stop", environ_base=TRUSTED, headers={"X-Appengine-User-IP": "198.51.100.1"}).status_code == 403
    assert client.get("/_ah/stop", environ_base=TRUSTED, headers={"X-Appengine-User-IP": "0.1.0.3"}).status_code == 200
    assert client.get("/_ah/stop", environ_base=TRUSTED).status_code == 200
    assert client.get("/_ah/stop", environ_base=TRUSTED, headers={"X-Appengine-User-IP": "0.1.0.3x"}).status_code == 403
    assert events == ["start", "stop", "stop"]


def test_failing_start_is_500() -> None:
    app = App(__name__)

    @app.on_start
    def broken() -> None:
        raise OSError("disk")

    assert app.test_client().get("/_ah/start").status_code == 500


def test_log_format_config_switch_applies_at_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    app = App(__name__)
    app.config["LOG_FORMAT"] = "json"
    app.test_client().get("/")
    assert cloud_logging.installed_handler() is not None
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("FRAMEWORK_LOG_FORMAT", "text")
    App(__name__).test_client().get("/")
    assert cloud_logging.installed_handler() is None


def test_run_at_exit_runs_stop_handlers_once_in_an_app_context(caplog: pytest.LogCaptureFixture) -> None:
    from framework import current_app
    from framework.lifecycle import run_at_exit

    app = App(__name__)
    seen: list[str] = []
    app.on_stop(lambda: seen.append(current_app.name))
    assert run_at_exit(app) is True
    assert seen == [app.name]
    assert run_at_exit(object()) is None  # gunicorn serving some other WSGI callable

    stopped = App(__name__)
    calls: list[int] = []
    stopped.on_stop(lambda: calls.append(1))
    assert stopped.test_client().get("/_ah/stop", environ_base=TRUSTED).status_code == 200
    assert run_at_exit(stopped) is True and calls == [1]  # /_ah/stop already ran them in this process

    failing = App(__name__)
    failing.on_stop(lambda: 1 / 0)
    with caplog.at_level(logging.ERROR):
        assert run_at_exit(failing) is False
    assert any("stop handler" in r.getMessage() for r in caplog.records)


def test_apps_own_lifecycle_views_still_run_after_the_handlers() -> None:
    """A ported Flask app's own /_ah/warmup or /_ah/stop view is not shadowed by the automatic routes."""
    app = App(__name__)
    calls: list[str] = []
    app.on_warmup(lambda: calls.append("on_warmup"))
    app.on_stop(lambda: calls.append("on_stop"))

    @app.get("/_ah/warmup")
    def own_warmup() -> str:
        calls.append("own warmup view")
        return "warm and ready"

    @app.get("/_ah/stop")
    def own_stop() -> str:
        calls.append("own stop view")
        return "bye"

    client = app.test_client()
    assert client.get("/_ah/warmup").get_data() == b"warm and ready"
    assert client.get("/_ah/warmup").get_data() == b"warm and ready"
    assert client.get("/_ah/stop").status_code == 403  # still only the platform may stop the instance
    assert client.get("/_ah/stop", environ_base=TRUSTED).get_data() == b"bye"
    assert client.get("/_ah/start").get_data() == b""  # no view of its own: the default empty 200
    assert calls == ["on_warmup", "own warmup view", "own warmup view", "on_stop", "own stop view"]
