"""The session cookie's kept serializer (framework.sessions._CookieSerializer) against itsdangerous.

Same tokens at the same signing time, same values back, and for every bad token the same exception
type and message as itsdangerous' URLSafeTimedSerializer gives.
"""

from __future__ import annotations

import hmac
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


def test_a_token_it_signed_loads_without_a_signature_check_but_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = _pair()
    token = ours.dumps({"user": "ada", "n": 1})
    checks: list[bytes] = []
    real_digest = hmac.digest

    def counting_digest(key: bytes, msg: bytes, digest: t.Any) -> bytes:
        checks.append(msg)
        return real_digest(key, msg, digest)

    monkeypatch.setattr(hmac, "digest", counting_digest)
    assert ours.loads(token, max_age=60) == {"user": "ada", "n": 1}
    assert checks == []  # remembered when signed: the browser's next request does not re-verify it
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: NOW + 61)
    with pytest.raises(itsdangerous.SignatureExpired):
        ours.loads(token, max_age=60)
    with pytest.raises(itsdangerous.SignatureExpired):
        theirs.loads(token, max_age=60)


@pytest.mark.parametrize("where", [0, -1, -12])
def test_a_changed_byte_of_a_remembered_token_is_verified_and_refused(where: int) -> None:
    ours, theirs = _pair()
    token = ours.dumps({"user": "ada", "n": 1})
    assert ours.loads(token, max_age=60) == {"user": "ada", "n": 1}
    i = where % len(token)
    tampered = token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1:]
    assert _outcome(ours, tampered) == _outcome(theirs, tampered)
    assert _outcome(ours, tampered)[0] != "loaded"


def test_each_load_of_a_remembered_token_gets_its_own_value() -> None:
    ours, theirs = _pair()
    token = ours.dumps({"user": "ada", "n": 1, "x": None, "f": 1.5, "ok": True})
    first = ours.loads(token, max_age=60)  # parsed, and kept as a flat value
    second = ours.loads(token, max_age=60)  # a copy of the kept value
    first["user"] = "eve"
    second["n"] = 99
    second.clear()
    third = ours.loads(token, max_age=60)
    assert third == {"user": "ada", "n": 1, "x": None, "f": 1.5, "ok": True}
    assert third is not first and third is not second
    assert list(third) == list(theirs.loads(token, max_age=60))  # the JSON's key order, as itsdangerous gives


def test_nested_values_are_parsed_afresh_every_time() -> None:
    ours, _ = _pair()
    token = ours.dumps({"cart": [1, 2], "t": (1, 2)})
    first = ours.loads(token, max_age=60)
    first["cart"].append(3)
    assert ours.loads(token, max_age=60) == {"cart": [1, 2], "t": (1, 2)}


def test_a_tag_registered_after_a_load_applies_to_the_next() -> None:
    from framework.json.tag import JSONTag, TaggedJSONSerializer

    class TagShout(JSONTag):
        __slots__ = ()
        key = " shout"

        def check(self, value: t.Any) -> bool:
            return False

        def to_json(self, value: t.Any) -> t.Any:
            return value

        def to_python(self, value: t.Any) -> t.Any:
            return value.upper()

    tags = TaggedJSONSerializer()
    interface = SecureCookieSessionInterface()
    ours = _CookieSerializer(
        KEYS, salt=interface.salt, serializer=tags,
        signer_kwargs={"key_derivation": interface.key_derivation, "digest_method": interface.digest_method},
    )
    token = ours.dumps({" shout": "hello"})
    assert ours.loads(token, max_age=60) == {" shout": "hello"}
    assert ours.loads(token, max_age=60) == {" shout": "hello"}
    tags.register(TagShout)
    assert ours.loads(token, max_age=60) == "HELLO"


def test_remembered_tokens_are_bounded() -> None:
    from framework import sessions

    ours, theirs = _pair()
    tokens = [ours.dumps({"i": i}) for i in range(sessions._VERIFIED_MAX + 10)]
    assert len(ours._verified) == sessions._VERIFIED_MAX
    assert ours.loads(tokens[0], max_age=60) == theirs.loads(tokens[0], max_age=60) == {"i": 0}  # verified again
    assert ours.loads(tokens[-1], max_age=60) == {"i": sessions._VERIFIED_MAX + 9}
