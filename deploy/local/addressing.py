"""Which service a request goes to: its service hostname, else dispatch.yaml, else `default` (contract 3).

A Host of `<service>.localhost[:port]`, or one whose labels before the domain contain `<service>-dot-`
(`api-dot-my-app.appspot.com`, `v1-dot-api-dot-...`), addresses that service directly and bypasses
dispatch.yaml, as production's service hostnames do. Unknown names fall through to dispatch and default.
"""

from __future__ import annotations

from collections.abc import Collection

from deploy.config.dispatch_yaml import Dispatch


def host_only(host: str) -> str:
    """The Host header without its port, lower case (`[::1]` kept in brackets)."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def addressed_service(host: str, services: Collection[str]) -> str | None:
    """The service a service hostname names, or None."""
    name = host_only(host)
    labels = name.split(".")
    if len(labels) >= 2 and labels[-1] == "localhost" and labels[-2] in services:
        return labels[-2]
    parts = labels[0].split("-dot-")
    for part in parts[:-1]:  # the last part is the app (project) id
        if part in services:
            return part
    return None


def choose_service(host: str, path: str, services: Collection[str], dispatch: Dispatch, default: str) -> tuple[str, str]:
    """(service, why): why is `host`, `dispatch` or `default`. /_ah/ paths are never dispatched."""
    named = addressed_service(host, services)
    if named is not None:
        return named, "host"
    target = dispatch.service_for(host_only(host), path)
    if target is not None and target in services:
        return target, "dispatch"
    return default, "default"
