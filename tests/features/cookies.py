"""Test helper: session cookies with a valid signature over any payload text, as the app's key would sign it."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer


class _Raw:
    """Passes the payload through unchanged, so any text (valid JSON or not) can be signed."""

    @staticmethod
    def dumps(value: str) -> str:
        return value

    @staticmethod
    def loads(value: str) -> str:
        return value


def _signer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="cookie-session", serializer=_Raw, signer_kwargs={"key_derivation": "hmac"})


def signed(key: str, payload: str) -> str:
    """A session cookie value whose signature is valid for `key`, carrying `payload` as the JSON text."""
    token = _signer(key).dumps(payload)
    return token.decode() if isinstance(token, bytes) else token


def signed_token(key: str, encoded_payload: bytes) -> str:
    """A valid signature over an already encoded payload (e.g. a broken compressed one)."""
    return _signer(key).make_signer("cookie-session").sign(encoded_payload).decode()
