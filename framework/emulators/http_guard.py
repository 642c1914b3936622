"""Who may use an emulator's HTTP surface (admin endpoints, REST API): local tools, never a web page.

A page in the developer's browser can send requests to loopback ports. Two browser-only signals give it
away, and either one refused is enough to keep it out:
- DNS rebinding: the page's own domain, re-pointed at 127.0.0.1, arrives as the `Host` header. A Host
  that is not a loopback address, `localhost` (or a `*.localhost` name) or the host the emulator was
  configured with is refused.
- Cross-origin requests: browsers add `Origin` (and `Sec-Fetch-Site`) to cross-site requests, including
  the "simple" text/plain or form POSTs that need no CORS preflight. A request with an Origin that is not
  the emulator's own, or with Sec-Fetch-Site other than same-origin/none, is refused.
Command-line clients (curl, urllib, the Google client libraries) send neither, so they are unaffected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_BROWSER_SAFE_SITES = frozenset({"same-origin", "none"})  # "none": typed in the address bar, a bookmark


class _Headers(Protocol):
    def get(self, name: str, default: None = None) -> str | None: ...


def _split_host(value: str) -> str | None:
    """The host part of a Host header value (`name`, `name:port`, `[v6]:port`), lower-cased; None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1:] and not value[end + 1:].startswith(":")):
            return None
        return value[1:end]
    host, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return host.rstrip(".")


def _is_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class HttpGuard:
    """Refuses DNS-rebinding and cross-origin browser requests; `hosts` are the configured bind hosts."""

    def __init__(self, hosts: Iterable[str] = ("127.0.0.1",)) -> None:
        names = {h.strip("[]").lower() for h in hosts}
        self._any_ip = bool(names & _WILDCARDS)  # bound to every interface: any address literal is ours
        self._names = frozenset(names - _WILDCARDS)

    def host_allowed(self, host: str) -> bool:
        """Whether a Host header's host part names this machine: loopback, localhost or a configured host."""
        if host in self._names or host == "localhost" or host.endswith(".localhost"):
            return True
        ip = _is_ip(host)
        return ip is not None and (ip.is_loopback or self._any_ip)

    def refusal(self, headers: _Headers) -> str | None:
        """Why this request must be refused (a one-line message for a 403), or None to serve it."""
        host_header = headers.get("Host")
        if host_header is not None:
            host = _split_host(host_header)
            if host is None or not self.host_allowed(host):
                return (f"Host {host_header!r} is not this emulator's address; use 127.0.0.1, localhost or "
                        "the --host it was started with (requests from web pages are refused).")
        origin = headers.get("Origin")
        if origin is not None and not self._same_origin(origin, host_header):
            return (f"cross-origin request from {origin!r} refused: the emulator's HTTP endpoints are for local "
                    "tools (curl, client libraries), not web pages.")
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site.strip().lower() not in _BROWSER_SAFE_SITES:
            return (f"browser request with Sec-Fetch-Site: {site} refused: the emulator's HTTP endpoints are for "
                    "local tools (curl, client libraries), not web pages.")
        return None

    def _same_origin(self, origin: str, host_header: str | None) -> bool:
        """An Origin is acceptable when it is exactly this server as the browser reached it."""
        if host_header is None or origin == "null":
            return False
        parts = urlsplit(origin.strip())
        return parts.scheme == "http" and parts.netloc.lower() == host_header.strip().lower()
