"""The api service: a plain WSGI app on the standard library's server, in its own virtualenv."""

import importlib.util
import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import tinyhelper  # only installed in this service's virtualenv


def app(environ, start_response):
    body = {
        "service": os.environ["GAE_SERVICE"],
        "path": environ["PATH_INFO"],
        "helper": tinyhelper.VALUE,
        "python": sys.prefix,
        "framework_importable": importlib.util.find_spec("framework") is not None,
        "user_ip": environ.get("HTTP_X_APPENGINE_USER_IP"),
        "cron": environ.get("HTTP_X_APPENGINE_CRON"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


make_server(os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"]), app, Server, QuietHandler).serve_forever()
