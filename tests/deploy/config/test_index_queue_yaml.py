"""index.yaml (§5.6) and queue.yaml (§5.7): the samples pass, every rule's line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.index_yaml import IndexProperty, load_indexes
from deploy.config.queue_yaml import load_queues, parse_rate

from .helpers import assert_one_error, errors, problems, warnings, write

INDEX_SAMPLE = """
indexes:
- kind: Task
  ancestor: no            # bool, default no
  properties:
  - name: done
  - name: created
    direction: desc       # asc|ascending (default) / desc|descending
- kind: Place
  properties:
  - name: location
    mode: geospatial      # exclusive with direction
"""

QUEUE_SAMPLE = """
total_storage_limit: 500M
queue:
- name: default
  rate: 5/s
- name: emails
  rate: 100/m
  bucket_size: 20
  max_concurrent_requests: 10
  target: worker
  retry_parameters:
    task_retry_limit: 7
    task_age_limit: 2d
    min_backoff_seconds: 10
    max_backoff_seconds: 200
    max_doublings: 2
- name: paused
  rate: 0
- name: pull-queue
  mode: pull
  acl:
  - user_email: a@example.com
  - writer_email: b@example.com
"""


def test_the_index_sample_passes(tmp_path: Path) -> None:
    path = write(tmp_path, "index.yaml", INDEX_SAMPLE)
    assert problems(load_indexes, path) == []
    task, place = load_indexes(path).indexes
    assert (task.kind, task.line, task.ancestor) == ("Task", 2, False)
    assert task.properties == (IndexProperty("done"), IndexProperty("created", "desc"))
    assert place.properties == (IndexProperty("location", "asc", "geospatial"),)


def test_index_directions_and_ancestor_spellings(tmp_path: Path) -> None:
    path = write(tmp_path, "index.yaml", """
        indexes:
        - kind: A
          ancestor: yes
          properties:
          - name: x
            direction: descending
          - name: y
            direction: ascending
        """)
    (index,) = load_indexes(path).indexes
    assert index.ancestor and [p.direction for p in index.properties] == ["desc", "asc"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("- properties:\n  - name: a\n  - name: b\n", 2, "has no kind"),
    ("- kind: A\n  properties:\n  - name: a\n    direction: up\n  - name: b\n", 5, "direction is"),
    ("- kind: A\n  properties:\n  - name: a\n    direction: asc\n    mode: geospatial\n  - name: b\n", 6,
     "both mode and direction"),
    ("- kind: A\n  properties:\n  - name: a\n    mode: spatial\n", 5, "mode is"),
    ("- kind: A\n  properties:\n  - direction: asc\n  - name: b\n", 4, "has no name"),
    ("- kind: A\n  ancestor: maybe\n  properties:\n  - name: a\n  - name: b\n", 3, "true or false"),
    ("- kind: P\n  properties:\n  - name: loc\n    mode: geospatial\n  - name: at\n    direction: asc\n", 7,
     "geospatial index takes no direction"),
    ("- kind: A\n  propertys:\n  - name: a\n", 3, "unknown key 'propertys'"),
])
def test_index_rules(tmp_path: Path, text: str, line: int, words: str) -> None:
    found = errors(load_indexes, write(tmp_path, "index.yaml", "indexes:\n" + text))
    assert (line, True) in [(n, words in m) for n, m in found], found


def test_index_heuristics_are_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "index.yaml", """
        indexes:
        - kind: A
          properties:
          - name: only
        - kind: B
          properties:
          - name: a
          - name: b
        - kind: B
          properties:
          - name: a
          - name: b
        """)
    assert errors(load_indexes, path) == []
    assert [line for line, _ in warnings(load_indexes, path)] == [2, 9]  # built-in single property; a twin
    bare = write(tmp_path, "bare.yaml", "indexes:\n- kind: A\n")
    assert errors(load_indexes, bare) == [] and [n for n, _ in warnings(load_indexes, bare)] == [2]


def test_index_application_is_refused(tmp_path: Path) -> None:
    assert_one_error(load_indexes, write(tmp_path, "index.yaml", "application: x\nindexes: []\n"), 1,
                     "application")


def test_the_queue_sample_passes(tmp_path: Path) -> None:
    path = write(tmp_path, "queue.yaml", QUEUE_SAMPLE)
    assert problems(load_queues, path) == []
    queues = load_queues(path)
    assert queues.total_storage_limit == "500M"
    emails = queues.get("emails")
    assert emails is not None and emails.line == 5
    assert (emails.rate, emails.bucket_size, emails.max_concurrent_requests, emails.target) == (
        100 / 60, 20, 10, "worker")
    assert (emails.retry.task_retry_limit, emails.retry.task_age_limit, emails.retry.max_doublings) == (
        7, 172800.0, 2)
    assert queues.get("paused").rate == 0 and queues.get("pull-queue").mode == "pull"


@pytest.mark.parametrize(("text", "expected"), [("5/s", 5.0), ("60/m", 1.0), ("36/h", 0.01), ("0", 0.0),
                                                ("1.5/s", 1.5), ("5", None), ("5/w", None), ("-1/s", None)])
def test_rate_syntax(text: str, expected: float | None) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(("text", "line", "words"), [
    ("- name: q\n", 2, "has no rate"),
    ("- name: q\n  rate: fast\n", 3, "rate is"),
    ("- name: bad_name\n  rate: 1/s\n", 2, "not valid"),
    ("- rate: 1/s\n", 2, "has no name"),
    ("- name: q\n  rate: 1/s\n  mode: queue\n", 4, "mode is"),
    ("- name: q\n  mode: pull\n  rate: 1/s\n", 4, "only for push queues"),
    ("- name: q\n  rate: 1/s\n  acl:\n  - user_email: a@b.c\n", 4, "only for pull queues"),
    ("- name: q\n  rate: 1/s\n  bucket_size: 0\n", 4, "bucket_size"),
    ("- name: q\n  rate: 1/s\n  max_concurrent_requests: 0\n", 4, "max_concurrent_requests"),
    ("- name: q\n  rate: 1/s\n  target: Bad_Target\n", 4, "not a service"),
    ("- name: q\n  rate: 1/s\n  retry_parameters:\n    task_age_limit: 0s\n", 5, "task_age_limit"),
    ("- name: q\n  rate: 1/s\n  retry_parameters:\n    task_retry_limit: -1\n", 5, "task_retry_limit"),
    ("- name: q\n  rate: 1/s\n  retry_parameters:\n    min_backoff_seconds: 9\n    max_backoff_seconds: 1\n",
     5, "above max_backoff_seconds"),
    ("- name: q\n  mode: pull\n  retry_parameters:\n    task_retry_limit: 1\n    max_doublings: 2\n", 6,
     "only task_retry_limit"),
    ("- name: q\n  mode: pull\n  acl:\n  - user_email: a@b.c\n    writer_email: d@e.f\n", 5, "exactly one"),
    ("- name: q\n  rate: 1/s\n- name: q\n  rate: 2/s\n", 4, "already defined on line 2"),
    ("- name: q\n  rate: 1/s\n  ratee: 2/s\n", 4, "unknown key 'ratee'"),
])
def test_queue_rules(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_queues, write(tmp_path, "queue.yaml", "queue:\n" + text), line, words)


def test_queue_top_level_rules(tmp_path: Path) -> None:
    assert_one_error(load_queues, write(tmp_path, "queue.yaml", "total_storage_limit: lots\nqueue: []\n"), 1,
                     "not a size")
    assert_one_error(load_queues, write(tmp_path, "q2.yaml", "queue: []\napplication: x\n"), 2, "application")


def test_a_rate_above_the_dispatch_ceiling_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "queue.yaml", "queue:\n- name: q\n  rate: 600/s\n")
    assert errors(load_queues, path) == [] and [n for n, _ in warnings(load_queues, path)] == [3]


@pytest.mark.parametrize("text", [
    "- name: q\n  rate: 1/s\n  target: v2.worker\n",
    "- name: q\n  rate: 5./s\n",
    "- name: " + "q" * 499 + "\n  rate: 1/s\n",
    "- name: q\n  rate: 1/s\n  retry_parameters:\n    min_backoff_seconds: 7200\n",  # max follows it
])
def test_queue_shapes_the_sdk_accepts(tmp_path: Path, text: str) -> None:
    assert errors(load_queues, write(tmp_path, "queue.yaml", "resume_paused_queues: true\nqueue:\n" + text)) == []


def test_a_queue_name_of_500_characters_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "queue.yaml", "queue:\n- name: " + "q" * 500 + "\n  rate: 1/s\n")
    assert_one_error(load_queues, path, 2, "not valid")


def test_a_queue_name_longer_than_cloud_tasks_takes_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "queue.yaml", "queue:\n- name: " + "q" * 101 + "\n  rate: 1/s\n- name: " + "q" * 100
                 + "\n  rate: 1/s\n")
    assert errors(load_queues, path) == []
    [(line, message)] = warnings(load_queues, path)
    assert line == 2 and "101 characters" in message and "at most 100" in message
