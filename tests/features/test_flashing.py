"""Message flashing: flash and get_flashed_messages with categories and filters."""

from __future__ import annotations

import pytest

from framework import App, flash, get_flashed_messages, session


def make_app() -> App:
    app = App(__name__)
    app.secret_key = "flashing-tests-secret-key-value"

    @app.route("/add")
    def add() -> str:
        flash("plain")
        flash("bad thing", "error")
        flash("careful", "warning")
        return "added"

    @app.route("/all")
    def all_messages() -> str:
        first = get_flashed_messages()
        again = get_flashed_messages()
        assert first == again
        return repr(first)

    @app.route("/categories")
    def categories() -> str:
        return repr(get_flashed_messages(with_categories=True))

    @app.route("/filtered")
    def filtered() -> str:
        return repr(get_flashed_messages(category_filter=["error", "warning"]))

    @app.route("/filtered-cats")
    def filtered_cats() -> str:
        return repr(get_flashed_messages(True, ["error"]))

    @app.route("/peek")
    def peek() -> str:
        return repr(session.get("_flashes"))

    return app


@pytest.fixture
def client():
    """A client whose session holds the three messages queued by `/add`."""
    client = make_app().test_client()
    client.get("/add")
    return client


def test_messages_survive_one_redirect_and_are_consumed(client) -> None:
    assert client.get("/all").text == "['plain', 'bad thing', 'careful']"
    assert client.get("/all").text == "[]"


def test_with_categories(client) -> None:
    assert client.get("/categories").text == "[('message', 'plain'), ('error', 'bad thing'), ('warning', 'careful')]"


def test_category_filter(client) -> None:
    assert client.get("/filtered").text == "['bad thing', 'careful']"
    # Filtering still consumes every message.
    assert client.get("/all").text == "[]"
    client.get("/add")
    assert client.get("/filtered-cats").text == "[('error', 'bad thing')]"


def test_stored_in_session_as_tuples(client) -> None:
    assert client.get("/peek").text == "[('message', 'plain'), ('error', 'bad thing'), ('warning', 'careful')]"


def test_flash_and_read_in_same_request() -> None:
    app = make_app()
    with app.test_request_context():
        flash("now", "info")
        assert get_flashed_messages(with_categories=True) == [("info", "now")]
