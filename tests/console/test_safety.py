"""The console's safety rules, on a console served in-process with no emulator (no browser needed).

Loopback only; a foreign Host (DNS rebinding) is refused; every change is a POST that needs the page's
CSRF token and no foreign Origin; an emulator that is not there is a readable 502, never a traceback.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.config.project import load_project
from deploy.local.console import Console

APP = Path(__file__).parent / "apps" / "shop"


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    served = Console(load_project(APP), {}, "token", "http://127.0.0.1:9", emit=lambda text: None)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def call(console: Console, method: str, path: str, *, host: str | None = None, body: str = "",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    port = int(console.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = {"Host": host or f"127.0.0.1:{port}", **(headers or {})}
        if method == "POST":
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, path, body=body.encode() or None, headers=sent)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def csrf_of(console: Console) -> str:
    status, _, page = call(console, "GET", "/cron")
    assert status == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_it_listens_on_loopback_only(console: Console) -> None:
    assert console.url.startswith("http://127.0.0.1:")
    assert console._server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "192.168.1.20", "[::1]x"])
def test_a_foreign_host_is_refused(console: Console, host: str) -> None:
    status, _, page = call(console, "GET", "/requests", host=host)
    assert status == 403 and "loopback" in page


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "console.localhost"])
def test_loopback_names_are_served(console: Console, host: str) -> None:
    status, headers, page = call(console, "GET", "/requests", host=host)
    assert status == 200 and "No request yet." in page
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none': no script runs
    assert headers["x-frame-options"] == "DENY"


def test_a_change_needs_the_pages_csrf_token(console: Console) -> None:
    for body in ("", "csrf=wrong"):
        status, _, page = call(console, "POST", "/cron/run", body=body + "&url=/cron/tick")
        assert status == 403 and "CSRF" in page
    assert all(not row.running and row.last is None for row in console.crons.rows())  # nothing was started


def test_a_change_from_another_sites_page_is_refused(console: Console) -> None:
    token = csrf_of(console)
    for header in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        status, _, page = call(console, "POST", "/datastore/reset", body=f"csrf={token}", headers=header)
        assert status == 403 and "another site" in page


def test_changes_are_posts_only(console: Console) -> None:
    status, _, _ = call(console, "GET", "/datastore/reset")
    assert status == 405


def test_a_missing_emulator_is_a_readable_error(console: Console) -> None:
    token = csrf_of(console)
    status, _, page = call(console, "POST", "/datastore/reset", body=f"csrf={token}")
    assert status == 502 and "no Datastore emulator is running" in page and "Traceback" not in page
    status, _, page = call(console, "GET", "/queues")
    assert status == 502 and "no Cloud Tasks emulator is running" in page


def test_bad_input_is_a_4xx(console: Console) -> None:
    assert call(console, "GET", "/datastore/entity/not-a-key!")[0] == 404
    assert call(console, "GET", "/queues?parent=nonsense")[0] == 400
    assert call(console, "GET", "/requests/12345")[0] == 404
    token = csrf_of(console)
    assert call(console, "POST", "/cron/run", body=f"csrf={token}&url=/no/such/job")[0] == 404
