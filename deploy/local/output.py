"""One output stream for the whole runner: every line prefixed by who wrote it (`[default] ...`)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

_lock = threading.Lock()
# Called with (source, line) for every line printed (the local console keeps the recent ones).
listeners: list[Callable[[str, str], None]] = []


def emit(source: str, text: str, stream: TextIO | None = None) -> None:
    """Print each line of `text` as `[source] line`, whole lines only, even from several threads."""
    out = stream or sys.stdout
    lines = text.splitlines() or [""]
    block = "".join(f"[{source}] {line}\n" for line in lines)
    with _lock:
        out.write(block)
        out.flush()
    for listener in listeners:
        for line in lines:
            listener(source, line)


def runner(text: str) -> None:
    """A line from the runner itself."""
    emit("runner", text)


def access_line(service: str, method: str, target: str, status: int, millis: float, served_by: str) -> None:
    """The per-request line: method, path, status, time, and which handler served it (`app`, `static:/x`)."""
    emit(service, f"{method} {target} {status} {millis:.0f} ms {served_by}")
