"""Request and Response: werkzeug's wrappers plus routing info and limits taken from the app config."""

from __future__ import annotations

import re
import sys
import typing as t
from http import HTTPStatus

from werkzeug._internal import _wsgi_decoding_dance
from werkzeug.datastructures import EnvironHeaders, Headers, ImmutableMultiDict, MultiDict
from werkzeug.datastructures.headers import _str_header_value
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property, get_content_type
from werkzeug.wrappers import Request as _WRequest
from werkzeug.wrappers import Response as _WResponse
from werkzeug.wsgi import ClosingIterator, LimitedStream

from . import json
from .globals import _cv_app
from .input_checks import check_query_string
from .lazy import first_read, lazy_pattern

if t.TYPE_CHECKING:  # pragma: no cover
    from werkzeug.routing import Rule


def _app_config(key: str) -> t.Any:
    ctx = _cv_app.get(None)
    return None if ctx is None else ctx.app.config[key]


def _config_limit(name: str, key: str, doc: str) -> t.Any:
    """A Request property: the value set on this request, else the app's `key` inside an app context,
    else werkzeug's class default."""
    private = f"_{name}"
    fallback = getattr(_WRequest, name)

    def get(self: Request) -> int | None:
        value = self.__dict__.get(private)
        if value is not None:
            return value
        ctx = _cv_app.get(None)
        return fallback if ctx is None else ctx.app.config[key]

    def set_(self: Request, value: int | None) -> None:
        self.__dict__[private] = value

    return property(get, set_, doc=doc)


def _server(environ: dict[str, t.Any]) -> tuple[str, int | None] | None:
    name = environ.get("SERVER_NAME")  # werkzeug's _get_server
    if name is None:
        return None
    try:
        port: int | None = int(environ.get("SERVER_PORT"))  # type: ignore[arg-type]  # None: TypeError
    except (TypeError, ValueError):
        port = None
    return (name, port)


def _root_path(environ: dict[str, t.Any]) -> str:
    # werkzeug's WSGI decoding leaves ASCII text unchanged, so it is skipped for ASCII.
    root = environ.get("SCRIPT_NAME") or ""
    return (root if root.isascii() else _wsgi_decoding_dance(root)).rstrip("/")


def _path(environ: dict[str, t.Any]) -> str:
    path = environ.get("PATH_INFO") or ""
    return "/" + (path if path.isascii() else _wsgi_decoding_dance(path)).lstrip("/")


class Request(_WRequest):
    """The incoming request: werkzeug's, plus the matched rule, view args and config-driven limits."""

    json_module: t.Any = json
    url_rule: Rule | None = None
    view_args: dict[str, t.Any] | None = None
    routing_exception: HTTPException | None = None
    # True once the body was parsed (form, files): only then may `close` have files to close. A flag rather than
    # looking for "files" in `__dict__`, which would make Python build this object's attribute dict.
    form_loaded: bool = False

    # werkzeug's constructor attributes, with its values, each computed when first read (most requests read
    # few of them; building them all was most of werkzeug's constructor time).
    scheme: first_read[str] = first_read(lambda self: self.environ.get("wsgi.url_scheme", "http"))
    server: first_read[tuple[str, int | None] | None] = first_read(lambda self: _server(self.environ))
    root_path: first_read[str] = first_read(lambda self: _root_path(self.environ))
    path: first_read[str] = first_read(lambda self: _path(self.environ))
    query_string: first_read[bytes] = first_read(lambda self: self.environ.get("QUERY_STRING", "").encode("latin1"))
    headers: first_read[EnvironHeaders] = first_read(lambda self: EnvironHeaders(self.environ))
    remote_addr: first_read[str | None] = first_read(lambda self: self.environ.get("REMOTE_ADDR"))

    def __init__(self, environ: dict[str, t.Any], populate_request: bool = True, shallow: bool = False) -> None:
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.environ = environ
        self.shallow = shallow
        self.form_loaded = False
        if populate_request and not shallow:
            environ["werkzeug.request"] = self

    max_content_length = _config_limit(
        "max_content_length", "MAX_CONTENT_LENGTH", "Body size limit (413 beyond it): set per request, else `MAX_CONTENT_LENGTH`."
    )
    max_form_memory_size = _config_limit(
        "max_form_memory_size", "MAX_FORM_MEMORY_SIZE",
        "Size limit of a non-file multipart field: per request, else `MAX_FORM_MEMORY_SIZE`.",
    )
    max_form_parts = _config_limit(
        "max_form_parts", "MAX_FORM_PARTS", "Maximum number of multipart parts: per request, else `MAX_FORM_PARTS`."
    )

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """Query arguments; a query that is not UTF-8 (raw, or escaped like `?x=%ff`) or has a bad `%`
        escape is a 400 (werkzeug alone would hand the view the literal text "%FF")."""
        check_query_string(self.environ.get("QUERY_STRING", ""))
        try:
            return _WRequest.args.fget(self)  # type: ignore[attr-defined]
        except UnicodeDecodeError:
            raise BadRequest(
                "The query string is not valid UTF-8; percent-encode non-ASCII characters."
            ) from None

    @cached_property
    def stream(self) -> t.IO[bytes]:
        """werkzeug's guarded input stream; a streamed (chunked) body is held to `max_content_length`
        exactly: longer is a 413 however it is read, never silently cut at the limit. A body the server
        cannot read (a malformed chunked encoding, a body cut short) is a 400, logged in one line."""
        stream = _WRequest.stream.fget(self)  # type: ignore[attr-defined]
        if stream is self.environ.get("wsgi.input"):  # a terminated (chunked) body with no size limit
            return _GuardedStream(_server_input(stream), sys.maxsize, is_max=True)  # type: ignore[return-value]
        if type(stream) is LimitedStream:
            server_input = _server_input(stream._stream)
            if stream._limit_is_max:
                return _CappedStream(server_input, stream.limit, is_max=True)  # type: ignore[return-value]
            return _GuardedStream(server_input, stream.limit)  # type: ignore[return-value]
        return stream

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, parsed from the environ's HTTP_COOKIE as werkzeug parses them."""
        if type(self.headers) is not EnvironHeaders:
            return _WRequest.cookies.fget(self)  # type: ignore[attr-defined]
        # EnvironHeaders.getlist("Cookie") builds every header's name to find this one key (PEP 3333
        # names are upper case, and werkzeug.http.parse_cookie reads only it too).
        cookie = self.environ.get("HTTP_COOKIE")
        return parse_cookie("" if cookie is None else cookie, cls=self.dict_storage_class)  # type: ignore[return-value]

    def get_data(  # type: ignore[override]  # werkzeug's overloads, one implementation
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """werkzeug's get_data; a body of known size (Content-Length, within the limits) is read from
        `wsgi.input` directly, through the same guarded stream's checks, instead of werkzeug's stream
        machinery. Anything else (chunked, streamed, too large, form parsing first) takes werkzeug's path."""
        if not parse_form_data and "stream" not in self.__dict__ and getattr(self, "_cached_data", None) is None:
            body = self._read_declared_body()
            if body is not None:
                if cache:
                    self._cached_data = body
                return body.decode(errors="replace") if as_text else body
        return super().get_data(cache, as_text, parse_form_data)  # type: ignore[call-overload]

    def _read_declared_body(self) -> bytes | None:
        """The whole body when its Content-Length is plain, at most one werkzeug read (64 KiB) and within
        `max_content_length`; None to use werkzeug's path (which raises the 413 for a body over the limit).

        The stream is set up as `stream` would have it (so a later read, form parsing and the keep-alive
        check see a body read to its end), and the first read asks `wsgi.input` for what werkzeug's first
        read would ask: a short or failed read goes on through that stream, with its errors."""
        environ = self.environ
        length = environ.get("CONTENT_LENGTH")
        if (
            length is None or not length.isdigit() or not length.isascii() or self.shallow
            or "wsgi.input_terminated" in environ or "HTTP_TRANSFER_ENCODING" in environ
            or type(self).stream is not Request.stream
        ):
            return None
        size = int(length)
        limit = self.max_content_length
        if size > _DIRECT_READ_MAX or (limit is not None and size > limit):
            return None
        server_input = _server_input(environ["wsgi.input"])
        stream = _GuardedStream(server_input, size)
        self.__dict__["stream"] = stream
        if size == 0:
            return b""
        try:
            data = server_input.read(size)
        except (OSError, ValueError) as e:  # what LimitedStream's read catches
            stream.on_disconnect(error=e)
            raise  # pragma: no cover - on_disconnect raises for an error
        if type(data) is not bytes:
            data = bytes(data)  # werkzeug's readall gives bytes whatever the server's read returns
        stream._pos = len(data)
        if not data:
            stream.on_disconnect()
        if not stream.is_exhausted:
            data += stream.readall()
        return data

    @property
    def is_json(self) -> bool:
        """werkzeug's test of the mimetype, answered without parsing for a plain `application/json`."""
        if type(self.headers) is EnvironHeaders and self.environ.get("CONTENT_TYPE") == "application/json":
            return True
        return super().is_json

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> t.Any | None:
        """werkzeug's get_json, with JSON nested too deeply to parse treated as malformed (400)."""
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            return self.on_json_loading_failed(ValueError("The JSON body is nested too deeply."))

    @property
    def endpoint(self) -> str | None:
        """Endpoint of the matched rule, or None."""
        if self.url_rule is not None:
            return self.url_rule.endpoint
        return None

    @property
    def blueprint(self) -> str | None:
        """Dotted name of the blueprint of the matched endpoint, or None."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first (`["a.b", "a"]`); `[]` outside one."""
        rule = self.url_rule
        cached = self.__dict__.get("_blueprints")
        if cached is not None and cached[0] is rule and rule is not None and cached[1] == rule.endpoint:
            return list(cached[2])  # computed once per matched rule (hooks, handlers and teardown ask)
        name = self.blueprint
        names = [] if name is None else _split_blueprint_path(name)
        if rule is not None:
            self.__dict__["_blueprints"] = (rule, rule.endpoint, tuple(names))
        return names

    def _hook_scopes(self) -> tuple[tuple[str | None, ...], tuple[str | None, ...]]:
        """The hook registries' keys to visit for this request: `(*blueprints, None)` (innermost first:
        after_request, teardown) and `(None, *reversed(blueprints))` (app first: before_request,
        context processors), computed once per endpoint unless a subclass changes how they are found."""
        cls = type(self)
        plain = _plain_scope_classes.get(cls)
        if plain is None:
            plain = _plain_scope_classes[cls] = all(getattr(cls, n) is getattr(Request, n) for n in _SCOPE_NAMES)
        if plain:
            rule = self.url_rule
            endpoint = rule.endpoint if rule is not None else None
            found = _scopes_cache.get(endpoint) or _scopes_of(endpoint)
            return found[1], found[2]
        names = self.blueprints
        return (*names, None), (None, *reversed(names))

    @property
    def appengine(self) -> t.Any:
        """App Engine request information (headers the platform set), computed once per request."""
        info = self.__dict__.get("_appengine_info")
        if info is None:
            from .adapters.appengine import request_info  # cold start: adapter loads on first use

            info = self.__dict__["_appengine_info"] = request_info(self)
        return info

    def _load_form_data(self) -> None:
        self.form_loaded = True
        super()._load_form_data()
        # Debug aid: `request.files["x"]` on a form posted without multipart encoding explains why.
        if (
            _app_config("DEBUG")
            and self.mimetype != "multipart/form-data"
            and not self.files
        ):
            files = self.files
            base = files.__class__
            cls = _debug_classes.get(base)
            if cls is None:
                cls = _debug_classes[base] = type(f"Debug{base.__name__}", (_DebugFiles, base), {})
            files.__class__ = cls
            files._debug_request = self  # type: ignore[attr-defined]

    def on_json_loading_failed(self, e: ValueError | None) -> t.Any:
        """Malformed JSON → 400 (details only in debug); wrong content type → 415."""
        try:
            return super().on_json_loading_failed(e)
        except BadRequest as ebr:
            if _app_config("DEBUG"):
                raise
            raise BadRequest() from ebr


#: The largest body `Request.get_data` reads from `wsgi.input` directly: werkzeug's read size, so the
#: server is asked for exactly what werkzeug would ask.
_DIRECT_READ_MAX = 64 * 1024


#: A Cookie header in the form browsers send: `name=value` pairs joined by "; ", with no quotes, spaces or
#: tabs in them (werkzeug's parse_cookie splits it into exactly these pairs, values unchanged).
_PLAIN_COOKIE_HEADER = lazy_pattern(r'[^ \t=";]+=[^ \t";]*(?:; [^ \t=";]+=[^ \t";]*)*', re.ASCII)


def request_cookie(request: _WRequest, name: str) -> str | None:
    """`request.cookies.get(name)`, without parsing every cookie into a MultiDict when the header has
    the plain form browsers send and `request.cookies` is not parsed yet (the first of a repeated name
    wins, as with MultiDict.get)."""
    if (
        "cookies" not in request.__dict__ and type(request).cookies is Request.cookies
        and type(request.headers) is EnvironHeaders
    ):
        header = request.environ.get("HTTP_COOKIE")
        if header is None:
            return None
        if _PLAIN_COOKIE_HEADER.fullmatch(header):
            for pair in header.split("; "):
                key, _, value = pair.partition("=")
                if key == name:
                    return value
            return None
    return request.cookies.get(name)


class _UnreadableBody(OSError):
    """The WSGI server failed to read the request body (its own exception is the cause)."""


class _ServerInput:
    """The server's `wsgi.input`, whose read errors become `_UnreadableBody`: servers raise their own
    types for a malformed body (gunicorn's InvalidChunkSize is not an OSError), which werkzeug's
    LimitedStream would let through as a 500."""

    __slots__ = ("_raw",)

    def __init__(self, raw: t.Any) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except (OSError, HTTPException):  # werkzeug handles these (an inner stream may be werkzeug's own)
            raise
        except Exception as e:
            raise _UnreadableBody(str(e) or type(e).__name__) from e


def _server_input(raw: t.Any) -> t.IO[bytes]:
    return _ServerInput(raw)  # type: ignore[return-value]  # the methods LimitedStream uses


class _GuardedStream(LimitedStream):
    """werkzeug's LimitedStream; a body that cannot be read is a 400 naming why, and one log line."""

    ended = False  # a streamed body reached its end (read to the last byte)

    def on_disconnect(self, error: Exception | None = None) -> None:
        if error is None and self._limit_is_max:
            self.ended = True  # a streamed body simply ended
            return
        reason = f"{error}" if error is not None else "the body ended before its Content-Length"
        ctx = _cv_app.get(None)
        if ctx is not None:
            ctx.app.logger.warning("Request body could not be read (%s): answered 400.", reason)
        raise ClientDisconnected(f"The request body could not be read: {reason}.")


class _CappedStream(_GuardedStream):
    """A body stream bounded by `max_content_length`. Once `limit` bytes are read it looks for one more:
    a longer body is a 413, one of exactly `limit` bytes ends normally. (werkzeug's returns the first
    `limit` bytes as if complete when read whole, and fails a body of exactly `limit` read in pieces.)"""

    def on_exhausted(self) -> None:
        try:
            more = self._stream.read(1)
        except OSError as e:
            self.on_disconnect(e)
            return
        if more:
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class DebugFilesKeyError(KeyError, AssertionError):
    """Raised in debug mode for `request.files[key]` when the form was not sent as multipart."""

    def __init__(self, request: Request, key: str) -> None:
        names = ", ".join(repr(name) for name in request.form.getlist(key))
        self.msg = (
            f"You tried to read the file {key!r} from request.files, but the request was sent as"
            f" {request.mimetype!r}, so browsers send only the file name ({names}) as a form field."
            ' Add enctype="multipart/form-data" to the <form> to upload the file.'
        )

    def __str__(self) -> str:
        return self.msg


class _DebugFiles:
    """Mixin for `request.files` in debug mode: explains a missing multipart enctype."""

    _debug_request: Request

    def __getitem__(self, key: str) -> t.Any:
        try:
            return super().__getitem__(key)  # type: ignore[misc]
        except KeyError as e:
            if key not in self._debug_request.form:
                raise
            raise DebugFilesKeyError(self._debug_request, key).with_traceback(e.__traceback__) from None


_debug_classes: dict[type, type] = {}
_bp_path_cache: dict[str, list[str]] = {}


_ScopeNames = tuple[tuple[str, ...], tuple[str | None, ...], tuple[str | None, ...]]
_scopes_cache: dict[str | None, _ScopeNames] = {}
#: What decides a request's blueprints: a request class replacing one computes its own hook scopes.
_SCOPE_NAMES = ("blueprints", "blueprint", "endpoint")
_plain_scope_classes: dict[type, bool] = {}


def _scopes_of(endpoint: str | None) -> _ScopeNames:
    """For an endpoint: its blueprint names innermost first, those then None, and None then outermost first."""
    found = _scopes_cache.get(endpoint)
    if found is None:
        names = tuple(_split_blueprint_path(endpoint.rpartition(".")[0])) if endpoint and "." in endpoint else ()
        found = (names, (*names, None), (None, *reversed(names)))
        if len(_scopes_cache) < 4096:
            _scopes_cache[endpoint] = found
    return found


def _split_blueprint_path(name: str) -> list[str]:
    """`"a.b.c"` → `["a.b.c", "a.b", "a"]` (computed once per name; each call gets its own copy)."""
    rv = _bp_path_cache.get(name)
    if rv is None:
        parts = name.split(".")
        rv = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        if len(_bp_path_cache) < 4096:
            _bp_path_cache[name] = rv
    return list(rv)


#: What the lean construction and WSGI start of a Response stand in for: a subclass (or werkzeug,
#: patched) replacing one of these gets werkzeug's own code for that response class.
_LEAN_NAMES = (
    "set_data", "status", "status_code", "_clean_status", "get_wsgi_headers", "get_wsgi_response",
    "get_app_iter", "iter_encoded", "close", "is_sequence", "headers",
)
_lean_classes: dict[type, bool] = {}
_content_types: dict[str, str] = {}
_status_lines: dict[int, tuple[str, int]] = {}
#: A Location / Content-Location value werkzeug's `iri_to_uri` returns unchanged: a path (not `//`)
#: of characters each URL part keeps unquoted, with an optional non-empty query. (tests/core checks
#: the claim against iri_to_uri on generated values.)
URI_UNCHANGED = lazy_pattern(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,/:;=@%]*(?:\?[A-Za-z0-9\-._~!$&'()*+,/:;=?@%]+)?")


def _is_lean(cls: type) -> bool:
    """Whether `cls` uses werkzeug's response machinery as framework.Response does (checked once per class)."""
    lean = _lean_classes.get(cls)
    if lean is None:
        lean = _lean_classes[cls] = all(
            getattr(cls, name, None) is getattr(Response, name, None) for name in _LEAN_NAMES
        ) and all(getattr(Response, name) is getattr(_WResponse, name) for name in _LEAN_NAMES if name != "headers")
    return lean


def set_status_code(response: _WResponse, code: int) -> None:
    """`response.status_code = code`, the status line taken from a per-code cache when the response's
    class keeps werkzeug's status machinery (as the lean constructor does)."""
    if type(code) is int and _is_lean(type(response)):
        response._status, response._status_code = _status_line(response, code)
        return
    response.status_code = code


def _status_line(response: _WResponse, code: int) -> tuple[str, int]:
    """werkzeug's `_clean_status(code)` (the status line and code), computed once per code."""
    line = _status_lines.get(code)
    if line is None:
        line = response._clean_status(code)
        if len(_status_lines) < 1024:
            _status_lines[code] = line
    return line


def _content_type(mimetype: str) -> str:
    """`get_content_type(mimetype, "utf-8")`, checked as a header value, computed once per mimetype."""
    value = _content_types.get(mimetype)
    if value is None:
        value = _str_header_value(get_content_type(mimetype, "utf-8"))
        if len(_content_types) < 256:
            _content_types[mimetype] = value
    return value


class Response(_WResponse):
    """The response: werkzeug's, with `text/html` as default mimetype and the app's JSON provider.

    Building one from a body (and a status, mimetype) and starting it as a WSGI app take a direct
    route that gives the same headers, status and body as werkzeug's general code, which still runs
    for everything else (given headers or content type, 1xx/204/304, a Location to encode, a class
    replacing part of the machinery).
    """

    default_mimetype: str | None = "text/html"
    json_module: t.Any = json
    autocorrect_location_header = False

    def __init__(
        self,
        response: t.Any = None,
        status: int | str | HTTPStatus | None = None,
        headers: t.Any = None,
        mimetype: str | None = None,
        content_type: str | None = None,
        direct_passthrough: bool = False,
    ) -> None:
        cls = type(self)
        if headers is not None or content_type is not None or not _is_lean(cls):
            super().__init__(response, status, headers, mimetype, content_type, direct_passthrough)
            return
        header_list: list[tuple[str, str]] = []
        new_headers = Headers()
        new_headers._list = header_list
        self.headers = new_headers
        if mimetype is None:
            mimetype = self.default_mimetype
        if mimetype is not None:
            header_list.append(("Content-Type", _content_type(mimetype)))
        if status is None:
            status = self.default_status
        if type(status) is int:
            self._status, self._status_code = _status_line(self, status)
        else:
            self.status = status
        self.direct_passthrough = direct_passthrough
        self._on_close = []
        kind = type(response)
        if kind is str or kind is bytes:
            body = response.encode() if kind is str else response
            self.response = [body]
            if self.automatically_set_content_length:
                header_list.append(("Content-Length", str(len(body))))
        elif response is None:
            self.response = []
        elif isinstance(response, (str, bytes, bytearray)):
            self.set_data(response)  # type: ignore[arg-type]  # werkzeug keeps a bytearray as given
        else:
            self.response = response

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Iterable[bytes]:
        """Start the response and give its body, as werkzeug's `__call__` does."""
        status = self._status_code
        headers = self.headers
        if status < 200 or status == 204 or status == 304 or type(headers) is not Headers or not _is_lean(type(self)):
            return super().__call__(environ, start_response)
        header_list: list[tuple[str, str]] = list(headers._list)
        length = None
        for key, value in header_list:
            name = key.lower()
            if name == "content-length":
                length = value
            elif (name == "location" or name == "content-location") and not (
                # werkzeug would write it back as "Location" / "Content-Location", encoded
                (key == "Location" or key == "Content-Location")
                and type(value) is str
                and URI_UNCHANGED.fullmatch(value)
                and len(headers.getlist(key)) == 1
            ):
                return super().__call__(environ, start_response)
        body = self.response
        encoded: list[bytes] | None = None
        if type(body) is list:
            encoded = body
            for item in body:
                if type(item) is not bytes:
                    encoded = [item.encode() if isinstance(item, str) else item for item in body]
                    break
        if length is None and self.automatically_set_content_length and isinstance(body, (list, tuple)):
            if encoded is None:
                encoded = [item.encode() if isinstance(item, str) else item for item in body]
            header_list.append(("Content-Length", str(sum(map(len, encoded)))))
        start_response(self._status, header_list)
        if environ["REQUEST_METHOD"] == "HEAD":
            return ClosingIterator((), self.close)
        if self.direct_passthrough:
            return body  # type: ignore[return-value]  # werkzeug passes it through as given
        if encoded is not None and not self._on_close:
            return encoded  # a list has nothing to close
        return ClosingIterator(self.iter_encoded(), self.close)

    @property
    def max_cookie_size(self) -> int:  # type: ignore[override]
        """`MAX_COOKIE_SIZE` inside an app context, werkzeug's default otherwise."""
        ctx = _cv_app.get(None)
        if ctx is not None:
            return ctx.app.config["MAX_COOKIE_SIZE"]
        return super().max_cookie_size
