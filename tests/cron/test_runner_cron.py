"""End to end under the real local runner (two services): a per-minute `@app.cron` job written to cron.yaml by
`deploy cron write`, delivered on schedule through the front end, and on demand by `deploy cron run`."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, Server, free_port, run_server

pytestmark = pytest.mark.slow

APP = '''
import json, os
from framework import App, request

app = App(__name__)

@app.cron("every 1 minutes", description="record each run")
def tick():
    with open(os.environ["RECORD_FILE"], "a") as out:
        info = request.appengine
        out.write(json.dumps({"cron": info.is_cron, "ip": info.user_ip, "service": os.environ.get("GAE_SERVICE")}) + "\\n")
'''
WORKER = APP.replace('"every 1 minutes", description="record each run"', '"every 24 hours", url="/cron/work"')
FILES = ("--file", "app.yaml", "--file", "worker/worker.yaml", "--file", "cron.yaml")
NO_EMULATORS = {"DATASTORE_EMULATOR_HOST": "127.0.0.1:9", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9"}


def deploy_cron(app_dir: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy", "cron", str(app_dir), *words], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def runs(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


@contextlib.contextmanager
def runner(app_dir: Path, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [sys.executable, "-m", "deploy.local_server", "--app-dir", str(app_dir), "--port", str(port),
           "app.yaml", "worker/worker.yaml", "cron.yaml"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=NO_EMULATORS, ready_path=None, timeout=90) as server:
        deadline = time.monotonic() + 90
        while not ((app_dir / ".local" / "runner.json").exists() and "Serving on" in server.log()):
            assert server.proc.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        yield server


def test_per_minute_job_on_schedule_and_on_demand(tmp_path: Path) -> None:
    app_dir, record = tmp_path / "app", tmp_path / "runs.jsonl"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(textwrap.dedent(APP))
    (app_dir / "app.yaml").write_text(f"runtime: python312\nenv_variables:\n  RECORD_FILE: {record}\n")
    (app_dir / "worker").mkdir()
    (app_dir / "worker" / "main.py").write_text(textwrap.dedent(WORKER))
    (app_dir / "worker" / "worker.yaml").write_text(
        f"runtime: python312\nservice: worker\nenv_variables:\n  RECORD_FILE: {record}\n")
    (app_dir / "cron.yaml").write_text("cron:\n")  # `write` replaces it (and `--file cron.yaml` finds it)
    written = deploy_cron(app_dir, "write", *FILES)
    assert written.returncode == 0, written.stderr
    assert "schedule: every 1 minutes" in (app_dir / "cron.yaml").read_text()
    assert "target: worker" in (app_dir / "cron.yaml").read_text()  # declared in the worker service

    with runner(app_dir, tmp_path) as server:
        assert "cron /cron/tick: every 1 minutes; next run " in server.log()
        on_demand = deploy_cron(app_dir, "run", "/cron/tick")
        assert on_demand.returncode == 0, on_demand.stdout + on_demand.stderr
        assert "cron GET /cron/tick -> 200 in " in on_demand.stdout
        assert runs(record) == [{"cron": True, "ip": "0.1.0.2", "service": "default"}]
        to_worker = deploy_cron(app_dir, "run", "/cron/work", *FILES)  # target: worker -> worker.localhost
        assert to_worker.returncode == 0, to_worker.stdout + to_worker.stderr
        assert "cron GET /cron/work [worker] -> 200 in " in to_worker.stdout
        assert runs(record)[1] == {"cron": True, "ip": "0.1.0.2", "service": "worker"}

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a client forging the header
        conn.request("GET", "/cron/tick", headers={"X-AppEngine-Cron": "true"})
        assert conn.getresponse().status == 403
        conn.close()

        deadline = time.monotonic() + 75  # the scheduled run comes at the next whole minute after a minute
        while len(runs(record)) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(runs(record)) >= 3, server.log()
        assert all(run == {"cron": True, "ip": "0.1.0.2", "service": "default"} for run in runs(record)[2:])
        deadline = time.monotonic() + 10
        while "[cron] cron GET /cron/tick -> 200 in " not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "[cron] cron GET /cron/tick -> 200 in " in server.log()


def test_declared_jobs_run_without_cron_yaml(tmp_path: Path) -> None:
    """The runner schedules `@app.cron` declarations that no cron.yaml lists yet (issue 9)."""
    app_dir, record = tmp_path / "app", tmp_path / "runs.jsonl"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(textwrap.dedent(APP))
    (app_dir / "app.yaml").write_text(f"runtime: python312\nenv_variables:\n  RECORD_FILE: {record}\n")
    port = free_port()
    cmd = [sys.executable, "-m", "deploy.local_server", "--app-dir", str(app_dir), "--port", str(port)]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=NO_EMULATORS, ready_path=None, timeout=90) as server:
        deadline = time.monotonic() + 90
        while "Serving on" not in server.log():
            assert server.proc.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        assert "cron /cron/tick: every 1 minutes; next run " in server.log()
        assert not (app_dir / "cron.yaml").exists()
