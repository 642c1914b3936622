"""The tutorial, step by step, on its real app folder (docs/tutorial/app): the set-up it describes, the
app's own tests, `deploy check`, `cron write` (which must write the cron.yaml the page shows), the upload
set, a dry-run deploy, and the app under the real local runner (a task delivered by the Cloud Tasks
emulator, the composite index recorded into index.yaml, the cron job run through the front end).

A dry run with preflight builds a virtualenv from requirements.txt with pip, minutes on a fresh machine:
the test passes --skip-preflight (tests/deploy covers preflight itself).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.docs.blocks import DOCS, code_blocks
from tests.support.procs import REPO_ROOT, free_port, run_server

APP = DOCS / "tutorial" / "app"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # real processes; a busy machine stretches them


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GAE_", "K_", "FUNCTION_", "PYTEST_", "DATASTORE_", "CLOUD_TASKS_", "FRAMEWORK_"))
           and k not in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "LOCAL_PLATFORM_TOKEN", "PORT")}
    # What `make install` (an editable install of framework and deploy) gives any folder.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def guestbook(tmp_path: Path) -> Path:
    """The tutorial's folder, made as "Set up" says: the app's files, a framework symlink, the kit's requirements."""
    app = tmp_path / "guestbook"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__", ".local", ".datastore", ".cloudtasks",
                                                            "index.yaml", ".pytest_cache"))
    (app / "cron.yaml").unlink()  # the page has the reader write it
    (app / "framework").symlink_to(REPO_ROOT / "framework")
    shutil.copy(REPO_ROOT / "requirements.txt", app / "requirements.txt")
    return app


def _run(app: Path, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=app, env=_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_apps_own_tests_pass(guestbook: Path) -> None:
    done = _run(guestbook, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout and "   4 passed\n" in (DOCS / "tutorial" / "index.rst").read_text()


def test_check_cron_and_a_dry_run_deploy(guestbook: Path, tmp_path: Path) -> None:
    written = _run(guestbook, "-m", "deploy", "cron", "write")
    assert written.returncode == 0, written.stderr
    assert (guestbook / "cron.yaml").read_text() == (APP / "cron.yaml").read_text(), "the page shows another cron.yaml"
    assert _run(guestbook, "-m", "deploy", "cron", "check").returncode == 0

    # By now the local runs recorded index.yaml (the last test proves they write this very file).
    page = DOCS / "tutorial" / "index.rst"
    (guestbook / "index.yaml").write_text(next(b for b in code_blocks(page) if b.caption == "index.yaml").text)
    check = _run(guestbook, "-m", "deploy", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    shown = "OK: 0 errors, 0 warnings in 3 files (app.yaml, cron.yaml, index.yaml)"
    assert shown in check.stdout and shown in page.read_text()

    listed = _run(guestbook, "-m", "deploy", "stage", "--list", "--out", str(tmp_path / "staged"))
    assert listed.returncode == 0, listed.stderr
    files = {line for line in listed.stdout.splitlines() if line and " " not in line}
    assert {"main.py", "app.yaml", "cron.yaml", "templates/index.html", "requirements.txt",
            "framework/app.py", "framework/server.py"} <= files
    assert not {"test_main.py", "conftest.py", ".gcloudignore"} & files

    dry = _run(guestbook, "-m", "deploy", "app", "--dry-run", "--skip-preflight", "--project", "my-guestbook",
                    "--out", str(tmp_path / "upload"))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "gcloud app deploy app.yaml cron.yaml index.yaml --project my-guestbook" in dry.stdout


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _request(url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=body), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@contextlib.contextmanager
def _runner(app: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "deploy.local_server", "--app-dir", str(app), "--port", str(port)]
    with run_server(cmd, port=port, tmp_path=tmp_path, env=_env(), cwd=app, ready_path=None, timeout=90) as server:
        deadline = time.monotonic() + 90
        while "Serving on" not in server.log():
            assert server.proc.poll() is None and time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        yield server.url


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll `condition()` until true (bounded; no duration is asserted)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def test_the_app_under_the_local_runner(guestbook: Path, tmp_path: Path) -> None:
    shown_index = next(b for b in code_blocks(DOCS / "tutorial" / "index.rst") if b.caption == "index.yaml")
    with _runner(guestbook, tmp_path) as url:
        status, _ = _request(url + "/sign", {"author": "Ada", "text": "Hello from the tutorial"})
        assert status == 302
        _until(lambda: "Hello from the tutorial (4 words)" in _request(url + "/")[1],
               "the task delivered by the Cloud Tasks emulator counted the words")

        status, page = _request(url + "/by/Ada")
        assert status == 200 and "Signed by Ada" in page
        recorded = guestbook / "index.yaml"
        _until(lambda: recorded.exists() and "author" in recorded.read_text(), "index.yaml recorded")
        assert yaml.safe_load(recorded.read_text()) == yaml.safe_load(shown_index.text)

        assert _request(url + "/cron/prune")[0] == 403  # a client is not App Engine's cron service
        run = _run(guestbook, "-m", "deploy", "cron", "run", "/cron/prune")
        assert run.returncode == 0 and "-> 200" in run.stdout, run.stdout + run.stderr
