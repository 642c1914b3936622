"""An import inside a function must say why it is not at the top: `# cold start` (a library the
common path should not pay for), `# cycle` (the modules import each other) or `# optional` (a package
that may be missing). Everything else goes at the top of the module, where readers look for it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.procs import REPO_ROOT

REASON = re.compile(r"#.*\b(cold start|cycle|optional)\b")
# Modules other people were writing when the rule came in (issue 18): to be brought under it.
PENDING = {
    "framework/secrets.py", "framework/config.py", "framework/schedule.py", "framework/server.py",
    "framework/adapters/cloud_functions.py", "framework/adapters/cloud_logging.py",
    "framework/adapters/pubsub_push.py", "framework/adapters/front_end.py", "framework/adapters/appengine.py",
}


def _unexplained(path: Path, root: Path = REPO_ROOT) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)) and in_function:
            text = "\n".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
            if not REASON.search(text):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def test_function_level_imports_give_a_reason() -> None:
    paths = [p for p in sorted((REPO_ROOT / "framework").rglob("*.py")) if "emulators" not in p.parts]
    checked = [p for p in paths if str(p.relative_to(REPO_ROOT)) not in PENDING]
    assert len(checked) > 25
    offenders = [line for p in checked for line in _unexplained(p)]
    assert offenders == [], "move these imports to the top, or add '# cold start' / '# cycle' / '# optional'"


def test_the_check_sees_an_unexplained_import(tmp_path: Path) -> None:
    sample = tmp_path / "probe.py"
    sample.write_text("import os\n\ndef f():\n    import json\n    import csv  # cold start\n"
                      "    from re import (\n        compile,  # cycle\n    )\n    return os, json, csv, compile\n")
    assert _unexplained(sample, tmp_path) == ["probe.py:4: import json"]
