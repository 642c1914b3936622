"""The `gcloud` command lines the deploy commands run (platform-facts §7.3, §8), and one driver that runs them.

Builders return argument lists (without the leading `gcloud`) so tests can assert them exactly. The driver
prints each command before running it; with `dry_run` it only prints; when gcloud is not on PATH it says
how to install it and prints the command for the user to run later.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

INSTALL_HINT = (
    "gcloud is not on PATH. Install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), "
    "run `gcloud init` (or `gcloud auth login` and `gcloud config set project PROJECT`), then run this "
    "again; or run the command below yourself:"
)
NOT_FOUND = 127  # a shell's status for a missing command


def _project(project: str | None) -> list[str]:
    return ["--project", project] if project else []


def app_deploy(deployables: Sequence[str], *, project: str | None = None, version: str | None = None,
               promote: bool | None = None, quiet: bool = False) -> list[str]:
    """`gcloud app deploy` of the service files and config files (§8.1); promote None = gcloud's default."""
    args = ["app", "deploy", *deployables, *_project(project)]
    if version:
        args += ["--version", version]
    if promote is not None:
        args.append("--promote" if promote else "--no-promote")
    if quiet:
        args.append("--quiet")
    return args


def app_versions_list(service: str, *, project: str | None = None) -> list[str]:
    """`gcloud app versions list` of one service, as JSON (what rollback reads)."""
    return ["app", "versions", "list", "--service", service, "--format=json", *_project(project)]


def set_traffic(service: str, splits: Mapping[str, float | str], *, split_by: str | None = None,
                migrate: bool = False, project: str | None = None, quiet: bool = False) -> list[str]:
    """`gcloud app services set-traffic SERVICE --splits=V1=W1,...` (traffic splits and rollback)."""
    args = ["app", "services", "set-traffic", service,
            "--splits=" + ",".join(f"{version}={weight}" for version, weight in splits.items())]
    if split_by:
        args.append(f"--split-by={split_by}")
    if migrate:
        args.append("--migrate")
    args += _project(project)
    if quiet:
        args.append("--quiet")
    return args


def app_logs_tail(*, service: str | None = None, version: str | None = None, level: str | None = None,
                  project: str | None = None) -> list[str]:
    """`gcloud app logs tail [-s S] [-v V] [--level L]` (§8.2)."""
    args = ["app", "logs", "tail"]
    if service:
        args += ["-s", service]
    if version:
        args += ["-v", version]
    if level:
        args += ["--level", level]
    return args + _project(project)


def app_browse(*, service: str | None = None, version: str | None = None, launch: bool = True,
               project: str | None = None) -> list[str]:
    """`gcloud app browse [-s S] [-v V] [--no-launch-browser]` (§8.2)."""
    args = ["app", "browse"]
    if service:
        args += ["-s", service]
    if version:
        args += ["-v", version]
    if not launch:
        args.append("--no-launch-browser")
    return args + _project(project)


def functions_deploy(name: str, *, runtime: str, source: str, entry_point: str, trigger: Sequence[str],
                     region: str | None = None, project: str | None = None, env_vars_file: str | None = None,
                     allow_unauthenticated: bool | None = None, quiet: bool = False) -> list[str]:
    """`gcloud functions deploy NAME --gen2 ...` with the trigger flags derived from the code (§7.3)."""
    args = ["functions", "deploy", name, "--gen2", f"--runtime={runtime}", f"--source={source}",
            f"--entry-point={entry_point}", *trigger]
    if region:
        args.append(f"--region={region}")
    if allow_unauthenticated is not None:
        args.append("--allow-unauthenticated" if allow_unauthenticated else "--no-allow-unauthenticated")
    if env_vars_file:
        args.append(f"--env-vars-file={env_vars_file}")
    args += _project(project)
    if quiet:
        args.append("--quiet")
    return args


@dataclass
class Gcloud:
    """Runs gcloud commands, printing each first; `dry_run` prints only. `executable` defaults to PATH's."""

    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    executable: str | None = None

    def __post_init__(self) -> None:
        if self.executable is None:
            self.executable = shutil.which("gcloud")
        self._hinted = False

    @staticmethod
    def shown(args: Sequence[str], cwd: Path | str | None = None) -> str:
        """The command as a user would type it (with `cd` when it runs elsewhere)."""
        line = shlex.join(["gcloud", *args])
        return f"(cd {shlex.quote(str(cwd))} && {line})" if cwd else line

    def _unavailable(self, args: Sequence[str], cwd: Path | str | None) -> bool:
        if self.dry_run or self.executable:
            print(f"$ {self.shown(args, cwd)}", file=self.out, flush=True)
            return self.dry_run
        if not self._hinted:
            print(INSTALL_HINT, file=self.out)
            self._hinted = True
        print(f"  {self.shown(args, cwd)}", file=self.out, flush=True)
        return True

    def run(self, args: Sequence[str], *, cwd: Path | str | None = None) -> int:
        """Run `gcloud ARGS` in `cwd` with the terminal attached; its exit status (0 for a dry run)."""
        if self._unavailable(args, cwd):
            return 0 if self.dry_run else NOT_FOUND
        assert self.executable is not None
        return subprocess.run([self.executable, *args], cwd=cwd, check=False).returncode

    def capture(self, args: Sequence[str], *, cwd: Path | str | None = None) -> tuple[int, str]:
        """Run `gcloud ARGS` and return (status, stdout); stderr goes to the terminal. ('', 0) for a dry run."""
        if self._unavailable(args, cwd):
            return (0 if self.dry_run else NOT_FOUND), ""
        assert self.executable is not None
        done = subprocess.run([self.executable, *args], cwd=cwd, check=False, stdout=subprocess.PIPE, text=True)
        return done.returncode, done.stdout
