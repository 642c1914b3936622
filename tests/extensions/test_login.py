"""Flask-Login on framework.App: login_required refuses the anonymous user; login_user, current_user
and logout_user work through the session cookie; unauthorized() redirects with a flash or answers 401."""

from __future__ import annotations

from types import ModuleType

from .conftest import csrf_token


def _log_in(client, name: str = "ada", password: str = "lovelace", next_url: str | None = None):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    path = "/login" if next_url is None else f"/login?next={next_url}"
    return client.post(path, data={"csrf_token": token, "name": name, "password": password})


def test_login_required_redirects_the_anonymous_user_to_the_login_view(site: ModuleType) -> None:
    client = site.app.test_client()
    resp = client.get("/private")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=%2Fprivate"
    page = client.get("/login").get_data(as_text=True)
    assert '<p class="flash">Please log in to access this page.</p>' in page  # flask.flash, read by ours


def test_login_required_on_a_flask_blueprint_answers_401(site: ModuleType) -> None:
    resp = site.app.test_client().get("/api/me")
    assert resp.status_code == 401


def test_login_user_current_user_and_logout_user(site: ModuleType) -> None:
    client = site.app.test_client()
    resp = _log_in(client, next_url="/private")
    assert resp.status_code == 302 and resp.headers["Location"] == "/private"
    assert client.get("/private").get_data(as_text=True) == "private page of ada"
    assert client.get("/api/me").get_json() == {"name": "ada"}
    home = client.get("/").get_data(as_text=True)
    assert '<p class="user">ada</p>' in home  # current_user from Flask-Login's context processor
    assert '<p class="flash">Welcome, ada</p>' in home

    token = csrf_token(client.get("/login").get_data(as_text=True))
    resp = client.post("/logout", headers={"X-CSRFToken": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/private").status_code == 302
    assert client.get("/api/me").status_code == 401
    assert '<p class="user">anonymous</p>' in client.get("/").get_data(as_text=True)


def test_wrong_password_logs_nobody_in(site: ModuleType) -> None:
    client = site.app.test_client()
    resp = _log_in(client, password="nope")
    assert resp.status_code == 200
    assert "unknown user or wrong password" in resp.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401


def test_user_is_loaded_per_request_and_kept_in_g(site: ModuleType) -> None:
    app, seen = site.app, []

    @app.get("/probe")
    def probe():
        import flask
        from flask_login import current_user

        name = current_user.name if current_user.is_authenticated else None
        seen.append((name, "_login_user" in flask.g))
        return "ok"

    client = app.test_client()
    client.get("/probe")
    _log_in(client)
    client.get("/probe")
    assert seen == [(None, True), ("ada", True)]


def test_login_required_on_an_async_view(site: ModuleType) -> None:
    import flask
    from flask_login import current_user, login_required

    app = site.app

    @app.get("/async-private")
    @login_required  # Flask-Login runs the view through current_app.ensure_sync: ours, without asgiref
    async def async_private():
        return {"user": current_user.name, "path": flask.request.path}

    client = app.test_client()
    assert client.get("/async-private").status_code == 302
    _log_in(client)
    assert client.get("/async-private").get_json() == {"user": "ada", "path": "/async-private"}
