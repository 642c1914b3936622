"""Cold start per host: time from process start to the first successful response, against Flask.

`python -m bench hosts`. Each row starts a fresh server process serving a one-route hello app and
polls `GET /` on loopback until it answers 200; the median of BENCH_HOSTS_RUNS runs (default 7) is
reported. Ratios compare with the same host serving the baseline: a Flask hello app under gunicorn
and under werkzeug's server, and a plain functions-framework hello function for functions-framework.
The last row is the repository's own main.py (more imports, e.g. ndb) under gunicorn, for reference.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.support.procs import REPO_ROOT, free_port, stop_process, venv_tool

APPS = {
    "fw_hello.py": (
        "from framework import App\n"
        "from framework.adapters.cloud_functions import http\n"
        "app = App(__name__)\n\n"
        "@app.get('/')\n"
        "def index():\n    return 'Hello, World!'\n\n"
        "http_function = http(app)\n"
    ),
    "flask_hello.py": (
        "from flask import Flask\n"
        "app = Flask(__name__)\n\n"
        "@app.get('/')\n"
        "def index():\n    return 'Hello, World!'\n"
    ),
    "ff_plain.py": "def hello(request):\n    return 'Hello, World!'\n",
}


def _werkzeug(module: str, port: int) -> list[str]:
    code = (f"from werkzeug.serving import run_simple; from {module} import app; "
            f"run_simple('127.0.0.1', {port}, app, threaded=True)")
    return [sys.executable, "-c", code]


def _gunicorn(target: str, port: int) -> list[str]:
    return [venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", target]


def _ff(source: str, target: str, port: int) -> list[str]:
    return [venv_tool("functions-framework"), "--source", source, "--target", target,
            "--host", "127.0.0.1", "--port", str(port)]


def cold_start(cmd: list[str], port: int, cwd: Path, env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from spawning `cmd` until `GET /` on `port` answers 200; the process is always stopped."""
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{cmd[0]} did not answer within {timeout}s")
            time.sleep(0.005)
    finally:
        stop_process(proc, timeout=10)


def median_cold_start(cmd_for_port: Callable[[int], list[str]], cwd: Path, env: dict[str, str], runs: int) -> float:
    """Median of `runs` cold starts, each on a fresh free port."""
    times = []
    for _ in range(runs):
        port = free_port()
        times.append(cold_start(cmd_for_port(port), port, cwd, env))
    return statistics.median(times)


def paired_cold_starts(
    ours: Callable[[int], list[str]], base: Callable[[int], list[str]], cwd: Path, env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Medians for two commands measured alternately, so load changes on the machine hit both alike."""
    ours_times, base_times = [], []
    for _ in range(runs):
        ours_times.append(median_cold_start(ours, cwd, env, 1))
        base_times.append(median_cold_start(base, cwd, env, 1))
    return statistics.median(ours_times), statistics.median(base_times)


def main() -> None:
    """Measure and print cold starts per host with ratios to the baseline on the same host."""
    runs = int(os.environ.get("BENCH_HOSTS_RUNS", "7"))
    with tempfile.TemporaryDirectory(prefix="bench-hosts-") as tmp:
        work = Path(tmp)
        for name, code in APPS.items():
            (work / name).write_text(code)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work), str(REPO_ROOT)]), "PYTHONDONTWRITEBYTECODE": "1"}
        for var in ("GAE_ENV", "K_SERVICE", "SCRIPT_NAME"):
            env.pop(var, None)
        rows = [
            ("gunicorn", "framework App", lambda p: _gunicorn("fw_hello:app", p),
             "Flask app", lambda p: _gunicorn("flask_hello:app", p)),
            ("functions-framework", "framework http_function", lambda p: _ff("fw_hello.py", "http_function", p),
             "plain FF function", lambda p: _ff("ff_plain.py", "hello", p)),
            ("werkzeug dev server", "framework App", lambda p: _werkzeug("fw_hello", p),
             "Flask app", lambda p: _werkzeug("flask_hello", p)),
        ]
        print(f"cold start: process start -> first 200 on GET /, median of {runs} runs")
        print(f"{'host':<22}{'ours':<26}{'seconds':>9}   {'baseline':<20}{'seconds':>9}   ratio")
        for host, ours, ours_cmd, base, base_cmd in rows:
            ours_s, base_s = paired_cold_starts(ours_cmd, base_cmd, work, env, runs)
            print(f"{host:<22}{ours:<26}{ours_s:>9.3f}   {base:<20}{base_s:>9.3f}   {ours_s / base_s:.2f}x")
        main_s = median_cold_start(lambda p: _gunicorn("main:app", p), REPO_ROOT, env, runs)
        print(f"{'gunicorn':<22}{'repo main.py':<26}{main_s:>9.3f}   (includes the sample app's own imports)")


if __name__ == "__main__":
    main()
