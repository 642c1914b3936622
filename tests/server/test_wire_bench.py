"""`python -m bench wire`'s machinery: its wrk output parser, and one second of real load on the typical app
under gunicorn.conf.py's gunicorn, where the Lua script's guard must count every answer outside 2xx."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import wire
from bench.apps import Call

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:31652/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.41ms   10.18ms  98.66ms   93.60%
    Req/Sec     1.26k   562.07     2.00k    60.00%
  Latency Distribution
     50%  812.00us
     75%    4.85ms
     90%    9.14ms
     99%    1.20s
  1257 requests in 1.09s, 485.70KB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 7
Requests/sec:   1158.34
Transfer/sec:    447.57KB
wire non-2xx: 9
"""


def test_parser_reads_every_figure_and_the_scripts_count() -> None:
    sample = wire.parse(WRK_OUTPUT)
    assert sample == wire.Sample(rps=1158.34, p50_ms=0.812, p99_ms=1200.0, requests=1257, non2xx=9, errors=10)
    assert not sample.ok
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 2, write 1, timeout 0\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 7\n", "").replace("wire non-2xx: 9", "wire non-2xx: 0")
    assert wire.parse(clean).ok


def test_parser_refuses_output_without_the_scripts_count() -> None:
    # Run without the Lua script, nothing would have checked the statuses: not a pass.
    with pytest.raises(ValueError, match="non-2xx line"):
        wire.parse(WRK_OUTPUT.replace("wire non-2xx: 9\n", ""))
    with pytest.raises(ValueError, match="not wrk"):
        wire.parse("wrk: connection refused\n")


def test_bare_requests_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "X-Forwarded-Proto" in wire.lua_script([Call("/")], None)
    monkeypatch.setenv("BENCH_WIRE_HEADERS", "none")
    assert "X-Forwarded" not in wire.lua_script([Call("/")], None) and wire.front_end_headers() == {}


def test_lua_strings_survive_quotes_and_non_ascii() -> None:
    assert wire.lua_string('{"a": "\\u00e9"}\n') == '"{\\034a\\034: \\034\\092u00e9\\034}\\010"'
    assert wire.lua_string("é") == '"\\195\\169"'


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs Debian's wrk load generator (make wrk)")
def test_one_second_of_the_typical_app_then_a_redirect_the_guard_counts(tmp_path: Path) -> None:
    row = next(r for r in wire.ROWS if r.name == "framework typical")
    env = wire.server_env(tmp_path, {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2"})
    with wire.serve(row, tmp_path, env) as (server, script):
        lua = script.read_text()
        assert lua.count("session=") == len(row.calls) == 3  # the cookie /login set rides on every call
        assert '"POST", "/api/items"' in lua and "application/json" in lua
        # App Engine's front-end headers ride on every call, so the app's middleware reads them as on Google's hosts.
        assert lua.count('["X-Forwarded-For"] = "203.0.113.7, 169.254.1.1"') == len(row.calls)
        assert lua.count('["X-Appengine-User-IP"]') == len(row.calls)
        good = wire.drive(server.url + "/", script, 1, 4)
        assert good.requests > 0 and good.rps > 0 and good.p50_ms <= good.p99_ms
        assert (good.non2xx, good.errors) == (0, 0), server.log()
        assert good.ok

        # /login answers 302: wrk's own count ignores 3xx, the script's guard must not.
        redirect = tmp_path / "redirect.lua"
        redirect.write_text(wire.lua_script([Call("/login", status=302)], None))
        bad = wire.drive(server.url + "/login", redirect, 1, 4)
        assert bad.requests > 0
        assert bad.non2xx == bad.requests
        assert bad.errors == 0
        assert not bad.ok


def test_a_row_with_non_2xx_answers_fails_the_suite(capsys: pytest.CaptureFixture[str]) -> None:
    fine = wire.Sample(1000.0, 1.0, 2.0, 5000, 0, 0)
    broken = wire.Sample(1200.0, 1.0, 2.0, 6000, 3, 0)
    samples = {"raw hello": [fine, fine], "framework hello": [fine, broken]}
    assert wire.report(samples) is False
    out = capsys.readouterr().out
    assert "framework hello" in out and "FAILED" in out
    assert "target >= 0.9x: ok" not in out
    assert wire.report({"raw hello": [fine], "framework hello": [fine]}) is True
    assert "target >= 0.9x: ok" in capsys.readouterr().out
