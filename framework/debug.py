"""Refusing werkzeug's interactive debugger and reloader on Google's hosts.

The debugger runs arbitrary Python for whoever reaches its console, so it must never be served from
App Engine, Cloud Run or Cloud Functions, whatever DEBUG or the command line asks for.
"""

from __future__ import annotations

from collections.abc import Mapping

from .platform import on_google_host


class DebuggerRefused(RuntimeError):
    """The debugger or reloader was requested on one of Google's hosts."""


def refusal_message(use_debugger: bool, use_reloader: bool) -> str:
    """The explanation shown when the debugger and/or reloader are refused."""
    wanted = " and ".join(
        name for name, on in (("interactive debugger", use_debugger), ("reloader", use_reloader)) if on
    )
    return (
        f"Refusing to start the {wanted}: this process runs on Google's hosts (GAE_ENV=standard or "
        "K_SERVICE is set). The debugger would let anyone who reaches it run code on the server, and the "
        "reloader has no place in production. Run without --debug (and without debug=True), or run locally."
    )


def check_debug_allowed(
    use_debugger: bool, use_reloader: bool, environ: Mapping[str, str] | None = None
) -> None:
    """Raise `DebuggerRefused` if the debugger or reloader is requested on Google's hosts."""
    if (use_debugger or use_reloader) and on_google_host(environ):
        raise DebuggerRefused(refusal_message(use_debugger, use_reloader))
