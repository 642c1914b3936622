"""Cloud Logging's structured format: one JSON object per line on stderr, correlated with the request trace.

On Google's hosts the root logger gets a `CloudLoggingHandler`, so `app.logger` (which propagates to it)
and every library logger write entries Cloud Logging lifts into severity, trace, spanId and
sourceLocation. Locally the core's readable text handler stays. `LOG_FORMAT` in the app config or the
`FRAMEWORK_LOG_FORMAT` environment variable ("json" / "text") overrides the automatic choice.

The trace field needs the project id. App Engine sets GOOGLE_CLOUD_PROJECT; Cloud Run and Cloud
Functions (2nd gen) set no project variable, so there it is asked once from the metadata server
(`metadata_project`), when the first log line of a traced request is written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from framework.adapters.appengine import parse_trace

ENV_VAR = "FRAMEWORK_LOG_FORMAT"
CONFIG_KEY = "LOG_FORMAT"
FORMATS = ("json", "text")

TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
SAMPLED_KEY = "logging.googleapis.com/trace_sampled"
SOURCE_KEY = "logging.googleapis.com/sourceLocation"

_SEVERITIES = ((logging.CRITICAL, "CRITICAL"), (logging.ERROR, "ERROR"), (logging.WARNING, "WARNING"),
               (logging.INFO, "INFO"), (logging.DEBUG, "DEBUG"))
_lock = threading.Lock()

METADATA_HOST_ENV = "GCE_METADATA_HOST"  # the override google-auth honours too
_PROJECT_PATH = "/computeMetadata/v1/project/project-id"

ProjectSource = str | Callable[[], str | None] | None
"""A project id, or a function asked once for it when a line first needs it."""


def metadata_project(environ: Mapping[str, str] | None = None, timeout: float = 1.0) -> str | None:
    """The project id from the metadata server ($GCE_METADATA_HOST, else metadata.google.internal); None if unreachable."""
    import urllib.request  # only on hosts that need it: a cold-start cost elsewhere

    env = os.environ if environ is None else environ
    host = env.get(METADATA_HOST_ENV) or "metadata.google.internal"
    request = urllib.request.Request(f"http://{host}{_PROJECT_PATH}", headers={"Metadata-Flavor": "Google"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            project = response.read(256).decode("ascii", "replace").strip()
    except (OSError, ValueError):
        return None
    return project if project.replace("-", "").replace(":", "").replace(".", "").isalnum() else None


def severity(levelno: int) -> str:
    """Cloud Logging severity for a Python level (custom levels round down; below DEBUG is DEFAULT)."""
    for level, name in _SEVERITIES:
        if levelno >= level:
            return name
    return "DEFAULT"


def _current_environ() -> Mapping[str, Any] | None:
    """The WSGI environ of the request being handled in this context, if any."""
    from framework.globals import _cv_request

    ctx = _cv_request.get(None)
    return ctx.request.environ if ctx is not None else None


class CloudLoggingFormatter(logging.Formatter):
    """Format a record as one line of Cloud Logging structured JSON."""

    def __init__(self, project: ProjectSource = None) -> None:
        super().__init__()
        self._project = project
        self._project_lock = threading.Lock()

    @property
    def project(self) -> str | None:
        """The project id; a lookup function given instead is called once, on first use."""
        if callable(self._project):
            with self._project_lock:
                if callable(self._project):
                    self._project = self._project() or ""
        return self._project or None

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"  # Error Reporting reads the stack from the message
        if record.stack_info:
            message = f"{message}\n{self.formatStack(record.stack_info)}"
        entry: dict[str, Any] = {
            "severity": severity(record.levelno),
            "message": message,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
            SOURCE_KEY: {"file": record.pathname, "line": record.lineno, "function": record.funcName},
        }
        environ = _current_environ()
        trace = parse_trace(environ) if environ is not None else None
        if trace is not None:
            if self.project:
                entry[TRACE_KEY] = f"projects/{self.project}/traces/{trace.trace_id}"
            if trace.span_id:
                entry[SPAN_KEY] = trace.span_id
            if trace.sampled is not None:
                entry[SAMPLED_KEY] = trace.sampled
        return json.dumps(entry, default=str)


class CloudLoggingHandler(logging.StreamHandler):
    """Writes `CloudLoggingFormatter` lines to `stream`, or to whatever sys.stderr is at emit time.

    Following sys.stderr keeps working when a host (e.g. functions-framework) swaps it after startup.
    """

    def __init__(self, project: ProjectSource = None, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._stream = stream
        self.setFormatter(CloudLoggingFormatter(project))

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._stream = value


def choose_format(config_value: Any, on_google: bool, environ: Mapping[str, str] | None = None) -> str:
    """"json" or "text": the app config wins, then FRAMEWORK_LOG_FORMAT, else JSON exactly on Google's hosts."""
    env = os.environ if environ is None else environ
    for value in (config_value, env.get(ENV_VAR)):
        if isinstance(value, str) and value.strip().lower() in FORMATS:
            return value.strip().lower()
    return "json" if on_google else "text"


def installed_handler() -> CloudLoggingHandler | None:
    """The structured handler on the root logger, if installed."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, CloudLoggingHandler):
            return handler
    return None


def install(fmt: str, project: ProjectSource = None) -> None:
    """Make the root logger write `fmt` ("json": structured lines on stderr; "text": leave the default)."""
    root = logging.getLogger()
    with _lock:
        current = installed_handler()
        if fmt == "json" and current is None:
            if not root.handlers and root.level == logging.WARNING:
                root.setLevel(logging.INFO)  # unconfigured root: Cloud Logging filters by severity itself
            root.addHandler(CloudLoggingHandler(project))
        elif fmt != "json" and current is not None:
            root.removeHandler(current)


def uninstall() -> None:
    """Remove the structured handler (tests, or an app that configures logging itself)."""
    install("text")


def drop_default_handler(app: Any) -> None:
    """Take the core's readable-text handler off `app.logger`, so each record is written once, as JSON."""
    from framework import logging as framework_logging

    default = getattr(framework_logging, "default_handler", None)
    if default is not None:
        app.logger.removeHandler(default)
