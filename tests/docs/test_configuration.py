"""docs/guides/configuration.rst names every config key and environment variable the kit reads.

The code is scanned (ast) for literal reads: `os.environ.get("X")`, `os.environ["X"]`, `os.getenv`,
`env.get("X")` on an environment mapping, `env_flag("X")`, and `config.get("X")`, `config["X"]`,
`config_flag(config, "X")`; plus every key of App's default config. A name the page lacks fails here:
add it to the page's tables with its default.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from framework import App
from tests.docs.blocks import DOCS
from tests.support.procs import REPO_ROOT

PAGE = DOCS / "guides" / "configuration.rst"
# Keys a WSGI server or CGI puts in the environ: request data, not configuration.
_REQUEST_KEYS = re.compile(r"^(HTTP_|SERVER_|REQUEST_|CONTENT_|REMOTE_)|^(PATH_INFO|SCRIPT_NAME|QUERY_STRING|RAW_URI)$")
_ENV_MAPPINGS = {"environ", "env", "environment"}
_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _sources() -> list[Path]:
    return [*sorted((REPO_ROOT / "framework").rglob("*.py")), *sorted((REPO_ROOT / "deploy").rglob("*.py")),
            REPO_ROOT / "gunicorn.conf.py"]


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_env(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id in _ENV_MAPPINGS)


def _is_config(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "config") or (
        isinstance(node, ast.Name) and node.id == "config")


def _reads(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(environment variables, config keys) read with a literal name in `tree`."""
    env: set[str] = set()
    config: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func, first = node.func, _literal(node.args[0]) if node.args else None
            if isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault") and first:
                if _is_env(func.value):
                    env.add(first)
                elif _is_config(func.value):
                    config.add(first)
            elif isinstance(func, ast.Attribute) and func.attr == "getenv" and first:
                env.add(first)
            elif isinstance(func, ast.Name) and func.id == "env_flag":
                env.update(filter(None, map(_literal, node.args)))
            elif isinstance(func, ast.Name) and func.id == "config_flag" and len(node.args) > 1:
                config.update(filter(None, [_literal(node.args[1])]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = _literal(node.slice)
            if key and _is_env(node.value):
                env.add(key)
            elif key and _is_config(node.value):
                config.add(key)
    keep = {name for name in env if _NAME.match(name) and not _REQUEST_KEYS.match(name)}
    return keep, {name for name in config if _NAME.match(name)}


def test_every_key_and_variable_the_code_reads_is_documented() -> None:
    documented = set(re.findall(r"``([A-Z][A-Z0-9_]+)``", PAGE.read_text()))
    env: set[str] = set()
    config = set(App(__name__).config)
    for path in _sources():
        found_env, found_config = _reads(ast.parse(path.read_text(), str(path)))
        env |= found_env
        config |= found_config
    assert len(env) > 20 and len(config) > 30, "the scan found almost nothing: it is broken"
    missing_env = sorted(env - documented)
    missing_config = sorted(config - documented)
    assert not missing_env and not missing_config, (
        f"{PAGE.relative_to(REPO_ROOT)} does not name: environment {missing_env}, config {missing_config}")
