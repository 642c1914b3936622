"""The conformance requests and what each must answer, independent of the host."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.conformance.hosts import HOST_HEADER, Reply

BIG_BODY = bytes(range(256)) * (6 * 1024) + b"tail"  # 1.5 MiB + 4 bytes
BOUNDARY = "conformance-boundary-7d3f"


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, str, bytes]]) -> bytes:
    """A multipart/form-data body: plain fields, then files (field, filename, content type, content)."""
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + value.encode() + b"\r\n")
    for name, filename, ctype, content in files:
        head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n")
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _json(reply: Reply) -> object:
    return json.loads(reply.body)


@dataclass(frozen=True)
class Case:
    """A request and the host-independent checks on its reply."""

    id: str
    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    check: Callable[[Reply], None] | None = None


def _expect_json(expected: object) -> Callable[[Reply], None]:
    def check(reply: Reply) -> None:
        assert reply.header("Content-Type") == "application/json"
        assert _json(reply) == expected

    return check


def _expect_body(expected: bytes, content_type: str | None = None) -> Callable[[Reply], None]:
    def check(reply: Reply) -> None:
        assert reply.body == expected
        if content_type is not None:
            assert reply.header("Content-Type") == content_type

    return check


def _check_upload(reply: Reply) -> None:
    data = _json(reply)
    assert data["form"] == {"title": ["Résumé"]}
    assert data["files"]["doc"] == [
        {"filename": "notes ✓.txt", "content_type": "text/plain", "sha256": hashlib.sha256(b"hello\n").hexdigest()},
        {"filename": "blob.bin", "content_type": "application/octet-stream",
         "sha256": hashlib.sha256(BIG_BODY[:70000]).hexdigest()},
    ]


def _check_stream(reply: Reply) -> None:
    assert reply.body == b"".join(f"chunk {i} of 5\n".encode() for i in range(5))
    assert reply.header("Content-Length") is None


def _check_error_page(code: int) -> Callable[[Reply], None]:
    def check(reply: Reply) -> None:
        assert reply.header("Content-Type", ) == "text/html; charset=utf-8"
        assert str(code).encode() in reply.body

    return check


def _check_405(reply: Reply) -> None:
    assert reply.header("Allow") is not None
    assert set(reply.header("Allow").split(", ")) == {"POST", "PUT", "OPTIONS"}


def _check_options(reply: Reply) -> None:
    assert set((reply.header("Allow") or "").split(", ")) == {"POST", "PUT", "OPTIONS"}
    assert reply.body == b""


def _check_head(reply: Reply) -> None:
    assert reply.body == b""
    assert reply.header("Content-Length") == str(len("plain text ✓\n".encode()))


def _check_headers(reply: Reply) -> None:
    assert _json(reply) == {"headers": {"X-Conf-One": "1", "X-Conf-Two": "two  words, and more"},
                            "user_agent": "conformance/1.0"}


def _check_target(script_root: str) -> Callable[[Reply], None]:
    def check(reply: Reply) -> None:
        assert _json(reply) == {
            "external": f"http://{HOST_HEADER}{script_root}/target", "relative": f"{script_root}/target",
            "root": f"http://{HOST_HEADER}{script_root}/", "script_root": script_root, "host": HOST_HEADER,
            "scheme": "http",
        }

    return check


def _expect_header(name: str, value: str) -> Callable[[Reply], None]:
    def check(reply: Reply) -> None:
        assert reply.header(name) == value, reply.headers

    return check


def _check_cookies_set(reply: Reply) -> None:
    assert sorted(reply.header_list("Set-Cookie")) == [
        'plain="value one"; Path=/', "strict=2; HttpOnly; Path=/; SameSite=Strict"]


def _check_custom_error(reply: Reply) -> None:
    assert reply.body == b"custom gone page\n" and reply.header("X-Handler") == "gone"


def _check_big_download(reply: Reply) -> None:
    assert reply.body == b"0123456789abcdef" * (1024 * 96)
    assert reply.header("Content-Length") == str(16 * 1024 * 96)


def _check_hooks(reply: Reply) -> None:
    assert reply.header("X-After-This-Request") == "before_request,view"
    assert _json(reply) == {"trail": ["before_request", "view"], "name": "anné"}


FORM = "tag=a&tag=b&name=Ren%C3%A9e+%26+co&empty="
JSON_HEADERS = {"Content-Type": "application/json"}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

CASES: list[Case] = [
    Case("text", "GET", "/text", 200, check=_expect_body("plain text ✓\n".encode(), "text/html; charset=utf-8")),
    Case("json", "GET", "/json", 200,
         check=_expect_json({"number": 1, "list": [1, 2, 3], "unicode": "é✓", "none": None})),
    Case("bytes", "GET", "/bytes", 200, check=_expect_body(bytes(range(256)), "application/octet-stream")),
    Case("unicode-path-query", "GET", "/unicode/caf%C3%A9%20%E2%9C%93?q=%E2%9C%93+x%2By", 200,
         check=_expect_json({"name": "café ✓", "q": "✓ x+y", "path": "/unicode/café ✓",
                             "full_path": "/unicode/café ✓?q=%E2%9C%93+x%2By"})),
    Case("repeated-query-keys", "GET", "/query?a=1&a=2&b=&a=3&c=%20x", 200,
         check=_expect_json({"args": {"a": ["1", "2", "3"], "b": [""], "c": [" x"]},
                             "query_string": "a=1&a=2&b=&a=3&c=%20x"})),
    Case("form-post", "POST", "/form", 200, FORM_HEADERS, FORM.encode(),
         check=_expect_json({"form": {"tag": ["a", "b"], "name": ["Renée & co"], "empty": [""]}})),
    Case("form-put", "PUT", "/form", 200, FORM_HEADERS, b"x=1",
         check=_expect_json({"form": {"x": ["1"]}})),
    Case("multipart-upload", "POST", "/upload", 200,
         {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
         multipart([("title", "Résumé")], [("doc", "notes ✓.txt", "text/plain", b"hello\n"),
                                            ("doc", "blob.bin", "application/octet-stream", BIG_BODY[:70000])]),
         check=_check_upload),
    Case("json-body", "POST", "/json-body", 200, JSON_HEADERS, json.dumps({"a": [1, "é"]}).encode(),
         check=_expect_json({"received": {"a": [1, "é"]}, "is_json": True})),
    Case("json-body-malformed", "POST", "/json-body", 400, JSON_HEADERS, b'{"a": ', check=_check_error_page(400)),
    Case("json-body-not-utf8", "POST", "/json-body", 400, JSON_HEADERS, b'{"a": "\xff"}'),
    Case("json-body-wrong-type", "POST", "/json-body", 415, {"Content-Type": "text/plain"}, b"{}"),
    Case("redirect", "GET", "/redirect", 302, check=_expect_header("Location", "/target?x=1")),
    Case("redirect-external", "GET", "/redirect-external", 301,
         check=_expect_header("Location", f"http://{HOST_HEADER}/target")),
    Case("url-for-external", "GET", "/target", 200, check=_check_target("")),
    Case("forwarded-headers-not-trusted", "GET", "/target", 200,
         {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil",
          "X-Forwarded-For": "203.0.113.9"}, check=_check_target("")),
    Case("mounted-redirect", "GET", "/mounted/redirect", 302, check=_expect_header("Location", "/mounted/target?x=1")),
    Case("mounted-redirect-external", "GET", "/mounted/redirect-external", 301,
         check=_expect_header("Location", f"http://{HOST_HEADER}/mounted/target")),
    Case("mounted-url-for-external", "GET", "/mounted/target", 200, check=_check_target("/mounted")),
    Case("cookies-set", "GET", "/cookie/set", 200,
         check=_check_cookies_set),
    Case("cookies-sent", "GET", "/cookie/get", 200, {"Cookie": 'a=1; b=two; c=%C3%A9; d="quoted value"'},
         check=_expect_json({"cookies": {"a": "1", "b": "two", "c": "%C3%A9", "d": "quoted value"}})),
    Case("streaming", "GET", "/stream", 200, check=_check_stream),
    Case("head", "HEAD", "/text", 200, check=_check_head),
    Case("options", "OPTIONS", "/form", 200, check=_check_options),
    Case("delete", "DELETE", "/methods", 200, check=_expect_json({"method": "DELETE"})),
    Case("not-found", "GET", "/missing/page", 404, check=_check_error_page(404)),
    Case("method-not-allowed", "GET", "/form", 405, check=_check_405),
    Case("too-large", "POST", "/limited", 413, {"Content-Type": "application/octet-stream"}, b"x" * 2048,
         check=_check_error_page(413)),
    Case("within-limit", "POST", "/limited", 200, {"Content-Type": "application/octet-stream"}, b"x" * 1000,
         check=_expect_json({"size": 1000})),
    Case("server-error", "GET", "/boom", 500, check=_check_error_page(500)),
    Case("custom-error-code", "GET", "/gone", 410,
         check=_check_custom_error),
    Case("custom-error-class", "GET", "/unprocessable", 422,
         check=_expect_json({"error": "unprocessable", "detail": "bad widget"})),
    Case("big-upload", "POST", "/big", 200, {"Content-Type": "application/octet-stream"}, BIG_BODY,
         check=_expect_json({"size": len(BIG_BODY), "sha256": hashlib.sha256(BIG_BODY).hexdigest()})),
    Case("big-download", "GET", "/big", 200,
         check=_check_big_download),
    Case("request-hooks", "GET", "/hooks/ann%C3%A9", 200,
         check=_check_hooks),
    Case("headers-echoed", "GET", "/headers", 200,
         {"X-Conf-One": "1", "X-Conf-Two": "two  words, and more", "User-Agent": "conformance/1.0", "X-Other": "no"},
         check=_check_headers),
]
