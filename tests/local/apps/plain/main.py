"""A plain WSGI app with no framework: it reports what the front end sent it."""

import json
import time

SEEN = []  # paths in arrival order (gunicorn's default: one sync worker, so one process)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    SEEN.append(path)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if path == "/_ah/warmup":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"warm"]
    if path == "/slow":
        time.sleep(float(environ.get("QUERY_STRING", "").partition("=")[2] or 3))
    if path == "/big-header":
        start_response("200 OK", [("X-Big", "x" * 9000)])
        return [b"too big"]
    if path == "/big-body":
        size = 33 * 1024 * 1024
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return (b"\0" * (1024 * 1024) for _ in range(33))
    if path == "/bigstream":  # 24 MB by default (more than socket buffers hold), length not declared
        megabytes = int(environ.get("QUERY_STRING", "").partition("=")[2] or 24)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"\1" * (1024 * 1024) for _ in range(megabytes))
    if path == "/text":
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<p>hello</p>\n" * 500]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (f"chunk {i}\n".encode() for i in range(5))
    if path == "/hop":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Server", "mine"), ("X-Ok", "yes"),
                                  ("Strict-Transport-Security", "max-age=1"), ("Set-Cookie", "a=b"),
                                  ("Cache-Control", "public, max-age=60")])
        return [b"ok"]
    report = {
        "path": path,
        "query": environ.get("QUERY_STRING", ""),
        "seen": SEEN[:-1],
        "remote_addr": environ.get("REMOTE_ADDR"),
        "body_length": len(body),
        "headers": {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]
