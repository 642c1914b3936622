"""The retry arithmetic of config.py against the RetryConfig reference's own example and limit rules."""

from __future__ import annotations

from framework.emulators.tasks import pb
from framework.emulators.tasks.config import backoff, exhausted, set_seconds


def _retry(low: float = 10, high: float = 300, doublings: int = 3, attempts: int = 100, age: float = 0) -> object:
    retry = pb.RetryConfig(max_attempts=attempts, max_doublings=doublings)
    set_seconds(retry.min_backoff, low)
    set_seconds(retry.max_backoff, high)
    set_seconds(retry.max_retry_duration, age)
    return retry


def test_backoff_follows_the_reference_example() -> None:
    # "min_backoff 10s, max_backoff 300s, max_doublings 3: retries at 10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s"
    assert [backoff(_retry(), n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]
    assert [backoff(_retry(0.1, 3600, 16), n) for n in range(1, 4)] == [0.1, 0.2, 0.4]
    assert [backoff(_retry(1, 100, 0), n) for n in range(1, 4)] == [1, 2, 3]  # no doubling: linear from the start


def test_both_limits_must_be_reached() -> None:
    assert not exhausted(_retry(attempts=3), 2, 0)
    assert exhausted(_retry(attempts=3), 3, 0)  # no duration limit: the attempts decide
    assert not exhausted(_retry(attempts=3, age=60), 3, 30)  # attempts done, age not yet
    assert exhausted(_retry(attempts=3, age=60), 3, 61)
    assert not exhausted(_retry(attempts=-1, age=60), 50, 30)
    assert exhausted(_retry(attempts=-1, age=60), 50, 61)
    assert not exhausted(_retry(attempts=-1, age=0), 10_000, 10**7)  # unlimited both: only retention ends it
