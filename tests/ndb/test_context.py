"""Every app context runs inside an ndb context, against a real emulator, with no setup in user code."""

from __future__ import annotations

import threading

import pytest
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import datastore, ndb

from framework import ndb as fw_datastore
from tests.ndb.apps import Note, make_app


def test_route_uses_ndb_without_setup_and_data_reaches_the_emulator(ndb_env: str) -> None:
    client = make_app().test_client()
    assert client.put("/notes/a", data="hello").status_code == 200
    response = client.get("/notes/a")
    assert response.status_code == 200
    assert response.get_json() == {"text": "hello"}
    assert client.get("/notes/nope").status_code == 404
    # Read it back with a different client library, straight from the emulator.
    raw = datastore.Client(project=ndb_env)
    entity = raw.get(raw.key("Note", "a"))
    assert entity is not None and entity["text"] == "hello"


def test_one_client_per_process(ndb_env: str) -> None:
    app = make_app()
    client = app.test_client()
    ids = {client.get("/context").get_json()["client"] for _ in range(3)}
    other = make_app().test_client().get("/context").get_json()["client"]
    assert ids == {other} == {id(fw_datastore.get_client(app.config))}


def test_concurrent_first_use_creates_one_client(ndb_env: str) -> None:
    config = {"NDB_NAMESPACE": "threads"}  # settings no earlier test used: the client is new here
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def first_use() -> None:
        barrier.wait()
        seen.append(fw_datastore.get_client(config))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({id(c) for c in seen}) == 1


def test_opt_out_runs_requests_without_a_context(ndb_env: str) -> None:
    client = make_app(NDB_CONTEXT=False).test_client()
    assert client.get("/context").get_json() == {"active": False, "client": None}
    assert make_app(NDB_CONTEXT="false").test_client().get("/context").get_json()["active"] is False
    assert make_app(NDB_CONTEXT=True).test_client().get("/context").get_json()["active"] is True


def test_nested_app_contexts_share_one_ndb_context(ndb_env: str) -> None:
    app = make_app()
    with app.app_context():
        outer = ndb.get_context()
        with app.app_context():
            assert ndb.get_context() is outer
            Note(id="nested", text="x").put()
        assert ndb.get_context() is outer
    assert ndb.context.get_context(False) is None
    with app.test_request_context("/"):
        assert ndb.get_context().client is fw_datastore.get_client(app.config)
    assert ndb.context.get_context(False) is None


def test_ndb_context_for_a_thread_of_your_own(ndb_env: str) -> None:
    app = make_app()
    found: list[object] = []

    def work() -> None:
        with fw_datastore.ndb_context(app):
            Note(id="thread", text="from a thread").put()
            with fw_datastore.ndb_context(app):  # already inside one: nothing new
                found.append(Note.get_by_id("thread").text)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert found == ["from a thread"]


def test_context_cache_can_be_turned_off(ndb_env: str) -> None:
    cached = make_app().test_client()
    cached.put("/notes/c", data="1")
    assert cached.get("/cache/c").get_json() == {"same_object": True}
    uncached = make_app(NDB_USE_CACHE=False).test_client()
    assert uncached.get("/cache/c").get_json() == {"same_object": False}
    from_env_file = make_app(NDB_USE_CACHE="false").test_client()
    assert from_env_file.get("/cache/c").get_json() == {"same_object": False}
    policy = make_app(NDB_CACHE_POLICY=lambda key: key.id() != "c").test_client()
    assert policy.get("/cache/c").get_json() == {"same_object": False}


def test_namespace_from_config(ndb_env: str) -> None:
    app = make_app(NDB_NAMESPACE="tenant-a")
    app.test_client().put("/notes/ns", data="in a")
    raw = datastore.Client(project=ndb_env, namespace="tenant-a")
    assert raw.get(raw.key("Note", "ns"))["text"] == "in a"
    assert make_app().test_client().get("/notes/ns").status_code == 404


def test_named_database_from_config(ndb_env: str) -> None:
    make_app(NDB_DATABASE="second").test_client().put("/notes/db", data="in second")
    raw = datastore.Client(project=ndb_env, database="second")
    assert raw.get(raw.key("Note", "db"))["text"] == "in second"
    assert make_app().test_client().get("/notes/db").status_code == 404


def test_cli_command_runs_inside_a_context(ndb_env: str) -> None:
    import click

    app = make_app()

    @app.cli.command("count-notes")
    def count_notes() -> None:
        click.echo(f"notes={Note.query().count()}")

    with app.app_context():
        ndb.put_multi([Note(id=str(i), text="t") for i in range(3)])
    result = app.test_cli_runner().invoke(args=["count-notes"])
    assert result.exit_code == 0, result.output
    assert "notes=3" in result.output


def test_warmup_handler_runs_inside_a_context(ndb_env: str) -> None:
    app = make_app()

    @app.on_warmup
    def prime() -> None:
        Note(id="warm", text="primed").put()

    client = app.test_client()
    assert client.get("/_ah/warmup").status_code == 200
    assert client.get("/notes/warm").get_json() == {"text": "primed"}


def test_event_handler_runs_inside_a_context(ndb_env: str) -> None:
    from framework.events import Event

    app = make_app()

    @app.on_event("com.example.note")
    def store(event: Event) -> None:
        Note(id=event.id, text=event.data["text"]).put()

    attributes = {"specversion": "1.0", "type": "com.example.note", "source": "//tests", "id": "ev1"}
    result = app.dispatch_event(Event(attributes, {"text": "from an event"}))
    assert result.ok and result.handled == 1, result
    assert app.test_client().get("/notes/ev1").get_json() == {"text": "from an event"}


def test_explicit_mode_fails_loudly_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # No emulator and no Google credentials: an app that asked for contexts must not run silently.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
    app = make_app(NDB_CONTEXT=True, NDB_PROJECT="explicit-no-creds")
    with pytest.raises(DefaultCredentialsError), app.app_context():
        pass


def test_auto_mode_without_credentials_warns_once_and_serves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
    client = make_app(NDB_PROJECT="auto-no-creds").test_client()
    with caplog.at_level("WARNING", logger="framework.ndb"):
        for _ in range(2):
            assert client.get("/context").get_json() == {"active": False, "client": None}
    warnings = [r for r in caplog.records if r.name == "framework.ndb"]
    assert len(warnings) == 1 and "DefaultCredentialsError" in warnings[0].getMessage()


def test_legacy_data_flag_from_config(ndb_env: str) -> None:
    with make_app(NDB_LEGACY_DATA="false").app_context():
        assert ndb.get_context().legacy_data is False
    with make_app().app_context():
        assert ndb.get_context().legacy_data is True
