"""A real Flask app that logs a warning per request."""

from flask import Flask

app = Flask(__name__)


@app.get("/api/<name>")
def hello(name):
    app.logger.warning("flask served %s", name)
    return {"hello": name}
