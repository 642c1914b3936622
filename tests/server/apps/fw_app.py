"""A framework app for the server tests: on_stop records each worker, a slow route, a logged route, a stream."""

import os
import time
from pathlib import Path

from framework import App, request

app = App(__name__)
app.config["SECRET_KEY"] = os.environ.get("TEST_SECRET_KEY", "")
app.config["SECRET_KEY_REQUIRED"] = bool(os.environ.get("TEST_SECRET_KEY_REQUIRED"))


@app.on_stop
def record_stop():
    with open(os.environ["STOP_RECORD"], "a") as out:
        out.write(f"{os.getpid()}\n")
    app.logger.info("stop handler ran in %d", os.getpid())


@app.get("/")
def index():
    return {"pid": os.getpid(), "script_name": request.environ.get("SCRIPT_NAME")}


@app.get("/logged")
def logged():
    app.logger.warning("a line from the view")
    return "logged"


@app.get("/wait")
def wait():
    """Answers once the test creates the file named by ?gate= (a request in flight for as long as the test wants)."""
    gate = Path(request.args["gate"])
    Path(str(gate) + ".started").touch()
    while not gate.exists():
        time.sleep(0.01)
    return "finished after the gate opened"


@app.post("/echo")
def echo():
    return f"got {len(request.get_data())} bytes"
