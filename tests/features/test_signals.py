"""The ten signals: names, senders and documented arguments."""

from __future__ import annotations

import pytest

from framework import App, flash, render_template_string, signals, stream_template_string
from framework.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    before_render_template,
    got_request_exception,
    message_flashed,
    request_finished,
    request_started,
    request_tearing_down,
    template_rendered,
)

ALL = {
    "template-rendered": template_rendered, "before-render-template": before_render_template,
    "request-started": request_started, "request-finished": request_finished,
    "request-tearing-down": request_tearing_down, "got-request-exception": got_request_exception,
    "appcontext-tearing-down": appcontext_tearing_down, "appcontext-pushed": appcontext_pushed,
    "appcontext-popped": appcontext_popped, "message-flashed": message_flashed,
}


def test_names() -> None:
    for name, signal in ALL.items():
        assert signal.name == name
        assert getattr(signals, name.replace("-", "_")) is signal


@pytest.fixture
def recorded():
    app = App(__name__)
    app.secret_key = "signal-tests-secret-key-value"
    events: list[tuple[str, object, dict]] = []
    receivers = []
    for name, signal in ALL.items():
        def receiver(sender, _name=name, **kwargs):
            events.append((_name, sender, kwargs))

        receivers.append(receiver)
        signal.connect(receiver, sender=app)
    yield app, events
    for signal, receiver in zip(ALL.values(), receivers, strict=True):
        signal.disconnect(receiver)


def names(events) -> list[str]:
    return [e[0] for e in events]


def test_request_cycle_signals(recorded) -> None:
    app, events = recorded

    @app.route("/")
    def index() -> str:
        flash("hi", "info")
        return render_template_string("{{ x }}", x=1)

    response = app.test_client().get("/")
    assert response.text == "1"
    assert names(events) == [
        "appcontext-pushed", "request-started", "message-flashed", "before-render-template",
        "template-rendered", "request-finished", "request-tearing-down", "appcontext-tearing-down",
        "appcontext-popped",
    ]
    assert all(sender is app for _n, sender, _k in events)
    by_name = {n: kw for n, _s, kw in events}
    assert by_name["message-flashed"] == {"message": "hi", "category": "info"}
    assert by_name["before-render-template"]["context"]["x"] == 1
    assert by_name["template-rendered"]["template"].render(x=2) == "2"
    assert by_name["request-finished"]["response"].status_code == 200
    assert by_name["request-tearing-down"] == {"exc": None}
    assert by_name["appcontext-tearing-down"] == {"exc": None}
    assert by_name["appcontext-pushed"] == {} and by_name["request-started"] == {}


def test_got_request_exception_only_when_unhandled(recorded) -> None:
    app, events = recorded
    boom = ValueError("boom")

    @app.route("/unhandled")
    def unhandled() -> str:
        raise boom

    @app.route("/handled")
    def handled() -> str:
        raise KeyError("k")

    app.register_error_handler(KeyError, lambda e: ("handled", 400))
    client = app.test_client()
    assert client.get("/unhandled").status_code == 500
    by_name = {n: kw for n, _s, kw in events}
    assert by_name["got-request-exception"] == {"exception": boom}
    assert by_name["request-tearing-down"]["exc"] is boom
    events.clear()
    assert client.get("/handled").status_code == 400
    assert "got-request-exception" not in names(events)
    assert {n: kw for n, _s, kw in events}["request-tearing-down"] == {"exc": None}


def test_stream_template_signals(recorded) -> None:
    app, events = recorded

    @app.route("/s")
    def s():
        return stream_template_string("{% for i in range(2) %}{{ i }}{% endfor %}")

    response = app.test_client().get("/s", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == b"0"
    assert "before-render-template" in names(events) and "template-rendered" not in names(events)
    assert b"".join(chunks) == b"1"
    response.close()
    order = names(events)
    assert order.index("before-render-template") < order.index("template-rendered")


def test_receivers_for_other_apps_are_not_called(recorded) -> None:
    app, events = recorded
    other = App(__name__)
    other.add_url_rule("/", "i", lambda: "x")
    other.test_client().get("/")
    assert events == []


def test_appcontext_signals_outside_requests(recorded) -> None:
    app, events = recorded
    with app.app_context():
        pass
    assert names(events) == ["appcontext-pushed", "appcontext-tearing-down", "appcontext-popped"]
