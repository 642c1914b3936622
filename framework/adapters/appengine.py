"""`request.appengine`: what App Engine's front end says about a request, parsed into a typed object.

The X-Appengine-* headers are believed only when the WSGI environ carries `TRUSTED_ENVIRON_KEY`, which
the App Engine middleware (framework.adapters.front_end) sets on App Engine standard and under the local
runner. An HTTP client cannot set a WSGI environ key, so it cannot forge the mark. Malformed header
values read as None: they never raise.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

TRUSTED_ENVIRON_KEY = "framework.appengine.trusted"
"""WSGI environ key: True when the X-Appengine-* headers of this request were set by the platform."""

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX2 = re.compile(r"[0-9a-f]{2}")
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=(\d))?")
_MAX_HEADER = 1024  # task names reach 500 chars; longer values are not the platform's: treat as absent


@dataclass(frozen=True)
class Trace:
    """A trace context: 32-hex trace id, 16-hex span id (or None), sampled flag (or None if unsaid)."""

    trace_id: str
    span_id: str | None = None
    sampled: bool | None = None


@dataclass(frozen=True)
class AppEngineInfo:
    """Request facts from App Engine's headers; every field is None/False when unknown or untrusted."""

    trusted: bool = False
    country: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    user_ip: str | None = None
    https: bool | None = None
    trace_id: str | None = None
    span_id: str | None = None
    trace_sampled: bool | None = None
    is_cron: bool = False
    queue_name: str | None = None
    task_name: str | None = None
    task_retry_count: int | None = None
    task_execution_count: int | None = None
    task_eta: datetime | None = None
    task_previous_response: int | None = None
    task_retry_reason: str | None = None
    task_fail_fast: bool = False
    request_log_id: str | None = None
    default_version_hostname: str | None = None
    timeout_ms: int | None = None

    @property
    def is_task(self) -> bool:
        """True for a push-queue / Cloud Tasks request delivered by App Engine."""
        return self.queue_name is not None


UNKNOWN = AppEngineInfo()
"""What `request.appengine` is when the headers cannot be believed."""


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    value = environ.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= _MAX_HEADER else None


_INT64_MAX = 2**63 - 1


def parse_int(value: str | None, *, minimum: int = 0) -> int | None:
    """A decimal integer from `minimum` to 2**63 - 1 (the platform's int64 counters), else None."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if minimum <= number <= _INT64_MAX else None


#: Text seen -> its address in normal form (None: not an address). App Engine's middleware checks one or two
#: addresses on every request and the same few recur (each client's, Google's hop); ipaddress takes
#: microseconds to parse one. Bounded: forgotten all at once when full. The front-end step reads it directly.
KNOWN_ADDRESSES: dict[str, str | None] = {}
_MAX_KNOWN_ADDRESSES = 1024


def parse_ip(value: str | None) -> str | None:
    """An IPv4 or IPv6 address in its normal text form; None when malformed (remembered in KNOWN_ADDRESSES)."""
    if not value:
        return None
    known = KNOWN_ADDRESSES.get(value, KNOWN_ADDRESSES)
    if known is not KNOWN_ADDRESSES:
        return known  # type: ignore[return-value]
    import ipaddress

    try:
        address: str | None = str(ipaddress.ip_address(value.strip()))
    except ValueError:
        address = None
    if len(KNOWN_ADDRESSES) >= _MAX_KNOWN_ADDRESSES:
        KNOWN_ADDRESSES.clear()
    KNOWN_ADDRESSES[value] = address
    return address


def parse_lat_long(value: str | None) -> tuple[float, float] | None:
    """`"lat,long"` as floats; None when malformed, out of range, or App Engine's "0.000000,0.000000"."""
    if not value:
        return None
    lat_text, sep, long_text = value.partition(",")
    if not sep:
        return None
    try:
        lat, long = float(lat_text), float(long_text)
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(long)) or abs(lat) > 90 or abs(long) > 180:
        return None
    if lat == 0 and long == 0:
        return None
    return lat, long


def parse_eta(value: str | None) -> datetime | None:
    """X-AppEngine-TaskETA (float seconds since the epoch) as an aware UTC datetime."""
    if not value:
        return None
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC) if math.isfinite(seconds) and seconds >= 0 else None
    except (ValueError, OverflowError, OSError):
        return None


def parse_traceparent(value: str | None) -> Trace | None:
    """W3C `00-<32hex trace>-<16hex span>-<2hex flags>`; None when malformed or all-zero ids."""
    if not value:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4 or not _HEX2.fullmatch(parts[0]) or parts[0] == "ff":
        return None
    if parts[0] == "00" and len(parts) != 4:
        return None
    trace_id, span_id, flags = parts[1], parts[2], parts[3]
    if not (_HEX32.fullmatch(trace_id) and _HEX16.fullmatch(span_id) and _HEX2.fullmatch(flags)):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return Trace(trace_id, span_id, bool(int(flags, 16) & 1))


def parse_cloud_trace_context(value: str | None) -> Trace | None:
    """`TRACE_ID/SPAN_ID;o=FLAG` with a decimal span id, converted to 16 hex chars as Cloud Logging expects."""
    if not value:
        return None
    match = _CLOUD_TRACE.fullmatch(value.strip())
    if match is None:
        return None
    trace_id = match.group(1).lower()
    if trace_id == "0" * 32:
        return None
    span_id = None
    if match.group(2) is not None:
        span = int(match.group(2))
        span_id = format(span, "016x") if 0 < span < 2**64 else None
    flag = match.group(3)
    return Trace(trace_id, span_id, None if flag is None else flag == "1")


def parse_trace(environ: Mapping[str, Any]) -> Trace | None:
    """The request's trace context: `traceparent` when valid (as google-cloud-logging prefers), else X-Cloud-Trace-Context."""
    return parse_traceparent(_header(environ, "HTTP_TRACEPARENT")) or parse_cloud_trace_context(
        _header(environ, "HTTP_X_CLOUD_TRACE_CONTEXT")
    )


def parse_environ(environ: Mapping[str, Any]) -> AppEngineInfo:
    """Read App Engine's headers from a WSGI environ, believing them only if the environ is marked trusted."""
    if environ.get(TRUSTED_ENVIRON_KEY) is not True:
        return UNKNOWN
    h = functools.partial(_header, environ)
    country = h("HTTP_X_APPENGINE_COUNTRY")
    city = h("HTTP_X_APPENGINE_CITY")
    lat_long = parse_lat_long(h("HTTP_X_APPENGINE_CITYLATLONG"))
    trace = parse_trace(environ)
    https = h("HTTP_X_APPENGINE_HTTPS")
    status = parse_int(h("HTTP_X_APPENGINE_TASKPREVIOUSRESPONSE"))
    return AppEngineInfo(
        trusted=True,
        country=None if country in (None, "ZZ") else country,
        region=h("HTTP_X_APPENGINE_REGION") if country not in (None, "ZZ") else None,
        city=None if city in (None, "?") else city,
        latitude=lat_long[0] if lat_long else None,
        longitude=lat_long[1] if lat_long else None,
        user_ip=parse_ip(h("HTTP_X_APPENGINE_USER_IP")),
        https=None if https is None else https.lower() == "on",
        trace_id=trace.trace_id if trace else None,
        span_id=trace.span_id if trace else None,
        trace_sampled=trace.sampled if trace else None,
        is_cron=(h("HTTP_X_APPENGINE_CRON") or "").lower() == "true",
        queue_name=h("HTTP_X_APPENGINE_QUEUENAME"),
        task_name=h("HTTP_X_APPENGINE_TASKNAME"),
        task_retry_count=parse_int(h("HTTP_X_APPENGINE_TASKRETRYCOUNT")),
        task_execution_count=parse_int(h("HTTP_X_APPENGINE_TASKEXECUTIONCOUNT")),
        task_eta=parse_eta(h("HTTP_X_APPENGINE_TASKETA")),
        task_previous_response=status if status is not None and 100 <= status <= 599 else None,
        task_retry_reason=h("HTTP_X_APPENGINE_TASKRETRYREASON"),
        task_fail_fast="HTTP_X_APPENGINE_FAILFAST" in environ,
        request_log_id=h("HTTP_X_APPENGINE_REQUEST_LOG_ID"),
        default_version_hostname=h("HTTP_X_APPENGINE_DEFAULT_VERSION_HOSTNAME"),
        timeout_ms=parse_int(h("HTTP_X_APPENGINE_TIMEOUT_MS")),
    )


def request_info(request: Any) -> AppEngineInfo:
    """`Request.appengine`: the typed App Engine facts of `request` (UNKNOWN off App Engine)."""
    return parse_environ(request.environ)


F = TypeVar("F", bound=Callable[..., Any])


def _guard(view: F, check: Callable[[AppEngineInfo], bool], what: str) -> F:
    """Wrap `view` so it answers 403 unless `check(request.appengine)` holds (async views stay async)."""

    def refuse_unless_marked() -> None:
        from werkzeug.exceptions import Forbidden

        from framework.globals import request

        if not check(request.appengine):
            raise Forbidden(f"This URL only accepts {what} sent by App Engine.")

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            refuse_unless_marked()
            return await view(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refuse_unless_marked()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def cron_only(view: F) -> F:
    """View decorator: 403 unless App Engine marked the request as a cron job (X-Appengine-Cron)."""
    return _guard(view, lambda info: info.is_cron, "cron requests")


def task_only(view: F) -> F:
    """View decorator: 403 unless App Engine delivered the request from a task queue (X-AppEngine-QueueName)."""
    return _guard(view, lambda info: info.is_task, "task queue requests")
