"""index.yaml: Datastore composite indexes, §5.6 (read by check, the emulator's index modes and deploy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class IndexProperty:
    name: str
    direction: Literal["asc", "desc"] = "asc"
    mode: Literal["geospatial"] | None = None


@dataclass(frozen=True)
class IndexDef:
    kind: str
    line: int
    ancestor: bool = False
    properties: tuple[IndexProperty, ...] = ()


@dataclass(frozen=True)
class Indexes:
    path: Path | None
    indexes: tuple[IndexDef, ...] = ()
