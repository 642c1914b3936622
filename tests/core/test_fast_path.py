"""The direct-response fast path (framework/fast_path.py) cannot silently skip a hook, signal or override.

Every hook registry an App has and every signal framework.signals defines must be classified in
fast_path (kept or skipped); each skipped one and each replaceable method must still run when a plain
str/dict view answers.
"""

from __future__ import annotations

import re
import typing as t

import pytest
from blinker import NamedSignal

from framework import App, fast_path, signals
from framework.json.provider import DefaultJSONProvider

_REGISTRY = re.compile(r"(_funcs|_functions|_processors|_preprocessors|_spec|_handlers|_hooks)$")


def _plain_app(name: str) -> App:
    app = App(name)
    app.add_url_rule("/s", "s", lambda: "text")
    app.add_url_rule("/d", "d", lambda: {"a": 1})
    return app


def test_every_hook_registry_of_an_app_is_classified() -> None:
    registries = {name for name in vars(App("classify")) if _REGISTRY.search(name)}
    assert "after_request_funcs" in registries and "before_request_funcs" in registries  # the scan works
    classified = fast_path.HOOKS_KEPT | set(fast_path.HOOKS_SKIPPED)
    assert not fast_path.HOOKS_KEPT & set(fast_path.HOOKS_SKIPPED)
    assert registries - classified == set(), "classify the new registry in framework/fast_path.py"


def test_every_signal_is_classified() -> None:
    defined = {value for value in vars(signals).values() if isinstance(value, NamedSignal)}
    assert len(defined) == 10
    classified = fast_path.SIGNALS_KEPT | set(fast_path.SIGNALS_SKIPPED)
    assert not fast_path.SIGNALS_KEPT & set(fast_path.SIGNALS_SKIPPED)
    assert defined == classified, "classify the new signal in framework/fast_path.py"


@pytest.mark.parametrize("path", ["/s", "/d"])
@pytest.mark.parametrize("registry", fast_path.HOOKS_SKIPPED)
def test_a_skipped_registry_still_runs(registry: str, path: str) -> None:
    app = _plain_app(f"skipped_{registry}")
    seen: list[str] = []

    def hook(response: t.Any) -> t.Any:
        seen.append(registry)
        response.headers["X-Hook"] = "ran"
        return response

    getattr(app, registry)[None].append(hook)
    rv = app.test_client().get(path)
    assert seen == [registry] and rv.headers["X-Hook"] == "ran"


@pytest.mark.parametrize("signal", fast_path.SIGNALS_SKIPPED, ids=lambda s: s.name)
def test_a_skipped_signal_is_still_sent(signal: NamedSignal) -> None:
    app = _plain_app(f"signal_{signal.name}")
    seen: list[object] = []

    def receiver(sender: object, **extra: object) -> None:
        seen.append(sender)

    with signal.connected_to(receiver, app):
        assert app.test_client().get("/s").data == b"text"
    assert seen == [app]


@pytest.mark.parametrize("method", sorted(fast_path.REPLACED_METHODS))
@pytest.mark.parametrize("where", ["subclass", "instance"])
def test_a_replaced_method_runs(method: str, where: str) -> None:
    calls: list[str] = []

    def wrap(original: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        def replacement(*args: t.Any, **kwargs: t.Any) -> t.Any:
            calls.append(method)
            return original(*args, **kwargs)

        return replacement

    if where == "subclass":
        base = getattr(App, method)
        sub = type("Sub", (App,), {method: lambda self, *a, **k: wrap(base)(self, *a, **k)})
        app = sub("replaced_sub")
        app.add_url_rule("/s", "s", lambda: "text")
    else:
        app = _plain_app("replaced_instance")
        setattr(app, method, wrap(getattr(app, method)))
    assert not app._fast_path
    assert app.test_client().get("/s").data == b"text"
    assert method in calls


def test_plain_app_takes_the_fast_path_and_answers_the_same() -> None:
    app = _plain_app("plain")
    assert app._fast_path
    rv = app.test_client().get("/d")
    assert rv.data == b'{"a":1}\n' and rv.mimetype == "application/json"


def test_replaced_json_response_is_used() -> None:
    class Provider(DefaultJSONProvider):
        def response(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
            rv = super().response(*args, **kwargs)
            rv.headers["X-Provider"] = "custom"
            return rv

    app = _plain_app("json_custom")
    app.json = Provider(app)
    assert app.json.direct_body({"a": 1}) is None
    assert app.test_client().get("/d").headers["X-Provider"] == "custom"


def test_session_cookie_sent_is_the_one_check(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _plain_app("cookie_check")
    app.secret_key = "k" * 32
    with app.test_request_context("/s", headers={"Cookie": "session=x"}) as ctx:
        assert ctx.session_cookie_sent()
    with app.test_request_context("/s", headers={"Cookie": "other=x"}) as ctx:
        assert not ctx.session_cookie_sent()
    with app.test_request_context("/s") as ctx:
        assert not ctx.session_cookie_sent()
    app.config["SESSION_COOKIE_NAME"] = "sid"
    with app.test_request_context("/s", headers={"Cookie": "sid=x"}) as ctx:
        assert ctx.session_cookie_sent()
