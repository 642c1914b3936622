"""Documented, deliberate differences from Flask, asserted explicitly so they stay deliberate.

- Google's hosts (GAE_ENV=standard or K_SERVICE): the session cookie is always Secure, SameSite
  defaults to Lax (framework/sessions.py), and a missing/placeholder/short SECRET_KEY is refused.
  Off those hosts the cookie bytes equal Flask's (tests/parity/test_sessions.py).
- The FRAMEWORK_ env prefix: tests/parity/test_json_config.py::test_from_prefixed_env_prefixes.
- The /_ah/* routes: tests/parity/test_blueprints_views.py::test_url_map_differs_only_by_app_engine_routes.
- Bad input: an invalid percent-escape in the path or query is a 400 (Flask passes it on as text), and
  a chunked body longer than MAX_CONTENT_LENGTH is a 413 (Flask silently truncates it).
"""

from __future__ import annotations

import io
import typing as t

import itsdangerous
import pytest

_STRONG = "Kq3J9vX_2mZ8pL0wR7tY4bN6cF1hD5sGe8Ua"  # random-looking: the weak-key rule accepts it


@pytest.fixture
def on_app_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_APPLICATION", "s~parity")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "parity")
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: 1_700_000_000)


def _cookie(fw: object, key: str | None) -> tuple[int, str | None]:
    app = fw.Flask("deliberate")  # type: ignore[attr-defined]
    app.secret_key = key
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/set")
    def set_() -> str:
        fw.session["u"] = 1  # type: ignore[attr-defined]
        return "set"

    rv = app.test_client().get("/set", base_url="https://parity.appspot.com/")
    return rv.status_code, rv.headers.get("Set-Cookie")


@pytest.mark.usefixtures("on_app_engine")
def test_secure_and_lax_cookie_on_google_hosts() -> None:
    import flask

    import framework

    flask_status, flask_cookie = _cookie(flask, _STRONG)
    ours_status, ours_cookie = _cookie(framework, _STRONG)
    assert flask_status == ours_status == 200
    assert flask_cookie is not None and ours_cookie is not None
    assert "Secure" not in flask_cookie and "SameSite" not in flask_cookie
    ours_parts = ours_cookie.split("; ")
    assert [p for p in ours_parts if p not in ("Secure", "SameSite=Lax")] == flask_cookie.split("; ")
    assert "Secure" in ours_parts and "SameSite=Lax" in ours_parts


@pytest.mark.usefixtures("on_app_engine")
@pytest.mark.parametrize("key", ["dev", "change-me", "short"])
def test_placeholder_secret_key_refused_on_google_hosts(key: str) -> None:
    import flask

    import framework

    assert _cookie(flask, key)[0] == 200  # Flask signs with anything
    assert _cookie(framework, key) == (500, None)


@pytest.mark.parametrize("key", ["dev", "short"])
def test_placeholder_secret_key_accepted_off_google_hosts(key: str) -> None:
    import flask

    import framework

    assert _cookie(framework, key) == _cookie(flask, key)


def test_routes_command_differs_only_by_layout_and_app_engine_rows() -> None:
    """Deliberate: `framework routes` also lists the /_ah/* rows, sizes columns to them and strips
    trailing spaces; the cells of every other row are Flask's, in the same order, for each sort."""
    import importlib
    import re
    from types import ModuleType

    import flask
    from click.testing import CliRunner

    import framework

    def table(fw: ModuleType, args: list[str]) -> tuple[list[list[str]], list[list[str]]]:
        app = fw.Flask("routes_app")
        app.add_url_rule("/x/<int:n>", "x", lambda n: "", methods=["GET", "POST"])
        app.add_url_rule("/y", "y", lambda: "", subdomain="api")
        cli = importlib.import_module(f"{fw.__name__}.cli")
        result = CliRunner().invoke(cli.FlaskGroup(create_app=lambda: app), ["routes", *args])
        assert result.exit_code == 0, result.output
        rows = [re.split(r" {2,}", line.strip()) for line in result.output.splitlines()[2:]]
        ours = [r for r in rows if r[-1].startswith("/_ah/")]
        return [r for r in rows if not r[-1].startswith("/_ah/")], ours

    for args in ([], ["--sort", "rule", "--all-methods"], ["-s", "methods"]):
        flask_rows, flask_extra = table(flask, args)
        our_rows, our_extra = table(framework, args)
        assert our_rows == flask_rows and sorted(r[0] for r in flask_rows if r[0] != "static") == ["x", "y"]
        assert not flask_extra and len(our_extra) == 3


@pytest.mark.parametrize("value", ["1", "0", "false", "No", "", "yes", "True", "off"])
def test_debug_flag_env_prefixes(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """FLASK_DEBUG is read by framework.flags' rule, as Flask reads it except `off` (on in Flask, off
    here: deliberate); our own FRAMEWORK_DEBUG (deliberate prefix) wins when set and not empty."""
    import flask.helpers

    import framework.helpers

    monkeypatch.delenv("FRAMEWORK_DEBUG", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", value)
    ours = framework.helpers.get_debug_flag()
    if value == "off":
        assert flask.helpers.get_debug_flag() is True and ours is False
    else:
        assert ours == flask.helpers.get_debug_flag()
    monkeypatch.setenv("FRAMEWORK_DEBUG", value)
    monkeypatch.setenv("FLASK_DEBUG", "0" if ours else "1")
    assert framework.helpers.get_debug_flag() == (ours if value else not ours)  # empty counts as unset


def _echo_app(fw: object) -> object:
    app = fw.Flask("escapes")  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.route("/p/<path:rest>", methods=["GET", "POST"])
    def echo(rest: str) -> dict[str, object]:
        return {"rest": rest, "args": fw.request.args.to_dict(), "n": len(fw.request.get_data())}  # type: ignore[attr-defined]

    return app


@pytest.mark.parametrize("url", ["/p/a%zz", "/p/ok?q=%zz", "/p/ok?q=%"])
def test_invalid_percent_escapes_are_400_where_flask_passes_them_on(url: str) -> None:
    import flask

    import framework

    assert _echo_app(flask).test_client().get(url).status_code == 200  # type: ignore[attr-defined]
    assert _echo_app(framework).test_client().get(url).status_code == 400  # type: ignore[attr-defined]
    # A literal percent sign, escaped as it should be, is fine on both.
    for fw in (flask, framework):
        assert _echo_app(fw).test_client().get("/p/100%25?q=%25").get_json() == {  # type: ignore[attr-defined]
            "rest": "100%", "args": {"q": "%"}, "n": 0,
        }


@pytest.mark.parametrize("url", ["/p/%ff%fe", "/p/ok?q=%ff"])
def test_escaped_bytes_that_are_not_utf8_are_400_where_flask_passes_them_on(url: str) -> None:
    import flask

    import framework

    flask_reply = _echo_app(flask).test_client().get(url)  # type: ignore[attr-defined]
    # Flask hands the view U+FFFD for the path, the literal text "%FF" for the query
    assert flask_reply.status_code == 200
    assert flask_reply.get_json() in ({"rest": "\ufffd\ufffd", "args": {}, "n": 0},
                                      {"rest": "ok", "args": {"q": "%FF"}, "n": 0})
    ours = _echo_app(framework).test_client().get(url)  # type: ignore[attr-defined]
    assert ours.status_code == 400 and b"not valid UTF-8" in ours.data


def test_chunked_body_over_the_limit_is_413_where_flask_truncates_it() -> None:
    import flask

    import framework

    def post(fw: object) -> tuple[int, object]:
        rv = _echo_app(fw).test_client().post(  # type: ignore[attr-defined]
            "/p/x", input_stream=io.BytesIO(b"x" * 25), headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},  # what a server sets for a chunked body
        )
        return rv.status_code, rv.get_json(silent=True)

    assert post(flask) == (200, {"rest": "x", "args": {}, "n": 10})  # Flask hands the view 10 of 25 bytes
    assert post(framework)[0] == 413


def _method_view_app(fw: t.Any) -> t.Any:
    app = fw.Flask("method_view_none")

    class Items(fw.views.MethodView):
        get = None

        def post(self) -> str:
            return "posted"

    app.add_url_rule("/items", view_func=Items.as_view("items"))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_method_view_handler_set_to_none_is_405_where_flask_fails_with_500() -> None:
    """README: a MethodView that sets a handler to None does not list that method (405, with an Allow
    header that leaves it out); Flask lists it, then fails calling None (500)."""
    import flask
    import flask.views

    import framework
    import framework.views

    flask_app, our_app = _method_view_app(flask), _method_view_app(framework)
    assert flask_app.test_client().get("/items").status_code == 500
    ours = our_app.test_client().get("/items")
    assert ours.status_code == 405
    assert "GET" not in ours.headers["Allow"] and "POST" in ours.headers["Allow"]
    for app in (flask_app, our_app):
        assert app.test_client().post("/items").text == "posted"
