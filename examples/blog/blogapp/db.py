"""Storage for the blog: one JSON file in the instance folder, guarded by a lock, and the `init-db` command."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from framework import App, current_app
from framework.cli import with_appcontext

_lock = threading.Lock()


def _empty() -> dict[str, Any]:
    return {"users": [], "posts": [], "next_id": 1}


def load() -> dict[str, Any]:
    """The whole data file (an empty store if it was never initialised)."""
    path = current_app.config["DATA_FILE"]
    if not os.path.exists(path):
        return _empty()
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@contextmanager
def changing() -> Iterator[dict[str, Any]]:
    """Load, let the caller change, and atomically write back the data, one writer at a time."""
    with _lock:
        data = load()
        yield data
        path = current_app.config["DATA_FILE"]
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)


def new_id(data: dict[str, Any]) -> int:
    """Allocate the next id."""
    value = data["next_id"]
    data["next_id"] = value + 1
    return value


def now() -> str:
    """The current UTC time as ISO text."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def init_db() -> None:
    """Replace the data file with an empty store."""
    with changing() as data:
        data.clear()
        data.update(_empty())


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Clear the existing data and create an empty store."""
    init_db()
    click.echo("Initialized the database.")


def init_app(app: App) -> None:
    """Register the CLI command on the app."""
    app.cli.add_command(init_db_command)
