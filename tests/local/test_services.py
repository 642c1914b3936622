"""Two services and dispatch.yaml, and a service in its own cached virtualenv."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import NO_EMULATORS, Running, copy_app, start_runner
from tests.support.procs import REPO_ROOT

pytestmark = pytest.mark.slow
FILES = ["default/app.yaml", "api/app.yaml", "dispatch.yaml"]


def build_wheel(folder: Path) -> None:
    """tinyhelper 1.0 as a wheel (a zip with its metadata), so pip installs it with --no-index."""
    folder.mkdir(exist_ok=True)
    files = {
        "tinyhelper.py": b'VALUE = "from the service virtualenv"\n',
        "tinyhelper-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinyhelper\nVersion: 1.0\n",
        "tinyhelper-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinyhelper-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(folder / "tinyhelper-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("tinyhelper-1.0.dist-info/RECORD", "\n".join(record) + "\n")


def two_services(tmp_path: Path) -> Path:
    app_dir = copy_app("two", tmp_path)
    shutil.copy(REPO_ROOT / "requirements.txt", app_dir / "default" / "requirements.txt")
    build_wheel(app_dir / "api" / "wheels")
    return app_dir


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp_path = tmp_path_factory.mktemp("two")
    with start_runner(two_services(tmp_path), tmp_path, FILES, env=NO_EMULATORS) as running:
        yield running


def test_dispatch_rules_choose_the_service(two: Running) -> None:
    assert two.json("/")["service"] == "default"
    assert two.json("/elsewhere")["service"] == "default"
    api = two.json("/api/things")
    assert (api["service"], api["path"]) == ("api", "/api/things")
    assert two.json("/x", headers={"Host": "api.example.com"})["service"] == "api"
    assert "[api] GET /api/things 200 " in two.wait_for_log("[api] GET /api/things 200 ")


def test_app_info_logs_are_in_the_output(two: Running) -> None:
    two.json("/logged-path")
    two.wait_for_log("default service saw /logged-path")
    line = next(ln for ln in two.log().splitlines() if "default service saw /logged-path" in ln)
    assert line.startswith("[default] ")


def test_service_hostnames_bypass_dispatch(two: Running) -> None:
    assert two.json("/plain", headers={"Host": f"api.localhost:{two.port}"})["service"] == "api"
    assert two.json("/plain", headers={"Host": "api-dot-my-app.appspot.com"})["service"] == "api"
    assert two.json("/api/x", headers={"Host": f"default.localhost:{two.port}"})["service"] == "default"
    assert two.json("/plain", headers={"Host": "nosuch.localhost"})["service"] == "default"


def test_each_service_has_its_own_ports(two: Running) -> None:
    services: dict[str, str] = two.state["services"]  # type: ignore[assignment]
    instances: dict[str, str] = two.state["instances"]  # type: ignore[assignment]
    assert set(services) == set(instances) == {"default", "api"}
    api_port = int(services["api"].rsplit(":", 1)[1])
    assert two.json("/anything", port=api_port)["service"] == "api"
    direct = int(instances["default"].rsplit(":", 1)[1])
    # The instance itself, without the front end: reachable, and client headers are not believed there.
    report = two.json("/direct", port=direct, headers={"X-Appengine-Cron": "true", "X-Appengine-User-IP": "6.6.6.6"})
    assert report["cron"] is False and report["user_ip"] == "127.0.0.1"


def test_the_api_service_runs_in_its_own_virtualenv(two: Running) -> None:
    api = two.json("/api/env")
    assert api["helper"] == "from the service virtualenv"
    assert ".local/venvs/" in str(api["python"]) and api["framework_importable"] is False


def test_framework_app_trusts_the_front_end_and_refuses_forged_cron(two: Running) -> None:
    report = two.json("/who", headers={"X-Appengine-User-IP": "6.6.6.6"})
    assert report["trusted"] is True and report["user_ip"] == "127.0.0.1" and report["remote_addr"] == "127.0.0.1"
    assert two.request("GET", "/jobs/tick", headers={"X-Appengine-Cron": "true"})[0] == 403
    token = str(two.state["token"])
    status, _, body = two.request("GET", "/jobs/tick", headers={"X-Local-Platform-Token": token,
                                                               "X-Appengine-Cron": "true"})
    assert (status, json.loads(body)) == (200, {"cron": "ran"})
    platform = two.json("/who", headers={"X-Local-Platform-Token": token, "X-Appengine-Cron": "true"})
    assert platform["user_ip"] == "0.1.0.2" and platform["remote_addr"] == "0.1.0.2" and platform["cron"] is True


def test_the_virtualenv_is_built_once_and_reused(tmp_path: Path) -> None:
    app_dir = two_services(tmp_path)
    for round_no in (1, 2):
        with start_runner(app_dir, tmp_path, ["api/app.yaml"], env=NO_EMULATORS) as running:
            assert running.json("/x")["helper"] == "from the service virtualenv"
            log = running.log()
        if round_no == 1:
            assert "building a virtualenv from" in log
        else:
            assert "building a virtualenv" not in log and "using the virtualenv built from" in log
    assert len(list((app_dir / ".local" / "venvs").glob("*/.complete"))) == 1
