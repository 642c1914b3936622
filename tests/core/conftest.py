"""Fixtures for the core tests: a fresh App and its test client per test."""

from __future__ import annotations

import pytest

from framework import App


@pytest.fixture
def app() -> App:
    app = App("core_tests")
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: App):  # type: ignore[no-untyped-def]
    return app.test_client()
