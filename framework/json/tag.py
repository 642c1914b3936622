"""Tagged JSON: a compact JSON form that round-trips the Python types a session commonly holds.

Each non-JSON value becomes a one-key object `{" <tag>": <json form>}`; `loads` turns such objects
back into Python values. Used by the signed cookie session (`framework.sessions`).
"""

from __future__ import annotations

import typing as t
import uuid  # plain import: framework.deferred leaves its body unrun until the UUID tag is consulted
from base64 import b64decode, b64encode
from datetime import datetime

from markupsafe import Markup
from werkzeug.http import http_date, parse_date

from framework import json as _json
from framework.globals import _cv_app


class JSONTag:
    """One tag: recognise a Python value, convert it to a JSON-able form and back."""

    __slots__ = ("serializer",)
    #: The tag string (e.g. `" t"`); an empty key means "no tag of its own, only recurse".
    key: str = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        self.serializer = serializer

    def check(self, value: t.Any) -> bool:
        """Whether this tag handles `value`."""
        raise NotImplementedError

    def to_json(self, value: t.Any) -> t.Any:
        """The JSON-able form of `value` (without the tag wrapper)."""
        raise NotImplementedError

    def to_python(self, value: t.Any) -> t.Any:
        """The Python value for the JSON form produced by `to_json`."""
        raise NotImplementedError

    def tag(self, value: t.Any) -> dict[str, t.Any]:
        """`value` converted and wrapped as `{key: json form}`."""
        return {self.key: self.to_json(value)}


class TagDict(JSONTag):
    """A dict whose only key looks like a tag: the key is suffixed with `__` so it is not mistaken for one."""

    __slots__ = ()
    key = " di"

    def check(self, value: t.Any) -> bool:
        if not isinstance(value, dict) or len(value) != 1:
            return False
        (only,) = value
        return only in self.serializer.tags

    def to_json(self, value: t.Any) -> t.Any:
        ((name, item),) = value.items()
        return {f"{name}__": self.serializer.tag(item)}

    def to_python(self, value: t.Any) -> t.Any:
        ((name, item),) = value.items()
        return {name[:-2]: item}


class PassDict(JSONTag):
    """Any other dict: keys stay, values are tagged recursively."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: t.Any) -> t.Any:
        return {name: self.serializer.tag(item) for name, item in value.items()}

    tag = to_json


class TagTuple(JSONTag):
    """A tuple, stored as a list of tagged items."""

    __slots__ = ()
    key = " t"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: t.Any) -> t.Any:
        return [self.serializer.tag(item) for item in value]

    def to_python(self, value: t.Any) -> t.Any:
        return tuple(value)


class PassList(JSONTag):
    """A list: items are tagged recursively."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: t.Any) -> t.Any:
        return [self.serializer.tag(item) for item in value]

    tag = to_json


class TagBytes(JSONTag):
    """Bytes, stored as standard base64 text."""

    __slots__ = ()
    key = " b"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: t.Any) -> t.Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: t.Any) -> t.Any:
        return b64decode(value)


class TagMarkup(JSONTag):
    """Anything with an `__html__` method, loaded back as `Markup`."""

    __slots__ = ()
    key = " m"

    def check(self, value: t.Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: t.Any) -> t.Any:
        return str(value.__html__())

    def to_python(self, value: t.Any) -> t.Any:
        return Markup(value)


class TagUUID(JSONTag):
    """A UUID, stored as its 32 hex digits."""

    __slots__ = ()
    key = " u"

    def check(self, value: t.Any) -> bool:
        # Read from the module's dict so a deferred uuid (framework.deferred) stays unrun: until its
        # body has run there is no UUID class, hence no instance to tag.
        cls = uuid.__dict__.get("UUID")
        return cls is not None and isinstance(value, cls)

    def to_json(self, value: t.Any) -> t.Any:
        return value.hex

    def to_python(self, value: t.Any) -> t.Any:
        return uuid.UUID(value)


class TagDateTime(JSONTag):
    """A datetime, stored as an HTTP date and loaded as an aware UTC datetime."""

    __slots__ = ()
    key = " d"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: t.Any) -> t.Any:
        return http_date(value)

    def to_python(self, value: t.Any) -> t.Any:
        return parse_date(value)


class TaggedJSONSerializer:
    """Serializer with a registry of tags, checked in order; `dumps`/`loads` give and take compact JSON."""

    __slots__ = ("changes", "order", "tags")

    default_tags: t.ClassVar[list[type[JSONTag]]] = [
        TagDict, PassDict, TagTuple, PassList, TagBytes, TagMarkup, TagUUID, TagDateTime,
    ]

    def __init__(self) -> None:
        self.tags: dict[str, JSONTag] = {}
        self.order: list[JSONTag] = []
        #: Tags registered so far: a value parsed earlier may read differently once this changes.
        self.changes = 0
        for tag_class in self.default_tags:
            self.register(tag_class)

    def register(self, tag_class: type[JSONTag], force: bool = False, index: int | None = None) -> None:
        """Add a tag; an existing key needs `force=True`; `index` places it in the check order."""
        tag = tag_class(self)
        self.changes += 1
        if tag.key:
            if tag.key in self.tags and not force:
                raise KeyError(f"a tag with the key {tag.key!r} is already registered")
            self.tags[tag.key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)

    def tag(self, value: t.Any) -> t.Any:
        """`value` in its tagged JSON-able form (unchanged if no tag applies)."""
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def _tag_default(self, value: t.Any) -> t.Any:
        """`tag(value)` while the tags are exactly the default ones in their order: plain str, int,
        float, bool and None match none of them, and plain lists and dicts only recurse."""
        cls = type(value)
        if cls is str or cls is int or value is None or cls is bool or cls is float:
            return value
        if cls is dict:
            if len(value) == 1 and next(iter(value)) in self.tags:
                return self.tag(value)
            return {
                name: item if type(item) in _PLAIN_TYPES else self._tag_default(item) for name, item in value.items()
            }
        if cls is list:
            return [item if type(item) in _PLAIN_TYPES else self._tag_default(item) for item in value]
        return self.tag(value)

    def untag(self, value: dict[str, t.Any]) -> t.Any:
        """The Python value of a one-key tagged object, or the object itself if it is not tagged."""
        if len(value) != 1:
            return value
        (key,) = value
        tag = self.tags.get(key)
        return value if tag is None else tag.to_python(value[key])

    def _untag_scan(self, value: t.Any) -> t.Any:
        if isinstance(value, dict):
            return self.untag({name: self._untag_scan(item) for name, item in value.items()})
        if isinstance(value, list):
            return [self._untag_scan(item) for item in value]
        return value

    def dumps(self, value: t.Any) -> str:
        """Compact tagged JSON text (the app's JSON provider when an app context is active)."""
        if tuple(map(type, self.order)) == _DEFAULT_ORDER:
            tagged = self._tag_default(value)
        else:
            tagged = self.tag(value)
        ctx = _cv_app.get(None)
        if ctx is not None:
            provider = ctx.app.json
            compact = getattr(provider, "compact_dumps", None)  # DefaultJSONProvider's, with its encoder built once
            if compact is not None:
                return compact(tagged)
        return _json.dumps(tagged, separators=(",", ":"))

    def loads(self, value: str | bytes) -> t.Any:
        """The Python value of tagged JSON text."""
        return self._untag_scan(_json.loads(value))


_DEFAULT_ORDER: tuple[type[JSONTag], ...] = tuple(TaggedJSONSerializer.default_tags)
#: Values `_tag_default` returns as they are (checked inline for the items of a dict or list).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
