"""Which app.yaml handler serves a path, and the answers the front end gives without the app (§5.2).

Handlers are tried top to bottom, first whole-path match wins. A path no handler matches goes to the app:
App Engine appends an implicit `script: auto` catch-all for the python3 runtimes (what happens with no
catch-all is unconfirmed, §5.2; sending to the app is what an entrypoint-only app.yaml does). Static files
resolve inside the service folder only (werkzeug's safe_join), must match the handler's `upload` pattern
(only those would be uploaded), and a missing one is a 404 that never reaches the app.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from werkzeug.security import safe_join

from deploy.config.app_yaml import Handler

# Where `login: required|admin` with auth_fail_action redirect sends the browser; answered by the front end.
LOGIN_PATH = "/_ah/login"


@dataclass(frozen=True)
class Route:
    """The outcome of matching one path: a handler (None = the implicit catch-all) and its static file."""

    handler: Handler | None
    file: Path | None = None  # for static handlers: the resolved file, or None when not servable

    @property
    def is_static(self) -> bool:
        return self.handler is not None and self.handler.kind != "script"

    @property
    def label(self) -> str:
        """How the access line names it: `app` or `static:<url>`."""
        return f"static:{self.handler.url}" if self.is_static and self.handler else "app"


def _static_file(handler: Handler, match: re.Match[str], root: Path) -> Path | None:
    relative = handler.file_for(match)
    if relative is None:
        return None
    parts = relative.replace("\\", "/").split("/")
    if any(part in ("..", ".") for part in parts) or "\0" in relative:
        return None  # no dot segments: `public/../main.py` stays inside the app folder but is not a static file
    if handler.upload is not None and not handler.upload.fullmatch(relative):
        return None  # not selected by `upload`: App Engine would not have this file
    joined = safe_join(str(root), relative)
    return Path(joined) if joined is not None else None


def find_route(handlers: tuple[Handler, ...], path: str, root: Path) -> Route:
    """The handler for `path` (first whole-path match), with its file resolved for static handlers."""
    for handler in handlers:
        match = handler.match(path)
        if match is None:
            continue
        if handler.kind == "script":
            return Route(handler)
        file = _static_file(handler, match, root)
        if handler.require_matching_file and (file is None or not file.is_file()):
            continue  # only matches when the file exists: try the next handler
        return Route(handler, file)
    return Route(None)


def secure_redirect(handler: Handler | None, scheme: str, host: str, raw_path: str) -> web.Response | None:
    """`secure: always` sends HTTP to HTTPS keeping the query; `never` sends HTTPS to HTTP dropping it (§5.2)."""
    if handler is None or handler.secure == "optional":
        return None
    if handler.secure == "always" and scheme == "http":
        location = f"https://{host}{raw_path}"
    elif handler.secure == "never" and scheme == "https":
        location = f"http://{host}{raw_path.split('?', 1)[0]}"
    else:
        return None
    return web.Response(status=handler.redirect_http_response_code, headers={"Location": location},
                        text=f"Moved to {location}\n")


def login_refusal(handler: Handler | None, raw_path: str) -> web.Response | None:
    """`login: required|admin`: there is no Google sign-in locally, so these URLs are refused (safe choice).

    Enforcement on the python3 runtimes without bundled services is unconfirmed (§5.2); locally nobody
    can sign in, so a protected URL never reaches the app: 401 with auth_fail_action `unauthorized` and
    for `admin`, else a redirect to a local page that says why.
    """
    if handler is None or handler.login == "optional":
        return None
    if handler.login == "admin" or handler.auth_fail_action == "unauthorized":
        return web.Response(status=401, text=_LOGIN_TEXT.format(kind=handler.login, url=handler.url))
    return web.Response(status=302, headers={"Location": f"{LOGIN_PATH}?continue={quote(raw_path, safe='')}"})


_LOGIN_TEXT = (
    "401 Unauthorized: this URL has `login: {kind}` in app.yaml (handler {url}).\n"
    "The local App Engine has no Google sign-in, so it never lets such requests reach the app.\n"
    "To work on the view locally, use `login: optional` (the default) and check users in the app.\n"
)


def login_page() -> web.Response:
    """The local stand-in for Google's sign-in page."""
    return web.Response(status=401, text=_LOGIN_TEXT.format(kind="required", url="(redirected here)"))


def static_response(route: Route, default_expiration: int) -> web.StreamResponse:
    """The static file with App Engine's caching headers; aiohttp's FileResponse does ETag,
    If-None-Match / If-Modified-Since (304) and Range."""
    handler = route.handler
    assert handler is not None
    if route.file is None or not route.file.is_file():
        return web.Response(status=404, text="404 Not Found: no such static file\n")
    expiration = handler.expiration if handler.expiration is not None else default_expiration
    response = web.FileResponse(route.file)
    if handler.mime_type:
        response.headers["Content-Type"] = handler.mime_type
    response.headers["Cache-Control"] = f"public, max-age={expiration}"
    response.headers["Expires"] = formatdate(time.time() + expiration, usegmt=True)
    for name, value in handler.http_headers:
        response.headers.add(name, value)
    return response
