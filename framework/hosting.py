"""Host-specific features of App (platform info, warmup, cron/task requests), installed at App creation.

Placeholder interface for the adapters work (issue 4), which fills it in: `App` inherits
`HostingMixin`, and `App.__init__` calls `init_app(app)` last. Both must stay cheap to import.
"""

from __future__ import annotations

from typing import Any


class HostingMixin:
    """Methods App gains for Google's hosts (e.g. `on_warmup`, `platform`)."""


def init_app(app: Any) -> None:
    """Adapt a new App to the host it runs on. Must not import anything heavy."""
