"""A plain WSGI app that prints a line per request (plain text: no trace id in it)."""

import sys


def app(environ, start_response):
    print(f"plain app served {environ['PATH_INFO']}", file=sys.stderr, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain\n"]
