"""Every example of the documentation runs: python blocks are executed, config files load, commands exist.

Per page, in a fresh folder and a fresh interpreter: a block whose `:caption:` is a file name (`main.py`,
`app.yaml`, `templates/page.html`) is written there, every other python block is executed, in page order,
in one namespace (so a page reads top to bottom as a session). Config files (app.yaml, cron.yaml, ...)
are then loaded with deploy.config, as `python -m deploy check` reads them. `console` blocks: each
`$ python -m MODULE ...` flag must be one the command's --help lists, each `$ make TARGET` a Makefile target.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from deploy.config import ConfigError, load_app_yaml, load_cron, load_dispatch, load_indexes, load_queues
from tests.docs.blocks import DOCS, Block, code_blocks, documents
from tests.support.procs import REPO_ROOT

_FILE_CAPTION = re.compile(r"^[\w.-]+(/[\w.-]+)*\.\w+$")
_LOADERS: dict[str, Callable[[Path], object]] = {"app.yaml": load_app_yaml, "cron.yaml": load_cron, "dispatch.yaml": load_dispatch,
            "index.yaml": load_indexes, "queue.yaml": load_queues}
# Runs the page's blocks in order; a failure names the page and line (the compile filename).
_DRIVER = """
import json, os, sys
sys.path.insert(0, os.getcwd())
namespace = {"__name__": "docs_example"}
for kind, where, path, text in json.load(open(sys.argv[1])):
    if kind == "file":
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    else:
        exec(compile(text, where, "exec"), namespace)
"""


def _is_file(block: Block) -> bool:
    return bool(_FILE_CAPTION.match(block.caption))


def _runnable(path: Path) -> bool:
    return any(b.language == "python" or _is_file(b) for b in code_blocks(path))


PAGES = [p for p in documents() if _runnable(p)]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GAE_", "K_", "FUNCTION_", "PYTEST_", "DATASTORE_", "CLOUD_TASKS_", "FRAMEWORK_"))
           and k not in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "LOCAL_PLATFORM_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    steps = []
    for block in code_blocks(page):
        if _is_file(block):
            steps.append(("file", block.where, block.caption, block.text))
        elif block.language == "python":
            steps.append(("code", block.where, "", block.text))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(steps))
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-c", _DRIVER, str(plan)], cwd=work, env=_clean_env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{page.relative_to(DOCS)}: an example failed\n{done.stdout}\n{done.stderr}"

    for block in code_blocks(page):
        loader = _LOADERS.get(Path(block.caption).name) if _is_file(block) else None
        if loader is not None:
            try:
                loader(work / block.caption)
            except ConfigError as exc:
                pytest.fail(f"{block.where}: {block.caption} does not load:\n{exc}")


def _commands() -> list[tuple[str, str]]:
    """(where, command line) of every `$ python -m ...` and `$ make ...` line in console blocks."""
    found = []
    for page in documents():
        for block in code_blocks(page):
            if block.language != "console":
                continue
            for line in block.text.splitlines():
                if line.startswith("$ python -m ") or line.startswith("$ make"):
                    found.append((block.where, line[2:].split("#", 1)[0].strip()))
    return found


COMMANDS = _commands()


@cache
def _help(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", *argv, "--help"], cwd=REPO_ROOT, env=_clean_env(),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{' '.join(argv)} --help failed:\n{done.stderr}"
    return done.stdout


def test_console_commands_use_existing_flags_and_targets() -> None:
    assert COMMANDS, "the docs show no command at all: the parser is broken"
    targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), re.M))
    for where, command in COMMANDS:
        words = shlex.split(command)
        if words[0] == "make":
            unknown = [w for w in words[1:] if "=" not in w and w not in targets]
            assert not unknown, f"{where}: `{command}`: no Makefile target {unknown}"
            continue
        module = words[2]
        argv = [module]
        if module == "deploy" and len(words) > 3 and not words[3].startswith("-"):
            argv.append(words[3])  # a subcommand has its own flags
        flags = [w.split("=", 1)[0] for w in words if w.startswith("--")]
        listed = _help(*argv) if flags else ""
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", listed), (
                f"{where}: `{command}`: {' '.join(argv)} has no flag {flag}")
