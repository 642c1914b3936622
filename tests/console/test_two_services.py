"""The console's request log before apps not written for it: a plain WSGI app and a real Flask app as two
services behind dispatch.yaml (apps/pair), with no emulator running. Plain HTTP, no browser needed."""

from __future__ import annotations

import http.client
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.browser import until
from tests.local.conftest import NO_EMULATORS, Running, start_runner

pytestmark = [pytest.mark.slow]
APP = Path(__file__).parent / "apps" / "pair"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("pair")
    shutil.copytree(APP, tmp / "pair", ignore=shutil.ignore_patterns("__pycache__"))
    files = ["default/app.yaml", "api/app.yaml", "dispatch.yaml"]
    with start_runner(tmp / "pair", tmp, files, env=NO_EMULATORS) as running:
        yield running


def page(pair: Running, path: str) -> tuple[int, str]:
    port = int(str(pair.state["console"]).rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def request_number(listing: str, path: str) -> int:
    match = re.search(rf'<a href="/requests/(\d+)">{re.escape(path)}</a>', listing)
    assert match, listing
    return int(match.group(1))


def test_requests_of_both_services_with_their_lines(pair: Running) -> None:
    assert pair.request("GET", "/plain/page")[0] == 200
    assert pair.request("GET", "/api/world")[0] == 200
    status, listing = page(pair, "/requests")
    assert status == 200
    rows = re.findall(r"<tr>\s*<td><a href=\"/requests/\d+\">.*?</tr>", listing, re.S)
    assert len(rows) == 2 and ">api<" in rows[0] and ">default<" in rows[1]  # newest first

    _, only_api = page(pair, "/requests?service=api")
    assert "/api/world" in only_api and "/plain/page" not in only_api

    plain = request_number(listing, "/plain/page")
    flask = request_number(listing, "/api/world")
    until(lambda: "plain app served /plain/page" in page(pair, f"/requests/{plain}")[1], "the plain app's line")
    until(lambda: "flask served world" in page(pair, f"/requests/{flask}")[1], "the Flask app's line")
    _, detail = page(pair, f"/requests/{plain}")
    assert "printed while it ran" in detail and "flask served" not in detail
    assert re.search(r'id="trace">[0-9a-f]{32}<', detail)  # the trace id the front end gave the app


def test_without_emulators_the_pages_say_so(pair: Running) -> None:
    status, body = page(pair, "/datastore")
    assert status == 502 and "The emulator refused" in body and "Traceback" not in body, body[-3000:]
    status, body = page(pair, "/queues")
    assert status == 502 and "Traceback" not in body
