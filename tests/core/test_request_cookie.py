"""framework.wrappers.request_cookie reads one cookie as `request.cookies.get(name)` does (werkzeug's
parse_cookie), for headers in the plain browser form it reads directly and for every other header."""

from __future__ import annotations

import random

import pytest
from werkzeug.sansio.http import parse_cookie

from framework.wrappers import Request, request_cookie

HEADERS = [
    "session=abc.def-ghi_jkl", "a=1; session=x; session=y", "session=", "session", "session=a=b=c",
    "other=1", "session =x", "session= x", " session=x", "session=x;", "session=x; ", "session=x;other=y",
    'session="quoted"', 'session="a\\"b"', "session=x;; other=1", "session=ü; k=v", "sessión=x",
    "a=1;\tsession=x", "a=1;  session=x", "=x; session=y", "session=x\r\n", "", ";", "session=a b",
]


def _request(header: str | None) -> Request:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http"}
    if header is not None:
        environ["HTTP_COOKIE"] = header
    return Request(environ)


@pytest.mark.parametrize("header", [*HEADERS, None])
def test_named_headers(header: str | None) -> None:
    for name in ("session", "other", "a", "k", "missing"):
        expected = parse_cookie(header or "").get(name)
        assert request_cookie(_request(header), name) == expected, (header, name)
        assert _request(header).cookies.get(name) == expected


def test_random_headers() -> None:
    rng = random.Random(14)
    alphabet = ["session", "s", "a", "=", ";", "; ", " ", "\t", '"', "\\", "x", "ü", "-", ".", "k=v"]
    for _ in range(2000):
        header = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for name in ("session", "s", "a", "k"):
            assert request_cookie(_request(header), name) == parse_cookie(header).get(name), (header, name)


def test_cookies_already_parsed_or_replaced_are_used() -> None:
    request = _request("session=x")
    request.cookies  # noqa: B018 - parsed now
    request.__dict__["cookies"] = {"session": "from-the-parsed-mapping"}
    assert request_cookie(request, "session") == "from-the-parsed-mapping"
