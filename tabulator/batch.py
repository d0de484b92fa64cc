"""Returns and checkpoints in columns, as files deliver them.

One return typed into a form and seventy thousand rows of a ministry file go through the same rules
(`tabulator.rules`) as a `ReturnBatch`; the columns keep the line and column each value came from, so an
error can say where it is.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from tabulator.types import Checkpoint, Return

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

COUNT_FIELDS = ("voters", "blank", "null", "valid")
UNKNOWN = -1  # registered or a previous count that is not known
VOTES_SEPARATOR = ","
MANY_VERSIONS = 2_000


def pack_votes(votes: IntArray) -> list[str]:
    """Each row of votes (one column per candidate, in ballot order) as one text, "412,388": a version's,
    an area's or a publication's votes are stored beside its counts, one row rather than one per candidate
    (the 770,000 rows of a national round 1 file were most of its ingest)."""
    rows, candidates = votes.shape
    if not rows or not candidates:
        return [""] * rows
    # One %-format of the whole array, split into rows: 3x faster than a join per row (22 ms against 69
    # for a national file of 2 candidates, 116 against 213 for 11).
    row = VOTES_SEPARATOR.join(["%d"] * candidates)
    return ("\n".join([row] * rows) % tuple(votes.ravel().tolist())).split("\n")


def unpack_votes(packed: Sequence[str], candidates: int) -> IntArray:
    """`pack_votes` the other way: one row per text. A text that does not hold `candidates` whole numbers
    of at least zero raises ValueError (the stored votes were changed outside tabulator)."""
    if not packed or not candidates:
        return np.zeros((len(packed), candidates), np.int64)
    # A bureau's document reads a few versions, `verify` a whole round's: pandas' C parser pays from a
    # few thousand texts (38 ms for 70,000 versions of 11 candidates, against 200 ms in Python).
    if len(packed) < MANY_VERSIONS:
        cells = VOTES_SEPARATOR.join(packed).split(VOTES_SEPARATOR)
        if len(cells) != len(packed) * candidates or not all(cell.isdigit() for cell in cells):
            raise ValueError(f"stored votes are not {candidates} whole numbers per version")
        return np.array(list(map(int, cells)), np.int64).reshape(len(packed), candidates)
    try:
        votes = pd.read_csv(io.StringIO("\n".join(packed)), header=None, dtype=np.int64).to_numpy()
    except (ValueError, pd.errors.ParserError) as problem:
        raise ValueError(f"stored votes are not {candidates} whole numbers per version") from problem
    if votes.shape != (len(packed), candidates) or (votes < 0).any():
        raise ValueError(f"stored votes are not {candidates} whole numbers per version")
    return votes


@dataclass(frozen=True)
class ReturnBatch:
    candidate_ids: tuple[str, ...]
    bureaux: tuple[str, ...]
    counts: IntArray  # (rows, 4): voters, blank, null, valid
    votes: IntArray  # (rows, candidates) in ballot order
    registered: IntArray  # (rows,), UNKNOWN where not given
    reported_at: tuple[datetime | None, ...]
    lines: tuple[int | None, ...]
    columns: Mapping[str, int] = field(default_factory=dict)  # field name -> 1-based source column
    reasons: tuple[str | None, ...] = ()

    def __len__(self) -> int:
        return len(self.bureaux)

    @property
    def voters(self) -> IntArray:
        return self.counts[:, 0]

    def row(self, position: int) -> Return:
        registered = int(self.registered[position])
        return Return(
            bureau=self.bureaux[position],
            voters=int(self.counts[position, 0]),
            blank=int(self.counts[position, 1]),
            null=int(self.counts[position, 2]),
            valid=int(self.counts[position, 3]),
            votes=dict(zip(self.candidate_ids, (int(v) for v in self.votes[position]), strict=True)),
            registered=None if registered == UNKNOWN else registered,
            reported_at=self.reported_at[position],
        )

    def select(self, rows: Sequence[int] | IntArray) -> ReturnBatch:
        rows = list(rows)
        return ReturnBatch(
            candidate_ids=self.candidate_ids,
            bureaux=tuple(self.bureaux[row] for row in rows),
            counts=self.counts[rows],
            votes=self.votes[rows],
            registered=self.registered[rows],
            reported_at=tuple(self.reported_at[row] for row in rows),
            lines=tuple(self.lines[row] for row in rows),
            columns=self.columns,
            reasons=tuple(self.reasons[row] for row in rows) if self.reasons else (),
        )

    @classmethod
    def of(cls, returns: Sequence[Return], candidate_ids: Sequence[str]) -> ReturnBatch:
        """A batch of returns built in code (forms, tests). Candidates must already match the round."""
        return cls(
            candidate_ids=tuple(candidate_ids),
            bureaux=tuple(ret.bureau for ret in returns),
            counts=np.array([[r.voters, r.blank, r.null, r.valid] for r in returns], np.int64).reshape(-1, 4),
            votes=np.array([[r.votes.get(c, 0) for c in candidate_ids] for r in returns], np.int64).reshape(
                -1, len(candidate_ids)
            ),
            registered=np.array(
                [UNKNOWN if r.registered is None else r.registered for r in returns], np.int64
            ),
            reported_at=tuple(ret.reported_at for ret in returns),
            lines=tuple(None for _ in returns),
        )


@dataclass(frozen=True)
class CheckpointBatch:
    bureaux: tuple[str, ...]
    times: tuple[str, ...]
    voters: IntArray
    reported_at: tuple[datetime | None, ...]
    lines: tuple[int | None, ...]
    columns: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.bureaux)

    def row(self, position: int) -> Checkpoint:
        return Checkpoint(
            self.bureaux[position],
            self.times[position],
            int(self.voters[position]),
            self.reported_at[position],
        )

    def select(self, rows: Sequence[int] | IntArray) -> CheckpointBatch:
        rows = list(rows)
        return CheckpointBatch(
            bureaux=tuple(self.bureaux[row] for row in rows),
            times=tuple(self.times[row] for row in rows),
            voters=self.voters[rows],
            reported_at=tuple(self.reported_at[row] for row in rows),
            lines=tuple(self.lines[row] for row in rows),
            columns=self.columns,
        )

    @classmethod
    def of(cls, checkpoints: Sequence[Checkpoint]) -> CheckpointBatch:
        return cls(
            bureaux=tuple(c.bureau for c in checkpoints),
            times=tuple(c.time for c in checkpoints),
            voters=np.array([c.voters for c in checkpoints], np.int64),
            reported_at=tuple(c.reported_at for c in checkpoints),
            lines=tuple(None for _ in checkpoints),
        )
