"""Pytest fixtures: one emulator per test session (per xdist worker), emptied before every test.

Use with `pytest_plugins = ["framework.emulators.datastore.pytest_plugin"]` in a conftest (or a pytest11 entry point):
- `datastore_emulator`: the session's running `Emulator` (in memory).
- `clean_datastore`: the same handle after `POST /reset`, with DATASTORE_EMULATOR_HOST, DATASTORE_DATASET and
  DATASTORE_PROJECT_ID set for the test, so ndb.Client() and datastore.Client() created in it use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .launcher import Emulator, start


@pytest.fixture(scope="session")
def datastore_emulator() -> Iterator[Emulator]:
    with start(admin_port=0) as running:  # gRPC directly on its port: the fastest set-up
        yield running


@pytest.fixture
def clean_datastore(datastore_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    datastore_emulator.reset()
    for name in ("DATASTORE_EMULATOR_HOST", "DATASTORE_DATASET", "DATASTORE_PROJECT_ID"):
        monkeypatch.setenv(name, datastore_emulator.env[name])
    monkeypatch.delenv("GOOGLE_CLOUD_DISABLE_GRPC", raising=False)
    yield datastore_emulator
