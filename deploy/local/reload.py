"""A new instance when a service's code changes, as dev_appserver did: its folder is polled for changed,
added or removed `.py` files (once a second; no extra dependency), and the service is restarted.

A changed service file (app.yaml) is only reported: the runner read it once, so it must be restarted.
Data and tool folders (.local, .datastore, .cloudtasks, virtualenvs, caches) are not watched.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from deploy.local import output
from deploy.local.services import ServiceInstance

INTERVAL = 1.0
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv", "env", "site-packages"})

Snapshot = dict[str, int]


def snapshot(root: Path) -> Snapshot:
    """mtime (ns) of every .py file under `root`, outside hidden, cache and virtualenv folders."""
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS
                   and not (Path(folder) / d / "pyvenv.cfg").exists()]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                try:
                    found[path] = os.stat(path).st_mtime_ns
                except OSError:
                    continue
    return found


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """Files added, removed or modified between two snapshots."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


async def watch(instances: Iterable[ServiceInstance], interval: float = INTERVAL) -> None:
    """Poll until cancelled; restart a service whose code changed, report a changed service file."""
    services = list(instances)
    code = {svc.name: await asyncio.to_thread(snapshot, svc.config.root) for svc in services}
    configs = {svc.name: _mtime(svc.config.path) for svc in services}
    while True:
        await asyncio.sleep(interval)
        for svc in services:
            now = await asyncio.to_thread(snapshot, svc.config.root)
            diff = changed(code[svc.name], now)
            code[svc.name] = now
            if diff:
                first = os.path.relpath(diff[0], svc.config.root)
                more = f" and {len(diff) - 1} more" if len(diff) > 1 else ""
                await svc.restart(f"{first}{more} changed")
            config = _mtime(svc.config.path)
            if config != configs[svc.name]:
                configs[svc.name] = config
                output.emit(svc.name, f"{svc.config.path.name} changed: restart the runner to apply it")


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
