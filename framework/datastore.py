"""google-cloud-ndb wired into the app: one client per process, a context per request.

Placeholder interface for the datastore work (issue 5): `App.__init__` calls `init_app(app)`.
It must not import google.cloud until an app actually uses ndb.
"""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    """Arrange for ndb contexts around requests, CLI commands and event handlers of `app`."""
