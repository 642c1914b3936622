"""Message flashing: messages stored in the session by one request and shown by the next."""

from __future__ import annotations

import typing as t

from . import signals
from .globals import current_app, request_ctx, session


def flash(message: str, category: str = "message") -> None:
    """Queue `message` (with a category such as "error") for the next `get_flashed_messages` call."""
    flashes = session.get("_flashes", [])
    flashes.append((category, message))
    session["_flashes"] = flashes
    if signals.message_flashed.receivers:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        signals.message_flashed.send(app, _async_wrapper=app.ensure_sync, message=message, category=category)


def get_flashed_messages(
    with_categories: bool = False, category_filter: t.Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The queued messages, removed from the session on the first call of the request and cached after.

    `with_categories` gives `(category, message)` pairs; `category_filter` keeps only those categories.
    """
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
    flashes = getattr(ctx, "flashes", None)
    if flashes is None:
        flashes = session.pop("_flashes") if "_flashes" in session else []
        ctx.flashes = flashes
    if category_filter:
        wanted = set(category_filter)
        flashes = [item for item in flashes if item[0] in wanted]
    if with_categories:
        return [tuple(item) for item in flashes]
    return [item[1] for item in flashes]
