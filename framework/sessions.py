"""Sessions: the pluggable `SessionInterface` and the default signed-cookie session on itsdangerous.

Imported on first use of `app.session_interface`, never by `import framework`.
Secure by default on Google's hosts (App Engine standard, Cloud Run / Functions): a missing or
weak SECRET_KEY is refused (sessions stay empty and read-only, signing raises; framework.secrets also
stops the app at startup), the session cookie is always sent with `Secure` (those hosts serve the app
over HTTPS; App Engine's http:// URLs simply get no session), and SameSite defaults to "Lax" there
unless SESSION_COOKIE_SAMESITE is set.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import re
import typing as t
import zlib
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import bytes_to_int, int_to_bytes
from itsdangerous.signer import HMACAlgorithm
from werkzeug.datastructures import CallbackDict, Headers
from werkzeug.http import dump_cookie
from werkzeug.sansio.response import Response as _WResponse

from . import secrets as _secrets
from .json.tag import TaggedJSONSerializer
from .lazy import lazy_pattern
from .platform import on_google_host
from .wrappers import request_cookie

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from .app import App

#: Serializer of the cookie payload: tagged JSON (tuples, bytes, Markup, UUID, datetime survive).
session_json_serializer = TaggedJSONSerializer()

#: Well-known example values that must never sign sessions on Google's hosts (see framework.secrets).
PLACEHOLDER_KEYS = _secrets.PLACEHOLDER_KEYS
#: Shortest SECRET_KEY accepted on Google's hosts.
MIN_SECRET_KEY_BYTES = _secrets.MIN_KEY_LENGTH

_HOW_TO_SET = (
    "Set a long random secret key: app.secret_key = ..., or SECRET_KEY in the config, for example from the "
    "FRAMEWORK_SECRET_KEY environment variable with app.config.from_prefixed_env() (on Google's hosts a "
    "secret://projects/P/secrets/NAME/versions/latest reference to Secret Manager). "
    f"Generate one with: {_secrets.GENERATE_COMMAND}"
)


def weak_secret_key_reason(key: str | bytes | None) -> str | None:
    """Why `key` is unfit to sign sessions in production (None if it looks random): framework.secrets' rule."""
    return _secrets.weak_key_reason(key)


def _lifetime_seconds(app: App) -> int:
    value = app.config["PERMANENT_SESSION_LIFETIME"]
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def _samesite(app: App, google: bool) -> str | None:
    value = app.config["SESSION_COOKIE_SAMESITE"]
    if value is None and google:
        return "Lax"
    return value


@functools.lru_cache(maxsize=32)
def _keys_refusal(keys: tuple[str | bytes, ...]) -> str | None:
    """Why these keys (fallbacks, then the current key) are unfit on Google's hosts; None if all are strong.
    Computed once per set of keys, not per request."""
    *fallbacks, current = keys
    for label, key in (*(("SECRET_KEY_FALLBACKS entry: ", k) for k in fallbacks), ("", current)):
        reason = weak_secret_key_reason(key)
        if reason is not None:
            return label + reason
    return None


_URLSAFE_DECODE = bytes.maketrans(b"-_", b"+/")
_URLSAFE_ENCODE = bytes.maketrans(b"+/", b"-_")


def _b64decode(data: bytes) -> bytes:
    """itsdangerous' `base64_decode` of bytes (padding restored, URL-safe alphabet, non-strict)."""
    return binascii.a2b_base64((data + b"=" * (-len(data) % 4)).translate(_URLSAFE_DECODE))


def _b64encode(data: bytes) -> bytes:
    """itsdangerous' `base64_encode`: URL-safe base64 without padding."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE_ENCODE).rstrip(b"=")


class _CookieSerializer(URLSafeTimedSerializer):
    """itsdangerous' URLSafeTimedSerializer for the session cookie, kept from request to request: its
    keys are derived once, and `dumps` / a successful `loads` (own salt) each run in one pass. The
    tokens and values are the same as the base class's; anything else (another salt, a timestamp
    asked for, a token that fails any check) goes to the base class, which raises its own errors."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._signer = signer = t.cast(TimestampSigner, self.make_signer())
        self._digest = signer.digest_method
        # Newest key last, as itsdangerous signs with the last and verifies newest first.
        self._derived = [signer.derive_key(key) for key in self.secret_keys]
        # token -> [signing time, JSON text, None or (flat value parsed from it, tag changes then)].
        self._verified: dict[bytes, list[t.Any]] = {}
        serializer: t.Any = self.serializer
        self._tags: TaggedJSONSerializer | None = serializer if type(serializer) is TaggedJSONSerializer else None
        self._plain_signer = (
            type(signer) is TimestampSigner and signer.sep == b"." and type(signer.algorithm) is HMACAlgorithm
            and self.is_text_serializer and not self.fallback_signers
        )

    def dumps(self, obj: t.Any, salt: str | bytes | None = None) -> str:
        if salt is not None or not self._plain_signer or type(self).dump_payload is not _BASE_DUMP_PAYLOAD:
            return super().dumps(obj, salt)
        text = self.serializer.dumps(obj, **self.serializer_kwargs)
        json = text.encode("utf-8") if isinstance(text, str) else text
        compressed = zlib.compress(json)  # used only when shorter, as itsdangerous decides
        if len(compressed) < len(json) - 1:
            payload = b"." + _b64encode(compressed)
        else:
            payload = _b64encode(json)
        signed_at = self._signer.get_timestamp()
        value = payload + b"." + _b64encode(int_to_bytes(signed_at))
        token = value + b"." + _b64encode(hmac.digest(self._derived[-1], value, self._digest))
        # The browser sends this token back with its next request: remembered as verified, since
        # checking its signature could only repeat what was just computed with the newest key.
        self._remember(token, [signed_at, text if isinstance(text, str) else json.decode("utf-8"), None])
        return token.decode("utf-8")

    def loads(  # type: ignore[override]
        self, s: str | bytes, max_age: int | None = None, return_timestamp: bool = False,
        salt: str | bytes | None = None,
    ) -> t.Any:
        if (
            salt is None and not return_timestamp and max_age is not None and self._plain_signer
            and type(self).load_payload is _BASE_LOAD_PAYLOAD
        ):
            try:
                found = self._verified_payload(s, max_age)
            except Exception:
                found = None  # itsdangerous below raises its own error for it
            if found is not None:
                return found[0]
        return super().loads(s, max_age=max_age, return_timestamp=return_timestamp, salt=salt)

    def _verified_payload(self, s: str | bytes, max_age: int) -> tuple[t.Any] | None:
        """`(value,)` of a token with a good signature and age, in time; None (or an error) otherwise.

        A browser sends the same cookie with many requests: a token whose signature checked out (or
        that this serializer signed) is remembered with its signing time and JSON text (the keys
        cannot change for this serializer), so only its age is checked again. Only successes are
        remembered, keyed by the exact token, so a changed byte is a miss and is verified in full."""
        signed = s.encode("utf-8") if isinstance(s, str) else s
        known = self._verified.get(signed)
        if known is None:
            value, sep, signature = signed.rpartition(b".")
            if not sep:
                return None
            wanted = _b64decode(signature)
            for key in reversed(self._derived):
                if hmac.compare_digest(wanted, hmac.digest(key, value, self._digest)):
                    break
            else:
                return None
            payload, sep, stamp = value.rpartition(b".")
            if not sep:
                return None
            signed_at = bytes_to_int(_b64decode(stamp))
            if payload[:1] == b".":
                json = zlib.decompress(_b64decode(payload[1:]))
            else:
                json = _b64decode(payload)
            known = [signed_at, json.decode("utf-8"), None]
            self._remember(signed, known)
        if not 0 <= self._signer.get_timestamp() - known[0] <= max_age:
            return None
        flat = known[2]
        tags = self._tags
        if flat is not None and tags is not None and flat[1] == tags.changes:
            return (dict(flat[0]),)
        data = self.serializer.loads(known[1])
        if tags is not None and _is_flat(data):
            known[2] = (dict(data), tags.changes)
        return (data,)

    def _remember(self, token: bytes, entry: list[t.Any]) -> None:
        """Keep `entry` for `token`, dropping the oldest entries beyond a bound."""
        verified = self._verified
        while len(verified) >= _VERIFIED_MAX:
            try:
                del verified[next(iter(verified))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break
        verified[token] = entry


#: Verified tokens remembered per serializer (a token is at most MAX_COOKIE_SIZE, 4 KiB by default).
_VERIFIED_MAX = 256
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_flat(data: t.Any) -> bool:
    """Whether `data` is a plain dict of str keys to immutable plain scalars, so a shallow copy of it
    is as good as parsing its JSON again (while no tag is registered: the serializer counts changes)
    and no caller can reach the kept copy through the one it gets."""
    return type(data) is dict and all(type(k) is str and type(v) in _SCALARS for k, v in data.items())


_ON_GOOGLE = "_framework_on_google_host"
_NO_ATTRIBUTE: t.Any = object()
_BASE_VARY = _WResponse.vary


def _vary_cookie(response: Response) -> None:
    """`response.vary.add("Cookie")`, without parsing the header when it is absent or already "Cookie"."""
    headers = response.headers
    if type(headers) is Headers and type(response).vary is _BASE_VARY:
        for key, value in headers._list:  # headers.get("Vary"), which raises and catches a KeyError when absent
            if key.lower() == "vary":
                if value == "Cookie":
                    return
                break
        else:
            headers._list.append(("Vary", "Cookie"))  # what headers["Vary"] = "Cookie" adds to a list without one
            return
    response.vary.add("Cookie")


_BASE_SET_COOKIE = _WResponse.set_cookie
_cookie_suffixes: dict[tuple[t.Any, ...], str] = {}
_COOKIE_VALUE_AS_IS = lazy_pattern(r"[\w!#$%&'()*+\-./:<=>?@\[\]^`{|}~]*", re.A)  # werkzeug's unquoted cookie values


def _session_cookie_header(name: str, value: str, attrs: dict[str, t.Any], max_size: int) -> str | None:
    """The Set-Cookie value `dump_cookie` gives for a cookie without Expires or Max-Age, with its
    attribute part (Domain, Secure, HttpOnly, Path, SameSite, Partitioned) computed once per set of
    attributes; None when werkzeug's own code should write it (a value to quote, a warning to give,
    a name that is not ASCII, attributes werkzeug would refuse)."""
    key = (attrs["domain"], attrs["path"], attrs["secure"], attrs["httponly"], attrs["samesite"], attrs["partitioned"])
    suffix = _cookie_suffixes.get(key)
    if suffix is None:
        sample = dump_cookie("k", "v", **attrs, max_size=0)  # raises for a bad SameSite, as set_cookie would
        if not sample.startswith("k=v"):
            return None
        suffix = sample[3:]
        if len(_cookie_suffixes) < 64:
            _cookie_suffixes[key] = suffix
    if not name.isascii() or not _COOKIE_VALUE_AS_IS.fullmatch(value):
        return None
    header = f"{name}={value}{suffix}"
    if (max_size and len(header) > max_size) or "\n" in header or "\r" in header:
        return None  # werkzeug warns about the size, refuses a line break
    return header


_COOKIE_GETTERS = ("get_cookie_domain", "get_cookie_path", "get_cookie_secure", "get_cookie_partitioned",
                   "get_cookie_samesite", "get_cookie_httponly")
_plain_getters: dict[type, bool] = {}


def _plain_cookie_getters(cls: type) -> bool:
    """Whether `cls` keeps SessionInterface's get_cookie_* methods (pure config reads), checked once per class."""
    plain = _plain_getters.get(cls)
    if plain is None:
        plain = _plain_getters[cls] = all(getattr(cls, n) is getattr(SessionInterface, n) for n in _COOKIE_GETTERS)
    return plain


_BASE_DUMP_PAYLOAD = URLSafeTimedSerializer.dump_payload
_BASE_LOAD_PAYLOAD = URLSafeTimedSerializer.load_payload


class SessionMixin(MutableMapping[str, t.Any]):
    """What every session offers besides the mapping: `permanent`, `new`, `modified`, `accessed`."""

    #: Whether the backend just created this session (the default interface does not track it).
    new = False
    #: Whether the session changed; interfaces that cannot tell keep this True.
    modified = True
    #: Whether the session was used during the request (adds `Vary: Cookie`).
    accessed = False

    @property
    def permanent(self) -> bool:
        """Stored under `_permanent`: the cookie then expires after PERMANENT_SESSION_LIFETIME."""
        return self.get("_permanent", False)

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class SecureCookieSession(CallbackDict[str, t.Any], SessionMixin):
    """The default session: a dict that notes top-level changes (nested changes need `modified = True`).

    `accessed` is set by the request context whenever `session` is used (as in Flask 3.1.3), not by
    the dict itself, so code handling the session object directly (an interface) does not set it.
    """

    modified = False
    accessed = False

    def __init__(self, initial: t.Mapping[str, t.Any] | None = None) -> None:
        if type(self) is not SecureCookieSession:  # a subclass may add classes to the __init__ chain
            super().__init__(initial, _mark_modified)
            return
        # CallbackDict.__init__(initial, _mark_modified), without its frame: the dict, then on_update.
        if initial is None:
            dict.__init__(self)
        else:
            dict.__init__(self, initial)
        self.on_update = _mark_modified


def _mark_modified(session: SecureCookieSession) -> None:
    """A SecureCookieSession's `on_update`: a top-level change marks it modified."""
    session.modified = True


class NullSession(SecureCookieSession):
    """The empty, read-only session used when sessions are unavailable (no secret key)."""

    reason = "The session is unavailable because no secret key was set."

    def _fail(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise RuntimeError(f"{self.reason} {_HOW_TO_SET}")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class RefusedKeySession(NullSession):
    """Null session used on Google's hosts when the SECRET_KEY is missing or a placeholder."""

    reason = "The session is disabled on Google's hosts because the SECRET_KEY is missing or too weak."


class SessionInterface:
    """How the app opens and saves sessions; assign a subclass instance to `app.session_interface`."""

    null_session_class: type[SessionMixin] = NullSession
    pickle_based = False

    def make_null_session(self, app: App) -> SessionMixin:
        """A session that cannot be changed, for requests that cannot have a real one."""
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Whether `obj` is a null session (null sessions are never saved)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: App) -> str:
        """SESSION_COOKIE_NAME."""
        return app.config["SESSION_COOKIE_NAME"]

    def get_cookie_domain(self, app: App) -> str | None:
        """SESSION_COOKIE_DOMAIN (None: a host-only cookie)."""
        return app.config["SESSION_COOKIE_DOMAIN"]

    def get_cookie_path(self, app: App) -> str:
        """SESSION_COOKIE_PATH, else APPLICATION_ROOT."""
        return app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"]

    def get_cookie_httponly(self, app: App) -> bool:
        """SESSION_COOKIE_HTTPONLY."""
        return app.config["SESSION_COOKIE_HTTPONLY"]

    def get_cookie_secure(self, app: App) -> bool:
        """SESSION_COOKIE_SECURE; always True on Google's hosts, which serve the app over HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or on_google_host()

    def get_cookie_samesite(self, app: App) -> str | None:
        """SESSION_COOKIE_SAMESITE; when unset on Google's hosts, "Lax" (what modern browsers assume anyway)."""
        return _samesite(app, on_google_host())

    def get_cookie_partitioned(self, app: App) -> bool:
        """SESSION_COOKIE_PARTITIONED."""
        return app.config.get("SESSION_COOKIE_PARTITIONED", False)

    def get_expiration_time(self, app: App, session: SessionMixin) -> datetime | None:
        """Expiry of a permanent session's cookie (None: it lasts for the browser session)."""
        if session.permanent:
            return datetime.now(UTC) + timedelta(seconds=_lifetime_seconds(app))
        return None

    def should_set_cookie(self, app: App, session: SessionMixin) -> bool:
        """Send the cookie when the session changed, or to refresh a permanent one."""
        return session.modified or (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"])

    def open_session(self, app: App, request: Request) -> SessionMixin | None:
        """The session for `request`, or None to use a null session."""
        raise NotImplementedError

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        """Persist `session` on `response` (not called for null sessions)."""
        raise NotImplementedError


class SecureCookieSessionInterface(SessionInterface):
    """Sessions stored client-side in a cookie signed (not encrypted) with the app's SECRET_KEY."""

    salt = "cookie-session"
    digest_method = staticmethod(hashlib.sha1)
    key_derivation = "hmac"
    serializer = session_json_serializer
    session_class = SecureCookieSession

    def _keys(self, app: App) -> list[str | bytes] | None:
        key = getattr(app, "secret_key", _NO_ATTRIBUTE)  # read once (hasattr would read it too)
        if key is _NO_ATTRIBUTE:
            key = app.config.get("SECRET_KEY")
        if not key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS")
        return [*fallbacks, key] if fallbacks else [key]

    def _refusal(self, app: App, google: bool | None = None) -> str | None:
        """Why sessions are refused here (None off Google's hosts, or when every key is strong);
        `google`: whether we run on Google's hosts, when the caller already knows."""
        if not (on_google_host() if google is None else google):
            return None
        keys = self._keys(app)
        if keys is None:
            return weak_secret_key_reason(None)
        return _keys_refusal(tuple(keys))

    def _build_serializer(self, keys: list[str | bytes], cookie: bool = False) -> URLSafeTimedSerializer:
        return (_CookieSerializer if cookie else URLSafeTimedSerializer)(
            keys,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_signing_serializer(self, app: App) -> URLSafeTimedSerializer | None:
        """The itsdangerous serializer for the app's keys, None without a secret key.

        On Google's hosts a placeholder or short key raises RuntimeError instead of signing.
        """
        keys = self._keys(app)
        if keys is None:
            return None
        reason = self._refusal(app)
        if reason is not None:
            raise RuntimeError(f"Refusing to sign sessions on Google's hosts: {reason}. {_HOW_TO_SET}")
        return self._build_serializer(keys)

    def _signing_serializer(self, app: App, google: bool) -> URLSafeTimedSerializer | None:
        """`get_signing_serializer(app)`; unless a subclass replaces that, one serializer (and signer)
        per set of keys and settings, kept for later requests instead of built for each."""
        if type(self).get_signing_serializer is not SecureCookieSessionInterface.get_signing_serializer:
            return self.get_signing_serializer(app)
        keys = self._keys(app)
        if keys is None:
            return None
        if google:
            reason = self._refusal(app, google)
            if reason is not None:
                raise RuntimeError(f"Refusing to sign sessions on Google's hosts: {reason}. {_HOW_TO_SET}")
        cache_key = (tuple(keys), self.salt, self.serializer, self.key_derivation, self.digest_method)
        cache = self.__dict__.get("_serializers")
        if cache is None:
            cache = self.__dict__["_serializers"] = {}
        serializer = cache.get(cache_key)
        if serializer is None:
            if len(cache) >= 16:
                cache.clear()
            serializer = cache[cache_key] = self._build_serializer(keys, cookie=True)
        return serializer

    def open_session(self, app: App, request: Request) -> SessionMixin | None:
        """The session in the request's cookie; a bad, expired or missing cookie gives an empty one."""
        google = on_google_host()
        session = self._open(app, request, google)
        state = getattr(session, "__dict__", None)
        if state is not None:
            state[_ON_GOOGLE] = google  # saving it needs the answer again, in the same request
        return session

    def _open(self, app: App, request: Request, google: bool) -> SessionMixin | None:
        if google and self._refusal(app, google) is not None:
            return RefusedKeySession()
        signer = self._signing_serializer(app, google)
        if signer is None:
            return None
        value = request_cookie(request, self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data = signer.loads(value, max_age=_lifetime_seconds(app))
        except Exception:  # BadSignature, or a validly signed but malformed payload (an old release)
            return self.session_class()
        return self.session_class(data if isinstance(data, dict) else None)

    def _cookie_attrs(self, app: App, google: bool) -> dict[str, t.Any]:
        """The session cookie's attributes (set_cookie's keyword arguments), from the get_cookie_* methods."""
        cls = type(self)
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": (
                bool(app.config["SESSION_COOKIE_SECURE"]) or google
                if cls.get_cookie_secure is SessionInterface.get_cookie_secure
                else self.get_cookie_secure(app)
            ),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": (
                _samesite(app, google)
                if cls.get_cookie_samesite is SessionInterface.get_cookie_samesite
                else self.get_cookie_samesite(app)
            ),
            "httponly": self.get_cookie_httponly(app),
        }

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        """Set, refresh or delete the session cookie, and add `Vary: Cookie` when the session was used."""
        name = self.get_cookie_name(app)
        google = getattr(session, _ON_GOOGLE, None)
        if google is None:
            google = on_google_host()
        # Flask asks every get_cookie_* method up front; ours only read the config, so they are asked
        # only when a cookie is written. A subclass replacing one is asked up front, as Flask would.
        attrs = None if _plain_cookie_getters(type(self)) else self._cookie_attrs(app, google)
        if session.accessed:
            _vary_cookie(response)
        if not session:
            if session.modified:
                response.delete_cookie(name, **(attrs or self._cookie_attrs(app, google)))
                _vary_cookie(response)
            return
        if not self.should_set_cookie(app, session):
            return
        if attrs is None:
            attrs = self._cookie_attrs(app, google)
        signer = self._signing_serializer(app, google)
        if signer is None:
            return
        token = signer.dumps(dict(session))
        expires = self.get_expiration_time(app, session)
        header = None
        if expires is None and type(response).set_cookie is _BASE_SET_COOKIE and type(response.headers) is Headers:
            header = _session_cookie_header(name, token, attrs, response.max_cookie_size)
        if header is None:
            response.set_cookie(name, token, expires=expires, **attrs)
        else:
            response.headers._list.append(("Set-Cookie", header))
            if session.accessed:
                return  # Vary: Cookie was added above, and only a Set-Cookie was added since
        _vary_cookie(response)
