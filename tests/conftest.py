"""Suite-wide settings: keep the host environment from leaking into tests."""

from __future__ import annotations

import pytest

# Variables that make the framework believe it runs on Google's hosts or point it at a datastore.
_PLATFORM_VARS = (
    "GAE_ENV", "GAE_APPLICATION", "GAE_SERVICE", "GAE_VERSION", "GAE_INSTANCE", "GAE_RUNTIME",
    "GAE_MEMORY_MB", "GAE_DEPLOYMENT_ID", "K_SERVICE", "K_REVISION", "K_CONFIGURATION",
    "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "DATASTORE_EMULATOR_HOST", "FRAMEWORK_APP",
    "FLASK_APP", "FLASK_DEBUG", "FRAMEWORK_DEBUG",
)


@pytest.fixture(autouse=True)
def _clean_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)
