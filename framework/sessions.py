"""Sessions: the pluggable `SessionInterface` and the default signed-cookie session on itsdangerous.

Imported on first use of `app.session_interface`, never by `import framework`.
Secure by default on Google's hosts (App Engine standard, Cloud Run / Functions): a missing or
weak SECRET_KEY is refused (sessions stay empty and read-only, signing raises; framework.secrets also
stops the app at startup), the session cookie is always sent with `Secure` (those hosts serve the app
over HTTPS; App Engine's http:// URLs simply get no session), and SameSite defaults to "Lax" there
unless SESSION_COOKIE_SAMESITE is set.
"""

from __future__ import annotations

import hashlib
import typing as t
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta

from itsdangerous import URLSafeTimedSerializer
from werkzeug.datastructures import CallbackDict

from . import secrets as _secrets
from .json.tag import TaggedJSONSerializer
from .platform import on_google_host

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
        def on_update(session: SecureCookieSession) -> None:
            session.modified = True

        super().__init__(initial, on_update)


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
        value = app.config["SESSION_COOKIE_SAMESITE"]
        if value is None and on_google_host():
            return "Lax"
        return value

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
        key = app.secret_key if hasattr(app, "secret_key") else app.config.get("SECRET_KEY")
        if not key:
            return None
        return [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), key]

    def _refusal(self, app: App) -> str | None:
        """Why sessions are refused here (None off Google's hosts, or when every key is strong)."""
        if not on_google_host():
            return None
        keys = self._keys(app)
        if keys is None:
            return weak_secret_key_reason(None)
        *fallbacks, current = keys
        for label, key in (*(("SECRET_KEY_FALLBACKS entry: ", k) for k in fallbacks), ("", current)):
            reason = weak_secret_key_reason(key)
            if reason is not None:
                return label + reason
        return None

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
        return URLSafeTimedSerializer(
            keys,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def open_session(self, app: App, request: Request) -> SessionMixin | None:
        """The session in the request's cookie; a bad, expired or missing cookie gives an empty one."""
        if self._refusal(app) is not None:
            return RefusedKeySession()
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data = signer.loads(value, max_age=_lifetime_seconds(app))
        except Exception:  # BadSignature, or a validly signed but malformed payload (an old release)
            return self.session_class()
        return self.session_class(data if isinstance(data, dict) else None)

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        """Set, refresh or delete the session cookie, and add `Vary: Cookie` when the session was used."""
        name = self.get_cookie_name(app)
        attrs: dict[str, t.Any] = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:
                response.delete_cookie(name, **attrs)
                response.vary.add("Cookie")
            return
        if not self.should_set_cookie(app, session):
            return
        signer = self.get_signing_serializer(app)
        if signer is None:
            return
        token = signer.dumps(dict(session))
        response.set_cookie(name, token, expires=self.get_expiration_time(app, session), **attrs)
        response.vary.add("Cookie")
