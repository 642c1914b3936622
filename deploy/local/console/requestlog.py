"""The console's memory of the front end: the last requests and every output line, tied by trace id.

The front end reports each finished request (with the trace id it gave the app); the runner's output
reports every line a service printed. A structured line (Cloud Logging JSON, as the framework writes with
LOG_FORMAT=json) names its trace and is tied exactly; a plain-text line carries no trace, so it is shown
beside the requests of its service that were running when it was printed, and marked as such.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

TRACE_KEY = "logging.googleapis.com/trace"
MAX_REQUESTS = 500
MAX_LINES = 5000
# A plain line printed this long after a request ended still counts as printed during it: the runner reads
# a service's output through a pipe, so a line can reach it a moment after the response did.
LATE_LINE_SECONDS = 1.0
# deploy.local.output.access_line's shape: "GET /path 200 12 ms app".
_ACCESS_LINE = re.compile(r"[A-Z]+ \S+ \d{3} \d+ ms ")


@dataclass(frozen=True)
class LogLine:
    """One line a service printed: when, its severity (structured lines) and text, and its trace id if any."""

    at: float
    source: str
    text: str
    severity: str = ""
    trace_id: str | None = None


@dataclass
class RequestRecord:
    """One request the front end answered."""

    number: int
    started: float
    millis: float
    method: str
    path: str
    status: int
    service: str
    handler: str
    trace_id: str | None
    origin: str = ""  # "cron", "task <queue>", or "" for a client's request
    lines: list[tuple[LogLine, str]] = field(default_factory=list)

    @property
    def ended(self) -> float:
        return self.started + self.millis / 1000


def parse_line(source: str, text: str, at: float) -> LogLine:
    """A LogLine; a Cloud Logging JSON line gives its severity, message and trace id."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            entry = json.loads(stripped)
        except ValueError:
            entry = None
        if isinstance(entry, dict) and "message" in entry:
            trace = entry.get(TRACE_KEY)
            trace_id = trace.rsplit("/", 1)[-1].lower() if isinstance(trace, str) and trace else None
            return LogLine(at, source, str(entry["message"]), str(entry.get("severity", "")), trace_id)
    return LogLine(at, source, text)


class RequestLog:
    """Thread-safe ring buffers of requests and lines; the front end and the output write, the console reads."""

    def __init__(self, max_requests: int = MAX_REQUESTS, max_lines: int = MAX_LINES) -> None:
        self._lock = threading.Lock()
        self._requests: deque[RequestRecord] = deque(maxlen=max_requests)
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._numbers = itertools.count(1)
        self._last_cron: dict[str, RequestRecord] = {}

    def record(self, *, method: str, path: str, status: int, millis: float, service: str, handler: str,
               trace_id: str | None, headers: Mapping[str, str], from_platform: bool) -> None:
        """Called by the front end when a request ended (`headers`: the request's, as the client sent them)."""
        origin = ""
        if from_platform and headers.get("X-AppEngine-Cron", "").lower() == "true":
            origin = "cron"
        elif from_platform and headers.get("X-AppEngine-QueueName"):
            origin = f"task {headers['X-AppEngine-QueueName']}"
        now = time.time()
        with self._lock:
            entry = RequestRecord(next(self._numbers), now - millis / 1000, millis, method, path, status, service,
                                  handler, trace_id.lower() if trace_id else None, origin)
            self._requests.append(entry)
            if origin == "cron":
                self._last_cron[path] = entry

    def line(self, source: str, text: str) -> None:
        """Called for every output line of the runner (`source` is the service or component name)."""
        if _ACCESS_LINE.match(text):
            return  # the front end's own line for a request: the request itself is listed
        parsed = parse_line(source, text, time.time())
        with self._lock:
            self._lines.append(parsed)

    def requests(self, *, service: str | None = None, limit: int = 100) -> list[RequestRecord]:
        """The newest requests first."""
        with self._lock:
            found = [r for r in reversed(self._requests) if service is None or r.service == service]
        return found[:limit]

    def services(self) -> list[str]:
        with self._lock:
            return sorted({r.service for r in self._requests})

    def get(self, number: int) -> RequestRecord | None:
        """A request with its log lines: ("trace", line) tied by trace id, ("time", line) printed while it ran."""
        with self._lock:
            entry = next((r for r in self._requests if r.number == number), None)
            if entry is None:
                return None
            lines: list[tuple[LogLine, str]] = []
            for line in self._lines:
                if entry.trace_id is not None and line.trace_id == entry.trace_id:
                    lines.append((line, "trace"))
                elif (line.trace_id is None and line.source == entry.service
                      and entry.started <= line.at <= entry.ended + LATE_LINE_SECONDS):
                    lines.append((line, "time"))
            entry.lines = lines
            return entry

    def last_cron_run(self, url: str) -> RequestRecord | None:
        """The latest request the cron scheduler sent for `url` (its path and query)."""
        with self._lock:
            return self._last_cron.get(url)

