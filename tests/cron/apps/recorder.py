"""A plain WSGI app (no framework) that writes every request it gets to $RECORD_FILE, one JSON per line.

Paths: /ok answers 200; /fail-twice answers 500 twice, then 200; /always-fail answers 500; /slow
sleeps $SLOW_SECONDS (default 1.5) before answering 200. Each line records the path, the headers and
how many requests were in flight when it started.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_lock = threading.Lock()
_in_flight = 0
_counts: dict[str, int] = {}


def _record(entry: dict[str, Any]) -> None:
    with _lock, open(os.environ["RECORD_FILE"], "a") as out:
        out.write(json.dumps(entry) + "\n")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _in_flight
    path = environ.get("PATH_INFO", "")
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    with _lock:
        _in_flight += 1
        _counts[path] = _counts.get(path, 0) + 1
        in_flight, seen = _in_flight, _counts[path]
    try:
        _record({"method": environ["REQUEST_METHOD"], "path": path, "headers": headers, "in_flight": in_flight})
        status = "200 OK"
        if path == "/slow":
            time.sleep(float(os.environ.get("SLOW_SECONDS", "1.5")))
        elif path == "/always-fail" or (path == "/fail-twice" and seen <= 2):
            status = "500 Internal Server Error"
        elif path not in ("/ok", "/fail-twice"):
            status = "404 Not Found"
    finally:
        with _lock:
            _in_flight -= 1
    start_response(status, [("Content-Type", "text/plain")])
    return [status.encode()]
