"""Checks of the raw request line: a URL path or query string that is not UTF-8 or has a broken
percent-escape is the client's error (400), never a 500 and never passed on as mojibake.

Used by routing (the path) and by Request.args (the query string); Flask passes a bad escape on as
literal text, a deliberate difference documented in the README.
"""

from __future__ import annotations

import typing as t
from urllib.parse import unquote_to_bytes

from werkzeug.exceptions import BadRequest

from .lazy import lazy_pattern

#: A `%` that does not start a two-hex-digit escape.
BAD_ESCAPE = lazy_pattern(r"%(?![0-9A-Fa-f]{2})")


def wsgi_text(value: str) -> str:
    """A WSGI (latin-1) string as the text the client meant (UTF-8, undecodable bytes replaced)."""
    return value.encode("latin1").decode(errors="replace")


def path_info_of(environ: dict[str, t.Any]) -> str:
    """PATH_INFO as text, as werkzeug binds it; a path that is not UTF-8 is a 400, not a 500.

    Servers disagree on escaped bytes that are not UTF-8 (`/a%ff`): gunicorn hands the app the raw
    bytes, werkzeug's dev server and test client replace them with U+FFFD first. So the raw request
    URI that gunicorn (RAW_URI) and werkzeug (REQUEST_URI) keep is checked too, and such a path is a
    400 on every host; so is a bad escape (`/a%zz`), which PATH_INFO no longer shows.
    """
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if uri and ("%" in uri or not uri.isascii()):
        _check_raw_path(uri.partition("?")[0])
    raw: str = environ.get("PATH_INFO", "")
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin1").decode()
    except UnicodeDecodeError:
        raise BadRequest(_NOT_UTF8) from None
    except UnicodeEncodeError:
        return raw  # a server that already decoded the path


_NOT_UTF8 = "The URL path is not valid UTF-8; percent-encode it as UTF-8."


def _check_raw_path(path: str) -> None:
    """400 for a bad escape, or for escaped or raw bytes that do not decode as UTF-8."""
    if BAD_ESCAPE.search(path):
        raise BadRequest("The URL path has an invalid percent-escape; write a literal '%' as '%25'.")
    try:
        unquote_to_bytes(path.encode("latin1")).decode()
    except UnicodeEncodeError:
        return  # not a WSGI byte string: the server decoded it already
    except UnicodeDecodeError:
        raise BadRequest(_NOT_UTF8) from None


def check_query_string(query: str) -> None:
    """Raise a 400 for a query string with a bad `%` escape or escapes that do not decode as UTF-8
    (werkzeug alone would hand the view the literal text "%FF")."""
    if "%" not in query:
        return
    if BAD_ESCAPE.search(query):
        raise BadRequest("The query string has an invalid percent-escape; write a literal '%' as '%25'.")
    try:
        unquote_to_bytes(query).decode()
    except UnicodeDecodeError:
        raise BadRequest("The query string is not valid UTF-8 once its escapes are decoded.") from None
