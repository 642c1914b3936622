"""url_for inside and outside requests: external URLs, schemes, anchors, methods, defaults, errors."""

from __future__ import annotations

import pytest
from werkzeug.routing import BuildError

from framework import App, Blueprint, url_for


@pytest.fixture
def routed(app: App) -> App:
    app.add_url_rule("/", "index", lambda: "i")
    app.add_url_rule("/user/<int:id>", "user", lambda id: str(id))
    app.add_url_rule("/item", "item_get", lambda: "g", methods=["GET"])
    app.add_url_rule("/item", "item_post", lambda: "p", methods=["POST"])
    return app


def test_in_request(routed: App) -> None:
    with routed.test_request_context("/", base_url="http://example.test/app"):
        assert url_for("index") == "/app/"
        assert url_for("user", id=3) == "/app/user/3"
        assert url_for("user", id=3, q="a b") == "/app/user/3?q=a+b"
        assert url_for("user", id=3, _external=True) == "http://example.test/app/user/3"
        assert url_for("user", id=3, _scheme="https") == "https://example.test/app/user/3"
        assert url_for("index", _anchor="top part") == "/app/#top%20part"
        with pytest.raises(ValueError):
            url_for("index", _scheme="https", _external=False)


def test_method_selects_rule(app: App) -> None:
    app.add_url_rule("/get", "same", lambda: "g", methods=["GET"])
    app.add_url_rule("/post", "same", methods=["POST"])
    with app.test_request_context():
        assert url_for("same", _method="GET") == "/get"
        assert url_for("same", _method="POST") == "/post"


def test_outside_request_needs_server_name(routed: App) -> None:
    with routed.app_context():
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("index")
    routed.config.update(SERVER_NAME="example.test:8080", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https")
    with routed.app_context():
        assert url_for("user", id=1) == "https://example.test:8080/root/user/1"
        assert url_for("user", id=1, _external=False) == "/root/user/1"
    with pytest.raises(RuntimeError):
        url_for("index")  # no app context at all


def test_build_error_handlers(routed: App) -> None:
    with routed.test_request_context():
        with pytest.raises(BuildError):
            url_for("nowhere")

    def handler(error, endpoint, values):  # type: ignore[no-untyped-def]
        if endpoint == "external":
            return f"https://elsewhere.test/{values.get('page', '')}"
        return None

    routed.url_build_error_handlers.append(handler)
    with routed.test_request_context():
        assert url_for("external", page="x") == "https://elsewhere.test/x"
        with pytest.raises(BuildError):
            url_for("still_missing")


def test_url_defaults_and_blueprint_relative(app: App) -> None:
    bp = Blueprint("shop", __name__, url_prefix="/<lang>/shop")

    @bp.url_defaults
    def add_lang(endpoint, values):  # type: ignore[no-untyped-def]
        values.setdefault("lang", "en")

    @bp.url_value_preprocessor
    def pop_lang(endpoint, values):  # type: ignore[no-untyped-def]
        values.pop("lang", None)

    @bp.route("/cart")
    def cart() -> str:
        return url_for(".item", id=5)

    @bp.route("/item/<int:id>")
    def item(id: int) -> str:
        return str(id)

    seen: list[str] = []
    app.url_defaults(lambda endpoint, values: seen.append(endpoint))
    app.add_url_rule("/", "index", lambda: url_for(".index"))
    app.register_blueprint(bp)
    c = app.test_client()
    assert c.get("/fr/shop/cart").data == b"/en/shop/item/5"
    assert c.get("/").data == b"/"
    with app.test_request_context():
        assert url_for("shop.cart") == "/en/shop/cart"
        assert url_for("shop.cart", lang="de") == "/de/shop/cart"
    assert "shop.item" in seen


def test_url_for_in_requests_uses_request_host(routed: App) -> None:
    routed.add_url_rule("/link", "link", lambda: url_for("user", id=7, _external=True))
    c = routed.test_client()
    assert c.get("/link", base_url="https://a.test").data == b"https://a.test/user/7"
    assert c.get("/link", base_url="http://b.test:8000").data == b"http://b.test:8000/user/7"
