"""app.yaml for the python3 runtimes of App Engine standard: the typed model the runner, check and stage read.

Parsing and every rule of platform-facts §5.1–5.3 live here too; `load_app_yaml` raises ConfigError with
FILE:LINE problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

HandlerKind = Literal["script", "static_dir", "static_files"]
ScalingKind = Literal["automatic", "basic", "manual"]


@dataclass(frozen=True)
class Handler:
    """One `handlers:` entry, with its url already compiled as App Engine anchors it (whole path)."""

    url: str
    pattern: re.Pattern[str]
    kind: HandlerKind
    line: int
    static_dir: str | None = None
    static_files: str | None = None
    upload: re.Pattern[str] | None = None
    mime_type: str | None = None
    expiration: int | None = None  # seconds; None = the app's default_expiration
    http_headers: tuple[tuple[str, str], ...] = ()
    require_matching_file: bool = False
    secure: Literal["optional", "always", "never"] = "optional"
    redirect_http_response_code: int = 302
    login: Literal["optional", "required", "admin"] = "optional"
    auth_fail_action: Literal["redirect", "unauthorized"] = "redirect"


@dataclass(frozen=True)
class Scaling:
    """The one scaling block (automatic when none is given) and what it implies for requests."""

    kind: ScalingKind = "automatic"
    settings: Mapping[str, object] = field(default_factory=dict)
    max_concurrent_requests: int = 10

    @property
    def request_timeout(self) -> float:
        """Seconds a request may run: 10 min on automatic scaling, 24 h on basic and manual (§1.5)."""
        return 600.0 if self.kind == "automatic" else 86400.0


@dataclass(frozen=True)
class AppYaml:
    """A service's app.yaml (any file name): everything the local runner and the deploy tooling use."""

    path: Path
    runtime: str
    service: str = "default"
    entrypoint: str | None = None
    instance_class: str = "F1"
    env_variables: Mapping[str, str] = field(default_factory=dict)
    build_env_variables: Mapping[str, str] = field(default_factory=dict)
    handlers: tuple[Handler, ...] = ()
    scaling: Scaling = field(default_factory=Scaling)
    inbound_services: frozenset[str] = frozenset()
    default_expiration: int = 600
    service_account: str | None = None
    app_engine_apis: bool = False
    line_of: Mapping[str, int] = field(default_factory=dict)  # top-level key -> line, for later checks

    @property
    def root(self) -> Path:
        """The service's folder: where its code, requirements.txt and static files are."""
        return self.path.parent

    @property
    def warmup(self) -> bool:
        return "warmup" in self.inbound_services
