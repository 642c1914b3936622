"""`@app.cron` / `@bp.cron`: registration checks, the cron_only route, and a real gunicorn app under the token."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy.config.cron_yaml import CronJob
from deploy.local.cron import CronScheduler
from framework import App, Blueprint
from framework.adapters.appengine import TRUSTED_ENVIRON_KEY
from framework.cron import CronError, CronJobSpec
from framework.schedule import Schedule, ScheduleError
from tests.support.procs import REPO_ROOT, free_port, run_server, venv_tool

CRON_ENVIRON = {TRUSTED_ENVIRON_KEY: True, "HTTP_X_APPENGINE_CRON": "true"}


def make_app() -> App:
    app = App(__name__)

    @app.cron("every 5 minutes", description="say hi")
    def say_hi() -> None:
        pass

    @app.cron("every monday 09:00", url="/jobs/weekly", timezone="Europe/Berlin", target="worker",
              retry={"job_retry_limit": 2, "job_age_limit": "2h", "min_backoff_seconds": 1.5})
    def weekly() -> dict[str, str]:
        return {"done": "weekly"}

    @app.cron("every 1 hours")
    async def hourly() -> str:
        return "async ran"

    return app


def test_jobs_are_recorded_in_order_with_their_cron_yaml_entry() -> None:
    app = make_app()
    assert [job.url for job in app.cron_jobs] == ["/cron/say-hi", "/jobs/weekly", "/cron/hourly"]
    say_hi, weekly, _ = app.cron_jobs
    assert isinstance(say_hi, CronJobSpec) and say_hi.endpoint == "say_hi"
    assert say_hi.to_yaml() == {"description": "say hi", "url": "/cron/say-hi", "schedule": "every 5 minutes"}
    assert weekly.to_yaml() == {
        "url": "/jobs/weekly", "schedule": "every monday 09:00", "timezone": "Europe/Berlin", "target": "worker",
        "retry_parameters": {"job_retry_limit": 2, "job_age_limit": "2h", "min_backoff_seconds": 1.5},
    }
    assert weekly.schedule == Schedule.parse("every monday 09:00", "Europe/Berlin")
    assert App(__name__).cron_jobs == []


def test_route_answers_only_cron_requests() -> None:
    client = make_app().test_client()
    assert client.get("/cron/say-hi").status_code == 403  # no X-AppEngine-Cron
    forged = client.get("/cron/say-hi", headers={"X-AppEngine-Cron": "true"})  # not from App Engine
    assert forged.status_code == 403
    ran = client.get("/cron/say-hi", environ_overrides=CRON_ENVIRON)
    assert (ran.status_code, ran.data) == (200, b"")  # a job returning None answers 200
    assert client.get("/jobs/weekly", environ_overrides=CRON_ENVIRON).get_json() == {"done": "weekly"}
    assert client.get("/cron/hourly", environ_overrides=CRON_ENVIRON).data == b"async ran"
    assert client.post("/cron/say-hi", environ_overrides=CRON_ENVIRON).status_code == 405


def test_blueprint_jobs_get_the_prefix_and_endpoint() -> None:
    bp = Blueprint("reports", __name__, url_prefix="/reports")

    @bp.cron("every day 03:00")
    def nightly() -> str:
        return "nightly"

    app = App(__name__)
    app.register_blueprint(bp)
    [job] = app.cron_jobs
    assert (job.url, job.endpoint) == ("/reports/cron/nightly", "reports.nightly")
    response = app.test_client().get("/reports/cron/nightly", environ_overrides=CRON_ENVIRON)
    assert response.data == b"nightly"


@pytest.mark.parametrize(("args", "kwargs", "error", "words"), [
    (("every 5 minuts",), {}, ScheduleError, ["@cron on", "job", "'every 5 minuts'", "did you mean 'minutes'"]),
    (("every day 10:00",), {"timezone": "Mars/Base"}, ScheduleError, ["@cron on", "'Mars/Base'", "IANA"]),
    (("every day 10:00",), {"url": "cron/x"}, CronError, ["'cron/x'", "start with '/'"]),
    (("every day 10:00",), {"url": "/cron/<name>"}, CronError, ["variable part"]),
    (("every day 10:00",), {"description": "x" * 500}, CronError, ["500 characters", "fewer than 500"]),
    (("every day 10:00",), {"target": "Worker_1"}, CronError, ["'Worker_1'", "service name"]),
    (("every day 10:00",), {"retry": {"retries": 3}}, CronError, ["'retries'", "job_retry_limit"]),
    (("every day 10:00",), {"retry": {"job_retry_limit": 6}}, CronError, ["job_retry_limit 6", "0 to 5"]),
    (("every day 10:00",), {"retry": {"job_retry_limit": True}}, CronError, ["job_retry_limit True"]),
    (("every day 10:00",), {"retry": {"job_age_limit": "2 hours"}}, CronError, ["'2 hours'", "'2h'"]),
    (("every day 10:00",), {"retry": {"min_backoff_seconds": -1}}, CronError, ["min_backoff_seconds -1"]),
    (("every day 10:00",), {"retry": {"min_backoff_seconds": 10, "max_backoff_seconds": 5}}, CronError,
     ["above max_backoff_seconds"]),
    (("every day 10:00",), {"retry": {"max_doublings": 1.5}}, CronError, ["max_doublings 1.5"]),
])
def test_registration_errors_name_the_function(args: tuple, kwargs: dict, error: type, words: list[str]) -> None:
    app = App(__name__)
    with pytest.raises(error) as caught:
        @app.cron(*args, **kwargs)
        def job() -> None:
            pass
    assert "job" in str(caught.value)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert app.cron_jobs == []
    assert "/cron/job" not in {rule.rule for rule in app.url_map.iter_rules()}


def test_a_job_needing_arguments_is_an_error() -> None:
    app = App(__name__)
    with pytest.raises(CronError, match="@cron on .*needs_one: App Engine calls a cron job with no arguments"):
        @app.cron("every 5 minutes")
        def needs_one(limit: int) -> None:
            pass

    @app.cron("every 5 minutes")
    def has_defaults(limit: int = 10) -> None:
        pass

    assert [job.url for job in app.cron_jobs] == ["/cron/has-defaults"]


def test_two_jobs_on_one_url_is_an_error() -> None:
    app = App(__name__)

    @app.cron("every 5 minutes", url="/cron/same")
    def first() -> None:
        pass

    with pytest.raises(CronError, match="two cron jobs use the url '/cron/same'"):
        @app.cron("every 10 minutes", url="/cron/same")
        def second() -> None:
            pass


def test_cron_costs_nothing_at_import() -> None:
    code = ("import sys, framework; app = framework.App('x'); "
            "print(sorted(m for m in ('framework.cron', 'framework.schedule', 'zoneinfo') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert done.stdout.strip() == "[]"
    code = ("import sys, framework; app = framework.App('x'); app.cron('every 1 hours', url='/cron/x')(lambda: None); "
            "print(sorted(m for m in ('zoneinfo',) if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert done.stdout.strip() == "[]"  # a UTC job needs no time zone database at cold start


def test_scheduler_reaches_cron_only_view_of_a_real_gunicorn_app(tmp_path: Path) -> None:
    token, port, record = "app-token-123", free_port(), tmp_path / "runs.jsonl"
    env = {"GAE_ENV": "localdev", "LOCAL_PLATFORM_TOKEN": token, "RECORD_FILE": str(record)}
    cmd = [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "tests.cron.apps.framework_cron:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env) as server:
        jobs = [CronJob("/cron/tick", Schedule.parse("every 1 minutes"), 1)]
        assert CronScheduler(jobs, server.url, token, log=lambda _: None).run_now("/cron/tick") == 200
        assert CronScheduler(jobs, server.url, "wrong-token", log=lambda _: None).run_now("/cron/tick") == 403
        forged = urllib.request.Request(server.url + "/cron/tick", headers={"X-AppEngine-Cron": "true"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        assert refused.value.code == 403
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert runs == [{"cron": True, "ip": None}]  # once, by the scheduler; the front end adds the IP (e2e test)
