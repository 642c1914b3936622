"""Says where the browser tests left their screenshots (for review) at the end of the run."""

from __future__ import annotations

import time

import pytest

from tests.console.browser import SCREENSHOTS

_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shots = sorted(p.name for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _STARTED) \
        if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}) in {SCREENSHOTS}: {', '.join(shots)}")
