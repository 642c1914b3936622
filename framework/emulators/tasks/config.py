"""Queue settings: the service's defaults, validation of rate and retry settings, backoff and retry limits.

Defaults are those a queue made with `gcloud tasks queues create` shows (500/s, burst 100, 1000
concurrent, 100 attempts, backoff 0.1 s to 3600 s, 16 doublings) -- observed values the API reference leaves
to "the service picks a default", so UNCONFIRMED. queue.yaml queues keep App Engine's own defaults
(queue_yaml.QueueSpec). Limits (500/s, 5000 concurrent) are from the google.cloud.tasks.v2 reference.
"""

from __future__ import annotations

import math
from typing import Any

from . import pb
from .names import check_routing, invalid
from .queue_yaml import QueueSpec

MAX_RATE = 500.0
MAX_CONCURRENT = 5000
DEFAULT_RATE = 500.0
DEFAULT_BURST = 100
DEFAULT_CONCURRENT = 1000
DEFAULT_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_DOUBLINGS = 16


def seconds(duration: Any) -> float:
    """A google.protobuf.Duration as float seconds."""
    return duration.seconds + duration.nanos / 1e9


def set_seconds(duration: Any, value: float) -> None:
    whole = math.floor(value)
    duration.seconds = whole
    duration.nanos = round((value - whole) * 1e9)


def burst_for(rate: float) -> int:
    """The service sets max_burst_size itself (output only); here: the rate rounded up, between 1 and 100."""
    return max(1, min(DEFAULT_BURST, math.ceil(rate)))


def normalize(queue: Any) -> None:
    """Check a queue's rate, retry and routing settings and fill what is unset with the defaults (INVALID_ARGUMENT)."""
    rate = queue.rate_limits
    if not 0 <= rate.max_dispatches_per_second <= MAX_RATE or math.isnan(rate.max_dispatches_per_second):
        raise invalid(f"rate_limits.max_dispatches_per_second must be between 0 and {MAX_RATE:g} "
                      f"(got {rate.max_dispatches_per_second:g}).")
    if not 0 <= rate.max_concurrent_dispatches <= MAX_CONCURRENT:
        raise invalid(f"rate_limits.max_concurrent_dispatches must be between 1 and {MAX_CONCURRENT} "
                      f"(got {rate.max_concurrent_dispatches}).")
    if rate.max_dispatches_per_second == 0:
        rate.max_dispatches_per_second = DEFAULT_RATE
    if rate.max_concurrent_dispatches == 0:
        rate.max_concurrent_dispatches = DEFAULT_CONCURRENT
    rate.max_burst_size = burst_for(rate.max_dispatches_per_second)
    normalize_retry(queue.retry_config, "retry_config")
    check_routing(queue.app_engine_routing_override, "app_engine_routing_override")


def normalize_retry(retry: Any, field: str) -> None:
    if retry.max_attempts < -1:
        raise invalid(f"{field}.max_attempts must be -1 (unlimited) or more (got {retry.max_attempts}).")
    for name in ("min_backoff", "max_backoff", "max_retry_duration"):
        if seconds(getattr(retry, name)) < 0:
            raise invalid(f"{field}.{name} must not be negative.")
    if retry.max_doublings < 0:
        raise invalid(f"{field}.max_doublings must not be negative (got {retry.max_doublings}).")
    if retry.max_attempts == 0:
        retry.max_attempts = DEFAULT_ATTEMPTS
    if not retry.HasField("min_backoff") or seconds(retry.min_backoff) == 0:
        set_seconds(retry.min_backoff, DEFAULT_MIN_BACKOFF)
    if not retry.HasField("max_backoff") or seconds(retry.max_backoff) == 0:
        set_seconds(retry.max_backoff, DEFAULT_MAX_BACKOFF)
    if not retry.HasField("max_retry_duration"):
        retry.max_retry_duration.SetInParent()
    if retry.max_doublings == 0:
        retry.max_doublings = DEFAULT_DOUBLINGS
    if seconds(retry.min_backoff) > seconds(retry.max_backoff):
        raise invalid(f"{field}.min_backoff ({seconds(retry.min_backoff):g}s) must not exceed "
                      f"max_backoff ({seconds(retry.max_backoff):g}s).")


def queue_from_spec(name: str, spec: QueueSpec) -> Any:
    """The Queue message a queue.yaml entry shows through the API.

    task_retry_limit counts retries, max_attempts counts attempts, so max_attempts = limit + 1; no limit is
    -1 (unlimited). A rate of 0 holds every task: shown as PAUSED. Both mappings UNCONFIRMED.
    """
    queue = pb.Queue(name=name, state=pb.QUEUE_PAUSED if spec.rate == 0 else pb.QUEUE_RUNNING)
    queue.rate_limits.max_dispatches_per_second = spec.rate
    queue.rate_limits.max_burst_size = spec.bucket_size
    queue.rate_limits.max_concurrent_dispatches = spec.max_concurrent_requests
    retry = queue.retry_config
    retry.max_attempts = -1 if spec.task_retry_limit is None else spec.task_retry_limit + 1
    set_seconds(retry.max_retry_duration, spec.task_age_limit or 0)
    set_seconds(retry.min_backoff, spec.min_backoff_seconds)
    set_seconds(retry.max_backoff, spec.max_backoff_seconds)
    retry.max_doublings = spec.max_doublings
    if spec.target:
        queue.app_engine_routing_override.service = spec.target.rsplit(".", 1)[-1]  # [version.]service
    return queue


def backoff(retry: Any, attempts: int) -> float:
    """Seconds before the retry that follows attempt number `attempts` (1 = the first attempt failed).

    As the RetryConfig reference describes: min_backoff, doubled max_doublings times, then growing
    linearly by min_backoff * 2**max_doublings, never above max_backoff.
    """
    low, high, doublings = seconds(retry.min_backoff), seconds(retry.max_backoff), retry.max_doublings
    step = attempts - 1
    if step <= doublings:
        interval = low * 2.0 ** step
    else:
        interval = low * 2.0 ** doublings * (step - doublings + 1)
    return min(interval, high)


def exhausted(retry: Any, attempts: int, age: float) -> bool:
    """Whether a task that failed `attempts` times, first tried `age` seconds ago, gets no more attempts.

    The service stops when both limits are reached; an unlimited one (-1 attempts, 0 duration) does not
    hold it back unless both are unlimited (then only the 31-day retention ends it).
    """
    max_attempts, max_age = retry.max_attempts, seconds(retry.max_retry_duration)
    attempts_done = max_attempts != -1 and attempts >= max_attempts
    age_done = max_age > 0 and age >= max_age
    if max_attempts == -1 and max_age == 0:
        return False
    if max_attempts == -1:
        return age_done
    if max_age == 0:
        return attempts_done
    return attempts_done and age_done
