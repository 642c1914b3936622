"""The conformance app: one route per behaviour the suite checks, served unchanged by every host.

Hosts: `app` in-process, `application` under gunicorn and werkzeug's server, `http_function` and
`event_function` under functions-framework. `application` also mounts the same app under `/mounted`
(werkzeug's DispatcherMiddleware) so url_for and redirects are checked below a SCRIPT_NAME prefix.
Event handlers append one JSON line per event to the file named by $CONFORMANCE_EVENTS_FILE.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from framework import (
    App,
    Blueprint,
    Response,
    abort,
    after_this_request,
    g,
    jsonify,
    make_response,
    redirect,
    request,
    session,
    stream_with_context,
    url_for,
)
from framework.adapters.cloud_functions import cloud_event, http
from framework.events import PUBSUB_MESSAGE_PUBLISHED, STORAGE_FINALIZED, Event

MAX_CONTENT_LENGTH = 3 * 1024 * 1024
SMALL_LIMIT = 1024
ECHOED_HEADER_PREFIX = "X-Conf-"

app = App(__name__)
app.config.update(SECRET_KEY="conformance-secret", MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH)


class Unprocessable(Exception):
    """Raised by a view to show a custom handler for an exception class."""


@app.errorhandler(Unprocessable)
def unprocessable(exc: Unprocessable):
    return {"error": "unprocessable", "detail": str(exc)}, 422


@app.errorhandler(410)
def gone(exc):
    return "custom gone page\n", 410, {"X-Handler": "gone"}


@app.get("/text")
def text() -> str:
    return "plain text ✓\n"


@app.get("/json")
def json_view():
    return {"number": 1, "list": [1, 2, 3], "unicode": "é✓", "none": None}


@app.get("/bytes")
def raw_bytes() -> Response:
    return Response(bytes(range(256)), mimetype="application/octet-stream")


@app.get("/unicode/<name>")
def unicode_path(name: str):
    return jsonify(name=name, q=request.args.get("q"), path=request.path, full_path=request.full_path)


@app.get("/query")
def query():
    return jsonify(args=request.args.to_dict(flat=False), query_string=request.query_string.decode("latin-1"))


@app.route("/form", methods=["POST", "PUT"])
def form():
    return jsonify(form=request.form.to_dict(flat=False))


@app.post("/upload")
def upload():
    files = {
        key: [
            {"filename": f.filename, "content_type": f.content_type,
             "sha256": hashlib.sha256(f.read()).hexdigest()}
            for f in request.files.getlist(key)
        ]
        for key in request.files
    }
    return jsonify(files=files, form=request.form.to_dict(flat=False))


@app.post("/json-body")
def json_body():
    return jsonify(received=request.get_json(), is_json=request.is_json)


@app.post("/big")
def big_upload():
    data = request.get_data()
    return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.get("/big")
def big_download() -> Response:
    return Response(b"0123456789abcdef" * (1024 * 96), mimetype="application/octet-stream")


@app.post("/limited")
def limited():
    request.max_content_length = SMALL_LIMIT
    return jsonify(size=len(request.get_data()))


@app.get("/redirect")
def go_elsewhere():
    return redirect(url_for("target", x="1"))


@app.get("/redirect-external")
def go_elsewhere_external():
    return redirect(url_for("target", _external=True), code=301)


@app.get("/target")
def target():
    return jsonify(
        external=url_for("target", _external=True), relative=url_for("target"),
        root=request.root_url, script_root=request.script_root, host=request.host, scheme=request.scheme,
    )


@app.get("/cookie/set")
def set_cookie() -> Response:
    response = make_response("cookies set\n")
    response.set_cookie("plain", "value one", path="/")
    response.set_cookie("strict", "2", httponly=True, samesite="Strict")
    return response


@app.get("/cookie/get")
def get_cookie():
    return jsonify(cookies=request.cookies.to_dict())


@app.post("/session/<item>")
def session_add(item: str):
    session["items"] = [*session.get("items", []), item]
    return jsonify(items=session["items"])


@app.get("/session")
def session_get():
    return jsonify(items=session.get("items", []))


@app.get("/stream")
def stream() -> Response:
    count = request.args.get("n", 5, type=int)

    @stream_with_context
    def chunks():
        for i in range(count):
            yield f"chunk {i} of {request.args.get('n', '5')}\n"

    return Response(chunks(), mimetype="text/plain")


@app.get("/stream-gate")
def stream_gate() -> Response:
    """Yields one chunk, then waits (at most 20 s) for the test to create the file `gate` before the next."""
    gate = request.args["gate"]

    def chunks():
        yield "first\n"
        deadline = time.monotonic() + 20
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield "second\n" if os.path.exists(gate) else "gate never opened\n"

    return Response(chunks(), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("the view failed on purpose")


@app.get("/gone")
def gone_view():
    abort(410)


@app.get("/unprocessable")
def unprocessable_view():
    raise Unprocessable("bad widget")


@app.get("/headers")
def headers():
    echoed = {k: v for k, v in request.headers.items() if k.lower().startswith(ECHOED_HEADER_PREFIX.lower())}
    return jsonify(headers=echoed, user_agent=request.headers.get("User-Agent"))


@app.route("/methods", methods=["GET", "POST", "DELETE"])
def methods():
    return jsonify(method=request.method)


# Request hooks, kept on a blueprint so the app-wide direct-response path stays in play for the other
# routes (an app or blueprint after_request function would turn it off everywhere).
hooks = Blueprint("hooks", __name__, url_prefix="/hooks")


@hooks.before_request
def before_hooks() -> None:
    g.trail = ["before_request"]


@hooks.url_value_preprocessor
def pull_name(endpoint: str | None, values: dict | None) -> None:
    g.name = (values or {}).pop("name", None)


@hooks.get("/<name>")
def hooked():
    @after_this_request
    def add_header(response: Response) -> Response:
        response.headers["X-After-This-Request"] = ",".join(g.trail)
        return response

    g.trail.append("view")
    return jsonify(trail=g.trail, name=g.name)


app.register_blueprint(hooks)


# --- events ------------------------------------------------------------------------------------
def _record(handler: str, event: Event, **details: object) -> None:
    path = os.environ.get("CONFORMANCE_EVENTS_FILE")
    if not path:
        return
    record = {"handler": handler, "id": event.id, "type": event.type, "source": event.source,
              "subject": event.subject, **details}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")


@app.on_event(PUBSUB_MESSAGE_PUBLISHED, source="//pubsub.googleapis.com/projects/*/topics/conformance")
def on_message(event: Event) -> None:
    message = event.pubsub
    if message.attributes.get("fail") == "yes":
        raise RuntimeError("handler failed on purpose")
    _record(
        "on_message", event, data=message.text, attributes=message.attributes,
        message_id=message.message_id, publish_time=message.publish_time.isoformat() if message.publish_time else None,
        subscription=message.subscription, event_time=event.time.isoformat() if event.time else None,
    )


@app.on_event("google.cloud.storage.object.v1.*", subject="objects/images/*")
def on_image(event: Event) -> None:
    obj = event.storage
    _record("on_image", event, bucket=obj.bucket, name=obj.name, size=obj.size, generation=obj.generation,
            updated=obj.updated.isoformat() if obj.updated else None)


@app.on_event(STORAGE_FINALIZED)
def on_any_upload(event: Event) -> None:
    _record("on_any_upload", event, name=event.storage.name)


app.pubsub_push_route("/_ah/push/conformance", topic="projects/conf-project/topics/conformance")
app.pubsub_push_route("/_ah/push/other", topic="projects/conf-project/topics/other", endpoint="push_other")


# --- entry points for the hosts ----------------------------------------------------------------
application = DispatcherMiddleware(app, {"/mounted": app})
http_function = http(application)
event_function = cloud_event(app)
