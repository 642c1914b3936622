"""Per-instance throughput over the wire: servers behind app.yaml's entrypoint, measured with wrk on loopback.

`python -m bench server` (needs Debian's `wrk`: `apt-get install -y wrk`). Each row starts a real server
process as an F2 instance would run it (GAE_ENV=standard, GAE_MEMORY_MB=768) and drives it with wrk
(BENCH_SERVER_CONNECTIONS connections, default 64, for BENCH_SERVER_SECONDS, default 8). Shapes: a JSON
route, a route that waits 20 ms on I/O (as a Datastore call does), and a typical app (blueprint, before/after
hooks, a session read and write, a template page, a JSON API route), beside a raw WSGI callable under the
same server (the floor). Reported: requests/s, p50/p99 latency, RSS of the whole process tree after the
load, then the issue's targets as ratios of figures from this one run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.procs import REPO_ROOT, free_port, run_server, venv_tool

FRAMEWORK_APP = '''
import time

from framework import App, Blueprint, jsonify, render_template_string, session

app = App(__name__)
app.config["SECRET_KEY"] = "bench-only-key-0f3c9a7d2b51e8e6a4c1d9b7f0a2e5c8"

PAGE = """<!doctype html><title>{{ title }}</title><ul>
{% for item in items %}<li>{{ item.name|title }}: {{ item.price }}</li>{% endfor %}</ul>
<p>visits: {{ visits }}</p>"""
ITEMS = [{"name": f"item {i}", "price": i * 3} for i in range(10)]


@app.get("/json")
def json_route():
    return {"id": 42, "name": "user", "active": True}


@app.get("/io")
def io_route():
    time.sleep(0.02)  # a Datastore round trip
    return {"waited_ms": 20}


shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.before_request
def load_user():
    session.get("user")


@shop.after_request
def add_header(response):
    response.headers["X-Shop"] = "1"
    return response


@shop.get("/page")
def page():
    session["visits"] = session.get("visits", 0) + 1
    return render_template_string(PAGE, title="Shop", items=ITEMS, visits=session["visits"])


@shop.get("/api/items")
def items():
    return jsonify(items=ITEMS, count=len(ITEMS))


app.register_blueprint(shop)
'''

RAW_APP = '''
import json
import time

BODY = json.dumps({"id": 42, "name": "user", "active": True}).encode()


def app(environ, start_response):
    if environ["PATH_INFO"] == "/io":
        time.sleep(0.02)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
'''

# The typical app's traffic: a template page with a session write for every two JSON API calls.
TYPICAL_LUA = '''
local paths = {"/shop/page", "/shop/api/items", "/shop/api/items"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
'''

F2_ENV = {"GAE_ENV": "standard", "GAE_MEMORY_MB": "768", "GOOGLE_CLOUD_PROJECT": "bench", "GAE_SERVICE": "default",
          "GAE_INSTANCE": "bench", "GAE_VERSION": "bench", "GAE_RUNTIME": "python312", "HOST": "127.0.0.1"}


@dataclass
class Setup:
    """One server configuration: a name, the command serving `target` on a port, and extra variables."""

    name: str
    command: Callable[[str, int], list[str]]
    env: dict[str, str] = field(default_factory=dict)


def _gunicorn(worker: str, workers: int, threads: int) -> Callable[[str, int], list[str]]:
    def command(target: str, port: int) -> list[str]:
        return [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--threads", str(threads), "--worker-class", worker, target]
    return command


def _gevent(workers: int, connections: int) -> Callable[[str, int], list[str]]:
    def command(target: str, port: int) -> list[str]:
        return [venv_tool("gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--worker-connections", str(connections), "--worker-class", "gevent",
                target]
    return command


def _granian(workers: int, threads: int) -> Callable[[str, int], list[str]]:
    def command(target: str, port: int) -> list[str]:
        return [venv_tool("granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", str(threads), "--no-ws", target]
    return command


def _shipped(target: str, port: int) -> list[str]:
    """app.yaml's entrypoint, as written there, with $PORT set in the environment."""
    import shlex

    entry = _entrypoint()
    return [venv_tool(part) if i == 0 else part for i, part in enumerate(shlex.split(entry))][:-1] + [target]


def _entrypoint() -> str:
    for line in (REPO_ROOT / "app.yaml").read_text().splitlines():
        if line.startswith("entrypoint:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError("app.yaml has no entrypoint line")


BEFORE = "gunicorn gthread 4w x 4t (before)"
SHIPPED = "shipped, max_concurrent 80"
SETUPS = [
    Setup(BEFORE, _gunicorn("gthread", 4, 4)),
    Setup("gunicorn buffering 4w x 4t", _gunicorn("framework.adapters.gunicorn_worker.BufferingThreadWorker", 4, 4)),
    Setup("gunicorn buffering 4w x 20t", _gunicorn("framework.adapters.gunicorn_worker.BufferingThreadWorker", 4, 20)),
    Setup("gunicorn gevent 4w", _gevent(4, 1000)),
    Setup("granian 1w x 64t", _granian(1, 64)),
    # app.yaml's entrypoint as an F2 runs it: with `max_concurrent_requests: 80` in app.yaml (an I/O-bound
    # app's setting; the variable stands in for the file), and with App Engine's default of 10.
    Setup(SHIPPED, _shipped, {"FRAMEWORK_MAX_CONCURRENT_REQUESTS": "80"}),
    Setup("shipped, max_concurrent default", _shipped),
    # The same entrypoint on a developer's machine: behind `make run`'s front end, and run directly (gunicorn).
    Setup("shipped, local runner (localdev)", _shipped, {"GAE_ENV": "localdev", "GAE_MEMORY_MB": ""}),
    Setup("shipped, run directly", _shipped, {"GAE_ENV": "", "GAE_MEMORY_MB": "", "HOST": ""}),
]


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mib: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """requests/s, p50 and p99 in ms, and the count of errors (non-2xx/3xx and socket errors) from wrk --latency."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, p50, p99, errors + (int(non2xx.group(1)) if non2xx else 0)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, MiB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total_kib, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, ()))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def run_wrk(url: str, seconds: int, connections: int, script: Path | None = None, threads: int = 2) -> str:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout


def measure(setup: Setup, target: str, paths: list[tuple[str, str, Path | None]], work: Path, env: dict[str, str],
            seconds: int, connections: int) -> dict[str, Result]:
    """Start `setup` serving `target`, drive each (label, path, lua script) with wrk; the server always stops."""
    port = free_port()
    results: dict[str, Result] = {}
    with run_server(setup.command(target, port), port=port, tmp_path=work, cwd=work,
                    env={**env, **setup.env, "PORT": str(port)}, ready_path=paths[0][1], timeout=60) as server:
        time.sleep(1.0)  # every worker booted (the server answers as soon as the first one has)
        for label, path, script in paths:
            run_wrk(server.url + path, 1, connections, script)  # warm-up: imports, template compile, pools
            output = run_wrk(server.url + path, seconds, connections, script)
            rps, p50, p99, errors = parse_wrk(output)
            results[label] = Result(rps, p50, p99, tree_rss_mib(server.proc.pid), errors)
    return results


def main() -> None:
    """Run every setup on every shape, then the issue's targets as interleaved paired ratios."""
    if shutil.which("wrk") is None:
        print("bench server needs Debian's wrk load generator: apt-get install -y wrk", file=sys.stderr)
        return
    seconds = int(os.environ.get("BENCH_SERVER_SECONDS", "8"))
    connections = int(os.environ.get("BENCH_SERVER_CONNECTIONS", "64"))
    rounds = int(os.environ.get("BENCH_SERVER_ROUNDS", "5"))
    only = [n for n in os.environ.get("BENCH_SERVER_ONLY", "").split(",") if n]
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        work = Path(tmp)
        (work / "bench_fw.py").write_text(FRAMEWORK_APP)
        (work / "bench_raw.py").write_text(RAW_APP)
        (work / "typical.lua").write_text(TYPICAL_LUA)
        env = {**os.environ, **F2_ENV, "PYTHONPATH": os.pathsep.join([str(work), str(REPO_ROOT)]),
               "PYTHONDONTWRITEBYTECODE": "1"}
        for var in ("K_SERVICE", "SCRIPT_NAME", "FRAMEWORK_SECRET_KEY", "WEB_CONCURRENCY", "GUNICORN_THREADS",
                    "FRAMEWORK_SERVER", "FRAMEWORK_SERVER_THREADS", "FRAMEWORK_MAX_CONCURRENT_REQUESTS"):
            env.pop(var, None)
        fw_paths = [("json", "/json", None), ("io 20ms", "/io", None), ("typical", "/shop/page", work / "typical.lua")]
        raw_paths = [("raw json", "/json", None), ("raw io 20ms", "/io", None)]
        print(f"wrk on loopback: {connections} connections, {seconds} s per row; as an F2 instance "
              f"(GAE_MEMORY_MB=768) on {os.cpu_count()} CPUs; RSS of the server's process tree after the load")
        print(f"{'setup':<36}{'shape':<13}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'RSS MiB':>9}{'errors':>8}")
        for setup in SETUPS:
            if only and not any(o in setup.name for o in only):
                continue
            for target, paths in (("bench_fw:app", fw_paths), ("bench_raw:app", raw_paths)):
                for label, result in measure(setup, target, paths, work, env, seconds, connections).items():
                    print(f"{setup.name:<36}{label:<13}{result.rps:>9.0f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}"
                          f"{result.rss_mib:>9.0f}{result.errors:>8}", flush=True)
        if rounds > 0:
            targets(work, env, connections, rounds, max(2, seconds // 2))


def targets(work: Path, env: dict[str, str], connections: int, rounds: int, seconds: int) -> None:
    """The issue's targets: before, shipped and the raw callable under the shipped server run side by side, and
    wrk alternates between them for `rounds` rounds, so a change of load on the machine hits both sides of each
    ratio alike; each ratio is the median of its rounds."""
    shipped = next(s for s in SETUPS if s.name == SHIPPED)
    before = next(s for s in SETUPS if s.name == BEFORE)
    servers = {"before": (before, "bench_fw:app"), "shipped": (shipped, "bench_fw:app"),
               "raw": (shipped, "bench_raw:app")}
    with contextlib.ExitStack() as stack:
        urls, pids = {}, {}
        for key, (setup, target) in servers.items():
            port = free_port()
            server = stack.enter_context(run_server(
                setup.command(target, port), port=port, tmp_path=work, cwd=work, ready_path="/json", timeout=60,
                env={**env, **setup.env, "PORT": str(port)}))
            urls[key], pids[key] = server.url, server.proc.pid
        time.sleep(1.0)
        pairs = [("JSON route, shipped / before", "shipped", "before", "/json", 3.0),
                 ("I/O route, shipped / before", "shipped", "before", "/io", 4.0),
                 ("framework JSON / raw callable, shipped server", "shipped", "raw", "/json", 0.4)]
        ratios: dict[str, list[float]] = {text: [] for text, *_ in pairs}
        rss: dict[str, float] = {}
        for _ in range(rounds):
            for text, top, bottom, path, _target in pairs:
                top_rps = parse_wrk(run_wrk(urls[top] + path, seconds, connections))[0]
                rss[top] = max(rss.get(top, 0.0), tree_rss_mib(pids[top]))
                bottom_rps = parse_wrk(run_wrk(urls[bottom] + path, seconds, connections))[0]
                rss[bottom] = max(rss.get(bottom, 0.0), tree_rss_mib(pids[bottom]))
                ratios[text].append(top_rps / bottom_rps)
    print(f"targets: median of {rounds} interleaved rounds ({seconds} s each side), servers side by side")
    for text, _top, _bottom, _path, goal in pairs:
        value = statistics.median(ratios[text])
        spread = f"{min(ratios[text]):.2f}-{max(ratios[text]):.2f}"
        print(f"  {text}: {value:.2f}x (rounds {spread}; target >= {goal}x) {'ok' if value >= goal else 'MISSED'}")
    memory = rss["shipped"] / rss["before"]
    print(f"  peak RSS under load, shipped / before: {rss['shipped']:.0f} / {rss['before']:.0f} MiB = {memory:.2f}x "
          f"(target <= 1x) {'ok' if memory <= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
