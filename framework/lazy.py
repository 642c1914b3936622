"""Values computed when first used: `first_read` instance attributes and `lazy_pattern` regular expressions.

Per-request objects (the Request, the contexts) have attributes most requests never read. Computing them
up front cost most of those objects' set-up, and on a busy server that work runs with cold CPU caches.
Module-level patterns for rare inputs (a cookie header, a "%" in the path, a redirect) would otherwise be
compiled at import, which is part of every cold start.
"""

from __future__ import annotations

import re
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


class lazy_pattern:
    """A compiled regular expression that compiles itself on first use (`re.compile(source, flags)`).

    The first attribute read compiles it and copies the pattern's methods onto this object, so later calls
    such as `.fullmatch(text)` cost what they cost on the compiled pattern. Two threads racing on the first
    use both compile; both get the same pattern from `re`'s cache.
    """

    _METHODS = ("match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern."""
        return re.compile(self._source, self._flags)

    def __getattr__(self, name: str) -> t.Any:
        if name.startswith("__"):
            raise AttributeError(name)
        pattern = self.compiled()
        for method in self._METHODS:
            setattr(self, method, getattr(pattern, method))
        return getattr(pattern, name)
