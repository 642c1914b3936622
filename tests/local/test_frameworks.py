"""Apps of other frameworks get the same front end: a real Flask app and a real Django app, as two services
of one runner, each with App Engine's default entrypoint (gunicorn main:app)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.local.conftest import APPS, NO_EMULATORS, Running, start_runner

pytestmark = pytest.mark.slow
FORGED = {"X-Appengine-Cron": "true", "X-Google-Thing": "1", "X-AppEngine-User-IP": "6.6.6.6"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp_path = tmp_path_factory.mktemp("frameworks")
    app_dir = tmp_path / "site"
    for name in ("flask_app", "django_app"):
        shutil.copytree(APPS / name, app_dir / name, ignore=shutil.ignore_patterns("__pycache__"))
    with start_runner(app_dir, tmp_path, ["flask_app/app.yaml", "django_app/app.yaml"], env=NO_EMULATORS) as running:
        yield running


def test_flask_static_handler_never_reaches_flask(site: Running) -> None:
    status, headers, body = site.request("GET", "/static/app.js")
    assert (status, body) == (200, b'console.log("flask static");\n')
    assert headers["cache-control"] == "public, max-age=300"
    assert site.request("GET", "/static/missing.js")[0] == 404  # never Flask's view
    assert "static:/static" in site.wait_for_log("GET /static/app.js 200")


def test_flask_never_sees_forged_platform_headers(site: Running) -> None:
    report = site.json("/", headers=FORGED)
    assert report["flask"] is True
    assert "x-appengine-cron" not in report["headers"] and "x-google-thing" not in report["headers"]
    assert report["headers"]["x-appengine-user-ip"] == "127.0.0.1"
    assert report["headers"]["x-appengine-country"] == "ZZ"


def django(site: Running) -> dict[str, str]:
    return {"Host": f"django.localhost:{site.port}"}


def test_django_was_warmed_up_before_traffic_and_its_info_logs_show(site: Running) -> None:
    report = site.json("/first", headers=django(site))
    assert report["django"] is True and report["seen"][0] == "/_ah/warmup"
    line = next(ln for ln in site.wait_for_log("django view saw /first").splitlines() if "django view saw /first" in ln)
    assert line.startswith("[django] ")


def test_django_static_secure_and_headers(site: Running) -> None:
    status, headers, body = site.request("GET", "/assets/site.css", headers=django(site))
    assert (status, body) == (200, b"body { color: green; }\n") and headers["content-type"].startswith("text/css")
    assert headers["cache-control"] == "public, max-age=600"  # App Engine's default expiration
    status, headers, _ = site.request("GET", "/account/login?next=/x", headers=django(site))
    https_port = str(site.state["https_url"]).rsplit(":", 1)[1]
    assert (status, headers["location"]) == (302, f"https://django.localhost:{https_port}/account/login?next=/x")
    report = site.json("/h", headers={**django(site), **FORGED})
    assert "x-appengine-cron" not in report["headers"] and "x-google-thing" not in report["headers"]
    assert report["headers"]["x-appengine-user-ip"] == "127.0.0.1" and "x-cloud-trace-context" in report["headers"]
    assert report["headers"]["x-forwarded-proto"] == "http"
