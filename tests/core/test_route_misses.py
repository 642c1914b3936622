"""Unmatched paths remembered by framework.routing: still 404 each time, found once a rule is added,
and never remembered when an app's own converter could answer differently next time."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError

from framework import App


def test_a_remembered_miss_is_still_a_404_and_a_new_rule_is_found() -> None:
    app = App("misses")
    app.add_url_rule("/", "index", lambda: "home")
    client = app.test_client()
    assert [client.get("/later").status_code for _ in range(3)] == [404, 404, 404]
    assert client.post("/later").status_code == 404
    app._got_first_request = False  # registering after serving, as tests of this cache may
    app.add_url_rule("/later", "later", lambda: "now here")
    assert client.get("/later").text == "now here"


def test_an_apps_own_converter_is_asked_every_time() -> None:
    known: set[str] = set()

    class Existing(BaseConverter):
        def to_python(self, value: str) -> str:
            if value not in known:
                raise ValidationError()
            return value

    app = App("misses_converter")
    app.url_map.converters["existing"] = Existing
    # Two rules under one prefix: werkzeug's matcher decides (the direct index would not).
    app.add_url_rule("/u/<existing:name>", "user", lambda name: name)
    app.add_url_rule("/u/<existing:name>", "user_post", lambda name: name, methods=["POST"])
    client = app.test_client()
    assert client.get("/u/ada").status_code == 404
    known.add("ada")
    assert client.get("/u/ada").text == "ada"


def test_a_remembered_static_hit_follows_a_new_map_and_new_rules() -> None:
    from framework.routing import Map

    app = App("hits")
    app.add_url_rule("/x", "a", lambda: "a")
    app.add_url_rule("/b", "b", lambda: "b")
    client = app.test_client()
    assert [client.get("/x").text for _ in range(2)] == ["a", "a"]
    (key, (rule, version)), = ((k, v) for k, v in app._routes._hits.items() if k[1] == "/x")
    assert rule.endpoint == "a" and version == app.url_map.rules_version

    app._got_first_request = False
    app.add_url_rule("/later", "later", lambda: "later")  # the rules changed: the hit is checked again
    assert client.get("/x").text == "a"
    assert app._routes._hits[key][1] == app.url_map.rules_version > version

    replacement = Map()
    replacement.add(app.url_rule_class("/x", endpoint="b"))
    app.url_map = replacement  # a new map: a new adapter, so the old hit cannot answer
    assert client.get("/x").text == "b"
