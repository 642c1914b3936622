"""Session and flash parity: identical cookie bytes, permanence, refresh, cookie attributes, deletion."""

from __future__ import annotations

import datetime
import importlib
import re
import typing as t
from types import ModuleType

import itsdangerous
import pytest

from .diff import both, call, same

_FIXED_TS = 1_700_000_000


@pytest.fixture(autouse=True)
def _fixed_signing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides sign with itsdangerous; pin its timestamp so the signature bytes can be compared."""
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: _FIXED_TS)


_EXPIRES = re.compile(r"Expires=([^;]+)")


def _clock_free(result: t.Any) -> t.Any:
    """Replace a cookie's Expires date (wall clock now + lifetime, so it may tick between the two
    runs) by its distance from now, rounded to the minute; everything else stays byte for byte."""
    if result[0] == "raised":
        return result
    now = datetime.datetime.now(datetime.UTC)

    def relative(m: re.Match[str]) -> str:
        when = datetime.datetime.strptime(m.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=datetime.UTC)
        if when.year < 2000:
            return m.group(0)  # the deletion date is fixed
        return f"Expires=now+{round((when - now).total_seconds() / 60)}min"

    headers = [(k, _EXPIRES.sub(relative, v) if k == "Set-Cookie" else v) for k, v in result[1]]
    return result[0], headers, result[2]


def _sessions(fw: ModuleType, **config: object):
    app = fw.Flask("sess")
    app.secret_key = "parity-secret"
    app.config.update(config)
    s = fw.session

    @app.route("/set")
    def set_() -> str:
        s["user"] = "ann"
        s["items"] = [1, (2, 3), b"by", {"k": "v"}]
        s["when"] = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
        return "set"

    @app.route("/get")
    def get() -> object:
        return {"data": repr(dict(s)), "new": s.new, "modified": s.modified, "permanent": s.permanent}

    @app.route("/perm")
    def perm() -> str:
        s.permanent = True
        s["p"] = 1
        return "perm"

    @app.route("/mutate")
    def mutate() -> str:
        s["items"].append(4)
        return "mutated without marking"

    @app.route("/mark")
    def mark() -> str:
        s["items"].append(5)
        s.modified = True
        return "marked"

    @app.route("/clear")
    def clear() -> str:
        s.clear()
        return "cleared"

    @app.route("/read")
    def read() -> str:
        return str(s.get("user"))

    @app.route("/none")
    def none() -> str:
        return "no session access"

    return app


_FLOW = [
    call("GET", "/none"), call("GET", "/get"), call("GET", "/set"), call("GET", "/get"), call("GET", "/read"),
    call("GET", "/mutate"), call("GET", "/get"), call("GET", "/mark"), call("GET", "/get"), call("GET", "/perm"),
    call("GET", "/read"), call("GET", "/none"), call("GET", "/clear"), call("GET", "/get"),
]


def test_session_flow_cookie_bytes() -> None:
    rv = both(_sessions, _FLOW, normalise=_clock_free)
    set_cookie = dict(rv[2][1])["Set-Cookie"]
    assert set_cookie.startswith("session=") and "HttpOnly" in set_cookie and "Secure" not in set_cookie
    assert ("Vary", "Cookie") in rv[4][1]
    assert "Expires=now+44640min" in dict(rv[9][1])["Set-Cookie"]  # 31 days
    assert "Expires=Thu, 01 Jan 1970" in dict(rv[12][1])["Set-Cookie"]


def test_session_cookie_settings() -> None:
    config = dict(SESSION_COOKIE_NAME="sid", SESSION_COOKIE_DOMAIN="example.test", SESSION_COOKIE_PATH="/p",
                  SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=False, SESSION_COOKIE_SAMESITE="Lax",
                  SESSION_COOKIE_PARTITIONED=True, PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=1),
                  SESSION_REFRESH_EACH_REQUEST=False)
    rv = both(lambda fw: _sessions(fw, **config), _FLOW, normalise=_clock_free)
    cookie = dict(rv[2][1])["Set-Cookie"]
    assert "Domain=example.test" in cookie and "SameSite=Lax" in cookie and "Partitioned" in cookie


def test_session_refresh_each_request_off_and_application_root() -> None:
    rv = both(lambda fw: _sessions(fw, SESSION_REFRESH_EACH_REQUEST=False, APPLICATION_ROOT="/app"), _FLOW,
              normalise=_clock_free)
    assert "Set-Cookie" not in dict(rv[10][1])


def test_no_secret_key_errors() -> None:
    def build(fw: ModuleType):
        app = _sessions(fw)
        app.secret_key = None
        app.testing = True
        return app

    rv = both(build, [call("GET", "/set"), call("GET", "/read")], facts={0: ["secret key"]})
    assert rv[0][1] == "RuntimeError" and rv[1][2] == b"None"


def test_tampered_cookie_is_a_new_session() -> None:
    def build(fw: ModuleType):
        app = _sessions(fw)

        @app.route("/forge")
        def forge() -> str:
            return "x"

        return app

    rv = both(build, [call("GET", "/get", headers={"Cookie": "session=eyJ1c2VyIjoiZXZlIn0.AAAA.BBBB"}),
                      call("GET", "/get", headers={"Cookie": "session=garbage"})])
    assert b"'data': '{}'" in rv[0][2] or b'"data":"{}"' in rv[0][2]


def _flash(fw: ModuleType):
    app = fw.Flask("flash")
    app.secret_key = "k"

    @app.route("/add")
    def add() -> str:
        fw.flash("plain")
        fw.flash("careful", "warning")
        fw.flash("<b>markup</b>", "error")
        return "added"

    @app.route("/peek")
    def peek() -> object:
        return [fw.get_flashed_messages(), fw.get_flashed_messages(with_categories=True),
                fw.get_flashed_messages(category_filter=["warning", "error"])]

    @app.route("/tpl")
    def tpl() -> str:
        return fw.render_template_string(
            "{% for c, m in get_flashed_messages(with_categories=true) %}[{{ c }}:{{ m }}]{% endfor %}")

    return app


def test_flash() -> None:
    rv = both(_flash, [call("GET", "/add"), call("GET", "/peek"), call("GET", "/peek"), call("GET", "/add"),
                       call("GET", "/tpl"), call("GET", "/tpl")])
    assert b'[["plain","careful","<b>markup</b>"]' in rv[1][2]
    assert rv[4][2] == b"[message:plain][warning:careful][error:&lt;b&gt;markup&lt;/b&gt;]"


def test_session_object_flags() -> None:
    def probe(fw: ModuleType) -> list[object]:
        sessions = importlib.import_module(f"{fw.__name__}.sessions")
        s = sessions.SecureCookieSession({"a": 1})
        out: list[object] = [s.modified, s.accessed, s.new, s.permanent, s["a"], s.accessed]
        s["b"] = 2
        out += [s.modified, s.accessed]
        s2 = sessions.SecureCookieSession()
        s2.get("x")
        out += [s2.accessed, s2.modified]
        s2.setdefault("k", [])
        out.append(s2.modified)
        s3 = sessions.SecureCookieSession({"_permanent": True})
        out.append(s3.permanent)
        s3.permanent = False
        out.append(dict(s3))
        return out

    assert same(probe)[1][:6] == [False, False, False, False, 1, False]


def test_custom_session_interface() -> None:
    def probe(fw: ModuleType) -> list[object]:
        sessions = importlib.import_module(f"{fw.__name__}.sessions")

        class MySession(sessions.SecureCookieSession):
            pass

        class MyInterface(sessions.SecureCookieSessionInterface):
            session_class = MySession
            salt = "other-salt"

            def get_cookie_name(self, app: object) -> str:
                return "custom"

            def should_set_cookie(self, app: object, session: object) -> bool:
                return True

        class NoSessions(sessions.SecureCookieSessionInterface):
            def open_session(self, app: object, request: object) -> None:
                return None

        out: list[object] = []
        for interface in (MyInterface(), NoSessions()):
            app = fw.Flask("c")
            app.secret_key = "k"
            app.session_interface = interface
            app.add_url_rule("/", "i", lambda: type(fw.session._get_current_object()).__name__)
            app.add_url_rule("/set", "s", lambda: (fw.session.__setitem__("a", 1), "x")[1])
            c = app.test_client()
            for path in ("/", "/set", "/"):
                rv = c.get(path)
                out.append((rv.status_code, rv.data, rv.headers.getlist("Set-Cookie"), rv.headers.get("Vary")))
        iface = MyInterface()
        out += [iface.is_null_session(iface.make_null_session(fw.Flask("x"))), MyInterface.pickle_based]
        return out

    out = same(probe)[1]
    assert out[0][1] == b"MySession" and out[1][2][0].startswith("custom=")
