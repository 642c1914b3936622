"""The session cookie's kept serializer (framework.sessions._CookieSerializer) against itsdangerous.

Same tokens at the same signing time, same values back, and for every bad token the same exception
type and message as itsdangerous' URLSafeTimedSerializer gives.
"""

from __future__ import annotations

import typing as t

import itsdangerous
import pytest
from itsdangerous import URLSafeTimedSerializer

from framework.sessions import SecureCookieSessionInterface, _CookieSerializer, session_json_serializer

KEYS = ["an-old-rotation-key-0d5e1f2a3b4c5d6e7f", "current-key-9a8b7c6d5e4f3a2b1c0d9e8f7a6b"]
NOW = 1_764_000_000


@pytest.fixture(autouse=True)
def _fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: NOW)


def _pair(keys: list[str] = KEYS) -> tuple[URLSafeTimedSerializer, URLSafeTimedSerializer]:
    interface = SecureCookieSessionInterface()
    kwargs: dict[str, t.Any] = {
        "salt": interface.salt, "serializer": session_json_serializer,
        "signer_kwargs": {"key_derivation": interface.key_derivation, "digest_method": interface.digest_method},
    }
    return _CookieSerializer(keys, **kwargs), URLSafeTimedSerializer(keys, **kwargs)


VALUES: list[t.Any] = [
    {}, {"user": "ada", "visits": 3}, {"n": 1.5, "none": None, "t": (1, 2), "b": b"\x00\xff"},
    {"long": "x" * 500}, {" t": "looks like a tag"}, {"nested": {"a": [1, {"b": (2,)}]}},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_token_and_value(value: t.Any) -> None:
    ours, theirs = _pair()
    token = ours.dumps(value)
    assert token == theirs.dumps(value)
    assert ours.loads(token, max_age=60) == theirs.loads(token, max_age=60) == value


def test_a_token_signed_with_an_older_key_still_loads() -> None:
    old, _ = _pair(KEYS[:1])
    ours, theirs = _pair()
    token = old.dumps({"a": 1})
    assert ours.loads(token, max_age=60) == theirs.loads(token, max_age=60) == {"a": 1}


def _bad_tokens() -> dict[str, str]:
    ours, _ = _pair()
    good = ours.dumps({"a": 1})
    payload, stamp, signature = good.split(".")
    other, _ = _pair(["some-other-key-entirely-1f2e3d4c5b6a79"])
    return {
        "no dot": "abc", "empty": "", "bad signature": f"{payload}.{stamp}.AAAA",
        "other key": other.dumps({"a": 1}), "garbage base64": f"{payload}.{stamp}.!!!",
        "no timestamp": itsdangerous.Signer(
            KEYS, salt=ours.salt, key_derivation="hmac", digest_method=SecureCookieSessionInterface.digest_method
        ).sign(payload).decode(),
        "truncated": good[:-3], "non-ascii": good + "é",
    }


def _outcome(serializer: URLSafeTimedSerializer, token: str) -> tuple[t.Any, ...]:
    try:
        return ("loaded", serializer.loads(token, max_age=60))
    except Exception as e:
        return (type(e), str(e))


@pytest.mark.parametrize("name", sorted(_bad_tokens()))
def test_bad_tokens_get_what_itsdangerous_gives(name: str) -> None:
    token = _bad_tokens()[name]
    ours, theirs = _pair()
    assert _outcome(ours, token) == _outcome(theirs, token)
    if name != "non-ascii":  # itsdangerous' non-strict base64 skips the extra character
        assert _outcome(theirs, token)[0] != "loaded"


@pytest.mark.parametrize("age", [61, -5])
def test_expired_or_future_tokens(monkeypatch: pytest.MonkeyPatch, age: int) -> None:
    ours, theirs = _pair()
    token = ours.dumps({"a": 1})
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: NOW + age)
    with pytest.raises(itsdangerous.SignatureExpired) as expected:
        theirs.loads(token, max_age=60)
    with pytest.raises(itsdangerous.SignatureExpired) as got:
        ours.loads(token, max_age=60)
    assert str(got.value) == str(expected.value)


def test_signed_but_undecodable_payload() -> None:
    ours, theirs = _pair()
    signer = theirs.make_signer()
    token = signer.sign(b"not-base64-json!").decode()
    with pytest.raises(itsdangerous.BadPayload):
        theirs.loads(token, max_age=60)
    with pytest.raises(itsdangerous.BadPayload):
        ours.loads(token, max_age=60)


ATTRS: list[dict[str, t.Any]] = [
    {"domain": None, "path": "/", "secure": False, "partitioned": False, "samesite": None, "httponly": True},
    {"domain": ".example.com", "path": "/app path", "secure": True, "partitioned": True, "samesite": "lax", "httponly": False},
    {"domain": "bücher.example:8080", "path": "/", "secure": False, "partitioned": False, "samesite": "Strict", "httponly": True},
]


@pytest.mark.parametrize("attrs", ATTRS, ids=range(len(ATTRS)))
@pytest.mark.parametrize(("name", "value"), [("session", "eyJhIjoxfQ.aBc.x-y_z"), ("s", 'needs "quotes"; really'),
                                              ("ké", "v"), ("session", "x" * 5000)])
def test_cookie_header_is_dump_cookies(attrs: dict[str, t.Any], name: str, value: str) -> None:
    from werkzeug.http import dump_cookie

    from framework.sessions import _session_cookie_header

    header = _session_cookie_header(name, value, attrs, 4093)
    if name == "session" and len(value) < 100:
        assert header is not None  # the direct route is taken for a plain session cookie
    if header is not None:
        assert header == dump_cookie(name, value, **attrs, max_size=4093)


def test_a_bad_samesite_is_refused_as_werkzeug_refuses_it() -> None:
    from framework.sessions import _session_cookie_header

    attrs = {**ATTRS[0], "samesite": "sometimes"}
    with pytest.raises(ValueError, match="SameSite"):
        _session_cookie_header("session", "v", attrs, 4093)


def test_a_remembered_token_is_checked_for_age_again(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _ = _pair()
    token = ours.dumps({"a": 1})
    first = ours.loads(token, max_age=60)
    first["a"] = 2  # the caller's copy: the next load parses afresh
    assert ours.loads(token, max_age=60) == {"a": 1}
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: NOW + 61)
    with pytest.raises(itsdangerous.SignatureExpired):
        ours.loads(token, max_age=60)
    tampered = ("x" if token[0] != "x" else "y") + token[1:]  # another payload under the remembered signature
    assert _outcome(ours, tampered)[0] is itsdangerous.BadTimeSignature
