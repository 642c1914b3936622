"""The recording `gcloud` stand-in: put this folder first on PATH and read what it recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent


def recorded(log: Path) -> list[dict[str, Any]]:
    """Every call the stand-in saw: {"argv": [...], "cwd": "..."} in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
