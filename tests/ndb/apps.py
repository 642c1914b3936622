"""A small app whose routes use ndb with no setup of their own, shared by the datastore tests."""

from __future__ import annotations

from google.cloud import ndb

from framework import App, request


class Note(ndb.Model):
    text = ndb.StringProperty()


def make_app(**config: object) -> App:
    """An app with note routes, plus /context and /cache/<name> to inspect the ndb context."""
    app = App(__name__)
    app.config.update(config)

    @app.put("/notes/<name>")
    def put_note(name: str):
        Note(id=name, text=request.get_data(as_text=True)).put()
        return {"stored": name}

    @app.get("/notes/<name>")
    def get_note(name: str):
        note = Note.get_by_id(name)
        return ({"text": note.text}, 200) if note else ({"missing": name}, 404)

    @app.get("/context")
    def context_info():
        ctx = ndb.context.get_context(False)
        return {"active": ctx is not None, "client": id(ctx.client) if ctx else None}

    @app.get("/cache/<name>")
    def cache_info(name: str):
        first, second = Note.get_by_id(name), Note.get_by_id(name)
        return {"same_object": first is second}

    return app
