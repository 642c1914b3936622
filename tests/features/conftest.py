"""Undo the environment changes the CLI makes on purpose (FRAMEWORK_RUN_FROM_CLI, --debug, --env-file)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_CLI_VARS = ("FRAMEWORK_RUN_FROM_CLI", "FRAMEWORK_DEBUG", "FRAMEWORK_APP")


@pytest.fixture(autouse=True)
def _restore_cli_env() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _CLI_VARS}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
