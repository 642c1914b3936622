"""The local App Engine, start to stop: front end ports, emulators, one instance per service, cron.

Order: bind every front-end port first (a port in use stops the runner before anything started), then the
Datastore and Cloud Tasks emulators, then every service (each warmed up before it gets traffic), then
cron. "Serving on URL" is printed once our own front end answers. SIGINT/SIGTERM/SIGHUP (or a failed start)
stop everything started, in reverse order. While running, `<app-dir>/.local/runner.json` says where
everything is (contract 3) for `python -m deploy cron run` and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import signal
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from deploy.config.cron_yaml import CronJob
from deploy.config.problems import ConfigError
from deploy.config.project import Project
from deploy.cron_declarations import DeclarationError, project_cron_jobs
from deploy.local import output
from deploy.local.console import Console
from deploy.local.emulators import EmulatorError, start_datastore, start_tasks
from deploy.local.frontend import PROBE_HEADER, FrontEnd, Limits
from deploy.local.headers import TOKEN_HEADER
from deploy.local.processes import Child
from deploy.local.reload import watch
from deploy.local.services import ServiceInstance, ServiceStartError
from deploy.local.venvs import KIT_ROOT, VenvError, bin_dir_for

STATE_FILE = Path(".local") / "runner.json"
# Ctrl-C, `kill`, and the terminal closing (SIGHUP): each stops everything the runner started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StartError(Exception):
    """The runner cannot start; the message says why and what to do (printed without a traceback)."""


def bind(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on host:port; StartError naming the port when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once; never shares a live port
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {host} is already in use (another runner or server?)\n"
                             f"  fix: stop that process, or pick another port: --port N (or PORT=N)") from None
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _service_socket(port: int) -> socket.socket:
    """The next port up when free (stable URLs from run to run), else any free one."""
    try:
        return bind(port)
    except StartError:
        return bind(0)


@dataclass
class Runner:
    project: Project
    port: int
    limits: Limits = field(default_factory=Limits)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Two tokens: `token` marks platform traffic coming in (cron, Cloud Tasks; never shown to an app);
    # `app_token` goes out with every forwarded request for the in-app middleware. An app that echoes its
    # request headers can leak `app_token`, which the front end does not accept as `token`.
    app_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _children: list[Child] = field(default_factory=list)
    _instances: dict[str, ServiceInstance] = field(default_factory=dict)
    _front_end: FrontEnd | None = None
    _session: aiohttp.ClientSession | None = None
    _cron: Any = None
    reload: bool = True  # a new instance when a service's code changes
    _reloader: asyncio.Task[None] | None = None
    _console: Any = None

    @property
    def app_dir(self) -> Path:
        return self.project.app_dir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def run(self) -> int:
        """Serve until SIGINT/SIGTERM/SIGHUP (a second one kills at once); 0 then, 1 when something could not
        start (the reason printed)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_signal() -> None:
            if stop.is_set():  # a second Ctrl-C: do not wait for anything any more
                self._hurry()
            stop.set()

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, on_signal)
        starting = asyncio.create_task(self._start())
        stopped = asyncio.create_task(stop.wait())
        code = 0
        try:
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()
                await stopped
            else:
                output.runner("stopping while starting up")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, StartError):
                    await starting
        except StartError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            code = 1
        finally:
            stopped.cancel()
            await self._stop()
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
        return code

    def _hurry(self) -> None:
        """Kill every process now (a second stop signal): no /_ah/stop, no grace period."""
        output.runner("stopping now: killing every process it started")
        instances = [i.child for i in self._instances.values() if i.child is not None]
        for child in [*instances, *self._children]:
            child.kill()

    async def _start(self) -> None:
        sockets: list[tuple[socket.socket, str | None]] = [(bind(self.port), None)]
        service_urls: dict[str, str] = {}
        for i, svc in enumerate(self.project.services):
            sock = _service_socket(self.port + 1 + i)
            sockets.append((sock, svc.service))
            service_urls[svc.service] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        tls = await self._tls(self.port + 2 + len(self.project.services))
        for warning in self.project.warnings:
            output.emit("config", str(warning))
        self.env["LOCAL_PLATFORM_TOKEN"] = self.token
        self._session = aiohttp.ClientSession()
        self._instances = {
            svc.service: ServiceInstance(svc, app_dir=self.app_dir, base_env=self.env,
                                         shared_env={"LOCAL_PLATFORM_TOKEN": self.app_token},
                                         token=self.app_token, session=self._session)
            for svc in self.project.services
        }
        default = "default" if "default" in self._instances else self.project.services[0].service
        self._console = Console(self.project, self.env, self.token, self.url,
                                emit=lambda text: output.emit("cron", str(text)))
        output.listeners.append(self._console.log.line)
        self._front_end = FrontEnd(self._instances, self.project.dispatch, self.token, default, self.limits,
                                   on_request=self._console.log.record)
        self._front_end.app_token = self.app_token
        self._front_end.http_port = self.port
        self._front_end.https_port = tls[0].getsockname()[1] if tls is not None else None
        await self._front_end.start(sockets, tls)
        emulators = [
            asyncio.create_task(start_datastore(self.app_dir, self.env, KIT_ROOT)),
            asyncio.create_task(start_tasks(self.app_dir, self.env, KIT_ROOT, front_end_url=self.url,
                                            queue_yaml=self.project.queues.path)),
        ]
        for task in emulators:  # kept as each comes up, so a Ctrl-C while the other starts still stops it
            task.add_done_callback(self._keep_child)
        results = await asyncio.gather(*emulators, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise StartError(str(result)) if isinstance(result, EmulatorError) else result
        await self._start_services()
        for name, instance in self._instances.items():
            output.runner(f"service {name}: {service_urls[name]} (instance {instance.base_url})")
        await self._probe()
        await self._start_cron()
        if self.reload:
            self._reloader = asyncio.create_task(watch(self._instances.values()))
        self._console.set_scheduler(self._cron)
        console_url = await asyncio.to_thread(self._console.start, self.port + 1 + len(self.project.services))
        output.runner(f"console: {console_url}/")
        self._write_state(service_urls)
        https = f" and {self.https_url}/ (self-signed)" if self.https_url else ""
        output.runner(f"Serving on {self.url}/{https}  (Ctrl-C to stop)")

    @property
    def https_url(self) -> str | None:
        port = self._front_end.https_port if self._front_end is not None else None
        return f"https://127.0.0.1:{port}" if port else None

    async def _tls(self, port: int) -> tuple[socket.socket, ssl.SSLContext] | None:
        """The front end's HTTPS socket and certificate, so `secure: always` URLs can be followed locally."""
        try:
            from deploy.local.tls import server_context

            context = await asyncio.to_thread(server_context, self.app_dir / ".local" / "tls")
        except (ImportError, OSError, ValueError) as exc:
            output.runner(f"no HTTPS front end ({exc}); `secure: always` URLs redirect to a port nobody serves")
            return None
        return _service_socket(port), context

    def _keep_child(self, task: asyncio.Task[Child | None]) -> None:
        if not task.cancelled() and task.exception() is None and (child := task.result()) is not None:
            self._children.append(child)

    async def _start_services(self) -> None:
        starts = [asyncio.create_task(instance.start()) for instance in self._instances.values()]
        try:
            await asyncio.gather(*starts)
        except (ServiceStartError, VenvError) as exc:
            for task in starts:
                task.cancel()
            raise StartError(str(exc)) from None

    async def _probe(self) -> None:
        """Our own front end answers (not just any process on the port)."""
        assert self._session is not None
        headers = {TOKEN_HEADER: self.token, PROBE_HEADER: "1"}
        async with self._session.get(self.url + "/", headers=headers) as resp:
            if resp.status != 204:
                raise StartError(f"something else answered on {self.url} (status {resp.status})")

    async def _start_cron(self) -> None:
        jobs = await self._cron_jobs()
        if not jobs:
            return
        try:
            from deploy.local.cron import CronScheduler
        except ImportError:
            output.emit("cron", "the cron scheduler is not available; cron.yaml's jobs will not run")
            return
        self._cron = CronScheduler(jobs, self.url, self.token, log=lambda text: output.emit("cron", str(text)),
                                   dispatch=self.project.dispatch)
        self._cron.start()

    async def _cron_jobs(self) -> list[CronJob]:
        """cron.yaml's jobs plus each service's `@app.cron` declarations (read by importing the app with the
        service's own interpreter); a declaration that cannot be read is reported and cron.yaml still runs."""
        python_for: dict[str, str] = {}
        for svc in self.project.services:
            bin_dir = await bin_dir_for(svc.service, svc.root, self.app_dir, has_entrypoint=svc.entrypoint is not None)
            python_for[svc.service] = str(bin_dir / "python")
        try:
            return await asyncio.to_thread(project_cron_jobs, self.project, python_for)
        except (DeclarationError, ConfigError) as exc:
            output.emit("cron", f"@app.cron declarations not scheduled: {exc}")
            return list(self.project.cron.jobs)

    def _write_state(self, service_urls: dict[str, str]) -> None:
        state = {
            "pid": os.getpid(),
            "front_end_url": self.url,
            "https_url": self.https_url,
            "token": self.token,
            "services": service_urls,
            "instances": {name: inst.base_url for name, inst in self._instances.items()},
            "datastore": self.env.get("DATASTORE_EMULATOR_HOST"),
            "tasks": self.env.get("CLOUD_TASKS_EMULATOR_HOST"),
            "console": self._console.url if self._console is not None else None,
        }
        path = self.app_dir / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the platform token
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(tmp, path)

    def _remove_state(self) -> None:
        path = self.app_dir / STATE_FILE
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()

    async def _stop(self) -> None:
        """Stop everything started, whatever state it is in."""
        self._remove_state()
        if self._reloader is not None:
            self._reloader.cancel()
        if self._cron is not None:
            await asyncio.to_thread(self._cron.stop)
        if self._console is not None:
            await asyncio.to_thread(self._console.stop)
            output.listeners.remove(self._console.log.line)
        if self._front_end is not None:
            await self._front_end.close()
        stops = [instance.stop() for instance in self._instances.values()]
        await asyncio.gather(*stops, return_exceptions=True)
        await asyncio.gather(*(child.stop() for child in reversed(self._children)), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            output.runner("stopped")  # (nothing had started when a port was taken: only the error is said)
