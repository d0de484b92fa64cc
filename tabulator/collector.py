"""The garbage collector paused around work that builds many containers at once.

Python starts a full collection whenever the objects that came to live since the last one outnumber a
quarter of those that survived it. Recording a national file builds a tuple per bureau several times
over (its row, its version, its findings), so several full collections walk them, and all else alive,
while they are being built: 0.25–0.3 s of the 1.7 s a 69,242-bureau file took to record on SQLite,
timed with `gc.callbacks`. They hold no cycles, and reference counting frees them when the work ends.
So the collector is off while such work runs, and on again once the last thread that paused it is done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many pauses are running, and whether the collector ran before the first of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.enabled_before = False

    def begin(self) -> None:
        with self.lock:
            if not self.running:
                self.enabled_before = gc.isenabled()
                gc.disable()
            self.running += 1

    def end(self) -> None:
        with self.lock:
            self.running -= 1
            if not self.running and self.enabled_before:
                gc.enable()


_PAUSES = _Pauses()


@contextmanager
def paused_collection() -> Iterator[None]:
    """No automatic collection inside; nested and concurrent pauses end with the last one, leaving the
    collector as the first one found it."""
    _PAUSES.begin()
    try:
        yield
    finally:
        _PAUSES.end()
