"""The default service of the two-service fixture: a framework app with a cron-only view."""

import os

from framework import App, request
from framework.adapters.appengine import cron_only

app = App(__name__)


@app.get("/<path:path>")
@app.get("/")
def where(path: str = "") -> dict[str, object]:
    info = request.appengine
    app.logger.info("default service saw %s", request.path)
    return {"service": os.environ["GAE_SERVICE"], "path": request.path, "trusted": info.trusted,
            "user_ip": info.user_ip, "remote_addr": request.remote_addr, "cron": info.is_cron}


@app.get("/jobs/tick")
@cron_only
def tick() -> dict[str, str]:
    return {"cron": "ran"}
