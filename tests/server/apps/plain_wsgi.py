"""A plain WSGI callable (no framework): reports its mount point, path, body size and a few environ keys."""

import json


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    report = {
        "script_name": environ.get("SCRIPT_NAME", ""),
        "path_info": environ.get("PATH_INFO", ""),
        "body": len(body),
        "http_keys": sorted(k for k in environ if k.startswith("HTTP_")),
        "content_type": environ.get("CONTENT_TYPE"),
    }
    text = json.dumps(report).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(text)))])
    return [text]
