"""Delivery to a real gunicorn app (a plain WSGI recorder): headers, retries and backoff, limits, pause.

Time only appears as lower bounds the emulator must enforce (a slow machine can only widen them) and as
the order of measured gaps; never as an upper bound.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import duration_pb2

from framework.emulators.tasks.dispatcher import Outgoing, send

from .conftest import TOKEN, Recorder, queue, wait_until

Delivering = tuple[tasks_v2.CloudTasksClient, Recorder]


def _gone(client: tasks_v2.CloudTasksClient, name: str) -> bool:
    try:
        client.get_task(name=name)
    except exceptions.NotFound:
        return True
    return False


def test_app_engine_task_gets_the_platform_headers(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "deliver")
    task = client.create_task(parent=made.name, task={
        "name": f"{made.name}/tasks/t-1",
        "app_engine_http_request": {
            "relative_uri": "/ok/x?a=1", "body": b"hello",
            "headers": {"X-Custom": "kept", "X-AppEngine-QueueName": "forged", "X-Google-Thing": "forged",
                        "X-Local-Platform-Token": "forged", "User-Agent": "my-agent"},
        },
    })
    [got] = app.wait_for(1, "/ok/x")
    headers = got["headers"]
    assert got["method"] == "POST" and got["query"] == "a=1" and got["body"] == "hello"
    assert headers["X-Appengine-Queuename"] == "deliver"
    assert headers["X-Appengine-Taskname"] == "t-1"
    assert headers["X-Appengine-Taskretrycount"] == "0"
    assert headers["X-Appengine-Taskexecutioncount"] == "0"
    assert re.fullmatch(r"\d+\.\d{6}", headers["X-Appengine-Tasketa"])
    assert float(headers["X-Appengine-Tasketa"]) == pytest.approx(task.schedule_time.timestamp(), abs=1e-5)
    assert "X-Appengine-Taskpreviousresponse" not in headers and "X-Appengine-Taskretryreason" not in headers
    assert "X-Google-Thing" not in headers
    assert headers["X-Custom"] == "kept"
    assert headers["User-Agent"] == "my-agent AppEngine-Google; (+http://code.google.com/appengine)"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Local-Platform-Token"] == TOKEN
    assert headers["Host"] == app.url.removeprefix("http://")
    wait_until(lambda: _gone(client, task.name), what="the task to be deleted after its 2xx")


def test_routed_task_is_addressed_to_its_service(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "routed", app_engine_routing_override={"service": "worker"})
    client.create_task(parent=made.name, task={"app_engine_http_request": {
        "relative_uri": "/ok/routed", "app_engine_routing": {"service": "ignored"}}})
    [got] = app.wait_for(1, "/ok/routed")
    port = app.url.rsplit(":", 1)[1]
    assert got["headers"]["Host"] == f"worker.localhost:{port}"  # the queue's override wins over the task's


def test_http_target_gets_cloudtasks_headers_and_no_token(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "http")
    client.create_task(parent=made.name, task={"name": f"{made.name}/tasks/h1", "http_request": {
        "url": app.url + "/ok/http", "http_method": "PUT", "body": b"{}",
        "headers": {"Content-Type": "application/json", "User-Agent": "mine"},
        "oidc_token": {"service_account_email": "sa@example.iam.gserviceaccount.com"}}})
    [got] = app.wait_for(1, "/ok/http")
    headers = got["headers"]
    assert got["method"] == "PUT" and got["body"] == "{}"
    assert headers["X-Cloudtasks-Queuename"] == "http"
    assert headers["X-Cloudtasks-Taskname"] == "h1"
    assert headers["X-Cloudtasks-Taskretrycount"] == "0"
    assert headers["X-Cloudtasks-Taskexecutioncount"] == "0"
    assert re.fullmatch(r"\d+\.\d{6}", headers["X-Cloudtasks-Tasketa"])
    assert headers["User-Agent"] == "Google-Cloud-Tasks"
    assert headers["Content-Type"] == "application/json"
    assert "X-Local-Platform-Token" not in headers
    assert "Authorization" not in headers  # no OIDC token can be minted locally
    assert not any(name.startswith("X-Appengine-") for name in headers)


def test_fails_twice_then_succeeds_with_growing_backoff(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "retry", retry_config={"min_backoff": duration_pb2.Duration(nanos=300_000_000),
                                                 "max_attempts": 5})
    task = client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": "/fail/2/a"}})
    got = app.wait_for(3, "/fail/2/a")
    wait_until(lambda: _gone(client, task.name), what="the task to complete on its third attempt")
    assert len(app.requests()) == 3
    headers = [g["headers"] for g in got]
    assert [h["X-Appengine-Taskretrycount"] for h in headers] == ["0", "1", "2"]
    assert [h["X-Appengine-Taskexecutioncount"] for h in headers] == ["0", "1", "2"]
    assert [h.get("X-Appengine-Taskpreviousresponse") for h in headers] == [None, "500", "500"]
    assert [bool(h.get("X-Appengine-Taskretryreason")) for h in headers] == [False, True, True]
    etas = [float(h["X-Appengine-Tasketa"]) for h in headers]
    assert etas == sorted(etas)
    # Each retry's ETA is the failed attempt's end plus the backoff; the attempt ended after it arrived,
    # so ETA minus the previous arrival is at least the backoff: 0.3 s, then doubled to 0.6 s.
    arrivals = [g["time"] for g in got]
    first_wait, second_wait = etas[1] - arrivals[0], etas[2] - arrivals[1]
    assert first_wait >= 0.3 - 1e-3 and second_wait >= 0.6 - 1e-3
    assert second_wait > first_wait
    assert arrivals[1] >= etas[1] - 1e-3 and arrivals[2] >= etas[2] - 1e-3  # never sent before its ETA


def test_retry_limit_reached_drops_the_task(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "limited", retry_config={"max_attempts": 3, "min_backoff": duration_pb2.Duration(
        nanos=100_000_000)})
    task = client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": "/status/503/z"}})
    app.wait_for(3, "/status/503/z")
    wait_until(lambda: _gone(client, task.name), what="the task to be dropped after its last attempt")
    assert len(app.requests()) == 3  # the task is gone, so no fourth attempt can follow
    with pytest.raises(exceptions.AlreadyExists):  # its name stays taken, as for a finished task
        client.create_task(parent=made.name, task={"name": task.name, "app_engine_http_request": {}})


def test_rate_limit_spaces_dispatches_in_creation_order(delivering: Delivering) -> None:
    client, app = delivering
    # One at a time, so arrival order is dispatch order.
    made = queue(client, "rated", rate_limits={"max_dispatches_per_second": 5, "max_concurrent_dispatches": 1})
    client.pause_queue(name=made.name)
    for index in range(10):
        client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": f"/ok/rate/{index}"}})
    resumed = time.time()  # no dispatch can start before this
    client.resume_queue(name=made.name)
    got = app.wait_for(10, "/ok/rate/")
    assert [g["path"] for g in got] == [f"/ok/rate/{i}" for i in range(10)]
    # 10 dispatches need 10 tokens: a full bucket of 5, then 5 more at 5 per second, so at least 1 s.
    assert got[-1]["time"] - resumed >= 1.0 - 1e-3


def test_concurrency_limit(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "narrow", rate_limits={"max_concurrent_dispatches": 2})
    client.pause_queue(name=made.name)
    for index in range(4):
        client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": f"/slow/0.5/{index}"}})
    client.resume_queue(name=made.name)
    got = app.wait_for(4, "/slow/")
    starts = sorted(g["time"] for g in got)
    assert starts[2] - starts[0] >= 0.45  # the third waits until one of the first two has answered


def test_paused_queue_holds_tasks_until_resumed(delivering: Delivering) -> None:
    client, app = delivering
    held = queue(client, "held")
    client.pause_queue(name=held.name)
    task = client.create_task(parent=held.name, task={"app_engine_http_request": {"relative_uri": "/ok/held"}})
    other = queue(client, "barrier")
    client.create_task(parent=other.name, task={"app_engine_http_request": {"relative_uri": "/ok/barrier"}})
    app.wait_for(1, "/ok/barrier")  # the dispatcher has run since the paused task was added
    assert [r["path"] for r in app.requests()] == ["/ok/barrier"]
    assert client.get_task(name=task.name).dispatch_count == 0
    client.resume_queue(name=held.name)
    app.wait_for(1, "/ok/held")


def test_run_task_dispatches_a_paused_queue_task(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "forced")
    client.pause_queue(name=made.name)
    task = client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": "/ok/forced"}})
    client.run_task(name=task.name)
    [got] = app.wait_for(1, "/ok/forced")
    assert got["headers"]["X-Appengine-Taskretrycount"] == "0"
    wait_until(lambda: _gone(client, task.name), what="the forced task to complete")


def test_schedule_time_is_honoured(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "later")
    when = datetime.now(UTC) + timedelta(seconds=1)
    client.create_task(parent=made.name, task={"schedule_time": when,
                                               "app_engine_http_request": {"relative_uri": "/ok/later"}})
    [got] = app.wait_for(1, "/ok/later")
    assert got["time"] >= when.timestamp() - 0.01
    assert float(got["headers"]["X-Appengine-Tasketa"]) == pytest.approx(when.timestamp(), abs=1e-5)


def test_no_answer_within_the_deadline_is_deadline_exceeded(recorder_server: Recorder) -> None:
    outcome = send(Outgoing("GET", recorder_server.url + "/slow/3/deadline", {}, b"", timeout=0.5))
    assert outcome.status is None and outcome.reason.startswith("DEADLINE_EXCEEDED")
    assert send(Outgoing("GET", recorder_server.url + "/status/302/r", {}, b"", 5)).status == 302  # not followed


def test_age_limit_alone_ends_retries(delivering: Delivering) -> None:
    client, app = delivering
    made = queue(client, "aged", retry_config={
        "max_attempts": -1, "max_retry_duration": duration_pb2.Duration(seconds=1),
        "min_backoff": duration_pb2.Duration(nanos=200_000_000), "max_backoff": duration_pb2.Duration(nanos=300_000_000)})
    task = client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": "/status/500/aged"}})
    wait_until(lambda: _gone(client, task.name), what="the task to be dropped once a second old")
    got = app.requests()
    assert len(got) >= 3  # unlimited attempts: it kept trying until the age limit
    assert got[-1]["time"] - got[0]["time"] >= 0.8  # and not long before the limit (a reply takes some ms)
