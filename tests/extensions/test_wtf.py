"""Flask-WTF on framework.App: CSRFProtect refuses a POST without a valid token and accepts one with
it (form field or X-CSRFToken header); FlaskForm validates and reports field errors; a flask.Blueprint
can be exempted."""

from __future__ import annotations

from types import ModuleType

from .conftest import csrf_token


def test_post_without_a_token_is_refused(site: ModuleType) -> None:
    resp = site.app.test_client().post("/login", data={"name": "ada", "password": "lovelace"})
    assert resp.status_code == 400
    assert "The CSRF token is missing." in resp.get_data(as_text=True)


def test_post_with_a_forged_token_is_refused(site: ModuleType) -> None:
    client = site.app.test_client()
    client.get("/login")  # a session exists, with its own token
    resp = client.post("/login", data={"csrf_token": "forged", "name": "ada", "password": "lovelace"})
    assert resp.status_code == 400
    assert "The CSRF token is invalid." in resp.get_data(as_text=True)


def test_token_from_another_session_is_refused(site: ModuleType) -> None:
    token = csrf_token(site.app.test_client().get("/login").get_data(as_text=True))
    other = site.app.test_client()
    other.get("/login")
    resp = other.post("/login", data={"csrf_token": token, "name": "ada", "password": "lovelace"})
    assert resp.status_code == 400


def test_post_with_the_token_is_accepted(site: ModuleType) -> None:
    client = site.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "name": "ada", "password": "lovelace"})
    assert resp.status_code == 302


def test_validation_errors_are_reported(site: ModuleType) -> None:
    client = site.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "name": "ab", "password": ""})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "name: Field must be between 3 and 20 characters long." in page
    assert "password: This field is required." in page
    assert 'value="ab"' in page  # the form keeps what was sent


def test_header_token_and_template_global(site: ModuleType) -> None:
    client = site.app.test_client()
    home = client.get("/").get_data(as_text=True)
    token = home.split('name="csrf-token" content="')[1].split('"')[0]  # csrf_token() in a template
    client.post("/login", data={"csrf_token": csrf_token(client.get("/login").get_data(as_text=True)),
                                "name": "ada", "password": "lovelace"})
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 302


def test_exempt_flask_blueprint_takes_posts_without_a_token(site: ModuleType) -> None:
    resp = site.app.test_client().post("/api/notes", json={"text": "no token needed"})
    assert resp.status_code == 201
