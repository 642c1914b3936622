"""The front-end middlewares set REMOTE_ADDR and the scheme exactly as werkzeug's ProxyFix does, checked against it."""

from __future__ import annotations

import random
from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from framework.adapters.appengine import TRUSTED_ENVIRON_KEY, parse_ip
from framework.adapters.front_end import AppEngineMiddleware, CloudRunMiddleware, trusted_entry

ALPHABET = ["1", "2", ".", ":", "a", "f", ",", ",", " ", "\t", '"', "\\", "x", ";", "=", "[", "]"]

SAMPLES = [
    "", ",", " , ", "1.2.3.4", "1.2.3.4, 169.254.1.1", "a,,b", "a, ", "a,", ",a", " a ,\tb\t, c ",
    "2001:db8::1, 169.254.1.1", '"1.2.3.4", 169.254.1.1', '"a,b", c', 'a, "b', "x\\, y", "\ta\t,\t",
    "https", "http, https", "1.1.1.1, 2.2.2.2, 3.3.3.3", "6.6.6.6, 203.0.113.9 ,169.254.1.1", "not-an-ip, 1.1.1.1",
]


def random_values(count: int, seed: int = 1411) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 24))) for _ in range(count)]


VALUES = SAMPLES + random_values(4000)


def test_values_exercise_every_branch() -> None:
    assert sum('"' not in v and "," in v for v in VALUES) > 1000
    assert sum('"' not in v and "," not in v and v.strip() != "" for v in VALUES) > 200
    assert sum('"' in v for v in VALUES) > 1000


@pytest.mark.parametrize("trusted", [1, 2, 3])
def test_trusted_entry_is_werkzeugs(trusted: int) -> None:
    werkzeug = ProxyFix(None)
    for value in [None, *VALUES]:
        assert trusted_entry(value, trusted) == werkzeug._get_real_value(trusted, value), repr(value)


def _environ(xff: str | None, proto: str | None, user_ip: str | None) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "REMOTE_ADDR": "169.254.1.1", "wsgi.url_scheme": "http",
        "HTTP_HOST": "example.com", "SERVER_NAME": "0.0.0.0", "SERVER_PORT": "8081", "SCRIPT_NAME": "",
    }
    for key, value in (("HTTP_X_FORWARDED_FOR", xff), ("HTTP_X_FORWARDED_PROTO", proto),
                       ("HTTP_X_APPENGINE_USER_IP", user_ip)):
        if value is not None:
            environ[key] = value
    return environ


def _seen(middleware: type, environ: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        return []

    middleware(app)(environ, lambda status, headers, exc_info=None: None)
    return seen


def _proxy_fixed(environ: dict[str, Any], **hops: int) -> dict[str, Any]:
    """The environ werkzeug's ProxyFix hands on, without the copy of the values it replaced."""
    seen = _seen(lambda app: ProxyFix(app, **hops), environ)
    del seen["werkzeug.proxy_fix.orig"]
    return seen


def _app_engine_reference(environ: dict[str, Any]) -> dict[str, Any]:
    """What App Engine's middleware must hand on: ProxyFix(x_for=2, x_proto=1), then X-Appengine-User-IP
    (when an address) over it, and the socket's address when the forwarded one is not an address."""
    socket_address = environ["REMOTE_ADDR"]
    seen = _proxy_fixed(environ, x_for=2, x_proto=1)
    user_ip = parse_ip(seen.get("HTTP_X_APPENGINE_USER_IP"))
    if user_ip is not None:
        seen["REMOTE_ADDR"] = user_ip
    elif parse_ip(seen["REMOTE_ADDR"]) is None:
        seen["REMOTE_ADDR"] = socket_address
    seen[TRUSTED_ENVIRON_KEY] = True
    return seen


def test_app_engine_middleware_matches_proxy_fix() -> None:
    rng = random.Random(7)
    ips = ["203.0.113.9", "2001:db8::1", "bogus", "", None]
    cases = [(xff, proto, rng.choice(ips)) for xff, proto in zip(VALUES, reversed(VALUES), strict=True)]
    cases += [(None, None, None), ("1.2.3.4, 169.254.1.1", "https", None), ("1.2.3.4", "https", None)]
    for xff, proto, user_ip in cases:
        assert _seen(AppEngineMiddleware, _environ(xff, proto, user_ip)) == _app_engine_reference(
            _environ(xff, proto, user_ip)), (xff, proto, user_ip)


def test_cloud_run_middleware_is_proxy_fix_for_the_scheme() -> None:
    for xff, proto in zip(VALUES, reversed(VALUES), strict=True):
        ours = _seen(CloudRunMiddleware, _environ(xff, proto, None))
        assert ours == _proxy_fixed(_environ(xff, proto, None), x_for=0, x_proto=1)


def test_app_engine_middleware_reads_client_and_scheme() -> None:
    seen = _seen(AppEngineMiddleware, _environ("6.6.6.6, 203.0.113.9 ,169.254.1.1", "http, https", None))
    assert seen["REMOTE_ADDR"] == "203.0.113.9"  # the entry before Google's hop; the forged one is ignored
    assert seen["wsgi.url_scheme"] == "https"
    assert seen[TRUSTED_ENVIRON_KEY] is True
    assert _seen(AppEngineMiddleware, _environ("1.2.3.4, 169.254.1.1", None, "198.51.100.4"))["REMOTE_ADDR"] == (
        "198.51.100.4")
    assert _seen(AppEngineMiddleware, _environ("junk, 169.254.1.1", None, None))["REMOTE_ADDR"] == "169.254.1.1"
