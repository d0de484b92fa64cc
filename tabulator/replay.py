"""The night of a round, as it was reported, put on a clock that runs faster: for demos and rehearsals.

Events are the round's turnout checkpoints, returns and corrections, ordered by the time each was reported.
The replay clock runs `speed` times faster than the night's, and a quiet stretch (no event for longer than
`longest_pause`) is cut to that length: nobody wants to watch five quiet hours between the 17:00 turnout and
the first return.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

import numpy as np

from tabulator.batch import CheckpointBatch, IntArray, ReturnBatch

# On ties, turnout before returns before corrections: that is the order they happen in a bureau.
KINDS = ("turnout", "returns", "corrections")


@dataclass(frozen=True)
class Event:
    kind: str
    row: int  # in the batch of its kind
    reported_at: datetime


@dataclass(frozen=True)
class Step:
    """The events due together: send each kind's rows as one batch, `due` seconds after the start."""

    due: float
    kind: str
    rows: IntArray


def events(
    turnout: CheckpointBatch | None, returns: ReturnBatch | None, corrections: ReturnBatch | None
) -> list[Event]:
    """Every row of the round's files that has a reported time, in the order the night reported them."""
    found = []
    for kind, batch in zip(KINDS, (turnout, returns, corrections), strict=True):
        if batch is None:
            continue
        for row, moment in enumerate(batch.reported_at):
            if moment is None:
                raise ValueError(f"{kind}: row {row + 1} has no reported_at; a replay needs every time.")
            found.append(Event(kind, row, moment))
    return sorted(found, key=lambda event: (event.reported_at, KINDS.index(event.kind), event.row))


def schedule(moments: Sequence[datetime], *, speed: float, longest_pause: timedelta) -> list[float]:
    """Seconds after the start at which each moment comes, on the fast clock with quiet stretches cut."""
    if speed <= 0:
        raise ValueError("speed must be above 0")
    offsets, elapsed = [], 0.0
    for before, moment in zip([moments[0], *moments], moments, strict=False):
        elapsed += min(moment - before, longest_pause).total_seconds() / speed
        offsets.append(elapsed)
    return offsets


def steps(ordered: list[Event], *, speed: float, longest_pause: timedelta, tick: float) -> Iterator[Step]:
    """Group the events into batches: those of one kind due within the same `tick` of the fast clock go
    together (a clerk's screen does not refresh for every single return either)."""
    if not ordered:
        return
    offsets = schedule([event.reported_at for event in ordered], speed=speed, longest_pause=longest_pause)
    timed = list(zip(offsets, ordered, strict=True))
    for (_, kind), group in groupby(timed, key=lambda pair: (int(pair[0] // tick), pair[1].kind)):
        items = list(group)
        yield Step(items[-1][0], kind, np.array([event.row for _, event in items], np.int64))
