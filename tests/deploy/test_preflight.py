"""`python -m deploy preflight`: a fresh virtualenv from requirements.txt, a production-like boot on loopback
that cannot reach Google, probes, import hints, memory against the instance class.

The kit's own app boots in a virtualenv built from its requirements.txt and cached in the repository's
.local/venvs/ by the requirements' hash (the first run installs from PyPI through pip's cache, about 20 s
here; later runs reuse it). The fixture apps share one small gunicorn-only virtualenv, cached there too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import preflight as pf
from tests.support.procs import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# A plain WSGI app (not ours, no framework): records what the boot looked like from inside.
OBSERVER = '''
import json, os, urllib.request

def _listening_addresses(port):
    found = []
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":
                found.append(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found

def _outbound(url):
    try:
        urllib.request.urlopen(url, timeout=5)
        return "reached"
    except Exception as exc:
        return str(exc)

def app(environ, start_response):
    if environ["PATH_INFO"] == "/_ah/warmup" and not os.path.exists("warmup-answers"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no warmup handler"]
    if environ["PATH_INFO"] == "/":
        observed = {name: os.environ.get(name) for name in (
            "GAE_ENV", "GAE_SERVICE", "GAE_MEMORY_MB", "GOOGLE_CLOUD_PROJECT", "DATASTORE_EMULATOR_HOST",
            "GOOGLE_APPLICATION_CREDENTIALS", "FRAMEWORK_PREFLIGHT", "FRAMEWORK_SECRET_KEY")}
        observed["listening"] = _listening_addresses(int(os.environ["PORT"]))
        observed["metadata"] = _outbound("http://metadata.google.internal/computeMetadata/v1/project/project-id")
        observed["google"] = _outbound("https://secretmanager.googleapis.com/")
        with open("observed.json", "w") as out:
            json.dump(observed, out)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''
CACHE = REPO_ROOT / ".local" / "venvs"
APP_YAML = ("runtime: python312\nentrypoint: gunicorn -b :$PORT main:app\ninstance_class: F2\n"
            "env_variables:\n  FRAMEWORK_SECRET_KEY: \"secret://framework-secret-key\"\n")


@pytest.fixture(scope="session")
def small_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app_dir = tmp_path_factory.mktemp("small_app")
    (app_dir / "main.py").write_text(OBSERVER)
    (app_dir / "app.yaml").write_text(APP_YAML)
    (app_dir / "requirements.txt").write_text("gunicorn>=23,<24\n")
    (app_dir / ".gcloudignore").write_text(".gcloudignore\n.local/\n")
    return app_dir


def _staged(app_dir: Path, tmp_path: Path, main: str | None = None) -> Path:
    staged = tmp_path / "staged"
    shutil.copytree(app_dir, staged, ignore=shutil.ignore_patterns(".local"))
    if main is not None:
        (staged / "main.py").write_text(main)
    return staged


def test_kits_own_app_boots_in_a_fresh_virtualenv() -> None:
    done = subprocess.run([sys.executable, "-m", "deploy", "preflight", str(REPO_ROOT)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "GET /_ah/warmup: 200" in out and "GET /: 200" in out and "preflight: OK" in out
    venv_line = next(line for line in out.splitlines() if line.startswith("virtualenv: "))
    venv = Path(venv_line.split()[1])
    assert venv.parent == REPO_ROOT / ".local" / "venvs" and venv.name.startswith("preflight-")
    # A virtualenv of its own (not the kit's .venv), with exactly what requirements.txt names installed.
    assert (venv / "bin" / "python").exists() and venv != REPO_ROOT / ".venv"
    listed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "list",
                             "--format=json"], capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert {"gunicorn", "google-cloud-ndb", "google-cloud-secret-manager"} <= names
    assert "pytest" not in names and "ruff" not in names  # requirements-dev.txt stays out
    assert "cold start:" in out and "of 384 MB (F1)" in out


def test_boot_is_production_like_but_kept_local(small_app: Path, tmp_path: Path) -> None:
    staged = _staged(small_app, tmp_path)
    report = pf.preflight(small_app, staged=staged, cache_root=CACHE)
    assert report.ok, report.text()
    assert report.probes == {"/_ah/warmup": 404, "/": 200}  # no warmup handler: fine without inbound warmup
    observed = json.loads((staged / "observed.json").read_text())
    assert observed["GAE_ENV"] == "standard" and observed["GAE_SERVICE"] == "default"
    assert observed["GAE_MEMORY_MB"] == "768" and report.limit_mb == 768  # F2
    assert observed["GOOGLE_CLOUD_PROJECT"] == pf.PROJECT and observed["FRAMEWORK_PREFLIGHT"] == "1"
    assert observed["DATASTORE_EMULATOR_HOST"].startswith("127.0.0.1:")
    assert observed["GOOGLE_APPLICATION_CREDENTIALS"] is None
    assert observed["FRAMEWORK_SECRET_KEY"] == "secret://framework-secret-key"  # app.yaml's reference
    # `gunicorn -b :$PORT` would listen on every interface; the preflight binds loopback only.
    assert observed["listening"] == ["127.0.0.1"]
    # Any outbound request goes to a closed local proxy: refused at once, never reaching Google.
    for name in ("metadata", "google"):
        assert "Connection refused" in observed[name] or "refused" in observed[name].lower(), observed


PLAIN_PYTHON_MAIN = '''
import json, os, sys
from wsgiref.simple_server import make_server

import gunicorn  # in requirements.txt: only the virtualenv has it

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

if __name__ == "__main__":
    with open("prefix.json", "w") as out:
        json.dump({"prefix": sys.prefix}, out)
    make_server("127.0.0.1", int(os.environ["PORT"]), app).serve_forever()
'''


def test_a_plain_python_entrypoint_runs_in_the_virtualenv(small_app: Path, tmp_path: Path) -> None:
    # `entrypoint: python main.py` must get the virtualenv's interpreter with its packages, not the bare base one.
    app_dir = tmp_path / "plain"
    shutil.copytree(small_app, app_dir, ignore=shutil.ignore_patterns(".local"))  # same requirements: cached venv
    (app_dir / "app.yaml").write_text("runtime: python312\nentrypoint: python main.py\n")
    staged = _staged(app_dir, tmp_path, main=PLAIN_PYTHON_MAIN)
    report = pf.preflight(app_dir, staged=staged, cache_root=CACHE)
    assert report.ok, report.text()
    assert Path(json.loads((staged / "prefix.json").read_text())["prefix"]) == report.venv


def test_missing_module_names_the_requirement_to_add(small_app: Path, tmp_path: Path) -> None:
    staged = _staged(small_app, tmp_path, "import yaml\n" + OBSERVER)
    report = pf.preflight(small_app, staged=staged, timeout=30, cache_root=CACHE)
    assert not report.ok
    assert any("No module named 'yaml'" in p for p in report.problems)
    assert any("add PyYAML (with a version range) to requirements.txt" in p for p in report.problems)


def test_warmup_must_succeed_when_app_yaml_asks_for_it(small_app: Path, tmp_path: Path) -> None:
    staged = _staged(small_app, tmp_path)
    (staged / "app.yaml").write_text(APP_YAML + "inbound_services:\n  - warmup\n")
    app_yaml = type("AppYaml", (), {"inbound_services": frozenset({"warmup"}), "instance_class": "F1",
                                    "entrypoint": "gunicorn -b :$PORT main:app", "env_variables": {},
                                    "service": "default", "runtime": "python312"})()
    venv, _ = pf.ensure_venv(CACHE, staged / "requirements.txt", [], tmp_path / "pip.log")
    report = pf.boot(staged, venv, app_yaml)
    assert report.probes["/_ah/warmup"] == 404 and report.problems == ["GET /_ah/warmup answered 404"]
    (staged / "warmup-answers").touch()
    assert pf.boot(staged, venv, app_yaml).ok


def test_uninstallable_requirements_fail_like_the_build(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.yaml").write_text("runtime: python312\n")
    (app_dir / "main.py").write_text(OBSERVER)
    (app_dir / "requirements.txt").write_text("./no-such-package\n")  # pip refuses it, as the build would
    with pytest.raises(pf.PreflightError, match="installing requirements.txt failed"):
        pf.preflight(app_dir, staged=_staged(app_dir, tmp_path))


def test_entrypoint_and_buildpack_rules(tmp_path: Path) -> None:
    assert pf.loopback_entrypoint("gunicorn -b :$PORT main:app") == "gunicorn -b 127.0.0.1:$PORT main:app"
    assert pf.loopback_entrypoint("gunicorn --bind=0.0.0.0:8080 -w 2 main:app") == (
        "gunicorn --bind=127.0.0.1:8080 -w 2 main:app")
    assert pf.loopback_entrypoint("gunicorn -c gunicorn.conf.py main:app") == "gunicorn -c gunicorn.conf.py main:app"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("flask>=3\n")
    assert pf.buildpack_additions(requirements, None) == ["gunicorn==22.0.0"]  # §1.2: no entrypoint, no gunicorn
    assert pf.buildpack_additions(requirements, "python main.py") == []
    requirements.write_text("Gunicorn==23.0.0\nflask\n")
    assert pf.buildpack_additions(requirements, None) == []
    requirements.write_text("-r base.txt\nflask\n")  # as pip reads it: an included file's gunicorn counts
    (tmp_path / "base.txt").write_text("gunicorn==23.0.0 \\\n    --hash=sha256:0a1b\n")
    assert pf.buildpack_additions(requirements, None) == []
    assert pf.buildpack_additions(requirements, None, functions=True) == ["functions-framework"]
    requirements.write_text("functions_framework==3.8.0\n")
    assert pf.buildpack_additions(requirements, None, functions=True) == []
    assert pf.import_hints("ModuleNotFoundError: No module named 'google.cloud.ndb'") == [
        "the app imports 'google.cloud.ndb', which is not installed: add google-cloud-ndb (with a version range) "
        "to requirements.txt"]


# A plain functions-framework function (no framework): records the environment it booted with.
FUNCTION = '''
import json, os

def hello(request):
    names = ("K_SERVICE", "K_REVISION", "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "GOOGLE_CLOUD_PROJECT",
             "GAE_ENV", "MODE")
    with open("observed.json", "w") as out:
        json.dump({name: os.environ.get(name) for name in names}, out)
    return "hi"

def crash(request):
    raise RuntimeError("boom")
'''


def test_function_entry_points_boot_with_functions_framework(tmp_path: Path) -> None:
    app_dir = tmp_path / "fn"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(FUNCTION)
    (app_dir / "requirements.txt").write_text("functions-framework>=3.8,<4\n")
    staged = _staged(app_dir, tmp_path)
    reports = pf.preflight_functions(app_dir, [("hello-fn", "hello", "http"), ("crash-fn", "crash", "http")],
                                     staged, variables={"MODE": "prod"}, cache_root=CACHE)
    hello, crash = reports
    assert hello.ok and hello.probes == {"/": 200} and hello.limit_mb == 256, hello.text()
    assert json.loads((staged / "observed.json").read_text()) == {
        "K_SERVICE": "hello-fn", "K_REVISION": "hello-fn-00001-pre", "FUNCTION_TARGET": "hello",
        "FUNCTION_SIGNATURE_TYPE": "http", "GOOGLE_CLOUD_PROJECT": pf.PROJECT, "GAE_ENV": None, "MODE": "prod"}
    assert not crash.ok and crash.problems == ["GET / answered 500"]


def test_old_cached_virtualenvs_are_pruned(tmp_path: Path) -> None:
    import os
    import time

    for name, age_days in (("preflight-old", 30), ("preflight-recent", 1), ("preflight-broken", None)):
        (tmp_path / name).mkdir()
        if age_days is not None:
            stamp = tmp_path / name / ".complete"
            stamp.touch()
            then = time.time() - age_days * 86400
            os.utime(stamp, (then, then))
    (tmp_path / "0123abcd").mkdir()  # the local runner's virtualenvs share the folder: not ours to remove
    pf._prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0123abcd", "preflight-recent"]
