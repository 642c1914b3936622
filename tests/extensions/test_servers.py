"""The extensions site over real HTTP: gunicorn (`main:app`), app.yaml's `python -m framework.server`
and functions-framework (`http_function`, where Flask itself is already imported and handling the
request when our app runs). One browser-like walk through all five extensions on each host."""

from __future__ import annotations

import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import pytest

from tests.support.procs import REPO_ROOT, free_port, run_server, venv_tool

from .conftest import SITE_DIR, csrf_token

ORIGIN = "https://client.example"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """urllib with a cookie jar, no redirect following, and errors returned as responses (headers as
    a case-insensitive Message: granian sends lowercase names)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def open(self, method: str, path: str, *, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Message, str]:
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.headers, err.read().decode()

    def form(self, path: str, fields: dict[str, str]) -> tuple[int, Message, str]:
        body = urllib.parse.urlencode(fields).encode()
        return self.open("POST", path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def json(self, method: str, path: str, payload: object, headers: dict[str, str] | None = None
             ) -> tuple[int, Message, str]:
        return self.open(method, path, data=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/json", **(headers or {})})


def walk(base_url: str) -> None:
    """Every extension once, as a browser and a cross-origin client would use the site."""
    b = Browser(base_url)
    status, headers, _ = b.open("GET", "/private")  # Flask-Login: anonymous refused
    assert (status, headers["Location"]) == (302, "/login?next=%2Fprivate")
    assert b.open("GET", "/api/me")[0] == 401
    status, _, page = b.open("GET", "/login")
    assert status == 200 and "Please log in to access this page." in page
    token = csrf_token(page)
    assert b.form("/login", {"name": "ada", "password": "lovelace"})[0] == 400  # Flask-WTF: no token
    status, _, page = b.form("/login", {"csrf_token": token, "name": "ad", "password": "x"})
    assert status == 422 and "Field must be between 3 and 20 characters long." in page
    status, headers, _ = b.form("/login?next=/private", {"csrf_token": token, "name": "ada", "password": "lovelace"})
    assert (status, headers["Location"]) == (302, "/private")
    assert b.open("GET", "/private")[2] == "private page of ada"

    status, headers, _ = b.open("OPTIONS", "/api/notes", headers={  # Flask-CORS: preflight
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    status, headers, body = b.json("POST", "/api/notes", {"text": "over http"}, {"Origin": ORIGIN})
    assert status == 201 and headers["Access-Control-Allow-Origin"] == ORIGIN  # Flask-SQLAlchemy: commit
    note = json.loads(body)
    assert note["owner"] == "ada"
    assert json.loads(b.open("GET", f"/api/notes/{note['id']}")[2]) == note
    assert b.open("GET", "/api/notes/999999")[0] == 404  # get_or_404

    first = json.loads(b.open("GET", "/api/report?y=1")[2])  # Flask-Caching, keyed by query string
    assert json.loads(b.open("GET", "/api/report?y=1")[2]) == first
    second = json.loads(b.open("GET", "/api/report?y=2")[2])
    assert second["run"] == first["run"] + 1 and second["pid"] == first["pid"]


@contextmanager
def _server(cmd: list[str], tmp_path: Path, port: int, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "SITE_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}",
        "GAE_ENV": "", "K_SERVICE": "", "FUNCTION_NAME": "",
        **(extra_env or {}),
    }
    with run_server(cmd, port=port, tmp_path=tmp_path, env=env, ready_path="/api/notes") as srv:
        yield srv.url


@pytest.mark.timeout(120)
def test_walk_over_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    cmd = [venv_tool("gunicorn"), "--config", str(REPO_ROOT / "gunicorn.conf.py"), "--chdir", str(SITE_DIR),
           "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread", "--threads", "4", "main:app"]
    with _server(cmd, tmp_path, port) as url:
        walk(url)


@pytest.mark.timeout(120)
def test_walk_under_functions_framework(tmp_path: Path) -> None:
    port = free_port()
    cmd = [venv_tool("functions-framework"), "--target", "http_function", "--source", str(SITE_DIR / "main.py"),
           "--host", "127.0.0.1", "--port", str(port)]
    with _server(cmd, tmp_path, port) as url:
        walk(url)



@pytest.mark.timeout(120)
def test_walk_under_the_app_yaml_entrypoint(tmp_path: Path) -> None:
    # app.yaml's `python -m framework.server main:app`, behind the local front end's GAE_ENV=localdev
    # (granian's WSGI workers, started by spawn: flask is imported afresh in each worker).
    port = free_port()
    cmd = [sys.executable, "-m", "framework.server", "main:app"]
    with run_server(cmd, port=port, tmp_path=tmp_path, cwd=SITE_DIR, ready_path="/api/notes", env={
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "SITE_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}", "PORT": str(port), "GAE_ENV": "localdev",
        "K_SERVICE": "", "FUNCTION_NAME": "",
    }) as srv:
        walk(srv.url)
