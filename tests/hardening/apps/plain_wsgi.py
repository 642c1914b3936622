"""A plain WSGI app (no framework): echoes the mount point and path it was given, reads any body."""


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    text = f"{environ.get('SCRIPT_NAME', '')}|{environ.get('PATH_INFO', '')}|{len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]
