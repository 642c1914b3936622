"""A small app on the framework, served by gunicorn in the hardening tests: body limits, redirects, headers."""

import logging

from framework import App, redirect, request

app = App(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1000
log = logging.getLogger("hardening_app")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")


@app.get("/")
def index():
    return "ok"


@app.post("/echo")
def echo():
    return f"got {len(request.get_data())} bytes"


@app.post("/form")
def form():
    return f"fields {sorted(request.form)}"


@app.get("/go")
def go():
    return redirect(request.args["to"])


@app.get("/header")
def header():
    return "with header", 200, {"X-Echo": request.args["v"]}


@app.errorhandler(500)
def server_error(e):
    log.info("handler-500 saw %r", getattr(e, "original_exception", e))
    return "the app's own 500 page", 500


@app.teardown_request
def teardown(exc):
    if exc is not None:
        log.info("teardown saw %r", exc)


@app.post("/upload")
def upload():
    request.max_content_length = 8 * 1024 * 1024  # this view takes big bodies
    return f"got {len(request.get_data())} bytes"


BIG = bytes(range(256)) * (32 * 1024)  # 8 MiB, more than any socket buffer holds


@app.get("/big")
def big():
    return BIG, 200, {"Content-Type": "application/octet-stream"}


@app.get("/big-file")
def big_file():
    import tempfile

    from framework import send_file

    f = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it) a real file: gunicorn uses sendfile(2)
    f.write(BIG)
    f.seek(0)
    return send_file(f, mimetype="application/octet-stream")
