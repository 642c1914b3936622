"""JSON provider and Config parity."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid
from types import ModuleType

import pytest

from .diff import both, call, same


@dataclasses.dataclass
class Point:
    """A dataclass to serialise."""

    x: int
    y: list[int]


class Markup:
    """Anything with __html__ serialises as its HTML."""

    def __html__(self) -> str:
        return "<b>html</b>"


_VALUES = {
    "date": datetime.date(2024, 2, 29),
    "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "naive": datetime.datetime(2024, 1, 2, 3, 4, 5, 678),
    "decimal": decimal.Decimal("1.10"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "dataclass": Point(1, [2]),
    "html": Markup(),
    "unicode": "é✓",
    "nested": {"b": 1, "a": {"d": 2, "c": 3}},
}


def _json(fw: ModuleType, debug: bool = False, **attrs: object):
    app = fw.Flask("json")
    app.debug = debug
    app.testing = True
    for k, v in attrs.items():
        setattr(app.json, k, v)
    for name, value in _VALUES.items():
        app.add_url_rule(f"/{name}", name, lambda value=value: fw.jsonify(value))
    app.add_url_rule("/set", "set", lambda: fw.jsonify({1, 2}))
    app.add_url_rule("/both", "both", lambda: fw.jsonify(1, a=2))
    app.add_url_rule("/dumps", "dumps", lambda: fw.json.dumps({"b": [1], "a": "é"}))
    app.add_url_rule("/loads", "loads", lambda: repr(fw.json.loads(b'{"a": [1.5, null]}')))
    app.add_url_rule("/dict", "dict", lambda: {"z": 1, "a": 2})
    return app


_CALLS = [call("GET", f"/{n}") for n in [*_VALUES, "set", "both", "dumps", "loads", "dict"]]


@pytest.mark.parametrize("debug", [False, True])
def test_jsonify_types(debug: bool) -> None:
    rv = both(lambda fw: _json(fw, debug), _CALLS, facts={len(_VALUES): ["set"], len(_VALUES) + 1: []})
    assert rv[0][2] == b'"Thu, 29 Feb 2024 00:00:00 GMT"\n'
    assert (b"\n  " in rv[-1][2]) is debug


def test_provider_attributes() -> None:
    rv = both(lambda fw: _json(fw, sort_keys=False, ensure_ascii=False, mimetype="application/x-json",
                               compact=False), _CALLS, facts={len(_VALUES): ["set"], len(_VALUES) + 1: []})
    assert rv[-1][2] == b'{\n  "z": 1,\n  "a": 2\n}\n'
    assert ("Content-Type", "application/x-json") in rv[-1][1]


def _replaced(fw: ModuleType, method: str):
    app = fw.Flask("json")
    if method == "dumps":  # every JSON body goes through the instance's dumps, compact or not
        app.json.dumps = lambda obj, **kw: __import__("json").dumps({"wrapped": obj}, **kw)
    else:
        app.json.response = lambda *args, **kw: fw.Response("custom", status=201, mimetype="text/plain")
    app.add_url_rule("/dict", "dict", lambda: {"a": 1})
    app.add_url_rule("/list", "list", lambda: [1])
    app.add_url_rule("/jsonify", "jsonify", lambda: fw.jsonify(a=1))
    return app


@pytest.mark.parametrize("method", ["dumps", "response"])
def test_provider_methods_replaced_on_the_instance(method: str) -> None:
    rv = both(lambda fw: _replaced(fw, method), [call("GET", "/dict"), call("GET", "/list"), call("GET", "/jsonify")])
    if method == "dumps":
        assert [r[2] for r in rv] == [b'{"wrapped":{"a":1}}\n', b'{"wrapped":[1]}\n', b'{"wrapped":{"a":1}}\n']
    else:
        assert [r[0] for r in rv] == [201, 201, 201]


def test_json_outside_app_and_provider_defaults() -> None:
    def probe(fw: ModuleType) -> object:
        app = fw.Flask("json")
        p = app.json
        return [fw.json.dumps({"b": 1, "a": "é"}), fw.json.loads('{"a": 1}'), p.ensure_ascii, p.sort_keys,
                p.compact, p.mimetype, p.response({"x": 1}).get_data(),
                type(p).__name__ in ("DefaultJSONProvider",)]

    assert same(probe)[1][0] == '{"b": 1, "a": "\\u00e9"}'  # no app: plain json.dumps, unsorted


class Settings:
    """Config object: only upper-case names count."""

    DEBUG_LEVEL = 3
    lower = "ignored"
    _PRIVATE = 1


def _config(fw: ModuleType) -> object:
    app = fw.Flask("cfg")
    c = app.config
    c.from_mapping({"A_ONE": 1, "lower": 2}, B_TWO=2)
    c.from_object(Settings)
    c.update(IMAGE_STORE_TYPE="fs", IMAGE_STORE_PATH="/p", IMAGE_STORE_BASE_URL="u")
    return [
        sorted(k for k in c if k.isupper() and not k.startswith(("SESSION", "MAX", "PREFERRED"))),
        "lower" in c, c.get_namespace("IMAGE_STORE_"), c.get_namespace("IMAGE_STORE_", lowercase=False),
        c.get_namespace("IMAGE_STORE_", trim_namespace=False), repr(c)[:20],
    ]


def test_config_loading() -> None:
    assert same(_config)[0] == "ok"


def test_default_config_all_29_keys() -> None:
    def defaults(fw: ModuleType) -> object:
        d = dict(fw.Flask.default_config)
        return len(d), d, dict(fw.Flask("x").config)

    result = same(defaults)
    assert result[1][0] == 29


def test_from_prefixed_env_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliberate difference: our default prefix is FRAMEWORK_ (FLASK_ on Flask); explicit prefixes agree."""
    for prefix in ("FLASK", "FRAMEWORK", "MYAPP"):
        monkeypatch.setenv(f"{prefix}_SECRET_KEY", f"{prefix}-key")
        monkeypatch.setenv(f"{prefix}_NUM", "42")
        monkeypatch.setenv(f"{prefix}_NESTED__A", "true")
        monkeypatch.setenv(f"{prefix}_RAW", "not json")

    def load(fw: ModuleType, **kw: str) -> object:
        app = fw.Flask("cfg")
        app.config["NESTED"] = {}
        assert app.config.from_prefixed_env(**kw) is True
        return {k: app.config.get(k) for k in ("SECRET_KEY", "NUM", "NESTED", "RAW")}

    assert same(lambda fw: load(fw, prefix="MYAPP"))[1]["NUM"] == 42
    import flask

    import framework

    assert load(flask)["SECRET_KEY"] == "FLASK-key"
    assert load(framework)["SECRET_KEY"] == "FRAMEWORK-key"
    assert load(flask)["NESTED"] == load(framework)["NESTED"] == {"A": True}


def _from_file(fw: ModuleType, tmp: object) -> object:
    import json
    import pathlib

    d = pathlib.Path(str(tmp))
    (d / "c.json").write_text(json.dumps({"FROM_JSON": 1, "low": 2}))
    (d / "c.py").write_text("FROM_PY = 'x'\nlow = 1\n")
    app = fw.Flask("cfg", root_path=str(d))
    out = [app.config.from_file("c.json", load=json.load), app.config.from_pyfile("c.py"),
           app.config.from_pyfile("missing.py", silent=True),
           app.config.from_file("missing.json", load=json.load, silent=True)]
    for bad in (lambda: app.config.from_pyfile("missing.py"), lambda: app.config.from_envvar("NOPE_UNSET")):
        try:
            bad()
        except Exception as e:
            out.append(type(e).__name__)
    return out, app.config.get("FROM_JSON"), app.config.get("FROM_PY"), "low" in app.config


def test_config_from_files(tmp_path: object) -> None:
    assert same(lambda fw: _from_file(fw, tmp_path))[1][0][-2:] == ["FileNotFoundError", "RuntimeError"]
