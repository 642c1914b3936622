"""Per-request cost of the Flask bridge, as ratios: `python -m tests.extensions.overhead [--baseline DIR]`.

Each variant runs in its own interpreter (flask's presence is process-wide), serving the same plain
app in-process through bench.core's WSGI caller; the best of several alternating rounds counts
(requests per CPU second of the process).
Variants: no flask in the process; flask and Flask-Caching loaded with `Cache(app)` (the bridge is
bound, the extension adds no request hook); `--baseline DIR` adds a framework checkout from before
the bridge (DIR holds its `framework/` package) for the "unchanged" comparison.
Not a test: speed is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from tests.support.procs import REPO_ROOT

_CODE = """
import time
{setup}
from framework import App
app = App("overhead")
{init}
app.add_url_rule("/", "hello", lambda: "Hello, World!")
app.add_url_rule("/user/<int:id>", "user", lambda id: {{"id": id, "name": "user"}})
from bench.core import _caller
calls = [_caller(app, "/"), _caller(app, "/user/42")]
for one in calls:
    for _ in range(2000):
        one()
best = 0.0
for _ in range({rounds}):
    n = 0
    start = time.process_time()  # CPU time: steadier than wall time when other processes share the cores
    while time.process_time() < start + 0.2:
        for one in calls:
            for _ in range(25):
                one()
        n += 50
    best = max(best, n / (time.process_time() - start))
print(best)
"""

VARIANTS = {
    "no flask": ("", ""),
    "flask + Flask-Caching": ("import flask_caching", "flask_caching.Cache(app, config={'CACHE_TYPE': 'SimpleCache'})"),
}


def _rate(name: str, setup: str, init: str, framework_dir: str, rounds: int) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([framework_dir, str(REPO_ROOT)])
    code = _CODE.format(setup=setup, init=init, rounds=rounds)
    out = subprocess.run([sys.executable, "-c", code], cwd=framework_dir, env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return float(out.stdout.split()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a folder holding a framework/ package from before the bridge")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs of each variant (best counts)")
    args = parser.parse_args(argv)
    variants = {name: (setup, init, str(REPO_ROOT)) for name, (setup, init) in VARIANTS.items()}
    if args.baseline:
        variants = {"baseline (no bridge), no flask": ("", "", os.path.abspath(args.baseline)), **variants}
    best = dict.fromkeys(variants, 0.0)
    for _ in range(args.repeats):
        for name, (setup, init, folder) in variants.items():
            best[name] = max(best[name], _rate(name, setup, init, folder, rounds=3))
    reference = next(iter(best.values()))
    for name, rate in best.items():
        print(f"{name:<32} {rate:>10,.0f} req/s  {rate / reference:6.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
