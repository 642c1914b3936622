"""The guestbook's tests: the real Datastore emulator, tasks recorded and run through the test client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from framework.testing.tasks import TaskRecorder
from main import Entry, app, prune


def test_signing_stores_the_entry_and_counts_its_words(client):
    with TaskRecorder(app) as tasks:
        response = client.post("/sign", data={"author": "Ada", "text": "Hello from the tutorial"})
        assert response.status_code == 302
        assert [task.function for task in tasks.enqueued()] == ["main:count_words"]
        tasks.run_all()

    page = client.get("/").get_data(as_text=True)
    assert "Hello from the tutorial (4 words)" in page


def test_a_signature_needs_both_fields(client):
    assert client.post("/sign", data={"author": "Ada"}).status_code == 400


def test_prune_deletes_only_old_entries(client):
    with app.app_context():
        old = Entry(author="Old", text="gone soon")
        old.put()
        old.created = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=31)  # auto_now_add only sets it on the first put
        old.put()
        Entry(author="New", text="stays").put()

        assert prune() == {"deleted": 1}
        assert [entry.author for entry in Entry.query().fetch()] == ["New"]


def test_only_app_engine_may_run_the_cron_job(client):
    assert client.get("/cron/prune").status_code == 403
