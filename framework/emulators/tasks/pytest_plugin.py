"""Pytest fixtures: one Cloud Tasks emulator per test session (per xdist worker), emptied before every test.

Use with `pytest_plugins = ["framework.emulators.tasks.pytest_plugin"]` in a conftest:
- `cloud_tasks_emulator`: the session's running `Emulator` (in memory; App Engine tasks are not delivered
  because it has no --app-engine-url: they stay queued for inspection).
- `clean_cloud_tasks`: the same handle after `POST /reset` (no queues but `default`, no tasks), with
  CLOUD_TASKS_EMULATOR_HOST set for the test so framework.tasks.client() and defer() use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .launcher import Emulator, start


@pytest.fixture(scope="session")
def cloud_tasks_emulator() -> Iterator[Emulator]:
    with start() as running:
        yield running


@pytest.fixture
def clean_cloud_tasks(cloud_tasks_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    cloud_tasks_emulator.reset()
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", cloud_tasks_emulator.address)
    yield cloud_tasks_emulator
