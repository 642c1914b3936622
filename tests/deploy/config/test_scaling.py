"""Scaling blocks and instance classes (platform-facts §5.3, §1.4, §1.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.app_yaml import load_app_yaml

from .helpers import assert_one_error, errors, problems, warnings, write


def app(tmp_path: Path, text: str) -> Path:
    return write(tmp_path, "app.yaml", "runtime: python313\n" + text)


def test_no_block_means_automatic_scaling_on_f1(tmp_path: Path) -> None:
    config = load_app_yaml(app(tmp_path, ""))
    assert (config.scaling.kind, config.instance_class, config.scaling.request_timeout) == ("automatic", "F1", 600)
    assert config.scaling.max_concurrent_requests == 10


def test_a_full_automatic_block_is_read(tmp_path: Path) -> None:
    path = app(tmp_path, """\
instance_class: F4_1G
automatic_scaling:
  max_instances: 2147483647
  min_instances: 1
  max_idle_instances: automatic
  min_idle_instances: 2
  target_cpu_utilization: 0.65
  target_throughput_utilization: 0.95
  max_concurrent_requests: 80
  max_pending_latency: 1.5s
  min_pending_latency: 30ms
""")
    config = load_app_yaml(path)
    assert problems(load_app_yaml, path) == []
    assert config.scaling.settings["max_idle_instances"] == "automatic"
    assert config.scaling.max_concurrent_requests == 80 and config.instance_class == "F4_1G"


def test_basic_and_manual_default_to_b2_with_24_hour_requests(tmp_path: Path) -> None:
    basic = load_app_yaml(app(tmp_path, "basic_scaling:\n  max_instances: 3\n  idle_timeout: 10m\n"))
    assert (basic.scaling.kind, basic.instance_class, basic.scaling.request_timeout) == ("basic", "B2", 86400)
    manual = load_app_yaml(write(tmp_path, "m.yaml", "runtime: python313\ninstance_class: B8\n"
                                 "manual_scaling:\n  instances: 2\n"))
    assert (manual.scaling.kind, manual.instance_class, manual.scaling.settings) == ("manual", "B8",
                                                                                      {"instances": 2})


@pytest.mark.parametrize(("text", "line", "words"), [
    ("automatic_scaling:\n  max_instances: 5\nbasic_scaling:\n  max_instances: 2\n", 4, "more than one scaling"),
    ("automatic_scaling:\n  max_instances: -1\n", 3, "max_instances"),
    ("automatic_scaling:\n  max_instances: 5\n  min_instances: 1001\n", 4, "min_instances"),
    ("automatic_scaling:\n  max_instances: 5\n  min_instances: 6\n", 4, "above max_instances"),
    ("automatic_scaling:\n  max_instances: 5\n  max_idle_instances: 0\n", 4, "max_idle_instances"),
    ("automatic_scaling:\n  max_instances: 5\n  max_idle_instances: 2\n  min_idle_instances: 3\n", 5,
     "above max_idle_instances"),
    ("automatic_scaling:\n  max_instances: 5\n  target_cpu_utilization: 0.4\n", 4, "target_cpu_utilization"),
    ("automatic_scaling:\n  max_instances: 5\n  target_throughput_utilization: 1\n", 4, "throughput"),
    ("automatic_scaling:\n  max_instances: 5\n  max_concurrent_requests: 0\n", 4, "max_concurrent_requests"),
    ("automatic_scaling:\n  max_instances: 5\n  max_concurrent_requests: 1001\n", 4, "max_concurrent_requests"),
    ("automatic_scaling:\n  max_instances: 5\n  max_pending_latency: 10 seconds\n", 4, "not a latency"),
    ("automatic_scaling:\n  max_instances: 5\n  min_pending_latency: 2s\n  max_pending_latency: 100ms\n", 4,
     "above max_pending_latency"),
    ("automatic_scaling:\n  max_instances: 5\n  max_instance: 3\n", 4, "unknown key 'max_instance'"),
    ("automatic_scaling: 5\n", 2, "must be a mapping"),
    ("basic_scaling:\n  idle_timeout: 5m\n", 2, "needs max_instances"),
    ("basic_scaling:\n  max_instances: 0\n", 3, "max_instances"),
    ("basic_scaling:\n  max_instances: 2\n  idle_timeout: 5h\n", 4, "idle_timeout"),
    ("manual_scaling: {}\n", 2, "needs instances"),
    ("manual_scaling:\n  instances: two\n", 3, "instances"),
    ("instance_class: F3\n", 2, "not an App Engine standard class"),
    ("instance_class: B2\n", 2, "needs basic_scaling or manual_scaling"),
    ("instance_class: F2\nbasic_scaling:\n  max_instances: 1\n", 2, "needs automatic scaling"),
])
def test_scaling_rules(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_app_yaml, app(tmp_path, text), line, words)


@pytest.mark.parametrize(("text", "line"), [
    ("automatic_scaling:\n  min_instances: 1\n", 2),  # no max_instances: the 20 default applies
    ("automatic_scaling:\n  max_instances: 0\n", 3),
    ("automatic_scaling:\n  max_instances: 4\n  cpu_utilization: 0.5\n", 4),  # flexible only
])
def test_scaling_warnings(tmp_path: Path, text: str, line: int) -> None:
    path = app(tmp_path, text)
    assert errors(load_app_yaml, path) == []
    assert [found for found, _ in warnings(load_app_yaml, path)] == [line]


def test_warmup_is_only_sent_on_automatic_scaling(tmp_path: Path) -> None:
    path = app(tmp_path, "inbound_services: [warmup]\nbasic_scaling:\n  max_instances: 2\n")
    assert errors(load_app_yaml, path) == [] and [n for n, _ in warnings(load_app_yaml, path)] == [2]
    auto = write(tmp_path, "auto.yaml", "runtime: python313\ninbound_services: [warmup]\n")
    assert problems(load_app_yaml, auto) == []


def test_instance_class_is_case_insensitive(tmp_path: Path) -> None:
    assert load_app_yaml(app(tmp_path, "instance_class: f4_1g\n")).instance_class == "F4_1G"
