"""Differential harness: build one scenario with `flask` and with `framework`, replay requests, compare.

Normalisation: only the order of the methods in `Allow` (werkzeug builds it from a set, whose
iteration order follows string hashing, so it is not even stable between two Flask apps); everything
else (status, every header in order, Set-Cookie bytes, body) must match exactly. Exception messages
are compared exactly too, unless a test lists key facts instead (our messages are our own words).
Tests that need more (wall-clock dates) pass a `normalise` function and say why next to it.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass, field
from types import ModuleType

import flask

import framework

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
    body = resp.get_data()
    resp.close()  # file-backed bodies (send_file) release their file
    return resp.status_code, headers, body


def _sorted_allow(value: str) -> str:
    return ", ".join(sorted(m.strip() for m in value.split(",")))


def outcome(fn: t.Callable[[], t.Any]) -> tuple[str, t.Any]:
    """Run `fn`; return ("ok", value) or ("raise", (exception type name, message))."""
    try:
        return "ok", fn()
    except Exception as e:
        return "raise", (type(e).__name__, str(e))


Normaliser = t.Callable[[t.Any], t.Any]


def replay(build: Builder, fw: ModuleType, calls: t.Sequence[Call], normalise: Normaliser | None = None) -> list[t.Any]:
    """Build the app with `fw` and return the snapshot (or raised exception) of each call in turn.

    Keyword arguments are deep-copied per run, so file objects in `data` are fresh for each side."""
    app = build(fw)
    client = app.test_client()
    out = []
    for c in calls:
        kind, value = outcome(lambda c=c: snapshot(client.open(c.path, method=c.method, **copy.deepcopy(c.kwargs))))
        if kind != "ok":
            value = ("raised",) + value
        out.append(normalise(value) if normalise else value)
    return out


def both(
    build: Builder,
    calls: t.Sequence[Call],
    facts: dict[int, t.Sequence[str]] | None = None,
    normalise: Normaliser | None = None,
) -> list[t.Any]:
    """Replay `calls` on both apps, assert identical results, and return Flask's for extra checks.

    Exceptions must have the same type and message, except for calls listed in `facts` (index ->
    substrings): our messages are our own words, so there both messages must contain each key fact.
    `normalise` maps each result before comparing (callers say in a comment what it removes and why).
    """
    expected = replay(build, flask, calls, normalise)
    actual = replay(build, framework, calls, normalise)
    for i, (c, e, a) in enumerate(zip(calls, expected, actual, strict=True)):
        where = f"{c.method} {c.path}: framework {a!r} != flask {e!r}"
        if facts and i in facts:
            assert e[0] == a[0] == "raised" and a[1] == e[1], where
            for fact in facts[i]:
                assert fact in e[2] and fact in a[2], f"{fact!r} missing; {where}"
        else:
            assert a == e, where
    return expected


def same(fn: t.Callable[[ModuleType], t.Any]) -> t.Any:
    """Run `fn(fw)` for both modules (outcome incl. exceptions); assert equal; return Flask's outcome."""
    expected = outcome(lambda: fn(flask))
    actual = outcome(lambda: fn(framework))
    assert actual == expected, f"framework {actual!r} != flask {expected!r}"
    return expected


def errors(*attempts: t.Callable[[], t.Any]) -> list[str]:
    """For each attempt: "ok", or the name of the exception it raised."""
    out = []
    for attempt in attempts:
        try:
            attempt()
            out.append("ok")
        except Exception as e:
            out.append(type(e).__name__)
    return out
