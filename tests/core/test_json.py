"""framework.json and the JSON provider: extra types, settings, replaceable provider, jsonify."""

from __future__ import annotations

import dataclasses
import decimal
import io
import json as stdlib_json
import typing as t
import uuid
from datetime import UTC, date, datetime

import pytest

from framework import App, json, jsonify
from framework.json.provider import DefaultJSONProvider, JSONProvider


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_default_encoder_types(app: App) -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "date": date(2020, 1, 2),
        "dt": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        "dec": decimal.Decimal("1.10"),
        "uuid": u,
        "dc": Point(1, 2),
        "html": Html(),
    }
    with app.app_context():
        out = stdlib_json.loads(json.dumps(value))
    assert out == {
        "date": "Thu, 02 Jan 2020 00:00:00 GMT",
        "dt": "Thu, 02 Jan 2020 03:04:05 GMT",
        "dec": "1.10",
        "uuid": str(u),
        "dc": {"x": 1, "y": 2},
        "html": "<b>safe</b>",
    }
    assert stdlib_json.loads(json.dumps(value)) == out  # same outside an app context
    with pytest.raises(TypeError, match="object"):
        json.dumps(object())


def test_provider_settings(app: App) -> None:
    with app.app_context():
        assert json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
        assert json.dumps("é") == '"\\u00e9"'
        app.json.ensure_ascii = False  # type: ignore[attr-defined]
        app.json.sort_keys = False  # type: ignore[attr-defined]
        assert json.dumps({"b": "é", "a": 1}) == '{"b": "é", "a": 1}'


def test_jsonify_forms(app: App) -> None:
    with app.app_context():
        assert jsonify().data == b"null\n"
        assert jsonify(1, 2).json == [1, 2]
        assert jsonify(a=1).json == {"a": 1}
        assert jsonify({"x": 1}).data == b'{"x":1}\n'
        assert jsonify([1]).mimetype == "application/json"
        with pytest.raises(TypeError):
            jsonify(1, a=2)
        app.json.compact = False  # type: ignore[attr-defined]
        assert jsonify(a=1).data == b'{\n  "a": 1\n}\n'
        app.json.mimetype = "application/vnd.api+json"  # type: ignore[attr-defined]
        assert jsonify(a=1).mimetype == "application/vnd.api+json"
    app.debug = True
    with app.app_context():
        app.json.compact = None  # type: ignore[attr-defined]
        assert b"\n  " in jsonify(a=1).data
    with pytest.raises(RuntimeError):
        jsonify(a=1)


def test_load_and_dump(app: App) -> None:
    buf = io.StringIO()
    with app.app_context():
        json.dump({"a": 1}, buf)
        assert json.load(io.StringIO(buf.getvalue())) == {"a": 1}
        assert json.loads(b'{"x": 2}') == {"x": 2}
    assert json.loads('{"y": 3}') == {"y": 3}
    buf2 = io.StringIO()
    json.dump({"d": date(2021, 5, 6)}, buf2)
    assert "2021" in buf2.getvalue()


def test_replaceable_provider(app: App, client) -> None:
    class UpperProvider(JSONProvider):
        def dumps(self, obj, **kwargs):  # type: ignore[no-untyped-def]
            return stdlib_json.dumps(obj).upper()

        def loads(self, s, **kwargs):  # type: ignore[no-untyped-def]
            return {"loaded": stdlib_json.loads(s)}

    app.json = UpperProvider(app)
    app.add_url_rule("/", "i", lambda: {"a": "b"})

    @app.post("/in")
    def read() -> str:
        from framework import request

        return str(request.get_json())

    assert client.get("/").data == b'{"A": "B"}'
    # the test client serializes json= with the app's provider too
    assert client.post("/in", json={"q": 1}).data == b"{'loaded': {'Q': 1}}"


def test_provider_class_attribute() -> None:
    class MyProvider(DefaultJSONProvider):
        sort_keys = False

    class MyApp(App):
        json_provider_class = MyProvider

    app = MyApp("custom_provider")
    app.add_url_rule("/", "i", lambda: {"b": 1, "a": 2})
    assert isinstance(app.json, MyProvider)
    assert app.test_client().get("/").data == b'{"b":1,"a":2}\n'


@pytest.mark.parametrize(
    "data",
    [b'{"a": 1}', b"[1, 2]", b'{"\xc3\xa9": "\xf0\x9f\x98\x80"}', '{"a": 1}'.encode("utf-16-le"),
     '[1]'.encode("utf-16-be"), '{"a": 1}'.encode("utf-32"), b"\xef\xbb\xbf{}", b'{"a": "\xff"}', b"{",
     b"[\x00", b"{}", b"[]", b'"text"', b"12", b"", b"{\xed\xa0\x80}", b'["\xed\xa0\x80"]', '{"a": 1}', "[]"],
)
def test_provider_loads_is_json_loads(data: bytes | str) -> None:
    provider = DefaultJSONProvider(App(__name__))

    def outcome(load: t.Callable[[], t.Any]) -> tuple[t.Any, ...]:
        try:
            return ("ok", load())
        except Exception as e:
            return (type(e), str(e))

    assert outcome(lambda: provider.loads(data)) == outcome(lambda: stdlib_json.loads(data))


def test_a_returned_dict_goes_through_the_providers_response_and_body() -> None:
    from framework import Response

    class Tagged(Response):
        pass

    class WithResponse(DefaultJSONProvider):
        def response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            rv = super().response(*args, **kwargs)
            rv.headers["X-Provider"] = "response"
            return rv

    class WithBody(DefaultJSONProvider):
        def response_body(self, obj):  # type: ignore[no-untyped-def]
            return "body:" + super().response_body(obj)

    for provider_class, header, prefix in ((WithResponse, "response", b""), (WithBody, None, b"body:")):
        app = App("provider_response")
        app.json = provider_class(app)
        app.add_url_rule("/d", "d", lambda: {"a": 1})
        app.add_url_rule("/l", "l", lambda: [1, 2])
        client = app.test_client()
        for path, body in (("/d", b'{"a":1}\n'), ("/l", b"[1,2]\n")):
            rv = client.get(path)
            assert (rv.data, rv.headers.get("X-Provider")) == (prefix + body, header)
    owner = App("provider_owner")
    owner.response_class = Tagged
    borrower = App("provider_borrower")
    borrower.json = owner.json  # the provider answers with its own app's response class, as response() does
    borrower.add_url_rule("/d", "d", lambda: {"a": 1})
    with borrower.test_request_context("/d"):
        assert type(borrower.make_response({"a": 1})) is Tagged
