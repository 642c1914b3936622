"""`python -m deploy stage [DIR] [--out STAGING]`: the files gcloud would upload, copied to a staging folder.

The upload set follows gcloud's .gcloudignore rules (platform-facts §5.9): gitignore syntax (pathspec's
GitIgnoreSpec), `#!include:FILE` from the same folder, one level deep; a folder that is ignored is not
walked, so nothing under it can be re-included; symlinks are followed. Without a .gcloudignore the file
gcloud itself writes is used (App Engine python3: always; functions: only beside .git, .gitignore or
node_modules). Local state and credentials (.venv, .env, .datastore/, .cloudtasks/, .local/, *.pem,
service-account keys) are refused even when the ignore file forgets them, as are the platform's limits
(§1.6: 10,000 files, 1,000 per folder, 32 MB per file).

Services in subfolders: gcloud uploads each service from its yaml's folder with that folder's own
.gcloudignore (or the default it writes there), not the root's. One staged folder serves every service, so
a file is staged only when the root's rules and those of every service folder above it all keep it: never
more than either reading would upload. The staged service folders get their own self-ignoring
.gcloudignore, so gcloud uploads from each exactly what was staged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

APP = "app"
FUNCTIONS = "functions"
IGNORE_FILE = ".gcloudignore"
INCLUDE_DIRECTIVE = "#!include:"
# What gcloud writes for both App Engine python3 and functions (its header comment paraphrased).
_DEFAULT_HEADER = [
    "# The default .gcloudignore gcloud writes when none exists: these paths are not uploaded.",
    ".gcloudignore",
    ".git",
    ".gitignore",
]
DEFAULT_APP_IGNORE = [*_DEFAULT_HEADER, "# Python pycache:", "__pycache__/", "# Ignored by the build system",
                      "/setup.cfg"]
DEFAULT_FUNCTIONS_IGNORE = [*DEFAULT_APP_IGNORE, "node_modules"]
#: Config files `gcloud app deploy` takes as deployables (§5.8); staged even when ignored.
CONFIG_FILES = ("app.yaml", "cron.yaml", "dispatch.yaml", "index.yaml", "queue.yaml")
MAX_FILES = 10_000
MAX_FILES_PER_DIR = 1_000
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Folders of local state that never belong in an upload (the runner's, the emulators', virtualenvs).
LOCAL_DIRS = (".venv", "venv", ".datastore", ".cloudtasks", ".local")
KEY_SUFFIXES = (".pem", ".p12", ".pfx")
_TEMPLATE_SUFFIXES = (".example", ".sample", ".template")  # `.env.example`: a template, no secrets
# What every deploy of this kit wants in .gcloudignore on top of gcloud's default.
RECOMMENDED_LINES = [".venv/", "venv/", ".env", ".env.*", ".datastore/", ".cloudtasks/", ".local/", "*.pem",
                     "*.p12"]


class StageError(Exception):
    """Files that must not be uploaded, or limits the upload breaks; `problems` are (path, problem, fix)."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}\n  fix: {fix}" for path, problem, fix in problems))


@dataclass(frozen=True)
class IgnoreRules:
    """The effective ignore patterns, where they came from, and whether gcloud would write the file."""

    lines: tuple[str, ...]
    source: str
    written_by_gcloud: bool = False

    def spec(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.lines)


@dataclass(frozen=True)
class UploadSet:
    """The files to upload (paths relative to `root`, with '/' separators) and their sizes."""

    root: Path
    files: tuple[tuple[str, int], ...]
    rules: IgnoreRules
    skipped: tuple[str, ...] = field(default=())
    service_rules: tuple[tuple[str, IgnoreRules], ...] = ()  # (service folder relative to root, its rules)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def largest(self, count: int = 5) -> list[tuple[str, int]]:
        return sorted(self.files, key=lambda item: (-item[1], item[0]))[:count]


def _read_lines(path: Path, where: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror or str(exc)
        raise StageError([(where, f"cannot read {path.name} ({why})",
                           "make it a text file of gitignore patterns, one a line")]) from None


def ignore_rules(app_dir: Path, kind: str = APP, ignore_file: str = IGNORE_FILE) -> IgnoreRules:
    """The patterns gcloud applies to `app_dir`: its ignore file with includes expanded, else gcloud's default."""
    path = app_dir / ignore_file
    if not path.is_file():
        if kind == FUNCTIONS:
            if not any((app_dir / name).exists() for name in (".git", ".gitignore", "node_modules")):
                return IgnoreRules((), "none (gcloud uploads everything)")
            lines = list(DEFAULT_FUNCTIONS_IGNORE)
            if (app_dir / ".gitignore").is_file():
                lines.append(INCLUDE_DIRECTIVE + ".gitignore")
            return IgnoreRules(_checked(_expand(app_dir, lines, ignore_file)), "gcloud's default", True)
        return IgnoreRules(tuple(DEFAULT_APP_IGNORE), "gcloud's default", True)
    return IgnoreRules(_checked(_expand(app_dir, _read_lines(path, ignore_file), ignore_file)), ignore_file)


def _expand(app_dir: Path, lines: list[str], name: str) -> Iterator[tuple[str, str]]:
    """(FILE:LINE, pattern) of every line, `#!include:` lines replaced by the included file's lines."""
    for number, line in enumerate(lines, 1):
        where = f"{name}:{number}"
        if not line.startswith(INCLUDE_DIRECTIVE):
            yield where, line
            continue
        target = line[len(INCLUDE_DIRECTIVE):].strip()
        if not target or "/" in target or os.sep in target:
            raise StageError([(where, f"{line!r} may only name a file in the same folder",
                               "write #!include:FILE with a bare file name (gcloud reads no other folder)")])
        if not (app_dir / target).is_file():
            missing = "is not a file" if (app_dir / target).exists() else "does not exist"
            raise StageError([(where, f"the included file {target!r} {missing}",
                               f"create {target} or remove the line")])
        for included_number, included in enumerate(_read_lines(app_dir / target, where), 1):
            # One level only: gcloud does not follow an include inside an included file.
            yield f"{target}:{included_number}", "" if included.startswith(INCLUDE_DIRECTIVE) else included


def _checked(lines: Iterator[tuple[str, str]]) -> tuple[str, ...]:
    """The patterns, each one compiled alone first so that a bad one is reported by its FILE:LINE."""
    patterns = []
    for where, line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError as exc:
            raise StageError([(where, f"{line!r} is not a valid ignore pattern ({exc})",
                               "escape the special character with a backslash, or remove the line")]) from None
        patterns.append(line)
    return tuple(patterns)


def _local_state(rel: str, path: Path) -> str | None:
    """Why the folder `rel` must never be uploaded (a virtualenv, emulator or runner data), else None."""
    name = rel.rpartition("/")[2]
    if name in LOCAL_DIRS:
        return f"{name}/ is local state (a virtualenv, emulator data or the local runner's files)"
    if (path / "pyvenv.cfg").is_file():
        return "a virtualenv (App Engine installs requirements.txt itself)"
    return None


def _matcher(spec: pathspec.GitIgnoreSpec, scoped: Sequence[tuple[str, pathspec.GitIgnoreSpec]]
             ) -> Callable[[str], bool]:
    """Whether a relative path is ignored by the root's spec or by the spec of a service folder above it."""
    def match(rel: str) -> bool:
        if spec.match_file(rel):
            return True
        return any(rel.startswith(folder + "/") and inner.match_file(rel[len(folder) + 1:])
                   for folder, inner in scoped)

    return match


def _walk(root: Path, match: Callable[[str], bool], problems: list[tuple[str, str, str]], ignore_file: str
          ) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of every file not ignored; ignored folders are not entered, forbidden ones are
    reported once in `problems`."""
    seen_dirs = {root.resolve()}
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks, as gcloud does
            except OSError:
                continue
            if is_dir:
                if match(rel + "/"):
                    continue
                reason = _local_state(rel, Path(entry.path))
                if reason is not None:
                    problems.append((rel + "/", f"would be uploaded: {reason}",
                                     f"add the line {rel.rpartition('/')[2] + '/'!r} to {ignore_file}"))
                    continue
                real = Path(entry.path).resolve()
                if real in seen_dirs:
                    continue  # a symlink loop
                seen_dirs.add(real)
                stack.append((rel + "/", Path(entry.path)))
            elif entry.is_file() and not match(rel):
                yield rel, Path(entry.path)


def _private_key_json(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return False
    return b'"private_key"' in head


def _forbidden(rel: str, path: Path) -> tuple[str, str] | None:
    """(problem, .gcloudignore line) when the file `rel` is a local secret or a credential."""
    name = rel.rpartition("/")[2]
    if (name == ".env" or name.startswith(".env.")) and not name.endswith(_TEMPLATE_SUFFIXES):
        return "a .env file holds local secrets", name if name == ".env" else ".env.*"
    if name.endswith(KEY_SUFFIXES):
        return "a private key or certificate bundle", "*" + os.path.splitext(name)[1]
    if name.endswith(".json") and _private_key_json(path):
        return "a service-account key (JSON with \"private_key\")", rel
    return None


def service_folders(root: Path, service_yamls: Sequence[Path | str]) -> tuple[str, ...]:
    """The folders (relative to `root`, '/'-separated) of services whose yaml is below `root`, not in it."""
    folders = set()
    for path in service_yamls:
        parent = Path(path).parent
        rel = (parent if not parent.is_absolute() else parent.resolve().relative_to(root.resolve())).as_posix()
        if rel not in ("", "."):
            folders.add(rel)
    return tuple(sorted(folders))


def compute_upload_set(app_dir: Path | str, kind: str = APP, ignore_file: str = IGNORE_FILE,
                       services: Sequence[str] = ()) -> UploadSet:
    """The files gcloud would upload from `app_dir`; StageError if any must not go or a limit is broken.

    `services` are the folders (relative, see `service_folders`) of services in subfolders: their own
    ignore rules apply below them too.
    """
    root = Path(app_dir)
    rules = ignore_rules(root, kind, ignore_file)
    scoped = tuple((folder, ignore_rules(root / folder, kind, ignore_file)) for folder in services)
    match = _matcher(rules.spec(), [(folder, inner.spec()) for folder, inner in scoped])
    problems: list[tuple[str, str, str]] = []
    files: list[tuple[str, int]] = []
    for rel, path in _walk(root, match, problems, ignore_file):
        bad = _forbidden(rel, path)
        if bad is not None:
            problem, line = bad
            problems.append((rel, f"would be uploaded: {problem}", f"add the line {line!r} to {ignore_file}"))
            continue
        files.append((rel, path.stat().st_size))
    for rel, size in files:
        if size > MAX_FILE_BYTES:
            problems.append((rel, f"{size / 2**20:.1f} MB is over App Engine's 32 MB limit per file",
                             f"keep it in Cloud Storage, or add {rel!r} to {ignore_file}"))
    per_dir = Counter(rel.rpartition("/")[0] or "." for rel, _ in files)
    for folder, count in per_dir.items():
        if count > MAX_FILES_PER_DIR:
            problems.append((folder + "/", f"{count} files: over the limit of {MAX_FILES_PER_DIR} per folder",
                             f"split the folder or ignore part of it in {ignore_file}"))
    if len(files) > MAX_FILES:
        problems.append((".", f"{len(files)} files: over the limit of {MAX_FILES} per version",
                         f"ignore what the app does not need in {ignore_file}"))
    if problems:
        if not (root / ignore_file).is_file():
            problems.append((ignore_file, "does not exist, so gcloud would upload everything but its defaults",
                             "create it with: " + ", ".join(RECOMMENDED_LINES)))
        raise StageError(problems)
    return UploadSet(root, tuple(sorted(files)), rules, service_rules=scoped)


def copy_to(upload: UploadSet, out: Path | str | None = None, extra: Sequence[str] = CONFIG_FILES) -> Path:
    """Copy the upload set (plus the config files in `extra` that exist) into `out` (default: a new temp dir).

    The copy gets a .gcloudignore that ignores only itself, so gcloud run there uploads exactly these files.
    """
    target = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="deploy-stage-"))
    if target.exists() and any(target.iterdir()):
        raise StageError([(str(target), "the staging folder is not empty", "give --out a new or empty folder")])
    target.mkdir(parents=True, exist_ok=True)
    names = {rel for rel, _ in upload.files}
    names.update(name for name in extra if (upload.root / name).is_file())
    for rel in sorted(names):
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(upload.root / rel, destination)  # follows symlinks: the file's content goes up
    for folder in ["", *(folder for folder, _ in upload.service_rules)]:
        (target / folder).mkdir(parents=True, exist_ok=True)
        (target / folder / IGNORE_FILE).write_text(
            "# Written by `python -m deploy stage`: this folder is the upload set.\n" f"{IGNORE_FILE}\n")
    return target


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def summary(upload: UploadSet, staged: Path | None = None) -> str:
    """What `stage` prints: rules used, file count and size, the largest files, where the copy is."""
    lines = [f"ignore rules: {upload.rules.source}"
             + (" (gcloud writes this file when it deploys)" if upload.rules.written_by_gcloud else "")]
    for folder, rules in upload.service_rules:
        lines.append(f"  and in {folder}/: {rules.source}"
                     + (" (gcloud writes this file when it deploys)" if rules.written_by_gcloud else ""))
    lines.append(f"upload set: {len(upload.files)} files, {_size(upload.total_bytes)}")
    for rel, size in upload.largest():
        lines.append(f"  {_size(size):>9}  {rel}")
    if staged is not None:
        lines.append(f"staged in {staged}")
    return "\n".join(lines)


def stage(app_dir: Path | str, out: Path | str | None = None, kind: str = APP,
          services: Sequence[str] = ()) -> tuple[UploadSet, Path]:
    """Compute the upload set of `app_dir` (with the service folders `services`) and copy it to `out`; what
    `app` and `functions` deploy from."""
    upload = compute_upload_set(app_dir, kind, services=services)
    extra = [*CONFIG_FILES, *(f"{folder}/{name}" for folder in services for name in CONFIG_FILES)]
    return upload, copy_to(upload, out, extra)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `stage` command's arguments."""
    parser.add_argument("app_dir", nargs="?", default=".", help="the folder to deploy (default: .)")
    parser.add_argument("--out", help="staging folder to create (default: a new temporary folder)")
    parser.add_argument("--functions", action="store_true",
                        help="apply `gcloud functions deploy`'s default ignore rules instead of App Engine's")
    parser.add_argument("--list", action="store_true", help="print every file of the upload set")
    parser.add_argument("--service", action="append", default=[], metavar="YAML",
                        help="a service deployed from a subfolder (e.g. worker/app.yaml): its folder's own "
                             ".gcloudignore applies below it too; repeatable")


def run(args: argparse.Namespace) -> int:
    """Run `stage` with parsed arguments; 0 on success, 1 when the upload would be refused."""
    try:
        root = Path(args.app_dir)
        services = service_folders(root, [root / name for name in args.service])
        upload, staged = stage(root, args.out, FUNCTIONS if args.functions else APP, services)
    except StageError as exc:
        print(f"stage: refused\n{exc}", file=sys.stderr)
        return 1
    if args.list:
        print("\n".join(rel for rel, _ in upload.files))
    print(summary(upload, staged))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `stage` on `python -m deploy`."""
    parser = subparsers.add_parser("stage", help="compute the upload set (.gcloudignore) and copy it to a folder",
                                   description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m deploy.stage`: the same as `python -m deploy stage`."""
    parser = argparse.ArgumentParser(prog="python -m deploy stage", description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
