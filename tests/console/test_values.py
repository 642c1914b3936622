"""Datastore values as the console shows and reads them: every type readable, typed fields validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.cloud.datastore import Entity, Key
from google.cloud.datastore.helpers import GeoPoint

from deploy.local.console import values

P = {"project": "p", "namespace": None, "database": None}


def link(key: Key) -> str:
    return "/e/" + values.key_token(key)


def test_key_paths_read_back() -> None:
    key = Key("Shop", "main/1", "Item", 42, project="p")
    text = values.key_path_text(key)
    assert text == 'Shop:"main/1"/Item:42'
    assert values.parse_key_path(text, **P).flat_path == ("Shop", "main/1", "Item", 42)
    assert values.parse_key_path('A:"x\\"y"', **P).flat_path == ("A", 'x"y')


@pytest.mark.parametrize("text", ["", "Item", "Item:", "Item:abc", 'Item:"a"/', ":3"])
def test_bad_key_paths_say_the_shape(text: str) -> None:
    with pytest.raises(values.ValueError_, match=r"Kind:id|at least one"):
        values.parse_key_path(text, **P)


def test_key_tokens_keep_namespace_and_database() -> None:
    key = Key("Item", "x", project="p", namespace="ns", database="db2")
    back = values.key_from_token(values.key_token(key), "p")
    assert (back.flat_path, back.namespace, back.database) == (("Item", "x"), "ns", "db2")
    with pytest.raises(values.ValueError_):
        values.key_from_token("bm90IGpzb24", "p")


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("integer", " -12 ", -12),
    ("float", "2.5", 2.5),
    ("boolean", "TRUE", True),
    ("timestamp", "2026-12-04T20:15:00+01:00", datetime(2026, 12, 4, 19, 15, tzinfo=UTC)),
    ("timestamp", "2026-12-04T20:15:00.123456Z", datetime(2026, 12, 4, 20, 15, 0, 123456, tzinfo=UTC)),
    ("blob", "aGVsbG8=", b"hello"),
    ("geopoint", "45.5, -73.6", GeoPoint(45.5, -73.6)),
    ("null", "", None),
    ("string", " spaced ", " spaced "),
])
def test_typed_fields_parse(kind: str, text: str, expected: object) -> None:
    assert values.parse_value(kind, text, **P) == expected


@pytest.mark.parametrize(("kind", "text", "says"), [
    ("integer", "1.5", "not an integer"),
    ("integer", str(2**63), "64-bit"),
    ("float", "abc", "not a number"),
    ("boolean", "yes", "true or false"),
    ("timestamp", "2026-12-04 20:15", "no time zone"),
    ("timestamp", "tomorrow", "ISO 8601"),
    ("blob", "not base64!", "base64"),
    ("geopoint", "91, 0", "latitude"),
    ("null", "x", "no text"),
    ("list", "1", "unknown type"),
])
def test_typed_fields_refuse_with_the_expected_form(kind: str, text: str, says: str) -> None:
    with pytest.raises(values.ValueError_, match=says):
        values.parse_value(kind, text, **P)


def test_edit_text_reads_back_as_the_same_value() -> None:
    stored = [7, 2.25, True, "s", b"\x00\xff", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
              Key("K", 1, project="p"), GeoPoint(1.5, 2.5), None]
    for value in stored:
        kind = values.type_of(value)
        assert values.parse_value(kind, values.edit_text(value), **P) == value, kind


def test_every_type_renders_readably() -> None:
    inner = Entity()
    inner.update({"color": "<red>"})
    shown = {
        "key": values.render(Key("Shop", "main", project="p"), link),
        "time": values.render(datetime(2026, 12, 4, 12, 30, tzinfo=timezone(timedelta(hours=2))), link),
        "blob": values.render(bytes(100), link),
        "entity": values.render(inner, link),
        "array": values.render([1, "a"], link),
        "long": values.render("x" * 200, link, short=True),
    }
    assert shown["key"].startswith('<a class="v-key" href="/e/') and 'Shop:&#34;main&#34;' in shown["key"]
    assert "2026-12-04 10:30:00.000000 UTC" in shown["time"]
    assert "blob, 100 bytes" in shown["blob"]
    assert "<details" in shown["entity"] and "&lt;red&gt;" in shown["entity"]  # escaped, expandable
    assert "array of 2" in shown["array"]
    assert "…" in shown["long"] and "x" * 81 not in shown["long"]


def test_filter_values_are_guessed() -> None:
    assert values.guess_value("20") == 20
    assert values.guess_value("2.5") == 2.5
    assert values.guess_value("true") is True
    assert values.guess_value("null") is None
    assert values.guess_value("lamp") == "lamp"
