"""The console's pages: a framework App (templates, plain forms, no JavaScript) over the runner's parts.

Pages read with GET; every change is a POST carrying the CSRF token, answered with a redirect to the page
to look at next (a note says what was done). Errors from the emulators are shown as a page, never a
traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from google.api_core import exceptions as api_exceptions
from google.cloud.datastore import Entity, Key
from werkzeug.wrappers import Response as WerkzeugResponse

from deploy.local.console import values
from deploy.local.console.crons import Crons
from deploy.local.console.queues import QueueError, Queues
from deploy.local.console.requestlog import MAX_REQUESTS, RequestLog
from deploy.local.console.safety import SECURITY_HEADERS, Safety
from deploy.local.console.store import OPERATORS, Store, StoreError
from framework import App, abort, redirect, render_template, request

Reply = str | WerkzeugResponse | tuple[str, int]
FILTER_TYPES = ("auto", *values.EDITABLE_TYPES)


class Parts:
    """What the pages work on; the runner builds it (see deploy.local.console.Console)."""

    def __init__(self, *, app_dir: Path, store: Store, queues: Queues, crons: Crons, log: RequestLog,
                 safety: Safety, front_end_url: str) -> None:
        self.app_dir = app_dir
        self.store = store
        self.queues = queues
        self.crons = crons
        self.log = log
        self.safety = safety
        self.front_end_url = front_end_url


def _args(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def create_app(parts: Parts) -> App:
    """The console App over `parts`."""
    app = App(__name__, template_folder="templates", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024

    @app.before_request
    def _guard() -> Reply | None:
        form = request.form if request.method == "POST" else {}
        why = parts.safety.refusal(request.method, request.headers, form)
        if why is not None:
            return render_template("error.html", title="Refused", message=why), 403
        return None

    @app.after_request
    def _headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.context_processor
    def _common() -> dict[str, Any]:
        return {"csrf": parts.safety.csrf_token, "note": request.args.get("done", ""),
                "front_end_url": parts.front_end_url, "section": request.path.strip("/").split("/")[0]}

    @app.errorhandler(StoreError)
    @app.errorhandler(QueueError)
    @app.errorhandler(api_exceptions.GoogleAPICallError)
    def _emulator_error(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="The emulator refused", message=str(exc)), 502

    def key_link(key: Key) -> str:
        return "/datastore/entity/" + values.key_token(key)

    def render_value(value: Any, short: bool = False) -> Any:
        return values.render(value, key_link, short=short)

    @app.template_filter("timestamp")
    def _timestamp(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S.%f")[:-3] + " UTC"

    app.jinja_env.globals.update(render_value=render_value, key_link=key_link, key_path=values.key_path_text,
                                 args=_args)

    @app.get("/")
    def home() -> WerkzeugResponse:
        return redirect("/datastore")

    # --- Datastore -------------------------------------------------------------------------------
    @app.get("/datastore")
    def datastore_home() -> str:
        db = request.args.get("db", "")
        ns = request.args.get("ns", "")
        return render_template("datastore.html", title="Datastore", db=db, ns=ns,
                               namespaces=parts.store.namespaces(db), kinds=parts.store.kinds(ns, db),
                               project=parts.store.project, host=parts.store.host)

    @app.get("/datastore/kind/<kind>")
    def kind_page(kind: str) -> Reply:
        db, ns = request.args.get("db", ""), request.args.get("ns", "")
        prop = request.args.get("prop", "").strip()
        op = request.args.get("op", "=")
        text = request.args.get("value", "")
        kind_of_value = request.args.get("type", "auto")
        order = request.args.get("order", "").strip()
        cursor = request.args.get("cursor") or None
        problem = ""
        value: Any = None
        if op not in OPERATORS:
            problem = f"unknown operator {op!r}; use one of {' '.join(OPERATORS)}"
        elif prop:
            try:
                value = values.guess_value(text) if kind_of_value == "auto" else values.parse_value(
                    kind_of_value, text, project=parts.store.project, namespace=ns, database=db)
            except values.ValueError_ as exc:
                problem = f"filter value: {exc}"
        order_prop = order.lstrip("-")
        if not problem and prop and order_prop and order_prop != prop:
            # The console's own queries must never add to the app's index.yaml (record mode): a filter and
            # an order on different properties would need a composite index.
            problem = (f"ordering by {order_prop!r} while filtering on {prop!r} needs a composite index; "
                       "order by the filtered property, or drop one of them")
        page = None
        if not problem:
            page = parts.store.page(kind, ns, db, prop=prop, op=op, value=value, order=order, cursor=cursor)
        params = {"db": db, "ns": ns, "prop": prop, "op": op, "value": text, "type": kind_of_value, "order": order}
        body = render_template("kind.html", title=f"Datastore: {kind}", kind=kind, db=db, ns=ns, page=page,
                               problem=problem, params=params, operators=OPERATORS, filter_types=FILTER_TYPES,
                               count=parts.store.count(kind, ns, db), cursor=cursor)
        return (body, 400) if problem else body

    @app.post("/datastore/kind/<kind>/delete")
    def delete_kind(kind: str) -> WerkzeugResponse:
        db, ns = request.form.get("db", ""), request.form.get("ns", "")
        deleted = parts.store.delete_kind(kind, ns, db)
        return redirect("/datastore" + _args(db=db, ns=ns, done=f"Deleted {deleted} {kind} entities."), 303)

    @app.post("/datastore/reset")
    def reset_store() -> WerkzeugResponse:
        parts.store.reset()
        return redirect("/datastore" + _args(done="The Datastore emulator was reset: every entity is gone."), 303)

    def load_key(token: str) -> Key:
        try:
            return values.key_from_token(token, parts.store.project)
        except values.ValueError_:
            abort(404)

    @app.get("/datastore/entity/<token>")
    def entity_page(token: str) -> Reply:
        key = load_key(token)
        entity = parts.store.get(key)
        if entity is None:
            return render_template("error.html", title="No such entity",
                                   message=f"{values.key_path_text(key)} does not exist (any more)."), 404
        return render_template("entity.html", title=f"Entity {values.key_path_text(key)}", key=key,
                               entity=entity, rows=_rows_of(entity), errors={}, types=values.EDITABLE_TYPES,
                               new={"name": "", "type": "string", "value": "", "indexed": True})

    @app.post("/datastore/entity/<token>")
    def save_entity(token: str) -> Reply:
        key = load_key(token)
        stored = parts.store.get(key)
        if stored is None:
            return render_template("error.html", title="No such entity",
                                   message=f"{values.key_path_text(key)} was deleted meanwhile; nothing saved."), 409
        entity, rows, new, errors = _entity_from_form(stored, request.form, parts.store.project)
        if not errors:
            try:
                parts.store.put(entity)
            except api_exceptions.InvalidArgument as exc:
                errors["_"] = f"the emulator refused the entity: {exc.message}"
        if errors:
            return render_template("entity.html", title=f"Entity {values.key_path_text(key)}", key=key,
                                   entity=stored, rows=rows, errors=errors, types=values.EDITABLE_TYPES,
                                   new=new), 400
        return redirect(key_link(key) + _args(done="Saved."), 303)

    @app.post("/datastore/entity/<token>/delete")
    def delete_entity(token: str) -> WerkzeugResponse:
        key = load_key(token)
        parts.store.delete(key)
        return redirect(f"/datastore/kind/{key.kind}" + _args(db=key.database, ns=key.namespace,
                                                              done=f"Deleted {values.key_path_text(key)}."), 303)

    @app.get("/datastore/indexes")
    def indexes_page() -> str:
        path = parts.app_dir / "index.yaml"
        text = path.read_text(errors="replace") if path.is_file() else ""
        marker = "# AUTOGENERATED"
        recorded = text[text.index(marker):] if marker in text else ""
        return render_template("indexes.html", title="Datastore indexes", path=path, text=text, recorded=recorded)

    # --- Cron ------------------------------------------------------------------------------------
    @app.get("/cron")
    def cron_page() -> str:
        return render_template("cron.html", title="Cron jobs", rows=parts.crons.rows())

    @app.post("/cron/run")
    def cron_run() -> WerkzeugResponse:
        url = request.form.get("url", "")
        if not parts.crons.run_now(url):
            abort(404)
        return redirect("/cron" + _args(done=f"Started {url}; its request appears under Requests."), 303)

    # --- Task queues -------------------------------------------------------------------------------
    def parent_arg(source: Any) -> str:
        parent = source.get("parent", "") or parts.queues.default_parent
        segments = parent.split("/")
        if len(segments) != 4 or segments[0] != "projects" or segments[2] != "locations" or not all(segments):
            abort(400, description="parent must be projects/PROJECT/locations/LOCATION")
        return str(parent)

    @app.get("/queues")
    def queues_page() -> str:
        parent = parent_arg(request.args)
        return render_template("queues.html", title="Task queues", parent=parent,
                               rows=parts.queues.queues(parent), host=parts.queues.host)

    @app.get("/queues/<queue>")
    def queue_page(queue: str) -> str:
        parent = parent_arg(request.args)
        name = f"{parent}/queues/{queue}"
        return render_template("queue.html", title=f"Queue {queue}", parent=parent, row=parts.queues.queue(name),
                               tasks=parts.queues.tasks(name))

    @app.post("/queues/<queue>/<action>")
    def queue_action(queue: str, action: str) -> WerkzeugResponse:
        parent = parent_arg(request.form)
        name = f"{parent}/queues/{queue}"
        actions = {"purge": parts.queues.purge, "pause": parts.queues.pause, "resume": parts.queues.resume}
        if action not in actions:
            abort(404)
        actions[action](name)
        done = {"purge": "Purged: every task is gone.", "pause": "Paused.", "resume": "Resumed."}[action]
        return redirect(f"/queues/{queue}" + _args(parent=parent, done=done), 303)

    @app.post("/queues/<queue>/tasks/<task>/<action>")
    def task_action(queue: str, task: str, action: str) -> WerkzeugResponse:
        parent = parent_arg(request.form)
        name = f"{parent}/queues/{queue}/tasks/{task}"
        if action == "run":
            parts.queues.run(name)
            done = f"Task {task} sent now."
        elif action == "delete":
            parts.queues.delete(name)
            done = f"Task {task} deleted."
        else:
            abort(404)
        return redirect(f"/queues/{queue}" + _args(parent=parent, done=done), 303)

    # --- Requests ----------------------------------------------------------------------------------
    @app.get("/requests")
    def requests_page() -> str:
        service = request.args.get("service") or None
        rows = parts.log.requests(service=service, limit=MAX_REQUESTS)
        return render_template("requests.html", title="Requests", rows=rows,
                               services=parts.log.services(), service=service or "", kept=MAX_REQUESTS)

    @app.get("/requests/<int:number>")
    def request_page(number: int) -> Reply:
        entry = parts.log.get(number)
        if entry is None:
            return render_template("error.html", title="No such request",
                                   message=f"request {number} is not among the last ones kept."), 404
        return render_template("request.html", title=f"{entry.method} {entry.path}", entry=entry)

    return app


def _rows_of(entity: Entity) -> list[dict[str, Any]]:
    excluded = set(entity.exclude_from_indexes)
    return [{"name": name, "type": values.type_of(entity[name]), "value": values.edit_text(entity[name]),
             "indexed": name not in excluded, "stored": entity[name]} for name in sorted(entity)]


def _entity_from_form(stored: Entity, form: Any, project: str) -> tuple[Entity, list[dict[str, Any]],
                                                                        dict[str, Any], dict[str, str]]:
    """The entity the edit form describes, the rows to show again, the new-property row, and errors by field."""
    key = stored.key
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    props: dict[str, Any] = {}
    unindexed: set[str] = set()

    def parse(kind: str, text: str, where: str) -> Any:
        try:
            return values.parse_value(kind, text, project=project, namespace=key.namespace, database=key.database)
        except values.ValueError_ as exc:
            errors[where] = str(exc)
            return None

    for name in sorted(stored):
        kind = form.get(f"type:{name}", values.type_of(stored[name]))
        text = form.get(f"value:{name}", "")
        indexed = form.get(f"indexed:{name}") == "on"
        removed = form.get(f"remove:{name}") == "on"
        rows.append({"name": name, "type": kind, "value": text, "indexed": indexed, "stored": stored[name],
                     "removed": removed})
        if removed:
            continue
        props[name] = stored[name] if kind == "keep" else parse(kind, text, name)
        if not indexed:
            unindexed.add(name)
    new = {"name": form.get("new:name", "").strip(), "type": form.get("new:type", "string"),
           "value": form.get("new:value", ""), "indexed": form.get("new:indexed") == "on"}
    if new["name"]:
        if new["name"] in props:
            errors["new"] = f"{new['name']!r} is already a property; edit it in its row"
        elif new["name"].startswith("__") and new["name"].endswith("__"):
            errors["new"] = "names like __name__ are reserved by Datastore"
        else:
            props[new["name"]] = parse(new["type"], new["value"], "new")
            if not new["indexed"]:
                unindexed.add(new["name"])
    entity = Entity(key=key, exclude_from_indexes=tuple(sorted(unindexed)))
    entity.update(props)
    return entity, rows, new, errors
