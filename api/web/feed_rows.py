"""A level feed's rows kept as JSON while their areas' sums stay the same.

A feed of 36,000 communes is rendered again on every sequence that changes one of them: the static
publication for each sequence, and the API for the first poller of a new sequence. Each area's row is the
same in every feed that lists it (the nation's communes, a département's), and a sequence changes few of
them; the others are joined as they were. The bytes are those of the whole feed rendered at once
(`api.documents.level_results`, which the tests compare).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from api import documents
from api.store.results import View
from api.web.http import serialize
from tabulator.registry import Registry

REGISTRIES = 4  # kept at once (a worker serving several elections); the least recently used goes


class FeedRows:
    """The rows of each registry's areas, by position: the area's sums as bytes, then its row's JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # By the registry's id; the registry itself is kept with its rows, so that its id is not reused.
        self._registries: OrderedDict[int, tuple[Registry, dict[int, tuple[bytes, bytes]]]] = OrderedDict()

    def body(
        self, view: View, level: str, within_level: str | None = None, within_code: str | None = None
    ) -> bytes:
        """The feed's JSON, as `serialize(level_results(view, level, within_level, within_code))`."""
        header, positions = documents.level_feed(view, level, within_level, within_code)
        rows = self._rows_of(view.index.registry)
        sums = view.sums(positions)
        keys = [row.tobytes() for row in sums]
        stale = [i for i, (p, key) in enumerate(zip(positions, keys, strict=True)) if _key(rows, p) != key]
        if stale:
            changed = [positions[i] for i in stale]
            fresh = documents.feed_rows(view, changed, sums[stale])
            for i, p, row in zip(stale, changed, fresh, strict=True):
                rows[p] = (keys[i], serialize(row))
        head = serialize(header)  # `areas` comes last: the rows go before its closing brace
        return head[:-1] + b',"areas":[' + b",".join(rows[p][1] for p in positions) + b"]}"

    def _rows_of(self, registry: Registry) -> dict[int, tuple[bytes, bytes]]:
        with self._lock:
            found = self._registries.get(id(registry))
            if found is None:
                found = self._registries[id(registry)] = (registry, {})
                while len(self._registries) > REGISTRIES:
                    self._registries.popitem(last=False)
            self._registries.move_to_end(id(registry))
            return found[1]


def _key(rows: dict[int, tuple[bytes, bytes]], position: int) -> bytes | None:
    found = rows.get(position)
    return found[0] if found else None
