"""Signals across the bridge: receivers on Flask's signals see a framework app's signals (sender = our
app), framework's receivers see Flask's signals sent for our app (flask.flash, flask.render_template),
a real Flask app's signals stay its own, and idle forwarders go away (the fast path comes back)."""

from __future__ import annotations

import typing as t

import flask
import flask.signals
import pytest

from framework import App, fast_path, flask_bridge, signals


@pytest.fixture
def app() -> App:
    app = App("sig")
    app.secret_key = "test-only-secret-key-0123456789"

    @app.get("/")
    def index() -> str:
        return flask.render_template_string("hi {{ 1 + 1 }}")

    @app.get("/flash")
    def do_flash() -> str:
        flask.flash("via flask")
        return "ok"

    return app


def test_every_flask_signal_is_paired() -> None:
    assert flask_bridge.is_active()
    pairs = flask_bridge.bound_signals()
    assert sorted(theirs.name for _, theirs in pairs) == sorted(ours.name for ours, _ in pairs)
    assert {theirs for _, theirs in pairs} == {getattr(flask.signals, n) for n in flask_bridge.SIGNAL_NAMES}
    assert {ours for ours, _ in pairs} == {getattr(signals, n) for n in flask_bridge.SIGNAL_NAMES}


def test_flask_receivers_see_our_app(app: App) -> None:
    got: list[tuple[str, t.Any]] = []

    def on(name: str) -> t.Callable[..., None]:
        def receiver(sender: t.Any, **extra: t.Any) -> None:
            assert flask.current_app._get_current_object() is app  # contexts usable in receivers
            got.append((name, sender))
        return receiver

    receivers = {name: on(name) for name in ("request_started", "request_finished", "template_rendered",
                                             "before_render_template", "appcontext_pushed", "appcontext_tearing_down",
                                             "request_tearing_down")}
    for name, receiver in receivers.items():
        getattr(flask.signals, name).connect(receiver)
    try:
        assert app.test_client().get("/").get_data() == b"hi 2"
    finally:
        for name, receiver in receivers.items():
            getattr(flask.signals, name).disconnect(receiver)
    names = [name for name, _ in got]
    assert {sender for _, sender in got} == {app}
    for name in receivers:
        assert names.count(name) == 1, names
    assert names.index("request_started") < names.index("before_render_template") < names.index("template_rendered")
    assert names.index("template_rendered") < names.index("request_finished") < names.index("request_tearing_down")


def test_flask_sends_for_our_app_reach_framework_receivers(app: App) -> None:
    flashed: list[tuple[t.Any, str]] = []
    rendered: list[t.Any] = []

    def on_flash(sender: t.Any, message: str, category: str, **extra: t.Any) -> None:
        flashed.append((sender, message))

    def on_render(sender: t.Any, template: t.Any, context: dict[str, t.Any], **extra: t.Any) -> None:
        rendered.append(sender)

    signals.message_flashed.connect(on_flash)
    signals.template_rendered.connect(on_render)
    try:
        client = app.test_client()
        client.get("/flash")  # flask.flash sends flask's message_flashed
        client.get("/")  # flask.render_template_string sends flask's template_rendered
    finally:
        signals.message_flashed.disconnect(on_flash)
        signals.template_rendered.disconnect(on_render)
    assert flashed == [(app, "via flask")]
    assert rendered == [app]


def test_real_flask_app_signals_stay_its_own(app: App) -> None:
    fapp = flask.Flask("real")
    fapp.add_url_rule("/", "index", lambda: flask.render_template_string("flask {{ 2 }}"))
    ours: list[t.Any] = []
    theirs: list[t.Any] = []

    def on_ours(sender: t.Any, **extra: t.Any) -> None:
        ours.append(sender)

    def on_theirs(sender: t.Any, **extra: t.Any) -> None:
        theirs.append(sender)

    signals.request_started.connect(on_ours)
    flask.signals.request_started.connect(on_theirs, sender=fapp)
    try:
        assert fapp.test_client().get("/").get_data() == b"flask 2"
        app.test_client().get("/")
    finally:
        signals.request_started.disconnect(on_ours)
        flask.signals.request_started.disconnect(on_theirs, sender=fapp)
    assert ours == [app]  # the Flask app's request is not reported as ours
    assert theirs == [fapp]  # a receiver bound to the Flask app sees only it


def test_idle_forwarders_disconnect_and_the_fast_path_returns(app: App) -> None:
    def receiver(sender: t.Any, **extra: t.Any) -> None:
        pass

    flask.signals.request_finished.connect(receiver)
    assert signals.request_finished.receivers  # the forwarder hangs on ours now
    flask.signals.request_finished.disconnect(receiver)
    app.test_client().get("/")  # the first send after that finds no one on Flask's side
    assert not signals.request_finished.receivers
    assert all(not s.receivers for s in fast_path.SIGNALS_SKIPPED)


def test_receiver_that_dies_is_dropped_too(app: App) -> None:
    def receiver(sender: t.Any, **extra: t.Any) -> None:
        pass

    flask.signals.request_finished.connect(receiver)  # weak: gone when the function is
    del receiver
    app.test_client().get("/")
    assert not signals.request_finished.receivers
