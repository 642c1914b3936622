"""`python -m deploy check` run as a user runs it: output format and exit codes, through a real subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBLEM_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<warning>warning: )?(?P<message>.+)$")


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def parse(stdout: str) -> tuple[list[tuple[str, int, bool, str]], list[str], str]:
    """(problems as (file, line, is_warning, message), their fixes, the summary line) of check's output."""
    lines = stdout.rstrip("\n").split("\n")
    problems, fixes = [], []
    for first, second in zip(lines[:-1:2], lines[1:-1:2], strict=True):
        match = PROBLEM_LINE.match(first)
        assert match, first
        assert second.startswith("  fix: ") and len(second) > len("  fix: "), second
        problems.append((match["file"], int(match["line"]), bool(match["warning"]), match["message"]))
        fixes.append(second[len("  fix: "):])
    return problems, fixes, lines[-1]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.yaml").write_text("runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\n")
    (tmp_path / "requirements.txt").write_text("gunicorn>=23,<24\n")
    (tmp_path / "main.py").write_text("app = None\n")
    return tmp_path


def test_a_clean_app_exits_0_with_a_summary(app_dir: Path) -> None:
    result = check(cwd=app_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "OK: 0 errors, 0 warnings in 1 file (app.yaml)\n"


def test_errors_print_file_line_problem_and_fix_and_exit_1(app_dir: Path) -> None:
    (app_dir / "app.yaml").write_text("runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\n"
                                      "threadsafe: true\nhandlers:\n- url: ^/x\n  script: auto\n")
    (app_dir / "cron.yaml").write_text("cron:\n- url: /job\n  schedule: every 6 hours mon\n")
    result = check(cwd=app_dir)
    assert result.returncode == 1
    problems, fixes, summary = parse(result.stdout)
    assert [(f, n, w) for f, n, w, _ in problems] == [("app.yaml", 3, False), ("app.yaml", 5, False),
                                                      ("cron.yaml", 3, False)]
    assert "threadsafe" in problems[0][3] and "remove" in fixes[0]
    assert summary == "FAILED: 3 errors, 0 warnings in 2 files (app.yaml, cron.yaml)"
    assert result.stderr == ""


def test_only_warnings_exit_0(app_dir: Path) -> None:
    (app_dir / "requirements.txt").write_text("gunicorn\n")
    result = check(cwd=app_dir)
    assert result.returncode == 0
    problems, fixes, summary = parse(result.stdout)
    assert problems == [("requirements.txt", 1, True, problems[0][3])] and "not pinned" in problems[0][3]
    assert summary.startswith("OK: 0 errors, 1 warning in 1 file")


def test_dir_and_files_arguments(app_dir: Path, tmp_path: Path) -> None:
    (app_dir / "worker").mkdir()
    (app_dir / "worker" / "app.yaml").write_text("runtime: python313\nservice: worker\n")
    (app_dir / "worker" / "main.py").write_text("app = None\n")
    (app_dir / "dispatch.yaml").write_text("dispatch:\n- url: '*/work/*'\n  service: worker\n")
    inside = check(".", "app.yaml", "worker/app.yaml", "dispatch.yaml", cwd=app_dir)
    assert inside.returncode == 0, inside.stdout
    assert inside.stdout.strip().endswith("in 3 files (app.yaml, worker/app.yaml, dispatch.yaml)")
    alone = check(str(app_dir), "dispatch.yaml", "app.yaml", cwd=tmp_path.parent)
    problems, _, summary = parse(alone.stdout)
    assert alone.returncode == 0 and [(Path(f).name, n, w) for f, n, w, _ in problems] == [
        ("dispatch.yaml", 2, True)]  # the worker service is not part of this deploy


def test_a_file_named_after_dir_is_the_one_in_dir_even_when_the_working_folder_has_one(
        app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    here = tmp_path_factory.mktemp("here")  # the working folder holds a broken app.yaml of another app
    (here / "app.yaml").write_text("runtime: python27\n")
    result = check(str(app_dir), "app.yaml", cwd=here)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith(f"in 1 file ({app_dir / 'app.yaml'})")
    (app_dir / "app.yaml").unlink()  # not in DIR: the working folder's file is the one meant
    result = check(str(app_dir), "app.yaml", cwd=here)
    assert result.returncode == 1 and "python27" in result.stdout


def test_a_missing_app_yaml_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = check(cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    problems, _, _ = parse(result.stdout)
    assert [(f, n) for f, n, _, _ in problems] == [("app.yaml", 1)] and "does not exist" in problems[0][3]


def test_the_repository_passes_check() -> None:
    result = check(cwd=REPO)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK: 0 errors")


def test_help_lists_the_check_command() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "check" in result.stdout


def test_the_config_error_the_runner_prints_is_checks_report(app_dir: Path) -> None:
    (app_dir / "app.yaml").write_text("runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\n"
                                      "threadsafe: true\n")
    (app_dir / "dispatch.yaml").write_text("dispatch:\n- url: '10.0.0.1/*'\n  service: default\n")
    printed = check(cwd=app_dir).stdout.rstrip("\n").rsplit("\n", 1)[0]
    raised = subprocess.run(
        [sys.executable, "-c", "from deploy.config import load_project\ntry:\n    load_project('.')\n"
         "except Exception as exc:\n    print(exc)"],
        cwd=app_dir, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert raised.stdout.rstrip("\n") == printed
    assert printed.startswith("app.yaml:3: ") and "dispatch.yaml:2: " in printed
