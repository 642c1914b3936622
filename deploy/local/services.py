"""One instance per service: its process, App Engine's environment, and the requests the platform sends it
before traffic (§1.5, §4): /_ah/start for manual scaling at start (basic: before its first request) and
/_ah/warmup with `inbound_services: [warmup]`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from deploy.config.app_yaml import AppYaml
from deploy.local import output
from deploy.local.headers import upstream_headers
from deploy.local.processes import Child
from deploy.local.venvs import KIT_BIN, VenvError, bin_dir_for
from deploy.preflight import INSTANCE_MEMORY_MB, free_port, loopback_entrypoint

# App Engine's default when app.yaml has no entrypoint (its exact flags are unconfirmed, §1.3).
DEFAULT_ENTRYPOINT = "gunicorn -b :$PORT main:app"
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0  # what App Engine gives an /_ah/stop handler
RESTART_PAUSE = 5.0  # a crashing service is started again at most this often


class ServiceStartError(Exception):
    """A service could not start; the message names the file and line to fix when there is one."""


def service_environment(config: AppYaml, base: Mapping[str, str], *, port: int, bin_dir: Path,
                        shared: Mapping[str, str]) -> dict[str, str]:
    """App Engine's runtime variables (§2) with local values, the emulators' hosts, and app.yaml's env_variables
    (the shell's value wins, so one can override a setting for a run)."""
    env = dict(base)
    for name, value in config.env_variables.items():
        env.setdefault(name, str(value))
    env.update(shared)
    project = env.setdefault("GOOGLE_CLOUD_PROJECT", "local-project")
    env.update(
        GAE_ENV="localdev",  # never "standard": the app must know it is not deployed
        GAE_SERVICE=config.service,
        GAE_VERSION="local",
        GAE_INSTANCE=secrets.token_hex(16),
        GAE_RUNTIME=config.runtime,
        GAE_APPLICATION=f"dev~{project}",
        GAE_MEMORY_MB=str(INSTANCE_MEMORY_MB.get(config.instance_class, 384)),
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    if bin_dir != KIT_BIN:
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
    else:
        env.pop("VIRTUAL_ENV", None)
    return env


class ServiceInstance:
    """A service's one local instance; the front end's Backend for it."""

    def __init__(self, config: AppYaml, *, app_dir: Path, base_env: Mapping[str, str],
                 shared_env: Mapping[str, str], token: str, session: aiohttp.ClientSession) -> None:
        self.name = config.service
        self.config = config
        self.app_dir = app_dir
        self.base_env = base_env
        self.shared_env = shared_env
        self.token = token
        self.session = session
        self.port = free_port()
        self.child: Child | None = None
        self._up = asyncio.Event()
        self._usable = False
        self._started = config.scaling.kind != "basic"  # basic: /_ah/start before the first request
        self._start_lock = asyncio.Lock()
        self._stopping = False
        self._was_up = False  # started once: from then on an exited instance is replaced on demand
        self._last_start = 0.0
        self._watcher: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def entrypoint(self) -> str:
        return loopback_entrypoint(self.config.entrypoint or DEFAULT_ENTRYPOINT)

    async def ready(self) -> str | None:
        await self._up.wait()
        if self._was_up and self.child is not None and not self.child.running and not self._stopping:
            await self._replace()
        if not self._usable or self.child is None or not self.child.running:
            return None
        if not self._started:
            async with self._start_lock:
                if not self._started:
                    await self._lifecycle_request("/_ah/start", "start")
                    self._started = True
        return self.base_url

    async def _replace(self) -> None:
        """A new instance for one that exited, as App Engine starts one (after a failed start: one try per
        RESTART_PAUSE)."""
        async with self._start_lock:
            loop = asyncio.get_running_loop()
            if self.child is None or self.child.running:
                return
            if not self._usable and loop.time() - self._last_start < RESTART_PAUSE:
                return  # the last new instance did not even start: do not retry on every request
            output.emit(self.name, "starting a new instance for the one that exited")
            self._usable = False
            self._started = self.config.scaling.kind != "basic"
            self._up.clear()
            try:
                await self.start()
            except (ServiceStartError, VenvError) as exc:
                output.emit(self.name, f"the new instance did not start: {exc}")

    async def _watch(self, child: Child) -> None:
        code = await child.wait()
        if not self._stopping and child is self.child:
            output.emit(self.name, f"the instance exited with status {code}; the next request starts a new one")

    async def restart(self, why: str) -> None:
        """Replace the running instance with a new one (its code changed); requests wait for the new one."""
        async with self._start_lock:
            if self._stopping or not self._was_up:
                return
            self._up.clear()  # from now on requests wait for the new instance
            self._usable = False
            output.emit(self.name, f"{why}: starting a new instance")
            old, self.child = self.child, None
            if old is not None:
                await old.stop()
            self._started = self.config.scaling.kind != "basic"
            try:
                await self.start()
            except (ServiceStartError, VenvError) as exc:
                output.emit(self.name, f"the new instance did not start: {exc}")
            if self._stopping and self.child is not None:  # the runner stopped meanwhile
                await self.child.stop()

    async def start(self) -> None:
        """Start the process and wait until it listens; then /_ah/start (manual) and /_ah/warmup; then traffic."""
        self._last_start = asyncio.get_running_loop().time()
        try:
            bin_dir = await bin_dir_for(self.name, self.config.root, self.app_dir,
                                        has_entrypoint=self.config.entrypoint is not None)
            env = service_environment(self.config, self.base_env, port=self.port, bin_dir=bin_dir,
                                      shared=self.shared_env)
            self.child = Child(self.name, ["/bin/sh", "-c", f"exec {self.entrypoint}"], env=env,
                               cwd=self.config.root)
            await self.child.start()
            self._watcher = asyncio.create_task(self._watch(self.child))
            await self._wait_listening()
            if self.config.scaling.kind == "manual":
                await self._lifecycle_request("/_ah/start", "start")
            if self.config.warmup and self.config.scaling.kind == "automatic":  # never sent on basic/manual
                await self._lifecycle_request("/_ah/warmup", "warmup")
            self._usable = self._was_up = True
        finally:
            self._up.set()

    async def _wait_listening(self) -> None:
        assert self.child is not None and self.child.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while loop.time() < deadline:
            if not self.child.running:
                code = await self.child.wait()
                raise ServiceStartError(self._exit_message(code))
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise ServiceStartError(
            f"{self.config.path}:{self.config.line_of.get('entrypoint', 1)}: service {self.name!r} did not listen on "
            f"$PORT ({self.port}) within {STARTUP_TIMEOUT:g} s\n  fix: make the entrypoint serve on $PORT")

    def _exit_message(self, code: int) -> str:
        line = self.config.line_of.get("entrypoint", 1)
        where = f"{self.config.path}:{line}"
        if code == 127:
            program = self.entrypoint.split()[0]
            return (f"{where}: the entrypoint program {program!r} of service {self.name!r} was not found\n"
                    "  fix: add it to the service's requirements.txt (and `make install`), or correct `entrypoint`")
        return (f"{where}: service {self.name!r} exited with status {code} before listening on $PORT "
                "(its output is above)\n  fix: correct the error the output shows, then start the runner again")

    async def _lifecycle_request(self, path: str, what: str, timeout: float | None = None) -> None:
        """GET `path` to the instance as the platform sends it, and log it as App Engine logs it."""
        timeout = timeout or self.config.scaling.request_timeout
        headers = upstream_headers(
            CIMultiDictProxy(CIMultiDict(Host=f"127.0.0.1:{self.port}")), client_ip="0.1.0.2", scheme="http",
            front_end_host=f"127.0.0.1:{self.port}", token=self.token, from_platform=True,
            timeout_ms=int(self.config.scaling.request_timeout * 1000) - 1,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with self.session.get(self.base_url + path, headers=headers, allow_redirects=False,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            output.emit(self.name, f"{what} request GET {path} failed: {exc!r}")
            return
        output.access_line(self.name, "GET", path, status, (loop.time() - started) * 1000, what)
        if what == "warmup" and not 200 <= status < 300:
            output.emit(self.name, f"warmup request failed with {status}; App Engine logs it and still sends traffic "
                                   "to the instance")
        elif what == "start" and not (200 <= status < 300 or status == 404):
            output.emit(self.name, f"/_ah/start answered {status}; App Engine would stop this instance and try a new "
                                   "one (locally it keeps serving)")

    async def stop(self) -> None:
        """/_ah/stop first on basic and manual scaling (the handler gets 30 s, §1.5), then SIGTERM."""
        self._stopping = True
        if self.child is None:
            return
        if self._usable and self._started and self.child.running and self.config.scaling.kind != "automatic":
            await self._lifecycle_request("/_ah/stop", "stop", timeout=STOP_TIMEOUT)
        await self.child.stop()
