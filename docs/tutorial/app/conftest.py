"""Fixtures for the guestbook's tests: the kit's Datastore emulator, emptied before each test."""

from __future__ import annotations

import pytest

from main import app

pytest_plugins = ["framework.emulators.datastore.pytest_plugin"]


@pytest.fixture
def client(clean_datastore):
    """A test client of the app, talking to an empty emulator."""
    return app.test_client()
