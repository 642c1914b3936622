"""A framework app with a cron job declared in code; each run appends a line to $RECORD_FILE."""

from __future__ import annotations

import json
import os

from framework import App, request

app = App(__name__)


@app.cron("every 1 minutes", description="record a tick")
def tick() -> None:
    with open(os.environ["RECORD_FILE"], "a") as out:
        out.write(json.dumps({"cron": request.appengine.is_cron, "ip": request.appengine.user_ip}) + "\n")


@app.get("/")
def index() -> str:
    return "ok"
