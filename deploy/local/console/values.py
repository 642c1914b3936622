"""Datastore values for people: each type rendered readably (HTML), and typed form fields parsed back.

Keys travel in URLs as a compact token (`key_token`), and are typed in forms as a path such as
`Shop:"main"/Item:42` (an integer is an id, a JSON string a name).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.cloud.datastore import Entity, Key
from google.cloud.datastore.helpers import GeoPoint
from markupsafe import Markup

# Types a property can be given in the edit form. "keep" leaves a value the form cannot edit (an embedded
# entity, an array) exactly as stored.
EDITABLE_TYPES = ("string", "integer", "float", "boolean", "timestamp", "key", "blob", "geopoint", "null")
SHORT_TEXT = 80
_SEGMENT = re.compile(r'\s*([^:/"\s][^:/"]*?)\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*')


class ValueError_(ValueError):
    """A form value that does not fit its type; the message says what was expected."""


def type_of(value: Any) -> str:
    """The edit-form type of a stored value ("keep" for embedded entities and arrays)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "blob"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, Key):
        return "key"
    if isinstance(value, GeoPoint):
        return "geopoint"
    return "keep"


def key_path_text(key: Key) -> str:
    """`Kind:id/Kind:"name"`: a key's path as typed in the forms (and shown)."""
    parts = []
    for element in key.path:
        ident = element.get("id", element.get("name"))
        parts.append(f"{element['kind']}:{json.dumps(ident) if isinstance(ident, str) else ident}")
    return "/".join(parts)


def parse_key_path(text: str, *, project: str, namespace: str | None, database: str | None) -> Key:
    """The key a `Kind:id/Kind:"name"` path names; ValueError_ saying the expected shape otherwise."""
    flat: list[Any] = []
    for segment in _split_segments(text) if text.strip() else []:
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError_(f'{segment.strip()!r} is not Kind:id or Kind:"name" (e.g. Item:42/Note:"a")')
        kind, ident = match.group(1), match.group(2)
        flat += [kind, json.loads(ident) if ident.startswith('"') else int(ident)]
    if not flat:
        raise ValueError_('a key needs at least one Kind:id or Kind:"name"')
    try:
        return Key(*flat, project=project, namespace=namespace or None, database=database or None)
    except ValueError as exc:
        raise ValueError_(f"not a valid key: {exc}") from None


def _split_segments(text: str) -> list[str]:
    """Split on the slashes outside quoted names."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == "/":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
            quoted = char == '"'
    parts.append("".join(current))
    return parts


def key_token(key: Key) -> str:
    """A URL-safe token for a key (path, namespace and database), read back by `key_from_token`."""
    data = {"p": list(key.flat_path), "n": key.namespace or "", "d": key.database or ""}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def key_from_token(token: str, project: str) -> Key:
    """The key of a `key_token`; ValueError_ for a token that is not one."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        flat = data["p"]
        if not isinstance(flat, list) or len(flat) % 2:
            raise ValueError("odd path")
        return Key(*flat, project=project, namespace=data["n"] or None, database=data["d"] or None)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError_(f"not a key link ({exc})") from None


def edit_text(value: Any) -> str:
    """A stored value as its edit field shows it."""
    kind = type_of(value)
    if kind == "timestamp":
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if kind == "key":
        return key_path_text(value)
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "geopoint":
        return f"{value.latitude}, {value.longitude}"
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "null":
        return ""
    if kind == "float":
        return repr(value)
    return str(value) if kind != "keep" else ""


def parse_value(kind: str, text: str, *, project: str, namespace: str | None, database: str | None) -> Any:
    """The value a form field of type `kind` holds; ValueError_ naming what was expected."""
    if kind == "string":
        return text
    if kind == "integer":
        try:
            number = int(text.strip())
        except ValueError:
            raise ValueError_(f"{text!r} is not an integer (digits, optionally with a leading -)") from None
        if not -(2**63) <= number < 2**63:
            raise ValueError_("integers are 64-bit: between -9223372036854775808 and 9223372036854775807")
        return number
    if kind == "float":
        try:
            number_f = float(text.strip())
        except ValueError:
            raise ValueError_(f"{text!r} is not a number (e.g. 2.5, -1e3, nan, inf)") from None
        return number_f
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError_(f"{text!r} is not true or false")
        return lowered == "true"
    if kind == "timestamp":
        return _parse_timestamp(text)
    if kind == "key":
        return parse_key_path(text, project=project, namespace=namespace, database=database)
    if kind == "blob":
        try:
            return base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError_("a blob is typed as base64 (e.g. aGVsbG8=)") from None
    if kind == "geopoint":
        return _parse_geopoint(text)
    if kind == "null":
        if text.strip():
            raise ValueError_("a null value has no text; empty the field or pick another type")
        return None
    raise ValueError_(f"unknown type {kind!r}; pick one of {', '.join(EDITABLE_TYPES)}")


def _parse_timestamp(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError_(f"{text!r} is not a timestamp: use ISO 8601, e.g. 2026-12-04T20:15:00Z") from None
    if moment.tzinfo is None:
        raise ValueError_(f"{text!r} has no time zone: end it with Z (UTC) or an offset such as +01:00")
    return moment.astimezone(UTC)


def _parse_geopoint(text: str) -> GeoPoint:
    parts = [p.strip() for p in text.split(",")]
    try:
        lat, lng = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lat = lng = math.nan
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValueError_(f"{text!r} is not 'latitude, longitude' (latitude -90..90, longitude -180..180)")
    return GeoPoint(lat, lng)


def guess_value(text: str) -> Any:
    """A filter value typed without a type: integer, float, true/false, null, an ISO timestamp, else a string."""
    stripped = text.strip()
    for kind in ("integer", "float", "boolean", "timestamp"):
        try:
            return parse_value(kind, stripped, project="", namespace=None, database=None)
        except ValueError_:
            continue
    if stripped == "null":
        return None
    return text


def render(value: Any, link: Callable[[Key], str], *, short: bool = False) -> Markup:
    """HTML for a value: keys as links, timestamps in UTC, blobs by size, embedded entities expandable."""
    kind = type_of(value)
    if kind == "null":
        return Markup('<span class="v-null">null</span>')
    if kind == "boolean":
        return Markup('<span class="v-bool">{}</span>').format("true" if value else "false")
    if kind in ("integer", "float"):
        return Markup('<span class="v-num">{}</span>').format(repr(value) if kind == "float" else value)
    if kind == "string":
        text = value if not short or len(value) <= SHORT_TEXT else value[:SHORT_TEXT] + "…"
        return Markup('<span class="v-str" title="{} characters">{}</span>').format(len(value), text)
    if kind == "blob":
        return Markup('<span class="v-blob">blob, {} bytes</span>').format(len(value))
    if kind == "timestamp":
        shown = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        return Markup('<time class="v-time" datetime="{}">{}</time>').format(edit_text(value), shown)
    if kind == "key":
        return Markup('<a class="v-key" href="{}">{}</a>').format(link(value), key_path_text(value))
    if kind == "geopoint":
        return Markup('<span class="v-geo">{}</span>').format(edit_text(value))
    if isinstance(value, Entity):
        return _render_entity(value, link, short)
    if isinstance(value, list):
        items = Markup("").join(Markup("<li>{}</li>").format(render(v, link, short=short)) for v in value)
        return Markup('<details class="v-array"><summary>array of {}</summary><ol>{}</ol></details>').format(
            len(value), items)
    return Markup('<span class="v-other">{}</span>').format(repr(value))


def _render_entity(entity: Entity, link: Callable[[Key], str], short: bool) -> Markup:
    rows = Markup("").join(
        Markup("<tr><th>{}</th><td>{}</td></tr>").format(name, render(entity[name], link, short=short))
        for name in sorted(entity))
    label = "embedded entity" + (Markup(" {}").format(key_path_text(entity.key)) if entity.key else "")
    return Markup('<details class="v-entity"><summary>{} ({} properties)</summary><table>{}</table></details>').format(
        label, len(entity), rows)

