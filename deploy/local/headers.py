"""What App Engine's front end does to headers: strips client-sent platform and hop-by-hop headers, adds its
own (platform-facts §3.1, §3.2), and removes some response headers (§3.6).

Requests from the local platform itself (cron scheduler, Cloud Tasks emulator) prove it with the runner's
token (`X-Local-Platform-Token`); only they keep the cron and task headers. The front end forwards every
request with a second token, the services' own, so the in-app middleware (framework.adapters.front_end.
LocalFrontEnd) knows the headers it sees were set here; an app that leaks it gives a client nothing here.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

TOKEN_HEADER = "X-Local-Platform-Token"
# Source address of cron and task-queue requests (§3.3, §3.4).
PLATFORM_IP = "0.1.0.2"
# The hop Google appends to X-Forwarded-For (observed value, §3.2).
GOOGLE_HOP = "169.254.1.1"
# Limits of §1.6.
MAX_RESPONSE_HEADERS = 8 * 1024

# Transfer-level headers the front end removes (§3.1), plus the other hop-by-hop ones of RFC 9110.
_HOP_BY_HOP = frozenset({
    "accept-encoding", "connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})
# Cron and task headers a platform caller sends and keeps. Everything else under X-Appengine- is set here.
_PLATFORM_KEPT = ("x-appengine-cron", "x-appengine-queuename", "x-appengine-task", "x-appengine-failfast")
# Production strips only exact App Engine header names (§3.1); locally every X-Appengine-* name is
# stripped, which is stricter and so never lets a forged one through. X-CloudTasks-* and
# X-CloudScheduler-* (HTTP targets, §3.5) are likewise dropped unless the platform sent them (safe choice).
_PLATFORM_PREFIXES = ("x-appengine-", "x-google-", "x-cloudtasks-", "x-cloudscheduler-")
# Set again below from what the front end knows, never taken from the client.
# (Expect: the front end answered 100-continue itself and has the whole body; the app must not wait for one.)
_REPLACED = frozenset({"x-forwarded-proto", "forwarded", "content-length", "expect", TOKEN_HEADER.lower()})
# Response headers App Engine removes (§3.6). Content-Encoding is kept when the app compressed the body
# itself (removing it would corrupt the body); Content-Length is re-derived by the front end.
_RESPONSE_REMOVED = frozenset({
    "connection", "content-length", "date", "keep-alive", "proxy-authenticate", "server", "trailer",
    "transfer-encoding", "upgrade",
    # Removed on every domain but *.appspot.com; the local front end is never on appspot.com.
    "strict-transport-security",
})
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})")
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/\d+)?(?:;o=([01]))?")


def _listed_in_connection(headers: CIMultiDictProxy[str]) -> set[str]:
    names: set[str] = set()
    for value in headers.getall("Connection", []):
        names.update(part.strip().lower() for part in value.split(",") if part.strip())
    return names


def is_platform_header(name: str) -> bool:
    """Whether a client could use `name` to impersonate the platform."""
    return name.lower().startswith(_PLATFORM_PREFIXES)


def _trace(incoming: CIMultiDictProxy[str]) -> tuple[str, bool]:
    """The trace id to use (the client's when it sent a valid one, as Google honours it) and the sampled flag."""
    match = _TRACEPARENT.fullmatch(incoming.get("traceparent", "").strip().lower())
    if match and match.group(1) != "0" * 32:
        return match.group(1), int(match.group(2), 16) & 1 == 1
    match = _CLOUD_TRACE.fullmatch(incoming.get("X-Cloud-Trace-Context", "").strip())
    if match and match.group(1).strip("0"):
        return match.group(1).lower(), match.group(2) == "1"
    return secrets.token_hex(16), False


def upstream_headers(
    incoming: CIMultiDictProxy[str],
    *,
    client_ip: str,
    scheme: str,
    front_end_host: str,
    token: str,
    from_platform: bool,
    timeout_ms: int,
) -> CIMultiDict[str]:
    """The headers the app gets for a request that arrived with `incoming` (§3.1 stripped, §3.2 added)."""
    dropped = _HOP_BY_HOP | _REPLACED | _listed_in_connection(incoming)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        lower = name.lower()
        if lower in dropped:
            continue
        if lower.startswith(_PLATFORM_PREFIXES) and not (from_platform and _kept_from_platform(lower)):
            continue
        out.add(name, value)
    user_ip = PLATFORM_IP if from_platform else client_ip
    trace_id, sampled = _trace(incoming)
    span = secrets.randbits(63) + 1
    flag = "1" if sampled else "0"
    previous_hops = out.popall("X-Forwarded-For", [])
    out["X-Forwarded-For"] = ", ".join([*previous_hops, user_ip, GOOGLE_HOP])
    out["X-Forwarded-Proto"] = scheme
    out["Forwarded"] = f'for="{user_ip}";proto={scheme}'
    out["X-Appengine-User-IP"] = user_ip
    out["X-Appengine-Country"] = "ZZ"  # unknown: no geo lookup locally
    out["X-Appengine-Region"] = "?"
    out["X-Appengine-City"] = "?"
    out["X-Appengine-CityLatLong"] = "0.000000,0.000000"
    out["X-Appengine-Https"] = "on" if scheme == "https" else "off"
    out["X-Appengine-Request-Log-Id"] = secrets.token_hex(24)
    out["X-Appengine-Default-Version-Hostname"] = front_end_host
    out["X-Appengine-Timeout-Ms"] = str(timeout_ms)
    out["X-Cloud-Trace-Context"] = f"{trace_id}/{span};o={flag}"
    out["traceparent"] = f"00-{trace_id}-{span:016x}-0{flag}"
    out[TOKEN_HEADER] = token
    return out


def _kept_from_platform(lower: str) -> bool:
    return lower.startswith(_PLATFORM_KEPT) or lower.startswith(("x-cloudtasks-", "x-cloudscheduler-"))


def response_headers_size(raw: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes the response header block takes (`name: value\\r\\n` per line)."""
    return sum(len(name) + len(value) + 4 for name, value in raw)


def downstream_headers(raw: Iterable[tuple[bytes, bytes]]) -> CIMultiDict[str]:
    """The app's response headers as App Engine passes them on (§3.6)."""
    pairs = list(raw)
    connection_listed: set[str] = set()
    for raw_name, raw_value in pairs:
        if raw_name.lower() == b"connection":
            connection_listed.update(p.strip().lower() for p in raw_value.decode("latin-1").split(","))
    out: CIMultiDict[str] = CIMultiDict()
    for raw_name, raw_value in pairs:
        if not (raw_name.isascii() and raw_value.isascii()):
            continue  # App Engine drops headers with non-ASCII names or values
        name, value = raw_name.decode("ascii"), raw_value.decode("ascii")
        lower = name.lower()
        if lower in _RESPONSE_REMOVED or lower in connection_listed:
            continue
        out.add(name, value)
    if "Set-Cookie" in out:
        # Cache-Control is forced to at least `private` with Set-Cookie (a 2016-era rule, unconfirmed for
        # 2nd gen): applied, as it only ever prevents a shared cache from keeping someone's cookie.
        current = out.get("Cache-Control", "")
        if not re.search(r"\b(private|no-store)\b", current, re.I):
            kept = [p.strip() for p in current.split(",") if p.strip() and p.strip().lower() != "public"]
            out["Cache-Control"] = ", ".join(["private", *kept])
    return out
