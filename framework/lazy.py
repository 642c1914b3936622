"""`first_read`: an instance attribute computed when it is first read, then stored as a plain attribute.

Per-request objects (the Request, the contexts) have attributes most requests never read. Computing them
up front cost most of those objects' set-up, and on a busy server that work runs with cold CPU caches.
"""

from __future__ import annotations

import typing as t

T = t.TypeVar("T")


class first_read(t.Generic[T]):
    """A non-data descriptor: the first read of the attribute calls `compute(instance)` and stores the value
    in the instance's `__dict__`, which from then on hides the descriptor (reads and assignments are plain).
    Unlike functools.cached_property on Python 3.11, it takes no lock."""

    def __init__(self, compute: t.Callable[[t.Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @t.overload
    def __get__(self, obj: None, owner: type | None = None) -> first_read[T]: ...

    @t.overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | first_read[T]:
        if obj is None:
            return self
        # setdefault: two threads sharing the instance (a copied context) both get the value stored first.
        return obj.__dict__.setdefault(self.name, self.compute(obj))
