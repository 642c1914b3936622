"""queue.yaml's push queues, read with PyYAML for the emulator (framework/ never imports deploy/).

Only what the emulator needs: name, mode, rate, bucket_size, max_concurrent_requests, target and
retry_parameters (platform-facts §5.7). A bad value is an error naming FILE:LINE, the problem and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .names import valid_app_id

_RATE = re.compile(r"(\d+(?:\.\d*)?)/([smhd])")
_AGE = re.compile(r"(\d+(?:\.\d*)?)([smhd])")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")
_QUEUE_KEYS = {"name", "mode", "rate", "bucket_size", "max_concurrent_requests", "target", "retry_parameters", "acl"}
_RETRY_KEYS = {"task_retry_limit", "task_age_limit", "min_backoff_seconds", "max_backoff_seconds", "max_doublings"}


class QueueYamlError(ValueError):
    """queue.yaml is wrong; the message lists every problem as FILE:LINE: problem (fix)."""


@dataclass(frozen=True)
class QueueSpec:
    """One push queue of queue.yaml with App Engine's defaults (rate 5/s, bucket 5, unlimited retries)."""

    name: str
    rate: float = 5.0
    bucket_size: int = 5
    max_concurrent_requests: int = 1000
    target: str | None = None
    task_retry_limit: int | None = None
    task_age_limit: float | None = None
    min_backoff_seconds: float = 0.1
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 16
    line: int = 0


DEFAULT_QUEUE = QueueSpec(name="default")


@dataclass
class _Reader:
    path: str
    problems: list[str] = field(default_factory=list)

    def fail(self, node: Any, problem: str) -> None:
        self.problems.append(f"{self.path}:{node.start_mark.line + 1}: {problem}")

    def scalar(self, node: Any) -> str | None:
        return str(node.value) if isinstance(node, yaml.ScalarNode) else None

    def number(self, node: Any, what: str, *, integer: bool = False, minimum: float = 0) -> Any:
        text = self.scalar(node)
        try:
            value = int(text) if integer else float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(node, f"{what} must be {'a whole number' if integer else 'a number'} (got {text!r})")
            return None
        if value < minimum:
            self.fail(node, f"{what} must be at least {minimum} (got {text})")
            return None
        return value


def _rate(reader: _Reader, node: Any) -> float | None:
    text = (reader.scalar(node) or "").strip()
    if text == "0":
        return 0.0
    match = _RATE.fullmatch(text)
    if not match:
        reader.fail(node, f"rate {text!r} is not N/s, N/m, N/h or N/d (write e.g. rate: 5/s, or 0 to hold tasks)")
        return None
    return float(match[1]) / _UNIT[match[2]]


def _age(reader: _Reader, node: Any) -> float | None:
    text = (reader.scalar(node) or "").strip()
    match = _AGE.fullmatch(text)
    if not match or float(match[1]) <= 0:
        reader.fail(node, f"task_age_limit {text!r} must be a positive number with s, m, h or d (e.g. 2d)")
        return None
    return float(match[1]) * _UNIT[match[2]]


def _queue(reader: _Reader, node: Any) -> QueueSpec | None:
    if not isinstance(node, yaml.MappingNode):
        reader.fail(node, "each entry under queue: must be a mapping with at least name:")
        return None
    values: dict[str, Any] = {"line": node.start_mark.line + 1}
    mode = "push"
    before = len(reader.problems)
    for key_node, value_node in node.value:
        key = reader.scalar(key_node)
        if key not in _QUEUE_KEYS:
            reader.fail(key_node, f"unknown queue setting {key!r} (known: {', '.join(sorted(_QUEUE_KEYS))})")
        elif key == "name":
            name = reader.scalar(value_node) or ""
            if not _NAME.fullmatch(name):
                reader.fail(value_node, f"queue name {name!r} must be 1-100 letters, digits or hyphens")
            values["name"] = name
        elif key == "mode":
            mode = reader.scalar(value_node) or ""
            if mode not in ("push", "pull"):
                reader.fail(value_node, f"mode {mode!r} must be push or pull")
        elif key == "rate":
            values["rate"] = _rate(reader, value_node)
        elif key in ("bucket_size", "max_concurrent_requests"):
            values[key] = reader.number(value_node, key, integer=True, minimum=1)
        elif key == "target":
            target = values["target"] = reader.scalar(value_node)
            if target and not all(valid_app_id(part) for part in target.split(".", 1)):
                reader.fail(value_node, f"target {target!r} must be SERVICE or VERSION.SERVICE, App Engine ids of "
                                        "lowercase letters, digits and hyphens (e.g. worker)")
        elif key == "retry_parameters":
            _retry(reader, value_node, values)
    if "name" not in values:
        reader.fail(node, "a queue needs a name: (add name: my-queue)")
    if len(reader.problems) > before or mode == "pull":
        return None  # pull queues cannot be used through Cloud Tasks v2, so the emulator skips them
    return QueueSpec(**{k: v for k, v in values.items() if v is not None})


def _retry(reader: _Reader, node: Any, values: dict[str, Any]) -> None:
    if not isinstance(node, yaml.MappingNode):
        reader.fail(node, "retry_parameters must be a mapping (e.g. {task_retry_limit: 3})")
        return
    for key_node, value_node in node.value:
        key = reader.scalar(key_node)
        if key not in _RETRY_KEYS:
            reader.fail(key_node, f"unknown retry parameter {key!r} (known: {', '.join(sorted(_RETRY_KEYS))})")
        elif key == "task_age_limit":
            values[key] = _age(reader, value_node)
        elif key in ("task_retry_limit", "max_doublings"):
            values[key] = reader.number(value_node, key, integer=True)
        else:
            values[key] = reader.number(value_node, key)
    low, high = values.get("min_backoff_seconds"), values.get("max_backoff_seconds")
    if low is not None and high is not None and low > high:
        reader.fail(node, f"min_backoff_seconds ({low}) is above max_backoff_seconds ({high}); swap them")


def load_queue_yaml(path: str) -> list[QueueSpec]:
    """The push queues of queue.yaml, plus App Engine's always-present `default` queue unless redefined."""
    reader = _Reader(path)
    try:
        with open(path, encoding="utf-8") as handle:
            root = yaml.compose(handle)
    except OSError as exc:
        raise QueueYamlError(f"{path}: cannot read queue.yaml: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise QueueYamlError(f"{path}: cannot read queue.yaml: it is not UTF-8 text (save it as UTF-8)") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise QueueYamlError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    specs: dict[str, QueueSpec] = {}
    if root is not None:
        if not isinstance(root, yaml.MappingNode):
            raise QueueYamlError(f"{path}:1: queue.yaml must be a mapping with a queue: list")
        for key_node, value_node in root.value:
            key = reader.scalar(key_node)
            if key == "total_storage_limit":
                continue
            if key != "queue":
                reader.fail(key_node, f"unknown top-level key {key!r} (queue.yaml has queue: and total_storage_limit:)")
            elif isinstance(value_node, yaml.SequenceNode):
                for item in value_node.value:
                    spec = _queue(reader, item)
                    if spec is not None and spec.name in specs:
                        reader.fail(item, f"queue {spec.name!r} is defined twice (line {specs[spec.name].line})")
                    elif spec is not None:
                        specs[spec.name] = spec
            elif reader.scalar(value_node) not in (None, "", "null"):
                reader.fail(value_node, "queue: must be a list of queues")
    if reader.problems:
        raise QueueYamlError("\n".join(reader.problems))
    specs.setdefault("default", DEFAULT_QUEUE)
    return list(specs.values())
