"""The sample app: what `make run` serves and what `gcloud app deploy` uploads.

`app` is the WSGI application (`gunicorn main:app`). Each section below belongs to one feature area.
"""

from __future__ import annotations

from framework import App, jsonify, request

app = App(__name__)


# --- core routes -------------------------------------------------------------------------------
@app.get("/")
def index() -> str:
    return "Hello from framework on App Engine!\n"


@app.get("/hello/<name>")
def hello(name: str) -> dict[str, str]:
    return {"hello": name}


@app.post("/echo")
def echo():
    return jsonify(json=request.get_json(silent=True), args=request.args.to_dict(flat=False))
