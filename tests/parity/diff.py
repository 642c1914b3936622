"""Differential harness: build one scenario with `flask` and with `framework`, replay requests, compare.

Normalisation: only the order of the methods in `Allow` (werkzeug builds it from a set, whose
iteration order follows string hashing, so it is not even stable between two Flask apps); everything
else (status, every header in order, Set-Cookie bytes, body) must match exactly.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from types import ModuleType

import flask

import framework

FRAMEWORKS: tuple[ModuleType, ModuleType] = (flask, framework)
Builder = t.Callable[[ModuleType], t.Any]


@dataclass
class Call:
    """One test-client request: method, path and the keyword arguments for `client.open`."""

    method: str
    path: str
    kwargs: dict[str, t.Any] = field(default_factory=dict)


def call(method: str, path: str, **kwargs: t.Any) -> Call:
    """Shorthand constructor for a `Call`."""
    return Call(method, path, kwargs)


def snapshot(resp: t.Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Everything observable about a response: status, headers in order, body."""
    headers = [(k, _sorted_allow(v) if k == "Allow" else v) for k, v in resp.headers.items()]
    return resp.status_code, headers, resp.get_data()


def _sorted_allow(value: str) -> str:
    return ", ".join(sorted(m.strip() for m in value.split(",")))


def outcome(fn: t.Callable[[], t.Any]) -> tuple[str, t.Any]:
    """Run `fn`; return ("ok", value) or ("raise", (exception type name, message))."""
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the exception itself is what we compare
        return "raise", (type(e).__name__, str(e))


def replay(build: Builder, fw: ModuleType, calls: t.Sequence[Call]) -> list[t.Any]:
    """Build the app with `fw` and return the snapshot (or raised exception) of each call in turn."""
    app = build(fw)
    client = app.test_client()
    out = []
    for c in calls:
        kind, value = outcome(lambda c=c: snapshot(client.open(c.path, method=c.method, **c.kwargs)))
        out.append(value if kind == "ok" else ("raised",) + value)
    return out


def both(build: Builder, calls: t.Sequence[Call]) -> list[t.Any]:
    """Replay `calls` on both apps, assert identical results, and return Flask's for extra checks."""
    expected = replay(build, flask, calls)
    actual = replay(build, framework, calls)
    for c, e, a in zip(calls, expected, actual, strict=True):
        assert a == e, f"{c.method} {c.path}: framework {a!r} != flask {e!r}"
    return expected


def same(fn: t.Callable[[ModuleType], t.Any]) -> t.Any:
    """Run `fn(fw)` for both modules (outcome incl. exceptions); assert equal; return Flask's outcome."""
    expected = outcome(lambda: fn(flask))
    actual = outcome(lambda: fn(framework))
    assert actual == expected, f"framework {actual!r} != flask {expected!r}"
    return expected
