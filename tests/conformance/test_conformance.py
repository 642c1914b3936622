"""Every case on every host: the host-independent checks, then byte-for-byte equality with the in-process client."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conformance.cases import BIG_BODY, CASES, Case
from tests.conformance.hosts import HOST_HEADER, Host, Reply

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, host: Host, reference: Host) -> None:
    reply = host.request(case.method, case.path, case.headers, case.body)
    assert reply.status == case.status, f"{host.name}: {reply.status} {reply.body[:300]!r}"
    if case.check is not None:
        verdict: object = case.check(reply)  # checks assert; one that returns a verdict would be ignored
        assert verdict is None, f"{case.id}: its check returned {verdict!r}; make it assert instead"
    if host.client is None:  # a real server: compare with the in-process client byte for byte
        expected = reference.request(case.method, case.path, case.headers, case.body)
        assert reply.normalised() == expected.normalised()


def _session_cookie(reply: Reply) -> str:
    cookies = [c for c in reply.header_list("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, reply.headers
    return cookies[0]


def test_session_round_trip(host: Host) -> None:
    """A signed-cookie session survives three requests on every host, with the same cookie attributes."""
    first = host.request("POST", "/session/apple")
    assert first.status == 200 and json.loads(first.body) == {"items": ["apple"]}
    cookie = _session_cookie(first)
    attributes = sorted(part.strip() for part in cookie.split(";")[1:])
    assert attributes == ["HttpOnly", "Path=/"]
    assert first.header("Vary") == "Cookie"

    jar = cookie.split(";", 1)[0]
    second = host.request("POST", "/session/pear", {"Cookie": jar})
    assert json.loads(second.body) == {"items": ["apple", "pear"]}
    jar = _session_cookie(second).split(";", 1)[0]

    third = host.request("GET", "/session", {"Cookie": jar})
    assert third.status == 200 and json.loads(third.body) == {"items": ["apple", "pear"]}
    assert third.header("Set-Cookie") is None

    tampered = re.sub(r"=(.)", lambda m: "=" + ("A" if m.group(1) != "A" else "B"), jar, count=1)
    fourth = host.request("GET", "/session", {"Cookie": tampered})
    assert json.loads(fourth.body) == {"items": []}


def test_chunked_request_body(host: Host, reference: Host) -> None:
    """A body sent with Transfer-Encoding: chunked (no Content-Length) reaches the view whole."""
    reply = host.request("POST", "/big", {"Content-Type": "application/octet-stream"}, BIG_BODY, chunked=True)
    assert reply.status == 200
    assert json.loads(reply.body) == {"size": len(BIG_BODY), "sha256": hashlib.sha256(BIG_BODY).hexdigest()}
    expected = reference.request("POST", "/big", {"Content-Type": "application/octet-stream"}, BIG_BODY)
    assert reply.normalised() == expected.normalised()


def test_streaming_is_not_buffered(host: Host, tmp_path: Path) -> None:
    """The first chunk arrives while the view's generator is still waiting for the test to open the gate."""
    gate = tmp_path / "gate"
    path = f"/stream-gate?gate={quote(str(gate))}"
    if host.client is not None:
        response = host.client.get(path)
        chunks = iter(response.response)
        first = next(chunks)
        gate.touch()
        rest = b"".join(chunks)
        response.close()
    else:
        with host.open("GET", path, {"Host": HOST_HEADER}) as response:
            first = response.readline()
            gate.touch()
            rest = response.read()
    assert (first, rest) == (b"first\n", b"second\n")


def _raw_status(host: Host, request_line: bytes) -> int:
    """Send a request line as raw bytes (http.client would refuse non-ASCII) and return the status."""
    assert host.url is not None
    address, port = host.url.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(request_line + b"\r\nHost: " + HOST_HEADER.encode() + b"\r\nConnection: close\r\n\r\n")
        head = sock.makefile("rb").readline()
    return int(head.split()[1])


def test_invalid_utf8_in_the_path_is_400_on_every_host(host: Host) -> None:
    """Percent-encoded bytes that are not UTF-8 are a 400 on every host (README), although werkzeug's
    dev server and test client replace them with U+FFFD before the app runs: the raw request URI is
    checked (framework/input_checks.py)."""
    reply = host.request("GET", "/unicode/%ff%fe")
    assert reply.status == 400, reply.body[:300]
    assert b"not valid UTF-8" in reply.body
    assert host.request("GET", "/unicode/%C3%A9").status == 200  # escaped UTF-8 is fine
    if host.url is not None:
        # Unescaped non-ASCII bytes in the request line are not valid HTTP. Production servers give the
        # app the bytes (400 here); werkzeug's dev server re-encodes them as if they were Latin-1 text
        # before the app sees the request, which no check in the app can undo (README, known difference).
        expected = 200 if host.name.startswith("werkzeug") else 400
        assert _raw_status(host, b"GET /unicode/\xff\xfe HTTP/1.1") == expected
