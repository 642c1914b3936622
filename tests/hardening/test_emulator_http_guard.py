"""The emulator's admin and REST surfaces refuse web pages (DNS rebinding, cross-origin) and serve local tools.

A real emulator subprocess; requests over real sockets (http.client, urllib) and google-cloud-datastore.
"""

from __future__ import annotations

import http.client
import urllib.request

import pytest

from framework.emulators.http_guard import HttpGuard

from .conftest import EmulatorProc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

COMMIT_JSON = b'{"mode": "NON_TRANSACTIONAL", "mutations": [{"upsert": {"key": {"path": [{"kind": "Web", "name": "w"}]}}}]}'


def _request(emulator: EmulatorProc, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _client(emulator: EmulatorProc, monkeypatch: pytest.MonkeyPatch, *, grpc: bool):  # type: ignore[no-untyped-def]
    from google.cloud import datastore

    monkeypatch.setenv("DATASTORE_EMULATOR_HOST", emulator.address)
    return datastore.Client(project="local-project", _use_grpc=grpc)


def _stored(client) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(e.key.name for e in client.query(kind="Web").fetch())


BROWSER_ATTEMPTS = [
    ("POST", "/reset", {"Origin": "http://evil.example", "Content-Type": "text/plain"}),
    ("POST", "/reset", {"Host": "evil.example:8081"}),  # DNS rebinding: the page's own name, pointed at 127.0.0.1
    ("POST", "/reset", {"Sec-Fetch-Site": "cross-site"}),
    ("POST", "/reset", {"Origin": "null"}),
    ("POST", "/shutdown", {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/shutdown", {"Host": "rebind.attacker.test"}),
    ("POST", "/v1/projects/local-project:commit", {"Origin": "https://evil.example", "Content-Type": "text/plain"}),
    ("POST", "/v1/projects/local-project:commit", {"Content-Type": "text/plain", "Sec-Fetch-Site": "same-site"}),
    ("POST", "/v1/projects/local-project:commit", {"Host": "evil.example", "Content-Type": "application/json"}),
    ("GET", "/", {"Host": "evil.example"}),
]


def test_browser_requests_are_refused_and_change_nothing(spawn_emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator()
    client = _client(emulator, monkeypatch, grpc=True)
    from google.cloud import datastore

    client.put(datastore.Entity(client.key("Web", "kept")))
    for method, path, headers in BROWSER_ATTEMPTS:
        body = COMMIT_JSON if path.startswith("/v1/") else b""
        status, text = _request(emulator, method, path, headers, body)
        assert status == 403, (method, path, headers, status, text)
        assert b"refused" in text or b"not this emulator's address" in text
    assert emulator.proc.poll() is None  # /shutdown was refused
    assert _stored(client) == ["kept"]  # neither reset nor the REST commit happened


def test_local_tools_still_work(spawn_emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    emulator = spawn_emulator()
    # The REST transport of the real client (no Origin, Host = the emulator's address).
    rest = _client(emulator, monkeypatch, grpc=False)
    from google.cloud import datastore

    rest.put(datastore.Entity(rest.key("Web", "rest")))
    grpc_client = _client(emulator, monkeypatch, grpc=True)
    assert _stored(grpc_client) == ["rest"]
    # Same-origin and address-bar style requests, and the other loopback spellings, are local too.
    for headers in ({"Host": f"localhost:{emulator.port}"}, {"Origin": emulator.url}, {"Sec-Fetch-Site": "none"},
                    {"Host": f"127.0.0.1:{emulator.port}", "Sec-Fetch-Site": "same-origin"}):
        assert _request(emulator, "GET", "/", headers)[0] == 200, headers
    status, _ = _request(emulator, "POST", "/v1/projects/local-project:commit",
                         {"Content-Type": "application/json"}, COMMIT_JSON)
    assert status == 200
    # curl-like command-line use of the admin endpoints.
    with urllib.request.urlopen(urllib.request.Request(emulator.url + "/reset", data=b"", method="POST"), timeout=10) as r:
        assert r.status == 200
    assert _stored(grpc_client) == []
    with urllib.request.urlopen(urllib.request.Request(emulator.url + "/shutdown", data=b"", method="POST"), timeout=10):
        pass
    assert emulator.proc.wait(20) == 0


@pytest.mark.parametrize(("bound", "host", "allowed"), [
    ("127.0.0.1", "127.0.0.1:8081", True), ("127.0.0.1", "127.5.6.7", True), ("127.0.0.1", "[::1]:80", True),
    ("127.0.0.1", "LOCALHOST:1", True), ("127.0.0.1", "svc.localhost", True), ("127.0.0.1", "localhost.:9", True),
    ("127.0.0.1", "evil.example", False), ("127.0.0.1", "10.0.0.5:8081", False), ("127.0.0.1", "[::1", False),
    ("127.0.0.1", "127.0.0.1:x", False), ("127.0.0.1", "localhost.evil.example", False),
    ("0.0.0.0", "10.0.0.5:8081", True), ("0.0.0.0", "evil.example", False), ("devbox", "devbox:8081", True),
])
def test_host_rule(bound: str, host: str, allowed: bool) -> None:
    assert (HttpGuard([bound]).refusal({"Host": host}) is None) is allowed
