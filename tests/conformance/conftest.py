"""One server per host for the whole module; each host's tests stay on one xdist worker (loadgroup)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance import hosts
from tests.support.procs import free_port

HOST_NAMES = ("test-client", "gunicorn-sync", "gunicorn-gthread", "functions-framework", "werkzeug",
              "framework-server")


@pytest.fixture(
    scope="module",
    params=[pytest.param(name, marks=pytest.mark.xdist_group(f"conformance-{name}")) for name in HOST_NAMES],
)
def host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[hosts.Host]:
    name = request.param
    if name == "test-client":
        yield hosts.in_process()
        return
    tmp = tmp_path_factory.mktemp(f"host-{name}")
    if name.startswith("gunicorn-"):
        with hosts.gunicorn(tmp, free_port(), worker=name.removeprefix("gunicorn-")) as server:
            yield server
    elif name == "framework-server":
        with hosts.framework_server(tmp, free_port()) as server:
            yield server
    elif name == "functions-framework":
        with hosts.functions_framework(tmp, free_port()) as server:
            yield server
    else:
        with hosts.werkzeug_dev_server(tmp, free_port()) as server:
            yield server


@pytest.fixture(scope="module")
def reference() -> hosts.Host:
    """The in-process client every other host is compared with."""
    return hosts.in_process()
