"""`python -m deploy app|rollback|traffic|logs|browse|functions` drive gcloud: the exact argument lists, seen by
the recording stand-in put first on PATH (tests/deploy/fake_gcloud; the only fake: gcloud cannot reach
Google from here). The apps are fixtures: a plain WSGI app with every config file, the kit's own main.py,
and a two-service app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.app_cmd import parse_splits, previous_version
from deploy.functions_cmd import EntryPoint, FunctionsError, plan
from tests.deploy.fake_gcloud import FOLDER, recorded
from tests.support.procs import REPO_ROOT

WSGI_MAIN = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain wsgi"]
'''
CONFIGS = {
    "app.yaml": "runtime: python312\nentrypoint: gunicorn -b :$PORT main:app\n",
    "cron.yaml": "cron:\n- description: nightly\n  url: /tasks/nightly\n  schedule: every 24 hours\n",
    "dispatch.yaml": "dispatch:\n- url: \"*/api/*\"\n  service: default\n",
    "index.yaml": "indexes:\n- kind: Visit\n  properties:\n  - name: count\n  - name: last_visit\n    direction: desc\n",
    "queue.yaml": "queue:\n- name: mail\n  rate: 5/s\n",
    "requirements.txt": "gunicorn>=23,<24\n",
}


@pytest.fixture
def wsgi_app(tmp_path: Path) -> Path:
    app_dir = tmp_path / "wsgi_app"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(WSGI_MAIN)
    for name, text in CONFIGS.items():
        (app_dir / name).write_text(text)
    return app_dir


def deploy(tmp_path: Path, *args: str, path: str | None = None, env: dict[str, str] | None = None
           ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run `python -m deploy ARGS` with the stand-in first on PATH; (result, recorded gcloud calls)."""
    log = tmp_path / "gcloud-calls.jsonl"
    log.unlink(missing_ok=True)
    full_env = {**os.environ, "FAKE_GCLOUD_LOG": str(log), "PATH": path or f"{FOLDER}{os.pathsep}/usr/bin:/bin",
                "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "deploy", *args], cwd=REPO_ROOT, env=full_env, text=True,
                          capture_output=True, timeout=180)
    return done, recorded(log)


# --- app -------------------------------------------------------------------------------------------------
def test_app_deploys_every_config_file_from_the_staging_folder(tmp_path: Path, wsgi_app: Path) -> None:
    staged = tmp_path / "staged"
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--project", "my-proj", "--version", "v42",
                         "--no-promote", "--yes", "--skip-preflight", "--out", str(staged))
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls == [{"argv": ["app", "deploy", "app.yaml", "dispatch.yaml", "cron.yaml", "queue.yaml", "index.yaml",
                               "--project", "my-proj", "--version", "v42", "--no-promote", "--quiet"],
                      "cwd": str(staged)}]
    assert sorted(p.name for p in staged.iterdir()) == sorted([*CONFIGS, "main.py", ".gcloudignore"])
    assert "OK: 0 errors" in done.stdout and "upload set: 7 files" in done.stdout


def test_app_promote_flag_and_gcloud_defaults(tmp_path: Path, wsgi_app: Path) -> None:
    for name in ("cron.yaml", "dispatch.yaml", "index.yaml", "queue.yaml"):
        (wsgi_app / name).unlink()
    _, calls = deploy(tmp_path, "app", str(wsgi_app), "--promote", "--skip-preflight")
    assert [c["argv"] for c in calls] == [["app", "deploy", "app.yaml", "--promote"]]
    _, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight")
    assert [c["argv"] for c in calls] == [["app", "deploy", "app.yaml"]]  # gcloud's own defaults


def test_dry_run_prints_the_exact_command_and_runs_nothing(tmp_path: Path, wsgi_app: Path) -> None:
    staged = tmp_path / "staged"
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--project", "p", "--dry-run", "--skip-preflight",
                         "--out", str(staged))
    assert done.returncode == 0 and calls == []
    expected = (f"$ (cd {staged} && gcloud app deploy app.yaml dispatch.yaml cron.yaml queue.yaml index.yaml "
                "--project p)")
    assert expected in done.stdout.splitlines()


def test_a_config_error_stops_before_gcloud(tmp_path: Path, wsgi_app: Path) -> None:
    (wsgi_app / "app.yaml").write_text("runtime: python312\nthreadsafe: true\n")
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight")
    assert done.returncode == 1 and calls == []
    assert "app.yaml:2" in done.stdout and "not deployed" in done.stderr


def test_a_refused_upload_stops_before_gcloud(tmp_path: Path, wsgi_app: Path) -> None:
    (wsgi_app / ".env").write_text("FRAMEWORK_SECRET_KEY=local\n")
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight")
    assert done.returncode == 1 and calls == []
    assert ".env: would be uploaded" in done.stderr and "fix: add the line '.env'" in done.stderr


def test_without_gcloud_it_says_how_to_get_it_and_prints_the_command(tmp_path: Path, wsgi_app: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    staged = tmp_path / "staged"
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--version", "v1", "--skip-preflight", "--out", str(staged),
                         path=str(empty))
    assert done.returncode == 127 and calls == []
    assert "gcloud is not on PATH" in done.stdout and "cloud.google.com/sdk/docs/install" in done.stdout
    assert f"(cd {staged} && gcloud app deploy app.yaml dispatch.yaml cron.yaml queue.yaml index.yaml --version v1)" \
        in done.stdout


def test_gcloud_failure_is_the_exit_status(tmp_path: Path, wsgi_app: Path) -> None:
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight", env={"FAKE_GCLOUD_EXIT": "3"})
    assert done.returncode == 3 and len(calls) == 1


def test_second_service_deploys_its_own_yaml(tmp_path: Path) -> None:
    # A two-service app: the `worker` service in its own folder, with its own app.yaml, named as gcloud takes it.
    root = tmp_path / "two"
    (root / "worker").mkdir(parents=True)
    for folder in (root, root / "worker"):
        (folder / "main.py").write_text(WSGI_MAIN)
        (folder / "requirements.txt").write_text("gunicorn>=23,<24\n")
    (root / "app.yaml").write_text("runtime: python312\nentrypoint: gunicorn -b :$PORT main:app\n")
    (root / "worker" / "app.yaml").write_text("runtime: python312\nservice: worker\n"
                                              "entrypoint: gunicorn -b :$PORT main:app\n")
    (root / "dispatch.yaml").write_text("dispatch:\n- url: \"*/work/*\"\n  service: worker\n")
    done, calls = deploy(tmp_path, "app", str(root), "worker/app.yaml", "app.yaml", "dispatch.yaml",
                         "--skip-preflight", "--out", str(tmp_path / "staged"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: 0 errors, 0 warnings in 3 files" in done.stdout  # dispatch's `worker` is deployed too
    assert [c["argv"] for c in calls] == [["app", "deploy", "app.yaml", "worker/app.yaml", "dispatch.yaml"]]
    staged = Path(calls[0]["cwd"])
    assert (staged / "worker" / "app.yaml").is_file() and (staged / "worker" / "main.py").is_file()
    # Without the file list, only app.yaml and the config files beside it are deployed (gcloud's default).
    _, calls = deploy(tmp_path, "app", str(root), "--skip-preflight")
    assert [c["argv"] for c in calls] == [["app", "deploy", "app.yaml", "dispatch.yaml"]]


def test_a_file_outside_the_app_folder_is_refused_before_anything_runs(tmp_path: Path, wsgi_app: Path) -> None:
    (tmp_path / "other.yaml").write_text("runtime: python312\nservice: other\n")
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "app.yaml", str(tmp_path / "other.yaml"),
                         "--skip-preflight")
    assert done.returncode == 2 and calls == []
    assert "outside the app folder" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("version", "why"), [("V1", "lower-case"), ("a-dot-b", "-dot-"),
                                              ("ah-builtin-x", "ah-builtin"), ("v1-", "lower-case")])
def test_a_version_app_engine_refuses_stops_before_staging(tmp_path: Path, wsgi_app: Path, version: str,
                                                           why: str) -> None:
    staged = tmp_path / "staged"
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--version", version, "--skip-preflight",
                         "--out", str(staged))
    assert done.returncode == 2 and calls == [] and not staged.exists()
    assert f"--version {version!r}" in done.stderr and why in done.stderr


def test_a_version_too_long_for_the_project_hostname_is_refused(tmp_path: Path, wsgi_app: Path) -> None:
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--version", "v" * 40, "--project", "p" * 20,
                         "--skip-preflight")
    assert done.returncode == 2 and calls == [] and "longer than 63" in done.stderr
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--version", "v" * 26, "--project", "p" * 20,
                         "--skip-preflight")
    assert done.returncode == 0 and [c["argv"][-2:] for c in calls] == [["--version", "v" * 26]]


# --- rollback, traffic, logs, browse ------------------------------------------------------------------------
VERSIONS = [
    {"id": "20261101t100000", "traffic_split": 0.0, "last_deployed_time": {"datetime": "2026-11-01 10:00:00+00:00"}},
    {"id": "20261203t090000", "traffic_split": 0.0, "last_deployed_time": {"datetime": "2026-12-03 09:00:00+00:00"}},
    {"id": "20261204t120000", "traffic_split": 1.0, "last_deployed_time": {"datetime": "2026-12-04 12:00:00+00:00"}},
    {"id": "canary", "traffic_split": 0.0, "last_deployed_time": {"datetime": "2026-12-04 13:00:00+00:00"}},
]


def test_rollback_sends_traffic_to_the_version_before_the_serving_one(tmp_path: Path) -> None:
    done, calls = deploy(tmp_path, "rollback", "--service", "api", "--project", "p",
                         env={"FAKE_GCLOUD_VERSIONS": json.dumps(VERSIONS)})
    assert done.returncode == 0, done.stderr
    assert [c["argv"] for c in calls] == [
        ["app", "versions", "list", "--service", "api", "--format=json", "--project", "p"],
        ["app", "services", "set-traffic", "api", "--splits=20261203t090000=1", "--project", "p"],
    ]
    assert "serving: 20261204t120000; rolling back to: 20261203t090000" in done.stdout


def test_rollback_to_a_named_version_and_with_nothing_to_roll_back_to(tmp_path: Path) -> None:
    _, calls = deploy(tmp_path, "rollback", "--to", "v7", "--yes")
    assert [c["argv"] for c in calls] == [["app", "services", "set-traffic", "default", "--splits=v7=1", "--quiet"]]
    done, calls = deploy(tmp_path, "rollback", env={"FAKE_GCLOUD_VERSIONS": json.dumps(VERSIONS[2:3])})
    assert done.returncode == 1 and "nothing to roll back to" in done.stderr
    assert [c["argv"][:3] for c in calls] == [["app", "versions", "list"]]


def test_previous_version_uses_ids_when_times_are_missing() -> None:
    versions = [{"id": "20260101t000000", "traffic_split": 0}, {"id": "20260301t000000", "traffic_split": 1},
                {"id": "20260201t000000", "traffic_split": 0}]
    assert previous_version(versions) == ("20260301t000000", "20260201t000000")


def test_traffic_split(tmp_path: Path) -> None:
    _, calls = deploy(tmp_path, "traffic", "v1=0.9,v2=0.1", "-s", "api", "--split-by", "cookie", "--migrate")
    assert [c["argv"] for c in calls] == [
        ["app", "services", "set-traffic", "api", "--splits=v1=0.9,v2=0.1", "--split-by=cookie", "--migrate"]]
    done, calls = deploy(tmp_path, "traffic", "v1=lots")
    assert done.returncode == 2 and calls == [] and "VERSION=WEIGHT" in done.stderr
    assert parse_splits("a=1, b=2") == {"a": "1", "b": "2"}


def test_logs_and_browse(tmp_path: Path) -> None:
    _, calls = deploy(tmp_path, "logs", "-s", "api", "-v", "v2", "--level", "error", "--project", "p")
    assert [c["argv"] for c in calls] == [["app", "logs", "tail", "-s", "api", "-v", "v2", "--level", "error",
                                           "--project", "p"]]
    _, calls = deploy(tmp_path, "browse", "--no-launch-browser")
    assert [c["argv"] for c in calls] == [["app", "browse", "--no-launch-browser"]]


def test_without_out_the_temporary_staging_folder_goes_once_gcloud_has_run(tmp_path: Path, wsgi_app: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight", env={"TMPDIR": str(temp)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(calls[0]["cwd"]).parent == temp  # gcloud ran in a staging folder made in TMPDIR ...
    assert list(temp.iterdir()) == []  # ... which is gone once it has finished
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight", env={"TMPDIR": str(temp),
                                                                                   "FAKE_GCLOUD_EXIT": "3"})
    assert done.returncode == 3 and len(calls) == 1 and list(temp.iterdir()) == []  # also when gcloud fails
    done, calls = deploy(tmp_path, "app", str(wsgi_app), "--skip-preflight", "--dry-run", env={"TMPDIR": str(temp)})
    kept = list(temp.iterdir())  # a dry run prints a command to run later, in the folder it names: kept
    assert done.returncode == 0 and calls == [] and len(kept) == 1 and f"cd {kept[0]}" in done.stdout


# --- functions ----------------------------------------------------------------------------------------------
def test_functions_deploys_each_entry_point_of_the_kits_main(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    done, calls = deploy(tmp_path, "functions", str(REPO_ROOT), "--region", "europe-west1", "--project", "p",
                         "--topic", "orders", "--bucket", "uploads", "--out", str(staged))
    assert done.returncode == 0, done.stdout + done.stderr
    # Each entry point booted with functions-framework before anything was deployed.
    assert done.stdout.count("preflight: OK") == 2 and "(function http-function)" in done.stdout
    env_file = REPO_ROOT / ".local" / "functions-env.yaml"
    common = ["--gen2", "--runtime=python312", f"--source={staged}"]
    tail = ["--region=europe-west1", f"--env-vars-file={env_file}", "--project", "p"]
    assert [c["argv"] for c in calls] == [
        ["functions", "deploy", "event-function-topic-orders", *common, "--entry-point=event_function",
         "--trigger-topic=orders", *tail],
        ["functions", "deploy", "event-function-bucket-uploads", *common, "--entry-point=event_function",
         "--trigger-bucket=uploads", *tail],
        ["functions", "deploy", "http-function", *common, "--entry-point=http_function", "--trigger-http", *tail],
    ]
    assert (staged / "main.py").is_file() and not (staged / "tests").exists()
    assert "secret://" in env_file.read_text()  # the reference goes up, never a value


def test_functions_without_a_topic_says_where_to_name_it(tmp_path: Path) -> None:
    done, calls = deploy(tmp_path, "functions", str(REPO_ROOT), "--dry-run")
    assert done.returncode == 1 and calls == []
    assert "log_message takes Pub/Sub messages but names no topic" in done.stderr and "--topic" in done.stderr


EVENTS_MAIN = '''
from framework import App
from framework.adapters.cloud_functions import cloud_event, http
from framework.events import PUBSUB_MESSAGE_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED

app = App(__name__)
app.config["SECRET_KEY_REQUIRED"] = False

@app.on_event(PUBSUB_MESSAGE_PUBLISHED, source="//pubsub.googleapis.com/projects/p/topics/orders")
def on_order(event): ...

@app.on_event(PUBSUB_MESSAGE_PUBLISHED, source="//pubsub.googleapis.com/projects/p/topics/orders", subject="x")
def on_order_again(event): ...

@app.on_event(STORAGE_DELETED, source="//storage.googleapis.com/projects/_/buckets/media")
def on_delete(event): ...

events = cloud_event(app)
api = http(app)
not_an_entry_point = print
'''


def test_functions_triggers_come_from_on_event_registrations(tmp_path: Path) -> None:
    app_dir = tmp_path / "events_app"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(EVENTS_MAIN)
    (app_dir / "requirements.txt").write_text("functions-framework>=3.8,<4\n")
    done, calls = deploy(tmp_path, "functions", str(app_dir), "--runtime", "python313", "--allow-unauthenticated",
                         "--yes", "--out", str(tmp_path / "s"), "--skip-preflight")
    assert done.returncode == 0, done.stdout + done.stderr
    common = ["--gen2", "--runtime=python313", f"--source={tmp_path / 's'}"]
    assert [c["argv"] for c in calls] == [
        ["functions", "deploy", "api", *common, "--entry-point=api", "--trigger-http", "--allow-unauthenticated",
         "--quiet"],
        ["functions", "deploy", "events-topic-orders", *common, "--entry-point=events", "--trigger-topic=orders",
         "--quiet"],
        ["functions", "deploy", "events-bucket-media-deleted", *common, "--entry-point=events",
         "--trigger-event-filters=type=google.cloud.storage.object.v1.deleted",
         "--trigger-event-filters=bucket=media", "--quiet"],
    ]


def test_functions_without_out_removes_its_temporary_staging_folder(tmp_path: Path) -> None:
    app_dir = tmp_path / "events_app"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(EVENTS_MAIN)
    temp = tmp_path / "tmp"
    temp.mkdir()
    done, calls = deploy(tmp_path, "functions", str(app_dir), "--runtime", "python313", "--yes", "--skip-preflight",
                         env={"TMPDIR": str(temp)})
    assert done.returncode == 0, done.stdout + done.stderr
    sources = {arg for call in calls for arg in call["argv"] if arg.startswith("--source=")}
    assert len(calls) == 3 and len(sources) == 1 and Path(sources.pop()[len("--source="):]).parent == temp
    assert list(temp.iterdir()) == []


def test_functions_plan_refusals() -> None:
    glob = EntryPoint("f", "cloud_event", (("google.cloud.storage.object.v1.*", (), "h"),))
    with pytest.raises(FunctionsError, match="one exact type"):
        plan([glob])
    with pytest.raises(FunctionsError, match="no @app.on_event"):
        plan([EntryPoint("f", "cloud_event")])
    one = EntryPoint("on_file", "cloud_event", (("google.cloud.storage.object.v1.finalized", (), "h"),))
    assert [(d.name, d.trigger) for d in plan([one], bucket="b")] == [("on-file", ("--trigger-bucket=b",))]
