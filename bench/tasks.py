"""Cloud Tasks emulator benchmarks: tasks created and delivered per second, to a real gunicorn app.

`python -m bench tasks`. The emulator runs as its own process on loopback (in memory, and on SQLite as
`make run` uses it); App Engine tasks go straight to a gunicorn app (gthread, 1 worker) that answers 204
and counts them. Measured: CreateTask round trips, delivery while tasks are being created, and the drain of
a backlog (tasks created on paused queues, then resumed). Tasks are spread over QUEUES queues at the service's maximum rate (500/s each), so the
rate limit is not what is measured. Knob: BENCH_TASKS_COUNT (tasks per run, default 2000).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.procs import free_port, stop_process, venv_tool, wait_for_http

QUEUES = 4
PARENT = "projects/bench/locations/us-central1"
_APP = '''
import itertools
_count = itertools.count()
_seen = [0]


def app(environ, start_response):
    if environ["PATH_INFO"] == "/count":
        body = str(_seen[0]).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    environ["wsgi.input"].read()
    _seen[0] = next(_count) + 1
    start_response("204 No Content", [])
    return [b""]
'''


@contextlib.contextmanager
def counting_app(workdir: str) -> Iterator[str]:
    """A gunicorn app that counts the requests it gets; yields its URL."""
    Path(workdir, "bench_tasks_app.py").write_text(_APP)
    port = free_port()
    proc = subprocess.Popen([venv_tool("gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads",
                             "32", "--worker-class", "gthread", "--chdir", workdir, "bench_tasks_app:app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/count", proc)
        yield url
    finally:
        stop_process(proc)


def _delivered(url: str) -> int:
    with urllib.request.urlopen(url + "/count", timeout=10) as response:
        return int(response.read())


def run(app_url: str, data_dir: str | None, count: int) -> tuple[float, float, float]:
    """Per second: tasks created back to back, delivered while being created (end to end), and delivered
    from a backlog (created on paused queues, then all resumed at once)."""
    from framework import tasks
    from framework.emulators.tasks import start

    with start(data_dir=data_dir, app_engine_url=app_url, timeout=60) as emulator:
        os.environ["CLOUD_TASKS_EMULATOR_HOST"] = emulator.address
        client = tasks.client()  # the client the framework builds for the emulator
        queues = [client.create_queue(parent=PARENT, queue={
            "name": f"{PARENT}/queues/bench-{i}", "rate_limits": {"max_dispatches_per_second": 500}}).name
            for i in range(QUEUES)]
        before = _delivered(app_url)
        began = time.perf_counter()
        _create(client, queues, count)
        created = time.perf_counter() - began
        _wait(app_url, before + count)
        delivered = time.perf_counter() - began
        for name in queues:
            client.pause_queue(name=name)
        _create(client, queues, count)
        before = _delivered(app_url)
        began = time.perf_counter()
        for name in queues:
            client.resume_queue(name=name)
        _wait(app_url, before + count)
        drained = time.perf_counter() - began
    return count / created, count / delivered, count / drained


def _create(client: Any, queues: list[str], count: int) -> None:
    for i in range(count):
        client.create_task(parent=queues[i % QUEUES], task={
            "app_engine_http_request": {"relative_uri": f"/task/{i}", "body": b"{}"}})


def _wait(app_url: str, total: int) -> None:
    while _delivered(app_url) < total:
        time.sleep(0.01)


def main() -> None:
    """Run the tasks benchmarks and print a report."""
    count = int(os.environ.get("BENCH_TASKS_COUNT", "2000"))
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as workdir, counting_app(workdir) as app_url:
        results = {}
        for name, data_dir in (("in-memory", None), ("SQLite", os.path.join(workdir, "data"))):
            created, delivered, drained = run(app_url, data_dir, count)
            results[name] = created
            print(f"-- {name} store, {count} tasks: created at {created:,.0f}/s (CreateTask round trips), "
                  f"delivered at {delivered:,.0f}/s while being created ({delivered / created:.2f}x), "
                  f"a backlog drained at {drained:,.0f}/s ({drained / created:.2f}x the create rate)")
        ratio = results["SQLite"] / results["in-memory"]
        print(f"   SQLite vs memory create rate: {ratio:.2f}x (each CreateTask is fsynced before it is answered)")


if __name__ == "__main__":
    main()
