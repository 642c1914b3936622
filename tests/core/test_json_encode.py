"""The JSON provider's compact encoding builds the stdlib's C encoder directly: the same text, and the same
errors, as JSONEncoder.encode for every kind of value, and an error in one call never affects the next."""

from __future__ import annotations

import json
import typing as t
import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from framework import App
from framework.json.provider import _default, _encode

circular: list[t.Any] = []
circular.append(circular)
circular_dict: dict[str, t.Any] = {}
circular_dict["self"] = circular_dict

VALUES: list[t.Any] = [
    {"b": 1, "a": [1.5, None, True]}, [], {}, "plain", "é ∑ 😀 \u2028 \"q\"", 0, -1.25, float("nan"), float("inf"),
    {1: "int key", 2.5: "float key", False: "bool", None: "none"}, {"z": {"y": [{"x": ()}]}}, (1, 2),
    {"when": datetime(2026, 12, 4, 22, 30)}, {"id": uuid.UUID(int=7)}, Decimal("1.10"), {1: "a", "b": 2},
    circular, circular_dict, {"s": {1, 2}}, object(), [object()],
]


def _outcome(encode: t.Callable[[], str]) -> tuple[t.Any, ...]:
    try:
        return ("ok", encode())
    except Exception as e:
        return (type(e), str(e))


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
@pytest.mark.parametrize("options", [{"sort_keys": True}, {"sort_keys": False, "ensure_ascii": False},
                                     {"check_circular": False, "allow_nan": False}, {"skipkeys": True}])
def test_same_text_and_errors_as_json_encoder(value: t.Any, options: dict[str, t.Any]) -> None:
    if not options.get("check_circular", True) and value in (circular, circular_dict):
        pytest.skip("without the check a circular value recurses until RecursionError in both")
    encoder = json.JSONEncoder(default=_default, separators=(",", ":"), **options)
    assert _outcome(lambda: _encode(encoder, value)) == _outcome(lambda: encoder.encode(value))
    assert _encode(encoder, {"after": "an error"}) == '{"after":"an error"}'


def test_app_responses_use_it() -> None:
    app = App(__name__)
    app.add_url_rule("/j", "j", lambda: {"b": [1, 2], "a": "x"})
    assert app.test_client().get("/j").data == b'{"a":"x","b":[1,2]}\n'
