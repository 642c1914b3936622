"""`Record`: a base for small immutable value objects, built without generating code at import.

A frozen dataclass or a NamedTuple writes its methods as source and compiles it when its module is imported;
for the few value types on the start-up path (the host description, a secret reference) that was a measurable
part of every cold start. A Record subclass lists its fields in `__slots__`, sets them once in `__init__`
through `_fill`, and gets comparison by value, hashing, a readable repr and pickling from here.
"""

from __future__ import annotations

import typing as t


class Record:
    """Immutable fields named by `__slots__`; equal when of the same type with equal fields."""

    __slots__: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__slots__" not in cls.__dict__ or isinstance(cls.__dict__["__slots__"], str):
            # Without its own tuple of fields a subclass would compare every instance equal.
            raise TypeError(f"{cls.__name__} must list its fields as a tuple in __slots__")

    def _fill(self, *values: t.Any) -> None:
        """Set every field, in `__slots__` order (only `__init__` calls this)."""
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[t.Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: t.Any) -> None:
        raise AttributeError(f"cannot assign to {name!r}: {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {name!r}: {type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (type(self), self._values())
