"""A service of the tasks-through-the-runner fixture: enqueues tasks and runs them (same code in both services)."""

import os
from pathlib import Path

from framework import App, request
from framework.tasks import current_task

app = App(__name__)
NOTES = Path(__file__).resolve().parent.parent / "notes.log"


@app.task
def note(text: str) -> None:
    info = current_task()
    assert info is not None
    with NOTES.open("a") as notes:
        notes.write(f"{os.environ['GAE_SERVICE']} {info.queue} {info.retry_count} {text}\n")


@app.post("/enqueue/<queue>")
def enqueue(queue: str) -> dict[str, str]:
    return {"task": note.defer(request.args["text"], queue=queue)}
