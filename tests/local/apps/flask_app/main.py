"""A real Flask app behind the local App Engine front end."""

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def index():
    return {"flask": True, "headers": {k.lower(): v for k, v in request.headers.items()}}


@app.get("/static/<path:name>")
def never(name):  # the front end serves /static itself: this view must never run
    return {"reached_flask": name}, 500
