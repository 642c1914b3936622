"""Tagged JSON (framework.json.tag): the session payload format."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from markupsafe import Markup

from framework.json.tag import JSONTag, TaggedJSONSerializer


@pytest.mark.parametrize(
    "value",
    [
        {" t": (1, 2, 3)},
        {"x": (1, 2), "y": [b"\x00\xff", Markup("<b>hi</b>")]},
        (1, "two", (3.0, None)),
        b"\x00binary\xff",
        Markup("<em>safe</em>"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        datetime(2020, 1, 1, 12, 30, tzinfo=UTC),
        {" di": 1},
        {" u": "not a uuid"},
        [{"a": (1,)}, "plain", 3, None, True],
        "text",
    ],
)
def test_round_trip(value: object) -> None:
    s = TaggedJSONSerializer()
    loaded = s.loads(s.dumps(value))
    assert loaded == value
    assert type(loaded) is type(value)


def test_wire_forms() -> None:
    s = TaggedJSONSerializer()
    assert json.loads(s.dumps((1, 2))) == {" t": [1, 2]}
    assert json.loads(s.dumps(b"hi")) == {" b": "aGk="}
    assert json.loads(s.dumps(Markup("<b>"))) == {" m": "<b>"}
    assert json.loads(s.dumps(uuid.UUID(int=1))) == {" u": "00000000000000000000000000000001"}
    assert json.loads(s.dumps(datetime(2020, 1, 1, tzinfo=UTC))) == {" d": "Wed, 01 Jan 2020 00:00:00 GMT"}
    assert json.loads(s.dumps({" t": 1})) == {" di": {" t__": 1}}
    assert " " not in s.dumps({"a": [1, 2]}).replace('" ', "")  # compact separators


def test_loaded_datetime_is_aware_utc() -> None:
    s = TaggedJSONSerializer()
    loaded = s.loads(s.dumps(datetime(2021, 5, 6, 7, 8, 9)))
    assert loaded.tzinfo is not None and loaded.utcoffset().total_seconds() == 0


def test_register_custom_tag_and_duplicates() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    class TagPoint(JSONTag):
        key = " p"

        def check(self, value: object) -> bool:
            return isinstance(value, Point)

        def to_json(self, value: Point) -> int:
            return value.x

        def to_python(self, value: int) -> Point:
            return Point(value)

    s = TaggedJSONSerializer()
    s.register(TagPoint, index=0)
    assert s.loads(s.dumps([Point(4)]))[0].x == 4
    with pytest.raises(KeyError):
        s.register(TagPoint)
    s.register(TagPoint, force=True)


def test_untag_leaves_unknown_objects() -> None:
    s = TaggedJSONSerializer()
    assert s.loads('{" zz": 1}') == {" zz": 1}
    assert s.loads('{"a": 1, " t": [1]}') == {"a": 1, " t": [1]}
