"""A framework app with task functions that write to the Datastore through ndb (fixture for tests/tasks)."""

from __future__ import annotations

from google.cloud import ndb

from framework import App, request
from framework.adapters.appengine import task_only
from framework.tasks import current_task, defer

app = App(__name__)


class Note(ndb.Model):
    # ndb maps a kind to the class defined last in the process: other test apps define a `Note` too.
    text = ndb.StringProperty()
    retries = ndb.IntegerProperty()
    queue = ndb.StringProperty()

    @classmethod
    def _get_kind(cls) -> str:
        return "TaskNote"


@app.task
def write_note(key: str, text: str, *, upper: bool = False) -> None:
    info = current_task()
    Note(id=key, text=text.upper() if upper else text, retries=info.retry_count if info else -1,
         queue=info.queue if info else None).put()


@app.task(queue="flaky")
def flaky(key: str, fail_times: int) -> None:
    info = current_task()
    assert info is not None
    if info.retry_count < fail_times:
        raise RuntimeError(f"failing on purpose, attempt {info.retry_count + 1}")
    Note(id=key, text=f"previous response {info.previous_response}", retries=info.retry_count,
         queue=info.queue).put()


@app.task
async def write_later(key: str) -> None:
    Note(id=key, text="async").put()


@app.post("/enqueue/<key>")
def enqueue(key: str) -> dict[str, str]:
    data = request.get_json()
    return {"task": defer(write_note, key, data["text"], upper=data.get("upper", False))}


@app.post("/enqueue-flaky/<key>")
def enqueue_flaky(key: str) -> dict[str, str]:
    return {"task": flaky.defer(key, request.get_json()["fail_times"])}


@app.get("/notes/<key>")
def note(key: str) -> tuple[dict[str, object], int]:
    found = Note.get_by_id(key)
    if found is None:
        return {"missing": key}, 404
    return {"text": found.text, "retries": found.retries, "queue": found.queue}, 200


@app.post("/guarded")
@task_only
def guarded() -> str:
    return "ran\n"
