"""load_project (§5.8): files picked by basename, refused files, requirements.txt and cross-file checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.problems import ConfigError, Problem
from deploy.config.project import config_kind, load_project, pick_files

from .helpers import write

APP = "runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\n"
REQS = "gunicorn>=23,<24\nflask>=3.1,<3.2\n"


def project_problems(app_dir: Path, files: tuple[str, ...] = ()) -> list[Problem]:
    try:
        return list(load_project(app_dir, files).warnings)
    except ConfigError as exc:
        return exc.problems


def found(app_dir: Path, files: tuple[str, ...] = ()) -> list[tuple[str, int, str]]:
    return [(p.file.name, p.line, p.severity) for p in project_problems(app_dir, files)]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write(tmp_path, "app.yaml", APP)
    write(tmp_path, "requirements.txt", REQS)
    write(tmp_path, "main.py", "app = object()\n")
    return tmp_path


def test_a_clean_app_has_no_problems_and_the_config_files_beside_it_are_read(app_dir: Path) -> None:
    write(app_dir, "dispatch.yaml", "dispatch:\n- url: '*/x/*'\n  service: default\n")
    write(app_dir, "cron.yml", "cron:\n- url: /job\n  schedule: every 5 minutes\n")
    write(app_dir, "index.yaml", "indexes: []\n")
    write(app_dir, "queue.yaml", "queue:\n- name: q\n  rate: 1/s\n")
    project = load_project(app_dir)
    assert project.warnings == ()
    assert [s.service for s in project.services] == ["default"]
    assert len(project.dispatch.rules) == len(project.cron.jobs) == len(project.queues.queues) == 1
    assert {p.name for p in project.config_files} == {"dispatch.yaml", "cron.yml", "index.yaml", "queue.yaml"}


def test_files_are_picked_by_basename(tmp_path: Path) -> None:
    assert [config_kind(Path(n)) for n in ("cron.yaml", "x/dispatch.yml", "index.yaml", "queue.yaml",
                                           "dos.yaml", "app.yaml", "worker.yaml", "cron.txt")] == [
        "cron", "dispatch", "index", "queue", "dos", None, None, None]
    assert pick_files(tmp_path, ["api/app.yaml"]) == [tmp_path / "api/app.yaml"]
    assert pick_files(tmp_path) == [tmp_path / "app.yaml"]


def test_two_services_default_first_and_dispatch_to_both(app_dir: Path) -> None:
    write(app_dir, "api/app.yaml", "runtime: python313\nservice: api\n")
    write(app_dir, "api/main.py", "from flask import Flask\napp = Flask(__name__)\n")
    write(app_dir, "dispatch.yaml", "dispatch:\n- url: '*/api/*'\n  service: api\n")
    project = load_project(app_dir, ["api/app.yaml", "app.yaml", "dispatch.yaml"])
    assert [s.service for s in project.services] == ["default", "api"]
    assert project.service("api").root == app_dir / "api"
    assert project.warnings == ()


def test_a_dispatch_cron_or_queue_target_not_deployed_is_a_warning(app_dir: Path) -> None:
    write(app_dir, "dispatch.yaml", "dispatch:\n- url: '*/x/*'\n  service: default\n- url: '*/y'\n  service: nope\n")
    write(app_dir, "cron.yaml", "cron:\n- url: /job\n  schedule: every 5 minutes\n  target: worker\n")
    write(app_dir, "queue.yaml", "queue:\n- name: q\n  rate: 1/s\n  target: v1.mailer\n")
    assert found(app_dir) == [("dispatch.yaml", 4, "warning"), ("cron.yaml", 2, "warning"),
                              ("queue.yaml", 2, "warning")]


def test_two_files_for_one_service_is_an_error(app_dir: Path) -> None:
    write(app_dir, "other.yaml", APP + "service: default\n")
    assert found(app_dir, ("app.yaml", "other.yaml")) == [("other.yaml", 3, "error")]


def test_dos_yaml_and_a_second_cron_file_are_refused(app_dir: Path) -> None:
    write(app_dir, "dos.yaml", "blacklist: []\n")
    assert found(app_dir) == [("dos.yaml", 1, "error")]
    write(app_dir, "sub/cron.yaml", "cron: []\n")
    write(app_dir, "cron.yaml", "cron: []\n")
    assert found(app_dir, ("app.yaml", "cron.yaml", "sub/cron.yaml")) == [("cron.yaml", 1, "error")]


@pytest.mark.parametrize("name", ["cron.yaml", "dispatch.yaml", "index.yaml", "queue.yaml", "app.yaml"])
def test_application_in_any_config_file_is_refused(app_dir: Path, name: str) -> None:
    body = {"cron.yaml": "cron: []\n", "dispatch.yaml": "dispatch: []\n", "index.yaml": "indexes: []\n",
            "queue.yaml": "queue: []\n", "app.yaml": APP}[name]
    write(app_dir, name, body + "application: my-proj\n")
    line = body.count("\n") + 1
    assert found(app_dir) == [(name, line, "error")]


def test_a_pipfile_is_refused(app_dir: Path) -> None:
    write(app_dir, "Pipfile", "[packages]\n")
    assert found(app_dir) == [("Pipfile", 1, "error")]


def test_a_gunicorn_entrypoint_needs_gunicorn_in_requirements(app_dir: Path) -> None:
    write(app_dir, "requirements.txt", "flask>=3.1,<3.2\n")
    problems = project_problems(app_dir)
    assert [(p.file.name, p.line, p.severity) for p in problems] == [("app.yaml", 2, "error")]
    assert "gunicorn" in problems[0].message and "requirements.txt" in problems[0].fix
    (app_dir / "requirements.txt").unlink()
    assert found(app_dir) == [("app.yaml", 2, "error")]
    write(app_dir, "requirements.txt", "-r base.txt\n")
    write(app_dir, "base.txt", "Gunicorn==23.0.0\n")
    assert found(app_dir) == []


def test_other_entrypoint_programs_missing_from_requirements_are_warnings(app_dir: Path) -> None:
    write(app_dir, "app.yaml", "runtime: python313\nentrypoint: uvicorn --port $PORT main:app\n")
    assert found(app_dir) == [("app.yaml", 2, "warning")]
    write(app_dir, "app.yaml", "runtime: python313\nentrypoint: python -m gunicorn main:app\n")
    assert found(app_dir) == []  # gunicorn is listed


def test_without_an_entrypoint_main_py_must_exist(app_dir: Path) -> None:
    write(app_dir, "app.yaml", "# default start\nruntime: python313\n")
    assert found(app_dir) == []
    (app_dir / "main.py").unlink()
    assert found(app_dir) == [("app.yaml", 2, "error")]
    write(app_dir, "main.py", "application = object()\n")
    assert found(app_dir) == [("main.py", 1, "warning")]


@pytest.mark.parametrize(("line", "severity"), [
    ("flask", "warning"), ("flask>=3.1", "warning"), ("flask>=3.1,<4", None), ("flask==3.1.0", None),
    ("flask~=3.1", None), ("flask @ https://example.com/flask.whl", None), ("flask>=>3", "error"),
    ("-r missing.txt", "error"), ("-e ./lib", "warning"), ("--index-url https://example.com/simple", None),
    ("flask>=3.1,<4  # a comment", None), ("flask==3.1.0 --hash=sha256:0a1b", None),
    ("flask==3.1.0 \\\n    --hash=sha256:0a1b \\\n    --hash=sha256:2c3d\n    # via -r requirements.in", None),
    ("flask==3.1.0 ; python_version >= '3.8'", None), ("flask#1", "error"), ("flask \\\n", "warning"),
    ("flask>=>3 \\\n  --hash=sha256:0a1b", "error"),
])
def test_requirement_lines(app_dir: Path, line: str, severity: str | None) -> None:
    write(app_dir, "requirements.txt", REQS + line + "\n")
    expected = [] if severity is None else [("requirements.txt", 3, severity)]
    assert found(app_dir) == expected


def test_a_pip_compile_file_with_hashes_is_read_as_pip_reads_it(app_dir: Path) -> None:
    # What `pip-compile --generate-hashes` writes: continuations, per-requirement options, `# via` comments.
    write(app_dir, "requirements.txt", "#\n# pip-compile\n#\ngunicorn==23.0.0 \\\n    --hash=sha256:0a1b \\\n"
          "    --hash=sha256:2c3d\n    # via -r requirements.in\npackaging==24.1 \\\n    --hash=sha256:4e5f\n"
          "    # via gunicorn\nflask>=3 \\\n    --hash=sha256:6a7b\n")
    assert found(app_dir) == [("requirements.txt", 11, "warning")]  # only flask's missing upper bound; gunicorn seen


def test_every_file_is_checked_before_raising(app_dir: Path) -> None:
    write(app_dir, "app.yaml", APP + "threadsafe: true\n")
    write(app_dir, "cron.yaml", "cron:\n- url: nope\n  schedule: every 5 minutes\n")
    write(app_dir, "dispatch.yaml", "dispatch:\n- url: '10.0.0.1/*'\n  service: default\n")
    with pytest.raises(ConfigError) as info:
        load_project(app_dir)
    assert sorted((p.file.name, p.line) for p in info.value.errors) == [
        ("app.yaml", 3), ("cron.yaml", 2), ("dispatch.yaml", 2)]


def test_the_repository_itself_passes() -> None:
    repo = Path(__file__).resolve().parents[3]
    assert load_project(repo).service("default").path == repo / "app.yaml"  # no ConfigError


def test_bundled_services_flag_and_package_go_together(app_dir: Path) -> None:
    write(app_dir, "app.yaml", APP + "app_engine_apis: true\n")
    assert found(app_dir) == [("app.yaml", 3, "warning")]
    write(app_dir, "requirements.txt", REQS + "appengine-python-standard>=1.1,<2\n")
    assert found(app_dir) == []
    write(app_dir, "app.yaml", APP)
    assert found(app_dir) == [("app.yaml", 1, "warning")]


def test_targets_naming_services_outside_the_deploy_are_warnings_in_each_files_own_form(app_dir: Path) -> None:
    write(app_dir, "worker/app.yaml", "runtime: python313\nservice: worker\n")
    write(app_dir, "worker/main.py", "app = object()\n")
    write(app_dir, "dispatch.yaml", "dispatch:\n- url: '*/w/*'\n  service: worker\n- url: '*/x/*'\n  service: gone\n")
    write(app_dir, "cron.yaml", "cron:\n- url: /a\n  schedule: every 5 minutes\n  target: worker\n"
          "- url: /b\n  schedule: every 5 minutes\n  target: gone\n")
    # queue.yaml's target is [version.]service: `v2.worker` is the worker service.
    write(app_dir, "queue.yaml", "queue:\n- name: a\n  rate: 1/s\n  target: v2.worker\n"
          "- name: b\n  rate: 1/s\n  target: gone\n")
    files = ("app.yaml", "worker/app.yaml", "dispatch.yaml", "cron.yaml", "queue.yaml")
    assert found(app_dir, files) == [("dispatch.yaml", 4, "warning"), ("cron.yaml", 5, "warning"),
                                     ("queue.yaml", 5, "warning")]


def test_a_requirements_txt_that_cannot_be_read_is_an_error_not_skipped(app_dir: Path) -> None:
    (app_dir / "requirements.txt").unlink()
    (app_dir / "requirements.txt").mkdir()  # the build's pip -r would fail on it
    problems = project_problems(app_dir)
    assert [(p.file.name, p.line, p.severity) for p in problems][:1] == [("requirements.txt", 1, "error")]
    (app_dir / "requirements.txt").rmdir()
    (app_dir / "requirements.txt").write_bytes(b"gunicorn>=23,<24\n\xff\xfe\n")
    assert ("requirements.txt", 1, "error") in found(app_dir)
