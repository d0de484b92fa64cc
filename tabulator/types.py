"""The plain result types of tabulator: elections, areas, bureaux, returns, checkpoints, issues.

Everything here is a frozen dataclass with no behaviour beyond small derived properties, so that the
rules (`tabulator.rules`), the aggregation (`tabulator.aggregation`) and the store can share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

# What an election is for: stored with it, and told to the standards that ask (NIST's Election.Type).
ELECTION_TYPES = (
    "presidential",
    "legislative",
    "european",
    "regional",
    "departmental",
    "municipal",
    "referendum",
    "primary",
)


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    ballot_order: int
    sex: str | None = None  # M or F, as the ministry's files give it; unknown elsewhere


@dataclass(frozen=True)
class Round:
    number: int
    date: date
    candidates: tuple[Candidate, ...]
    previous_round: int | None = None
    polls_close: datetime | None = None

    @property
    def candidate_ids(self) -> tuple[str, ...]:
        return tuple(candidate.id for candidate in self.candidates)


@dataclass(frozen=True)
class Election:
    id: str
    name: str
    organiser: str
    levels: tuple[str, ...]
    rounds: tuple[Round, ...]
    note: str = ""
    type: str = "primary"  # one of ELECTION_TYPES
    cuts: tuple[Cut, ...] = ()  # the ways of cutting its bureaux besides `levels` (its main cut)

    def round(self, number: int) -> Round:
        for candidate_round in self.rounds:
            if candidate_round.number == number:
                return candidate_round
        raise KeyError(f"election {self.id} has no round {number}")


@dataclass(frozen=True)
class Area:
    level: str
    code: str
    name: str
    parent_code: str | None
    # The label of the file the area came from, where it differs from `name` (the ministry's `Ardeche`,
    # `4ème circonscription`): `name` is for display, this is written back by an export in that layout.
    source_label: str | None = None


@dataclass(frozen=True)
class Cut:
    """A way of cutting an election's bureaux into areas, besides its own levels: a path of levels, top
    first, each area's parent of the level before. The first level may be one of the election's (its areas
    are then shared: a département is the same area in the administrative and the electoral cut); the
    others are the cut's own. Every bureau lies in one area of the cut's last level."""

    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Bureau:
    code: str
    name: str
    area_code: str  # its area of the election's last level
    registered: int | None = None
    merged_into: str | None = None
    # Its area in each other cut, by the cut's last level: {"circonscription": "75-01"}.
    cut_areas: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Return:
    """One bureau's counts for one round (a procès-verbal)."""

    bureau: str
    voters: int
    blank: int
    null: int
    valid: int
    votes: Mapping[str, int]
    registered: int | None = None
    reported_at: datetime | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Voters so far in one bureau at a time of day (a point de participation)."""

    bureau: str
    time: str
    voters: int
    reported_at: datetime | None = None


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """Something wrong (error: refused) or unusual (warning: accepted and flagged) in the input."""

    code: str
    message: str
    severity: Severity = Severity.ERROR
    field: str | None = None
    line: int | None = None
    column: int | None = None
    bureau: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass(frozen=True)
class Tally:
    """Summed counts of the bureaux reported in an area. Metadata beside the votes, never mixed in."""

    bureaux_reported: int
    voters: int
    blank: int
    null: int
    valid: int
    votes: Mapping[str, int]
    registered: int = 0
    bureaux_with_registered: int = 0
    # Like for like: bureaux reported in this round and the previous one, and their voters in each.
    matched_bureaux: int = 0
    matched_voters: int = 0
    matched_previous_voters: int = 0
