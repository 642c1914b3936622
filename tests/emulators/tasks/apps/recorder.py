"""A plain WSGI app (no framework) that records every request it gets, for delivery tests under gunicorn.

- GET /_log: the recorded requests as JSON (method, path, headers, body, arrival time); DELETE /_log empties it.
- /ok/...: 200.  /fail/<n>/...: 500 for the first n requests to that path, then 200.
- /status/<code>/...: answers <code>.  /slow/<seconds>/...: sleeps, then 200.
Anything else: 404.
"""

from __future__ import annotations

import json
import threading
import time

_lock = threading.Lock()
_log: list[dict[str, object]] = []
_seen: dict[str, int] = {}


def app(environ, start_response):  # type: ignore[no-untyped-def]
    path = environ.get("PATH_INFO", "")
    method = environ["REQUEST_METHOD"]
    if path == "/_log":
        with _lock:
            if method == "DELETE":
                _log.clear()
                _seen.clear()
            body = json.dumps(_log).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length) if length else b""
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    with _lock:
        _seen[path] = _seen.get(path, 0) + 1
        count = _seen[path]
        _log.append({"method": method, "path": path, "query": environ.get("QUERY_STRING", ""), "headers": headers,
                     "body": data.decode("latin-1"), "time": time.time()})
    parts = path.strip("/").split("/")
    status = 404
    if parts[0] == "ok":
        status = 200
    elif parts[0] == "fail" and len(parts) > 1:
        status = 500 if count <= int(parts[1]) else 200
    elif parts[0] == "status" and len(parts) > 1:
        status = int(parts[1])
    elif parts[0] == "slow" and len(parts) > 1:
        time.sleep(float(parts[1]))
        status = 200
    body = f"status {status}\n".encode()
    start_response(f"{status} X", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
