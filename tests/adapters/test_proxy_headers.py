"""The front-end middlewares' quick reading of X-Forwarded-* lists gives werkzeug's own answer for any value."""

from __future__ import annotations

import random

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from framework.adapters.front_end import AppEngineMiddleware, proxy_fix_class

ALPHABET = ['1', '2', '.', ':', 'a', 'f', ',', ',', ' ', '\t', '"', '\\', 'x', ';', '=', '[', ']']

SAMPLES = [
    "", ",", " , ", "1.2.3.4", "1.2.3.4, 169.254.1.1", "a,,b", "a, ", "a,", ",a", " a ,\tb\t, c ",
    "2001:db8::1, 169.254.1.1", '"1.2.3.4", 169.254.1.1', '"a,b", c', 'a, "b', 'x\\, y', "\ta\t,\t",
    "https", "http, https", "1.1.1.1, 2.2.2.2, 3.3.3.3",
]


def random_values(count: int) -> list[str]:
    rng = random.Random(1411)
    return [''.join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 24))) for _ in range(count)]


@pytest.mark.parametrize("trusted", [0, 1, 2, 3])
def test_same_value_as_werkzeug(trusted: int) -> None:
    quick, plain = proxy_fix_class()(None), ProxyFix(None)
    values = SAMPLES + random_values(5000)
    assert sum('"' not in v and "," in v for v in values) > 1000  # the quick path is really exercised
    for value in [None, *values]:
        assert quick._get_real_value(trusted, value) == plain._get_real_value(trusted, value), repr(value)


def test_quick_class_is_werkzeugs_proxy_fix() -> None:
    assert issubclass(proxy_fix_class(), ProxyFix)
    assert proxy_fix_class() is proxy_fix_class()


def test_app_engine_middleware_reads_client_and_scheme() -> None:
    seen: dict[str, object] = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "REMOTE_ADDR": "169.254.1.1", "wsgi.url_scheme": "http",
        "HTTP_HOST": "example.com", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9 ,169.254.1.1",
        "HTTP_X_FORWARDED_PROTO": "http, https",
    }
    AppEngineMiddleware(app)(environ, lambda status, headers, exc_info=None: None)
    assert seen["REMOTE_ADDR"] == "203.0.113.9"  # the entry before Google's hop; the forged one is ignored
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["werkzeug.proxy_fix.orig"]["REMOTE_ADDR"] == "169.254.1.1"
