"""`on_google_host()` without an argument reads os.environ's own dict: it must agree with the rule
applied to the mapping itself, for every combination of the variables it looks at, as they change."""

from __future__ import annotations

import itertools
import os

import pytest

from framework import platform

VALUES = {
    "GAE_ENV": [None, "standard", "localdev", "flex", ""],
    "K_SERVICE": [None, "svc", ""],
    "FUNCTION_NAME": [None, "fn"],
    "GCP_PROJECT": [None, "proj"],
}


def test_agrees_with_the_mapping_rule_as_the_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = set()
    for combo in itertools.product(*VALUES.values()):
        for name, value in zip(VALUES, combo, strict=True):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        expected = platform._kind(dict(os.environ)) in platform._GOOGLE_KINDS
        assert platform.on_google_host() is expected, combo
        assert platform.on_google_host(dict(os.environ)) is expected
        seen.add(expected)
    assert seen == {True, False}


def test_a_replaced_os_environ_is_read_as_a_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {"K_SERVICE": "svc"})
    assert platform.on_google_host()
    monkeypatch.setattr(os, "environ", {})
    assert not platform.on_google_host()
