"""Core benchmark: this framework against Flask on the same three apps, in the same run.

For each app: in-process WSGI calls per second, cold start (a fresh interpreter that imports,
builds the app and serves one request; median of several runs) and that process's peak RSS.
Everything is reported as a ratio to Flask. Run with `python -m bench core`.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The same app source for both frameworks; {mod}/{cls} select the framework.
APPS: dict[str, tuple[str, str]] = {
    "hello": (
        """
from {mod} import {cls}
app = {cls}("bench_hello")

@app.route("/")
def hello():
    return "Hello, World!"
""",
        "/",
    ),
    "json": (
        """
from {mod} import {cls}
app = {cls}("bench_json")

@app.route("/user/<int:id>")
def user(id):
    return {{"id": id, "name": "user", "active": True}}
""",
        "/user/42",
    ),
    "routes1000": (
        """
from {mod} import {cls}
app = {cls}("bench_routes")

def view(id):
    return {{"id": id}}

for i in range(1000):
    app.add_url_rule(f"/r{{i}}/<int:id>", f"r{{i}}", view)
""",
        "/r999/7",
    ),
}
FRAMEWORKS = {"framework": ("framework", "App"), "flask": ("flask", "Flask")}

_COLD = """
import resource, sys, time
t0 = time.perf_counter()
{src}
environ = {{"REQUEST_METHOD": "GET", "PATH_INFO": {path!r}, "QUERY_STRING": "", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
           "wsgi.input": __import__("io").BytesIO(), "wsgi.errors": sys.stderr, "HTTP_HOST": "localhost"}}
status = []
body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
assert status[0].startswith("200"), status
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _environ(path: str) -> dict[str, t.Any]:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _build(name: str, fw: str) -> t.Any:
    src, _ = APPS[name]
    mod, cls = FRAMEWORKS[fw]
    ns: dict[str, t.Any] = {"__name__": f"bench_{name}_{fw}"}
    exec(src.format(mod=mod, cls=cls), ns)
    return ns["app"]


def throughput(app: t.Any, path: str, seconds: float = 1.0) -> float:
    """Best of three runs of WSGI calls per second, each about `seconds / 3` long."""
    base = _environ(path)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        assert status[:3] == "200", status

    def one() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO()
        it = app(environ, start_response)
        for _ in it:
            pass
        close = getattr(it, "close", None)
        if close is not None:
            close()

    for _ in range(200):
        one()
    best = 0.0
    for _ in range(3):
        n = 0
        end = time.perf_counter() + seconds / 3
        start = time.perf_counter()
        while time.perf_counter() < end:
            for _ in range(100):
                one()
            n += 100
        best = max(best, n / (time.perf_counter() - start))
    return best


def cold_start(name: str, fw: str, runs: int = 7) -> tuple[float, float]:
    """(median wall seconds of a fresh process that imports, builds, serves one request; median peak RSS MiB)."""
    src, path = APPS[name]
    mod, cls = FRAMEWORKS[fw]
    code = _COLD.format(src=src.format(mod=mod, cls=cls), path=path)
    walls, rss = [], []
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)  # warm .pyc files
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise RuntimeError(f"cold start of {name}/{fw} failed:\n{out.stderr}")
        rss.append(int(out.stdout.split()[1]) / 1024)
    return statistics.median(walls), statistics.median(rss)


def main() -> None:
    """Print the table of absolute numbers and ratios to Flask."""
    print(f"{'app':<11} {'metric':<14} {'framework':>12} {'flask':>12} {'ratio':>8}")
    small_rate = None
    for name, (_, path) in APPS.items():
        rates = {fw: throughput(_build(name, fw), path) for fw in FRAMEWORKS}
        if name == "json":
            small_rate = rates["framework"]
        colds = {fw: cold_start(name, fw) for fw in FRAMEWORKS}
        ours, theirs = rates["framework"], rates["flask"]
        print(f"{name:<11} {'req/s':<14} {ours:>12,.0f} {theirs:>12,.0f} {ours / theirs:>7.2f}x")
        print(f"{'':<11} {'cold start s':<14} {colds['framework'][0]:>12.3f} {colds['flask'][0]:>12.3f}"
              f" {colds['framework'][0] / colds['flask'][0]:>7.2f}x")
        print(f"{'':<11} {'peak RSS MiB':<14} {colds['framework'][1]:>12.1f} {colds['flask'][1]:>12.1f}"
              f" {colds['framework'][1] / colds['flask'][1]:>7.2f}x")
        if name == "routes1000" and small_rate:
            print(f"{'':<11} {'vs /user app':<14} {ours / small_rate:>12.2f}x  (1,000-route app / small JSON app)")


if __name__ == "__main__":
    main()
