"""Every CloudTasks RPC and its errors, through the unmodified google-cloud-tasks client.

The session emulator has no --app-engine-url, so App Engine tasks stay queued for inspection here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import duration_pb2, field_mask_pb2

from framework.emulators.tasks.launcher import Emulator

from .conftest import PARENT, queue

AE = {"app_engine_http_request": {"relative_uri": "/work", "body": b"payload"}}


def test_create_get_list_delete_queue(client: tasks_v2.CloudTasksClient) -> None:
    created = queue(client, "q1", rate_limits={"max_dispatches_per_second": 7, "max_concurrent_dispatches": 3},
                    retry_config={"max_attempts": 4, "min_backoff": duration_pb2.Duration(seconds=2)})
    assert created.state == tasks_v2.Queue.State.RUNNING
    assert created.rate_limits.max_dispatches_per_second == 7
    assert created.rate_limits.max_burst_size == 7
    assert created.rate_limits.max_concurrent_dispatches == 3
    assert created.retry_config.max_attempts == 4
    assert created.retry_config.min_backoff.total_seconds() == 2
    assert created.retry_config.max_backoff.total_seconds() == 3600  # the default fills what was unset
    assert client.get_queue(name=created.name) == created
    names = [q.name for q in client.list_queues(parent=PARENT)]
    assert names == [f"{PARENT}/queues/default", created.name]
    client.delete_queue(name=created.name)
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=created.name)


def test_queue_errors(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "q2")
    with pytest.raises(exceptions.AlreadyExists):
        queue(client, "q2")
    with pytest.raises(exceptions.InvalidArgument, match="queue id"):
        queue(client, "bad_name")
    with pytest.raises(exceptions.InvalidArgument, match="not in the parent"):
        client.create_queue(parent="projects/p/locations/elsewhere", queue={"name": made.name})
    with pytest.raises(exceptions.InvalidArgument, match="max_dispatches_per_second"):
        queue(client, "fast", rate_limits={"max_dispatches_per_second": 501})
    with pytest.raises(exceptions.InvalidArgument, match="min_backoff"):
        queue(client, "backwards", retry_config={"min_backoff": duration_pb2.Duration(seconds=10),
                                                 "max_backoff": duration_pb2.Duration(seconds=1)})
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=f"{PARENT}/queues/missing")
    with pytest.raises(exceptions.InvalidArgument):
        client.get_queue(name="queues/q2")
    # A deleted queue's name cannot be reused for a while (quotas page: 7 days).
    client.delete_queue(name=made.name)
    with pytest.raises(exceptions.FailedPrecondition, match="existed too recently"):
        queue(client, "q2")
    with pytest.raises(exceptions.FailedPrecondition, match="no longer exists"):
        client.create_task(parent=made.name, task=AE)
    with pytest.raises(exceptions.FailedPrecondition, match="Queue does not exist"):
        client.create_task(parent=f"{PARENT}/queues/never", task=AE)


def test_list_queues_filter_and_paging(client: tasks_v2.CloudTasksClient) -> None:
    for index in range(5):
        queue(client, f"page-{index}")
    client.pause_queue(name=f"{PARENT}/queues/page-3")
    first = client.list_queues(request={"parent": PARENT, "page_size": 2})
    pages = list(first.pages)
    assert [len(page.queues) for page in pages] == [2, 2, 2]  # default + 5, two at a time
    assert [q.name.rsplit("/", 1)[1] for page in pages for q in page.queues] == [
        "default", "page-0", "page-1", "page-2", "page-3", "page-4"]
    paused = list(client.list_queues(request={"parent": PARENT, "filter": "state: PAUSED"}))
    assert [q.name.rsplit("/", 1)[1] for q in paused] == ["page-3"]
    with pytest.raises(exceptions.InvalidArgument, match="filter"):
        list(client.list_queues(request={"parent": PARENT, "filter": "name > 3"}))


def test_update_queue_with_mask_and_upsert(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "upd", rate_limits={"max_dispatches_per_second": 10, "max_concurrent_dispatches": 5})
    changed = client.update_queue(
        queue={"name": made.name, "rate_limits": {"max_dispatches_per_second": 2, "max_concurrent_dispatches": 99}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]))
    assert changed.rate_limits.max_dispatches_per_second == 2
    assert changed.rate_limits.max_concurrent_dispatches == 5  # not in the mask: kept
    with pytest.raises(exceptions.InvalidArgument, match="output only"):
        client.update_queue(queue={"name": made.name}, update_mask=field_mask_pb2.FieldMask(paths=["state"]))
    with pytest.raises(exceptions.InvalidArgument, match="not a field"):
        client.update_queue(queue={"name": made.name}, update_mask=field_mask_pb2.FieldMask(paths=["colour"]))
    # UpdateQueue creates a queue that does not exist yet.
    upserted = client.update_queue(queue={"name": f"{PARENT}/queues/fresh", "retry_config": {"max_attempts": 2}})
    assert upserted.retry_config.max_attempts == 2
    assert client.get_queue(name=upserted.name).state == tasks_v2.Queue.State.RUNNING


def test_pause_resume_purge(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "ppr")
    assert client.pause_queue(name=made.name).state == tasks_v2.Queue.State.PAUSED
    client.create_task(parent=made.name, task=AE)  # adding to a paused queue is allowed
    assert client.resume_queue(name=made.name).state == tasks_v2.Queue.State.RUNNING
    purged = client.purge_queue(name=made.name)
    assert purged.purge_time.timestamp() > 0
    assert list(client.list_tasks(parent=made.name)) == []
    for rpc in (client.pause_queue, client.resume_queue, client.purge_queue, client.delete_queue):
        with pytest.raises(exceptions.NotFound):
            rpc(name=f"{PARENT}/queues/nope")


def test_create_get_list_delete_task(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "tq")
    later = datetime.now(UTC) + timedelta(hours=1)
    task = client.create_task(parent=made.name, task={**AE, "schedule_time": later})
    assert task.name.startswith(made.name + "/tasks/")
    assert task.view == tasks_v2.Task.View.BASIC
    assert task.app_engine_http_request.body == b""  # BASIC leaves the body out
    assert task.app_engine_http_request.http_method == tasks_v2.HttpMethod.POST
    assert abs((task.schedule_time - later).total_seconds()) < 1e-3
    assert task.create_time.microsecond == 0  # truncated to the second
    full = client.get_task(request={"name": task.name, "response_view": tasks_v2.Task.View.FULL})
    assert full.app_engine_http_request.body == b"payload"
    assert full.view == tasks_v2.Task.View.FULL
    named = client.create_task(parent=made.name, task={**AE, "name": f"{made.name}/tasks/my-task_1"})
    assert named.name.endswith("/tasks/my-task_1")
    listed = list(client.list_tasks(parent=made.name))
    assert [t.name for t in listed] == [named.name, task.name]  # in schedule order
    assert listed[0].app_engine_http_request.body == b""
    client.delete_task(name=task.name)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)
    with pytest.raises(exceptions.NotFound):
        client.delete_task(name=task.name)


def test_list_tasks_paging(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "paged")
    client.pause_queue(name=made.name)
    names = [client.create_task(parent=made.name, task={**AE, "name": f"{made.name}/tasks/t{i}"}).name
             for i in range(7)]
    pages = list(client.list_tasks(request={"parent": made.name, "page_size": 3}).pages)
    assert [len(p.tasks) for p in pages] == [3, 3, 1]
    assert [t.name for p in pages for t in p.tasks] == names
    with pytest.raises(exceptions.NotFound):
        list(client.list_tasks(parent=f"{PARENT}/queues/nope"))


def test_task_name_deduplication(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "dedup")
    name = f"{made.name}/tasks/once"
    client.create_task(parent=made.name, task={**AE, "name": name})
    with pytest.raises(exceptions.AlreadyExists, match="already exists"):
        client.create_task(parent=made.name, task={**AE, "name": name})
    client.delete_task(name=name)
    # Deleted (or executed) task names stay taken for the de-duplication window (~1 hour).
    with pytest.raises(exceptions.AlreadyExists, match="existed too recently"):
        client.create_task(parent=made.name, task={**AE, "name": name})


def test_task_errors(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "bad")
    cases = [
        ("needs a target", {}),
        ("relative_uri", {"app_engine_http_request": {"relative_uri": "no-slash"}}),
        ("http://", {"http_request": {"url": "ftp://example.com/"}}),
        # What an HTTP request line cannot carry would fail every attempt: refused when the task is created.
        ("control characters", {"app_engine_http_request": {"relative_uri": "/x\x00y"}}),
        ("control characters", {"app_engine_http_request": {"relative_uri": "/x\r\nX-Injected:1"}}),
        ("control characters", {"http_request": {"url": "http://example.com/\r\nX-Injected:1"}}),
        ("host name", {"http_request": {"url": "http:///path-only"}}),
        ("body is allowed only", {"app_engine_http_request": {"relative_uri": "/x", "http_method": "GET",
                                                              "body": b"x"}}),
        ("30 days", {**AE, "schedule_time": datetime.now(UTC) + timedelta(days=31)}),
        ("dispatch_deadline", {**AE, "dispatch_deadline": duration_pb2.Duration(seconds=5)}),
        ("1 MB", {"app_engine_http_request": {"relative_uri": "/big", "body": b"x" * (1024 * 1024 + 1)}}),
        ("Invalid task id", {**AE, "name": f"{made.name}/tasks/has space"}),
        ("not in the queue", {**AE, "name": f"{PARENT}/queues/other/tasks/t1"}),
        ("not a valid HTTP header", {"app_engine_http_request": {"relative_uri": "/x",
                                                                 "headers": {"X-A": "a\r\nb"}}}),
        ("not a valid HTTP header", {"http_request": {"url": "http://x/", "headers": {"Bad Name": "v"}}}),
    ]
    for message, task in cases:
        with pytest.raises(exceptions.InvalidArgument, match=message):
            client.create_task(parent=made.name, task=task)
    with pytest.raises(exceptions.InvalidArgument):
        client.get_task(name=f"{made.name}/tasks/")
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=f"{made.name}/tasks/missing")
    with pytest.raises(exceptions.NotFound):
        client.run_task(name=f"{made.name}/tasks/missing")
    # A task just under 1 MB is fine.
    client.create_task(parent=made.name, task={"app_engine_http_request": {"relative_uri": "/big",
                                                                            "body": b"x" * 1_000_000}})


@pytest.mark.parametrize("service", ["Worker", "-worker", "worker-", "my_worker", "w" * 64, "a-dot-b", "api.v1",
                                     "worker.localhost:8080"])
def test_a_routing_service_that_cannot_be_a_service_id_is_refused(client: tasks_v2.CloudTasksClient,
                                                                  service: str) -> None:
    """It would fail every delivery attempt (no such host): refused at CreateTask, and in a queue's override."""
    made = queue(client, "routed")
    routed = {"app_engine_http_request": {"relative_uri": "/x", "app_engine_routing": {"service": service}}}
    with pytest.raises(exceptions.InvalidArgument, match="app_engine_routing.service .* valid App Engine service"):
        client.create_task(parent=made.name, task=routed)
    with pytest.raises(exceptions.InvalidArgument, match="app_engine_routing_override.service"):
        queue(client, "overridden", app_engine_routing_override={"service": service})
    with pytest.raises(exceptions.InvalidArgument, match="app_engine_routing_override.service"):
        client.update_queue(queue={"name": made.name, "app_engine_routing_override": {"service": service}})
    assert list(client.list_tasks(parent=made.name)) == []


def test_a_valid_routing_service_and_version_are_kept(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "routed-ok")
    for service in ("worker", "w", "api-2", "x" * 63):
        task = client.create_task(parent=made.name, task={"app_engine_http_request": {
            "relative_uri": "/x", "app_engine_routing": {"service": service, "version": "v-1"}}})
        assert task.app_engine_http_request.app_engine_routing.service == service
    with pytest.raises(exceptions.InvalidArgument, match="app_engine_routing.version 'V1'"):
        client.create_task(parent=made.name, task={"app_engine_http_request": {
            "relative_uri": "/x", "app_engine_routing": {"service": "worker", "version": "V1"}}})


def test_run_task_on_a_paused_queue_records_the_attempt(client: tasks_v2.CloudTasksClient) -> None:
    made = queue(client, "run")
    client.pause_queue(name=made.name)
    task = client.create_task(parent=made.name, task={"http_request": {"url": "http://127.0.0.1:9/nothing"}})
    ran = client.run_task(name=task.name)
    assert ran.name == task.name

    def attempted() -> tasks_v2.Task | None:
        current = client.get_task(name=task.name)
        return current if current.last_attempt.response_status.code else None

    from .conftest import wait_until

    current = wait_until(attempted, what="the forced attempt")
    assert current.dispatch_count == 1
    assert current.response_count == 0  # nothing answered: connection refused
    assert current.last_attempt.response_status.code == 14  # UNAVAILABLE
    assert current.first_attempt.dispatch_time.timestamp() > 0


def test_default_queue_and_reset(clean_cloud_tasks: Emulator, client: tasks_v2.CloudTasksClient) -> None:
    default = client.get_queue(name=f"{PARENT}/queues/default")
    assert default.rate_limits.max_dispatches_per_second == 5  # App Engine's default push queue: 5/s, bucket 5
    assert default.rate_limits.max_burst_size == 5
    queue(client, "gone-after-reset")
    clean_cloud_tasks.reset()
    assert [q.name for q in client.list_queues(parent=PARENT)] == [f"{PARENT}/queues/default"]


def test_malformed_request_is_invalid_argument(clean_cloud_tasks: Emulator) -> None:
    import grpc

    channel = grpc.insecure_channel(clean_cloud_tasks.address)
    call = channel.unary_unary("/google.cloud.tasks.v2.CloudTasks/GetQueue")
    with pytest.raises(grpc.RpcError) as raised:
        call(b"\xff\xff\xff", timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_output_only_fields_in_requests_are_ignored(client: tasks_v2.CloudTasksClient) -> None:
    made = client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/copied", "state": "PAUSED",
                                                     "purge_time": datetime(2020, 1, 1, tzinfo=UTC)})
    assert made.state == tasks_v2.Queue.State.RUNNING and not made.purge_time
    client.pause_queue(name=made.name)
    task = client.create_task(parent=made.name, task={**AE, "dispatch_count": 9, "response_count": 9,
                                                      "create_time": datetime(2020, 1, 1, tzinfo=UTC)})
    assert task.dispatch_count == 0 and task.response_count == 0
    assert task.create_time.year >= 2024
