"""`python -m deploy stage`: gcloud's .gcloudignore semantics (platform-facts §5.9), checked against git's own
gitignore matching where the two agree, the refusals of local state and keys, the limits, and the copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import stage
from tests.support.procs import REPO_ROOT


def make(root: Path, *files: str, content: str = "x") -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def upload(root: Path, kind: str = stage.APP) -> list[str]:
    return [rel for rel, _ in stage.compute_upload_set(root, kind).files]


# --- gcloud's defaults -------------------------------------------------------------------------------------
def test_app_default_ignore_when_none_exists(tmp_path: Path) -> None:
    make(tmp_path, "main.py", "setup.cfg", "sub/setup.cfg", ".git/HEAD", ".gitignore", "pkg/__pycache__/m.pyc",
         "notes.log")
    (tmp_path / ".gitignore").write_text("*.log\n")
    rules = stage.ignore_rules(tmp_path)
    assert rules.written_by_gcloud and rules.lines == tuple(stage.DEFAULT_APP_IGNORE)
    # .gitignore is not pulled in for App Engine: notes.log goes up; /setup.cfg is anchored.
    assert upload(tmp_path) == ["main.py", "notes.log", "sub/setup.cfg"]


def test_functions_default_only_beside_git_files_and_includes_gitignore(tmp_path: Path) -> None:
    make(tmp_path, "main.py", "setup.cfg", "__pycache__/m.pyc", "build.tmp")
    # No .git, .gitignore or node_modules: gcloud functions deploy writes no file and uploads everything.
    assert stage.ignore_rules(tmp_path, stage.FUNCTIONS).lines == ()
    assert upload(tmp_path, stage.FUNCTIONS) == ["__pycache__/m.pyc", "build.tmp", "main.py", "setup.cfg"]
    make(tmp_path, "node_modules/x.js")
    assert upload(tmp_path, stage.FUNCTIONS) == ["build.tmp", "main.py"]
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    rules = stage.ignore_rules(tmp_path, stage.FUNCTIONS)
    assert rules.written_by_gcloud and rules.lines[-1] == "*.tmp"  # #!include:.gitignore, expanded
    assert upload(tmp_path, stage.FUNCTIONS) == ["main.py"]


# --- gitignore syntax, with git as the oracle --------------------------------------------------------------
TRICKY = """\
# comment line, then a blank one

*.log
!keep.log
build/
/top.txt
docs/**/*.md
!docs/keep/**
data/*
!data/wanted.csv
logs/
!logs/important.txt
\\#hash.txt
spaces\\ in\\ name.txt
*.py[co]
"""
TREE = ["a.log", "keep.log", "sub/b.log", "sub/keep.log", "build/x.o", "sub/build/y.o", "build", "top.txt",
        "sub/top.txt", "docs/a.md", "docs/x/y/b.md", "docs/keep/c.md", "docs/readme.txt", "data/a.csv",
        "data/wanted.csv", "logs/important.txt", "logs/other.txt", "#hash.txt", "spaces in name.txt",
        "m.pyc", "m.py", "deep/er/file.txt"]


def test_gitignore_semantics_match_git(tmp_path: Path) -> None:
    files = [f for f in TREE if f != "build"]
    make(tmp_path, *files)
    (tmp_path / "sub" / "build2").write_text("x")  # a file, not a folder: "build/" must not match files
    (tmp_path / ".gcloudignore").write_text(TRICKY + ".gcloudignore\n.gitignore\n")
    ours = upload(tmp_path)
    # git with the same patterns as .gitignore: the untracked files it does not ignore.
    (tmp_path / ".gitignore").write_text(TRICKY + ".gcloudignore\n.gitignore\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    listed = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=tmp_path, check=True,
                            capture_output=True, text=True).stdout
    assert ours == sorted(f for f in listed.split("\0") if f)
    assert "logs/important.txt" not in ours  # a child of an ignored folder cannot be re-included
    assert "data/wanted.csv" in ours  # but one under data/* (the folder itself not ignored) can


def test_symlinks_are_followed_and_loops_end(tmp_path: Path) -> None:
    outside = make(tmp_path / "outside", "shared/util.py", "one.txt")
    app = make(tmp_path / "app", "main.py")
    (app / ".gcloudignore").write_text(".gcloudignore\n")
    os.symlink(outside / "shared", app / "shared")
    os.symlink(outside / "one.txt", app / "linked.txt")
    os.symlink(app, app / "loop")
    assert upload(app) == ["linked.txt", "main.py", "shared/util.py"]
    staged = stage.copy_to(stage.compute_upload_set(app), tmp_path / "out")
    assert (staged / "shared" / "util.py").is_file() and not (staged / "shared").is_symlink()


# --- #!include ----------------------------------------------------------------------------------------------
def test_include_same_folder_one_level(tmp_path: Path) -> None:
    make(tmp_path, "main.py", "a.tmp", "b.bak", "c.other")
    (tmp_path / ".gcloudignore").write_text(".gcloudignore\n#!include:.gitignore\n")
    (tmp_path / ".gitignore").write_text("*.tmp\n#!include:more\n.gitignore\n")
    (tmp_path / "more").write_text("*.bak\n")
    # The nested include is not followed: b.bak stays; `more` itself is an ordinary file.
    assert upload(tmp_path) == ["b.bak", "c.other", "main.py", "more"]


@pytest.mark.parametrize(("line", "message"), [("#!include:sub/rules", "same folder"),
                                                ("#!include:missing", "does not exist"),
                                                ("#!include:sub", "is not a file"),
                                                ("!", "not a valid ignore pattern"),
                                                ("\\", "not a valid ignore pattern")])
def test_bad_include_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    make(tmp_path, "main.py", "sub/rules")
    (tmp_path / ".gcloudignore").write_text(f"# rules\n{line}\n")
    with pytest.raises(stage.StageError, match=message) as info:
        stage.compute_upload_set(tmp_path)
    assert info.value.problems[0][0] == ".gcloudignore:2"


def test_bad_pattern_in_an_included_file_is_named_by_that_file_and_line(tmp_path: Path) -> None:
    make(tmp_path, "main.py")
    (tmp_path / ".gcloudignore").write_text("*.tmp\n#!include:.gitignore\n")
    (tmp_path / ".gitignore").write_text("*.bak\n\n!\n")
    with pytest.raises(stage.StageError, match="'!' is not a valid") as info:
        stage.compute_upload_set(tmp_path)
    assert info.value.problems[0][0] == ".gitignore:3"


@pytest.mark.parametrize("content", [b"\xff\xfe\x00*.tmp\n", b"*.tmp\n\x80\n"])
def test_an_ignore_file_that_is_not_text_is_refused_not_guessed(tmp_path: Path, content: bytes) -> None:
    make(tmp_path, "main.py")
    (tmp_path / ".gcloudignore").write_bytes(content)
    with pytest.raises(stage.StageError, match="not UTF-8 text"):
        stage.compute_upload_set(tmp_path)


def test_stage_command_reports_a_bad_pattern_without_a_traceback(tmp_path: Path) -> None:
    app = make(tmp_path / "app", "main.py")
    (app / ".gcloudignore").write_text(".gcloudignore\n!\n")
    done = subprocess.run([sys.executable, "-m", "deploy", "stage", str(app), "--out", str(tmp_path / "out")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ".gcloudignore:2: '!' is not a valid ignore pattern" in done.stdout + done.stderr


# --- refusals -----------------------------------------------------------------------------------------------
def test_local_state_and_keys_are_refused_with_the_fix(tmp_path: Path) -> None:
    make(tmp_path, "main.py", ".env", ".env.production", ".env.example", ".datastore/db.sqlite",
         ".cloudtasks/q.db", ".local/runner.json", "certs/server.pem", "venv2/lib/x.py", "config/settings.json")
    (tmp_path / "venv2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "config" / "sa.json").write_text('{"type": "service_account", "private_key": "-----BEGIN"}')
    (tmp_path / ".gcloudignore").write_text(".gcloudignore\n")
    with pytest.raises(stage.StageError) as info:
        stage.compute_upload_set(tmp_path)
    found = {path: fix for path, _, fix in info.value.problems}
    assert found == {
        ".cloudtasks/": "add the line '.cloudtasks/' to .gcloudignore",
        ".datastore/": "add the line '.datastore/' to .gcloudignore",
        ".local/": "add the line '.local/' to .gcloudignore",
        "venv2/": "add the line 'venv2/' to .gcloudignore",
        ".env": "add the line '.env' to .gcloudignore",
        ".env.production": "add the line '.env.*' to .gcloudignore",
        "certs/server.pem": "add the line '*.pem' to .gcloudignore",
        "config/sa.json": "add the line 'config/sa.json' to .gcloudignore",
    }
    (tmp_path / ".gcloudignore").write_text(".gcloudignore\n" + "\n".join(stage.RECOMMENDED_LINES)
                                            + "\nvenv2/\nconfig/sa.json\n")
    assert upload(tmp_path) == ["config/settings.json", "main.py"]  # .env.* also covers the template
    (tmp_path / ".gcloudignore").write_text(".gcloudignore\n.env\n.env.production\n.datastore/\n.cloudtasks/\n"
                                            ".local/\n*.pem\nvenv2/\nconfig/sa.json\n")
    assert upload(tmp_path) == [".env.example", "config/settings.json", "main.py"]  # a template is no secret


def test_the_virtualenv_is_refused_even_without_a_gcloudignore(tmp_path: Path) -> None:
    make(tmp_path, "main.py", ".venv/bin/python")
    with pytest.raises(stage.StageError) as info:
        stage.compute_upload_set(tmp_path)
    paths = [p for p, _, _ in info.value.problems]
    assert paths == [".venv/", ".gcloudignore"]
    assert ".venv/" in info.value.problems[1][2]  # the file to create, with the recommended lines


def test_platform_limits(tmp_path: Path) -> None:
    make(tmp_path, "main.py")
    (tmp_path / ".gcloudignore").write_text(".gcloudignore\n")
    with open(tmp_path / "huge.bin", "wb") as handle:
        handle.truncate(stage.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    many = tmp_path / "many"
    many.mkdir()
    for i in range(stage.MAX_FILES_PER_DIR + 1):
        (many / f"{i}.txt").touch()
    with pytest.raises(stage.StageError) as info:
        stage.compute_upload_set(tmp_path)
    problems = {path: problem for path, problem, _ in info.value.problems}
    assert "32 MB limit" in problems["huge.bin"] and "1000 per folder" in problems["many/"]


# --- the copy and the command -------------------------------------------------------------------------------
def test_copy_holds_the_upload_set_and_the_config_files(tmp_path: Path) -> None:
    app = make(tmp_path / "app", "main.py", "lib/x.py", "app.yaml", "cron.yaml", "tests/t.py")
    (app / ".gcloudignore").write_text(".gcloudignore\ntests/\ncron.yaml\n")
    staged = stage.copy_to(stage.compute_upload_set(app), tmp_path / "out")
    copied = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    # cron.yaml is ignored for upload but gcloud reads it as a deployable, so it is staged.
    assert copied == [".gcloudignore", "app.yaml", "cron.yaml", "lib/x.py", "main.py"]
    assert stage.ignore_rules(staged).lines == ("# Written by `python -m deploy stage`: this folder is the upload "
                                                "set.", ".gcloudignore")
    with pytest.raises(stage.StageError, match="not empty"):
        stage.copy_to(stage.compute_upload_set(app), staged)


def test_stage_command_on_the_kit_itself(tmp_path: Path) -> None:
    out = tmp_path / "staged"
    done = subprocess.run([sys.executable, "-m", "deploy", "stage", str(REPO_ROOT), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ignore rules: .gcloudignore" and lines[1].startswith("upload set: ")
    count = int(lines[1].split()[2])
    staged = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert len(staged) == count + 1  # plus the staging folder's own .gcloudignore
    assert {"main.py", "app.yaml", "requirements.txt", "gunicorn.conf.py", "framework/app.py"} <= set(staged)
    assert not any(p.startswith((".venv", "tests/", "bench/", ".git/", ".local", "deploy/")) for p in staged)
    assert count < 200  # lean: the runtime package, not the repository
    largest = lines[2:7]
    assert len(largest) == 5 and all(line.startswith("  ") for line in largest)


def test_stage_command_refusal_exit_status(tmp_path: Path) -> None:
    make(tmp_path, "main.py", ".env")
    done = subprocess.run([sys.executable, "-m", "deploy", "stage", str(tmp_path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "stage: refused" in done.stderr and ".env: would be uploaded" in done.stderr
