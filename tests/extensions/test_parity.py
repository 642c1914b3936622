"""The extensions site built on real Flask and on framework.App, driven through the same requests
(each through its own test client): every status, header and body must match, once the values that
are random per session (CSRF tokens, the session cookie that carries them) are masked."""

from __future__ import annotations

import re
import sys
import typing as t

import pytest

from .conftest import csrf_token, load_site

ORIGIN = "https://client.example"
_MASKS = (
    (re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+'), r"\1<token>"),
    (re.compile(r'(name="csrf-token" content=")[^"]+'), r"\1<token>"),
    (re.compile(r"^(session=)[^;]+"), r"\1<cookie>"),
)


def _mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _snapshot(resp: t.Any) -> tuple[int, list[tuple[str, str]], str]:
    # Allow's order follows a set of method names (string hashing), so it is compared sorted.
    headers = [(k, ", ".join(sorted(v.split(", "))) if k == "Allow" else _mask(v)) for k, v in resp.headers.items()]
    return resp.status_code, headers, _mask(resp.get_data(as_text=True))


def scenario(client: t.Any) -> list[tuple[int, list[tuple[str, str]], str]]:
    """One visit touching all five extensions; the CSRF token is read from this client's own pages."""
    out = []

    def go(method: str, path: str, **kwargs: t.Any) -> t.Any:
        resp = client.open(path, method=method, **kwargs)
        out.append(_snapshot(resp))
        return resp

    go("GET", "/private")
    go("GET", "/api/me")
    token = csrf_token(go("GET", "/login").get_data(as_text=True))
    go("POST", "/login", data={"name": "ada", "password": "lovelace"})
    go("POST", "/login", data={"csrf_token": "forged", "name": "ada", "password": "lovelace"})
    go("POST", "/login", data={"csrf_token": token, "name": "ad", "password": ""})
    go("POST", "/login?next=/private", data={"csrf_token": token, "name": "ada", "password": "lovelace"})
    go("GET", "/private")
    go("GET", "/")
    go("GET", "/api/me", headers={"Origin": ORIGIN})
    go("OPTIONS", "/api/notes", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "content-type"})
    go("POST", "/api/notes", json={"text": "same on both"}, headers={"Origin": ORIGIN})
    go("POST", "/api/notes", json={"text": ""}, headers={"Origin": ORIGIN})
    go("GET", "/api/notes", headers={"Origin": "https://other.example"})
    go("GET", "/api/notes/1")
    go("GET", "/api/notes/999", headers={"Origin": ORIGIN})
    go("GET", "/api/report?y=1&z=2")
    go("GET", "/api/report?z=2&y=1")
    go("GET", "/api/report?y=2")
    go("GET", "/api/runs")
    go("POST", "/logout")
    go("POST", "/logout", headers={"X-CSRFToken": token})
    go("GET", "/private")
    return out


@pytest.fixture
def sites() -> t.Iterator[dict[str, t.Any]]:
    built = {name: load_site(name) for name in ("flask", "framework")}
    yield built
    for module in built.values():
        with module.app.app_context():
            module.db.engine.dispose()
        sys.modules.pop(module.__name__, None)


def test_same_answers_as_real_flask(sites: dict[str, t.Any]) -> None:
    import flask

    assert isinstance(sites["flask"].app, flask.Flask) and not isinstance(sites["framework"].app, flask.Flask)
    ours = scenario(sites["framework"].app.test_client())
    theirs = scenario(sites["flask"].app.test_client())
    assert len(ours) == len(theirs)
    for i, (mine, oracle) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == oracle, f"request #{i} differs"
