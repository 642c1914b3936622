"""A real Flask app, as a user ports it: a JSON route, a template string, a streamed response."""

import time

from flask import Flask, Response, render_template_string, request

app = Flask(__name__)


@app.get("/")
def index():
    return {"framework": "flask", "agent": request.headers.get("User-Agent", "")}


@app.get("/page")
def page():
    return render_template_string("<p>{{ items|join(', ') }}</p>", items=["a", "b"])


@app.get("/stream")
def stream():
    def chunks():
        for i in range(3):
            yield f"part {i}\n"
            time.sleep(0.05)

    return Response(chunks(), mimetype="text/plain")
