"""queue.yaml: the emulator's own reader (FILE:LINE errors) and the queues it makes, seen through the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.cloud import tasks_v2

from framework.emulators.tasks.launcher import start
from framework.emulators.tasks.queue_yaml import QueueYamlError, load_queue_yaml
from tests.support.procs import REPO_ROOT

from .conftest import PARENT, TOKEN, Recorder, make_client

GOOD = """\
total_storage_limit: 120M
queue:
- name: mail
  rate: 120/m
  bucket_size: 3
  max_concurrent_requests: 4
  target: v1.worker
  retry_parameters:
    task_retry_limit: 2
    task_age_limit: 1h
    min_backoff_seconds: 0.5
    max_backoff_seconds: 10
    max_doublings: 3
- name: stopped
  rate: 0
- name: pulled
  mode: pull
"""


def test_queues_from_queue_yaml(tmp_path: Path, recorder_server: Recorder) -> None:
    path = tmp_path / "queue.yaml"
    path.write_text(GOOD)
    recorder_server.clear()
    with start(queue_yaml=path, app_engine_url=recorder_server.url, token=TOKEN) as emulator:
        client = make_client(emulator.address)
        names = [q.name.rsplit("/", 1)[1] for q in client.list_queues(parent=PARENT)]
        assert names == ["default", "mail", "stopped"]  # pull queues cannot be used through Cloud Tasks v2
        mail = client.get_queue(name=f"{PARENT}/queues/mail")
        assert mail.rate_limits.max_dispatches_per_second == 2
        assert mail.rate_limits.max_burst_size == 3
        assert mail.rate_limits.max_concurrent_dispatches == 4
        assert mail.retry_config.max_attempts == 3  # task_retry_limit counts retries, max_attempts attempts
        assert mail.retry_config.max_retry_duration.total_seconds() == 3600
        assert mail.retry_config.min_backoff.total_seconds() == 0.5
        assert mail.retry_config.max_backoff.total_seconds() == 10
        assert mail.retry_config.max_doublings == 3
        assert mail.app_engine_routing_override.service == "worker"
        assert client.get_queue(name=f"{PARENT}/queues/stopped").state == tasks_v2.Queue.State.PAUSED
        client.create_task(parent=mail.name, task={"app_engine_http_request": {"relative_uri": "/ok/yaml"}})
        [got] = recorder_server.wait_for(1, "/ok/yaml")
        assert got["headers"]["Host"].startswith("worker.localhost:")


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("queue:\n- name: a\n  rate: 5/x\n", 3, "rate '5/x'"),
    ("queue:\n- name: a\n  colour: red\n", 3, "unknown queue setting 'colour'"),
    ("queue:\n- name: a\n  retry_parameters:\n    min_backoff_seconds: 9\n    max_backoff_seconds: 1\n", 4,
     "swap them"),
    ("queue:\n- name: a\n- name: a\n", 3, "defined twice"),
    ("queue:\n- name: under_score\n", 2, "letters, digits or hyphens"),
    ("queue:\n- rate: 1/s\n", 2, "needs a name"),
    ("queue:\n- name: a\n  retry_parameters:\n    task_age_limit: 0s\n", 4, "positive"),
    ("queue:\n- name: a\n  bucket_size: many\n", 3, "whole number"),
    ("queue: [\n", 2, "not valid YAML"),
    ("queue:\n- name: a\n  target: Worker\n", 3, "target 'Worker' must be SERVICE or VERSION.SERVICE"),
    ("queue:\n- name: a\n  target: v1.my_worker\n", 3, "target 'v1.my_worker'"),
])
def test_bad_queue_yaml_names_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    with pytest.raises(QueueYamlError) as raised:
        load_queue_yaml(str(path))
    assert f"{path}:{line}:" in str(raised.value)
    assert problem in str(raised.value)


def test_bad_queue_yaml_stops_the_emulator_with_the_error(tmp_path: Path) -> None:
    path = tmp_path / "queue.yaml"
    path.write_text("queue:\n- name: a\n  rate: fast\n")
    done = subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", "0", "--queue-yaml",
                           str(path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{path}:3: rate 'fast'" in done.stderr


@pytest.mark.parametrize("content", [b"\xff\xfequeue: []\n", b"queue:\n- name: a\n  rate: 5/s\n\x80\n"])
def test_a_queue_yaml_that_is_not_text_stops_the_emulator_without_a_traceback(tmp_path: Path,
                                                                               content: bytes) -> None:
    path = tmp_path / "queue.yaml"
    path.write_bytes(content)
    done = subprocess.run([sys.executable, "-m", "framework.emulators.tasks", "--port", "0", "--queue-yaml",
                           str(path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{path}: cannot read queue.yaml: it is not UTF-8 text" in done.stderr
