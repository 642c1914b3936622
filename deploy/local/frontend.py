"""The local stand-in for App Engine's front end: an asyncio HTTP proxy before every service.

Built on aiohttp (requirements-dev.txt: it runs on this machine only). Weighed against h11 or werkzeug
plus a streaming client, aiohttp gives in one well-kept library what the front end needs: an asyncio
server whose parser enforces header-field and request-line limits (→ 400), an idle timer that also closes
connections that never finish their headers (half-open clients), keep-alive both ways, a streaming
client with a connection pool, FileResponse with ETag / conditional requests / Range, and gzip on the
fly. Because it is asyncio, a slow client costs a coroutine, never an app thread: request bodies are read
in full before the app sees them (as Google's front end does) and responses are read from the app as
fast as it writes them, then passed on at the client's pace.

Per request: which service (addressing), which handler (handlers), secure/login answers, static files,
or the app with App Engine's headers (headers), within §1.6's limits and the scaling type's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import yarl
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from deploy.config.app_yaml import AppYaml
from deploy.config.dispatch_yaml import Dispatch
from deploy.local import output
from deploy.local.addressing import choose_service, host_only
from deploy.local.handlers import (
    LOGIN_PATH,
    find_route,
    login_page,
    login_refusal,
    secure_redirect,
    static_response,
)
from deploy.local.headers import (
    MAX_RESPONSE_HEADERS,
    TOKEN_HEADER,
    downstream_headers,
    response_headers_size,
    upstream_headers,
)

MAX_REQUEST_BODY = 32 * 1024 * 1024  # §1.6
MAX_RESPONSE_BODY = 32 * 1024 * 1024  # §1.6: larger → 500 with an empty body
MAX_HEADER_FIELD = 8 * 1024  # §1.6: larger → 400 (aiohttp's parser answers it)
MAX_REQUEST_LINE = 16 * 1024
WHOLE_BODY_LIMIT = 256 * 1024  # answers up to this declared size are relayed in one piece
# The runner asks its own front end whether it answers, without reaching any app.
PROBE_HEADER = "X-Local-Runner-Probe"
_TEXT_TYPES = re.compile(
    r"(text/[\w.+-]+|application/(json|javascript|ecmascript|x-javascript|xml|xhtml\+xml|rss\+xml|"
    r"atom\+xml|[\w.-]+\+json|[\w.-]+\+xml)|image/svg\+xml)\s*(;.*)?",
    re.I,
)


class _ProtocolLog(logging.Handler):
    """aiohttp's reports of malformed requests as one runner line each: a bad client is no traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            why = (exc.message or "").strip().splitlines()
            output.runner(f"refused a malformed request ({exc.code} {type(exc).__name__}): {why[0] if why else '-'}")
        else:
            output.runner(record.getMessage() + (f": {exc!r}" if exc is not None else ""))


_protocol_log = logging.getLogger("deploy.local.frontend.protocol")
_protocol_log.propagate = False
_protocol_log.setLevel(logging.INFO)  # aiohttp logs non-HTTP traffic (a TLS hello) at debug: not shown
if not _protocol_log.handlers:
    _protocol_log.addHandler(_ProtocolLog())


class Backend(Protocol):
    """A service as the front end needs it: its config, and its instance's URL once it may get traffic."""

    name: str
    config: AppYaml

    async def ready(self) -> str | None:
        """The instance's base URL once started (and warmed up); None when it is not running."""


@dataclass
class Limits:
    """Timeouts; tests shorten them. None request_timeout = the scaling type's (§1.5)."""

    request_timeout: float | None = None
    body_timeout: float = 60.0  # a client that stops sending its body
    idle_timeout: float = 75.0  # keep-alive idle, and connections that never complete their headers


@dataclass
class FrontEnd:
    backends: Mapping[str, Backend]
    dispatch: Dispatch
    token: str
    default_service: str = "default"
    limits: Limits = field(default_factory=Limits)
    # Told of every answered request (the local console's request log): keyword arguments method, path,
    # status, millis, service, handler, trace_id, headers, from_platform.
    on_request: Callable[..., None] | None = None
    # The dispatching front end's own ports: `secure` redirects go from one to the other (locally the two
    # schemes cannot share a port, as they share 80/443 on App Engine).
    http_port: int | None = None
    https_port: int | None = None
    # The token sent on to the services (the in-app middleware's); `token` is what platform callers send.
    app_token: str | None = None
    _session: aiohttp.ClientSession | None = None
    _servers: list[asyncio.AbstractServer] = field(default_factory=list)
    _web_servers: list[web.Server] = field(default_factory=list)

    async def start(self, sockets: list[tuple[socket.socket, str | None]],
                    tls: tuple[socket.socket, ssl.SSLContext] | None = None) -> None:
        """Serve on already-bound sockets; each is the dispatching front end (None) or one service's port;
        `tls`: the dispatching front end over HTTPS too."""
        # Keep-alive to the app below gunicorn's own 5 s, so a pooled connection is never one it just closed.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding"),
            max_field_size=64 * 1024, max_line_size=64 * 1024, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        loop = asyncio.get_running_loop()
        listeners: list[tuple[socket.socket, str | None, ssl.SSLContext | None]] = [
            (sock, service, None) for sock, service in sockets]
        if tls is not None:
            listeners.append((tls[0], None, tls[1]))
        for sock, service, context in listeners:
            server = web.Server(
                self._handler_for(service), handler_cancellation=True, access_log=None,
                max_field_size=MAX_HEADER_FIELD, max_line_size=MAX_REQUEST_LINE,
                keepalive_timeout=self.limits.idle_timeout, logger=_protocol_log,
            )
            self._web_servers.append(server)
            self._servers.append(await loop.create_server(server, sock=sock, ssl=context))

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for web_server in self._web_servers:
            await web_server.shutdown(1.0)
        if self._session is not None:
            await self._session.close()

    def _handler_for(self, service: str | None) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            return await self.handle(request, service)

        return handle

    async def handle(self, request: web.BaseRequest, fixed_service: str | None) -> web.StreamResponse:
        """One request, start to end, with its access line."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        target = _origin_form(request.raw_path)
        if target is None:
            output.access_line("front end", request.method, request.raw_path[:200], 400, 0, "refused: not a path")
            return web.Response(status=400, text="400 Bad Request: the request target must be a path (/...).\n")
        request["target"] = target
        request["fixed_service"] = fixed_service
        token = request.headers.get(TOKEN_HEADER)
        from_platform = token is not None and hmac.compare_digest(token.encode(), self.token.encode())
        if token is not None and not from_platform:
            output.access_line("front end", request.method, target, 403, 0, "refused: wrong token")
            return web.Response(status=403, text=f"403 Forbidden: a wrong {TOKEN_HEADER} header.\n")
        if from_platform and PROBE_HEADER in request.headers:
            return web.Response(status=204)
        if fixed_service is not None:
            service = fixed_service
        else:
            service, _ = choose_service(request.host, request.path, self.backends.keys(), self.dispatch,
                                        self.default_service)
        backend = self.backends[service]
        try:
            response, label = await self._respond(request, backend, from_platform)
        except (asyncio.CancelledError, ConnectionError):
            millis = (loop.time() - started) * 1000
            output.access_line(service, request.method, target, 499, millis, "client went away")
            raise
        except Exception as exc:  # a bug here must still answer, and say what happened
            output.runner(f"front end error on {request.method} {target}: {exc!r}")
            response, label = web.Response(status=500, text="500: local front end error (see the runner output)\n"), "error"
        millis = (loop.time() - started) * 1000
        output.access_line(service, request.method, target, response.status, millis, label)
        if self.on_request is not None:
            self.on_request(method=request.method, path=target, status=response.status, millis=millis,
                            service=service, handler=label, trace_id=request.get("trace_id"),
                            headers=request.headers, from_platform=from_platform)
        return response

    async def _respond(self, request: web.BaseRequest, backend: Backend,
                       from_platform: bool) -> tuple[web.StreamResponse, str]:
        if request.path == LOGIN_PATH:
            return login_page(), "login"
        config = backend.config
        route = find_route(config.handlers, request.path, config.root)
        answer = secure_redirect(route.handler, request.scheme, self._other_scheme_host(request),
                                 request["target"])
        if answer is not None:
            return answer, "secure redirect"
        answer = login_refusal(route.handler, request["target"])
        if answer is not None:
            return answer, "login"
        if route.is_static:
            return static_response(route, config.default_expiration), route.label
        return await self._proxy(request, backend, from_platform), route.label

    def _other_scheme_host(self, request: web.BaseRequest) -> str:
        """The Host a `secure` redirect names: the client's, with the front end's port of the other scheme
        (a service's own port has no HTTPS twin: its `<service>.localhost` name on the front end's)."""
        port = self.https_port if request.scheme == "http" else self.http_port
        if port is None:
            return request.host
        name = host_only(request.host)
        if request.get("fixed_service") is not None:
            name = f"{request['fixed_service']}.localhost"
        return f"{name}:{port}"

    async def _read_body(self, request: web.BaseRequest) -> bytes | web.Response:
        if request.content_length is not None and request.content_length > MAX_REQUEST_BODY:
            return _too_large()
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunks: list[bytes] = []
        total = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                async for chunk in request.content.iter_any():
                    total += len(chunk)
                    if total > MAX_REQUEST_BODY:
                        return _too_large()
                    chunks.append(chunk)
        except TimeoutError:
            response = web.Response(status=408, text="408 Request Timeout: the request body stopped arriving.\n")
            response.force_close()
            return response
        return b"".join(chunks)

    async def _proxy(self, request: web.BaseRequest, backend: Backend, from_platform: bool) -> web.StreamResponse:
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            return body
        timeout = self.limits.request_timeout or backend.config.scaling.request_timeout
        try:
            async with asyncio.timeout(timeout):
                base = await backend.ready()
        except TimeoutError:
            return _error(504, "the service did not start within the request timeout")
        if base is None:
            return _error(503, f"service {backend.name!r} is not running (see its output above)")
        headers = upstream_headers(
            request.headers, client_ip=request.remote or "127.0.0.1", scheme=request.scheme,
            front_end_host=request.host, token=self.app_token or self.token, from_platform=from_platform,
            timeout_ms=int(timeout * 1000) - 1,
        )
        request["trace_id"] = headers["X-Cloud-Trace-Context"].split("/", 1)[0]
        url = yarl.URL(base + request["target"], encoded=True)
        assert self._session is not None
        try:
            async with asyncio.timeout(timeout) as deadline:
                upstream = await self._session.request(
                    request.method, url, headers=headers, data=body or None, allow_redirects=False,
                )
                # Read the app's answer as fast as it writes it: a slow client never holds an app thread.
                return await self._relay(request, upstream, deadline)
        except TimeoutError:
            return _error(504, f"the app did not answer within {timeout:g} s (the scaling type's request timeout)")
        except aiohttp.ClientError as exc:
            return _error(502, f"the app's answer was not valid HTTP or the connection broke ({exc.__class__.__name__})")

    async def _relay(self, request: web.BaseRequest, upstream: aiohttp.ClientResponse,
                     deadline: asyncio.Timeout) -> web.StreamResponse:
        try:
            if response_headers_size(upstream.raw_headers) > MAX_RESPONSE_HEADERS:
                return _error(502, "the app's response headers are over 8 KB (App Engine: upstream sent too big header)")
            length = upstream.content_length
            if length is not None and length > MAX_RESPONSE_BODY:
                return web.Response(status=500)  # App Engine: an empty body and 500 (§1.6)
            headers = downstream_headers(upstream.raw_headers)
            if length is not None and length <= WHOLE_BODY_LIMIT and request.method != "HEAD":
                # Small declared bodies: read whole, answer in one write (no per-chunk sends).
                whole = web.Response(status=upstream.status, reason=upstream.reason, headers=headers,
                                     body=await upstream.read())
                if _should_gzip(request, whole, length):
                    whole.enable_compression(web.ContentCoding.gzip)
                    whole.headers.add("Vary", "Accept-Encoding")
                return whole
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
            if _should_gzip(request, response, length):
                response.enable_compression(web.ContentCoding.gzip)
                response.headers.add("Vary", "Accept-Encoding")
            elif length is not None:
                response.content_length = length
            chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
            reader = asyncio.create_task(_drain(upstream, chunks, deadline.when()))
            try:
                await response.prepare(request)
                deadline.reschedule(None)  # the app answered; the client's pace is not its deadline
                while (chunk := await chunks.get()) is not None:
                    await response.write(chunk)
                outcome = reader.result()
                if outcome != "complete":
                    output.runner(f"{request.method} {request['target']}: {outcome}; the connection was cut")
                    response.force_close()
                    if request.transport is not None:
                        request.transport.close()
                    return response
                await response.write_eof()
            finally:
                if not reader.done():
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
            return response
        finally:
            upstream.release()


async def _drain(upstream: aiohttp.ClientResponse, chunks: asyncio.Queue[bytes | None], until: float | None) -> str:
    """Copy the app's body into `chunks` (None at the end) by the request's deadline; say how it ended."""
    total = 0
    try:
        async with asyncio.timeout_at(until):
            async for chunk in upstream.content.iter_any():
                total += len(chunk)
                if total > MAX_RESPONSE_BODY:
                    return "the response body passed 32 MB (App Engine answers 500 with an empty body)"
                chunks.put_nowait(chunk)
        return "complete"
    except TimeoutError:
        return "the app was still writing at the request timeout"
    except aiohttp.ClientError as exc:
        return f"the app's connection broke mid-body ({exc.__class__.__name__})"
    finally:
        chunks.put_nowait(None)


def _origin_form(raw_target: str) -> str | None:
    """The request target as path and query: an absolute-form target (`GET http://host/x`, as sent to a
    proxy) keeps only its path and query; None for `*` and anything else that names no path."""
    if raw_target.startswith("/"):
        return raw_target
    if raw_target.lower().startswith(("http://", "https://")):
        try:
            return yarl.URL(raw_target, encoded=True).raw_path_qs or "/"
        except ValueError:
            return None
    return None


def _accepts_gzip(request: web.BaseRequest) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00"):
            return True
    return False


def _should_gzip(request: web.BaseRequest, response: web.StreamResponse, length: int | None) -> bool:
    """App Engine gzips text-like dynamic responses when the client accepts gzip (§1.6)."""
    return (
        request.method != "HEAD"
        and response.status not in (204, 304)
        and length != 0
        and "Content-Encoding" not in response.headers
        and bool(_TEXT_TYPES.fullmatch(response.headers.get("Content-Type", "")))
        and _accepts_gzip(request)
    )


def _too_large() -> web.Response:
    response = web.Response(status=413, text="413 Request Entity Too Large: App Engine accepts bodies up to 32 MB.\n")
    response.force_close()
    return response


def _error(status: int, why: str) -> web.Response:
    """An error the front end itself answers; the reason is printed too, so it is seen in the runner's output."""
    output.runner(f"{status}: {why}")
    reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")
    return web.Response(status=status, text=f"{status} {reason}: {why}.\n")
