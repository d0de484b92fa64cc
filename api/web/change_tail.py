"""The change feed's latest pages, shared by every poller of a worker.

On an election night a hundred newsrooms poll the feed every two seconds, each from its own cursor, while
returns arrive at a hundred a second: read and rendered per request, the same changes would be dumped a
hundred times over. A change, once published, never changes, so each worker keeps the round's newest
changes rendered once, in feed order, and answers any cursor that falls inside them by slicing. Catching up
with the round's latest sequence is one query, made by whichever poller sees the new sequence first. A
cursor older than what the tail holds is answered from the database, as before.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from api import documents
from api.store import feeds, round_info
from api.store.common import RoundInfo
from api.store.db import reading
from api.store.feeds import EVERY_BUREAU, Change, Position
from api.web import schemas
from api.web.http import Rendered, render, rendered_bytes, serialize

CAPACITY = 20_000  # changes per round and worker: at 100 returns a second, the last three minutes


@dataclass
class Tail:
    """Every change of one round with a position past `start` and a sequence up to `up_to`, rendered."""

    start: Position
    up_to: int
    positions: list[Position] = field(default_factory=list)
    items: list[bytes] = field(default_factory=list)

    def covers(self, after: Position) -> bool:
        return after >= self.start

    def page(self, after: Position, limit: int) -> tuple[list[bytes], bool, Position | None]:
        first = bisect_right(self.positions, after)
        chosen = self.items[first : first + limit]
        truncated = len(self.items) - first > limit
        return chosen, truncated, self.positions[first + limit - 1] if truncated else None

    def extend(self, found: list[Change], up_to: int, capacity: int) -> None:
        self.positions += [change.position for change in found]
        self.items += [_item_bytes(documents.change_item(change)) for change in found]
        self.up_to = up_to
        if len(self.items) > capacity:
            dropped = len(self.items) - capacity
            self.start = self.positions[dropped - 1]
            del self.positions[:dropped], self.items[:dropped]


class ChangeTails:
    """One tail per round, each behind its own lock: the first poller to see a new sequence reads it for
    all the others."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._tails: dict[tuple[str, int], Tail] = {}
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._guard = threading.Lock()

    def answer(
        self, engine: Engine, election: str, number: int, since: str, limit: int, *, head: int | None = None
    ) -> Rendered:
        """The page after `since`. `head`: the round's latest sequence as the worker trusts it for
        `head_cache_seconds`, as its latest documents do: a tail caught up with it answers without a word
        to the database (a transaction of three round trips per poll, else, each waiting for the worker's
        turn while a night's writes want it)."""
        after = feeds.parse_cursor(since)
        if head is not None:
            with self._lock(election, number):
                tail = self._tails.get((election, number))
                if tail is not None and tail.up_to >= head and tail.covers(after):
                    return _tail_page(tail, election, number, since=since, after=after, limit=limit)
        with reading(engine) as connection:
            round_ = round_info(connection, election, number)
            with self._lock(election, number):
                tail = self._caught_up(connection, election, round_)
                if tail.covers(after):
                    return _tail_page(tail, election, number, since=since, after=after, limit=limit)
            document = documents.changes(connection, election, number, since, limit)
        return render(document, schemas.CHANGES)

    def _lock(self, election: str, number: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((election, number), threading.Lock())

    def _caught_up(self, connection: Any, election: str, round_: RoundInfo) -> Tail:
        key = (election, round_.number)
        tail = self._tails.get(key)
        if tail is None:  # new to this worker: from now on
            tail = self._tails[key] = _empty(round_.sequence)
        elif round_.sequence > tail.up_to:
            if tail.items and feeds.emptied_between(connection, round_.id, tail.up_to, round_.sequence):
                tail = self._tails[key] = _empty(round_.sequence)
            else:
                found = feeds.changes_after(
                    connection, round_, (tail.up_to, EVERY_BUREAU), round_.sequence, self.capacity + 1
                )
                if len(found) > self.capacity:  # a whole file at once: those pages come from the database
                    tail = self._tails[key] = _empty(round_.sequence)
                else:
                    tail.extend(found, round_.sequence, self.capacity)
        # A head read before another poller caught the tail up is behind it: the tail answers, being complete
        # up to its own sequence. (A database restored to an earlier state needs the service restarted.)
        return tail


def _tail_page(
    tail: Tail, election: str, number: int, *, since: str, after: Position, limit: int
) -> Rendered:
    """A page of the feed cut from the tail, byte for byte as the database's would be."""
    items, truncated, last = tail.page(after, limit)
    envelope = documents.changes_page(
        election,
        number,
        since,
        after=after,
        current_sequence=tail.up_to,
        items=[],
        truncated=truncated,
        last=last,
    )
    return _page_bytes(envelope, items)


def _empty(sequence: int) -> Tail:
    return Tail(start=(sequence, EVERY_BUREAU), up_to=sequence)


def _item_bytes(item: dict[str, Any]) -> bytes:
    """A change as `ChangeItemSchema` dumps it, without the dump (12 µs an item, against 94: each worker
    renders every change of the night): `documents.change_item` builds it in the schema's order, of the
    schema's types, and the database's pages, dumped, must match the tail's byte for byte
    (tests/api/test_change_tail.py)."""
    return serialize(item)


def _page_bytes(envelope: dict[str, Any], items: list[bytes]) -> Rendered:
    """The page exactly as `render` would write it: the envelope ends with its (empty) list of changes."""
    empty = render(envelope, schemas.CHANGES).body
    if not empty.endswith(b'"changes":[]}'):
        raise AssertionError("ChangesSchema must dump `changes` last")
    return rendered_bytes(empty[: -len(b"]}")] + b",".join(items) + b"]}")
