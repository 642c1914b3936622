"""The sample app: what `make run` serves and what `gcloud app deploy` uploads.

`app` is the WSGI application (`gunicorn main:app`). Each section below belongs to one feature area.
"""

from __future__ import annotations

# Importing ndb turns on the per-request ndb context (framework.ndb, NDB_CONTEXT unset = "auto");
# `make run` points it at the embedded Datastore emulator.
from google.cloud import ndb

from framework import App, Response, jsonify, request
from framework.adapters.cloud_functions import cloud_event, http
from framework.events import PUBSUB_MESSAGE_PUBLISHED, STORAGE_FINALIZED, Event

app = App(__name__)
# FRAMEWORK_* variables (app.yaml's env_variables, or your shell) become config: FRAMEWORK_SECRET_KEY -> SECRET_KEY.
app.config.from_prefixed_env()


# --- core routes -------------------------------------------------------------------------------
@app.get("/")
def index() -> str:
    return "Hello from framework on App Engine!\n"


@app.get("/hello/<name>")
def hello(name: str) -> dict[str, str]:
    return {"hello": name}


@app.post("/echo")
def echo() -> Response:
    return jsonify(json=request.get_json(silent=True), args=request.args.to_dict(flat=False))


# --- datastore ---------------------------------------------------------------------------------

class Visit(ndb.Model):
    """How often a name was visited; the key id is the name."""

    count = ndb.IntegerProperty(default=0)
    last_visit = ndb.DateTimeProperty(auto_now=True)


@ndb.transactional()
def _count_visit(name: str) -> int:
    visit = Visit.get_by_id(name) or Visit(id=name)
    visit.count += 1
    visit.put()
    return visit.count


@app.post("/visits/<name>")
def count_visit(name: str) -> dict[str, object] | tuple[dict[str, str], int]:
    if len(name.encode()) > 500 or (name.startswith("__") and name.endswith("__")):
        return {"error": "names are at most 500 bytes and may not look like __reserved__"}, 400
    return {"name": name, "count": _count_visit(name)}


@app.get("/visits")
def list_visits() -> dict[str, list[dict[str, object]]]:
    return {"visits": [{"name": v.key.id(), "count": v.count} for v in Visit.query().fetch(100)]}


# --- cron --------------------------------------------------------------------------------------
# `python -m deploy cron write` turns the declarations into cron.yaml (deployed with the app);
# `make run` schedules them; `python -m deploy cron run /cron/heartbeat` runs one now. Every run keeps
# an instance busy on App Engine, so pick the longest interval that does the job.

class Heartbeat(ndb.Model):
    """How often the cron job below ran, and when it last did."""

    runs = ndb.IntegerProperty(default=0)
    last_run = ndb.DateTimeProperty(auto_now=True)


@ndb.transactional()
def _beat() -> int:
    beat = Heartbeat.get_by_id("heartbeat") or Heartbeat(id="heartbeat")
    beat.runs += 1
    beat.put()
    return beat.runs


@app.cron("every 10 minutes", description="Count the cron runs in the Datastore")
def heartbeat() -> dict[str, int]:
    return {"runs": _beat()}


# --- background tasks --------------------------------------------------------------------------
# Cloud Tasks: locally `make run` starts the emulator and exports CLOUD_TASKS_EMULATOR_HOST; on App Engine
# set CLOUD_TASKS_LOCATION (your app's region) in app.yaml's env_variables and create the `default` queue.

@app.task
def count_visit_later(name: str) -> None:
    """Runs in a Cloud Task: the Datastore write of POST /visits/<name>, done off the request."""
    _count_visit(name)


@app.post("/tasks/demo")
def enqueue_demo() -> tuple[dict[str, str], int]:
    name = str((request.get_json(silent=True) or {}).get("name") or "task-demo")
    if len(name.encode()) > 500 or (name.startswith("__") and name.endswith("__")):
        return {"error": "names are at most 500 bytes and may not look like __reserved__"}, 400
    return {"task": count_visit_later.defer(name)}, 202


# --- Cloud Functions ---------------------------------------------------------------------------
# functions-framework --target http_function --source main.py                  (the routes above)
# functions-framework --target event_function --signature-type cloudevent --source main.py
# The same event handlers answer Pub/Sub push subscriptions on App Engine at /_ah/push/messages.

@app.on_event(PUBSUB_MESSAGE_PUBLISHED)
def log_message(event: Event) -> None:
    message = event.pubsub
    app.logger.info("message %s from %s: %d bytes, attributes %s",
                    message.message_id, event.source, len(message.data), message.attributes)


@app.on_event(STORAGE_FINALIZED, subject="objects/uploads/*")
def log_upload(event: Event) -> None:
    obj = event.storage
    app.logger.info("new upload gs://%s/%s (%s bytes, %s)", obj.bucket, obj.name, obj.size, obj.content_type)


app.pubsub_push_route("/_ah/push/messages")

http_function = http(app)
event_function = cloud_event(app)
