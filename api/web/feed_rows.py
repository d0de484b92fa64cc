"""The rows of level feeds and of results pages kept as JSON while their sums stay the same.

A feed of 36,000 communes is rendered again on every sequence that changes one of them: the static
publication for each sequence, and the API for the first poller of a new sequence. Each area's row is the
same in every feed that lists it (the nation's communes, a département's), and a sequence changes few of
them; the others are joined as they were. So are the children of a results page, in the API's JSON and
in the static publication: a sequence of 300 returns rewrites the pages of some 300 circonscriptions,
communes and départements, which list 40,000 rows between them, nearly all unchanged. The bytes are those
of the whole document rendered at once (`api.documents.level_results`, `api.documents.results_of`; the
tests compare). The HTML page and the CSV forms, built from the documents as dicts, keep their own rows
(`api.documents.results.ChildRowsKept`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from api import documents
from api.store.results import View
from api.web.http import serialize
from tabulator.batch import IntArray
from tabulator.registry import Registry
from tabulator.types import Candidate

ROUNDS = 4  # kept at once (a worker serving several rounds); the least recently used goes

# A row kept: the sums it was made from, as bytes, then its JSON. By the area's position in a feed; by
# ("area", position) or ("bureau", registry row) among a page's children (the two rows differ).
Kept = dict[Hashable, tuple[bytes, bytes]]


@dataclass
class _Round:
    """What is kept of one round: the registry and candidates it was made for, its rows, and (for the static
    publication) every area's sums as of one sequence."""

    registry: Registry
    candidates: tuple[Candidate, ...]
    rows: Kept = field(default_factory=dict)
    sums: tuple[int, IntArray] | None = None


class FeedRows:
    """The rows of each round's areas and bureaux, made from their sums and kept as JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # By the registry's id and the round's: the registry itself is kept with its rows, so that its id is
        # not reused, and the candidates, whose ids the rows name (a rehearsal round's may change).
        self._rounds: OrderedDict[tuple[int, int], _Round] = OrderedDict()

    def every_sum(self, view: View, since: int | None, moved: Sequence[int]) -> IntArray:
        """Every area's sums as of the view's sequence, a row per registry position, kept for the next call:
        those kept as of sequence `since` with the `moved` areas read again (the only ones whose sums a
        return changed since), else every area's read (36,000 rows: a fifth of a one-return sequence's
        publication)."""
        kept = self._round(view)
        if since is not None and kept.sums is not None and kept.sums[0] == since:
            every = kept.sums[1].copy()
            every[list(moved)] = view.sums(moved)
        else:
            every = view.sums(range(len(view.index.registry.areas)))
        kept.sums = (view.publication.sequence, every)
        return every

    def body(
        self, view: View, level: str, within_level: str | None = None, within_code: str | None = None
    ) -> bytes:
        """The feed's JSON, as `serialize(level_results(view, level, within_level, within_code))`."""
        header, positions = documents.level_feed(view, level, within_level, within_code)
        sums = view.sums(positions)

        def make(stale: list[int]) -> list[dict[str, Any]]:
            return documents.feed_rows(view, [positions[i] for i in stale], sums[stale])

        rows = self._joined(view, positions, sums, make)
        return _ending_with(serialize(header), b"areas", rows)  # `areas` comes last

    def results_body(self, view: View, level: str | None = None, code: str | None = None) -> bytes:
        """An area's results document's JSON, as `serialize(results_of(view, level, code))` (a bureau's:
        that, as it lists no children)."""
        if level == documents.BUREAU:
            return serialize(documents.results_of(view, level, code))
        head, children = documents.results_parts(view, level, code)
        kind = "bureau" if children.bureaux else "area"
        keys = [(kind, member) for member in children.members]
        rows = self._joined(
            view, keys, children.sums, lambda stale: documents.children_rows(view, children, stale)
        )
        return _ending_with(serialize(head), b"children", rows)  # `children` comes last

    def _joined(
        self,
        view: View,
        keys: Sequence[Hashable],
        sums: IntArray,
        make: Callable[[list[int]], list[dict[str, Any]]],
    ) -> list[bytes]:
        """The JSON of each key's row: kept where its sums are the same, else made (`make`, given the places
        of those keys) and kept. Each row is the one checked against its own sums: another thread, building
        the same page for another sequence, may meanwhile keep its own."""
        kept = self._kept(view)
        stamps = [row.tobytes() for row in sums]
        found = [kept.get(key) for key in keys]
        stale = [
            i
            for i, (entry, stamp) in enumerate(zip(found, stamps, strict=True))
            if not entry or entry[0] != stamp
        ]
        if stale:
            for i, row in zip(stale, make(stale), strict=True):
                found[i] = kept[keys[i]] = (stamps[i], serialize(row))
        return [entry[1] for entry in cast(list[tuple[bytes, bytes]], found)]

    def _kept(self, view: View) -> Kept:
        return self._round(view).rows

    def _round(self, view: View) -> _Round:
        registry, candidates = view.index.registry, view.round_.candidates
        key = (id(registry), view.round_.id)
        with self._lock:
            found = self._rounds.get(key)
            if found is None or found.registry is not registry or found.candidates != candidates:
                found = self._rounds[key] = _Round(registry, candidates)
                while len(self._rounds) > ROUNDS:
                    self._rounds.popitem(last=False)
            self._rounds.move_to_end(key)
            return found


def _ending_with(head: bytes, name: bytes, rows: list[bytes]) -> bytes:
    """A document's JSON whose last member `name` is the list of `rows`, placed before the closing brace."""
    return head[:-1] + b',"' + name + b'":[' + b",".join(rows) + b"]}"
