"""The local console: a web page beside the local runner for the Datastore, cron, task queues and requests.

The runner builds a `Console` before its front end starts (so the request log sees every request and
line), gives it the cron scheduler once cron runs, and `start()`s it on its own loopback port. It runs in
threads of the runner's process: a werkzeug WSGI server serving the framework App of app.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from deploy.config.project import Project
from deploy.local.console.crons import Crons
from deploy.local.console.requestlog import RequestLog

__all__ = ["Console", "RequestLog"]


class Console:
    """The console of one runner: its request log now, its server once `start()`ed."""

    def __init__(self, project: Project, env: MutableMapping[str, str], token: str, front_end_url: str,
                 emit: Callable[[str], object] = print) -> None:
        """`env` is the runner's environment, read when a page needs the emulators (they start later)."""
        self.project = project
        self.log = RequestLog()
        self.crons = Crons(project, self.log, front_end_url, token, emit)
        self._env = env
        self._front_end_url = front_end_url
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def set_scheduler(self, scheduler: Any) -> None:
        """The runner's CronScheduler (None when cron.yaml has no jobs)."""
        self.crons.scheduler = scheduler

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1:`port` (taken: any free port); the URL."""
        from werkzeug.serving import WSGIRequestHandler, make_server

        from deploy.local.console.app import Parts, create_app
        from deploy.local.console.queues import Queues
        from deploy.local.console.safety import Safety
        from deploy.local.console.store import Store

        parts = Parts(app_dir=self.project.app_dir, store=Store(self._env), queues=Queues(self._env),
                      crons=self.crons, log=self.log, safety=Safety(), front_end_url=self._front_end_url)
        app = create_app(parts)

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # the console's own requests are not the app's: not in the runner's output

        if port and not port_is_free(port):
            port = 0  # any free port: the one printed and in runner.json is what counts
        self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.crons.wait(5)


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
