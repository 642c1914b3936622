"""A service's Python files as the buildpack sees them (§1.2, §1.3): requirements.txt, main.py, no Pipfile."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .app_yaml import AppYaml
from .yaml_nodes import Findings

# Programs an entrypoint may start that come from a pip package, by package name.
_PROGRAM_PACKAGES = {"gunicorn": "gunicorn", "uvicorn": "uvicorn", "hypercorn": "hypercorn",
                     "functions-framework": "functions-framework", "waitress-serve": "waitress",
                     "daphne": "daphne", "granian": "granian"}
_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's comment rule: `#` at the start or after whitespace
_OPTION = re.compile(r"\s+(?=--?[A-Za-z])")  # where a requirement's per-line options begin
_APP_NAME = re.compile(r"^(app\s*[:=]|def app\b|async def app\b|class app\b|from\s+\S+\s+import\s+.*\bapp\b)"
                       r"|^import\s+.*\bas\s+app\b|\bas\s+app\b", re.MULTILINE)


@dataclass(frozen=True)
class RequirementLine:
    """One requirement line: the package's canonical name, its line and whether it is pinned."""

    name: str
    line: int
    specifier: str
    file: Path


def read_requirements(path: Path, findings: Findings, seen: set[Path] | None = None) -> list[RequirementLine]:
    """The packages of a requirements file (following `-r`), with warnings for what pip may resolve loosely."""
    seen = seen if seen is not None else set()
    if path.resolve() in seen:
        return []
    seen.add(path.resolve())
    out = findings.for_file(path)
    found: list[RequirementLine] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        out.error(1, "cannot read requirements.txt", "make it a readable UTF-8 text file")
        return []
    for number, text in _logical_lines(lines):
        if not text:
            continue
        if text.startswith(("-r ", "--requirement ", "-r", "--requirement=")):
            target = re.sub(r"^(-r|--requirement)[=\s]*", "", text)
            nested = path.parent / target
            if nested.is_file():
                found += read_requirements(nested, findings, seen)
            else:
                out.error(number, f"included requirements file {target!r} does not exist",
                          "fix the path (it is read relative to this file)")
            continue
        if text.startswith("-"):
            if text.startswith(("-e", "--editable")):
                out.warn(number, "an editable requirement (-e) is installed from a path or VCS checkout",
                         "depend on a released version instead, e.g. `name>=1.2,<2`")
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            out.error(number, f"pip cannot read this requirement ({exc})",
                      "write `package>=1.2,<2` (see pip's requirement specifiers)")
            continue
        spec = str(req.specifier)
        if req.url:
            spec = "@" + req.url
        elif not spec:
            out.warn(number, f"{req.name} is not pinned: each deploy may install a different version",
                     f"give a range, e.g. `{req.name}>=X.Y,<X+1`")
        elif not any(s.operator in ("==", "===", "~=", "<", "<=") for s in req.specifier):
            out.warn(number, f"{req.name}{spec} has no upper bound: a new major version can break a deploy",
                     f"add an upper bound, e.g. `{req.name}{spec},<NEXT_MAJOR`")
        found.append(RequirementLine(canonicalize_name(req.name), number, spec, path))
    return found


def requirement_names(path: Path) -> set[str]:
    """The canonical names of the packages a requirements file (and the files it `-r` includes) lists."""
    return {line.name for line in read_requirements(path, Findings(path))}


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(first line number, text) of each line as pip reads it: comments dropped, `\\` continuations joined,
    and a requirement's own options (`--hash=...`, as pip-compile writes them) cut off."""
    logical: list[tuple[int, str]] = []
    start, parts = 0, list[str]()
    for number, raw in enumerate(lines, start=1):
        text = _COMMENT.sub("", raw)
        if not parts:
            start = number
        if text.endswith("\\"):
            parts.append(text[:-1])
            continue
        parts.append(text)
        joined, parts = " ".join(parts).strip(), []
        if joined and not joined.startswith("-"):
            joined = _OPTION.split(joined, 1)[0].strip()
        logical.append((start, joined))
    if parts:
        logical.append((start, " ".join(parts).strip()))
    return logical


def _entry_program(entrypoint: str) -> str | None:
    try:
        words = shlex.split(entrypoint)
    except ValueError:
        return None
    while words and (words[0] in ("exec", "env") or "=" in words[0]):
        words = words[1:]
    if len(words) >= 3 and words[0].startswith("python") and words[1] == "-m":
        return words[2]
    return Path(words[0]).name if words else None


def check_service_files(service: AppYaml, findings: Findings) -> None:
    """Problems in the service folder the build would hit: Pipfile, missing gunicorn, no main:app."""
    root = service.root
    for name in ("Pipfile", "Pipfile.lock"):
        if (root / name).exists():
            findings.for_file(root / name).error(
                1, f"{name} is present: App Engine's python3 build refuses it",
                "list the packages in requirements.txt and delete the Pipfile (or add it to .gcloudignore)")
    req_path = root / "requirements.txt"
    packages = read_requirements(req_path, findings) if req_path.exists() else []  # a folder: cannot be read
    names = {p.name for p in packages}
    if service.app_engine_apis and "appengine-python-standard" not in names:
        findings.warn(service.line("app_engine_apis"), "app_engine_apis is true but requirements.txt lacks "
                      "appengine-python-standard", "add appengine-python-standard, or remove app_engine_apis")
    elif not service.app_engine_apis and "appengine-python-standard" in names:
        findings.warn(service.line("runtime"), "requirements.txt lists appengine-python-standard but "
                      "app_engine_apis is not true", "add `app_engine_apis: true` to use the bundled services")
    line = service.line("entrypoint")
    if service.entrypoint:
        program = _entry_program(service.entrypoint)
        package = _PROGRAM_PACKAGES.get(program or "")
        if package is not None and canonicalize_name(package) not in names:
            where = "requirements.txt lacks it" if req_path.is_file() else "there is no requirements.txt"
            message = f"the entrypoint runs {program}, but {where}"
            fix = f"add `{package}` (pinned, e.g. `{package}>=23,<24`) to {req_path.name}"
            if package == "gunicorn":
                findings.error(line, message, fix)  # §1.3: an explicit gunicorn entrypoint needs it listed
            else:
                findings.warn(line, message, fix)
        return
    main = root / "main.py"
    if not main.is_file():
        findings.error(service.line("runtime"), "no entrypoint and no main.py: App Engine's default start "
                       "needs main.py with a WSGI `app`", "add `entrypoint: gunicorn -b :$PORT PKG:app` or main.py")
        return
    try:
        source = main.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if not _APP_NAME.search(source):
        findings.for_file(main).warn(1, "main.py does not seem to define `app`, which App Engine's default "
                                     "gunicorn start serves", "name the WSGI application `app`, or set an entrypoint")
