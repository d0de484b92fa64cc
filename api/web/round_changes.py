"""A change to a round's settings (its embargo above all), made known to every worker of this node at once.

Workers trust a round's latest sequence and its embargo for `head_cache_seconds`, which spares the
database a query per read. An embargo set during that time must not let a worker serve results it holds
in memory: the worker that changed the round replaces a small file in the instance folder, and every
worker looks at the file's time (one `stat`, about a microsecond) before it trusts what it holds. Nodes
that do not share the folder learn of the change within `head_cache_seconds`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

FILE = "round-settings.changed"


class Clearable(Protocol):
    def clear(self) -> None: ...


class RoundChanges:
    def __init__(self, instance_path: Path, trusted: Sequence[Clearable]) -> None:
        self.path = instance_path / FILE
        self._name = str(self.path)  # every request stats it: os.stat on a str skips pathlib's work
        self.trusted = trusted  # the worker's caches to empty when another worker changes a round
        self.seen = self._stamp()

    def announce(self) -> None:
        """Tell every worker: forget what you trust of the rounds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}")
        partial.write_text(str(os.times().elapsed))
        partial.replace(self.path)  # a new inode and time: every worker sees the change
        self.forget()

    def check(self) -> None:
        stamp = self._stamp()
        if stamp != self.seen:
            self.seen = stamp
            self.forget()

    def forget(self) -> None:
        for cache in self.trusted:
            cache.clear()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._name)  # noqa: PTH116 -- see _name
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns
