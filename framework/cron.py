"""Cron jobs declared in code: `@app.cron("every 1 hours")` registers a `cron_only` GET route and the job.

The declarations are what `python -m deploy cron write` turns into cron.yaml (and `check` compares with
a hand-written one), and what the local runner schedules. `CronJobSpec.to_yaml()` is the one place
that says how a declaration looks in cron.yaml.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from framework.adapters.appengine import cron_only
from framework.schedule import Schedule, ScheduleError

__all__ = ["CronError", "CronJobSpec", "cron_jobs", "declare", "declare_on_blueprint"]

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION_KEY = "framework.cron"
URL_PREFIX = "/cron/"  # where a job's route goes when no url= is given
_RETRY_KEYS = ("job_retry_limit", "job_age_limit", "min_backoff_seconds", "max_backoff_seconds", "max_doublings")
_AGE_RE = re.compile(r"^\d+(\.\d+)?[smhd]$")
_TARGET_RE = re.compile(r"^(?!-)[a-z\d-]{0,62}[a-z\d](:(?!-)[a-z\d-]{0,62}[a-z\d])?$")  # service[:version]


class CronError(ValueError):
    """A cron declaration App Engine would reject (bad url, target, description or retry parameters)."""


@dataclass(frozen=True)
class CronJobSpec:
    """One job as cron.yaml describes it, plus the endpoint of the view that serves it."""

    url: str
    schedule: Schedule
    description: str = ""
    target: str | None = None
    retry: Mapping[str, Any] = field(default_factory=dict)
    endpoint: str | None = None

    def to_yaml(self) -> dict[str, Any]:
        """The cron.yaml entry, keys in the order the docs use."""
        entry: dict[str, Any] = {}
        if self.description:
            entry["description"] = self.description
        entry["url"] = self.url
        entry["schedule"] = self.schedule.text
        if self.schedule.timezone != "UTC":
            entry["timezone"] = self.schedule.timezone
        if self.target:
            entry["target"] = self.target
        if self.retry:
            entry["retry_parameters"] = dict(self.retry)
        return entry


def cron_jobs(app: Any) -> list[CronJobSpec]:
    """The jobs declared on `app` with `@app.cron` / `@bp.cron`, in declaration order."""
    jobs: list[CronJobSpec] = app.extensions.setdefault(EXTENSION_KEY, [])
    return jobs


def declare(
    app: Any, schedule: str, *, url: str | None = None, description: str | None = None,
    target: str | None = None, timezone: str | None = None, retry: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
) -> Callable[[F], F]:
    """`@app.cron(...)`: check the job, route `url` (GET, cron requests only) to the function, record it."""

    def decorator(func: F) -> F:
        spec = _spec(func, schedule, url, description, target, timezone, retry, endpoint)
        app.add_url_rule(spec.url, spec.endpoint, _view(func), methods=["GET"])
        _record(app, spec)
        return func

    return decorator


def declare_on_blueprint(
    blueprint: Any, schedule: str, *, url: str | None = None, description: str | None = None,
    target: str | None = None, timezone: str | None = None, retry: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
) -> Callable[[F], F]:
    """`@bp.cron(...)`: as `declare`, with the url under the blueprint's prefix once it is registered."""

    def decorator(func: F) -> F:
        spec = _spec(func, schedule, url, description, target, timezone, retry, endpoint)
        blueprint.add_url_rule(spec.url, spec.endpoint, _view(func), methods=["GET"])

        def on_register(state: Any) -> None:
            prefix = state.url_prefix
            full_url = f"{prefix.rstrip('/')}/{spec.url.lstrip('/')}" if prefix else spec.url
            full_endpoint = f"{state.name_prefix}.{state.name}.{spec.endpoint}".lstrip(".")
            _record(state.app, CronJobSpec(full_url, spec.schedule, spec.description, spec.target,
                                           spec.retry, full_endpoint))

        blueprint.record(on_register)
        return func

    return decorator


def _spec(
    func: Callable[..., Any], schedule: str, url: str | None, description: str | None, target: str | None,
    timezone: str | None, retry: Mapping[str, Any] | None, endpoint: str | None,
) -> CronJobSpec:
    name = getattr(func, "__qualname__", repr(func))
    where = f"@cron on {name}"
    try:
        parsed = Schedule.parse(schedule, timezone or "UTC")
    except ScheduleError as exc:
        raise ScheduleError(f"{where}: {exc}") from None
    try:
        inspect.signature(func).bind()
    except TypeError:
        raise CronError(f"{where}: App Engine calls a cron job with no arguments; give every parameter a "
                        "default, or read what you need inside the function") from None
    except ValueError:  # a builtin without a signature: nothing to check
        pass
    if url is None:
        if not func.__name__.isidentifier():
            raise CronError(f"{where}: a function without a name needs url=, e.g. url='/cron/cleanup'")
        url = URL_PREFIX + func.__name__.replace("_", "-")
    if not isinstance(url, str) or not url.startswith("/"):
        raise CronError(f"{where}: url {url!r} must start with '/', e.g. '/cron/{func.__name__}'")
    if "<" in url:
        raise CronError(f"{where}: url {url!r} has a variable part; cron sends a fixed GET, so use a fixed url")
    if description is not None and len(description) >= 500:
        raise CronError(f"{where}: the description has {len(description)} characters; App Engine allows "
                        "fewer than 500")
    if target is not None and not _TARGET_RE.match(target):
        raise CronError(f"{where}: target {target!r} is not a service name; use lower-case letters, digits "
                        "and hyphens, e.g. 'worker'")
    return CronJobSpec(url=url, schedule=parsed, description=description or "", target=target,
                       retry=_check_retry(where, retry or {}), endpoint=endpoint or func.__name__)


def _check_retry(where: str, retry: Mapping[str, Any]) -> dict[str, Any]:
    """cron.yaml's retry_parameters, checked as the SDK checks them (platform-facts §5.4)."""
    unknown = sorted(set(retry) - set(_RETRY_KEYS))
    if unknown:
        raise CronError(f"{where}: unknown retry parameter {unknown[0]!r}; use {', '.join(_RETRY_KEYS)}")
    checked = {key: retry[key] for key in _RETRY_KEYS if key in retry}
    limit = checked.get("job_retry_limit")
    if limit is not None and (not _is_int(limit) or not 0 <= limit <= 5):
        raise CronError(f"{where}: job_retry_limit {limit!r} must be a whole number from 0 to 5")
    age = checked.get("job_age_limit")
    if age is not None and (not isinstance(age, str) or not _AGE_RE.match(age)):
        raise CronError(f"{where}: job_age_limit {age!r} must be a number and a unit s, m, h or d, e.g. '2h'")
    for key in ("min_backoff_seconds", "max_backoff_seconds"):
        value = checked.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise CronError(f"{where}: {key} {value!r} must be a number of seconds, 0 or more")
    low, high = checked.get("min_backoff_seconds"), checked.get("max_backoff_seconds")
    if low is not None and high is not None and low > high:
        raise CronError(f"{where}: min_backoff_seconds ({low}) is above max_backoff_seconds ({high})")
    doublings = checked.get("max_doublings")
    if doublings is not None and (not _is_int(doublings) or doublings < 0):
        raise CronError(f"{where}: max_doublings {doublings!r} must be a whole number, 0 or more")
    return checked


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record(app: Any, spec: CronJobSpec) -> None:
    jobs = cron_jobs(app)
    for job in jobs:
        if job.url == spec.url:
            raise CronError(f"two cron jobs use the url {spec.url!r} ({job.endpoint} and {spec.endpoint}); "
                            "give one of them its own url=")
    jobs.append(spec)


def _view(func: Callable[..., Any]) -> Callable[..., Any]:
    """The route's view: cron requests only, and a job that returns nothing answers 200 with no body."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async() -> Any:
            result = await func()
            return "" if result is None else result

        return cron_only(run_async)

    @functools.wraps(func)
    def run() -> Any:
        result = func()
        return "" if result is None else result

    return cron_only(run)
