"""queue.yaml: push (and pull) queues with rate, bucket, concurrency, target and retry settings, §5.7."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .problems import Problem
from .yaml_nodes import (
    Findings,
    Node,
    check_keys,
    expect_list,
    expect_map,
    get_bool,
    get_int,
    get_str,
    read_retry_values,
    read_yaml,
)

_NAME = re.compile(r"[A-Za-z0-9-]{1,499}")
_RATE = re.compile(r"(\d+(?:\.\d*)?)/([smhd])")
_STORAGE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([BKMGT]?)")
_TARGET = re.compile(r"((?!-)[a-z\d-]{1,100}\.)?(?!-)[a-z\d-]{1,63}")  # [version.]service, as the SDK
_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_QUEUE_KEYS = ("name", "mode", "rate", "bucket_size", "max_concurrent_requests", "target", "retry_parameters",
               "acl")
_PUSH_ONLY = ("rate", "bucket_size", "max_concurrent_requests", "target")
_RETRY_KEYS = ("task_retry_limit", "task_age_limit", "min_backoff_seconds", "max_backoff_seconds",
               "max_doublings")
MAX_TASKS_QUEUE_ID = 100  # Cloud Tasks' queue id limit; queue.yaml's own grammar allows 499
MAX_RATE = 500.0  # dispatches per second per queue (Cloud Tasks' ceiling)


@dataclass(frozen=True)
class QueueRetry:
    task_retry_limit: int | None = None  # None = unlimited
    task_age_limit: float | None = None  # seconds
    min_backoff_seconds: float = 0.1
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 16


@dataclass(frozen=True)
class QueueDef:
    name: str
    line: int
    mode: Literal["push", "pull"] = "push"
    rate: float = 5.0  # tasks per second; 0 = paused
    bucket_size: int = 5
    max_concurrent_requests: int = 1000
    target: str | None = None
    retry: QueueRetry = QueueRetry()


@dataclass(frozen=True)
class Queues:
    path: Path | None
    queues: tuple[QueueDef, ...] = ()
    total_storage_limit: str | None = None
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def get(self, name: str) -> QueueDef | None:
        return next((q for q in self.queues if q.name == name), None)


def parse_rate(text: str) -> float | None:
    """Tasks per second of a rate like "5/s" or "100/m" ("0" pauses); None when malformed."""
    text = text.strip()
    if text == "0":
        return 0.0
    match = _RATE.fullmatch(text)
    return float(match.group(1)) / _PER[match.group(2)] if match else None


def _retry(node: Node | None, pull: bool, findings: Findings) -> QueueRetry:
    block = expect_map(node, "retry_parameters", findings, "`retry_parameters:` with e.g. `task_retry_limit: 5`")
    if block is None:
        return QueueRetry()
    check_keys(block, _RETRY_KEYS, "retry_parameters", findings)
    if pull:
        for key in _RETRY_KEYS[1:]:
            if key in block.entries:
                findings.error(block.entries[key].key_line, f"a pull queue takes only task_retry_limit, not {key}",
                               f"remove {key}")
    return QueueRetry(**read_retry_values(block, "task", 2147483647, findings))  # type: ignore[arg-type]


def _acl(node: Node | None, findings: Findings) -> None:
    for item in expect_list(node, "acl", findings, "a list of `- user_email: a@example.com` entries"):
        entry = expect_map(item, "an acl entry", findings, "`- user_email: a@example.com`")
        if entry is None:
            continue
        check_keys(entry, ("user_email", "writer_email"), "an acl entry", findings)
        if len(entry.entries) != 1:
            findings.error(entry.line, "an acl entry takes exactly one of user_email, writer_email",
                           "write one email per entry")


def _queue(item: Node, findings: Findings) -> QueueDef | None:
    entry = expect_map(item, "a queue", findings, "`- name: my-queue` with `rate: 5/s` below it")
    if entry is None:
        return None
    check_keys(entry, _QUEUE_KEYS, "a queue", findings)
    name_node = entry.get("name")
    line = name_node.key_line if name_node else entry.line
    name = get_str(name_node, "name", findings, "write the queue's name")
    if name_node is None:
        findings.error(entry.line, "this queue has no name", "add `name: QUEUE` (letters, digits and -)")
    elif name is not None and not _NAME.fullmatch(name):
        findings.error(line, f"queue name {name!r} is not valid", "use 1-499 letters, digits and - only")
        name = None
    elif name is not None and len(name) > MAX_TASKS_QUEUE_ID:
        findings.warn(line, f"queue name {name[:20]}... has {len(name)} characters: Cloud Tasks, which runs "
                      f"queue.yaml's queues, takes queue ids of at most {MAX_TASKS_QUEUE_ID} (the local emulator "
                      "refuses it)", f"shorten it to at most {MAX_TASKS_QUEUE_ID} characters")
    mode_node = entry.get("mode")
    mode = "push"
    if mode_node is not None:
        if mode_node.is_scalar and mode_node.text in ("push", "pull"):
            mode = mode_node.text
        else:
            findings.error(mode_node.key_line, f"mode is {mode_node.describe()}", "use push (default) or pull")
    if mode == "pull":
        for key in _PUSH_ONLY:
            if key in entry.entries:
                findings.error(entry.entries[key].key_line, f"{key} is only for push queues",
                               f"remove {key}, or make the queue `mode: push`")
    elif "acl" in entry.entries:
        findings.error(entry.entries["acl"].key_line, "acl is only for pull queues", "remove acl")
    rate = 5.0
    rate_node = entry.get("rate")
    if rate_node is None and mode == "push":
        findings.error(line, "this push queue has no rate", "add e.g. `rate: 5/s` (or `0` to pause it)")
    elif rate_node is not None and mode == "push":
        parsed = parse_rate(rate_node.text) if rate_node.is_scalar else None
        if parsed is None:
            findings.error(rate_node.key_line, f"rate is {rate_node.describe()}",
                           "write tasks per unit, e.g. `5/s`, `100/m`, `1000/d`, or `0` to pause")
        else:
            rate = parsed
            if rate > MAX_RATE:
                findings.warn(rate_node.key_line, f"rate is {rate:g} tasks/s; a queue dispatches at most "
                              f"{MAX_RATE:g}/s", f"lower it to at most {MAX_RATE:g}/s or use several queues")
    bucket = get_int(entry.get("bucket_size"), "bucket_size", findings, 1, 500)
    concurrent = get_int(entry.get("max_concurrent_requests"), "max_concurrent_requests", findings, 1, 5000)
    target_node = entry.get("target")
    target = get_str(target_node, "target", findings, "write a service name, e.g. `target: worker`")
    if target_node is not None and target is not None and not _TARGET.fullmatch(target):
        findings.error(target_node.key_line, f"target {target!r} is not a service (or version.service) id",
                       "use the `service:` name from that service's app.yaml")
    retry = _retry(entry.get("retry_parameters"), mode == "pull", findings)
    _acl(entry.get("acl"), findings)
    if name is None:
        return None
    return QueueDef(name, line, mode, rate, bucket if bucket is not None else 5,  # type: ignore[arg-type]
                    concurrent if concurrent is not None else 1000, target, retry)


def read_queue_node(root: Node, path: Path, findings: Findings) -> Queues:
    check_keys(root, ("queue", "total_storage_limit", "resume_paused_queues"), "queue.yaml", findings,
               handled=("application",))
    get_bool(root.get("resume_paused_queues"), "resume_paused_queues", findings)
    if "application" in root.entries:
        findings.error(root.entries["application"].key_line, "`application:` is not allowed in queue.yaml",
                       "remove it; pass --project to gcloud")
    limit_node = root.get("total_storage_limit")
    limit = get_str(limit_node, "total_storage_limit", findings, "write e.g. `total_storage_limit: 500M`")
    if limit_node is not None and limit is not None and not _STORAGE.fullmatch(limit):
        findings.error(limit_node.key_line, f"total_storage_limit {limit!r} is not a size",
                       "write a number with an optional unit B, K, M, G or T, e.g. 500M")
    queues: list[QueueDef] = []
    for item in expect_list(root.get("queue"), "queue", findings, "`- name: my-queue` entries"):
        queue = _queue(item, findings)
        if queue is None:
            continue
        twin = next((q for q in queues if q.name == queue.name), None)
        if twin is not None:
            findings.error(queue.line, f"queue {queue.name!r} is already defined on line {twin.line}",
                           "give each queue its own name")
            continue
        queues.append(queue)
    return Queues(path, tuple(queues), limit)


def load_queues(path: Path | str) -> Queues:
    """Read and check queue.yaml; ConfigError lists every problem (FILE:LINE)."""
    path = Path(path)
    findings = Findings(path)
    root = expect_map(read_yaml(path, findings), "the top level of queue.yaml", findings,
                      "`queue:` followed by a list of queues")
    queues = read_queue_node(root, path, findings) if root is not None else Queues(path)
    findings.raise_if_errors()
    return Queues(queues.path, queues.queues, queues.total_storage_limit, findings.warnings())
