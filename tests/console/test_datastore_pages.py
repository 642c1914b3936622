"""The console's entity editing against the real Datastore emulator, through HTTP, without a browser:
typed fields, validation that loses nothing, index flags, removing and adding properties."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from google.cloud import datastore

from deploy.config.project import load_project
from deploy.local.console import Console
from deploy.local.console.values import key_token
from framework.emulators.datastore import Emulator

APP = Path(__file__).parent / "apps" / "shop"


@pytest.fixture
def console(clean_datastore: Emulator) -> Iterator[Console]:
    env = {"DATASTORE_EMULATOR_HOST": clean_datastore.env["DATASTORE_EMULATOR_HOST"],
           "DATASTORE_PROJECT_ID": clean_datastore.env["DATASTORE_PROJECT_ID"]}
    served = Console(load_project(APP), env, "token", "http://127.0.0.1:9", emit=lambda text: None)
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def client(clean_datastore: Emulator) -> datastore.Client:
    return datastore.Client(project=clean_datastore.env["DATASTORE_PROJECT_ID"])


def call(console: Console, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, Location, body)."""
    port = int(console.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        conn.request(method, path, body=urlencode(form) if form is not None else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location") or "", resp.read().decode()
    finally:
        conn.close()


def edit_form(console: Console, path: str) -> dict[str, str]:
    """The edit form's fields as the page fills them (checked boxes as "on")."""
    status, _, page = call(console, "GET", path)
    assert status == 200, page
    form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1)}  # type: ignore[union-attr]
    for name, value in re.findall(r'<input type="text" name="([^"]+)" value="([^"]*)"', page):
        form[name] = value.replace("&#34;", '"').replace("&amp;", "&")
    for name, chosen in re.findall(r'<select name="([^"]+)"[^>]*>.*?<option selected>([^<]+)</option>', page, re.S):
        form[name] = chosen
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" checked', page):
        form[name] = "on"
    return form


def stored_item(client: datastore.Client) -> tuple[datastore.Key, str]:
    item = datastore.Entity(client.key("Item", "lamp"))
    item.update({"price": 12, "title": "lamp", "gone": True})
    client.put(item)
    return item.key, "/datastore/entity/" + key_token(item.key)


def test_typed_edits_are_saved(console: Console, client: datastore.Client) -> None:
    key, path = stored_item(client)
    form = edit_form(console, path)
    assert form["type:price"] == "integer" and form["value:title"] == "lamp" and form["indexed:title"] == "on"
    form.update({"type:price": "string", "value:price": "12", "remove:gone": "on", "new:name": "made",
                 "new:type": "timestamp", "new:value": "2026-12-04T21:00:00+01:00", "new:indexed": "on"})
    status, location, _ = call(console, "POST", path, form)
    assert status == 303 and location.endswith("?done=Saved.")
    saved = client.get(key)
    assert dict(saved) == {"price": "12", "title": "lamp", "made": datetime(2026, 12, 4, 20, 0, tzinfo=UTC)}


def test_a_long_text_must_be_unindexed(console: Console, client: datastore.Client) -> None:
    key, path = stored_item(client)
    form = edit_form(console, path)
    form["value:title"] = "x" * 1600
    status, _, page = call(console, "POST", path, form)
    assert status == 400 and "the emulator refused the entity" in page
    assert client.get(key)["title"] == "lamp"
    del form["indexed:title"]
    assert call(console, "POST", path, form)[0] == 303
    saved = client.get(key)
    assert saved["title"] == "x" * 1600 and "title" in saved.exclude_from_indexes


@pytest.mark.parametrize(("field", "value", "says"), [
    ("value:price", "twelve", "is not an integer"),
    ("new:name", "__key__", "reserved"),
    ("new:name", "price", "already a property"),
])
def test_invalid_fields_change_nothing_and_keep_what_was_typed(console: Console, client: datastore.Client,
                                                              field: str, value: str, says: str) -> None:
    key, path = stored_item(client)
    form: dict[str, Any] = edit_form(console, path)
    form.update({field: value, "value:title": "typed but not saved"})
    status, _, page = call(console, "POST", path, form)
    assert status == 400 and says in page and 'value="typed but not saved"' in page
    assert dict(client.get(key)) == {"price": 12, "title": "lamp", "gone": True}


def test_a_key_property_links_to_its_entity(console: Console, client: datastore.Client) -> None:
    _, path = stored_item(client)
    form = edit_form(console, path)
    form.update({"new:name": "shop", "new:type": "key", "new:value": 'Shop:"main"/Shelf:7'})
    assert call(console, "POST", path, form)[0] == 303
    _, _, page = call(console, "GET", path)
    target = "/datastore/entity/" + key_token(client.key("Shop", "main", "Shelf", 7))
    assert f'<a class="v-key" href="{target}">Shop:&#34;main&#34;/Shelf:7</a>' in page
    status, _, missing = call(console, "GET", target)
    assert status == 404 and "does not exist" in missing
