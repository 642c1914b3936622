"""The local stand-ins for Google's services the apps use: the Datastore and Cloud Tasks emulators.

Each runs as a child of the runner on a loopback port; its host is exported to every service
(DATASTORE_EMULATOR_HOST, CLOUD_TASKS_EMULATOR_HOST). Already-set hosts are reused instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from deploy.local import output
from deploy.local.processes import Child
from deploy.local.services import free_port

START_TIMEOUT = 60.0


class EmulatorError(Exception):
    """An emulator did not come up; its output is above."""


def _port_setting(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise EmulatorError(f"{name} is {value!r}; set it to a free TCP port number such as 8081")
    return int(value)


async def _start(name: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> Child:
    """Start an emulator and wait for its ready line (`# ... is running; ...`)."""
    ready = asyncio.Event()
    child = Child(name, argv, env=env, cwd=cwd,
                  on_line=lambda line: ready.set() if line.startswith("#") and " is running" in line else None)
    await child.start()
    waiter = asyncio.create_task(ready.wait())
    exited = asyncio.create_task(child.wait())
    try:
        done, _ = await asyncio.wait({waiter, exited}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # Ctrl-C while it starts: the runner does not know this child yet
        waiter.cancel()
        exited.cancel()
        await asyncio.shield(child.stop())
        raise
    waiter.cancel()
    if waiter not in done or not ready.is_set():
        exited.cancel()
        await child.stop()
        why = "exited" if exited in done else f"was not ready within {START_TIMEOUT:g} s"
        raise EmulatorError(f"the local {name} emulator {why} (its output is above)")
    exited.cancel()
    return child


def _supports_index_flags() -> bool:
    """Whether the Datastore emulator takes --index-file/--index-mode yet (contract 5, being added)."""
    spec = importlib.util.find_spec("framework.emulators.datastore.__main__")
    return bool(spec and spec.origin and "--index-mode" in Path(spec.origin).read_text())


async def start_datastore(app_dir: Path, env: dict[str, str], kit_root: Path) -> Child | None:
    """Start the Datastore emulator (data in `.datastore/`) unless DATASTORE_EMULATOR_HOST is set; export its host."""
    project = env.get("DATASTORE_PROJECT_ID") or env.setdefault("GOOGLE_CLOUD_PROJECT", "local-project")
    if env.get("DATASTORE_EMULATOR_HOST"):
        output.emit("datastore", f"using the emulator at {env['DATASTORE_EMULATOR_HOST']}")
        env.setdefault("DATASTORE_PROJECT_ID", project)
        return None
    data_dir = Path(env.get("FRAMEWORK_DATASTORE_DIR") or app_dir / ".datastore").resolve()
    port = _port_setting(env, "FRAMEWORK_DATASTORE_PORT") or free_port()
    argv = [sys.executable, "-m", "framework.emulators.datastore", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir), "--project", project]
    if _supports_index_flags():
        argv += ["--index-file", str(app_dir / "index.yaml"), "--index-mode", "record"]
    child = await _start("datastore", argv, env, kit_root)
    env.update(DATASTORE_EMULATOR_HOST=f"127.0.0.1:{port}", DATASTORE_PROJECT_ID=project, DATASTORE_DATASET=project)
    return child


def tasks_available() -> bool:
    return importlib.util.find_spec("framework.emulators.tasks") is not None


async def start_tasks(app_dir: Path, env: dict[str, str], kit_root: Path, *, front_end_url: str,
                      queue_yaml: Path | None) -> Child | None:
    """Start the Cloud Tasks emulator (data in `.cloudtasks/`) delivering App Engine tasks to the front end."""
    if env.get("CLOUD_TASKS_EMULATOR_HOST"):
        output.emit("tasks", f"using the emulator at {env['CLOUD_TASKS_EMULATOR_HOST']}")
        return None
    if not tasks_available():
        return None
    port = free_port()
    argv = [sys.executable, "-m", "framework.emulators.tasks", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(app_dir / ".cloudtasks"), "--app-engine-url", front_end_url]
    if queue_yaml is not None:
        argv += ["--queue-yaml", str(queue_yaml)]
    child = await _start("tasks", argv, env, kit_root)
    env["CLOUD_TASKS_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    return child
