"""Query cursors and the window a query reads (start and end positions, offset, limit), decoded once.

A cursor is b"\\x01" (format version) + the driver's tag + (b"\\x00" for "before everything" | b"\\x01" +
position), where the position is the driver's scan key of a result relative to the driver's prefix; resuming
is a range scan strictly after it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .errors import invalid
from .query import Driver, Plan

FORMAT = b"\x01"
_BEFORE_ALL, _AT = 0, 1


_HEADS = {driver: FORMAT + driver.value.encode() for driver in Driver}  # built once: a cursor per result
_BEFORE_ALL_BYTE, _AT_BYTE = bytes([_BEFORE_ALL]), bytes([_AT])


def cursor_head(driver: Driver) -> bytes:
    """What every cursor of a query run by `driver` starts with (then b"\\x00", or b"\\x01" and a position)."""
    return _HEADS[driver]


def encode_cursor(driver: Driver, pos: bytes | None) -> bytes:
    """The cursor of a position (None = before the first result) of a query run by `driver`."""
    return _HEADS[driver] + (_BEFORE_ALL_BYTE if pos is None else _AT_BYTE + pos)


def decode_cursor(driver: Driver, cursor: bytes) -> bytes | None:
    """The position in a cursor made for a query with this driver; INVALID_ARGUMENT otherwise."""
    if len(cursor) < 3 or cursor[:1] != FORMAT or cursor[1:2] != driver.value.encode() or cursor[2] not in (0, 1):
        raise invalid("Invalid query cursor.")
    return None if cursor[2] == _BEFORE_ALL else cursor[3:]


class Window(NamedTuple):
    """What part of a query's results a request reads: after `start`, up to `end`, skip `offset`, take `limit`.

    A named tuple: built for every query, immutable, and cheaper to make than a frozen dataclass."""

    start: bytes | None = None
    end: bytes | None = None
    end_given: bool = False
    offset: int = 0
    limit: int | None = None

    @classmethod
    def of(cls, plan: Plan, query: Any) -> Window:
        """The checked window of a v1 Query planned as `plan`."""
        limit = query.limit.value if query.HasField("limit") else None
        if query.offset < 0 or (limit is not None and limit < 0):
            raise invalid("A query offset and limit must not be negative.")
        start = decode_cursor(plan.driver, query.start_cursor) if query.start_cursor else None
        end = decode_cursor(plan.driver, query.end_cursor) if query.end_cursor else None
        return cls(start, end, bool(query.end_cursor), query.offset, limit)
