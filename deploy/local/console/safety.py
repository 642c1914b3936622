"""Who may use the console: a loopback Host only (no DNS rebinding), same-origin POSTs with the CSRF token.

The token is random per console start and is only in the console's own pages; a page of another origin
cannot read it (same-origin policy), and a rebound name never gets a page at all (its Host is refused).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from framework.emulators.http_guard import HttpGuard

SECURITY_HEADERS = {
    # No scripts at all; styles inline in the page; forms post to the console only; never framed.
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Safety:
    """The console's request checks."""

    def __init__(self) -> None:
        self.csrf_token = secrets.token_urlsafe(32)
        self._guard = HttpGuard(("127.0.0.1",))

    def refusal(self, method: str, headers: Any, form: Mapping[str, str]) -> str | None:
        """Why this request is refused (a sentence for a 403), or None; `headers` has `get(name)`."""
        picked = _Picked({name: headers.get(name) for name in ("Host", "Origin", "Sec-Fetch-Site")})
        host_header = picked.get("Host")
        if host_header is None:
            return "a request without a Host header is refused."
        if self._guard.refusal(_Picked({"Host": host_header})) is not None:
            return (f"Host {host_header!r} is not this machine's loopback address; open the console at the "
                    "127.0.0.1 address the runner printed (pages of other sites are refused).")
        if method in ("GET", "HEAD"):
            return None  # a link followed from elsewhere may open a page: reading changes nothing
        if self._guard.refusal(picked) is not None:
            return "a change sent from another site's page is refused: use the console's own forms."
        sent = form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            return "the form's CSRF token is missing or stale: reload the page and try again."
        return None


class _Picked:
    """The request headers the checks read, in the shape HttpGuard takes."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._values = values

    def get(self, name: str, default: None = None) -> str | None:
        return self._values.get(name)
