"""`python -m bench core`'s cold start: each app, on both frameworks and as the libraries' floor, really starts
and answers its request (a source that failed would make every printed ratio meaningless)."""

from __future__ import annotations

import pytest

from bench import core


@pytest.mark.parametrize("name", sorted(core.APPS))
def test_every_cold_start_source_answers(name: str) -> None:
    colds = core.cold_start(name, runs=1)
    expected = {"framework", "flask"} | ({"floor"} if name in core.FLOORS else set())
    assert set(colds) == expected
    for wall, rss_mib, cpu in colds.values():
        assert cpu > 0 and 0 < wall < 30 and 5 < rss_mib < 500


def test_a_failing_source_is_reported() -> None:
    with pytest.raises(RuntimeError, match="cold start failed"):
        core.cold_start_of({"broken": "app = None"}, "/", runs=1)
