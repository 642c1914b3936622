"""A real emulator subprocess per test module, and ndb pointed at it with a project of each test's own."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.support.procs import Server, free_port, run_server


def emulator_command(port: int, *store: str) -> list[str]:
    """`python -m framework.emulators.datastore` on loopback; `store` is `--in-memory` or `--data-dir DIR`."""
    return [sys.executable, "-m", "framework.emulators.datastore", "--host", "127.0.0.1", "--port", str(port),
            *(store or ("--in-memory",)), "--project", "test-project"]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An in-memory emulator process shared by the tests of one module (tests isolate by project)."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("emulator")
    with run_server(emulator_command(port), port=port, tmp_path=tmp, ready_path=None) as server:
        yield server


@pytest.fixture
def ndb_env(_clean_platform_env: None, emulator: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ndb at the module's emulator, in a fresh project; return the project id."""
    project = "t-" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("DATASTORE_EMULATOR_HOST", f"127.0.0.1:{emulator.port}")
    monkeypatch.setenv("DATASTORE_PROJECT_ID", project)
    monkeypatch.delenv("DATASTORE_DATASET", raising=False)
    monkeypatch.delenv("REDIS_CACHE_URL", raising=False)
    return project
