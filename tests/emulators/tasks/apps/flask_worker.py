"""A plain Flask app (no framework) handling Cloud Tasks the way Flask users write it: read the headers."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)
done: list[dict[str, object]] = []


@app.post("/tasks/resize")
def resize() -> tuple[str, int]:
    retries = int(request.headers.get("X-AppEngine-TaskRetryCount", "0"))
    if retries == 0:
        return "not yet", 503  # fail the first attempt on purpose
    done.append({"image": request.get_json()["image"], "retries": retries,
                 "queue": request.headers.get("X-AppEngine-QueueName"),
                 "previous": request.headers.get("X-AppEngine-TaskPreviousResponse")})
    return "", 204


@app.get("/done")
def finished() -> object:
    return jsonify(done)
