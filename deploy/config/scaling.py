"""app.yaml's scaling blocks (§5.3) and instance classes (§1.4): the Scaling model and its rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .yaml_nodes import Findings, Node, check_keys, expect_map, get_float, get_int

ScalingKind = Literal["automatic", "basic", "manual"]
SCALING_KEYS: dict[str, ScalingKind] = {
    "automatic_scaling": "automatic", "basic_scaling": "basic", "manual_scaling": "manual",
}
AUTOMATIC_CLASSES = ("F1", "F2", "F4", "F4_1G")
BASIC_CLASSES = ("B1", "B2", "B4", "B4_1G", "B8")
# Memory of each class in MB (§1.4), for preflight's peak-memory check.
INSTANCE_MEMORY_MB = {"F1": 384, "F2": 768, "F4": 1536, "F4_1G": 3072,
                      "B1": 384, "B2": 768, "B4": 1536, "B4_1G": 3072, "B8": 3072}
MAX_INT32 = 2147483647
_LATENCY = re.compile(r"automatic|\d+ms|\d+(\.\d{1,3})?s")
_IDLE_TIMEOUT = re.compile(r"\d+[sm]")
_AUTOMATIC_KEYS = ("max_instances", "min_instances", "max_idle_instances", "min_idle_instances",
                   "target_cpu_utilization", "target_throughput_utilization", "max_concurrent_requests",
                   "max_pending_latency", "min_pending_latency")
# The SDK schema accepts these for App Engine flexible; standard ignores them.
_FLEX_ONLY = ("cool_down_period_sec", "cpu_utilization", "target_request_count_per_second",
              "target_concurrent_requests", "target_network_sent_bytes_per_second",
              "target_network_sent_packets_per_second", "target_network_received_bytes_per_second",
              "target_network_received_packets_per_second", "target_disk_write_bytes_per_second",
              "target_disk_write_ops_per_second", "target_disk_read_bytes_per_second",
              "target_disk_read_ops_per_second", "min_num_instances", "max_num_instances")


@dataclass(frozen=True)
class Scaling:
    """The one scaling block (automatic when none is given) and what it implies for requests."""

    kind: ScalingKind = "automatic"
    settings: Mapping[str, object] = field(default_factory=dict)
    max_concurrent_requests: int = 10

    @property
    def request_timeout(self) -> float:
        """Seconds a request may run: 10 min on automatic scaling, 24 h on basic and manual (§1.5)."""
        return 600.0 if self.kind == "automatic" else 86400.0

    @property
    def default_instance_class(self) -> str:
        return "F1" if self.kind == "automatic" else "B2"


def latency_ms(text: str) -> float | None:
    """Milliseconds of a pending-latency value ("30ms", "1.5s"); None for "automatic"."""
    if text == "automatic":
        return None
    return float(text[:-2]) if text.endswith("ms") else float(text[:-1]) * 1000


def _automatic(block: Node, findings: Findings) -> dict[str, object]:
    settings: dict[str, object] = {}
    for key in _FLEX_ONLY:
        if key in block.entries:
            findings.warn(block.entries[key].key_line, f"automatic_scaling.{key} is for App Engine flexible; "
                          "standard ignores it", "remove it (standard scales on the settings of §5.3)")
    check_keys(block, _AUTOMATIC_KEYS + _FLEX_ONLY, "automatic_scaling", findings)
    max_node = block.get("max_instances")
    settings["max_instances"] = max_i = get_int(max_node, "max_instances", findings, 0, MAX_INT32)
    if max_node is None:
        findings.warn(block.key_line, "automatic_scaling has no max_instances: projects created since March "
                      "2025 get a limit of 20 instances", "set max_instances (2147483647 lifts the limit)")
    elif max_i == 0:
        findings.warn(max_node.key_line, "max_instances: 0 disables the limit; newer projects apply their "
                      "default of 20 instead", "set the number of instances you want as the ceiling")
    settings["min_instances"] = min_i = get_int(block.get("min_instances"), "min_instances", findings, 0, 1000)
    if max_i and min_i is not None and min_i > max_i:
        findings.error(block.entries["min_instances"].key_line,
                       f"min_instances ({min_i}) is above max_instances ({max_i})",
                       "make min_instances at most max_instances")
    for key, low in (("max_idle_instances", 1), ("min_idle_instances", 0)):
        node = block.get(key)
        if node is not None and node.value == "automatic":
            settings[key] = "automatic"
        elif node is not None:
            settings[key] = get_int(node, key, findings, low, 1000)
    idle_max, idle_min = settings.get("max_idle_instances"), settings.get("min_idle_instances")
    if isinstance(idle_max, int) and isinstance(idle_min, int) and idle_min > idle_max:
        findings.error(block.entries["min_idle_instances"].key_line,
                       f"min_idle_instances ({idle_min}) is above max_idle_instances ({idle_max})",
                       "make min_idle_instances at most max_idle_instances")
    for key in ("target_cpu_utilization", "target_throughput_utilization"):
        settings[key] = get_float(block.get(key), key, findings, 0.5, 0.95)
    settings["max_concurrent_requests"] = get_int(block.get("max_concurrent_requests"),
                                                  "max_concurrent_requests", findings, 1, 1000)
    latencies: dict[str, float | None] = {}
    for key in ("max_pending_latency", "min_pending_latency"):
        node = block.get(key)
        if node is None:
            continue
        text = node.text.strip() if node.is_scalar else ""
        if not _LATENCY.fullmatch(text):
            findings.error(node.key_line, f"{key} is {node.describe()}, not a latency",
                           "write `automatic`, milliseconds like `30ms` or seconds like `1.5s`")
            continue
        settings[key] = text
        latencies[key] = latency_ms(text)
    low_ms, high_ms = latencies.get("min_pending_latency"), latencies.get("max_pending_latency")
    if low_ms is not None and high_ms is not None and low_ms > high_ms:
        findings.error(block.entries["min_pending_latency"].key_line,
                       "min_pending_latency is above max_pending_latency",
                       "make min_pending_latency at most max_pending_latency")
    return {k: v for k, v in settings.items() if v is not None}


def _basic(block: Node, findings: Findings) -> dict[str, object]:
    check_keys(block, ("max_instances", "idle_timeout"), "basic_scaling", findings)
    settings: dict[str, object] = {}
    node = block.get("max_instances")
    if node is None:
        findings.error(block.key_line, "basic_scaling needs max_instances",
                       "add `max_instances: N` (a positive whole number) under basic_scaling")
    else:
        settings["max_instances"] = get_int(node, "max_instances", findings, 1, MAX_INT32)
    idle = block.get("idle_timeout")
    if idle is not None:
        if idle.is_scalar and _IDLE_TIMEOUT.fullmatch(idle.text.strip()):
            settings["idle_timeout"] = idle.text.strip()
        else:
            findings.error(idle.key_line, f"idle_timeout is {idle.describe()}, not a duration",
                           "write seconds like `300s` or minutes like `5m`")
    return {k: v for k, v in settings.items() if v is not None}


def _manual(block: Node, findings: Findings) -> dict[str, object]:
    check_keys(block, ("instances",), "manual_scaling", findings)
    node = block.get("instances")
    if node is None:
        findings.error(block.key_line, "manual_scaling needs instances",
                       "add `instances: N` (a positive whole number) under manual_scaling")
        return {}
    count = get_int(node, "instances", findings, 1, MAX_INT32)
    return {} if count is None else {"instances": count}


def read_scaling(root: Node, findings: Findings) -> Scaling:
    """The scaling block of an app.yaml root mapping: at most one, each key in its range."""
    present = [key for key in SCALING_KEYS if key in root.entries]
    for extra in present[1:]:
        findings.error(root.entries[extra].key_line, f"more than one scaling block ({', '.join(present)})",
                       "keep only one of automatic_scaling, basic_scaling, manual_scaling")
    if not present:
        return Scaling()
    key = present[0]
    kind = SCALING_KEYS[key]
    block = expect_map(root.entries[key], key, findings, f"`{key}:` with indented settings below it")
    if block is None:
        return Scaling(kind)
    reader = {"automatic": _automatic, "basic": _basic, "manual": _manual}[kind]
    settings = reader(block, findings)
    concurrent = settings.get("max_concurrent_requests")
    return Scaling(kind, settings, concurrent if isinstance(concurrent, int) else 10)


def check_instance_class(node: Node | None, scaling: Scaling, findings: Findings) -> str:
    """The instance class (the scaling type's default when unset); it must fit the scaling type."""
    if node is None:
        return scaling.default_instance_class
    name = node.text.strip().upper() if node.is_scalar else ""  # the SDK accepts f2 as F2
    allowed = AUTOMATIC_CLASSES if scaling.kind == "automatic" else BASIC_CLASSES
    if name not in AUTOMATIC_CLASSES + BASIC_CLASSES:
        findings.error(node.key_line, f"instance_class {node.describe()} is not an App Engine standard class",
                       f"use one of {', '.join(allowed)} for {scaling.kind} scaling")
        return scaling.default_instance_class
    if name not in allowed:
        need = ("basic_scaling or manual_scaling" if scaling.kind == "automatic" else "automatic scaling")
        findings.error(node.key_line, f"instance_class {name} needs {need}, but the service uses "
                       f"{scaling.kind} scaling", f"use one of {', '.join(allowed)}, or change the scaling block")
    return name
