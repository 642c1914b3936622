"""The signed cookie session: cookie attributes, expiry, rotation, tampering, null sessions, Google hosts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest
from markupsafe import Markup

from framework import App, session
from framework.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    weak_secret_key_reason,
)
from tests.features.cookies import signed

GOOD_KEY = "a-long-random-and-unguessable-test-key"


@pytest.fixture
def app() -> App:
    app = App(__name__)
    app.secret_key = GOOD_KEY

    @app.route("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.route("/get/<key>")
    def get_value(key: str) -> str:
        return repr(session.get(key))

    @app.route("/permanent")
    def make_permanent() -> str:
        session.permanent = True
        session["p"] = 1
        return "ok"

    @app.route("/clear")
    def clear() -> str:
        session.clear()
        return "cleared"

    @app.route("/nothing")
    def nothing() -> str:
        return "no session use"

    @app.route("/read-only")
    def read_only() -> str:
        return str("x" in session)

    return app


def set_cookie_headers(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_round_trip_through_cookie(app: App) -> None:
    client = app.test_client()
    response = client.get("/set/name/ada")
    [header] = set_cookie_headers(response)
    assert header.startswith("session=")
    assert "HttpOnly" in header and "Path=/" in header
    assert "Expires" not in header  # not permanent: browser-session cookie
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/get/name").text == "'ada'"


def test_no_set_cookie_when_unchanged(app: App) -> None:
    client = app.test_client()
    client.get("/set/a/b")
    response = client.get("/get/a")
    assert set_cookie_headers(response) == []
    assert "Cookie" in response.headers.get("Vary", "")


def test_untouched_session_has_no_vary_and_no_cookie(app: App) -> None:
    response = app.test_client().get("/nothing")
    assert set_cookie_headers(response) == []
    assert "Vary" not in response.headers


def test_membership_test_marks_accessed(app: App) -> None:
    response = app.test_client().get("/read-only")
    assert response.text == "False"
    assert response.headers.get("Vary") == "Cookie"
    assert set_cookie_headers(response) == []


def test_emptied_session_deletes_cookie(app: App) -> None:
    client = app.test_client()
    client.get("/set/a/b")
    response = client.get("/clear")
    [header] = set_cookie_headers(response)
    assert header.startswith("session=;")
    assert "Max-Age=0" in header and "01 Jan 1970" in header
    assert client.get("/get/a").text == "None"


def test_permanent_session_expires_and_refreshes(app: App) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=2)
    client = app.test_client()
    [header] = set_cookie_headers(client.get("/permanent"))
    cookie = SimpleCookie(header)["session"]
    expires = datetime.strptime(cookie["expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert timedelta(hours=1, minutes=58) < expires - datetime.now(UTC) <= timedelta(hours=2)
    # SESSION_REFRESH_EACH_REQUEST: re-sent even though this view does not touch the session.
    assert len(set_cookie_headers(client.get("/nothing"))) == 1
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert set_cookie_headers(client.get("/nothing")) == []


def test_lifetime_as_int_seconds(app: App) -> None:
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    [header] = set_cookie_headers(app.test_client().get("/permanent"))
    expires = SimpleCookie(header)["session"]["expires"]
    when = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert when - datetime.now(UTC) <= timedelta(seconds=60)


def test_every_cookie_attribute(app: App) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="sid", SESSION_COOKIE_DOMAIN="example.test", SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_HTTPONLY=False, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PARTITIONED=True,
    )
    client = app.test_client()
    for path in ("/set/a/b", "/clear"):  # the deletion carries the same attributes
        [header] = set_cookie_headers(client.get(path, base_url="https://example.test/app"))
        parts = [p.strip() for p in header.split(";")]
        assert parts[0].startswith("sid=") and (parts[0] == "sid=") == (path == "/clear")
        assert "Domain=example.test" in parts and "Path=/app" in parts
        assert "Secure" in parts and "SameSite=Lax" in parts and "Partitioned" in parts
        assert "HttpOnly" not in parts


def test_cookie_path_defaults_to_application_root(app: App) -> None:
    app.config["APPLICATION_ROOT"] = "/root"
    [header] = set_cookie_headers(app.test_client().get("/set/a/b"))
    assert "Path=/root" in header


@pytest.mark.parametrize("cookie", ["garbage", "eyJhIjoiYiJ9.ZZZZZZ.invalidsig", "", "a.b.c.d"])
def test_bad_cookie_gives_empty_session(app: App, cookie: str) -> None:
    client = app.test_client()
    client.set_cookie("session", cookie)
    response = client.get("/get/a")
    assert response.status_code == 200
    assert response.text == "None"


def test_tampered_cookie_gives_empty_session(app: App) -> None:
    client = app.test_client()
    client.get("/set/role/user")
    value = client.get_cookie("session").value
    payload, rest = value.split(".", 1)
    client.set_cookie("session", payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest)
    assert client.get("/get/role").text == "None"


def test_cookie_signed_with_other_key_is_ignored(app: App) -> None:
    other = App(__name__)
    other.secret_key = "another-long-random-secret-value!"
    other.add_url_rule("/s", "s", lambda: session.__setitem__("a", "b") or "ok")
    cookie = other.test_client().get("/s").headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/get/a").text == "None"


def test_expired_cookie_gives_empty_session(app: App) -> None:
    client = app.test_client()
    client.get("/set/a/b")
    app.config["PERMANENT_SESSION_LIFETIME"] = -1  # every signature is now too old
    assert client.get("/get/a").text == "None"


def test_secret_key_rotation(app: App) -> None:
    client = app.test_client()
    client.get("/set/a/b")
    old_cookie = client.get_cookie("session").value
    app.secret_key = "the-new-long-random-secret-key-value"
    assert client.get("/get/a").text == "None"  # old key unknown
    app.config["SECRET_KEY_FALLBACKS"] = [GOOD_KEY]
    client.set_cookie("session", old_cookie)
    assert client.get("/get/a").text == "'b'"
    # New cookies are signed with the current key, not the fallback.
    client.get("/set/c/d")
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/get/c").text == "'d'"


def test_rich_values_round_trip(app: App) -> None:
    stamp = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    uid = uuid.uuid4()

    @app.route("/rich-set")
    def rich_set() -> str:
        session.update(t=(1, 2), b=b"\x00\x01", m=Markup("<b>x</b>"), u=uid, d=stamp, di={" t": "x"})
        return "ok"

    @app.route("/rich-get")
    def rich_get() -> str:
        assert session["t"] == (1, 2)
        assert session["b"] == b"\x00\x01"
        assert isinstance(session["m"], Markup)
        assert session["u"] == uid
        assert session["d"] == stamp
        assert session["di"] == {" t": "x"}
        return "checked"

    client = app.test_client()
    client.get("/rich-set")
    assert client.get("/rich-get").text == "checked"


def test_payload_is_compact_sorted_json(app: App) -> None:
    interface = SecureCookieSessionInterface()
    with app.test_request_context():
        token = interface.get_signing_serializer(app).dumps({"z": 1, "a": (1,), "_permanent": True})
    payload = token.split(".")[0]
    import base64
    import zlib

    data = payload[1:] if payload.startswith(".") else payload
    decoded = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    if payload.startswith("."):
        decoded = zlib.decompress(decoded)
    assert decoded == b'{"_permanent":true,"a":{" t":[1]},"z":1}'


def test_modified_and_accessed_flags() -> None:
    s = SecureCookieSession({"a": 1})
    assert not s.modified and not s.accessed
    assert s["a"] == 1
    assert not s.accessed and not s.modified  # accessed is tracked by the request context (Flask 3.1.3)
    s["b"] = [1]
    assert s.modified
    s2 = SecureCookieSession({"l": [1]})
    s2["l"].append(2)
    assert not s2.modified  # nested changes are invisible
    s2.permanent = True
    assert s2.modified and s2.permanent and s2["_permanent"] is True


def test_nested_change_needs_modified_flag(app: App) -> None:
    @app.route("/list-init")
    def list_init() -> str:
        session["items"] = [1]
        return "ok"

    @app.route("/list-append/<int:flag>")
    def list_append(flag: int) -> str:
        session["items"].append(2)
        if flag:
            session.modified = True
        return "ok"

    client = app.test_client()
    client.get("/list-init")
    client.get("/list-append/0")
    assert client.get("/get/items").text == "[1]"
    client.get("/list-append/1")
    assert client.get("/get/items").text == "[1, 2]"


def test_no_secret_key_null_session_and_clear_error() -> None:
    app = App(__name__)

    @app.route("/read")
    def read() -> str:
        return f"{type(session._get_current_object()).__name__}:{session.get('x')}"

    @app.route("/write")
    def write() -> str:
        session["x"] = 1
        return "wrote"

    app.config["PROPAGATE_EXCEPTIONS"] = True
    client = app.test_client()
    assert client.get("/read").text == "NullSession:None"
    with pytest.raises(RuntimeError) as info:
        client.get("/write")
    message = str(info.value)
    assert "secret key" in message.lower()
    assert "app.secret_key" in message and "SECRET_KEY" in message and "FRAMEWORK_SECRET_KEY" in message


def test_no_secret_key_without_propagation_is_a_500() -> None:
    app = App(__name__)
    app.add_url_rule("/w", "w", lambda: session.__setitem__("x", 1) or "ok")
    assert app.test_client().get("/w").status_code == 500


def test_null_session_rejects_every_mutation() -> None:
    null = NullSession()
    for call in (
        lambda: null.__setitem__("a", 1), lambda: null.__delitem__("a"), null.clear, lambda: null.pop("a"),
        null.popitem, lambda: null.update(a=1), lambda: null.setdefault("a", 1),
    ):
        with pytest.raises(RuntimeError):
            call()
    assert null.get("a") is None and len(null) == 0


def test_session_transaction(app: App) -> None:
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["name"] = "grace"
    assert client.get("/get/name").text == "'grace'"
    with client.session_transaction() as sess:
        assert sess["name"] == "grace"


def test_custom_session_interface() -> None:
    store: dict[str, dict] = {}

    class ServerSide(SessionInterface):
        def open_session(self, app, request):
            sid = request.cookies.get("sid", "new")
            return SecureCookieSession(store.get(sid, {}))

        def save_session(self, app, sess, response):
            store["s1"] = dict(sess)
            response.set_cookie("sid", "s1")

    app = App(__name__)
    app.session_interface = ServerSide()
    app.add_url_rule("/w", "w", lambda: session.__setitem__("k", "v") or "ok")
    app.add_url_rule("/r", "r", lambda: repr(session.get("k")))
    client = app.test_client()
    client.get("/w")
    assert store == {"s1": {"k": "v"}}
    assert client.get("/r").text == "'v'"


# --- Google's hosts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, "", "change-me", "dev", "CHANGEME", "short-key", b"tiny"])
def test_weak_keys_are_named(key: object) -> None:
    assert weak_secret_key_reason(key) is not None


def test_strong_key_is_accepted() -> None:
    assert weak_secret_key_reason(GOOD_KEY) is None
    assert weak_secret_key_reason(bytes.fromhex("9f3c51e07a2bd4886e1f05c3a7d2b94e16f0c8a3e5d7b2094c6a1e8f3d5b7c20")) is None
    assert weak_secret_key_reason(b"\x01" * 32) is not None  # long but not random (issue 15.9)


@pytest.mark.parametrize("env", [{"GAE_ENV": "standard"}, {"K_SERVICE": "svc"}])
@pytest.mark.parametrize("key", ["change-me", "dev", "tooshort", None])
def test_google_host_refuses_weak_key(app: App, monkeypatch: pytest.MonkeyPatch, env: dict, key) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app.secret_key = key
    app.config["PROPAGATE_EXCEPTIONS"] = True
    client = app.test_client()
    if key:
        # A forged cookie signed with the weak key is not trusted. Control: off Google's hosts the very
        # same cookie verifies, so the empty session below is the host rule, not a bad signature.
        forged = signed(key, '{"a": "forged"}')
        with monkeypatch.context() as local:
            for name in env:
                local.delenv(name)
            local_client = app.test_client()
            local_client.set_cookie("session", forged)
            assert local_client.get("/get/a").text == "'forged'"
        client.set_cookie("session", forged)
    assert client.get("/get/a").text == "None"
    with pytest.raises(RuntimeError) as info:
        client.get("/set/a/b")
    assert "Google" in str(info.value) and "SECRET_KEY" in str(info.value)
    if key:
        with pytest.raises(RuntimeError, match="Refusing to sign"):
            SecureCookieSessionInterface().get_signing_serializer(app)


def test_weak_key_still_works_locally(app: App) -> None:
    app.secret_key = "dev"
    client = app.test_client()
    client.get("/set/a/b")
    assert client.get("/get/a").text == "'b'"


def test_google_host_good_key_and_secure_cookie(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "svc")
    client = app.test_client()
    response = client.get("/set/a/b")
    [header] = set_cookie_headers(response)
    parts = [p.strip() for p in header.split(";")]
    assert "Secure" in parts and "SameSite=Lax" in parts
    assert client.get("/get/a", base_url="https://localhost").text == "'b'"
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    [header] = set_cookie_headers(client.get("/set/a/c", base_url="https://localhost"))
    assert "SameSite=Strict" in header


def test_local_defaults_are_flask_defaults(app: App) -> None:
    [header] = set_cookie_headers(app.test_client().get("/set/a/b"))
    parts = [p.strip() for p in header.split(";")]
    assert "Secure" not in parts and not any(p.startswith("SameSite") for p in parts)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"a": "control"}', "'control'"),  # proves the hand-made signature is accepted
        ('{" di": "x"}', "None"), ('{" b": "!!!"}', "None"), ('{" u": "zz"}', "None"), ('{" t": 5}', "None"),
        ("[1, 2]", "None"), ('"text"', "None"), ("not json", "None"), ('{" d": "not a date"}', "None"),
        ('{" m": 5}', "None"), ('{"a": {" u": []}}', "None"), ('{" di": {"a__": 1, "b__": 2}}', "None"),
        ("[" * 50_000 + "]" * 50_000, "None"),
    ],
)
def test_signed_but_malformed_payload_gives_empty_session(app: App, payload: str, expected: str) -> None:
    client = app.test_client()
    client.set_cookie("session", signed(GOOD_KEY, payload))
    response = client.get("/get/a")
    assert response.status_code == 200 and response.text == expected


def test_google_host_refuses_weak_fallback_key(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    app.config["SECRET_KEY_FALLBACKS"] = ["dev"]  # would let anyone forge cookies that still verify
    with pytest.raises(RuntimeError, match="placeholder"):
        SecureCookieSessionInterface().get_signing_serializer(app)
    app.config["SECRET_KEY_FALLBACKS"] = ["an-old-but-long-random-rotation-key"]
    assert SecureCookieSessionInterface().get_signing_serializer(app) is not None


def test_secret_key_from_environment_as_the_error_suggests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_SECRET_KEY", "from-the-environment-long-random-key")
    app = App(__name__)
    app.config.from_prefixed_env()
    app.add_url_rule("/w", "w", lambda: session.__setitem__("k", "v") or "ok")
    app.add_url_rule("/r", "r", lambda: repr(session.get("k")))
    client = app.test_client()
    client.get("/w")
    assert client.get("/r").text == "'v'"


def test_a_session_changed_by_one_request_does_not_leak_into_the_next_with_the_same_cookie(app: App) -> None:
    """A browser may send the same cookie again (tabs, a lost response): each request starts from the
    cookie's own value, however often that cookie was read and changed before."""

    @app.route("/scribble")
    def scribble() -> str:
        before = repr(session.get("a"))
        session["a"] = "scribbled"
        session["extra"] = 1
        return before

    client = app.test_client()
    client.get("/set/a/original")
    cookie = client.get_cookie("session")
    assert cookie is not None
    for _ in range(3):
        client.set_cookie("session", cookie.value)
        assert client.get("/scribble").text == "'original'"
        client.set_cookie("session", cookie.value)
        assert client.get("/get/extra").text == "None"
