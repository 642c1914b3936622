"""A real Flask app, served by gunicorn's buffering worker in the hardening tests: big responses."""

import tempfile

from flask import Flask, send_file

app = Flask(__name__)

BIG = bytes(range(256)) * (32 * 1024)  # 8 MiB, more than any socket buffer holds


@app.get("/")
def index():
    return "ok"


@app.get("/big")
def big():
    return BIG, 200, {"Content-Type": "application/octet-stream"}


@app.get("/big-file")
def big_file():
    f = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it) a real file: gunicorn uses sendfile(2)
    f.write(BIG)
    f.seek(0)
    return send_file(f, mimetype="application/octet-stream")
