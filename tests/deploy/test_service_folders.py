"""Services in subfolders: each service's own .gcloudignore applies below its folder (gcloud uploads every
service from its yaml's folder with that folder's ignore file, platform-facts §5.9), and `deploy app`
preflights every service it deploys, each from its own staged folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import stage
from tests.deploy.test_gcloud import WSGI_MAIN, deploy
from tests.support.procs import REPO_ROOT


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


TWO_SERVICES = {
    ".gcloudignore": ".gcloudignore\nnotes.txt\n",
    "app.yaml": "runtime: python312\n",
    "main.py": "",
    "data.csv": "",
    "worker/.gcloudignore": ".gcloudignore\nfixtures/\n*.csv\n",
    "worker/app.yaml": "runtime: python312\nservice: worker\n",
    "worker/main.py": "",
    "worker/data.csv": "",
    "worker/notes.txt": "",
    "worker/fixtures/big.bin": "",
}


def test_a_service_folder_s_own_gcloudignore_applies_below_it(tmp_path: Path) -> None:
    root = make(tmp_path / "app", TWO_SERVICES)
    folders = stage.service_folders(root, [root / "app.yaml", root / "worker" / "app.yaml"])
    assert folders == ("worker",)
    upload = stage.compute_upload_set(root, services=folders)
    assert [rel for rel, _ in upload.files] == ["app.yaml", "data.csv", "main.py", "worker/app.yaml",
                                                "worker/main.py"]
    # worker/data.csv and worker/fixtures/ by the worker's file; worker/notes.txt by the root's, which the
    # default service's upload (the whole tree) applies: never more than either reading uploads.
    only_root = [rel for rel, _ in stage.compute_upload_set(root).files]
    assert "worker/data.csv" in only_root and "worker/fixtures/big.bin" in only_root
    assert "and in worker/: .gcloudignore" in stage.summary(upload)


def test_a_service_folder_without_a_gcloudignore_gets_gcloud_s_default(tmp_path: Path) -> None:
    root = make(tmp_path / "app", {".gcloudignore": "# upload everything\n", "app.yaml": "runtime: python312\n",
                                   "__pycache__/m.pyc": "", "api/app.yaml": "service: api\n",
                                   "api/__pycache__/m.pyc": "", "api/.gitignore": "", "api/main.py": ""})
    upload = stage.compute_upload_set(root, services=("api",))
    files = [rel for rel, _ in upload.files]
    assert "__pycache__/m.pyc" in files  # the root's own file keeps it
    assert "api/__pycache__/m.pyc" not in files and "api/.gitignore" not in files and "api/main.py" in files
    assert "and in api/: gcloud's default (gcloud writes this file when it deploys)" in stage.summary(upload)


def test_the_staged_service_folder_uploads_exactly_what_was_staged(tmp_path: Path) -> None:
    root = make(tmp_path / "app", TWO_SERVICES)
    upload, staged = stage.stage(root, tmp_path / "staged", services=("worker",))
    for folder in (staged, staged / "worker"):
        assert (folder / ".gcloudignore").read_text().splitlines()[1:] == [".gcloudignore"]
    assert not (staged / "worker" / "data.csv").exists() and (staged / "worker" / "main.py").is_file()
    assert {rel for rel, _ in upload.files} <= {p.relative_to(staged).as_posix()
                                                for p in staged.rglob("*") if p.is_file()}


def test_stage_command_takes_the_services_in_subfolders(tmp_path: Path) -> None:
    root = make(tmp_path / "app", {**TWO_SERVICES, "worker/.gcloudignore": "app.yaml\n*.csv\n"})
    done = subprocess.run([sys.executable, "-m", "deploy", "stage", str(root), "--service", "worker/app.yaml",
                           "--list", "--out", str(tmp_path / "staged")], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "worker/data.csv" not in done.stdout.splitlines() and "worker/main.py" in done.stdout.splitlines()
    # The service's yaml is what gcloud deploys it by: staged even though its own file ignores it.
    assert (tmp_path / "staged" / "worker" / "app.yaml").is_file()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deploy_app_preflights_every_service_and_stops_at_one_that_does_not_boot(tmp_path: Path) -> None:
    root = make(tmp_path / "two", {
        ".gcloudignore": ".gcloudignore\n.local/\n",
        "app.yaml": "runtime: python312\nentrypoint: gunicorn -b :$PORT main:app\n",
        "main.py": WSGI_MAIN, "requirements.txt": "gunicorn>=23,<24\n",
        "worker/app.yaml": "runtime: python312\nservice: worker\nentrypoint: gunicorn -b :$PORT main:app\n",
        "worker/main.py": "import a_module_only_the_developer_has\n" + WSGI_MAIN,
        "worker/requirements.txt": "gunicorn>=23,<24\n",
    })
    # The gunicorn-only virtualenv the other preflight tests cache in the repository (built once).
    (REPO_ROOT / ".local" / "venvs").mkdir(parents=True, exist_ok=True)
    (root / ".local").mkdir()
    os.symlink(REPO_ROOT / ".local" / "venvs", root / ".local" / "venvs")
    done, calls = deploy(tmp_path, "app", str(root), "app.yaml", "worker/app.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert calls == []  # gcloud never ran
    assert "preflight of service default (app.yaml):" in done.stdout
    assert "preflight of service worker (worker/app.yaml):" in done.stdout
    assert "preflight: OK" in done.stdout  # the default service booted
    assert "a_module_only_the_developer_has" in done.stdout
    assert "service worker of the staged app did not boot cleanly" in done.stderr
