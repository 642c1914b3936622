"""dispatch.yaml: which service answers which host/path, first match wins, never for /_ah/ (§5.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DispatchRule:
    url: str  # as written: [*]host/path[*]
    service: str
    line: int
    host: re.Pattern[str]  # compiled from the host part (`*` only as a prefix)
    path: re.Pattern[str]  # compiled from the path part (`*` only as a suffix)

    def matches(self, host: str, path: str) -> bool:
        return bool(self.host.fullmatch(host.split(":", 1)[0].lower()) and self.path.fullmatch(path))


@dataclass(frozen=True)
class Dispatch:
    path: Path | None
    rules: tuple[DispatchRule, ...] = ()

    def service_for(self, host: str, path: str) -> str | None:
        """The service of the first rule matching; None for /_ah/ paths and when nothing matches."""
        if path.startswith("/_ah/"):
            return None
        for rule in self.rules:
            if rule.matches(host, path):
                return rule.service
        return None
