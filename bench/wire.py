"""Over the wire under real gunicorn: hello and the typical app, this framework beside Flask and a raw WSGI callable.

`python -m bench wire` (issue 14; needs Debian's `wrk`). gunicorn runs with gunicorn.conf.py as an F2 instance
would (GAE_ENV=standard, GAE_MEMORY_MB=768: its gthread-based worker, its own worker and thread counts). All five
servers start once; wrk (one thread, BENCH_WIRE_CONNECTIONS connections, default 32) then drives one server at a
time for BENCH_WIRE_SECONDS (default 3), the five in turn for BENCH_WIRE_ROUNDS rounds (default 15, order flipped
every round), so a noisy neighbour on the shared cores hits every row alike. Each ratio is the median of its
rounds' ratios. A wrk Lua script sends every request (the typical app's three in rotation, with the session
cookie its /login set) with the headers App Engine's front end adds, and counts answers outside 2xx: any such
answer, or a socket error, fails the row.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from bench.apps import SHAPES, Call
from bench.core import APPS
from bench.server import F2_ENV, parse_wrk, run_wrk
from tests.support.procs import REPO_ROOT, Server, free_port, run_server, venv_tool

# The floor: the least a WSGI app can do to send Flask's hello response (same status, headers and body).
RAW_HELLO = '''
BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
'''

# gunicorn.conf.py refuses to boot an app on Google's hosts without a random-looking SECRET_KEY (bench.apps'
# own key reads as a placeholder to it), so every app gets a fresh one per run.
KEY = secrets.token_urlsafe(48)

# bench.core's hello source, as `python -m bench core` times it in process.
HELLO = APPS["hello"][0] + f"app.config['SECRET_KEY'] = {KEY!r}\n"

# bench.apps' typical app (blueprint, before/after hooks, session read and write, a template page, JSON API routes).
TYPICAL = f'from bench.apps import build\n\napp = build("typical app", {{fw!r}})\napp.config["SECRET_KEY"] = {KEY!r}\n'

TYPICAL_SHAPE = SHAPES["typical app"]


@dataclass(frozen=True)
class Row:
    """One server of the suite: its name, the module source serving `app`, and the requests wrk sends in turn."""

    name: str
    source: str
    calls: tuple[Call, ...]
    cookie_from: str | None = None  # a path whose Set-Cookie session the calls then carry

    @property
    def module(self) -> str:
        return "wire_" + re.sub(r"\W+", "_", self.name)


# What App Engine's front end adds to every request it forwards (platform-facts §3.2): the servers run as on
# App Engine (GAE_ENV=standard), where the framework's middleware reads X-Forwarded-* and X-Appengine-User-IP
# on every request, so every row's requests carry them (BENCH_WIRE_HEADERS=none sends wrk's bare requests).
FRONT_END_HEADERS = {
    "X-Forwarded-For": "203.0.113.7, 169.254.1.1",
    "X-Forwarded-Proto": "https",
    "X-Appengine-User-IP": "203.0.113.7",
    "X-Appengine-Country": "NL",
    "X-Appengine-Region": "nh",
    "X-Appengine-City": "amsterdam",
    "X-Appengine-CityLatLong": "52.370216,4.895168",
    "X-Appengine-Https": "on",
    "X-Appengine-Default-Version-Hostname": "bench-project.ew.r.appspot.com",
    "X-Appengine-Request-Log-Id": "6579a3e400ff0c1b5d5e3c0a6e0001737e62656e63682d70726f6a656374000176310001",
    "X-Appengine-Timeout-Ms": "599999",
    "X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/1234567890123456789;o=0",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-112210f47de98115-00",
}

HELLO_CALLS = (Call("/"),)
ROWS = (
    Row("raw hello", RAW_HELLO, HELLO_CALLS),
    Row("framework hello", HELLO.format(mod="framework", cls="App"), HELLO_CALLS),
    Row("Flask hello", HELLO.format(mod="flask", cls="Flask"), HELLO_CALLS),
    Row("framework typical", TYPICAL.format(fw="framework"), TYPICAL_SHAPE.calls, TYPICAL_SHAPE.cookie_from),
    Row("Flask typical", TYPICAL.format(fw="flask"), TYPICAL_SHAPE.calls, TYPICAL_SHAPE.cookie_from),
)

# (label, numerator row, denominator row, target floor or None when the issue sets none over the wire)
RATIOS: tuple[tuple[str, str, str, float | None], ...] = (
    ("framework hello / raw hello", "framework hello", "raw hello", 0.9),
    ("framework hello / Flask hello", "framework hello", "Flask hello", None),
    ("framework typical / Flask typical", "framework typical", "Flask typical", None),
)

# Variables that would change what gunicorn.conf.py picks, or which platform the app believes it is on.
_CLEARED = ("K_SERVICE", "SCRIPT_NAME", "FRAMEWORK_SECRET_KEY", "WEB_CONCURRENCY", "GUNICORN_THREADS",
            "FRAMEWORK_SERVER", "FRAMEWORK_SERVER_THREADS", "FRAMEWORK_MAX_CONCURRENT_REQUESTS", "FUNCTION_TARGET")

_NON2XX_LINE = "wire non-2xx:"

# Every request goes through request() and every answer through response(), on every row, so the client's
# own cost is the same whichever server it drives. `non2xx` lives in each wrk thread; done() sums them.
_LUA = """
local calls = {{
{calls}
}}
local built = {{}}
local i = 0
non2xx = 0

function init(args)
  for _, c in ipairs(calls) do
    built[#built + 1] = wrk.format(c[1], c[2], c[3], c[4])
  end
end

function request()
  i = i % #built + 1
  return built[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local threads = {{}}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
  end
  io.write(string.format("{marker} %d\\n", n))
end
"""


def lua_string(text: str) -> str:
    """`text` as a Lua string literal (printable ASCII kept, everything else as a decimal escape)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def front_end_headers() -> dict[str, str]:
    """The headers every request carries: App Engine's front end's, or none with BENCH_WIRE_HEADERS=none."""
    return {} if os.environ.get("BENCH_WIRE_HEADERS") == "none" else dict(FRONT_END_HEADERS)


def lua_script(calls: Sequence[Call], cookie: str | None) -> str:
    """A wrk script sending `calls` in rotation (with `cookie` if given, and front_end_headers()) and counting
    non-2xx answers."""
    entries = []
    for call in calls:
        headers = front_end_headers()
        if cookie:
            headers["Cookie"] = cookie
        if call.content_type:
            headers["Content-Type"] = call.content_type
        table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
        body = lua_string(call.body.decode()) if call.body else "nil"
        entries.append(f"  {{{lua_string(call.method)}, {lua_string(call.path)}, {{{table}}}, {body}}},")
    return _LUA.format(calls="\n".join(entries), marker=_NON2XX_LINE)


@dataclass(frozen=True)
class Sample:
    """One wrk run against one server."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int  # answers outside 2xx, counted by the Lua script (3xx included)
    errors: int  # wrk's own count: socket errors plus 4xx/5xx answers
    cpu_us: float | None = None  # the server's CPU time per request (all its processes), microseconds

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.non2xx == 0 and self.errors == 0


def parse(output: str) -> Sample:
    """A Sample from `wrk --latency -s <lua_script>` output; ValueError if a figure is missing."""
    try:
        rps, p50, p99, errors = parse_wrk(output)
    except AttributeError as exc:  # parse_wrk's re.search found nothing
        raise ValueError(f"not wrk --latency output:\n{output}") from exc
    total = re.search(r"^\s*(\d+) requests in ", output, re.M)
    counted = re.search(rf"^{re.escape(_NON2XX_LINE)} (\d+)$", output, re.M)
    if total is None or counted is None:
        raise ValueError(f"wrk output lacks the request count or the script's non-2xx line:\n{output}")
    return Sample(rps, p50, p99, int(total.group(1)), int(counted.group(1)), errors)


def drive(url: str, script: Path, seconds: int, connections: int, pid: int | None = None) -> Sample:
    """wrk with one thread against `url` for `seconds`, requests and checks from `script`; with the server's
    `pid`, also its CPU time per request, a figure time stolen by other processes does not inflate."""
    before = tree_cpu_seconds(pid) if pid is not None else 0.0
    sample = parse(run_wrk(url, seconds, connections, script, threads=1))
    if pid is None or not sample.requests:
        return sample
    return replace(sample, cpu_us=(tree_cpu_seconds(pid) - before) / sample.requests * 1e6)


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by `pid` and its live descendants (gunicorn's workers), seconds."""
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        tree.add(current)
        todo.extend(child for child, parent in parents.items() if parent == current and child not in tree)
    return sum(used.get(p, 0) for p in tree) / _TICKS


def gunicorn_command(module: str, port: int) -> list[str]:
    """gunicorn as gunicorn.conf.py sets it up; only the port is ours (the conf reads $PORT, set too)."""
    return [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
            f"{module}:app"]


def server_env(work: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every server: an F2 instance, the apps' folder and the repository importable."""
    env = {**os.environ, **F2_ENV, "PYTHONPATH": os.pathsep.join([str(work), str(REPO_ROOT)]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    for var in _CLEARED:
        env.pop(var, None)
    return {**env, **(extra or {})}


def picked_settings(env: dict[str, str]) -> str:
    """What gunicorn.conf.py picks for `env` on this machine: workers, threads and worker class."""
    import runpy

    with _environ(env):
        conf = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    return f"{conf['workers']} workers x {conf['threads']} threads, worker class {conf['worker_class']}"


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _get(server: Server, call: Call, cookie: str | None) -> tuple[int, str | None]:
    """One request: its status and the `session=...` pair of its Set-Cookie, if any."""
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=30)
    headers = front_end_headers()
    if cookie:
        headers["Cookie"] = cookie
    if call.content_type:
        headers["Content-Type"] = call.content_type
    try:
        conn.request(call.method, call.path, body=call.body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        session = None
        for value in response.headers.get_all("Set-Cookie") or ():
            if value.startswith("session="):
                session = value.split(";", 1)[0]
        return response.status, session
    finally:
        conn.close()


def prepare(row: Row, server: Server, work: Path) -> Path:
    """The row's wrk script in `work`, after checking once that each call gets the status it must."""
    cookie = None
    if row.cookie_from:
        _, cookie = _get(server, Call(row.cookie_from, status=302), None)
        if cookie is None:
            raise RuntimeError(f"{row.name}: GET {row.cookie_from} set no session cookie")
    for call in row.calls:
        status, _ = _get(server, call, cookie)
        if status != call.status:
            raise RuntimeError(f"{row.name}: {call.method} {call.path} answered {status}, expected {call.status}"
                               f"\n--- server log ---\n{server.log()}")
    script = work / f"{row.module}.lua"
    script.write_text(lua_script(row.calls, cookie))
    return script


@contextlib.contextmanager
def serve(row: Row, work: Path, env: dict[str, str]) -> Iterator[tuple[Server, Path]]:
    """Write the row's app, run gunicorn on it and prepare its wrk script; the server stops whatever happens."""
    (work / f"{row.module}.py").write_text(row.source)
    port = free_port()
    with run_server(gunicorn_command(row.module, port), port=port, tmp_path=work, cwd=work,
                    env={**env, "PORT": str(port)}, ready_path=row.calls[0].path, timeout=60) as server:
        yield server, prepare(row, server, work)


def _cell(samples: list[Sample]) -> str:
    rates = [s.rps for s in samples]
    return (f"{statistics.median(rates):>9.0f}  {min(rates):>7.0f}-{max(rates):<7.0f}"
            f"{statistics.median(s.p50_ms for s in samples):>8.1f}{statistics.median(s.p99_ms for s in samples):>8.1f}"
            f"{_cpu(samples):>8}{sum(s.non2xx for s in samples):>9}{sum(s.errors for s in samples):>8}")


def _cpu(samples: list[Sample]) -> str:
    """The median server CPU microseconds per request, or "-" when not measured."""
    values = [s.cpu_us for s in samples if s.cpu_us is not None]
    return f"{statistics.median(values):.0f}" if values else "-"


def _ratios(tops: list[Sample], bottoms: list[Sample]) -> tuple[list[float], list[float]]:
    """Each round's req/s ratio, and its ratio of requests per server CPU second (when measured)."""
    by_rate = [a.rps / b.rps for a, b in zip(tops, bottoms, strict=True)]
    by_cpu = [b.cpu_us / a.cpu_us for a, b in zip(tops, bottoms, strict=True) if a.cpu_us and b.cpu_us]
    return by_rate, by_cpu


def run(rows: Sequence[Row], work: Path, env: dict[str, str], seconds: int, rounds: int,
        connections: int) -> dict[str, list[Sample]]:
    """Start every row's server once, warm each, then drive them one at a time for `rounds` rounds."""
    samples: dict[str, list[Sample]] = {row.name: [] for row in rows}
    with contextlib.ExitStack() as stack:
        targets: dict[str, tuple[str, Path, int]] = {}
        for row in rows:
            server, script = stack.enter_context(serve(row, work, env))
            targets[row.name] = (server.url + row.calls[0].path, script, server.proc.pid)
        time.sleep(1.0)  # every worker booted: the server answers as soon as its first one has
        for url, script, _ in targets.values():
            drive(url, script, 1, connections)  # warm-up: imports, template compile, every worker's first requests
        order = [row.name for row in rows]
        for r in range(rounds):
            for name in order if r % 2 == 0 else reversed(order):
                url, script, pid = targets[name]
                samples[name].append(drive(url, script, seconds, connections, pid))
    return samples


def report(samples: dict[str, list[Sample]]) -> bool:
    """Print the rows and the ratios; False if any row failed (a non-2xx answer or a socket error)."""
    print(f"{'row':<19}{'req/s':>9}  {'rounds':<15}{'p50 ms':>8}{'p99 ms':>8}{'CPU us':>8}{'non-2xx':>9}{'errors':>8}")
    failed = set()
    for name, runs in samples.items():
        bad = not all(s.ok for s in runs)
        if bad:
            failed.add(name)
        print(f"{name:<19}{_cell(runs)}{'  FAILED' if bad else ''}", flush=True)
    rounds = len(next(iter(samples.values())))
    print(f"ratios: median of {rounds} interleaved rounds (each round's ratio from its own pair of runs), by req/s "
          "and by requests per second of server CPU (CPU us: the server's CPU time per request, all processes)")
    for label, top, bottom, goal in RATIOS:
        if top not in samples or bottom not in samples:
            continue
        ratios, by_cpu = _ratios(samples[top], samples[bottom])
        value = statistics.median(ratios)
        line = f"  {label}: {value:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})"
        if by_cpu:
            line += f", by CPU {statistics.median(by_cpu):.2f}x ({min(by_cpu):.2f}-{max(by_cpu):.2f})"
        if failed & {top, bottom}:
            line += f"  FAILED: non-2xx answers or errors in {', '.join(sorted(failed & {top, bottom}))}"
        elif goal is not None:
            line += f"  target >= {goal}x: {'ok' if value >= goal else 'MISSED'}"
        else:
            line += "  (no over-the-wire target; reported)"
        print(line)
    return not failed


def main() -> None:
    """Run the suite; exit status 1 if a row got any non-2xx answer or socket error."""
    if shutil.which("wrk") is None:
        print("bench wire needs Debian's wrk load generator: apt-get install -y wrk (or `make wrk`)", file=sys.stderr)
        return
    seconds = int(os.environ.get("BENCH_WIRE_SECONDS", "3"))
    rounds = int(os.environ.get("BENCH_WIRE_ROUNDS", "15"))
    connections = int(os.environ.get("BENCH_WIRE_CONNECTIONS", "32"))
    only = [n for n in os.environ.get("BENCH_WIRE_ONLY", "").split(",") if n]
    rows = [row for row in ROWS if not only or any(o in row.name for o in only)]
    with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
        work = Path(tmp)
        env = server_env(work)
        print(f"gunicorn -c gunicorn.conf.py as an F2 (GAE_MEMORY_MB=768) picked: {picked_settings(env)}")
        print(f"wrk -t 1 -c {connections} on loopback, {seconds} s per run, {rounds} rounds, one server at a time; "
              f"{os.cpu_count()} CPUs shared with whatever else runs")
        print("every request carries " + (f"the {len(FRONT_END_HEADERS)} headers App Engine's front end adds "
              "(X-Forwarded-For, X-Appengine-User-IP, trace context, ...)" if front_end_headers()
              else "only wrk's own headers (BENCH_WIRE_HEADERS=none)"))
        ok = report(run(rows, work, env, seconds, rounds, connections))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
