"""gunicorn.conf.py on App Engine, whole process life: gunicorn's own lines as JSON, and SIGTERM runs @app.on_stop."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, free_port, run_server, venv_tool

pytestmark = pytest.mark.slow

APP_SOURCE = '''
import os

from framework import App

app = App(__name__)
app.config["SECRET_KEY_REQUIRED"] = False  # no sessions: on Google's hosts a key is otherwise required


@app.on_stop
def record_stop():
    with open(os.environ["STOP_RECORD"], "a") as out:
        out.write(f"{os.getpid()}\\n")
    app.logger.info("stop handler ran in %d", os.getpid())


@app.get("/")
def index():
    return "up"
'''


def test_sigterm_runs_stop_handlers_in_every_worker_and_every_line_is_json(tmp_path: Path) -> None:
    (tmp_path / "lifecycle_app.py").write_text(APP_SOURCE)
    record = tmp_path / "stops.txt"
    port = free_port()
    env = {"GAE_ENV": "standard", "GAE_MEMORY_MB": "384", "GOOGLE_CLOUD_PROJECT": "my-proj", "HOST": "127.0.0.1",
           "PORT": str(port), "STOP_RECORD": str(record)}
    cmd = [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--chdir", str(tmp_path),
           "lifecycle_app:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env) as server:
        with urllib.request.urlopen(server.url + "/", timeout=10) as response:
            assert response.read() == b"up"
        assert not record.exists()
        # The server answers as soon as one worker is up; wait for both before stopping it.
        deadline = time.monotonic() + 30
        while server.log().count("Booting worker with pid") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGTERM)  # what App Engine sends an automatic-scaling instance
        assert server.proc.wait(timeout=30) == 0
        log = server.log()

    lines = [line for line in log.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # no plain-text line at all, gunicorn's included
    messages = [e["message"] for e in entries]
    booted = [m for m in messages if m.startswith("Booting worker with pid: ")]
    assert len(booted) == 2  # GAE_MEMORY_MB=384: two workers
    worker_pids = sorted(m.rsplit(" ", 1)[1] for m in booted)
    assert sorted(record.read_text().split()) == worker_pids  # each worker ran the handler once
    assert sorted(m.rsplit(" ", 1)[1] for m in messages if m.startswith("stop handler ran in ")) == worker_pids
    assert any(m.startswith("Listening at: http://127.0.0.1:") for m in messages)
    gunicorn_entries = [e for e in entries if e["logger"] == "gunicorn.error"]
    assert gunicorn_entries and all(e["severity"] == "INFO" for e in gunicorn_entries)
    assert not any('"GET / HTTP/1.1"' in m for m in messages)  # still no access log
