"""JSON providers: how the app turns Python values into JSON and back (`app.json`)."""

from __future__ import annotations

import dataclasses
import json
import json.encoder as _json_encoder
import sys
import typing as t
import uuid
import weakref
from datetime import date

from werkzeug.http import http_date

if t.TYPE_CHECKING:  # pragma: no cover
    from ..app import App
    from ..wrappers import Response


class JSONProvider:
    """Base provider: subclass and implement `dumps` and `loads`; the app keeps one in `app.json`."""

    mimetype = "application/json"

    def __init__(self, app: App) -> None:
        self._app: App = t.cast("App", weakref.proxy(app))

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize `obj` to a JSON string."""
        raise NotImplementedError

    def dump(self, obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
        """Serialize `obj` into a text file."""
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """Parse JSON text (str or UTF-8 bytes)."""
        raise NotImplementedError

    def load(self, fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
        """Parse JSON read from a file."""
        return self.loads(fp.read(), **kwargs)

    def _prepare_response_obj(self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> t.Any:
        if args and kwargs:
            raise TypeError("jsonify() accepts positional arguments or keyword arguments, not both.")
        if not args and not kwargs:
            return None
        if len(args) == 1:
            return args[0]
        return args or kwargs

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """A response whose body is the JSON of the arguments (one value, a list of several, or kwargs)."""
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps(obj), mimetype=self.mimetype)

    def direct_body(self, obj: t.Any) -> bytes | None:
        """The body `response(obj)` would carry, for the app's fast path (framework.fast_path); None
        when that needs the Response itself (this base class: always)."""
        return None


def _default(o: t.Any) -> t.Any:
    """Encode values the stdlib encoder refuses: dates, Decimal, UUID, dataclasses, `__html__` objects."""
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, uuid.UUID):
        return str(o)
    decimal = sys.modules.get("decimal")  # no Decimal can exist unless decimal was imported
    if decimal is not None and isinstance(o, decimal.Decimal):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_OPENERS = frozenset(b"{[")
#: The C encoder JSONEncoder uses for one-shot encoding (None where the _json accelerator is missing).
_c_make_encoder: t.Callable[..., t.Any] | None = getattr(_json_encoder, "c_make_encoder", None)


def _encode(encoder: json.JSONEncoder, obj: t.Any) -> str:
    """`encoder.encode(obj)` for an encoder without indent: the C encoder it would build, built here
    directly (a fresh one per call, as JSONEncoder.iterencode builds it: its circular-reference marks
    belong to one call), without the Python layers around it."""
    make = _c_make_encoder
    if make is None or type(encoder) is not json.JSONEncoder or encoder.indent is not None or isinstance(obj, str):
        return encoder.encode(obj)
    chunks = make(
        {} if encoder.check_circular else None, encoder.default,
        _json_encoder.encode_basestring_ascii if encoder.ensure_ascii else _json_encoder.encode_basestring,
        None, encoder.key_separator, encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
        encoder.allow_nan,
    )(obj, 0)
    return "".join(chunks)


class DefaultJSONProvider(JSONProvider):
    """stdlib `json` with extra types; `sort_keys`, `ensure_ascii`, `compact` and `mimetype` are tunable."""

    default: t.Callable[[t.Any], t.Any] = staticmethod(_default)
    ensure_ascii = True
    sort_keys = True
    compact: bool | None = None
    mimetype = "application/json"

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """`json.dumps` with this provider's `default`, `ensure_ascii` and `sort_keys` unless given."""
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """`json.loads`; bytes opening with "{" or "[" then a non-zero byte are UTF-8 by json's own
        detection (no BOM, not UTF-16/32), so they are decoded here as json.loads would decode them."""
        if type(s) is bytes and len(s) >= 2 and s[0] in _OPENERS and s[1]:
            return json.loads(s.decode("utf-8", "surrogatepass"), **kwargs)
        return json.loads(s, **kwargs)

    def response_body(self, obj: t.Any) -> str:
        """Response body: indented in debug (or `compact=False`), compact otherwise, newline-terminated."""
        compact = self.compact
        if compact is False or (compact is None and self._app.debug):
            return self.dumps(obj, indent=2) + "\n"
        return self.compact_dumps(obj) + "\n"

    def compact_dumps(self, obj: t.Any) -> str:
        """`dumps(obj, separators=(",", ":"))`; unless `dumps` is replaced, through an encoder built
        once per settings (the same output)."""
        if type(self).dumps is not DefaultJSONProvider.dumps or "dumps" in self.__dict__:  # replaced
            return self.dumps(obj, separators=(",", ":"))
        key = (self.default, self.ensure_ascii, self.sort_keys)
        cached = self.__dict__.get("_compact_encoder")
        if cached is None or cached[0] != key:
            encoder = json.JSONEncoder(
                default=self.default, ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys,
                separators=(",", ":"),
            )
            cached = self.__dict__["_compact_encoder"] = (key, encoder)
        return _encode(cached[1], obj)

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """A JSON response with this provider's `mimetype`."""
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.response_body(obj), mimetype=self.mimetype)

    def direct_body(self, obj: t.Any) -> bytes | None:
        """`response_body(obj)` encoded, or None when `response` is replaced (on a subclass or the
        instance), since only the replacement knows what it sends."""
        if "response" in self.__dict__ or type(self).response is not DefaultJSONProvider.response:
            return None
        return self.response_body(obj).encode()
