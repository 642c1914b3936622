"""Code blocks of the documentation's reStructuredText files, read the way the docs test runs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block:: (?P<language>\S+)\s*$")
_OPTION = re.compile(r"^\s+:(?P<name>[\w-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Block:
    """One `.. code-block::`: its language, its `:caption:` (a file name, for files), text and line."""

    path: Path
    line: int
    language: str
    caption: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS)}:{self.line}"


def documents() -> list[Path]:
    """Every source page (the tutorial app's files are shown with literalinclude, not parsed here)."""
    return sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)


def code_blocks(path: Path) -> list[Block]:
    """The code blocks of one page, in order."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        start, options = i, {}
        while i < len(lines) and (option := _OPTION.match(lines[i])):
            options[option["name"]] = option["value"].strip()
            i += 1
        body: list[str] = []
        base = len(match["indent"])
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        text = _dedent(body)
        blocks.append(Block(path, start, match["language"], options.get("caption", ""), text))
    return blocks


def _dedent(body: list[str]) -> str:
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in body).strip("\n") + "\n"
