"""The local front end's cost: latency per request through `python -m deploy.local_server` vs the same
gunicorn instance directly, reported as a ratio and as milliseconds added.

`python -m bench frontend`. Starts the real runner on the plain WSGI fixture app (tests/local/apps/plain,
App Engine's default gunicorn start, no emulators), then alternates rounds of BENCH_FRONTEND_REQUESTS
(default 300) sequential GETs on one keep-alive connection to the front end and to the instance's own
port (from .local/runner.json). Medians of the per-round medians. A static file served by the front end
itself is timed too, for reference.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.procs import REPO_ROOT, free_port, stop_process

APP = REPO_ROOT / "tests" / "local" / "apps" / "plain"
ROUNDS = 5


def _median_ms(port: int, path: str, count: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET {path} on {port} answered {response.status}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
    finally:
        conn.close()
    return statistics.median(times) * 1000


def _wait_for_state(app_dir: Path, proc: subprocess.Popen[bytes], timeout: float = 90) -> dict[str, object]:
    path = app_dir / ".local" / "runner.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the runner exited with {proc.returncode}")
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise TimeoutError("the runner did not start")


def main() -> None:
    count = int(os.environ.get("BENCH_FRONTEND_REQUESTS", "300"))
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = Path(tmp) / "plain"
        shutil.copytree(APP, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
        port = free_port()
        env = {**os.environ, "DATASTORE_EMULATOR_HOST": "127.0.0.1:9", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.local_server", "--app-dir", str(app_dir), "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            state = _wait_for_state(app_dir, proc)
            direct_port = int(str(state["instances"]["default"]).rsplit(":", 1)[1])  # type: ignore[index]
            _median_ms(port, "/warm", 50)
            _median_ms(direct_port, "/warm", 50)
            front, direct, static = [], [], []
            for _ in range(ROUNDS):
                front.append(_median_ms(port, "/bench", count))
                direct.append(_median_ms(direct_port, "/bench", count))
                static.append(_median_ms(port, "/static/site.css", count))
        finally:
            stop_process(proc, timeout=15)
    f, d, s = statistics.median(front), statistics.median(direct), statistics.median(static)
    print(f"{'route':<38}{'median ms':>10}{'ratio':>8}")
    print(f"{'gunicorn directly (baseline)':<38}{d:>10.3f}{1.0:>8.2f}")
    print(f"{'through the local front end':<38}{f:>10.3f}{f / d:>8.2f}")
    print(f"{'static file from the front end':<38}{s:>10.3f}{s / d:>8.2f}")
    print(f"front end adds {f - d:.3f} ms per request ({count} requests x {ROUNDS} rounds, medians)")


if __name__ == "__main__":
    main()
