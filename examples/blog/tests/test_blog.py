"""The example blog, end to end through the test client and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

from framework import session


def test_init_db_command(app, tmp_path: Path) -> None:
    data_file = Path(app.config["DATA_FILE"])
    data_file.write_text(json.dumps({"users": [{"id": 1}], "posts": [], "next_id": 2}))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0 and "Initialized" in result.output
    assert json.loads(data_file.read_text()) == {"users": [], "posts": [], "next_id": 1}
    assert data_file.parent == tmp_path


def test_index_page_uses_base_template(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "<title>Posts - Framework Blog</title>" in response.text
    assert "No posts yet." in response.text
    assert 'href="/static/style.css"' in response.text and 'href="/auth/register"' in response.text


def test_auth_forms_share_one_template(client) -> None:
    for path, title in (("/auth/login", "Log In"), ("/auth/register", "Register")):
        page = client.get(path).text
        assert f"<title>{title} - Framework Blog</title>" in page and f"<h1>{title}</h1>" in page
        assert f'<input type="submit" value="{title}">' in page and 'name="password"' in page


def test_static_css(client) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert b".flash" in response.get_data()
    response.close()


def test_register_then_login(client, auth) -> None:
    response = auth.register()
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    page = client.get("/auth/login")
    assert "Registered. Please log in." in page.text
    response = auth.login()
    assert response.headers["Location"] == "/"
    with client:
        page = client.get("/")
        assert session["user_id"] == 1
    assert "Welcome, ada!" in page.text and "Log Out" in page.text


def test_register_errors_are_flashed(client, auth) -> None:
    auth.register()
    response = auth.register()
    assert response.status_code == 200 and "User ada is already registered." in response.text
    response = client.post("/auth/register", data={"username": "", "password": "x"})
    assert "Username is required." in response.text
    assert 'class="flash error"' in response.text


def test_bad_login(client, auth) -> None:
    auth.register()
    response = auth.login(password="wrong")
    assert response.status_code == 200 and "Incorrect username or password." in response.text
    with client:
        client.get("/")
        assert "user_id" not in session


def test_logout_clears_session(client, auth) -> None:
    auth.register()
    auth.login()
    response = auth.logout()
    assert "session=;" in response.headers["Set-Cookie"]
    with client:
        client.get("/")
        assert "user_id" not in session


def test_login_required(client) -> None:
    for path in ("/create", "/1/update"):
        response = client.get(path)
        assert response.headers["Location"] == "/auth/login"
    assert client.post("/1/delete").headers["Location"] == "/auth/login"
    assert "Please log in first." in client.get("/auth/login").text


def test_create_update_delete(client, auth) -> None:
    auth.register()
    auth.login()
    assert client.get("/create").status_code == 200
    response = client.post("/create", data={"title": "First <post>", "body": "Hello"}, follow_redirects=True)
    assert "Post published." in response.text
    assert "First &lt;post&gt;" in response.text and "by ada on" in response.text
    assert 'href="/2/update"' in response.text
    response = client.post("/2/update", data={"title": "Edited", "body": "Changed"}, follow_redirects=True)
    assert "Post updated." in response.text and "Edited" in response.text
    response = client.post("/2/delete", follow_redirects=True)
    assert "Post deleted." in response.text and "No posts yet." in response.text


def test_title_required(client, auth) -> None:
    auth.register()
    auth.login()
    response = client.post("/create", data={"title": "", "body": "x"})
    assert response.status_code == 200 and "Title is required." in response.text


def test_only_author_may_edit(client, auth) -> None:
    auth.register("ada")
    auth.login("ada")
    client.post("/create", data={"title": "Mine", "body": ""})
    auth.logout()
    auth.register("bob")
    auth.login("bob")
    response = client.get("/2/update")
    assert response.status_code == 403 and "Only the author may change this post." in response.text
    assert client.post("/2/delete").status_code == 403
    page = client.get("/").text
    assert "Mine" in page and 'href="/2/update"' not in page


def test_error_page(client, auth) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<title>Page not found - Framework Blog</title>" in response.text
    assert "There is nothing at /no/such/page." in response.text
    auth.register()
    auth.login()
    assert client.get("/99/update").status_code == 404


def test_weak_default_key_is_refused_on_google_hosts(tmp_path: Path, monkeypatch) -> None:
    from examples.blog.blogapp import create_app

    monkeypatch.setenv("GAE_ENV", "standard")
    app = create_app({"SECRET_KEY": "dev"}, instance_path=str(tmp_path))
    app.test_cli_runner().invoke(args=["init-db"])
    client = app.test_client()
    assert client.get("/").status_code == 200  # reading works: the session is simply empty
    # Registering flashes a message, which needs a signed session: refused, so a 500 (and a logged error).
    assert client.post("/auth/register", data={"username": "a", "password": "b"}).status_code == 500
