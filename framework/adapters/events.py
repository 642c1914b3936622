"""Event-driven entry points shared by Cloud Functions and App Engine (CloudEvents, Pub/Sub push).

Placeholder interface for the adapters work (issue 4): `App` inherits `EventsMixin`.
"""

from __future__ import annotations


class EventsMixin:
    """Methods App gains for events (e.g. `on_event`, `pubsub_push_route`)."""
