"""`python -m deploy cron [DIR] list|write|check|run` on small apps written for these tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deploy.config.cron_yaml import load_cron
from deploy.cron_cmd import CommandError, run
from tests.support.procs import REPO_ROOT

FRAMEWORK_APP = '''
from framework import App
app = App(__name__)

@app.cron("every 5 minutes", description="tick")
def tick():
    pass

@app.cron("every monday 09:00", timezone="Europe/Berlin", retry={"job_retry_limit": 2, "job_age_limit": "2h"})
def weekly():
    return "ok"
'''

FLASK_APP = '''
from flask import Flask
app = Flask(__name__)

@app.get("/tasks/cleanup")
def cleanup():
    return "ok"
'''

WORKER_APP = '''
from framework import App
application = App(__name__)

@application.cron("every 2 hours synchronized")
def rebuild():
    pass
'''


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def cron(folder: Path, *words: str, **kwargs: object) -> tuple[int, list[str]]:
    lines: list[str] = []
    status = run([str(folder), *words], out=lines.append, python=sys.executable, **kwargs)  # type: ignore[arg-type]
    return status, lines


@pytest.fixture
def framework_app(tmp_path: Path) -> Path:
    return write(tmp_path, {"app.yaml": "runtime: python312\n", "main.py": FRAMEWORK_APP})


def test_write_then_check_then_drift(framework_app: Path) -> None:
    status, lines = cron(framework_app, "check")
    assert status == 1 and "cron.yaml: missing, but the app declares 2 cron job(s)" in lines[0]
    assert cron(framework_app, "write") == (0, ["wrote cron.yaml: 2 jobs"])
    written = load_cron(framework_app / "cron.yaml")  # the real loader accepts what we wrote
    assert [(j.url, j.schedule.text, j.schedule.timezone) for j in written.jobs] == [
        ("/cron/tick", "every 5 minutes", "UTC"), ("/cron/weekly", "every monday 09:00", "Europe/Berlin")]
    assert written.jobs[1].retry.job_retry_limit == 2 and written.jobs[1].retry.job_age_limit == 7200
    status, lines = cron(framework_app, "check")
    assert (status, lines[-1]) == (0, "OK: 0 disagreements between cron.yaml and 2 @app.cron declarations")

    text = (framework_app / "cron.yaml").read_text()
    (framework_app / "cron.yaml").write_text(text.replace("every 5 minutes", "every 5 mins").replace(
        "job_retry_limit: 2", "job_retry_limit: 3"))
    status, lines = cron(framework_app, "check")
    assert status == 1  # 'every 5 mins' means the same; the retry limit does not
    assert [line.split("\n")[0] for line in lines[:-1]] == [
        "cron.yaml:7: /cron/weekly has retry_parameters {job_retry_limit=3, job_age_limit=7200} but @app.cron "
        "declares {job_retry_limit=2, job_age_limit=7200}"]
    assert "fix: run `python -m deploy cron write`" in lines[0]


def test_write_refuses_to_drop_hand_written_jobs(framework_app: Path) -> None:
    (framework_app / "cron.yaml").write_text("cron:\n- url: /legacy\n  schedule: every 24 hours\n")
    with pytest.raises(CommandError, match=r"jobs no @app.cron declares: /legacy \(line 2\).*--force"):
        cron(framework_app, "write")
    assert "/legacy" in (framework_app / "cron.yaml").read_text()
    status, lines = cron(framework_app, "check")
    assert status == 1 and any(line.startswith("note: /legacy (line 2)") for line in lines)
    assert cron(framework_app, "write", force=True)[0] == 0
    assert "/legacy" not in (framework_app / "cron.yaml").read_text()


def test_list_shows_jobs_origins_and_next_runs(framework_app: Path) -> None:
    (framework_app / "cron.yaml").write_text("cron:\n- url: /from-file\n  schedule: every 1 hours\n")
    status, lines = cron(framework_app, "list", count=2)
    assert status == 0
    assert lines[0] == "/from-file: every 1 hours   [cron.yaml:2]"
    assert lines[1].startswith("    next: ") and lines[1].count("UTC") == 2
    assert lines[2] == "/cron/tick: every 5 minutes   [@app.cron in main:app (default)]"
    assert lines[3] == "    tick"
    assert lines[5].startswith("/cron/weekly: every monday 09:00 (Europe/Berlin)")
    assert "(09:00 CE" in lines[6]  # the wall time in the job's zone (CET or CEST)


def test_plain_flask_app_with_hand_written_cron_yaml(tmp_path: Path) -> None:
    app = write(tmp_path, {"app.yaml": "runtime: python312\n", "main.py": FLASK_APP,
                           "cron.yaml": "cron:\n- url: /tasks/cleanup\n  schedule: every day 03:00\n  target: default\n"})
    status, lines = cron(app, "list")
    assert status == 0 and lines[0] == "/tasks/cleanup -> default: every day 03:00   [cron.yaml:2]"
    assert cron(app, "write") == (0, ["no @app.cron declarations in " + str(app) + "; cron.yaml left as it is"])
    status, lines = cron(app, "check")
    assert status == 0 and lines[-1] == "OK: 0 disagreements between cron.yaml and 0 @app.cron declarations"


def test_second_service_jobs_target_that_service(tmp_path: Path) -> None:
    app = write(tmp_path, {
        "app.yaml": "runtime: python312\n", "main.py": FRAMEWORK_APP,
        "worker/worker.yaml": "runtime: python312\nservice: worker\nentrypoint: gunicorn -b :$PORT jobs:application\n",
        "worker/jobs.py": WORKER_APP, "worker/requirements.txt": "gunicorn>=23,<28\n",
    })
    status, lines = cron(app, "write", files=["app.yaml", "worker/worker.yaml"])
    assert (status, lines) == (0, ["wrote cron.yaml: 3 jobs"])
    jobs = load_cron(app / "cron.yaml").jobs
    assert [(j.url, j.target) for j in jobs] == [("/cron/tick", None), ("/cron/weekly", None),
                                                 ("/cron/rebuild", "worker")]


def test_an_app_that_does_not_import_is_a_clear_error(tmp_path: Path) -> None:
    app = write(tmp_path, {"app.yaml": "runtime: python312\n", "main.py": "import not_a_module_anywhere\n"})
    with pytest.raises(CommandError, match=r"could not import main:app from .*No module named 'not_a_module_anywhere'"):
        cron(app, "list")


def test_a_declaration_with_a_bad_schedule_names_it(tmp_path: Path) -> None:
    app = write(tmp_path, {"app.yaml": "runtime: python312\n",
                           "main.py": FRAMEWORK_APP.replace("every 5 minutes", "every 5 minute")})
    with pytest.raises(CommandError, match=r"@cron on tick: bad cron schedule 'every 5 minute'"):
        cron(app, "check")


@pytest.mark.parametrize(("words", "message"), [
    ((), "say what to do"),
    (("nonsense",), "is neither a folder nor one of"),
    (("run",), "takes the job's url"),
    (("list", "extra"), "takes no more words"),
])
def test_usage_errors(tmp_path: Path, words: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(list(words), cwd=tmp_path, out=lambda _: None)


def test_run_needs_a_running_runner(framework_app: Path) -> None:
    with pytest.raises(CommandError, match=r"no local runner is running .*make run"):
        cron(framework_app, "run", "/cron/tick")


def test_registered_on_python_m_deploy(framework_app: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "deploy", "cron", str(framework_app), "check"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "cron.yaml: missing" in done.stdout
    done = subprocess.run([sys.executable, "-m", "deploy", "cron", str(framework_app), "run", "/cron/tick"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("deploy cron: no local runner")
