"""Guestbook: the tutorial's app. Visitors sign, a task counts the words, a daily cron job prunes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.cloud import ndb

from framework import App, abort, redirect, render_template, request, url_for

app = App(__name__)
app.config.from_prefixed_env()  # FRAMEWORK_SECRET_KEY and friends from the environment


class Entry(ndb.Model):
    """One signature. ndb stores datetimes as naive UTC."""

    author = ndb.StringProperty(required=True)
    text = ndb.TextProperty(required=True)
    words = ndb.IntegerProperty()
    created = ndb.DateTimeProperty(auto_now_add=True)


@app.get("/")
def index() -> str:
    entries = Entry.query().order(-Entry.created).fetch(20)
    return render_template("index.html", entries=entries)


@app.get("/by/<author>")
def by_author(author: str) -> str:
    # An equality filter with a sort on another property needs a composite index (index.yaml).
    entries = Entry.query(Entry.author == author).order(-Entry.created).fetch(20)
    return render_template("index.html", entries=entries, author=author)


@app.post("/sign")
def sign():
    author = request.form.get("author", "").strip()
    text = request.form.get("text", "").strip()
    if not author or not text or len(author) > 100 or len(text) > 2000:
        abort(400, "Give a name (up to 100 characters) and a message (up to 2000).")
    key = Entry(author=author, text=text).put()
    count_words.defer(key.id())
    return redirect(url_for("index"))


@app.task
def count_words(entry_id: int) -> None:
    """Runs later, as a Cloud Task, inside the app's (and ndb's) context."""
    entry = Entry.get_by_id(entry_id)
    if entry is not None:
        entry.words = len(entry.text.split())
        entry.put()


@app.cron("every 24 hours", description="Delete entries older than 30 days")
def prune() -> dict[str, int]:
    cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=30)
    keys = Entry.query(Entry.created < cutoff).fetch(500, keys_only=True)
    ndb.delete_multi(keys)
    return {"deleted": len(keys)}
