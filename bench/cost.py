"""Per-request cost with cold caches, counted by cachegrind: hello on this framework beside Flask and a raw callable.

`python -m bench cost` (needs valgrind). A busy server runs each request with CPU caches other work has just
used, so it costs two to three times what a tight loop measures, and that share grows with how much code and
data a request touches. Timings of it swing with whatever else runs on the machine; cachegrind's counts do
not: each row runs BENCH_COST_REQUESTS requests (default 300) of Flask's hello, as App Engine's front end sends
them (its headers in the environ, this framework behind its App Engine middleware), with a 4 MiB write between
requests to push the request's data out of the L1 cache, once with and once without the requests, and the
difference per request is reported: instructions, L1 instruction-cache misses, L1 data-cache misses. PYTHONHASHSEED
is fixed and garbage collection is off while counting, so two runs give the same counts. The ratios compare
what each framework adds to the raw callable.
"""

from __future__ import annotations

import gc
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

ROWS = ("raw", "framework", "flask")
FLUSH_BYTES = 4 << 20

# The request App Engine's front end forwards for `GET /` (platform-facts §3.2; bench.wire sends the same headers).
ENVIRON = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SCRIPT_NAME": "", "RAW_URI": "/",
    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "gunicorn",
    "HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "wsgi.url_scheme": "http",
    "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
}


@dataclass(frozen=True)
class Counts:
    """cachegrind's totals for one process (or, subtracted, per request)."""

    instructions: float
    i1_misses: float
    d1_misses: float

    def minus(self, other: Counts, per: int) -> Counts:
        return Counts((self.instructions - other.instructions) / per, (self.i1_misses - other.i1_misses) / per,
                      (self.d1_misses - other.d1_misses) / per)


def parse(stderr: str) -> Counts:
    """Counts from cachegrind's summary on stderr; ValueError if a figure is missing."""
    figures = []
    for label in (r"I\s+refs", r"I1\s+misses", r"D1\s+misses"):
        found = re.search(rf"=+\d+=+ {label}:\s+([\d,]+)", stderr)
        if found is None:
            raise ValueError(f"no '{label}' figure in cachegrind's output:\n{stderr[-2000:]}")
        figures.append(float(found.group(1).replace(",", "")))
    return Counts(*figures)


def build(row: str) -> object:
    """The WSGI callable of `row`, answering Flask's hello."""
    if row == "raw":
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "13")]

        def raw(environ: dict[str, object], start_response: object) -> list[bytes]:
            start_response("200 OK", headers)  # type: ignore[operator]
            return [b"Hello, World!"]

        return raw
    if row == "framework":
        os.environ.update(GAE_ENV="standard", GAE_SERVICE="default", GAE_VERSION="bench",
                          GOOGLE_CLOUD_PROJECT="bench", SECRET_KEY="bench-cost-" + "k" * 40)
        from framework import App as Cls
    else:
        from flask import Flask as Cls  # type: ignore[assignment]
    app = Cls("hello")

    @app.route("/")
    def hello() -> str:
        return "Hello, World!"

    return app


def child(row: str, requests: int) -> None:
    """Serve `requests` cold requests of `row` in this process (what cachegrind watches)."""
    from bench.wire import FRONT_END_HEADERS

    app = build(row)
    base = dict(ENVIRON, **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in FRONT_END_HEADERS.items()})
    base["wsgi.errors"] = sys.stderr

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
        if status != "200 OK":
            raise SystemExit(f"{row}: {status}")
        return None

    def one() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = app(environ, start_response)  # type: ignore[operator]
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()

    for _ in range(50):  # warm: imports, first-request set-up, caches the framework keeps
        one()
    # A garbage collection lands wherever the allocation count happens to cross its threshold, which moves
    # with the environment's size: in one of the two runs and not the other, it outweighs a raw request.
    gc.collect()
    gc.disable()
    junk = bytearray(FLUSH_BYTES)
    ones = b"\x01" * (FLUSH_BYTES // 64)
    for _ in range(requests):
        junk[::64] = ones
        one()
    if requests == 0:  # the same flushes, so they cancel out
        for _ in range(int(os.environ["BENCH_COST_FLUSHES"])):
            junk[::64] = ones


def measure(row: str, requests: int) -> Counts:
    """Per-request counts of `row`: a run with `requests` requests minus one with none."""
    def run(count: int) -> Counts:
        env = {**os.environ, "PYTHONHASHSEED": "0", "BENCH_COST_FLUSHES": str(requests)}
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=/dev/null",
             sys.executable, "-m", "bench.cost", "--child", row, str(count)],
            capture_output=True, text=True, env=env, check=False,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if done.returncode != 0:
            raise RuntimeError(f"cachegrind run of {row} failed:\n{done.stderr[-2000:]}")
        return parse(done.stderr)

    return run(requests).minus(run(0), requests)


def main() -> None:
    if shutil.which("valgrind") is None:
        print("bench cost needs valgrind (Debian: apt-get install -y valgrind); skipped", file=sys.stderr)
        return
    requests = int(os.environ.get("BENCH_COST_REQUESTS", "300"))
    counts = {row: measure(row, requests) for row in ROWS}
    print(f"{requests} cold requests of hello per row (App Engine's headers; a {FLUSH_BYTES >> 20} MiB write between "
          "requests), counted by cachegrind, per request:")
    print(f"{'row':<12}{'instructions':>14}{'I1 misses':>12}{'D1 misses':>12}")
    for row, c in counts.items():
        print(f"{row:<12}{c.instructions:>14,.0f}{c.i1_misses:>12,.0f}{c.d1_misses:>12,.0f}")
    raw = counts["raw"]
    ours, flask = counts["framework"].minus(raw, 1), counts["flask"].minus(raw, 1)
    print("added to the raw callable, framework / Flask: "
          f"instructions {ours.instructions / flask.instructions:.2f}x, "
          f"I1 misses {ours.i1_misses / flask.i1_misses:.2f}x, D1 misses {ours.d1_misses / flask.d1_misses:.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
