"""A Cloud Function whose routes use ndb: under deploy.local.functions they reach the local Datastore."""

import os

from google.cloud import ndb

from framework import App
from framework.adapters.cloud_functions import http


class Note(ndb.Model):
    text = ndb.StringProperty()


app = App(__name__)


@app.post("/notes/<name>")
def save(name: str) -> dict[str, object]:
    Note(id=name, text=f"note {name}").put()
    return {"saved": name, "datastore": os.environ.get("DATASTORE_EMULATOR_HOST")}


@app.get("/notes/<name>")
def load(name: str) -> dict[str, object]:
    note = Note.get_by_id(name)
    return {"text": note.text if note else None, "count": len(Note.query().fetch(10))}


handler = http(app)
