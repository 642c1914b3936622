"""`python -m bench cost`: its reading of cachegrind's summary, and one small real run per row kind."""

from __future__ import annotations

import shutil

import pytest

from bench import cost

SUMMARY = """==123==
==123== I   refs:      762,788,144
==123== I1  misses:      6,512,969
==123== LLi misses:         18,002
==123== I1  miss rate:        0.85%
==123== D   refs:      389,335,196  (237,048,083 rd   + 152,287,113 wr)
==123== D1  misses:     28,262,559  (  7,044,882 rd   + 21,217,677 wr)
"""


def test_parser_reads_the_three_figures() -> None:
    assert cost.parse(SUMMARY) == cost.Counts(762_788_144, 6_512_969, 28_262_559)
    with pytest.raises(ValueError, match="D1"):
        cost.parse(SUMMARY.replace("D1  misses", "D1 lost"))


def test_per_request_subtraction() -> None:
    busy, idle = cost.Counts(1_000, 50, 40), cost.Counts(400, 10, 20)
    assert busy.minus(idle, 10) == cost.Counts(60, 4, 2)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind (Debian: apt-get install -y valgrind)")
def test_the_framework_adds_work_to_the_raw_callable() -> None:
    raw = cost.measure("raw", 10)
    ours = cost.measure("framework", 10)
    assert raw.instructions > 0 and ours.instructions > raw.instructions * 2
    assert ours.i1_misses > raw.i1_misses and ours.d1_misses > raw.d1_misses
