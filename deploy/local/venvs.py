"""Each service runs with the packages its own requirements.txt names, as App Engine builds each service.

A service folder whose requirements.txt differs from the kit's gets a virtualenv built from it once, in
`<app-dir>/.local/venvs/<hash>` (hash of the requirements, the Python version and whether gunicorn was
added), reused until the file changes. The same requirements as the kit's, or none, use the kit's own
interpreter. With no entrypoint, gunicorn is added as App Engine's buildpack adds it (its pinned version, §1.2).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path

from deploy.config.requirements import read_requirements, requirement_names
from deploy.config.yaml_nodes import Findings
from deploy.local import output
from deploy.local.processes import Child
from deploy.preflight import BUILDPACK_GUNICORN

KIT_ROOT = Path(__file__).resolve().parents[2]
KIT_BIN = Path(sys.executable).parent
_DONE = ".complete"
_announced: set[Path] = set()  # virtualenvs already named in this run's output


class VenvError(Exception):
    """The service's requirements could not be installed; the message says which file and why."""


def _requirements(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return sorted(lines)


def _files_read(requirements: Path) -> list[Path]:
    """requirements.txt and every file it includes with `-r`, as pip reads them."""
    seen: set[Path] = set()
    read_requirements(requirements, Findings(requirements), seen)
    return sorted(seen | {requirements.resolve()})


def venv_key(requirements: Path, add_gunicorn: bool) -> str:
    """The cache key: the requirements as written (with the files they include), the interpreter version,
    and the buildpack's addition."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update(b"gunicorn+" if add_gunicorn else b"-")
    for path in _files_read(requirements):
        digest.update(os.path.relpath(path, requirements.parent.resolve()).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


async def bin_dir_for(service: str, root: Path, app_dir: Path, *, has_entrypoint: bool) -> Path:
    """The bin folder whose python (and gunicorn, ...) runs this service; builds its virtualenv if needed."""
    requirements = root / "requirements.txt"
    if not requirements.is_file():
        return KIT_BIN
    wanted = _requirements(requirements)
    kit_file = KIT_ROOT / "requirements.txt"
    if kit_file.is_file() and wanted == _requirements(kit_file):
        return KIT_BIN
    add_gunicorn = not has_entrypoint and "gunicorn" not in requirement_names(requirements)
    venv = app_dir / ".local" / "venvs" / venv_key(requirements, add_gunicorn)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another runner may be building the same one
        if (venv / _DONE).exists():
            if venv not in _announced:
                output.emit(service, f"using the virtualenv built from {requirements} ({venv})")
            _announced.add(venv)
            return venv / "bin"
        await _build(service, requirements, venv, add_gunicorn)
        _announced.add(venv)
    return venv / "bin"


async def _build(service: str, requirements: Path, venv: Path, add_gunicorn: bool) -> None:
    output.emit(service, f"building a virtualenv from {requirements} in {venv} (once; reused until it changes)")
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        # The kit's pip installs into the new interpreter: no pip download into every service's venv.
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--disable-pip-version-check", "--quiet", "-r", str(requirements)] + ([BUILDPACK_GUNICORN] if add_gunicorn else []),
    ]
    for argv in steps:
        child = Child(f"{service} pip", argv, env=_pip_env(), cwd=requirements.parent)
        await child.start()
        try:
            code = await child.wait()
        except asyncio.CancelledError:  # Ctrl-C while building: pip stops too, nothing half-built is kept
            await asyncio.shield(child.stop())
            shutil.rmtree(venv, ignore_errors=True)
            raise
        if code != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise VenvError(f"{requirements}:1: installing these requirements failed (pip's output is above)\n"
                            "  fix: correct the requirement named in pip's error, then start the runner again")
    (venv / _DONE).write_text(str(requirements) + "\n")


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env
