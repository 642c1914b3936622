"""The front end before a plain WSGI app (no framework) whose app.yaml uses every handler feature."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.conftest import NO_EMULATORS, Running, copy_app, start_runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp_path = tmp_path_factory.mktemp("plain")
    app_dir = copy_app("plain", tmp_path)
    # Short enough to test, long enough for a busy machine (the 24 MB answers must be read within it).
    args = ["--request-timeout", "8", "--idle-timeout", "1", "--body-timeout", "5"]
    with start_runner(app_dir, tmp_path, args=args, env=NO_EMULATORS) as running:
        yield running


def test_warmup_came_before_any_traffic(plain: Running) -> None:
    first = plain.json("/first")
    assert first["seen"][0] == "/_ah/warmup"
    assert "GET /_ah/warmup 200" in plain.log() and " warmup" in plain.log()


def test_static_dir_with_headers_and_default_expiration(plain: Running) -> None:
    status, headers, body = plain.request("GET", "/static/site.css")
    assert (status, body) == (200, b"body { color: red; }\n")
    assert headers["content-type"].startswith("text/css")
    assert headers["cache-control"] == "public, max-age=3600"  # default_expiration: 1h
    assert "expires" in headers and headers["x-static-marker"] == "from-app-yaml"
    assert plain.request("GET", "/static/sub/deep.txt")[2] == b"nested file\n"
    # Served by the front end: the app never saw it.
    assert not any(p.startswith("/static") for p in plain.json("/after-static")["seen"])
    plain.wait_for_log("[default] GET /static/site.css 200 ")
    assert "static:/static" in plain.log()


def test_static_files_with_groups_expiration_and_mime_type(plain: Running) -> None:
    status, headers, body = plain.request("GET", "/img/logo.png")
    assert status == 200 and body.startswith(b"\x89PNG")
    assert headers["content-type"] == "image/png"
    assert headers["cache-control"] == f"public, max-age={2 * 86400 + 3 * 3600}"
    status, headers, body = plain.request("GET", "/data/blob.bin")
    assert (status, headers["content-type"], body) == (200, "application/x-custom", b"binary data\n")


def test_missing_or_not_uploaded_static_file_is_404_and_never_reaches_the_app(plain: Running) -> None:
    assert plain.request("GET", "/static/nope.css")[0] == 404
    assert plain.request("GET", "/img/nope.png")[0] == 404
    assert plain.request("GET", "/data/notes.txt")[0] == 404  # exists, but `upload` does not select it
    seen = plain.json("/after-404")["seen"]
    assert not any(p.startswith(("/static", "/img", "/data")) for p in seen)


def test_path_traversal_is_impossible(plain: Running) -> None:
    for path in ("/static/../main.py", "/static/%2e%2e/main.py", "/static/..%2fmain.py", "/img/..%2f..%2fmain.png"):
        status, _, body = plain.request("GET", path)
        assert b"SEEN" not in body and status in (400, 404), (path, status)


def test_conditional_requests_and_range(plain: Running) -> None:
    _, headers, _ = plain.request("GET", "/static/site.css")
    etag, modified = headers["etag"], headers["last-modified"]
    assert plain.request("GET", "/static/site.css", headers={"If-None-Match": etag})[0] == 304
    assert plain.request("GET", "/static/site.css", headers={"If-Modified-Since": modified})[0] == 304
    assert plain.request("GET", "/static/site.css", headers={"If-None-Match": '"other"'})[0] == 200
    status, headers, body = plain.request("GET", "/static/site.css", headers={"Range": "bytes=0-3"})
    assert (status, body) == (206, b"body")


def test_require_matching_file_falls_through_to_the_app(plain: Running) -> None:
    assert plain.request("GET", "/maybe/here.txt")[2] == b"optional file\n"
    report = plain.json("/maybe/absent.txt")
    assert report["path"] == "/maybe/absent.txt"  # no file: the next handler (the app) got it


def test_secure_always_redirects_to_the_https_front_end_keeping_the_query(plain: Running) -> None:
    https_url = str(plain.state["https_url"])
    https_port = int(https_url.rsplit(":", 1)[1])
    status, headers, _ = plain.request("GET", "/secure/page?a=1&b=2")
    assert status == 301
    assert headers["location"] == f"https://127.0.0.1:{https_port}/secure/page?a=1&b=2"
    # Followed: the same app over TLS (self-signed certificate for localhost and 127.0.0.1), told it is https.
    context = ssl.create_default_context(cafile=str(plain.app_dir / ".local" / "tls" / "cert.pem"))
    with urllib.request.urlopen(headers["location"], context=context, timeout=30) as response:
        report = json.loads(response.read())
    assert report["path"] == "/secure/page" and report["query"] == "a=1&b=2"
    assert report["headers"]["x-forwarded-proto"] == "https" and report["headers"]["x-appengine-https"] == "on"
    # On a service's own port (http only) the redirect names the service on the HTTPS front end.
    service_port = int(str(plain.state["services"]["default"]).rsplit(":", 1)[1])  # type: ignore[index]
    location = plain.request("GET", "/secure/x", port=service_port)[1]["location"]
    assert location == f"https://default.localhost:{https_port}/secure/x"


def test_login_required_and_admin_never_reach_the_app(plain: Running) -> None:
    status, headers, _ = plain.request("GET", "/private/x")
    assert status == 302 and headers["location"].startswith("/_ah/login?continue=")
    status, _, body = plain.request("GET", headers["location"])
    assert status == 401 and b"no Google sign-in" in body
    assert plain.request("GET", "/admin/x")[0] == 401
    assert not any(p.startswith(("/private", "/admin")) for p in plain.json("/after-login")["seen"])


def test_forged_platform_headers_never_reach_the_app(plain: Running) -> None:
    forged = {
        "X-Appengine-Cron": "true", "X-AppEngine-QueueName": "q", "X-Appengine-User-IP": "6.6.6.6",
        "X-Appengine-Country": "DE", "X-Google-Secret": "1", "X-CloudTasks-TaskName": "t",
        "Connection": "close, X-Drop-Me", "X-Drop-Me": "1", "Keep-Alive": "5", "TE": "trailers",
    }
    status, response_headers, body = plain.request(
        "GET", "/headers", headers={**forged, "X-Forwarded-For": "9.9.9.9", "Accept-Encoding": "gzip"})
    assert status == 200 and response_headers["content-encoding"] == "gzip"  # JSON is text: compressed
    headers = json.loads(gzip.decompress(body))["headers"]
    assert "x-appengine-cron" not in headers and "x-appengine-queuename" not in headers
    assert not any(h.startswith(("x-google-", "x-cloudtasks-")) for h in headers)
    assert "x-drop-me" not in headers and "keep-alive" not in headers and "te" not in headers
    assert "accept-encoding" not in headers  # the front end compresses, not the app
    assert headers["x-appengine-user-ip"] == "127.0.0.1"
    assert headers["x-appengine-country"] == "ZZ" and headers["x-appengine-city"] == "?"
    assert headers["x-appengine-citylatlong"] == "0.000000,0.000000"
    assert headers["x-forwarded-for"] == "9.9.9.9, 127.0.0.1, 169.254.1.1"
    assert headers["x-forwarded-proto"] == "http" and headers["forwarded"] == 'for="127.0.0.1";proto=http'
    trace_id = headers["x-cloud-trace-context"].split("/")[0]
    assert len(trace_id) == 32 and headers["traceparent"].split("-")[1] == trace_id


def test_a_client_trace_id_is_kept(plain: Running) -> None:
    trace = "0af7651916cd43dd8448eb211c80319c"
    headers = plain.json("/t", headers={"traceparent": f"00-{trace}-b7ad6b7169203331-01"})["headers"]
    assert headers["traceparent"].startswith(f"00-{trace}-") and headers["traceparent"].endswith("-01")
    assert headers["x-cloud-trace-context"].startswith(f"{trace}/") and headers["x-cloud-trace-context"].endswith(";o=1")


def test_a_wrong_platform_token_is_refused(plain: Running) -> None:
    status, _, body = plain.request("GET", "/headers", headers={"X-Local-Platform-Token": "guess"})
    assert status == 403 and b"X-Local-Platform-Token" in body


def test_the_platform_keeps_cron_and_task_headers(plain: Running) -> None:
    token = str(plain.state["token"])
    report = plain.json("/cron", headers={"X-Local-Platform-Token": token, "X-Appengine-Cron": "true",
                                          "X-Appengine-Country": "DE"})
    headers = report["headers"]
    assert headers["x-appengine-cron"] == "true" and headers["x-appengine-user-ip"] == "0.1.0.2"
    assert headers["x-appengine-country"] == "ZZ"  # only cron/task headers are the caller's
    forwarded = headers["x-local-platform-token"]  # the services' own token, for the in-app middleware
    assert forwarded and forwarded != token


def test_the_token_an_app_sees_does_not_open_the_front_end(plain: Running) -> None:
    """An app that echoes its headers shows the token it was sent; that one cannot forge platform traffic."""
    leaked = plain.json("/headers")["headers"]["x-local-platform-token"]
    status, _, body = plain.request("GET", "/cron", headers={"X-Local-Platform-Token": leaked,
                                                             "X-Appengine-Cron": "true"})
    assert status == 403 and b"X-Local-Platform-Token" in body


def test_response_headers_app_engine_removes(plain: Running) -> None:
    status, headers, body = plain.request("GET", "/hop")
    assert (status, body, headers["x-ok"]) == (200, b"ok", "yes")
    assert headers.get("server") != "mine" and "strict-transport-security" not in headers
    assert headers["cache-control"] == "private, max-age=60"  # Set-Cookie: never public


def test_gzip_when_accepted_and_streaming(plain: Running) -> None:
    status, headers, body = plain.request("GET", "/text", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"<p>hello</p>\n" * 500
    status, headers, body = plain.request("GET", "/text")
    assert "content-encoding" not in headers and body == b"<p>hello</p>\n" * 500
    assert plain.request("GET", "/stream")[2] == b"".join(f"chunk {i}\n".encode() for i in range(5))


def test_limits(plain: Running) -> None:
    assert plain.request("GET", "/big-header")[0] == 502
    assert plain.request("GET", "/big-body")[0] == 500
    assert plain.request("GET", "/h", headers={"X-Long": "v" * 9000})[0] == 400
    assert plain.request("GET", "/h", headers={"X-Long": "v" * 7000})[0] == 200
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (32 * 1024 * 1024 + 1))
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    status, _, body = plain.request("POST", "/echo", body=b"x" * (5 * 1024 * 1024))
    assert status == 200 and json.loads(body)["body_length"] == 5 * 1024 * 1024


def _exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes on a fresh connection and read until the front end closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_malformed_requests_are_400_in_one_line_without_traceback(plain: Running) -> None:
    bad = [
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /h HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    for raw in bad:
        assert _exchange(plain.port, raw).startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), raw
    log = plain.wait_for_log("OPTIONS * 400")
    assert "refused a malformed request (400 " in log
    assert "Traceback" not in log and "front end error" not in log


def test_absolute_form_and_pipelined_requests(plain: Running) -> None:
    # A proxy-style target reaches the app as its path; the front end's own address is the app's base.
    answer = _exchange(plain.port, b"GET http://elsewhere.example/abs?q=1 HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n")
    report = json.loads(answer[answer.index(b"{"):answer.rindex(b"}") + 1])
    assert answer.startswith(b"HTTP/1.1 200") and (report["path"], report["query"]) == ("/abs", "q=1")
    answer = _exchange(plain.port, b"GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /static/site.css HTTP/1.1\r\nHost: x\r\n\r\n"
                                   b"POST /p/3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert answer.index(b'"/p/1"') < answer.index(b"X-Static-Marker") < answer.index(b'"/p/3"')


def test_expect_100_continue_and_head(plain: Running) -> None:
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hello")
        answer = b""
        while b'"body_length"' not in answer:
            answer += sock.recv(65536)
        assert b'"body_length": 5' in answer and b"expect" not in answer.lower()  # the app got no Expect
    status, headers, body = plain.request("HEAD", "/text")
    assert (status, body) == (200, b"") and headers["content-type"].startswith("text/html")


def test_a_streamed_body_over_32_mb_is_cut_off(plain: Running) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=30)
    try:
        conn.request("GET", "/bigstream?mb=33")
        response = conn.getresponse()
        assert response.status == 200  # already sent when the limit was passed
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        conn.close()
    assert "passed 32 MB" in plain.wait_for_log("passed 32 MB")


def test_half_open_and_slow_body_clients_are_cut_off(plain: Running) -> None:
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as sock:
        sock.sendall(b"GET /never-finished HTTP/1.1\r\nHost: x\r\n")  # headers never end
        assert sock.recv(4096) == b""  # closed by the front end's idle timer
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")  # body never ends
        assert sock.recv(4096).startswith(b"HTTP/1.1 408")
    assert "/never-finished" not in json.dumps(plain.json("/after-slow")["seen"])


def test_slow_clients_never_hold_the_app(plain: Running) -> None:
    """The app runs one sync worker: had a slow client held it, the other requests here would hang."""
    with socket.create_connection(("127.0.0.1", plain.port), timeout=30) as reader, \
            socket.create_connection(("127.0.0.1", plain.port), timeout=30) as uploader:
        reader.sendall(b"GET /bigstream HTTP/1.1\r\nHost: x\r\n\r\n")  # 24 MB it does not read yet
        uploader.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")  # body unfinished
        # Served while both are pending, and after the app answered /bigstream in full.
        for _ in range(100):
            if "/bigstream" in plain.json("/meanwhile", timeout=10)["seen"]:
                break
        else:
            raise AssertionError("the app never got /bigstream")
        uploader.sendall(b"defghij")
        answer = b""
        while b"}" not in answer:
            chunk = uploader.recv(65536)
            assert chunk
            answer += chunk
        assert b'"body_length": 10' in answer
        received = 0
        while received < 24 * 1024 * 1024:
            chunk = reader.recv(1024 * 1024)
            assert chunk
            received += len(chunk)


def test_keep_alive_serves_several_requests_on_one_connection(plain: Running) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=30)
    try:
        for i in range(3):
            conn.request("GET", f"/ka/{i}")
            resp = conn.getresponse()
            assert json.loads(resp.read())["path"] == f"/ka/{i}"
    finally:
        conn.close()


def test_each_service_port_and_access_lines(plain: Running) -> None:
    service_url = str(plain.state["services"]["default"])  # type: ignore[index]
    port = int(service_url.rsplit(":", 1)[1])
    assert plain.json("/direct", port=port)["path"] == "/direct"
    assert " ms app" in plain.wait_for_log("[default] GET /direct 200 ")


def test_the_runner_state_file(plain: Running) -> None:
    path: Path = plain.app_dir / ".local" / "runner.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert plain.state["front_end_url"] == plain.url


def test_request_timeout_is_504(plain: Running) -> None:
    # Last in this file: the app's one worker sleeps on after the front end gave up.
    assert plain.request("GET", "/slow?s=10")[0] == 504
