"""A local Cloud Tasks emulator: the real google.cloud.tasks.v2 gRPC API, delivery over HTTP, optional SQLite.

`start()` runs it as a subprocess and returns an `Emulator` handle; `python -m framework.emulators.tasks` runs
it in the foreground. Importing this package stays cheap (no grpc or google.cloud until a server starts).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Emulator", "start"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import launcher  # cold start: the package import stays free of subprocess and sqlite3

        return getattr(launcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
