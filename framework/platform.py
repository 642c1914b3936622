"""Which host the app runs on (App Engine standard, Cloud Functions, Cloud Run, local), from its environment.

Owned by the adapters work (issue 4); this first version only answers the question the CLI needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def on_google_host(environ: Mapping[str, str] | None = None) -> bool:
    """True on App Engine standard (`GAE_ENV=standard`) and on Cloud Run / Cloud Functions (`K_SERVICE`)."""
    env = os.environ if environ is None else environ
    return env.get("GAE_ENV") == "standard" or bool(env.get("K_SERVICE"))
