"""Matchers for whole-payload assertions: they stand for values a test cannot know, such as clock times."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class AnyTime:
    """Equal to any ISO 8601 time with an offset."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        try:
            return datetime.fromisoformat(other).tzinfo is not None
        except ValueError:
            return False

    def __repr__(self) -> str:
        return "<any time with an offset>"

    __hash__ = None  # type: ignore[assignment]


ANY_TIME: Any = AnyTime()
