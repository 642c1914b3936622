"""A small shop on the framework: items in the Datastore (every value type), a cron job, queued tasks."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from google.cloud import datastore, tasks_v2
from google.cloud.datastore.helpers import GeoPoint

from framework import App, request
from framework.tasks import client as tasks_client

app = App(__name__)
_client: datastore.Client | None = None


def db() -> datastore.Client:
    global _client
    if _client is None:
        _client = datastore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    return _client


@app.post("/items/<name>")
def create_item(name: str) -> dict[str, object]:
    client = db()
    namespace = request.args.get("ns") or None
    shop = datastore.Entity(client.key("Shop", "main", namespace=namespace))
    shop["city"] = "Lyon"
    details = datastore.Entity()
    details.update({"color": "red", "weight_g": 350})
    item = datastore.Entity(client.key("Item", name, namespace=namespace), exclude_from_indexes=("photo",))
    item.update({
        "price": int(request.args.get("price", "10")), "title": f"The {name}", "on_sale": False,
        "created": datetime(2026, 12, 4, 12, 30, tzinfo=UTC), "photo": b"\x89PNG" + bytes(96),
        "tags": ["new", "blue"], "details": details, "shop": shop.key, "where": GeoPoint(45.76, 4.84), "note": None,
    })
    client.put_multi([shop, item])
    app.logger.info("created item %s", name)
    return {"created": name}


@app.get("/items/<name>")
def read_item(name: str) -> dict[str, object] | tuple[dict[str, str], int]:
    item = db().get(db().key("Item", name))
    if item is None:
        return {"error": "no such item"}, 404
    return {"price": item["price"], "title": item["title"]}


@app.get("/cron/tick")
def tick() -> dict[str, object]:
    if request.headers.get("X-AppEngine-Cron") != "true":
        return {"error": "cron only"}, 403  # type: ignore[return-value]
    app.logger.info("cron tick ran")
    return {"ticked": True}


@app.post("/enqueue/<int:count>")
def enqueue(count: int) -> dict[str, object]:
    parent = tasks_client().queue_path(os.environ["GOOGLE_CLOUD_PROJECT"], "us-central1", "held")
    for number in range(count):
        task = tasks_v2.Task(app_engine_http_request=tasks_v2.AppEngineHttpRequest(
            http_method=tasks_v2.HttpMethod.POST, relative_uri=f"/work/{number}", body=b"{}"))
        tasks_client().create_task(parent=parent, task=task)
    return {"queued": count}


@app.post("/work/<int:number>")
def work(number: int) -> dict[str, object]:
    return {"worked": number}


@app.cron("every 12 hours", description="Declared in code, not in cron.yaml")
def sweep() -> dict[str, bool]:
    app.logger.info("sweep ran")
    return {"swept": True}


@app.get("/items")
def items_on_sale() -> dict[str, object]:
    """An equality filter with a sort on another property: a composite index (recorded in index.yaml)."""
    query = db().query(kind="Item")
    query.add_filter(filter=datastore.query.PropertyFilter("on_sale", "=", request.args.get("on_sale") == "true"))
    query.order = ["-price"]
    return {"items": [item.key.name for item in query.fetch()]}


@app.post("/notes/<int:count>")
def notes(count: int) -> dict[str, object]:
    """`count` Note entities, in the named database ?db= when given."""
    database = request.args.get("db") or None
    client = datastore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"], database=database)
    batch = []
    for number in range(count):
        note = datastore.Entity(client.key("Note", number + 1))
        note["text"] = f"note {number + 1}"
        batch.append(note)
    client.put_multi(batch)
    return {"notes": count}
