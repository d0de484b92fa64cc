"""An attribute computed on first use and kept on the instance, without a lock.

Python 3.11's `functools.cached_property` holds one lock per attribute for every instance of the class
while it computes: in a threaded server, a thread gzipping one document made every other thread wait to
format another document's headers. Here two threads that meet on a fresh instance may both compute the
value (it must be a pure function of the instance) and one result is kept; nobody waits. Works on frozen
dataclasses, as it writes the instance's `__dict__` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

Value = TypeVar("Value")


class cached(Generic[Value]):  # noqa: N801 -- named like the decorator it replaces
    def __init__(self, compute: Callable[[Any], Value]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached[Value]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> Value: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Value | cached[Value]:
        if instance is None:
            return self
        value = self.compute(instance)
        # A non-data descriptor: once the instance's own attribute is set, it is found before this one.
        instance.__dict__[self.name] = value
        return value
