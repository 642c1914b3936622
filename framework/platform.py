"""Which host the app runs on (App Engine standard, Cloud Functions, Cloud Run, local), from its environment.

Only environment variables are read (no metadata server calls), so detection costs a few dict lookups.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Mapping

from .records import Record

APPENGINE = "appengine"
LOCAL_APPENGINE = "local_appengine"
CLOUD_FUNCTIONS = "cloud_functions"
CLOUD_RUN = "cloud_run"
LOCAL = "local"
_GOOGLE_KINDS = (APPENGINE, CLOUD_FUNCTIONS, CLOUD_RUN)


def on_google_host(environ: Mapping[str, str] | None = None) -> bool:
    """True on App Engine standard, Cloud Run and Cloud Functions: the same rule as `detect().on_google`."""
    if environ is None:
        data = _environ_bytes()
        if data is not None:
            return _kind(data, _BYTE_NAMES) in _GOOGLE_KINDS
        environ = os.environ
    return _kind(environ) in _GOOGLE_KINDS


_ENVIRON = os.environ


def _environ_bytes() -> Mapping[bytes, bytes] | None:
    """os.environ's own dict (bytes to bytes on POSIX), or None elsewhere or if os.environ was replaced.

    The session code asks on every request: `os.environ.get` encodes each key and decodes each value,
    a few times the cost of reading the dict it keeps in step (setenv, monkeypatch and putenv through
    os.environ all update it)."""
    if os.environ is not _ENVIRON or os.name != "posix":
        return None
    data = getattr(_ENVIRON, "_data", None)
    return data if type(data) is dict else None


class Platform(Record):
    """The host and what its environment says about this process; None where the host does not say.

    Immutable and compared by value (a `Record`: every App builds one at start-up).
    """

    __slots__ = ("kind", "service", "version", "instance", "project", "runtime", "memory_mb", "region", "deployment_id")

    kind: str
    service: str | None
    version: str | None
    instance: str | None
    project: str | None
    runtime: str | None
    memory_mb: int | None
    region: str | None
    deployment_id: str | None

    def __init__(
        self, kind: str, service: str | None = None, version: str | None = None, instance: str | None = None,
        project: str | None = None, runtime: str | None = None, memory_mb: int | None = None,
        region: str | None = None, deployment_id: str | None = None,
    ) -> None:
        self._fill(kind, service, version, instance, project, runtime, memory_mb, region, deployment_id)

    @property
    def on_google(self) -> bool:
        """Deployed on Google's infrastructure (not a local run)."""
        return self.kind in _GOOGLE_KINDS

    @property
    def is_appengine(self) -> bool:
        """App Engine standard, deployed."""
        return self.kind == APPENGINE

    @property
    def is_local_appengine(self) -> bool:
        """Our local App Engine runner (`make run`, GAE_ENV=localdev)."""
        return self.kind == LOCAL_APPENGINE

    @property
    def trusts_appengine_headers(self) -> bool:
        """Whether App Engine's front end (or our local stand-in for it) sets the X-Appengine-* headers."""
        return self.kind in (APPENGINE, LOCAL_APPENGINE)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _project(env: Mapping[str, str]) -> str | None:
    project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT")
    if project:
        return project
    application = env.get("GAE_APPLICATION", "")  # "s~my-proj": region-code prefix before "~"
    return application.partition("~")[2] or application or None


class _Names(Record):
    """The variable names and values `_kind` reads, as str (a mapping like os.environ) or bytes (its dict)."""

    __slots__ = ("gae_env", "standard", "localdev", "k_service", "function_target", "function_name", "gcp_project")

    gae_env: t.Any
    standard: t.Any
    localdev: t.Any
    k_service: t.Any
    function_target: t.Any
    function_name: t.Any
    gcp_project: t.Any

    def __init__(self, *values: t.Any) -> None:
        self._fill(*values)

    def encoded(self) -> _Names:
        return _Names(*(value.encode() for value in self._values()))


_STR_NAMES = _Names("GAE_ENV", "standard", "localdev", "K_SERVICE", "FUNCTION_TARGET", "FUNCTION_NAME", "GCP_PROJECT")
_BYTE_NAMES = _STR_NAMES.encoded()


def _kind(env: Mapping[t.Any, t.Any], names: _Names = _STR_NAMES) -> str:
    gae_env = env.get(names.gae_env)
    if gae_env == names.standard:
        return APPENGINE
    if gae_env == names.localdev:
        return LOCAL_APPENGINE
    if env.get(names.k_service):
        # functions-framework's buildpack sets FUNCTION_TARGET; a plain Cloud Run service does not.
        return CLOUD_FUNCTIONS if env.get(names.function_target) else CLOUD_RUN
    if env.get(names.function_name) and env.get(names.gcp_project):  # 1st gen python37 functions
        return CLOUD_FUNCTIONS
    return LOCAL


def detect(environ: Mapping[str, str] | None = None) -> Platform:
    """Describe the host from `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    kind = _kind(env)
    if kind in (APPENGINE, LOCAL_APPENGINE):
        return Platform(
            kind=kind,
            service=env.get("GAE_SERVICE") or "default",
            version=env.get("GAE_VERSION"),
            instance=env.get("GAE_INSTANCE"),
            project=_project(env),
            runtime=env.get("GAE_RUNTIME"),
            memory_mb=_int_or_none(env.get("GAE_MEMORY_MB")),
            region=env.get("GOOGLE_CLOUD_REGION"),
            deployment_id=env.get("GAE_DEPLOYMENT_ID"),
        )
    if kind in (CLOUD_FUNCTIONS, CLOUD_RUN):
        return Platform(
            kind=kind,
            service=env.get("K_SERVICE") or env.get("FUNCTION_NAME"),
            version=env.get("K_REVISION"),
            project=_project(env),
            runtime=env.get("GOOGLE_RUNTIME"),
            memory_mb=_int_or_none(env.get("FUNCTION_MEMORY_MB")),
            region=env.get("FUNCTION_REGION") or env.get("GOOGLE_CLOUD_REGION"),
        )
    return Platform(kind=LOCAL, project=_project(env))
