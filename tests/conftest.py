"""Suite-wide settings: keep the host environment from leaking into tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

# Tests talk only to loopback: never through a proxy a developer's shell may have configured.
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost", "::1"]))

# The emulator's fixtures (`datastore_emulator`, `clean_datastore`), as a user's conftest would load them.
pytest_plugins = ["framework.emulators.datastore.pytest_plugin"]

# Variables that make the framework believe it runs on Google's hosts or point it at a datastore.
_PLATFORM_VARS = (
    "GAE_ENV", "GAE_APPLICATION", "GAE_SERVICE", "GAE_VERSION", "GAE_INSTANCE", "GAE_RUNTIME",
    "GAE_MEMORY_MB", "GAE_DEPLOYMENT_ID", "K_SERVICE", "K_REVISION", "K_CONFIGURATION",
    "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "FUNCTION_NAME", "GCP_PROJECT", "GOOGLE_CLOUD_PROJECT",
    "DATASTORE_EMULATOR_HOST", "FRAMEWORK_APP",
    "FLASK_APP", "FLASK_DEBUG", "FRAMEWORK_DEBUG", "FRAMEWORK_LOG_FORMAT", "FRAMEWORK_RUN_FROM_CLI",
)


@pytest.fixture(autouse=True)
def _clean_platform_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)
    yield
    # An app that ran "on App Engine" installs the JSON log handler on the root logger; take it off
    # so later apps in this worker get their default text handler again.
    cloud_logging = sys.modules.get("framework.adapters.cloud_logging")
    if cloud_logging is not None:
        cloud_logging.uninstall()
