"""Fixtures for the blog tests: an app with its data in a temporary instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.blog.blogapp import create_app
from framework import App


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = create_app({"TESTING": True, "SECRET_KEY": "blog-tests-secret-key-value"}, instance_path=str(tmp_path))
    app.test_cli_runner().invoke(args=["init-db"])
    return app


@pytest.fixture
def client(app: App):
    return app.test_client()


class AuthActions:
    """Register and log in through the real forms."""

    def __init__(self, client) -> None:
        self.client = client

    def register(self, username: str = "ada", password: str = "secret"):
        return self.client.post("/auth/register", data={"username": username, "password": password})

    def login(self, username: str = "ada", password: str = "secret"):
        return self.client.post("/auth/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.get("/auth/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)
