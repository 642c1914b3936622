"""app.yaml `handlers:` entries (§5.2): the Handler model, compiled as App Engine anchors it, and its rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .yaml_nodes import (
    Findings,
    Node,
    check_keys,
    did_you_mean,
    expect_map,
    get_bool,
    get_str,
    parse_duration,
)

HandlerKind = Literal["script", "static_dir", "static_files"]
MAX_HANDLERS = 100
MAX_HEADERS = 500
_COMMON = ("url", "secure", "login", "auth_fail_action", "redirect_http_response_code")
_STATIC = ("mime_type", "expiration", "http_headers", "require_matching_file")
KEYS_FOR: dict[str, tuple[str, ...]] = {
    "script": _COMMON + ("script",),
    "static_dir": _COMMON + _STATIC + ("static_dir",),
    "static_files": _COMMON + _STATIC + ("static_files", "upload"),
}
ALL_KEYS = tuple(sorted(set(KEYS_FOR["script"] + KEYS_FOR["static_dir"] + KEYS_FOR["static_files"])))
# Response headers a static handler may not set (§5.2, as the SDK's header checks): request-only headers,
# hop-by-hop headers and the ones App Engine's front end owns; `X-Appengine-*` is refused by prefix.
FORBIDDEN_HEADERS = frozenset({
    "accept", "accept-charset", "accept-encoding", "accept-language", "authorization", "expect", "from",
    "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
    "max-forwards", "proxy-authorization", "range", "referer", "te", "user-agent",
    "connection", "keep-alive", "proxy-authenticate", "trailers", "transfer-encoding", "upgrade",
    "content-encoding", "content-length", "date", "server",
})
MAX_HEADER_LINE = 500  # bytes of `Name: value\r\n`, the line included
# Headers whose value may be longer than one normal line; the limit is then on the value alone.
LONG_HEADER_VALUES = {"content-security-policy": 10240, "x-content-security-policy": 10240,
                      "x-webkit-csp": 10240, "content-security-policy-report-only": 10240,
                      "set-cookie": 4096, "set-cookie2": 4096, "location": 2047}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+(\s*;.*)?")
_GROUP_REF = re.compile(r"\\(\d)")
_REDIRECT_CODES = (301, 302, 303, 307)
CODE_FILES = ("main.py", "requirements.txt", "app.yaml")


@dataclass(frozen=True)
class Handler:
    """One `handlers:` entry, with its url already compiled as App Engine anchors it (whole path).

    A static_dir handler is compiled to its equivalent (§5.2): `pattern` is `PREFIX/(.*)`, `static_files`
    is `DIR/\\1` and `upload` is `DIR/.*`, so the runner serves both static kinds the same way.
    """

    url: str
    pattern: re.Pattern[str]
    kind: HandlerKind
    line: int
    static_dir: str | None = None
    static_files: str | None = None
    upload: re.Pattern[str] | None = None
    mime_type: str | None = None
    expiration: int | None = None  # seconds; None = the app's default_expiration
    http_headers: tuple[tuple[str, str], ...] = ()
    require_matching_file: bool = False
    secure: Literal["optional", "always", "never"] = "optional"
    redirect_http_response_code: int = 302
    login: Literal["optional", "required", "admin"] = "optional"
    auth_fail_action: Literal["redirect", "unauthorized"] = "redirect"

    def match(self, path: str) -> re.Match[str] | None:
        """The whole-path match of `path` against this handler's url, or None."""
        return self.pattern.fullmatch(path)

    def file_for(self, match: re.Match[str]) -> str | None:
        """The static file (relative to the service root) a matched path maps to; None for script handlers."""
        if self.static_files is None:
            return None
        return match.expand(self.static_files)


def _compile(text: str, node: Node, what: str, findings: Findings) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error as exc:
        findings.error(node.key_line, f"{what} {text!r} is not a valid regular expression ({exc.msg})",
                       "fix the pattern (escape literal dots and brackets with a backslash)")
        return None


def _choice(node: Node | None, what: str, allowed: tuple[str, ...], findings: Findings) -> str | None:
    if node is None:
        return None
    value = node.text.strip() if node.is_scalar else ""
    if value not in allowed:
        findings.error(node.key_line, f"{what} is {node.describe()}", f"use one of: {', '.join(allowed)}")
        return None
    return value


def _headers(node: Node, mime_type: str | None, findings: Findings) -> tuple[tuple[str, str], ...]:
    block = expect_map(node, "http_headers", findings, "`http_headers:` with `Name: value` lines below it")
    if block is None:
        return ()
    if len(block.entries) > MAX_HEADERS:
        findings.error(block.key_line, f"http_headers sets {len(block.entries)} headers; at most {MAX_HEADERS}",
                       "remove headers, or set them in the app's responses instead")
    headers: list[tuple[str, str]] = []
    for name, value_node in block.entries.items():
        line = value_node.key_line
        lower = name.lower()
        if not _TOKEN.fullmatch(name):
            findings.error(line, f"http_headers name {name!r} is not a valid header name",
                           "use letters, digits and - only")
            continue
        if lower in FORBIDDEN_HEADERS or lower.startswith("x-appengine-"):
            findings.error(line, f"http_headers may not set {name!r} (App Engine's front end owns it, or it is "
                           "a request header)", "remove it from http_headers")
            continue
        if lower == "content-type" and mime_type is not None:
            findings.error(line, "http_headers sets Content-Type and the handler also has mime_type",
                           "keep only mime_type")
        value = get_str(value_node, f"http_headers {name}", findings, "write the header value as text")
        if value is None:
            continue
        if any(ord(ch) < 32 or ord(ch) > 126 for ch in value):
            findings.error(line, f"http_headers {name} has a character that is not printable ASCII",
                           "use printable ASCII only (percent-encode anything else)")
        size = len(f"{name}: {value}\r\n")
        if size >= MAX_HEADER_LINE and lower not in LONG_HEADER_VALUES:
            findings.error(line, f"the header line `{name}: ...` is {size} bytes with its line end; it must "
                           f"stay under {MAX_HEADER_LINE}", "shorten the value")
        elif lower in LONG_HEADER_VALUES and len(value) > LONG_HEADER_VALUES[lower]:
            findings.error(line, f"the {name} value is {len(value)} characters; the limit is "
                           f"{LONG_HEADER_VALUES[lower]}", "shorten the value")
        headers.append((name, value))
    return tuple(headers)


def _static_path(text: str, node: Node, what: str, root: Path, findings: Findings) -> None:
    """Warnings for a static path that leaves the service folder or (for a plain folder) does not exist."""
    if text.startswith("/") or ".." in Path(text).parts:
        findings.error(node.key_line, f"{what} {text!r} points outside the service folder",
                       "give a path relative to the folder holding app.yaml")
    elif what == "static_dir" and Path(text).parts in ((), (".",)):
        findings.warn(node.key_line, f"static_dir {text!r} is the whole service folder: its code would be "
                      "uploaded as static files, not as code", "keep static files in their own folder")
    elif what == "static_dir" and not (root / text).is_dir():
        findings.warn(node.key_line, f"static_dir {text!r} does not exist in {root}",
                      "create the folder or correct the path (its files are what gets uploaded)")


def read_handler(entry: Node, root: Path, findings: Findings, included: bool = False) -> Handler | None:
    """One handler entry checked against §5.2; None when it is too broken to serve."""
    block = expect_map(entry, "a handlers entry", findings, "`- url: /path` with its keys indented below")
    if block is None:
        return None
    if "application_readable" in block.entries:
        findings.error(block.entries["application_readable"].key_line,
                       "application_readable is not supported on the python3 runtimes",
                       "remove it; static files are not readable by the app (keep a copy in the code)")
    check_keys(block, ALL_KEYS, "a handler", findings, handled=("application_readable", "position"))
    position = block.get("position")
    if position is not None and not included:
        findings.error(position.key_line, "`position:` is only allowed in handlers of an included file",
                       "remove it (handlers in app.yaml keep their order)")
    elif position is not None and (not position.is_scalar or position.text not in ("head", "tail")):
        findings.error(position.key_line, f"position is {position.describe()}", "use head or tail")
    elif position is not None and "script" not in block.entries:
        findings.error(position.key_line, "`position:` is only allowed on script handlers",
                       "remove it, or make this a `script: auto` handler")
    kinds = [k for k in ("script", "static_dir", "static_files") if k in block.entries]
    url_node = block.get("url")
    line = url_node.key_line if url_node else block.line
    if not kinds:
        # A misspelt `script`/`static_dir`/`static_files` was already reported with its did-you-mean.
        if not any(did_you_mean(k, KEYS_FOR) for k in block.entries if k not in ALL_KEYS):
            findings.error(line, "this handler has none of script, static_dir, static_files",
                           "add `script: auto` (served by the app) or a static_dir / static_files")
        return None
    if len(kinds) > 1:
        findings.error(block.entries[kinds[1]].key_line, f"a handler takes only one of {', '.join(kinds)}",
                       "split it into two handlers")
        return None
    kind: HandlerKind = kinds[0]
    for key, child in block.entries.items():
        if key in ALL_KEYS and key not in KEYS_FOR[kind]:
            findings.error(child.key_line, f"{key} is not allowed in a {kind} handler",
                           f"remove it; a {kind} handler accepts {', '.join(KEYS_FOR[kind])}")
    if url_node is None:
        findings.error(block.line, "this handler has no url", "add `url: /path-regex` as its first key")
        return None
    url = get_str(url_node, "url", findings, "write the url regex as text, e.g. `url: /static/.*`")
    if url is None:
        return None
    if url.startswith("^"):
        findings.error(line, f"url {url!r} starts with ^; App Engine anchors handler urls itself",
                       "remove the leading ^")
        return None
    if not url.startswith(("/", "(", ".")):  # the SDK's url pattern also takes a leading group or dot
        findings.error(line, f"url {url!r} does not start with /", "start the url with / (e.g. /static)")
        return None
    compiled = _compile(url, url_node, "url", findings)
    if compiled is None:
        return None
    # The SDK's url pattern refuses a trailing $ only after a leading group; `/(.*\\.png)$` is in Google's
    # own app.yaml reference and passes.
    if url.startswith("(") and url.endswith("$") and not url.endswith("\\$"):
        findings.warn(line, f"url {url!r} starts with a group and ends with $, which the SDK's url pattern does "
                      "not accept; App Engine anchors handler urls itself", "remove the trailing $")
    if url == "/form":
        findings.warn(line, "the url /form is reserved by App Engine and is never matched", "use another path")
    mime = get_str(block.get("mime_type"), "mime_type", findings, "write e.g. `mime_type: text/html`")
    if mime is not None and not _MIME.fullmatch(mime):
        findings.error(block.entries["mime_type"].key_line, f"mime_type {mime!r} is not TYPE/SUBTYPE",
                       "write e.g. `mime_type: text/html`")
    expiration = None
    exp_node = block.get("expiration")
    if exp_node is not None:
        expiration = parse_duration(exp_node.text) if exp_node.is_scalar else None
        if expiration is None:
            findings.error(exp_node.key_line, f"expiration is {exp_node.describe()}, not a duration",
                           'write e.g. "1d 6h" (units d, h, m, s; a bare number is seconds)')
    headers = _headers(block.entries["http_headers"], mime, findings) if "http_headers" in block.entries else ()
    secure = _choice(block.get("secure"), "secure", ("optional", "always", "never"), findings)
    login = _choice(block.get("login"), "login", ("optional", "required", "admin"), findings)
    fail = _choice(block.get("auth_fail_action"), "auth_fail_action", ("redirect", "unauthorized"), findings)
    code_node = block.get("redirect_http_response_code")
    code = 302
    if code_node is not None:
        if code_node.is_scalar and code_node.text.strip() in {str(c) for c in _REDIRECT_CODES}:
            code = int(code_node.text)
        else:
            findings.error(code_node.key_line, f"redirect_http_response_code is {code_node.describe()}",
                           "use one of 301, 302, 303, 307")
    require = get_bool(block.get("require_matching_file"), "require_matching_file", findings)
    common = dict(mime_type=mime, expiration=expiration, http_headers=headers,
                  require_matching_file=bool(require), secure=secure or "optional",
                  redirect_http_response_code=code, login=login or "optional", auth_fail_action=fail or "redirect")
    target = block.entries[kind]
    value = get_str(target, kind, findings, f"write `{kind}: ...` with a text value")
    if value is None:
        return None
    if kind == "script":
        if value != "auto":
            findings.error(target.key_line, f"script is {value!r}; the python3 runtimes accept only `auto`",
                           "write `script: auto` (the entrypoint serves every dynamic request)")
        return Handler(url, re.compile(f"(?:{url})"), "script", line, **common)  # type: ignore[arg-type]
    if kind == "static_dir":
        if compiled.groups:
            findings.error(line, f"a static_dir url is a plain prefix; {url!r} has regex groups",
                           "remove the parentheses (the rest of the path picks the file)")
            return None
        _static_path(value, target, "static_dir", root, findings)
        folder = value.rstrip("/")
        return Handler(url, re.compile(f"(?:{url.rstrip('/')})/(.*)"), "static_dir", line, static_dir=value,
                       static_files=folder + "/\\1", upload=re.compile(re.escape(folder) + "/.*"),
                       **common)  # type: ignore[arg-type]
    _static_path(value, target, "static_files", root, findings)
    for ref in _GROUP_REF.findall(value):
        if int(ref) > compiled.groups:
            findings.error(target.key_line, f"static_files uses \\{ref} but url {url!r} has only "
                           f"{compiled.groups} group(s)", "add a (group) to url or use an existing \\N")
    upload_node = block.get("upload")
    if upload_node is None:
        findings.error(target.key_line, "static_files needs an upload pattern",
                       "add `upload: REGEX` matching the files to upload, e.g. `upload: static/.*`")
        return None
    upload_text = get_str(upload_node, "upload", findings, "write the upload regex as text")
    upload = _compile(upload_text, upload_node, "upload", findings) if upload_text is not None else None
    if upload is None:
        return None
    if any(upload.fullmatch(name) for name in CODE_FILES):
        findings.warn(upload_node.key_line, f"upload {upload_text!r} also selects the app's code "
                      "(main.py, requirements.txt): static files are not deployed as code",
                      "narrow the pattern to the static folder, e.g. `upload: static/.*`")
    return Handler(url, re.compile(f"(?:{url})"), "static_files", line, static_files=value, upload=upload,
                   **common)  # type: ignore[arg-type]


def read_handlers(entries: list[tuple[Node, Findings]], root: Path, findings: Findings,
                  included: set[int] | None = None) -> tuple[Handler, ...]:
    """Every handler of the `handlers:` list (includes merged; each entry with its own file), at most 100.

    `included` holds the ids of the entries that came from included files (where `position:` is allowed).
    """
    if len(entries) > MAX_HANDLERS:
        entry, where = entries[MAX_HANDLERS]
        where.error(entry.line, f"{len(entries)} handlers; App Engine allows at most {MAX_HANDLERS}",
                    "merge handlers with one regex, or route inside the app")
    handlers = [read_handler(entry, root, where, id(entry) in (included or set())) for entry, where in entries]
    return tuple(h for h in handlers if h is not None)
