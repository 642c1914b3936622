"""Flask-SQLAlchemy (SQLite) on framework.App: one session per request, removed at teardown (also
after an error, which discards the uncommitted work); commit and query; get_or_404; work in an app
context outside requests."""

from __future__ import annotations

from types import ModuleType

import flask
import pytest


def test_commit_and_query(site: ModuleType) -> None:
    client = site.app.test_client()
    first = client.post("/api/notes", json={"text": "first"})
    second = client.post("/api/notes", json={"text": "second"})
    assert first.status_code == second.status_code == 201
    ids = [first.get_json()["id"], second.get_json()["id"]]
    assert client.get("/api/notes").get_json() == {"notes": [{"id": ids[0], "text": "first"}, {"id": ids[1], "text": "second"}]}
    assert client.get(f"/api/notes/{ids[1]}").get_json() == {"id": ids[1], "text": "second", "owner": "anonymous"}
    with site.app.app_context():  # the data outlives the requests' sessions
        assert [n.text for n in site.db.session.execute(site.db.select(site.Note)).scalars()] == ["first", "second"]


def test_get_or_404(site: ModuleType) -> None:
    resp = site.app.test_client().get("/api/notes/4242")
    assert resp.status_code == 404
    assert b"no such note" in resp.get_data()


def test_one_session_per_request_removed_at_teardown(site: ModuleType) -> None:
    app, db = site.app, site.db
    sessions: list[object] = []
    contexts: list[object] = []

    @app.get("/probe")
    def probe():
        sessions.append(db.session())
        assert db.session() is sessions[-1]  # the same session all through one request
        contexts.append(flask.globals.app_ctx._get_current_object())
        return str(db.session.execute(db.select(db.func.count(site.User.id))).scalar())

    client = app.test_client()
    assert client.get("/probe").get_data() == b"1"
    assert db.session.registry.registry == {}  # teardown_appcontext removed it
    assert client.get("/probe").get_data() == b"1"
    assert db.session.registry.registry == {}
    assert sessions[0] is not sessions[1]
    assert contexts[0] is not contexts[1]
    assert all(type(c).__module__ == "framework.ctx" for c in contexts)


def test_teardown_after_an_error_discards_uncommitted_work(site: ModuleType) -> None:
    app, db = site.app, site.db
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/half")
    @site.csrf.exempt
    def half():
        db.session.add(site.Note(text="never committed", owner="x"))
        db.session.flush()
        raise RuntimeError("boom")

    client = app.test_client()
    assert client.post("/half").status_code == 500
    assert db.session.registry.registry == {}
    assert client.get("/api/notes").get_json() == {"notes": []}


def test_session_needs_an_app_context(site: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="application context"):
        site.db.session.execute(site.db.select(site.Note))
